/**
 * Decoder for the `records` field of Fetch (and Produce) data: a sequence of
 * v2 record batches and/or legacy magic 0/1 message sets
 * (org.apache.kafka.common.record.ByteBufferLogInputStream,
 * DefaultRecordBatch, DefaultRecord, AbstractLegacyRecordBatch).
 *
 * Every length is checked against the bytes actually present before use, and
 * no allocation is sized by a length from the wire: record arrays grow by
 * push after the declared count has been checked against the bytes available
 * (a record takes at least 7 bytes). Keys, values and header values are
 * zero-copy views into the input (or into the decompressed buffer).
 */
import CRC32 from 'crc-32'
import { decompress } from '../compression/index.js'
import { DEFAULT_MAX_DECOMPRESSED_BYTES, codecName, type CompressionCodec } from '../compression/codec.js'
import { crc32c } from '../crc32c.js'
import { ProtocolError, type ErrorContext } from '../errors.js'
import { Reader } from '../reader.js'
import {
  ATTRIBUTES_OFFSET,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG_MASK,
  CONTROL_TYPE_ABORT,
  CONTROL_TYPE_COMMIT,
  CRC_OFFSET,
  DELETE_HORIZON_FLAG_MASK,
  LEGACY_RECORD_OVERHEAD_V0,
  LEGACY_RECORD_OVERHEAD_V1,
  LEGACY_TIMESTAMP_TYPE_MASK,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MIN_RECORD_SIZE,
  NO_PARTITION_LEADER_EPOCH,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  NO_TIMESTAMP,
  RECORD_BATCH_OVERHEAD,
  TIMESTAMP_TYPE_MASK,
  TRANSACTIONAL_FLAG_MASK,
} from './layout.js'
import type {
  ControlRecord,
  DecodeRecordBatchesOptions,
  DecodedRecordBatches,
  KafkaRecord,
  RecordBatch,
  RecordHeader,
  TimestampType,
} from './types.js'

const crc32 = CRC32.buf

function corrupt(message: string, context: ErrorContext): ProtocolError {
  return new ProtocolError('PROTOCOL_CORRUPT_RECORD', message, context)
}

function badLength(message: string, context: ErrorContext): ProtocolError {
  return new ProtocolError('PROTOCOL_INVALID_LENGTH', message, context)
}

// ---------------------------------------------------------------------------
// Zero-copy views. Buffer#subarray goes through TypedArray species lookup;
// Node's Buffer[Symbol.species] is its internal FastBuffer class, and
// constructing it directly over (arrayBuffer, offset, length) yields the same
// Buffer view in a fraction of the time. Falls back to subarray if a runtime
// ever stops exposing it.

type ViewCtor = new (ab: ArrayBufferLike, byteOffset: number, length: number) => Buffer
const FastBuffer: ViewCtor | null = (() => {
  try {
    const C = (Buffer as unknown as Record<symbol, unknown>)[Symbol.species] as ViewCtor
    const probe = new C(new ArrayBuffer(4), 1, 2)
    return Buffer.isBuffer(probe) && probe.length === 2 && probe.byteOffset === 1 ? C : null
  } catch {
    return null
  }
})()

// ---------------------------------------------------------------------------
// Varints longer than one byte. They return the value and leave the next
// offset in `pos`, so the record loop keeps its cursor in a local; one-byte
// values (nearly all lengths and deltas) are decoded inline in the loop.

let pos = 0

function truncatedAt(o: number, what: string): ProtocolError {
  return new ProtocolError('PROTOCOL_TRUNCATED', `truncated record: ${what} runs past the end of its record at offset ${o}`, { offset: o })
}

/** Zig-zag varint (int32), DefaultRecord's ByteUtils.readVarint. */
function varint(b: Buffer, o: number, end: number, what: string): number {
  let result = 0
  let shift = 0
  for (let i = 0; i < 5; i++) {
    if (o + i >= end) throw truncatedAt(o, what)
    const x = b[o + i]!
    if (i === 4 && x > 0x0f) throw new ProtocolError('PROTOCOL_VARINT_TOO_LONG', `${what}: varint does not fit in 32 bits at offset ${o}`, { offset: o })
    result |= (x & 0x7f) << shift
    if (x < 0x80) {
      pos = o + i + 1
      return (result >>> 1) ^ -(result & 1)
    }
    shift += 7
  }
  throw new ProtocolError('PROTOCOL_VARINT_TOO_LONG', `${what}: varint longer than 5 bytes at offset ${o}`, { offset: o })
}

/** Zig-zag varlong as a number (timestamp deltas); beyond 2^53 is an error, not a rounding. */
function varlong(b: Buffer, o: number, end: number, what: string): number {
  const r = new Reader(b, o, end)
  try {
    const v = r.varlongNumber()
    pos = r.offset
    return v
  } catch (e) {
    if (e instanceof ProtocolError && e.code === 'PROTOCOL_TRUNCATED') throw truncatedAt(o, what)
    throw e
  }
}

// ---------------------------------------------------------------------------
// v2 records (DefaultRecord.readFrom)

/**
 * Header keys repeat on almost every record of a batch; decoding the same
 * bytes to a string 1000 times dominates header cost. A tiny direct-mapped
 * cache (per batch) compares the key bytes with a previous occurrence and
 * reuses its string.
 */
const KEY_CACHE_SLOTS = 16

/**
 * Most records carry no headers: they share this frozen array instead of
 * each allocating an empty one (one object less per record; mutating it
 * throws rather than leaking into other records).
 */
const NO_HEADERS: readonly RecordHeader[] = Object.freeze([])

function decodeRecordsV2(b: Buffer, start: number, end: number, count: number, batch: RecordBatch, batchOffset: number): void {
  if (count > (end - start) / MIN_RECORD_SIZE) {
    throw corrupt(
      `record batch at offset ${batchOffset} declares ${count} records, but its ${end - start} record bytes can hold at most ${Math.floor((end - start) / MIN_RECORD_SIZE)}`,
      { offset: batchOffset },
    )
  }
  // count is bounded by the bytes present (checked above), so sizing the
  // array by it is safe.
  const records = batch.records
  const first = records.length
  records.length = first + count
  const logAppendTime = batch.timestampType === 'LogAppendTime'
  const maxTimestamp = batch.maxTimestamp
  const baseTimestamp = batch.baseTimestamp
  // Offsets are bigints in the API; inside a batch they are base + an int32
  // delta, so when the base is a safe integer one BigInt(number) per record
  // is exact and cheaper than bigint addition.
  const baseOffset = batch.baseOffset
  const baseNum = Number(baseOffset)
  const fastOffsets = Math.abs(baseNum) <= Number.MAX_SAFE_INTEGER - 0x80000000
  let cacheKeys: string[] | null = null
  let cacheAt: Int32Array | null = null
  const ab = b.buffer
  const base = b.byteOffset
  const FB = FastBuffer
  let o = start
  let x = 0
  // Varints are read inline when they fit in one byte (lengths < 64 and
  // small deltas: nearly all of them); longer ones go through varint().
  for (let i = 0; i < count; i++) {
    const recordStart = o
    if (o >= end) {
      throw corrupt(`record batch at offset ${batchOffset} declares ${count} records but holds only ${i}`, { offset: batchOffset, index: i })
    }
    let size: number
    if ((x = b[o]!) < 0x80) {
      size = (x >>> 1) ^ -(x & 1)
      o++
    } else {
      size = varint(b, o, end, 'record length')
      o = pos
    }
    if (size < 0 || size > end - o) {
      throw badLength(`record ${i} at offset ${recordStart}: length ${size} runs past the end of its batch (${end - o} bytes left)`, {
        offset: recordStart,
        index: i,
      })
    }
    const bodyStart = o
    const recordEnd = o + size
    // attributes (unused, DefaultRecord), then the timestamp delta
    if (recordEnd - o < 2) throw truncatedAt(o, 'record header')
    o++
    let timestampDelta: number
    if ((x = b[o]!) < 0x80) {
      timestampDelta = x % 2 === 0 ? x / 2 : -(x + 1) / 2
      o++
    } else {
      timestampDelta = varlong(b, o, recordEnd, 'timestamp delta')
      o = pos
    }
    let offsetDelta: number
    if (o < recordEnd && (x = b[o]!) < 0x80) {
      offsetDelta = (x >>> 1) ^ -(x & 1)
      o++
    } else {
      offsetDelta = varint(b, o, recordEnd, 'offset delta')
      o = pos
    }
    let n: number
    if (o < recordEnd && (x = b[o]!) < 0x80) {
      n = (x >>> 1) ^ -(x & 1)
      o++
    } else {
      n = varint(b, o, recordEnd, 'key length')
      o = pos
    }
    let key: Buffer | null = null
    // A negative length is a null key / value, as in DefaultRecord.readFrom.
    if (n >= 0) {
      if (n > recordEnd - o) throw truncatedAt(o, 'record key')
      key = FB !== null ? new FB(ab, base + o, n) : b.subarray(o, o + n)
      o += n
    }
    if (o < recordEnd && (x = b[o]!) < 0x80) {
      n = (x >>> 1) ^ -(x & 1)
      o++
    } else {
      n = varint(b, o, recordEnd, 'value length')
      o = pos
    }
    let value: Buffer | null = null
    if (n >= 0) {
      if (n > recordEnd - o) throw truncatedAt(o, 'record value')
      value = FB !== null ? new FB(ab, base + o, n) : b.subarray(o, o + n)
      o += n
    }
    let headerCount: number
    if (o < recordEnd && (x = b[o]!) < 0x80) {
      headerCount = (x >>> 1) ^ -(x & 1)
      o++
    } else {
      headerCount = varint(b, o, recordEnd, 'header count')
      o = pos
    }
    if (headerCount < 0) throw corrupt(`record ${i} at offset ${recordStart}: negative header count ${headerCount}`, { offset: recordStart, index: i })
    let headers: readonly RecordHeader[]
    if (headerCount === 0) headers = NO_HEADERS
    else {
      // Each header takes at least two bytes (two length varints).
      if (headerCount > (recordEnd - o) / 2) {
        throw corrupt(`record ${i} at offset ${recordStart}: ${headerCount} headers cannot fit in ${recordEnd - o} bytes`, {
          offset: recordStart,
          index: i,
        })
      }
      if (cacheKeys === null) {
        cacheKeys = new Array<string>(KEY_CACHE_SLOTS).fill('')
        cacheAt = new Int32Array(KEY_CACHE_SLOTS).fill(-1)
      }
      // Exactly sized (count checked against the bytes above): an empty
      // array grown by push would reserve 16 slots.
      const hs = new Array<RecordHeader>(headerCount)
      headers = hs
      for (let j = 0; j < headerCount; j++) {
        if (o < recordEnd && (x = b[o]!) < 0x80) {
          n = (x >>> 1) ^ -(x & 1)
          o++
        } else {
          n = varint(b, o, recordEnd, 'header key length')
          o = pos
        }
        if (n < 0) throw corrupt(`record ${i} at offset ${recordStart}: negative header key length ${n}`, { offset: recordStart, index: i })
        if (n > recordEnd - o) throw truncatedAt(o, 'header key')
        let hk: string
        if (n === 0) hk = ''
        else {
          const slot = (n + b[o]! + b[o + n - 1]!) & (KEY_CACHE_SLOTS - 1)
          const at = cacheAt![slot]!
          // Only ASCII keys are cached (string length == byte length), so equal
          // lengths mean equal byte spans; then compare the bytes.
          let hit = at >= 0 && cacheKeys[slot]!.length === n
          if (hit) {
            for (let k = 0; k < n; k++) {
              if (b[at + k] !== b[o + k]) {
                hit = false
                break
              }
            }
          }
          if (hit) hk = cacheKeys[slot]!
          else {
            hk = b.toString('utf8', o, o + n)
            if (hk.length === n) {
              cacheKeys[slot] = hk
              cacheAt![slot] = o
            }
          }
        }
        o += n
        if (o < recordEnd && (x = b[o]!) < 0x80) {
          n = (x >>> 1) ^ -(x & 1)
          o++
        } else {
          n = varint(b, o, recordEnd, 'header value length')
          o = pos
        }
        let hv: Buffer | null = null
        if (n >= 0) {
          if (n > recordEnd - o) throw truncatedAt(o, 'header value')
          hv = FB !== null ? new FB(ab, base + o, n) : b.subarray(o, o + n)
          o += n
        }
        hs[j] = { key: hk, value: hv }
      }
    }
    if (o !== recordEnd) {
      throw corrupt(`record ${i} at offset ${recordStart}: length says ${size} bytes, fields take ${o - bodyStart}`, {
        offset: recordStart,
        index: i,
      })
    }
    records[first + i] = {
      offset: fastOffsets ? BigInt(baseNum + offsetDelta) : baseOffset + BigInt(offsetDelta),
      timestamp: logAppendTime ? maxTimestamp : baseTimestamp + timestampDelta,
      key,
      value,
      headers,
    }
  }
  if (o !== end) {
    throw corrupt(`record batch at offset ${batchOffset}: ${end - o} bytes remain after its ${count} records`, { offset: batchOffset })
  }
}

/** Control record from a control batch's first record (ControlRecordType / EndTransactionMarker). */
function decodeControl(record: KafkaRecord, batchOffset: number): ControlRecord {
  const key = record.key
  if (key === null || key.length < 4) {
    throw corrupt(`control record in batch at offset ${batchOffset} has a key of ${key?.length ?? 'null'} bytes, needs 4`, { offset: batchOffset })
  }
  const version = key.readInt16BE(0)
  if (version < 0) throw corrupt(`control record in batch at offset ${batchOffset} has invalid key version ${version}`, { offset: batchOffset })
  const typeId = key.readInt16BE(2)
  if (typeId !== CONTROL_TYPE_ABORT && typeId !== CONTROL_TYPE_COMMIT) {
    return { type: 'UNKNOWN', typeId, version, coordinatorEpoch: -1 }
  }
  const value = record.value
  if (value === null || value.length < 6) {
    throw corrupt(`end transaction marker in batch at offset ${batchOffset} has a value of ${value?.length ?? 'null'} bytes, needs 6`, {
      offset: batchOffset,
    })
  }
  if (value.readInt16BE(0) < 0) throw corrupt(`end transaction marker in batch at offset ${batchOffset} has a negative version`, { offset: batchOffset })
  return {
    type: typeId === CONTROL_TYPE_COMMIT ? 'COMMIT' : 'ABORT',
    typeId,
    version,
    coordinatorEpoch: value.readInt32BE(2),
  }
}

function int64Number(b: Buffer, o: number): number {
  return b.readInt32BE(o) * 0x100000000 + b.readUInt32BE(o + 4)
}

function checkCodec(codec: number, offset: number): CompressionCodec {
  if (codec > 4) {
    throw new ProtocolError('PROTOCOL_COMPRESSION', `batch at offset ${offset} uses unknown compression codec id ${codec}`, { offset, codec: codecName(codec) })
  }
  return codec as CompressionCodec
}

// ---------------------------------------------------------------------------
// Scan: walks the batches, decodes what needs no decompression right away and
// queues the rest.

interface PendingV2 {
  kind: 2
  batch: RecordBatch
  count: number
  codec: CompressionCodec
  data: Buffer
  offset: number
}

interface PendingLegacy {
  kind: 0
  batch: RecordBatch
  codec: CompressionCodec
  data: Buffer
  offset: number
  wrapperOffset: bigint
  wrapperMagic: number
  wrapperTimestamp: number
}

type Pending = PendingV2 | PendingLegacy

interface Scan {
  result: DecodedRecordBatches
  pending: Pending[]
}

function decodeV2(buf: Buffer, start: number, end: number, verifyCrc: boolean, pending: Pending[]): RecordBatch {
  const length = end - start - LOG_OVERHEAD
  if (length < RECORD_BATCH_OVERHEAD - LOG_OVERHEAD) {
    throw badLength(`record batch at offset ${start}: length ${length} is below the ${RECORD_BATCH_OVERHEAD - LOG_OVERHEAD}-byte v2 header`, {
      offset: start,
    })
  }
  const crc = buf.readUInt32BE(start + CRC_OFFSET)
  if (verifyCrc) {
    const actual = crc32c(buf, start + ATTRIBUTES_OFFSET, end)
    if (actual !== crc) {
      throw new ProtocolError(
        'PROTOCOL_CRC_MISMATCH',
        `record batch at offset ${start}: CRC32C is 0x${actual.toString(16)}, header says 0x${crc.toString(16)}`,
        { offset: start, expected: crc, actual },
      )
    }
  }
  const attributes = buf.readUInt16BE(start + ATTRIBUTES_OFFSET)
  const lastOffsetDelta = buf.readInt32BE(start + 23)
  const baseTimestamp = int64Number(buf, start + 27)
  const count = buf.readInt32BE(start + 57)
  if (count < 0) throw corrupt(`record batch at offset ${start}: invalid record count ${count}`, { offset: start })
  const codec = checkCodec(attributes & COMPRESSION_CODEC_MASK, start)
  const baseOffset = buf.readBigInt64BE(start)
  const batch: RecordBatch = {
    baseOffset,
    lastOffset: baseOffset + BigInt(lastOffsetDelta),
    partitionLeaderEpoch: buf.readInt32BE(start + 12),
    magic: 2,
    crc,
    compression: codec,
    timestampType: (attributes & TIMESTAMP_TYPE_MASK) !== 0 ? 'LogAppendTime' : 'CreateTime',
    isTransactional: (attributes & TRANSACTIONAL_FLAG_MASK) !== 0,
    isControl: (attributes & CONTROL_FLAG_MASK) !== 0,
    producerId: buf.readBigInt64BE(start + 43),
    producerEpoch: buf.readInt16BE(start + 51),
    baseSequence: buf.readInt32BE(start + 53),
    baseTimestamp,
    maxTimestamp: int64Number(buf, start + 35),
    deleteHorizonMs: (attributes & DELETE_HORIZON_FLAG_MASK) !== 0 ? baseTimestamp : null,
    sizeInBytes: end - start,
    records: [],
    control: null,
  }
  const recordsStart = start + RECORD_BATCH_OVERHEAD
  if (codec === 0 || count === 0) {
    // An empty batch (e.g. one the log cleaner emptied) has nothing to
    // decompress, whatever its codec bit says.
    if (codec === 0 || recordsStart === end) {
      decodeRecordsV2(buf, recordsStart, end, count, batch, start)
      finishV2(batch, start)
      return batch
    }
  }
  pending.push({ kind: 2, batch, count, codec, data: buf.subarray(recordsStart, end), offset: start })
  return batch
}

function finishV2(batch: RecordBatch, offset: number): void {
  if (batch.isControl && batch.records.length > 0) batch.control = decodeControl(batch.records[0]!, offset)
}

// ---------------------------------------------------------------------------
// Legacy message sets (magic 0/1; LegacyRecord, AbstractLegacyRecordBatch)

interface LegacyMessage {
  offset: bigint
  magic: number
  attributes: number
  crc: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
}

/**
 * Parses one legacy message whose bytes (after offset and size) are
 * b[start, end). Layout: crc uint32 (CRC32 of magic .. end), magic int8,
 * attributes int8, [timestamp int64, magic 1], key bytes (int32 length, -1
 * null), value bytes.
 */
function parseLegacy(b: Buffer, offset: bigint, start: number, end: number, verifyCrc: boolean): LegacyMessage {
  const size = end - start
  if (size < LEGACY_RECORD_OVERHEAD_V0) {
    throw badLength(`legacy message at offset ${start - LOG_OVERHEAD}: size ${size} is below the ${LEGACY_RECORD_OVERHEAD_V0}-byte minimum`, {
      offset: start - LOG_OVERHEAD,
    })
  }
  const crc = b.readUInt32BE(start)
  const magic = b[start + 4]!
  if (magic > 1) throw corrupt(`legacy message at offset ${start - LOG_OVERHEAD} has magic ${magic}`, { offset: start - LOG_OVERHEAD })
  if (magic === 1 && size < LEGACY_RECORD_OVERHEAD_V1) {
    throw badLength(`legacy v1 message at offset ${start - LOG_OVERHEAD}: size ${size} is below the ${LEGACY_RECORD_OVERHEAD_V1}-byte minimum`, {
      offset: start - LOG_OVERHEAD,
    })
  }
  if (verifyCrc) {
    const actual = crc32(b.subarray(start + 4, end)) >>> 0
    if (actual !== crc) {
      throw new ProtocolError(
        'PROTOCOL_CRC_MISMATCH',
        `legacy message at offset ${start - LOG_OVERHEAD}: CRC32 is 0x${actual.toString(16)}, header says 0x${crc.toString(16)}`,
        { offset: start - LOG_OVERHEAD, expected: crc, actual },
      )
    }
  }
  const r = new Reader(b, start + 5, end)
  const attributes = r.int8()
  const timestamp = magic === 1 ? r.int64Number() : NO_TIMESTAMP
  const keyLen = r.int32()
  const key = keyLen >= 0 ? r.view(keyLen, 'message key') : null
  const valueLen = r.int32()
  const value = valueLen >= 0 ? r.view(valueLen, 'message value') : null
  if (r.offset !== end) {
    throw corrupt(`legacy message at offset ${start - LOG_OVERHEAD}: size says ${size} bytes, fields take ${r.offset - start}`, {
      offset: start - LOG_OVERHEAD,
    })
  }
  return { offset, magic, attributes, crc, timestamp, key, value }
}

function legacyTimestampType(m: LegacyMessage): TimestampType {
  if (m.magic === 0) return 'NoTimestampType'
  return (m.attributes & LEGACY_TIMESTAMP_TYPE_MASK) !== 0 ? 'LogAppendTime' : 'CreateTime'
}

function legacyBatch(m: LegacyMessage, size: number, codec: CompressionCodec): RecordBatch {
  return {
    baseOffset: m.offset,
    lastOffset: m.offset,
    partitionLeaderEpoch: NO_PARTITION_LEADER_EPOCH,
    magic: m.magic,
    crc: m.crc,
    compression: codec,
    timestampType: legacyTimestampType(m),
    isTransactional: false,
    isControl: false,
    producerId: NO_PRODUCER_ID,
    producerEpoch: NO_PRODUCER_EPOCH,
    baseSequence: NO_SEQUENCE,
    baseTimestamp: m.timestamp,
    maxTimestamp: m.timestamp,
    deleteHorizonMs: null,
    sizeInBytes: size,
    records: [],
    control: null,
  }
}

function decodeLegacy(buf: Buffer, start: number, end: number, verifyCrc: boolean, pending: Pending[]): RecordBatch {
  const m = parseLegacy(buf, buf.readBigInt64BE(start), start + LOG_OVERHEAD, end, verifyCrc)
  const codec = checkCodec(m.attributes & COMPRESSION_CODEC_MASK, start)
  const batch = legacyBatch(m, end - start, codec)
  if (codec === 0) {
    batch.records.push({ offset: m.offset, timestamp: m.timestamp, key: m.key, value: m.value, headers: NO_HEADERS })
    return batch
  }
  if (m.value === null) {
    throw corrupt(`compressed legacy message at offset ${start} has a null value (magic ${m.magic})`, { offset: start })
  }
  pending.push({
    kind: 0,
    batch,
    codec,
    data: m.value,
    offset: start,
    wrapperOffset: m.offset,
    wrapperMagic: m.magic,
    wrapperTimestamp: m.timestamp,
  })
  return batch
}

/**
 * Fills a compressed legacy wrapper's batch from its decompressed inner
 * message set, reconstructing offsets as AbstractLegacyRecordBatch's
 * DeepRecordsIterator does: magic 0 inner offsets are absolute; for magic 1
 * they are relative and absolute = wrapperOffset - lastInnerOffset + inner.
 * Inner magic 1 messages under a LogAppendTime wrapper take the wrapper's
 * timestamp. Unlike the Java iterator (which stops quietly at EOF), a
 * truncated inner message is an error: the wrapper's CRC held, so the
 * compressed payload itself is inconsistent.
 */
function fillLegacy(p: PendingLegacy, inner: Buffer, verifyCrc: boolean): void {
  const messages: LegacyMessage[] = []
  const n = inner.length
  let o = 0
  while (o < n) {
    if (o + LOG_OVERHEAD > n) {
      throw corrupt(`compressed legacy message at offset ${p.offset}: inner message set truncated at byte ${o}`, { offset: p.offset })
    }
    const size = inner.readInt32BE(o + LENGTH_OFFSET)
    if (size < LEGACY_RECORD_OVERHEAD_V0 || size > n - o - LOG_OVERHEAD) {
      throw badLength(`compressed legacy message at offset ${p.offset}: inner message at byte ${o} has invalid size ${size}`, { offset: p.offset })
    }
    const m = parseLegacy(inner, inner.readBigInt64BE(o), o + LOG_OVERHEAD, o + LOG_OVERHEAD + size, verifyCrc)
    if ((m.attributes & COMPRESSION_CODEC_MASK) !== 0) {
      throw corrupt(`compressed legacy message at offset ${p.offset}: inner messages must not be compressed`, { offset: p.offset })
    }
    messages.push(m)
    o += LOG_OVERHEAD + size
  }
  if (messages.length === 0) {
    throw corrupt(`compressed legacy message at offset ${p.offset} holds no inner messages`, { offset: p.offset })
  }
  const batch = p.batch
  const relative = p.wrapperMagic > 0
  const absoluteBase = relative ? p.wrapperOffset - messages[messages.length - 1]!.offset : 0n
  const wrapperLogAppend = batch.timestampType === 'LogAppendTime'
  for (const m of messages) {
    const timestamp = m.magic === 0 ? NO_TIMESTAMP : wrapperLogAppend ? p.wrapperTimestamp : m.timestamp
    batch.records.push({ offset: relative ? absoluteBase + m.offset : m.offset, timestamp, key: m.key, value: m.value, headers: NO_HEADERS })
  }
  batch.baseOffset = batch.records[0]!.offset
}

// ---------------------------------------------------------------------------

function scan(buf: Buffer, opts: DecodeRecordBatchesOptions): Scan {
  const verifyCrc = opts.verifyCrc !== false
  const allowPartial = opts.allowPartial !== false
  const batches: RecordBatch[] = []
  const pending: Pending[] = []
  const n = buf.length
  let o = 0
  let partialBytes = 0
  while (o < n) {
    const left = n - o
    // ByteBufferLogInputStream.nextBatch: fewer than 12 bytes, or fewer than
    // the declared size, is a batch cut off by the fetch size limit.
    if (left < LOG_OVERHEAD) {
      partialBytes = left
      break
    }
    const size = buf.readInt32BE(o + LENGTH_OFFSET)
    if (size < LEGACY_RECORD_OVERHEAD_V0) {
      throw badLength(`record batch at offset ${o}: size ${size} is below the minimum record overhead (${LEGACY_RECORD_OVERHEAD_V0})`, { offset: o })
    }
    if (size > left - LOG_OVERHEAD) {
      partialBytes = left
      break
    }
    const end = o + LOG_OVERHEAD + size
    const magic = buf[o + MAGIC_OFFSET]!
    if (magic === 2) batches.push(decodeV2(buf, o, end, verifyCrc, pending))
    else if (magic === 0 || magic === 1) batches.push(decodeLegacy(buf, o, end, verifyCrc, pending))
    else throw corrupt(`record batch at offset ${o} has unknown magic ${magic}`, { offset: o })
    o = end
  }
  if (partialBytes > 0 && !allowPartial) {
    throw new ProtocolError('PROTOCOL_TRUNCATED', `record data ends inside a batch at offset ${o} (${partialBytes} bytes of ${n})`, { offset: o })
  }
  return { result: { batches, bytesConsumed: o, partialBytes }, pending }
}

/**
 * Decodes the records data of a fetched partition: any number of v2 batches
 * and legacy messages, stopping cleanly before a partial trailing batch.
 * Compressed batches are decompressed one after the other, sharing the
 * maxDecompressedBytes budget.
 */
export async function decodeRecordBatches(buf: Buffer, opts: DecodeRecordBatchesOptions = {}): Promise<DecodedRecordBatches> {
  const { result, pending } = scan(buf, opts)
  if (pending.length === 0) return result
  const verifyCrc = opts.verifyCrc !== false
  let budget = opts.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES
  for (const p of pending) {
    let data: Buffer
    try {
      data = await decompress(p.codec, p.data, { maxBytes: budget, lz4LegacyHeaderChecksum: p.kind === 0 })
    } catch (e) {
      if (e instanceof ProtocolError) e.context.offset ??= p.offset
      throw e
    }
    budget -= data.length
    if (p.kind === 2) {
      decodeRecordsV2(data, 0, data.length, p.count, p.batch, p.offset)
      finishV2(p.batch, p.offset)
    } else {
      fillLegacy(p, data, verifyCrc)
    }
  }
  return result
}

/**
 * Synchronous variant for data known to be uncompressed (the common case for
 * uncompressed topics). A compressed batch raises PROTOCOL_CODEC_UNAVAILABLE:
 * decompression is only available through decodeRecordBatches.
 */
export function decodeRecordBatchesSync(buf: Buffer, opts: DecodeRecordBatchesOptions = {}): DecodedRecordBatches {
  const { result, pending } = scan(buf, opts)
  if (pending.length > 0) {
    const p = pending[0]!
    throw new ProtocolError(
      'PROTOCOL_CODEC_UNAVAILABLE',
      `batch at offset ${p.offset} is ${codecName(p.codec)}-compressed; use decodeRecordBatches to decompress it`,
      { offset: p.offset, codec: codecName(p.codec) },
    )
  }
  return result
}
