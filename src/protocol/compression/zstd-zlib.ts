/**
 * Zstandard through Node's own zlib binding (node:zlib gained zstd in
 * 22.15 / 23.8; absent on Node 20, where zstd.ts uses the optional
 * `@mongodb-js/zstd` package instead).
 *
 * Why not only `zlib.zstdCompressSync`: every call creates a compression
 * context and sizes, zeroes and faults in its match tables, which for a
 * 64 KiB batch at level 3 cost as much as the compression itself (1.14
 * against 0.61 us/KiB, measured with .tmp-style loops on Node 24.21; the
 * package's threadpool call 1.75). So small inputs go through one long-lived
 * context per level: a `ZstdCompress` stream's native handle, driven with
 * `writeSync(ZSTD_e_end, ...)` the way zlib.js's own processChunkSync drives
 * it, but without the close processChunkSync ends with. Handed the whole
 * input and room for ZSTD_compressBound, libzstd compresses in one pass and
 * ends the frame (zstd_compress.c, the ZSTD_e_end shortcut of
 * ZSTD_compressStream_generic); ending on the first call also records the
 * input size as the frame's content size (ZSTD_CCtx_init_compressStream2),
 * so frames come out single-segment with an exact size, as from
 * ZSTD_compress, and readers need no window buffer beyond it. After the
 * frame the context is ready for the next one with the same parameters.
 *
 * The handle is not public API, so it is checked before it is trusted: its
 * shape, then a self-test whose frames must decompress (with the public
 * zstdDecompressSync) to the sample. Anything unexpected, then or later,
 * retires the shortcut for the process and the public calls take over.
 */
import * as zlib from 'node:zlib'

interface NativeZstdHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void
}

interface ZstdStream {
  _handle?: NativeZstdHandle | null
  _writeState?: Uint32Array
  destroyed: boolean
  errored?: Error | null
  on(event: 'error', listener: (e: Error) => void): unknown
  destroy(): unknown
}

interface ZstdOptions {
  params?: Record<number, number>
  maxOutputLength?: number
  chunkSize?: number
}

interface NodeZlibZstd {
  zstdCompressSync(data: Uint8Array, opts?: ZstdOptions): Buffer
  zstdCompress(data: Uint8Array, opts: ZstdOptions, cb: (e: Error | null, out: Buffer) => void): void
  zstdDecompressSync(data: Uint8Array, opts?: ZstdOptions): Buffer
  zstdDecompress(data: Uint8Array, opts: ZstdOptions, cb: (e: Error | null, out: Buffer) => void): void
  createZstdCompress(opts?: ZstdOptions): ZstdStream
}

const z = zlib as unknown as Partial<NodeZlibZstd>
const constants = zlib.constants as unknown as Record<string, number | undefined>
const LEVEL_PARAM = constants.ZSTD_c_compressionLevel
const E_END = constants.ZSTD_e_end

/** Kafka's and libzstd's default level (KIP-390: compression.zstd.level defaults to 3). */
export const ZSTD_DEFAULT_LEVEL = 3

/** node:zlib with its zstd functions, or undefined on a Node without them. */
export const nodeZstd: NodeZlibZstd | undefined =
  typeof z.zstdCompressSync === 'function' &&
  typeof z.zstdCompress === 'function' &&
  typeof z.zstdDecompressSync === 'function' &&
  typeof z.zstdDecompress === 'function' &&
  typeof z.createZstdCompress === 'function' &&
  LEVEL_PARAM !== undefined &&
  E_END !== undefined
    ? (z as NodeZlibZstd)
    : undefined

/** ZSTD_compressBound (zstd.h, ZSTD_COMPRESSBOUND): the largest frame `n` input bytes can take. */
export function zstdCompressBound(n: number): number {
  const small = n < 128 * 1024 ? (128 * 1024 - n) >>> 11 : 0
  return n + Math.floor(n / 256) + small
}

export function levelParams(level: number): Record<number, number> {
  return { [LEVEL_PARAM!]: level }
}

/** One long-lived compression context at one level. */
class ReusedContext {
  readonly #stream: ZstdStream
  readonly #handle: NativeZstdHandle
  readonly #state: Uint32Array

  constructor(zs: NodeZlibZstd, level: number) {
    const stream = zs.createZstdCompress({ params: levelParams(level) })
    // A libzstd error destroys the stream, which then emits 'error': seen
    // through `destroyed` below, so the event must not go unhandled.
    stream.on('error', () => {})
    const handle = stream._handle
    const state = stream._writeState
    if (handle == null || typeof handle.writeSync !== 'function' || !(state instanceof Uint32Array) || state.length < 2) {
      stream.destroy()
      throw new Error('node:zlib ZstdCompress has no native handle of the expected shape')
    }
    this.#stream = stream
    this.#handle = handle
    this.#state = state
  }

  /**
   * Writes one complete frame of `data` into out[at, end); returns its
   * length, or -1 when the context failed or did not finish the frame (it
   * is then unusable). `end - at` must be at least zstdCompressBound.
   */
  compressInto(data: Uint8Array, out: Uint8Array, at: number, end: number): number {
    const room = end - at
    this.#handle.writeSync(E_END!, data, 0, data.length, out, at, room)
    if (this.#stream.destroyed) return -1
    const outLeft = this.#state[0]!
    const inLeft = this.#state[1]!
    // All input consumed and room to spare: the frame is complete (with
    // room >= the bound libzstd never stops short of the frame's end).
    if (inLeft !== 0 || outLeft === 0 || outLeft > room) return -1
    return room - outLeft
  }

  close(): void {
    this.#stream.destroy()
  }
}

const contexts = new Map<number, ReusedContext>()
let reuseState: 'untested' | 'usable' | 'retired' = 'untested'

/**
 * The handle's check: two frames in a row from one context must decompress
 * (with the public call) to the sample. Returns the context, which then
 * serves the default level, or undefined when the shortcut is not to be trusted.
 */
function selfTested(zs: NodeZlibZstd): ReusedContext | undefined {
  const sample = Buffer.alloc(3000)
  for (let i = 0; i < sample.length; i++) sample[i] = (i * 7 + (i >> 5)) & 0x3f
  let ctx: ReusedContext | undefined
  let ok = false
  try {
    ctx = new ReusedContext(zs, ZSTD_DEFAULT_LEVEL)
    const out = Buffer.allocUnsafe(zstdCompressBound(sample.length))
    ok = true
    // Twice: the second frame proves the context carries over a finished one.
    for (let round = 0; round < 2 && ok; round++) {
      const n = ctx.compressInto(sample, out, 0, out.length)
      ok = n > 0 && zs.zstdDecompressSync(out.subarray(0, n)).equals(sample)
    }
  } catch {
    ok = false
  }
  if (ok) return ctx
  ctx?.close()
  return undefined
}

function reusedContext(zs: NodeZlibZstd, level: number): ReusedContext | undefined {
  if (reuseState === 'retired') return undefined
  if (reuseState === 'untested') {
    const tested = selfTested(zs)
    if (tested === undefined) {
      reuseState = 'retired'
      return undefined
    }
    reuseState = 'usable'
    contexts.set(ZSTD_DEFAULT_LEVEL, tested)
  }
  let ctx = contexts.get(level)
  if (ctx === undefined) {
    try {
      ctx = new ReusedContext(zs, level)
    } catch {
      return undefined // e.g. a level libzstd refuses: the public call reports it
    }
    contexts.set(level, ctx)
  }
  return ctx
}

function dropContexts(state: 'untested' | 'retired'): void {
  for (const ctx of contexts.values()) ctx.close()
  contexts.clear()
  reuseState = state
}

/**
 * Compresses `data` into one frame at out[at, end) through the reused
 * context; returns the frame length, or -1 when the shortcut is not
 * available (the caller then uses the public calls).
 */
export function zstdCompressReused(zs: NodeZlibZstd, data: Uint8Array, level: number, out: Uint8Array, at: number, end: number): number {
  const ctx = reusedContext(zs, level)
  if (ctx === undefined) return -1
  let n: number
  try {
    n = ctx.compressInto(data, out, at, end)
  } catch {
    n = -1
  }
  if (n < 0) dropContexts('retired')
  return n
}

/** Test hook: forget what the self-test found and drop the contexts, so the next call starts over. */
export function resetZstdContextsForTesting(state: 'untested' | 'retired' = 'untested'): void {
  dropContexts(state)
}

/** Whether the reused-context shortcut is in use ('untested' before the first compression). */
export function zstdContextState(): 'untested' | 'usable' | 'retired' {
  return reuseState
}

/**
 * Options for the public calls: the level, and one output chunk that holds
 * any frame. With the default 16 KiB chunks the threadpool call goes back and
 * forth per chunk (2x the CPU) and the sync call concatenates the chunks.
 */
export function compressOptions(n: number, level: number): ZstdOptions {
  return { params: levelParams(level), chunkSize: zstdCompressBound(n) + 64 }
}

export function nodeCompressAsync(zs: NodeZlibZstd, data: Uint8Array, level: number): Promise<Buffer> {
  const opts = compressOptions(data.length, level)
  return new Promise((resolve, reject) => zs.zstdCompress(data, opts, (e, out) => (e ? reject(e) : resolve(out))))
}

export function nodeDecompressAsync(zs: NodeZlibZstd, data: Uint8Array, opts: ZstdOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => zs.zstdDecompress(data, opts, (e, out) => (e ? reject(e) : resolve(out))))
}
