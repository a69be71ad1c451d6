import { ProtocolError } from '../errors.js'

/**
 * Compression codecs by their Kafka attribute id (bits 0-2 of the record
 * batch attributes; protocol guide "Record Batch", and the legacy message
 * attributes for magic 0/1).
 */
export const CompressionCodec = {
  None: 0,
  Gzip: 1,
  Snappy: 2,
  Lz4: 3,
  Zstd: 4,
} as const

export type CompressionCodec = (typeof CompressionCodec)[keyof typeof CompressionCodec]

export type CompressionCodecName = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'

const NAMES: readonly CompressionCodecName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd']

export function codecName(codec: number): CompressionCodecName | `unknown(${number})` {
  return NAMES[codec] ?? `unknown(${codec})`
}

export function isCompressionCodec(codec: number): codec is CompressionCodec {
  return Number.isInteger(codec) && codec >= 0 && codec <= 4
}

/**
 * Default ceiling on the bytes one decompression (and one
 * decodeRecordBatches call, as a budget across its batches) may produce.
 *
 * 64 MiB: a fetch response is capped by fetch.max.bytes (Java default
 * 50 MiB) and a single partition's data by max.partition.fetch.bytes (1 MiB);
 * brokers cap a batch at message.max.bytes (~1 MiB) compressed. 64 MiB leaves
 * room for a 1 MiB batch compressing 64:1 (well beyond the ratios real record
 * data reaches) while stopping a hostile or corrupt payload from expanding to
 * gigabytes. Raise it per call for topics with larger limits.
 */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024

export interface DecompressOptions {
  /** Ceiling on the decompressed size; default DEFAULT_MAX_DECOMPRESSED_BYTES. */
  maxBytes?: number
  /**
   * Accept the LZ4 frame header checksum that Kafka clients before 0.10
   * computed over the magic number too (KAFKA-3160). Only legacy (magic 0/1)
   * message sets carry it; v2 batches must have the correct checksum.
   */
  lz4LegacyHeaderChecksum?: boolean
}

export function corrupt(codec: CompressionCodecName, detail: string, cause?: unknown): ProtocolError {
  return new ProtocolError('PROTOCOL_COMPRESSION', `${codec}: corrupt compressed data: ${detail}`, { codec }, cause)
}

export function tooLarge(codec: CompressionCodecName, size: number | string, maxBytes: number): ProtocolError {
  return new ProtocolError(
    'PROTOCOL_DECOMPRESSED_TOO_LARGE',
    `${codec}: decompressed size ${size} exceeds the ceiling of ${maxBytes} bytes (maxDecompressedBytes)`,
    { codec, maxBytes },
  )
}

/** Message text of an unknown thrown value, for wrapping library errors. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

/** Concatenates parts whose total length is known, with one allocation. */
export function concatKnown(parts: Buffer[], total: number): Buffer {
  if (parts.length === 1) return parts[0]!
  const out = Buffer.allocUnsafe(total)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

/**
 * Where an encoder may take its output (and scratch) memory from, instead of
 * allocating: the producer recycles batch buffers through one. `give` hands
 * back a buffer from `take` that nothing uses any more.
 */
export interface BlockSource {
  take(n: number): Buffer
  give(b: Uint8Array): void
}

/** `n` uninitialized bytes from `memory`, or freshly allocated without one. */
export function allocate(memory: BlockSource | undefined, n: number): Buffer {
  return memory !== undefined ? memory.take(n) : Buffer.allocUnsafe(n)
}
