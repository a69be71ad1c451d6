/**
 * kafkawire: the public API.
 *
 *   import { Admin, Producer } from 'kafkawire'
 *
 * The wire codec on its own is `kafkawire/protocol`. Everything not exported
 * here (connections, the cluster cache, the accumulator, ...) is internal and
 * may change without notice.
 */

// ---- clients -------------------------------------------------------------------------

export { Admin } from './client/admin/index.js'
export { Producer, partitionForKey } from './producer/index.js'
export { Consumer, rangeAssignor, roundRobinAssignor, cooperativeStickyAssignor } from './consumer/index.js'

// ---- configuration ---------------------------------------------------------------------

export type { ClientConfig, TlsOptions, SaslOptions, PlainOptions, ScramOptions, OAuthBearerOptions, OAuthBearerToken } from './client/index.js'
export type { BackoffOptions } from './client/backoff.js'
export type {
  ProducerOptions,
  Acks,
  CompressionName,
  DeliveryGuarantee,
  CircuitBreakerOptions,
  PartitionerFn,
  PartitionerInput,
  PartitionerSpec,
} from './producer/index.js'

// ---- producer inputs and results -------------------------------------------------------

export type {
  ProducerMessage,
  SendRequest,
  SendOptions,
  MessageHeaders,
  HeaderValue,
  RecordMetadata,
  BatchEvent,
  RetryEvent,
  FailureEvent,
  ProducerMetricsSnapshot,
  CircuitState,
  TxnState,
  TxnOffset,
  GroupMetadataForTxn,
} from './producer/index.js'

// ---- admin inputs and results ----------------------------------------------------------

export type * from './client/admin/index.js'

// ---- errors ----------------------------------------------------------------------------

export { KafkawireError, ProtocolError, BrokerError, UnsupportedVersionError, type ErrorContext, type ProtocolErrorCode } from './protocol/errors.js'
export {
  ConnectionError,
  RequestTimeoutError,
  AuthenticationError,
  AbortError,
  UnsupportedApiError,
  ClosedError,
  ConfigError,
  DeadlineExceededError,
} from './client/errors.js'
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
} from './producer/index.js'

// ---- serde -----------------------------------------------------------------------------

export { serializers, deserializers, SerializationError } from './serde/index.js'
export type { SerdeContext, SerializerFn, DeserializerFn, SerializerSpec, DeserializerSpec } from './serde/index.js'

// ---- consumer ---------------------------------------------------------------------------

export type {
  ConsumerOptions,
  ConsumerMessage,
  CommitStrategy,
  RebalanceListeners,
  DeadLetterOptions,
  EachMessagePayload,
  EachBatchPayload,
  Batch,
  RunOptions,
  PartitionLag,
  ConsumerMetricsSnapshot,
  TopicPartition,
  OffsetResetPolicy,
  Assignor,
  AssignorName,
  MemberSubscription,
  RebalanceProtocol,
} from './consumer/index.js'
export { NoOffsetError, LogTruncationError, CommitFailedError, GroupMembershipError } from './consumer/index.js'
