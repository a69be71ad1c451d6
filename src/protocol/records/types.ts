import type { CompressionCodec } from '../compression/codec.js'

export type { BlockSource } from '../compression/codec.js'

/** A record header. Keys may repeat; values may be null (protocol guide "Record Header"). */
export interface RecordHeader {
  key: string
  value: Buffer | null
}

/**
 * A decoded record. `key`, `value` and header values are zero-copy views into
 * the fetched (or decompressed) bytes: copy them if they must outlive the
 * response buffer's reuse.
 */
export interface KafkaRecord {
  offset: bigint
  /** Milliseconds since the epoch; -1 when the record has none (magic 0). */
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  /** Records without headers share one frozen empty array. */
  headers: readonly RecordHeader[]
}

/** Java's TimestampType names. NoTimestampType only occurs for magic 0 messages. */
export type TimestampType = 'CreateTime' | 'LogAppendTime' | 'NoTimestampType'

/**
 * A decoded control record (control batches hold exactly one). COMMIT and
 * ABORT are the end-transaction markers; other control types (KRaft's leader
 * change, snapshot and voter records) decode as UNKNOWN, which consumers
 * skip, as Java's ControlRecordType.UNKNOWN is.
 */
export interface ControlRecord {
  type: 'COMMIT' | 'ABORT' | 'UNKNOWN'
  /** The control type id from the key (0 = COMMIT, 1 = ABORT). */
  typeId: number
  /** Version of the control record key. */
  version: number
  /** The end-transaction marker's coordinator epoch; -1 for non-marker types. */
  coordinatorEpoch: number
}

/**
 * A decoded record batch. For magic 2 this is the batch as written; for
 * legacy magic 0/1 message sets each shallow message is one batch, as in the
 * Java client (AbstractLegacyRecordBatch): an uncompressed message is a batch
 * of one record, a compressed wrapper message is a batch of its inner
 * messages. Legacy batches report the v2 "absent" values Java reports:
 * partitionLeaderEpoch -1, producerId -1n, producerEpoch -1, baseSequence -1.
 */
export interface RecordBatch {
  baseOffset: bigint
  lastOffset: bigint
  partitionLeaderEpoch: number
  magic: number
  /** CRC32C for magic 2, the wrapper message's CRC32 for magic 0/1. */
  crc: number
  compression: CompressionCodec
  timestampType: TimestampType
  isTransactional: boolean
  isControl: boolean
  producerId: bigint
  producerEpoch: number
  baseSequence: number
  baseTimestamp: number
  maxTimestamp: number
  /**
   * KIP-534: when attribute bit 6 is set, baseTimestamp is the delete horizon
   * the log cleaner stamped on the batch; null otherwise.
   */
  deleteHorizonMs: number | null
  /** Bytes this batch occupies in the records data, offset and length fields included. */
  sizeInBytes: number
  records: KafkaRecord[]
  /** For a control batch, its control record; null otherwise (or when compaction emptied it). */
  control: ControlRecord | null
}

/** A header to encode. */
export interface RecordHeaderInput {
  key: string
  value: Uint8Array | null
}

/** A record to encode. */
export interface RecordInput {
  key: Uint8Array | null
  value: Uint8Array | null
  headers?: readonly RecordHeaderInput[] | undefined
  /** Milliseconds since the epoch (a safe integer). */
  timestamp: number
  /** Offset relative to the batch's base offset; defaults to the record's index. */
  offsetDelta?: number | undefined
}

/** Batch-level fields for encodeRecordBatch. */
export interface RecordBatchOptions {
  /** Defaults to 0n (the broker assigns offsets on append). */
  baseOffset?: bigint
  /** Defaults to -1 (RecordBatch.NO_PARTITION_LEADER_EPOCH), what producers send. */
  partitionLeaderEpoch?: number
  compression: CompressionCodec | number
  /** Codec level for gzip / zstd; codec default when omitted. */
  compressionLevel?: number
  /** Defaults to CreateTime. */
  timestampType?: 'CreateTime' | 'LogAppendTime'
  isTransactional?: boolean
  /** Defaults to -1n (no producer id, i.e. not idempotent). */
  producerId?: bigint
  /** Defaults to -1. */
  producerEpoch?: number
  /** Defaults to -1. */
  baseSequence?: number
  /** Defaults to the first record's timestamp (as MemoryRecordsBuilder does); -1 for an empty batch. */
  baseTimestamp?: number
  /**
   * Defaults to the largest record timestamp. With LogAppendTime this is the
   * append time that every record reports (DefaultRecordBatch).
   */
  maxTimestamp?: number
  /** Defaults to the last record's offset delta (0 for an empty batch). */
  lastOffsetDelta?: number
}

export interface DecodeRecordBatchesOptions {
  /** Verify every batch's CRC (CRC32C for v2, CRC32 for legacy messages). Default true. */
  verifyCrc?: boolean
  /**
   * Budget of decompressed bytes for the whole call (all compressed batches
   * together, since their records stay referenced at the same time). Default
   * DEFAULT_MAX_DECOMPRESSED_BYTES (64 MiB).
   */
  maxDecompressedBytes?: number
  /**
   * A batch cut short at the end of the data (fetch max bytes reached) is
   * normal: by default decoding stops before it and reports it through
   * `partialBytes`. Set false to make it a PROTOCOL_TRUNCATED error instead.
   */
  allowPartial?: boolean
}

export interface DecodedRecordBatches {
  batches: RecordBatch[]
  /** Bytes of the input covered by the complete batches returned. */
  bytesConsumed: number
  /** Bytes of a partial trailing batch that were left undecoded (0 if none). */
  partialBytes: number
}
