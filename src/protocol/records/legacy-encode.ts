/**
 * Legacy message sets (magic 0 and 1), the format of Produce v0-v2: what a
 * client speaking those versions sends (v0-v1 carry magic 0, v2 magic 1).
 * Brokers since 0.11 store record batches, but still accept these and
 * convert them.
 *
 * Layout (protocol guide, "Message Sets"): [offset int64][size int32][message]
 * where message = crc uint32 (CRC32 of magic .. end), magic int8,
 * attributes int8 (codec in bits 0-2, v1 timestamp type in bit 3),
 * [timestamp int64, magic 1 only], key bytes, value bytes. A compressed set is
 * one wrapper message whose value is the compressed inner message set; in
 * magic 1 inner offsets are relative (0..n-1) and the wrapper carries the
 * last one, as the reference's MemoryRecordsBuilder writes it.
 */
import CRC32 from 'crc-32'
import { compress } from '../compression/index.js'
import { CompressionCodec } from '../compression/codec.js'
import { ProtocolError } from '../errors.js'
import { Writer } from '../writer.js'
import type { RecordInput } from './types.js'

export interface LegacyMessageSetOptions {
  magic: 0 | 1
  compression: CompressionCodec | number
  compressionLevel?: number
  /** Offset of the first message; producers send 0 (the broker assigns offsets). */
  baseOffset?: bigint
}

function writeMessage(w: Writer, offset: bigint, magic: 0 | 1, attributes: number, timestamp: number, key: Uint8Array | null, value: Uint8Array | null): void {
  w.int64(offset)
  const sizeAt = w.offset
  w.int32(0)
  const crcAt = w.offset
  w.int32(0)
  const start = w.offset
  w.int8(magic)
  w.int8(attributes)
  if (magic === 1) w.int64Number(timestamp)
  for (const b of [key, value]) {
    if (b === null) w.int32(-1)
    else {
      w.int32(b.length)
      w.bytes(b)
    }
  }
  w.int32At(sizeAt, w.offset - crcAt)
  w.int32At(crcAt, CRC32.buf(w.buf.subarray(start, w.offset)) >>> 0)
}

/** Encodes records as a magic 0 or 1 message set, compressed into one wrapper message when a codec is given. */
export async function encodeLegacyMessageSet(o: LegacyMessageSetOptions, records: readonly RecordInput[]): Promise<Buffer> {
  if (o.magic !== 0 && o.magic !== 1) throw new ProtocolError('PROTOCOL_INVALID_VALUE', `legacy magic must be 0 or 1, got ${String(o.magic)}`)
  if (o.compression === CompressionCodec.Zstd) {
    // KIP-110: zstd exists only in record batches (magic 2).
    throw new ProtocolError('PROTOCOL_INVALID_VALUE', 'zstd compression needs magic 2 record batches (Produce v7+)')
  }
  for (const r of records) {
    if (r.headers !== undefined && r.headers.length > 0) {
      throw new ProtocolError('PROTOCOL_INVALID_VALUE', `magic ${o.magic} messages have no headers (they arrived with magic 2, KIP-82)`)
    }
  }
  const base = o.baseOffset ?? 0n
  const codec = o.compression as number
  const w = new Writer(256)
  if (codec === CompressionCodec.None) {
    records.forEach((r, i) => writeMessage(w, base + BigInt(i), o.magic, 0, r.timestamp, r.key, r.value))
    return Buffer.from(w.finish())
  }
  const relative = o.magic === 1
  const inner = new Writer(256)
  records.forEach((r, i) => writeMessage(inner, relative ? BigInt(i) : base + BigInt(i), o.magic, 0, r.timestamp, r.key, r.value))
  const compressed = await compress(codec, Buffer.from(inner.finish()), o.compressionLevel)
  const maxTimestamp = records.reduce((m, r) => Math.max(m, r.timestamp), -1)
  writeMessage(w, base + BigInt(Math.max(0, records.length - 1)), o.magic, codec & 0x07, maxTimestamp, null, compressed)
  return Buffer.from(w.finish())
}
