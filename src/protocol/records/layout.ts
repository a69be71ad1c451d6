/**
 * Byte layout of the v2 record batch (protocol guide "Record Batch";
 * org.apache.kafka.common.record.DefaultRecordBatch), as offsets from the
 * start of the batch.
 */
export const BASE_OFFSET_OFFSET = 0
export const LENGTH_OFFSET = 8
/** baseOffset + batchLength: the part not counted by batchLength (Records.LOG_OVERHEAD). */
export const LOG_OVERHEAD = 12
export const PARTITION_LEADER_EPOCH_OFFSET = 12
export const MAGIC_OFFSET = 16
export const CRC_OFFSET = 17
export const ATTRIBUTES_OFFSET = 21
export const LAST_OFFSET_DELTA_OFFSET = 23
export const BASE_TIMESTAMP_OFFSET = 27
export const MAX_TIMESTAMP_OFFSET = 35
export const PRODUCER_ID_OFFSET = 43
export const PRODUCER_EPOCH_OFFSET = 51
export const BASE_SEQUENCE_OFFSET = 53
export const RECORDS_COUNT_OFFSET = 57
export const RECORDS_OFFSET = 61
/** Size of a v2 batch header (DefaultRecordBatch.RECORD_BATCH_OVERHEAD). */
export const RECORD_BATCH_OVERHEAD = 61

export const COMPRESSION_CODEC_MASK = 0x07
export const TIMESTAMP_TYPE_MASK = 0x08
export const TRANSACTIONAL_FLAG_MASK = 0x10
export const CONTROL_FLAG_MASK = 0x20
/** KIP-534: baseTimestamp holds the delete horizon. */
export const DELETE_HORIZON_FLAG_MASK = 0x40

/**
 * Smallest record: length varint, attributes, timestamp delta, offset delta,
 * key length, value length, header count — one byte each.
 */
export const MIN_RECORD_SIZE = 7

/** Legacy message (magic 0/1) layout, offsets from the start of the message (after offset and size). */
export const LEGACY_CRC_OFFSET = 0
export const LEGACY_MAGIC_OFFSET = 4
export const LEGACY_ATTRIBUTES_OFFSET = 5
export const LEGACY_TIMESTAMP_OFFSET = 6
/** LegacyRecord.RECORD_OVERHEAD_V0: crc, magic, attributes, key length, value length. */
export const LEGACY_RECORD_OVERHEAD_V0 = 14
/** LegacyRecord.RECORD_OVERHEAD_V1: V0 plus the timestamp. */
export const LEGACY_RECORD_OVERHEAD_V1 = 22
export const LEGACY_TIMESTAMP_TYPE_MASK = 0x08

export const NO_PRODUCER_ID = -1n
export const NO_PRODUCER_EPOCH = -1
export const NO_SEQUENCE = -1
export const NO_PARTITION_LEADER_EPOCH = -1
export const NO_TIMESTAMP = -1

/** Control record types (ControlRecordType). */
export const CONTROL_TYPE_ABORT = 0
export const CONTROL_TYPE_COMMIT = 1
