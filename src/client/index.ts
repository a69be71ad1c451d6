/**
 * The client layer: connections, version negotiation, TLS, SASL, cluster
 * metadata and the admin client. Producers and consumers build on it.
 */
export { Cluster, parseBrokers, needsMetadataRefresh, isCoordinatorError } from './cluster.js'
export type { ClusterOptions, BrokerInfo, TopicInfo, PartitionInfo, Channel, CoordinatorType, BrokerAddress } from './cluster.js'
export { Connection } from './connection.js'
export type { ConnectionOptions, ConnectionState, RequestOptions, TlsOptions } from './connection.js'
export { BrokerVersions } from './versions.js'
export type { SaslOptions } from './sasl/index.js'
export type { PlainOptions } from './sasl/plain.js'
export type { ScramOptions } from './sasl/scram.js'
export type { OAuthBearerOptions, OAuthBearerToken } from './sasl/oauthbearer.js'
export {
  ConnectionError,
  RequestTimeoutError,
  AuthenticationError,
  AbortError,
  UnsupportedApiError,
  ClosedError,
  ConfigError,
  DeadlineExceededError,
} from './errors.js'
export { retry, backoffDelay, sleep, isRetriable } from './backoff.js'
export type { BackoffOptions, RetryOptions } from './backoff.js'

import type { ClusterOptions } from './cluster.js'

/**
 * How every kafkawire client (Admin, Producer, Consumer) connects:
 *
 *   { brokers: ['127.0.0.1:9092'], clientId: 'billing',
 *     tls: { ca: readFileSync('ca.pem') },
 *     sasl: { mechanism: 'SCRAM-SHA-512', username: 'alice', password: process.env.KAFKA_PASSWORD } }
 */
export type ClientConfig = ClusterOptions
