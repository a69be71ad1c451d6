/**
 * What every client driver (bench/clients/*.ts) shares: the job it is given,
 * the payload, the measurement, and how it reports back.
 *
 * A driver runs in its own process: `node --import tsx clients/<name>.ts '<job JSON>'`.
 * It sets up its client (connect, metadata, group join), then measures the
 * workload alone: wall time with performance.now() and CPU with
 * process.cpuUsage() (getrusage(RUSAGE_SELF): user + system time of every
 * thread of the process: JS, GC helpers, libuv pool, librdkafka's threads).
 * It prints one line `@@RESULT {json}` on stdout.
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..')

/** The installed version of a bench dependency (read from disk: not every package exports its package.json). */
export function pkgVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(benchDir, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version
  } catch {
    return 'not installed'
  }
}

export type Codec = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'

export interface ProduceJob {
  role: 'produce'
  brokers: string[]
  topic: string
  records: number
  recordSize: number
  compression: Codec
  /** Per-partition batch bytes (kafkawire, librdkafka; the Java client too). */
  batchSize: number
  lingerMs: number
  maxInFlight: number
  /** Promise-based clients: records per send() call and send() calls outstanding. */
  chunk: number
  window: number
}

export interface ConsumeJob {
  role: 'consume'
  brokers: string[]
  topic: string
  records: number
  groupId: string
  /** Per fetch request (fetch.max.bytes). */
  maxBytes: number
  /** Per partition (max.partition.fetch.bytes). */
  maxPartitionBytes: number
  /** Driver-specific variant (e.g. 'eachMessage'). */
  variant?: string
}

export type Job = ProduceJob | ConsumeJob

export interface Result {
  records: number
  /** Value bytes produced or consumed. */
  bytes: number
  seconds: number
  cpuUserUs: number
  cpuSystemUs: number
  errors: number
  /** Client and configuration as the driver set them up, for the report. */
  config: Record<string, unknown>
  note?: string
}

export function job<T extends Job>(): T {
  const raw = process.argv[2]
  if (!raw) throw new Error('usage: node --import tsx clients/<name>.ts <job JSON>')
  return JSON.parse(raw) as T
}

/** How many distinct values `payloads()` makes; drivers cycle through them. */
export const PAYLOADS = 4096

/**
 * The values producers send: PAYLOADS distinct buffers of `size` random
 * upper-case letters, made before measuring; record i carries value
 * i % PAYLOADS. ProducerPerformance (--record-size) fills its payload with
 * fresh random upper-case letters for every record, so batches compress alike
 * for every client (lz4 finds almost nothing to match; zstd's entropy coding
 * gets ~1.6x).
 */
export function payloads(size: number): Buffer[] {
  const out: Buffer[] = []
  let x = 0x2545f491
  for (let k = 0; k < PAYLOADS; k++) {
    const b = Buffer.allocUnsafe(size)
    for (let i = 0; i < size; i++) {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      b[i] = 65 + ((x >>> 0) % 26)
    }
    out.push(b)
  }
  return out
}

export class Meter {
  #t0 = 0
  #cpu0: NodeJS.CpuUsage = { user: 0, system: 0 }
  seconds = 0
  cpu: NodeJS.CpuUsage = { user: 0, system: 0 }

  start(): void {
    this.#cpu0 = process.cpuUsage()
    this.#t0 = performance.now()
  }

  stop(): void {
    this.seconds = (performance.now() - this.#t0) / 1000
    this.cpu = process.cpuUsage(this.#cpu0)
  }
}

export function report(r: Result): void {
  process.stdout.write(`@@RESULT ${JSON.stringify(r)}\n`)
}

export function result(m: Meter, records: number, bytes: number, errors: number, config: Record<string, unknown>, note?: string): Result {
  return { records, bytes, seconds: m.seconds, cpuUserUs: m.cpu.user, cpuSystemUs: m.cpu.system, errors, config, ...(note ? { note } : {}) }
}

/**
 * Runs `send(first, n)` for consecutive chunks (records first .. first+n-1) of `chunk` records, at most `window`
 * of them unresolved at a time (the driver for promise-based producers).
 * Resolves with the number of records whose send() rejected.
 */
export async function driveChunks(total: number, chunk: number, window: number, send: (first: number, n: number) => Promise<unknown>): Promise<number> {
  let active = 0
  let failed = 0
  let firstError: unknown = null
  let wake: (() => void) | null = null
  const settle = (n: number, err: unknown): void => {
    active--
    if (err !== undefined) {
      failed += n
      firstError ??= err
    }
    const w = wake
    wake = null
    w?.()
  }
  for (let sent = 0; sent < total; ) {
    while (active >= window) await new Promise<void>((r) => (wake = r))
    const n = Math.min(chunk, total - sent)
    sent += n
    active++
    send(sent - n, n).then(
      () => settle(n, undefined),
      (e: unknown) => settle(n, e ?? new Error('send failed')),
    )
  }
  while (active > 0) await new Promise<void>((r) => (wake = r))
  if (firstError !== null) process.stderr.write(`first send error: ${String((firstError as Error)?.stack ?? firstError)}\n`)
  return failed
}

export function fail(err: unknown): never {
  process.stderr.write(`driver failed: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
}
