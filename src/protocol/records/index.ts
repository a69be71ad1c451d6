/**
 * Record batches: the v2 format (magic 2) for encoding and decoding, and
 * legacy magic 0/1 message sets for decoding old topics.
 */
export {
  encodeRecordBatch,
  encodeRecordBatchSync,
  encodeEndTxnMarker,
  patchRecordBatch,
  type EndTxnMarkerOptions,
  type RecordBatchPatch,
} from './encode.js'
export { decodeRecordBatches, decodeRecordBatchesSync } from './decode.js'
export { encodeLegacyMessageSet, type LegacyMessageSetOptions } from './legacy-encode.js'
export type {
  ControlRecord,
  DecodeRecordBatchesOptions,
  DecodedRecordBatches,
  KafkaRecord,
  RecordBatch,
  BlockSource,
  RecordBatchOptions,
  RecordHeader,
  RecordHeaderInput,
  RecordInput,
  TimestampType,
} from './types.js'
export { RECORD_BATCH_OVERHEAD } from './layout.js'
