export { Producer } from './producer.js'
export type { ProducerMessage, SendRequest, SendOptions, MessageHeaders, HeaderValue, BatchEvent, RetryEvent, FailureEvent } from './producer.js'
export type { RecordMetadata } from './batch.js'
export type { ProducerOptions, Acks, CompressionName, DeliveryGuarantee, CircuitBreakerOptions } from './config.js'
export type { ProducerMetricsSnapshot } from './metrics.js'
export type { CircuitState } from './circuit-breaker.js'
export type { TxnState, TxnOffset, GroupMetadataForTxn } from './transaction-manager.js'
export type { PartitionerFn, PartitionerInput, PartitionerSpec } from './partitioner.js'
export { partitionForKey } from './partitioner.js'
export {
  ProducerFencedError,
  ProducerFatalError,
  TransactionAbortableError,
  TransactionStateError,
  BufferExhaustedError,
  RecordTooLargeError,
  DeliveryTimeoutError,
  CircuitOpenError,
  ProduceError,
} from './errors.js'
