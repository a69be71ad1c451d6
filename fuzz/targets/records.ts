/**
 * Fuzz targets for record data: `RecordBatches` (v2 batches, seeded from the
 * records encoder in every codec × producer × timestamp-type combination,
 * plus end-transaction markers) and `LegacyMessageSets` (magic 0/1 message
 * sets, plain and compressed wrappers, built here since we only encode v2).
 * Both go through decodeRecordBatches; the input's "version" picks the
 * decode options (see VARIANTS).
 *
 * Mutants get their CRCs recomputed before decoding (most of the time), or
 * nearly every mutant would stop at the CRC check.
 *
 * Oracles on top of the common ones:
 *  - decodeRecordBatchesSync must agree with decodeRecordBatches wherever it
 *    does not refuse for lack of decompression;
 *  - every v2 batch the encoder can express must re-encode and decode to the
 *    same batch. Legitimate differences: the CRC and size (compressed bytes
 *    depend on the codec library), and the batches the encoder cannot
 *    express, which are left out on both sides (see `reencodable`).
 */
import { gzipSync } from 'node:zlib'
import CRC32 from 'crc-32'
import { CompressionCodec, compress, decompress, xxhash32 } from '../../src/protocol/compression/index.js'
import { crc32c } from '../../src/protocol/crc32c.js'
import { KafkawireError } from '../../src/protocol/errors.js'
import { Reader } from '../../src/protocol/reader.js'
import {
  decodeRecordBatches,
  decodeRecordBatchesSync,
  encodeEndTxnMarker,
  encodeRecordBatch,
  type DecodeRecordBatchesOptions,
  type DecodedRecordBatches,
  type RecordBatch,
  type RecordBatchOptions,
  type RecordInput,
} from '../../src/protocol/records/index.js'
import type { Rng } from '../mutate.js'
import { codecMissing } from './compression.js'
import { firstDifference, type FuzzInput, type Target } from '../oracle.js'

/** Decompression budget per decode: small, so that bombs are cheap to refuse and quick to find. */
const MAX_DECOMPRESSED = 256 * 1024

/** Decode options by input "version": 0 defaults, 1 no CRC check, 2 a partial trailing batch is an error. */
const VARIANTS: ReadonlyArray<DecodeRecordBatchesOptions> = [
  { maxDecompressedBytes: MAX_DECOMPRESSED },
  { maxDecompressedBytes: MAX_DECOMPRESSED, verifyCrc: false },
  { maxDecompressedBytes: MAX_DECOMPRESSED, allowPartial: false },
]

const CODECS = [CompressionCodec.None, CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4, CompressionCodec.Zstd] as const

/**
 * Decodes with both the async and the sync decoder. Where the sync one gives
 * an answer (no compressed batch in the data) the two must agree; a
 * disagreement is thrown as a plain Error, which the oracle counts as a bug.
 */
async function decodeBoth(data: Buffer, variant: number): Promise<DecodedRecordBatches> {
  const opts = VARIANTS[variant] ?? VARIANTS[0]!
  let sync: { value: DecodedRecordBatches } | { err: unknown }
  try {
    sync = { value: decodeRecordBatchesSync(data, opts) }
  } catch (err) {
    if (!(err instanceof KafkawireError)) throw err
    sync = { err }
  }
  let value: DecodedRecordBatches
  try {
    value = await decodeRecordBatches(data, opts)
  } catch (err) {
    if ('value' in sync && err instanceof KafkawireError) {
      throw new Error(`decodeRecordBatches threw ${err.code} where decodeRecordBatchesSync succeeded: ${err.message}`)
    }
    throw err
  }
  if ('value' in sync) {
    const d = firstDifference(sync.value, value, '')
    if (d !== null) throw new Error(`decodeRecordBatchesSync and decodeRecordBatches disagree at ${d.path}: ${d.detail}`)
  } else if ((sync.err as KafkawireError).code !== 'PROTOCOL_CODEC_UNAVAILABLE') {
    throw new Error(`decodeRecordBatchesSync threw ${(sync.err as KafkawireError).code} where decodeRecordBatches succeeded`)
  }
  return value
}

/**
 * Whether the encoder can write this batch back. The decoder reads what
 * brokers may hand out; the encoder writes what a producer may send, so it
 * has no control or KIP-534 delete-horizon batches (only brokers and the log
 * cleaner write those), no legacy formats, and it enforces producer
 * invariants the decoder does not (neither does Java's consumer): offset
 * deltas strictly increasing from 0 up to lastOffsetDelta, and timestamps
 * that are exact in a number. Int64 timestamps beyond 2^53 decode to the
 * nearest double, which the encoder rightly refuses to write.
 */
function reencodable(b: RecordBatch): boolean {
  if (b.magic !== 2 || b.isControl || b.deleteHorizonMs !== null) return false
  if (!Number.isSafeInteger(b.baseTimestamp) || !Number.isSafeInteger(b.maxTimestamp)) return false
  let previous = -1n
  for (const r of b.records) {
    const delta = r.offset - b.baseOffset
    if (delta <= previous || !Number.isSafeInteger(r.timestamp)) return false
    previous = delta
  }
  const lastOffsetDelta = b.lastOffset - b.baseOffset
  return lastOffsetDelta >= (previous < 0n ? 0n : previous) && lastOffsetDelta <= 0x7fffffffn
}

async function reencode(value: unknown): Promise<Buffer> {
  const parts: Buffer[] = []
  for (const b of (value as DecodedRecordBatches).batches.filter(reencodable)) {
    const opts: RecordBatchOptions = {
      baseOffset: b.baseOffset,
      partitionLeaderEpoch: b.partitionLeaderEpoch,
      compression: b.compression,
      timestampType: b.timestampType === 'LogAppendTime' ? 'LogAppendTime' : 'CreateTime',
      isTransactional: b.isTransactional,
      producerId: b.producerId,
      producerEpoch: b.producerEpoch,
      baseSequence: b.baseSequence,
      baseTimestamp: b.baseTimestamp,
      maxTimestamp: b.maxTimestamp,
      lastOffsetDelta: Number(b.lastOffset - b.baseOffset),
    }
    const records: RecordInput[] = b.records.map((r) => ({
      key: r.key,
      value: r.value,
      headers: r.headers,
      timestamp: r.timestamp,
      offsetDelta: Number(r.offset - b.baseOffset),
    }))
    parts.push(await encodeRecordBatch(opts, records))
  }
  return Buffer.concat(parts)
}

function normalise(value: unknown): unknown {
  return (value as DecodedRecordBatches).batches.filter(reencodable).map((b) => ({ ...b, crc: 0, sizeInBytes: 0 }))
}

/**
 * Recomputes the CRC of every batch or message the bytes still frame
 * properly, so that a mutant gets past the CRC check to the code behind it.
 * (CRCs of messages inside compressed legacy wrappers are left alone.)
 */
export function repairCrcs(input: Buffer): Buffer {
  const data = Buffer.from(input)
  let o = 0
  while (o + 12 <= data.length) {
    const size = data.readInt32BE(o + 8)
    if (size < 14 || size > data.length - o - 12) break
    const end = o + 12 + size
    const magic = data[o + 16]
    if (magic === 2 && size >= 49) data.writeUInt32BE(crc32c(data, o + 21, end), o + 17)
    else if (magic === 0 || magic === 1) data.writeUInt32BE(CRC32.buf(data.subarray(o + 16, end)) >>> 0, o + 12)
    o = end
  }
  return data
}

/**
 * Mutates the records inside one compressed batch (or the inner message set
 * of one compressed legacy wrapper) and packs them again with gzip, fixing
 * inner CRCs most of the time: byte mutations of compressed bytes almost
 * never decompress, so without this the decoding of decompressed data would
 * only ever see valid input. The outer CRC is left to `repairCrcs`.
 */
async function mutateInner(data: Buffer, rng: Rng, mutateBytes: (inner: Buffer) => Buffer): Promise<Buffer | null> {
  const compressed: Array<{ start: number; end: number }> = []
  for (let o = 0; o + 12 <= data.length; ) {
    const size = data.readInt32BE(o + 8)
    if (size < 14 || size > data.length - o - 12) break
    const end = o + 12 + size
    const magic = data[o + 16]
    const codec = magic === 2 && size >= 49 ? data[o + 22]! & 7 : magic === 0 || magic === 1 ? data[o + 17]! & 7 : 0
    if (codec !== 0) compressed.push({ start: o, end })
    o = end
  }
  if (compressed.length === 0) return null
  const { start, end } = rng.pick(compressed)
  const mutateAndPack = (inner: Buffer) => {
    let mutated = mutateBytes(inner)
    if (rng.chance(0.85)) mutated = repairCrcs(mutated)
    return gzipSync(mutated)
  }
  try {
    if (data[start + 16] === 2) {
      const codec = data[start + 22]! & 7
      const inner = await decompress(codec, data.subarray(start + 61, end), { maxBytes: MAX_DECOMPRESSED })
      const packed = mutateAndPack(inner)
      const header = Buffer.from(data.subarray(start, start + 61))
      header.writeInt32BE(49 + packed.length, 8)
      header[22] = (header[22]! & ~7) | CompressionCodec.Gzip
      return Buffer.concat([data.subarray(0, start), header, packed, data.subarray(end)])
    }
    const r = new Reader(data, start + 16, end)
    const magic = r.int8() as 0 | 1
    const attributes = r.int8()
    const timestamp = magic === 1 ? r.int64Number() : -1
    const keyLength = r.int32()
    const key = keyLength >= 0 ? r.view(keyLength) : null
    const value = r.view(r.int32())
    const inner = await decompress(attributes & 7, value, { maxBytes: MAX_DECOMPRESSED, lz4LegacyHeaderChecksum: true })
    const wrapper = legacyMessage(data.readBigInt64BE(start), magic, (attributes & ~7) | CompressionCodec.Gzip, timestamp, key, mutateAndPack(inner))
    return Buffer.concat([data.subarray(0, start), wrapper, data.subarray(end)])
  } catch {
    // Not decompressible or not framed (an earlier mutation broke it):
    // nothing to reach inside. (The decompressors have targets of their own.)
    return null
  }
}

// ---------------------------------------------------------------------------
// Seeds

function randomRecords(rng: Rng, n: number, baseTimestamp: number): RecordInput[] {
  const out: RecordInput[] = []
  let offsetDelta = 0
  for (let i = 0; i < n; i++) {
    const headers = Array.from({ length: rng.below(3) }, () => ({
      key: rng.pick(['trace-id', 'k', '', 'content-type', 'ключ']),
      value: rng.chance(0.2) ? null : rng.bytes(rng.below(8)),
    }))
    out.push({
      key: rng.chance(0.3) ? null : rng.bytes(rng.below(12)),
      value: rng.chance(0.1) ? null : rng.chance(0.5) ? Buffer.from('value '.repeat(1 + rng.below(20))) : rng.bytes(rng.below(40)),
      headers,
      timestamp: baseTimestamp + rng.below(2000) - 100,
      offsetDelta,
    })
    // Offset gaps, as compaction leaves them.
    offsetDelta += 1 + (rng.chance(0.2) ? rng.below(5) : 0)
  }
  return out
}

/** Codecs seeds can be written with: the packages for snappy, lz4 and zstd are optional. */
async function installedCodecs(): Promise<CompressionCodec[]> {
  const out: CompressionCodec[] = []
  for (const c of CODECS) if ((await codecMissing(c)) === null) out.push(c)
  return out
}

async function v2Seeds(rng: Rng): Promise<FuzzInput[]> {
  const batches: Buffer[] = []
  const base = 1_700_000_000_000
  for (const compression of await installedCodecs()) {
    for (const producer of ['none', 'idempotent', 'transactional'] as const) {
      for (const timestampType of ['CreateTime', 'LogAppendTime'] as const) {
        const records = randomRecords(rng, rng.pick([1, 2, 5, 12]), base)
        const opts: RecordBatchOptions = {
          baseOffset: BigInt(rng.below(1_000_000)),
          partitionLeaderEpoch: rng.below(10),
          compression,
          timestampType,
          isTransactional: producer === 'transactional',
          producerId: producer === 'none' ? -1n : BigInt(1000 + rng.below(1000)),
          producerEpoch: producer === 'none' ? -1 : rng.below(5),
          baseSequence: producer === 'none' ? -1 : rng.below(100),
        }
        if (timestampType === 'LogAppendTime') opts.maxTimestamp = base + 5000
        batches.push(await encodeRecordBatch(opts, records))
      }
    }
    // An empty batch, as the log cleaner leaves them.
    batches.push(await encodeRecordBatch({ compression, baseOffset: 42n, baseTimestamp: base }, []))
  }
  for (const type of ['COMMIT', 'ABORT'] as const) {
    batches.push(encodeEndTxnMarker({ type, producerId: 7n, producerEpoch: 1, coordinatorEpoch: 3, timestamp: base, baseOffset: 99n }))
  }
  const out: FuzzInput[] = []
  for (const b of batches) out.push({ version: rng.below(VARIANTS.length), data: b })
  // Several batches in one records field, and one cut off at the end (a fetch at its size limit).
  for (let i = 0; i < 8; i++) {
    const picked = [rng.pick(batches), rng.pick(batches), rng.pick(batches)]
    const all = Buffer.concat(picked)
    out.push({ version: 0, data: all })
    out.push({ version: rng.below(VARIANTS.length), data: all.subarray(0, all.length - 1 - rng.below(picked[2]!.length - 1)) })
  }
  return out
}

/** One legacy message: [offset][size][crc][magic][attributes][timestamp, magic 1][key][value]. */
export function legacyMessage(offset: bigint, magic: 0 | 1, attributes: number, timestamp: number, key: Buffer | null, value: Buffer | null): Buffer {
  const size = (magic === 1 ? 22 : 14) + (key?.length ?? 0) + (value?.length ?? 0)
  const b = Buffer.alloc(12 + size)
  b.writeBigInt64BE(offset, 0)
  b.writeInt32BE(size, 8)
  let o = 16
  b[o++] = magic
  b[o++] = attributes
  if (magic === 1) {
    b.writeBigInt64BE(BigInt(timestamp), o)
    o += 8
  }
  b.writeInt32BE(key === null ? -1 : key.length, o)
  o += 4
  if (key !== null) o += key.copy(b, o)
  b.writeInt32BE(value === null ? -1 : value.length, o)
  o += 4
  if (value !== null) value.copy(b, o)
  b.writeUInt32BE(CRC32.buf(b.subarray(16)) >>> 0, 12)
  return b
}

/**
 * The LZ4 frame header checksum as Kafka clients before 0.10 computed it,
 * over the magic number too (KAFKA-3160); legacy wrappers may carry it.
 */
export function withBrokenLz4HeaderChecksum(frame: Buffer): Buffer {
  const out = Buffer.from(frame)
  out[6] = (xxhash32(out, 0, 6) >>> 8) & 0xff
  return out
}

async function legacySeeds(rng: Rng): Promise<FuzzInput[]> {
  const messages: Buffer[] = []
  const base = 1_600_000_000_000
  const codecs = await installedCodecs()
  for (const magic of [0, 1] as const) {
    // Plain messages.
    for (let i = 0; i < 3; i++) {
      messages.push(legacyMessage(BigInt(100 + i), magic, rng.chance(0.3) && magic === 1 ? 0x08 : 0, base + i, rng.chance(0.5) ? null : rng.bytes(4), rng.bytes(rng.below(30))))
    }
    // Compressed wrappers (zstd never existed for magic < 2).
    for (const codec of [CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4].filter((c) => codecs.includes(c))) {
      const n = 1 + rng.below(4)
      // Magic 1 inner offsets are relative (0..n-1), magic 0 absolute.
      const inner = Buffer.concat(
        Array.from({ length: n }, (_, i) =>
          legacyMessage(magic === 1 ? BigInt(i) : BigInt(500 + i), magic, 0, base + i, rng.chance(0.5) ? null : rng.bytes(3), Buffer.from(`inner message ${i}`)),
        ),
      )
      let payload = await compress(codec, inner)
      if (codec === CompressionCodec.Lz4 && rng.chance(0.5)) payload = withBrokenLz4HeaderChecksum(payload)
      const logAppend = magic === 1 && rng.chance(0.5) ? 0x08 : 0
      messages.push(legacyMessage(BigInt(500 + n - 1), magic, codec | logAppend, base + 10, null, payload))
    }
  }
  const out: FuzzInput[] = messages.map((m) => ({ version: rng.below(VARIANTS.length), data: m }))
  for (let i = 0; i < 6; i++) out.push({ version: 0, data: Buffer.concat([rng.pick(messages), rng.pick(messages)]) })
  return out
}

function recordsTarget(name: string, seeds: (rng: Rng) => Promise<FuzzInput[]>): Target {
  return {
    name,
    versions: VARIANTS.map((_, i) => i),
    decode: decodeBoth,
    encode: reencode,
    normalise,
    seeds,
    repair: repairCrcs,
    mutateInner,
    allocationAllowance: 4 * MAX_DECOMPRESSED,
  }
}

export function recordTargets(): Target[] {
  return [recordsTarget('RecordBatches', v2Seeds), recordsTarget('LegacyMessageSets', legacySeeds)]
}
