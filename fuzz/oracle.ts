/**
 * The fuzz oracle: what a decoder may and may not do with arbitrary bytes.
 *
 * A decoder may return a value or throw a KafkawireError. Anything else is a
 * failure: another exception (RangeError, TypeError, ...), taking longer than
 * the per-input time budget, allocating out of proportion to the input, and,
 * for targets that can encode, a value that does not survive re-encoding:
 * encode(decode(x)) must not throw and decode(encode(decode(x))) must equal
 * decode(x) up to the normalisations a target declares (see `Target.normalise`).
 *
 * Hangs that never return cannot be seen from inside the thread that runs the
 * decoder; the campaign runner watches its workers for those (fuzz/run.ts).
 * The same `check` runs in the fuzz workers and in fuzz/regression.test.ts.
 */
import { fileURLToPath } from 'node:url'
import v8 from 'node:v8'
import vm from 'node:vm'
import { KafkawireError } from '../src/protocol/errors.js'
import type { Rng } from './mutate.js'

export interface FuzzInput {
  /** The version (or target-specific variant) the bytes are decoded at. */
  version: number
  data: Buffer
}

export interface Target {
  name: string
  /** Versions (or variants) inputs of this target are decoded at. */
  versions: ReadonlyArray<number>
  /** Why the target cannot run here (e.g. an optional native codec is missing), or null. */
  unavailable?(): Promise<string | null>
  /** Decodes one input; may be async (record batches decompress). */
  decode(data: Buffer, version: number): unknown
  /** Encodes a decoded value back, for the round-trip oracle. Absent: no round trip. */
  encode?(value: unknown, version: number): Buffer | Promise<Buffer>
  /**
   * Rewrites a decoded value so that differences re-encoding legitimately
   * introduces do not count (e.g. unknown tagged fields come back sorted).
   */
  normalise?(value: unknown): unknown
  /** Whether a throw from `encode` is a legitimate refusal for this decoded value. */
  encodeMayRefuse?(err: unknown, value: unknown): boolean
  /** Valid encodings to start mutating from. */
  seeds(rng: Rng): FuzzInput[] | Promise<FuzzInput[]>
  /**
   * A structure-aware mutation for layers byte mutations cannot reach: it
   * mutates the data inside a compressed payload with `mutateBytes` and
   * compresses it again. Null when the input has no such layer.
   */
  mutateInner?(data: Buffer, rng: Rng, mutateBytes: (inner: Buffer) => Buffer): Promise<Buffer | null>
  /** Fixes checksums after a mutation so mutants reach the code behind the integrity checks. */
  repair?(data: Buffer, version: number): Buffer
  /** Bytes `decode` may legitimately allocate beyond the usual proportion (decompression output). */
  allocationAllowance?: number
  /** Time budget override for targets that are legitimately slower per input. */
  budgetMs?: number
}

export type FailureKind = 'crash' | 'slow' | 'memory' | 'reencode' | 'redecode' | 'roundtrip' | 'hang' | 'worker-died'

export interface Failure {
  kind: FailureKind
  /** What distinguishes one bug from another: kind, error class and code, and where it was thrown. */
  signature: string
  message: string
}

export type Verdict =
  | { status: 'ok' | 'rejected'; /** Outcome class, used to keep mutants that reach somewhere new. */ key: string }
  | { status: 'failure'; failure: Failure }

export interface CheckOptions {
  /** Per-input time budget for one decode (and its round trip). */
  budgetMs: number
}

export const DEFAULT_BUDGET_MS = 250

// ---------------------------------------------------------------------------
// Allocation metering. Buffer.alloc/allocUnsafe/allocUnsafeSlow are wrapped to
// count the bytes each decode asks for; past the limit the wrapper throws
// instead of allocating, so a lying length cannot take the process down
// before the oracle sees it. Heap and external memory growth per input catch
// what the wrappers cannot see (new Array(n), native allocations).

class AllocationLimitExceeded extends Error {}

const meter = {
  installed: false,
  bytes: 0,
  limit: Infinity,
  violation: null as null | { size: number; stack: string },
}

export function installAllocationMeter(): void {
  if (meter.installed) return
  meter.installed = true
  const B = Buffer as unknown as Record<'alloc' | 'allocUnsafe' | 'allocUnsafeSlow', (size: number, ...rest: unknown[]) => Buffer>
  for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const) {
    const original = B[name]
    B[name] = function metered(this: unknown, size: number, ...rest: unknown[]) {
      if (typeof size === 'number' && size > 0) {
        meter.bytes += size
        if (meter.bytes > meter.limit) {
          meter.violation ??= { size, stack: new Error().stack ?? '' }
          throw new AllocationLimitExceeded(`Buffer.${name}(${size}) takes this input's allocations to ${meter.bytes} bytes, over ${meter.limit}`)
        }
      }
      return original.call(this, size, ...rest)
    }
  }
}

function startMetering(limit: number): void {
  meter.bytes = 0
  meter.limit = limit
  meter.violation = null
}

function stopMetering(): void {
  meter.limit = Infinity
}

/** Decoding n bytes may allocate this much: a generous constant plus a multiple of n. */
function allocationLimit(t: Target, n: number): number {
  return (1 << 20) + 64 * n + (t.allocationAllowance ?? 0)
}

/** Heap + external growth per input above which we look again, after a GC. */
function heapLimit(t: Target, n: number): number {
  return (32 << 20) + 1024 * n + 2 * (t.allocationAllowance ?? 0)
}

let gcFn: (() => void) | null | undefined
function gc(): void {
  if (gcFn === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc')
      gcFn = vm.runInNewContext('gc') as () => void
    } catch {
      gcFn = null
    }
  }
  gcFn?.()
}

function memoryNow(): number {
  const h = v8.getHeapStatistics()
  return h.used_heap_size + h.external_memory
}

// ---------------------------------------------------------------------------

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** The first stack frame in our code, without columns, as a stable-ish location. */
export function whereThrown(err: unknown): string {
  const stack = err instanceof Error && typeof err.stack === 'string' ? err.stack : ''
  for (const line of stack.split('\n').slice(1)) {
    if (!line.includes('/src/') && !line.includes('eval at')) continue
    return line
      .trim()
      .replace(/^at /, '')
      .replaceAll('file://', '')
      .replaceAll(ROOT, '')
      .replace(/:(\d+):\d+/g, ':$1')
  }
  return 'unknown location'
}

/** The "at ..." lines of an error's stack, paths relative to the repository. */
function stackFrames(err: unknown): string {
  const stack = err instanceof Error && typeof err.stack === 'string' ? err.stack : ''
  return stack
    .split('\n')
    .filter((l) => l.trimStart().startsWith('at '))
    .map((l) => l.replaceAll('file://', '').replaceAll(ROOT, ''))
    .join('\n')
}

function errorName(err: unknown): string {
  if (err instanceof Error) return err.constructor?.name ?? err.name
  return `thrown ${typeof err}`
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** Digits, quoted values and hex vary per input; the rest of a message names the bug. */
function shape(message: string): string {
  return message
    .replace(/"[^"]*"|'[^']*'/g, 'Q')
    .replace(/0x[0-9a-f]+/gi, 'N')
    .replace(/-?\d+/g, 'N')
    .slice(0, 120)
}

function crash(kind: FailureKind, err: unknown, prefix = ''): Verdict {
  const name = errorName(err)
  const code = err instanceof KafkawireError ? `/${err.code}` : ''
  return {
    status: 'failure',
    failure: {
      kind,
      signature: `${kind}: ${name}${code}: ${shape(errorMessage(err))} @ ${whereThrown(err)}`,
      message: `${prefix}${name}${code}: ${errorMessage(err)}\n${stackFrames(err)}`,
    },
  }
}

function failure(kind: FailureKind, signature: string, message: string): Verdict {
  return { status: 'failure', failure: { kind, signature: `${kind}: ${signature}`, message } }
}

// ---------------------------------------------------------------------------
// Errors that escape a decoder's promise chain (an unhandled rejection, an
// exception thrown from a callback) are bugs too. Async decodes are followed
// by one turn of the event loop so that such errors surface while the input
// that caused them is still the current one.

const strays: unknown[] = []
let strayCatcher = false

export function installStrayCatcher(): void {
  if (strayCatcher) return
  strayCatcher = true
  process.on('unhandledRejection', (err) => strays.push(err))
  process.on('uncaughtException', (err) => strays.push(err))
}

/** Errors that escaped since the last call. */
export function takeStrays(): unknown[] {
  return strays.splice(0, strays.length)
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function'
}

class Timeout extends Error {}

/** Runs `decode`, awaiting it with a timeout if it is async. */
async function run(t: Target, data: Buffer, version: number, budgetMs: number): Promise<unknown> {
  const result = t.decode(data, version)
  if (!isThenable(result)) return result
  let timer: NodeJS.Timeout | undefined
  try {
    const value = await Promise.race([
      result,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Timeout(`async decode did not settle within ${budgetMs * 4} ms`)), budgetMs * 4)
      }),
    ])
    if (strayCatcher) await new Promise((resolve) => setImmediate(resolve))
    return value
  } catch (err) {
    if (strayCatcher) await new Promise((resolve) => setImmediate(resolve))
    throw err
  } finally {
    clearTimeout(timer)
  }
}

type Attempt = { ok: true; value: unknown; ms: number; grew: number } | { ok: false; err: unknown; ms: number; grew: number }

async function attempt(t: Target, input: FuzzInput, budgetMs: number): Promise<Attempt> {
  startMetering(allocationLimit(t, input.data.length))
  const before = memoryNow()
  const t0 = performance.now()
  try {
    const value = await run(t, input.data, input.version, budgetMs)
    return { ok: true, value, ms: performance.now() - t0, grew: memoryNow() - before }
  } catch (err) {
    return { ok: false, err, ms: performance.now() - t0, grew: memoryNow() - before }
  } finally {
    stopMetering()
  }
}

function outcomeKey(version: number, err: unknown): string {
  if (!(err instanceof KafkawireError)) return `${version}:?`
  const where = typeof err.context.field === 'string' ? err.context.field : shape(err.message)
  return `${version}:${err.code}:${where}`
}

/** Decodes one input and judges what happened. */
export async function check(t: Target, input: FuzzInput, options: CheckOptions = { budgetMs: DEFAULT_BUDGET_MS }): Promise<Verdict> {
  const budgetMs = t.budgetMs ?? options.budgetMs
  let a = await attempt(t, input, budgetMs)

  if (meter.violation !== null) {
    const v = meter.violation
    return failure('memory', `Buffer allocation over the limit @ ${whereThrown({ stack: v.stack } as Error)}`, `decoding ${input.data.length} byte(s) asked for ${meter.bytes} byte(s) of Buffers (last request ${v.size})\n${v.stack}`)
  }
  if (a.ms > budgetMs || a.grew > heapLimit(t, input.data.length)) {
    // Look again on a quiet heap and a warm codec: the first decode at a
    // version compiles its codec, and a GC pause can land anywhere.
    gc()
    const again = await attempt(t, input, budgetMs)
    if (again.ms > budgetMs) return failure('slow', `decode took over ${budgetMs} ms`, `decoding ${input.data.length} byte(s) took ${a.ms.toFixed(0)} ms, then ${again.ms.toFixed(0)} ms`)
    if (again.grew > heapLimit(t, input.data.length)) {
      return failure('memory', 'heap growth out of proportion', `decoding ${input.data.length} byte(s) grew heap + external memory by ${again.grew} bytes`)
    }
    a = again
  }
  const escaped = takeStrays()
  if (escaped.length > 0) return crash('crash', escaped[0], 'escaped the decoder: ')
  if (!a.ok) {
    if (a.err instanceof Timeout) return failure('slow', 'async decode did not settle', errorMessage(a.err))
    if (a.err instanceof KafkawireError) return { status: 'rejected', key: outcomeKey(input.version, a.err) }
    return crash('crash', a.err)
  }

  const key = `${input.version}:ok:${Math.round(Math.log2(input.data.length + 1))}`
  if (t.encode === undefined) return { status: 'ok', key }

  // The round trip: what we accepted, we must be able to write back, and
  // reading that back must give the same value.
  const value = a.value
  let bytes: Buffer
  try {
    bytes = await t.encode(value, input.version)
  } catch (err) {
    if (t.encodeMayRefuse?.(err, value)) return { status: 'ok', key }
    return crash('reencode', err, 'decoded, but re-encoding threw: ')
  }
  let back: unknown
  try {
    back = await run(t, bytes, input.version, budgetMs)
  } catch (err) {
    return crash('redecode', err, `re-encoded to ${bytes.length} byte(s) (${bytes.toString('hex').slice(0, 400)}) which do not decode: `)
  }
  const norm = t.normalise ?? ((v: unknown) => v)
  const diff = firstDifference(norm(value), norm(back), '')
  if (diff !== null) {
    return failure('roundtrip', `value changed at ${diff.path || '(root)'}`, `decode(encode(decode(x))) differs from decode(x) at ${diff.path || '(root)'}: ${diff.detail}`)
  }
  return { status: 'ok', key }
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`
  if (v instanceof Uint8Array) return `<${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex').slice(0, 80)}>`
  try {
    const s = JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x))
    return s === undefined ? String(v) : s.slice(0, 200)
  } catch {
    return String(v)
  }
}

/**
 * Where two decoded values first differ, or null. Paths name array elements
 * with [] rather than an index, so that one bug gives one signature.
 */
export function firstDifference(a: unknown, b: unknown, path: string): { path: string; detail: string } | null {
  if (Object.is(a, b)) return null
  const here = { path, detail: `${show(a)} became ${show(b)}` }
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return here
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array)) return here
    return Buffer.compare(a, b) === 0 ? null : here
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!(Array.isArray(a) && Array.isArray(b)) || a.length !== b.length) return here
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], `${path}[]`)
      if (d !== null) return { path: d.path, detail: `[${i}] ${d.detail}` }
    }
    return null
  }
  const ao = a as Record<string, unknown>
  const bo = b as Record<string, unknown>
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)])
  for (const k of keys) {
    const d = firstDifference(ao[k], bo[k], `${path}.${k}`)
    if (d !== null) return d
  }
  return null
}
