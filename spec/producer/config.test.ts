import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ConfigError } from '../../src/client/errors.js'
import { CompressionCodec } from '../../src/protocol/compression/index.js'
import { resolveProducerConfig, type ProducerOptions } from '../../src/producer/config.js'

const base: ProducerOptions = { brokers: ['127.0.0.1:9092'] }
const resolve = (o: Partial<ProducerOptions>) => resolveProducerConfig({ ...base, ...o })

function refuses(o: Partial<ProducerOptions>, message: RegExp): void {
  assert.throws(() => resolve(o), (e: unknown) => e instanceof ConfigError && message.test(e.message), `expected ConfigError matching ${message}`)
}

describe('defaults', () => {
  test('with nothing set the producer is idempotent with acks=all, unlimited retries, 5 in flight, 64 KiB batches, 5 ms linger', () => {
    const c = resolve({})
    assert.equal(c.acks, -1)
    assert.equal(c.idempotent, true)
    assert.equal(c.transactionalId, null)
    assert.equal(c.retries, Infinity)
    assert.equal(c.maxInFlight, 5)
    assert.equal(c.batchSize, 64 * 1024)
    assert.equal(c.lingerMs, 5)
    assert.equal(c.compression, CompressionCodec.None)
    assert.equal(c.maxRequestSize, 1024 * 1024)
    assert.equal(c.bufferMemory, 32 * 1024 * 1024)
    assert.equal(c.deliveryTimeoutMs, 120_000)
    assert.equal(c.maxBlockMs, 60_000)
    assert.equal(c.transactionTimeoutMs, 60_000)
    assert.equal(c.circuitBreaker, null)
  })

  test("acks 'all' and -1 are the same setting", () => {
    assert.equal(resolve({ acks: 'all' }).acks, -1)
    assert.equal(resolve({ acks: -1 }).acks, -1)
  })

  test('acks 1 alone turns the idempotence default off, as the reference does when idempotence is not set explicitly', () => {
    assert.equal(resolve({ acks: 1 }).idempotent, false)
    assert.equal(resolve({ acks: 0 }).idempotent, false)
  })

  test('acks 1 without idempotence is allowed and leaves retries on', () => {
    const c = resolve({ acks: 1, idempotent: false })
    assert.equal(c.acks, 1)
    assert.equal(c.idempotent, false)
    assert.equal(c.retries, Infinity)
  })

  test('every compression codec name maps to its attribute id', () => {
    assert.equal(resolve({ compression: 'gzip' }).compression, CompressionCodec.Gzip)
    assert.equal(resolve({ compression: 'snappy' }).compression, CompressionCodec.Snappy)
    assert.equal(resolve({ compression: 'lz4' }).compression, CompressionCodec.Lz4)
    assert.equal(resolve({ compression: 'zstd' }).compression, CompressionCodec.Zstd)
  })

  test('circuitBreaker: true takes the default threshold and reset timeout', () => {
    assert.deepEqual(resolve({ circuitBreaker: true }).circuitBreaker, { failureThreshold: 5, resetTimeoutMs: 30_000 })
    assert.deepEqual(resolve({ circuitBreaker: { failureThreshold: 2 } }).circuitBreaker, { failureThreshold: 2, resetTimeoutMs: 30_000 })
  })
})

describe('guarantee presets', () => {
  test("'at-most-once' means acks=1, no idempotence and no retries", () => {
    const c = resolve({ guarantee: 'at-most-once' })
    assert.equal(c.acks, 1)
    assert.equal(c.idempotent, false)
    assert.equal(c.retries, 0)
  })

  test("'at-most-once' accepts acks 0", () => {
    const c = resolve({ guarantee: 'at-most-once', acks: 0 })
    assert.equal(c.acks, 0)
    assert.equal(c.retries, 0)
  })

  test("'at-least-once' means acks=all, idempotence and retries", () => {
    const c = resolve({ guarantee: 'at-least-once' })
    assert.equal(c.acks, -1)
    assert.equal(c.idempotent, true)
    assert.equal(c.retries, Infinity)
  })

  test("'exactly-once' with a transactional id is a transactional, idempotent, acks=all producer", () => {
    const c = resolve({ guarantee: 'exactly-once', transactionalId: 'tx' })
    assert.equal(c.transactionalId, 'tx')
    assert.equal(c.idempotent, true)
    assert.equal(c.acks, -1)
  })

  test('a transactional id alone implies idempotence', () => {
    assert.equal(resolve({ transactionalId: 'tx' }).idempotent, true)
  })
})

describe('contradictions are configuration errors', () => {
  test('an unknown guarantee', () => refuses({ guarantee: 'sometimes' as never }, /guarantee must be/))
  test("'exactly-once' without a transactional id", () => refuses({ guarantee: 'exactly-once' }, /needs a transactionalId/))
  test("'at-most-once' with idempotence", () => refuses({ guarantee: 'at-most-once', idempotent: true }, /idempotence needs acks 'all'|excludes idempotence/))
  test("'at-most-once' with retries", () => refuses({ guarantee: 'at-most-once', retries: 3 }, /excludes idempotence and retries/))
  test("'at-least-once' with acks 1", () => refuses({ guarantee: 'at-least-once', acks: 1 }, /needs acks 'all'|idempotence needs acks/))
  test("'exactly-once' with acks 0", () => refuses({ guarantee: 'exactly-once', transactionalId: 'tx', acks: 0 }, /acks/))
  test('idempotence with acks 1', () => refuses({ acks: 1, idempotent: true }, /idempotence needs acks 'all'/))
  test('a transactional id with idempotence off', () => refuses({ transactionalId: 'tx', idempotent: false }, /must be idempotent/))
  test('an empty transactional id', () => refuses({ transactionalId: '' }, /non-empty/))
  test('idempotence with retries 0', () => refuses({ retries: 0 }, /retries > 0/))
  test('idempotence with more than 5 requests in flight (the broker keeps 5 batches per producer)', () =>
    refuses({ maxInFlightRequestsPerConnection: 6 }, /at most 5 requests in flight/))
  test('an unknown acks value', () => refuses({ acks: 2 as never }, /acks must be/))
  test('an unknown codec', () => refuses({ compression: 'brotli' as never }, /compression must be one of/))
  test('a negative or fractional number', () => {
    refuses({ lingerMs: -1 }, /lingerMs must be an integer >= 0/)
    refuses({ batchSize: 1.5 }, /batchSize must be an integer >= 1/)
    refuses({ maxInFlightRequestsPerConnection: 0 }, /maxInFlightRequestsPerConnection must be an integer >= 1/)
    refuses({ circuitBreaker: { failureThreshold: 0 } }, /failureThreshold/)
  })
  test('a delivery timeout shorter than linger plus request timeout', () =>
    refuses({ deliveryTimeoutMs: 1000, lingerMs: 10, requestTimeoutMs: 5000 }, /deliveryTimeoutMs \(1000\) must be at least lingerMs \+ requestTimeoutMs \(5010\)/))
})

test('more than 5 in flight is fine without idempotence', () => {
  assert.equal(resolve({ acks: 1, idempotent: false, maxInFlightRequestsPerConnection: 10 }).maxInFlight, 10)
})
