/**
 * Record-batch golden vectors against the reference's
 * MemoryRecordsBuilder / MemoryRecords.
 *
 * Batch specs cover every codec × every attribute combination a producer or
 * broker writes (no producer / idempotent / transactional, each with
 * CreateTime and LogAppendTime), plus a large batch per codec; records are
 * seeded random: null keys and values, headers with repeated keys and null
 * values, offset gaps, timestamps below the first one. Each spec is built by
 * both sides:
 *   reference-built: our decoder must read the reference's bytes exactly as the
 *     reference reads them (every header field, CRC and size included);
 *   ours-built: the reference must find our batch valid (isValid() recomputes
 *     the CRC32C) and read it as it reads its own batch of the same spec (CRC
 *     and size aside when compressed: compressed bytes depend on the codec
 *     library), and as our decoder reads it; uncompressed batches must be
 *     byte-identical to the reference's.
 * End-transaction markers (commit and abort) go through the same two cases,
 * and so do all batches concatenated into one records buffer. Reference-built
 * only, as our encoder does not write them: a compacted batch per codec
 * (KIP-534 delete horizon, written by the log cleaner) and legacy magic 0/1
 * message sets (uncompressed and compressed wrappers), which our decoder reads
 * for old topics.
 */
import fc from 'fast-check'
import { CompressionCodec, codecName, type CompressionCodecName } from '../../src/protocol/compression/index.js'
import { decodeRecordBatches, encodeEndTxnMarker, encodeRecordBatch, type RecordBatch, type RecordBatchOptions } from '../../src/protocol/records/index.js'
import type { Json, JsonInput } from './json.js'
import { pairSeed } from './messages.js'
import type { Reference } from './reference.js'
import { diffPath, type Tally } from './report.js'

const CODECS: readonly CompressionCodecName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd']
const CODEC_IDS: Record<CompressionCodecName, CompressionCodec> = {
  none: CompressionCodec.None,
  gzip: CompressionCodec.Gzip,
  snappy: CompressionCodec.Snappy,
  lz4: CompressionCodec.Lz4,
  zstd: CompressionCodec.Zstd,
}
const PRODUCERS = ['none', 'idempotent', 'transactional'] as const
/** The timestamp types of v2 batches. */
const TIMESTAMP_TYPES = ['CreateTime', 'LogAppendTime'] as const
interface RecordSpec {
  offsetDelta: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  headers: Array<{ key: string; value: Buffer | null }>
}

interface BatchSpec {
  label: string
  codec: CompressionCodecName
  baseOffset: bigint
  partitionLeaderEpoch: number
  producerId: bigint
  producerEpoch: number
  baseSequence: number
  transactional: boolean
  timestampType: 'CreateTime' | 'LogAppendTime' | 'NoTimestampType'
  /** The broker's append time for LogAppendTime batches; -1 otherwise. */
  logAppendTime: number
  /** KIP-534 delete horizon (log cleaner only); -1 for none. */
  deleteHorizonMs: number
  /** 2, or a legacy message set (0/1: no headers, no producer fields; magic 0 has no timestamps). */
  magic: 0 | 1 | 2
  /** Our encoder does not write this kind of batch (legacy, delete horizon): no ours-built case. */
  referenceOnly: boolean
  records: RecordSpec[]
}

interface MarkerSpec {
  label: string
  type: 'COMMIT' | 'ABORT'
  baseOffset: bigint
  timestamp: number
  partitionLeaderEpoch: number
  producerId: bigint
  producerEpoch: number
  coordinatorEpoch: number
}

// ---------------------------------------------------------------------------
// Seeded specs

const BASE_TS = 1_700_000_000_000
const bytes = (max: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b))
/** Repetitive text, so that compressed batches actually shrink. */
const compressible = fc.tuple(fc.string({ minLength: 1, maxLength: 30, unit: 'grapheme' }), fc.integer({ min: 1, max: 60 })).map(([s, n]) => Buffer.from(s.repeat(n)))
const header = fc.record({
  // A small key set, so that repeated keys are common.
  key: fc.constantFrom('a', 'b', 'trace-id', 'größe', ''),
  value: fc.option(bytes(16), { nil: null, freq: 4 }),
})
const record = fc.record({
  key: fc.option(bytes(24), { nil: null, freq: 3 }),
  value: fc.option(fc.oneof(bytes(80), compressible), { nil: null, freq: 6 }),
  headers: fc.array(header, { maxLength: 4 }),
  gap: fc.oneof({ arbitrary: fc.constant(0), weight: 4 }, { arbitrary: fc.integer({ min: 1, max: 1000 }), weight: 1 }),
  // Timestamps may go below the first record's (negative deltas on the wire).
  tsDelta: fc.integer({ min: -5_000, max: 3_600_000 }),
})

function records(seed: number, n: number): RecordSpec[] {
  const raw = fc.sample(record, { numRuns: n, seed })
  // Always one record with a null key, a null value, and a repeated header key whose second value is null.
  raw[0] = { key: null, value: null, headers: [{ key: 'dup', value: Buffer.from('one') }, { key: 'dup', value: null }], gap: 0, tsDelta: 0 }
  let delta = -1
  return raw.map((r) => {
    delta += 1 + r.gap
    return { offsetDelta: delta, timestamp: BASE_TS + r.tsDelta, key: r.key, value: r.value, headers: r.headers }
  })
}

/** ~150-650 bytes of JSON-like text with runs and repeats, different per record. */
function compressibleValue(seed: number, i: number): Buffer {
  let x = (seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0
  const next = (): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8
  const parts: string[] = []
  const n = 3 + (next() % 12)
  for (let k = 0; k < n; k++) {
    parts.push(`{"id":${next() % 1000},"name":"user-${next() % 50}","tags":["a","b${next() % 5}"],"pad":"${'z'.repeat(next() % 40)}"}`)
  }
  return Buffer.from(`[${parts.join(',')}]`)
}

function specs(seed: number): { batches: BatchSpec[]; markers: MarkerSpec[] } {
  const producer = fc.record({
    producerId: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
    producerEpoch: fc.integer({ min: 0, max: 32767 }),
    baseSequence: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    partitionLeaderEpoch: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    baseOffset: fc.bigInt({ min: 0n, max: 2n ** 48n }),
  })
  const batches: BatchSpec[] = []
  interface Kind {
    producer: (typeof PRODUCERS)[number]
    timestampType: 'CreateTime' | 'LogAppendTime' | 'NoTimestampType'
    records: number
    deleteHorizonMs?: number
    magic?: 0 | 1 | 2
    /** Repetitive values (text, runs) in a batch of several 64 KiB LZ4 blocks: long and overlapping matches. */
    compressible?: boolean
  }
  const add = (codec: CompressionCodecName, label: string, k: Kind): void => {
    const s = pairSeed(seed, `${codec} ${label}`)
    const p = fc.sample(producer, { numRuns: 1, seed: s })[0]!
    const withProducer = k.producer !== 'none'
    const logAppendTime = k.timestampType === 'LogAppendTime'
    const magic = k.magic ?? 2
    let recs = records(s, k.records)
    if (k.compressible) recs = recs.map((r, i) => ({ ...r, value: compressibleValue(s, i) }))
    // Legacy messages have no headers, and magic 0 none of timestamps either.
    if (magic < 2) recs = recs.map((r) => ({ ...r, headers: [], timestamp: magic === 0 ? -1 : r.timestamp }))
    batches.push({
      label: `${codec} ${label}`,
      codec,
      // Producers send base offset 0 and leader epoch -1; the broker (LogAppendTime) assigns both.
      baseOffset: withProducer || logAppendTime || magic < 2 ? p.baseOffset : 0n,
      partitionLeaderEpoch: withProducer || logAppendTime ? p.partitionLeaderEpoch : -1,
      producerId: withProducer ? p.producerId : -1n,
      producerEpoch: withProducer ? p.producerEpoch : -1,
      baseSequence: withProducer ? p.baseSequence : -1,
      transactional: k.producer === 'transactional',
      timestampType: k.timestampType,
      logAppendTime: logAppendTime ? BASE_TS + 7_200_000 : -1,
      deleteHorizonMs: k.deleteHorizonMs ?? -1,
      magic,
      referenceOnly: magic < 2 || k.deleteHorizonMs !== undefined,
      records: recs,
    })
  }
  for (const codec of CODECS) {
    for (const producerKind of PRODUCERS) {
      for (const ts of TIMESTAMP_TYPES) add(codec, `${producerKind} ${ts}`, { producer: producerKind, timestampType: ts, records: 8 })
    }
    add(codec, 'large idempotent CreateTime', { producer: 'idempotent', timestampType: 'CreateTime', records: 300 })
    add(codec, 'compressible, several 64 KiB blocks', { producer: 'idempotent', timestampType: 'CreateTime', records: 500, compressible: true })
    add(codec, 'compacted with delete horizon', { producer: 'none', timestampType: 'CreateTime', records: 8, deleteHorizonMs: BASE_TS + 86_400_000 })
    // Legacy message sets, which old topics on 3.x brokers still hold (zstd needs magic 2).
    if (codec !== 'zstd') {
      add(codec, 'legacy magic 0', { producer: 'none', timestampType: 'NoTimestampType', records: 6, magic: 0 })
      add(codec, 'legacy magic 1 CreateTime', { producer: 'none', timestampType: 'CreateTime', records: 6, magic: 1 })
      add(codec, 'legacy magic 1 LogAppendTime', { producer: 'none', timestampType: 'LogAppendTime', records: 6, magic: 1 })
    }
  }
  const markers = (['COMMIT', 'ABORT'] as const).map((type): MarkerSpec => {
    const s = pairSeed(seed, `marker ${type}`)
    const p = fc.sample(producer, { numRuns: 1, seed: s })[0]!
    const coordinatorEpoch = fc.sample(fc.integer({ min: 0, max: 2 ** 31 - 1 }), { numRuns: 1, seed: s })[0]!
    return { label: `end-txn marker ${type}`, type, baseOffset: p.baseOffset, timestamp: BASE_TS, partitionLeaderEpoch: p.partitionLeaderEpoch, producerId: p.producerId, producerEpoch: p.producerEpoch, coordinatorEpoch }
  })
  return { batches, markers }
}

// ---------------------------------------------------------------------------
// Both sides' batches in one comparable shape

interface RecordView {
  offset: bigint
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  headers: Array<{ key: string; value: Buffer | null }>
}

interface BatchView {
  baseOffset: bigint
  lastOffset: bigint
  partitionLeaderEpoch: number
  magic: number
  crc: number | undefined
  valid: boolean
  compression: string
  timestampType: string
  transactional: boolean
  control: boolean
  baseTimestamp: number | undefined
  maxTimestamp: number
  deleteHorizonMs: number | null
  producerId: bigint
  producerEpoch: number
  baseSequence: number
  sizeInBytes: number | undefined
  /** Data records; a control batch has its control record in `controlRecord` instead. */
  records: RecordView[]
  controlRecord: { type: string; coordinatorEpoch: number } | null
}

const b64 = (j: Json | undefined): Buffer | null => (typeof j === 'string' ? Buffer.from(j, 'base64') : null)

/** The reference's readBatches output, as views. */
function javaViews(r: Record<string, Json>): BatchView[] {
  if (r.trailing !== 0n) throw new Error(`the reference left ${r.trailing} byte(s) after the last complete batch`)
  return (r.batches as Array<Record<string, Json>>).map((b) => {
    const recs = b.records as Array<Record<string, Json>>
    // Legacy batches declare no count (countOrNull() is null).
    if (b.count !== null && Number(b.count) !== recs.length) throw new Error(`the reference read ${recs.length} records of a batch declaring ${b.count}`)
    const control = b.control === true
    return {
      baseOffset: b.baseOffset as bigint,
      lastOffset: b.lastOffset as bigint,
      partitionLeaderEpoch: Number(b.partitionLeaderEpoch),
      magic: Number(b.magic),
      crc: Number(b.crc),
      valid: b.valid === true,
      compression: b.compression as string,
      timestampType: b.timestampType as string,
      transactional: b.transactional === true,
      control,
      baseTimestamp: b.baseTimestamp === undefined ? undefined : Number(b.baseTimestamp),
      maxTimestamp: Number(b.maxTimestamp),
      deleteHorizonMs: b.deleteHorizonMs === null ? null : Number(b.deleteHorizonMs),
      producerId: b.producerId as bigint,
      producerEpoch: Number(b.producerEpoch),
      baseSequence: Number(b.baseSequence),
      sizeInBytes: Number(b.sizeInBytes),
      records: control
        ? []
        : recs.map((x) => ({
            offset: x.offset as bigint,
            timestamp: Number(x.timestamp),
            key: b64(x.key),
            value: b64(x.value),
            headers: (x.headers as Array<Record<string, Json>>).map((h) => ({ key: h.key as string, value: b64(h.value) })),
          })),
      controlRecord: control && recs.length === 1 ? { type: recs[0]!.controlType as string, coordinatorEpoch: Number(recs[0]!.coordinatorEpoch) } : null,
    }
  })
}

/** Our decoded batches as views. Our decoder verifies every CRC, so a batch it returns is valid. */
function ourViews(batches: RecordBatch[]): BatchView[] {
  return batches.map((b) => ({
    baseOffset: b.baseOffset,
    lastOffset: b.lastOffset,
    partitionLeaderEpoch: b.partitionLeaderEpoch,
    magic: b.magic,
    crc: b.crc >>> 0,
    valid: true,
    compression: codecName(b.compression),
    timestampType: b.timestampType,
    transactional: b.isTransactional,
    control: b.isControl,
    // Legacy messages have no base timestamp; the reference has no accessor for it.
    baseTimestamp: b.magic < 2 ? undefined : b.baseTimestamp,
    maxTimestamp: b.maxTimestamp,
    deleteHorizonMs: b.deleteHorizonMs,
    producerId: b.producerId,
    producerEpoch: b.producerEpoch,
    baseSequence: b.baseSequence,
    sizeInBytes: b.sizeInBytes,
    records: b.isControl
      ? []
      : b.records.map((r) => ({ offset: r.offset, timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers.map((h) => ({ key: h.key, value: h.value })) })),
    controlRecord: b.control ? { type: b.control.type, coordinatorEpoch: b.control.coordinatorEpoch } : null,
  }))
}

/** Compressed bytes differ between codec libraries, and with them the CRC and the size. */
function withoutCompressedBytes(views: BatchView[]): BatchView[] {
  return views.map((v) => (v.compression === 'none' ? v : { ...v, crc: undefined, sizeInBytes: undefined }))
}

// ---------------------------------------------------------------------------

function javaBuildOp(s: BatchSpec): JsonInput {
  return {
    op: 'buildBatch',
    magic: BigInt(s.magic),
    compression: s.codec,
    baseOffset: s.baseOffset,
    timestampType: s.timestampType,
    logAppendTime: BigInt(s.logAppendTime),
    producerId: s.producerId,
    producerEpoch: BigInt(s.producerEpoch),
    baseSequence: BigInt(s.baseSequence),
    transactional: s.transactional,
    partitionLeaderEpoch: BigInt(s.partitionLeaderEpoch),
    deleteHorizonMs: BigInt(s.deleteHorizonMs),
    records: s.records.map((r) => ({
      offset: s.baseOffset + BigInt(r.offsetDelta),
      timestamp: BigInt(r.timestamp),
      key: r.key?.toString('base64') ?? null,
      value: r.value?.toString('base64') ?? null,
      headers: r.headers.map((h) => ({ key: h.key, value: h.value?.toString('base64') ?? null })),
    })),
  }
}

function javaMarkerOp(m: MarkerSpec): JsonInput {
  return {
    op: 'endTxnMarker',
    baseOffset: m.baseOffset,
    timestamp: BigInt(m.timestamp),
    partitionLeaderEpoch: BigInt(m.partitionLeaderEpoch),
    producerId: m.producerId,
    producerEpoch: BigInt(m.producerEpoch),
    commit: m.type === 'COMMIT',
    coordinatorEpoch: BigInt(m.coordinatorEpoch),
  }
}

function ourBuild(s: BatchSpec): Promise<Buffer> {
  const opts: RecordBatchOptions = {
    baseOffset: s.baseOffset,
    partitionLeaderEpoch: s.partitionLeaderEpoch,
    compression: CODEC_IDS[s.codec],
    timestampType: s.timestampType === 'LogAppendTime' ? 'LogAppendTime' : 'CreateTime',
    isTransactional: s.transactional,
    producerId: s.producerId,
    producerEpoch: s.producerEpoch,
    baseSequence: s.baseSequence,
  }
  // With LogAppendTime the batch's max timestamp is the append time.
  if (s.timestampType === 'LogAppendTime') opts.maxTimestamp = s.logAppendTime
  return encodeRecordBatch(opts, s.records)
}

function ourMarker(m: MarkerSpec): Buffer {
  return encodeEndTxnMarker({
    type: m.type,
    producerId: m.producerId,
    producerEpoch: m.producerEpoch,
    coordinatorEpoch: m.coordinatorEpoch,
    timestamp: m.timestamp,
    baseOffset: m.baseOffset,
    partitionLeaderEpoch: m.partitionLeaderEpoch,
  })
}

interface Built {
  label: string
  ours: Buffer | null
  reference: Buffer | null
  /** No ours-built case: our encoder does not write this kind of batch. */
  referenceOnly: boolean
}

async function ourDecode(buf: Buffer): Promise<BatchView[]> {
  const d = await decodeRecordBatches(buf)
  if (d.bytesConsumed !== buf.length || d.partialBytes !== 0) {
    throw new Error(`our decoder consumed ${d.bytesConsumed} of ${buf.length} bytes (${d.partialBytes} partial)`)
  }
  return ourViews(d.batches)
}

function resultOf(r: Json | undefined): Record<string, Json> {
  if (r === null || r === undefined || typeof r !== 'object' || Array.isArray(r)) throw new Error(`malformed reference result ${String(r)}`)
  if (typeof r.error === 'string') throw new Error(r.error)
  return r
}

export async function checkBatches(ref: Reference, seed: number, tally: Tally): Promise<void> {
  const { batches, markers } = specs(seed)
  const built: Built[] = []

  // 1. Both sides build every spec.
  const refBuilt = await ref.call([...batches.map(javaBuildOp), ...markers.map(javaMarkerOp)])
  const labels = [...batches.map((b) => `batch ${b.label}`), ...markers.map((m) => m.label)]
  for (let i = 0; i < labels.length; i++) {
    let ours: Buffer | null = null
    let reference: Buffer | null = null
    const referenceOnly = i < batches.length && batches[i]!.referenceOnly
    try {
      if (!referenceOnly) ours = i < batches.length ? await ourBuild(batches[i]!) : ourMarker(markers[i - batches.length]!)
    } catch (e) {
      tally.add({ where: labels[i]!, what: 'our encoder refused the spec', detail: (e as Error).message })
    }
    try {
      reference = Buffer.from(resultOf(refBuilt[i]).hex as string, 'hex')
    } catch (e) {
      tally.add({ where: labels[i]!, what: 'the reference refused the spec', detail: (e as Error).message })
    }
    built.push({ label: labels[i]!, ours, reference, referenceOnly })
  }
  // All batches of each side in one records buffer, as in a fetch response.
  // (Reference-only specs are left out, so that both buffers hold the same batches.)
  const all = (side: 'ours' | 'reference'): Buffer | null => {
    const parts = built.filter((b) => !b.referenceOnly).map((b) => b[side])
    return parts.every((b) => b !== null) ? Buffer.concat(parts as Buffer[]) : null
  }
  built.push({ label: 'all batches concatenated', ours: all('ours'), reference: all('reference'), referenceOnly: false })

  // 2. The reference reads both sides' bytes.
  const reads = await ref.call(built.flatMap((b) => [b.reference, b.ours].map((buf) => ({ op: 'readBatches', hex: (buf ?? Buffer.alloc(0)).toString('hex') }))))

  for (let i = 0; i < built.length; i++) {
    const { label, ours, reference, referenceOnly } = built[i]!
    // Two cases per spec (one when reference-only); a side that could not build it has been reported above.
    tally.cases += referenceOnly ? 1 : 2
    // reference-built: our decoder reads what the reference reads.
    if (reference) {
      const where = `${label} (reference-built)`
      try {
        const theirs = javaViews(resultOf(reads[2 * i]))
        const mine = await ourDecode(reference)
        const d = diffPath(mine, theirs)
        if (d) tally.add({ where, what: 'our decoder reads the reference batch differently (ours vs reference)', detail: d, reference })
      } catch (e) {
        tally.add({ where, what: 'decoding failed', detail: (e as Error).message, reference })
      }
    }
    // ours-built: valid for the reference, read as the reference reads its own, byte-identical when uncompressed.
    if (ours) {
      const where = `${label} (ours-built)`
      try {
        const theirView = javaViews(resultOf(reads[2 * i + 1]))
        if (theirView.length === 0) tally.add({ where, what: 'the reference found no batch in our bytes', ours })
        const invalid = theirView.filter((v) => !v.valid)
        if (invalid.length) tally.add({ where, what: `the reference finds ${invalid.length} of our batch(es) invalid (CRC32C mismatch)`, ours, reference })
        if (reference) {
          const refView = javaViews(resultOf(reads[2 * i]))
          const d = diffPath(withoutCompressedBytes(theirView), withoutCompressedBytes(refView))
          if (d) tally.add({ where, what: 'the reference reads our batch differently from its own (ours vs reference)', detail: d, ours, reference })
          const uncompressed = theirView.every((v) => v.compression === 'none')
          if (uncompressed && !ours.equals(reference)) tally.add({ where, what: 'uncompressed batches differ', ours, reference })
        }
        const d = diffPath(await ourDecode(ours), theirView)
        if (d) tally.add({ where, what: 'our decoder and the reference read our batch differently (ours vs reference)', detail: d, ours })
      } catch (e) {
        tally.add({ where, what: 'reading our batch failed', detail: (e as Error).message, ours })
      }
    }
  }
}
