import type { BackoffOptions } from '../client/backoff.js'
import type { ClientConfig } from '../client/index.js'
import { ConfigError } from '../client/errors.js'
import { CompressionCodec } from '../protocol/compression/index.js'
import type { SerializerSpec } from '../serde/index.js'
import type { PartitionerSpec } from './partitioner.js'

export type Acks = 0 | 1 | -1 | 'all'
export type CompressionName = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'
export type DeliveryGuarantee = 'at-most-once' | 'at-least-once' | 'exactly-once'

export interface CircuitBreakerOptions {
  /** Consecutive failed sends that open the circuit. Default 5. */
  failureThreshold?: number
  /** Time the circuit stays open before one trial send is let through. Default 30 s. */
  resetTimeoutMs?: number
}

export interface ProducerOptions extends ClientConfig {
  /**
   * A preset for the settings below: 'at-most-once' (acks=1, no retries, no
   * idempotence), 'at-least-once' (acks=all, retries, idempotence) or
   * 'exactly-once' (at-least-once plus transactions; needs transactionalId).
   * Explicit settings that contradict the preset are a configuration error.
   */
  guarantee?: DeliveryGuarantee
  /** Default 'all'. */
  acks?: Acks
  /** Idempotent delivery (KIP-98); default true when acks is 'all'. */
  idempotent?: boolean
  /** Enables transactions. Implies idempotence and acks=all. */
  transactionalId?: string
  /** Default 60 s. */
  transactionTimeoutMs?: number
  /** Default 'none'. */
  compression?: CompressionName
  compressionLevel?: number
  /** Bytes per partition batch before it is sent. Default 64 KiB. */
  batchSize?: number
  /** How long a batch waits for more records. Default 5 ms (the reference client's default since 4.0). */
  lingerMs?: number
  /** Largest Produce request. Default 1 MiB. */
  maxRequestSize?: number
  /** Memory for records not yet acknowledged. Default 32 MiB. */
  bufferMemory?: number
  /** How long send() waits for buffer memory or topic metadata. Default 60 s. */
  maxBlockMs?: number
  /** Upper bound on the time from send() to acknowledgement, retries included. Default 120 s. */
  deliveryTimeoutMs?: number
  /** Retries of a failed batch (within deliveryTimeoutMs). Default unlimited. */
  retries?: number
  /** Produce requests in flight per broker connection. Default 5 (the idempotence limit). */
  maxInFlightRequestsPerConnection?: number
  partitioner?: PartitionerSpec
  serializers?: { key?: SerializerSpec; value?: SerializerSpec }
  /** Let the broker create missing topics when its auto.create.topics.enable allows. Default true. */
  allowAutoTopicCreation?: boolean
  /** Off by default. */
  circuitBreaker?: CircuitBreakerOptions | boolean
}

export interface ResolvedProducerConfig {
  acks: 0 | 1 | -1
  idempotent: boolean
  transactionalId: string | null
  transactionTimeoutMs: number
  compression: CompressionCodec
  compressionLevel: number | undefined
  batchSize: number
  lingerMs: number
  maxRequestSize: number
  bufferMemory: number
  maxBlockMs: number
  deliveryTimeoutMs: number
  requestTimeoutMs: number
  retries: number
  /** Backoff between retries of a batch (the client option retryBackoff). */
  retryBackoff: BackoffOptions
  maxInFlight: number
  allowAutoTopicCreation: boolean
  circuitBreaker: Required<CircuitBreakerOptions> | null
}

const CODECS: Record<CompressionName, CompressionCodec> = {
  none: CompressionCodec.None,
  gzip: CompressionCodec.Gzip,
  snappy: CompressionCodec.Snappy,
  lz4: CompressionCodec.Lz4,
  zstd: CompressionCodec.Zstd,
}

function positiveInt(name: string, v: number | undefined, dflt: number, min = 0): number {
  if (v === undefined) return dflt
  if (typeof v !== 'number' || !(Number.isInteger(v) || v === Infinity) || v < min) {
    throw new ConfigError(`${name} must be an integer >= ${min}, got ${String(v)}`)
  }
  return v
}

export function resolveProducerConfig(o: ProducerOptions): ResolvedProducerConfig {
  const g = o.guarantee
  if (g !== undefined && g !== 'at-most-once' && g !== 'at-least-once' && g !== 'exactly-once') {
    throw new ConfigError(`guarantee must be 'at-most-once', 'at-least-once' or 'exactly-once', got ${String(g)}`)
  }
  let acks: 0 | 1 | -1
  const rawAcks = o.acks ?? (g === 'at-most-once' ? 1 : 'all')
  if (rawAcks === 'all' || rawAcks === -1) acks = -1
  else if (rawAcks === 0 || rawAcks === 1) acks = rawAcks
  else throw new ConfigError(`acks must be 0, 1, -1 or 'all', got ${String(rawAcks)}`)

  const transactionalId = o.transactionalId ?? null
  if (transactionalId !== null && (typeof transactionalId !== 'string' || transactionalId === '')) {
    throw new ConfigError('transactionalId must be a non-empty string')
  }
  if (g === 'exactly-once' && transactionalId === null) {
    throw new ConfigError("guarantee 'exactly-once' needs a transactionalId")
  }
  const idempotent = o.idempotent ?? (transactionalId !== null || (acks === -1 && g !== 'at-most-once'))
  if (transactionalId !== null && !idempotent) throw new ConfigError('a transactional producer must be idempotent (idempotent: false conflicts with transactionalId)')
  if (idempotent && acks !== -1) {
    throw new ConfigError(`idempotence needs acks 'all' (got acks ${acks}); set idempotent: false to use acks ${acks}`)
  }
  if (g === 'at-most-once' && (idempotent || (o.retries !== undefined && o.retries > 0))) {
    throw new ConfigError("guarantee 'at-most-once' excludes idempotence and retries")
  }
  if ((g === 'at-least-once' || g === 'exactly-once') && acks !== -1) {
    throw new ConfigError(`guarantee '${g}' needs acks 'all'`)
  }
  const retries = positiveInt('retries', o.retries, g === 'at-most-once' ? 0 : Infinity)
  if (idempotent && retries === 0) throw new ConfigError('idempotence needs retries > 0')

  const maxInFlight = positiveInt('maxInFlightRequestsPerConnection', o.maxInFlightRequestsPerConnection, 5, 1)
  // The broker keeps the last five batches per producer for de-duplication
  // (KIP-98 / KAFKA-5494), so more in flight could break idempotence.
  if (idempotent && maxInFlight > 5) throw new ConfigError('idempotence allows at most 5 requests in flight per connection')

  const compressionName = o.compression ?? 'none'
  const compression = CODECS[compressionName]
  if (compression === undefined) throw new ConfigError(`compression must be one of ${Object.keys(CODECS).join(', ')}, got ${String(compressionName)}`)

  const lingerMs = positiveInt('lingerMs', o.lingerMs, 5)
  const requestTimeoutMs = positiveInt('requestTimeoutMs', o.requestTimeoutMs, 30_000, 1)
  const deliveryTimeoutMs = positiveInt('deliveryTimeoutMs', o.deliveryTimeoutMs, 120_000, 1)
  if (deliveryTimeoutMs < lingerMs + requestTimeoutMs) {
    throw new ConfigError(`deliveryTimeoutMs (${deliveryTimeoutMs}) must be at least lingerMs + requestTimeoutMs (${lingerMs + requestTimeoutMs})`)
  }
  const batchSize = positiveInt('batchSize', o.batchSize, 64 * 1024, 1)
  const maxRequestSize = positiveInt('maxRequestSize', o.maxRequestSize, 1024 * 1024, 1)
  const bufferMemory = positiveInt('bufferMemory', o.bufferMemory, 32 * 1024 * 1024, 1)

  let circuitBreaker: Required<CircuitBreakerOptions> | null = null
  if (o.circuitBreaker) {
    const cb = o.circuitBreaker === true ? {} : o.circuitBreaker
    circuitBreaker = {
      failureThreshold: positiveInt('circuitBreaker.failureThreshold', cb.failureThreshold, 5, 1),
      resetTimeoutMs: positiveInt('circuitBreaker.resetTimeoutMs', cb.resetTimeoutMs, 30_000, 1),
    }
  }

  return {
    acks,
    idempotent,
    transactionalId,
    transactionTimeoutMs: positiveInt('transactionTimeoutMs', o.transactionTimeoutMs, 60_000, 1),
    compression,
    compressionLevel: o.compressionLevel,
    batchSize,
    lingerMs,
    maxRequestSize,
    bufferMemory,
    maxBlockMs: positiveInt('maxBlockMs', o.maxBlockMs, 60_000),
    deliveryTimeoutMs,
    requestTimeoutMs,
    retries,
    retryBackoff: { ...o.retryBackoff },
    maxInFlight,
    allowAutoTopicCreation: o.allowAutoTopicCreation ?? true,
    circuitBreaker,
  }
}
