import assert from 'node:assert/strict'
import { test } from 'node:test'
import { inspect } from 'node:util'
import type { BatchEvent, FailureEvent } from '../../src/producer/producer.js'
import { ERR } from './support/fake-kafka.js'
import { fakeKafka, outcome, producerOn } from './support/helpers.js'

test('a fresh producer reports zeros and its buffer limit', async (t) => {
  const kafka = await fakeKafka(t, { topics: { t: 1 } })
  const producer = producerOn(t, kafka, { bufferMemory: 12345 })
  assert.deepEqual(producer.metrics(), {
    recordsSent: 0,
    bytesSent: 0,
    recordsFailed: 0,
    recordsRetried: 0,
    batchesSent: 0,
    averageBatchRecords: 0,
    averageBatchBytes: 0,
    latencyAvgMs: 0,
    latencyMaxMs: 0,
    latencyP99Ms: 0,
    requestsInFlight: 0,
    bufferUsedBytes: 0,
    bufferLimitBytes: 12345,
    circuitBreakerTrips: 0,
    lastError: null,
  })
})

test('the snapshot counts records, batches, bytes on the wire and retries; latency is measured per batch', async (t) => {
  const kafka = await fakeKafka(t, { topics: { t: 2 } })
  kafka.produceFault = (c) => (c.partition === 1 && c.attempt === 1 ? { error: ERR.NOT_ENOUGH_REPLICAS } : { delayMs: 20 })
  const producer = producerOn(t, kafka)
  const batches: BatchEvent[] = []
  producer.on('batch', (e: BatchEvent) => batches.push(e))
  await producer.send({ topic: 't', messages: [{ value: 'a', partition: 0 }, { value: 'b', partition: 0 }, { value: 'c', partition: 1 }] })
  const m = producer.metrics()
  assert.equal(m.recordsSent, 3)
  assert.equal(m.batchesSent, 2)
  assert.equal(m.averageBatchRecords, 1.5)
  assert.equal(m.recordsRetried, 1)
  assert.equal(m.recordsFailed, 0)
  assert.ok(m.bytesSent >= 3 * 61, 'three batches went out (one of them twice)')
  assert.ok(m.averageBatchBytes > 61)
  assert.ok(m.latencyMaxMs >= 20 && m.latencyAvgMs >= 20 && m.latencyP99Ms >= 20, JSON.stringify(m))
  assert.ok(m.latencyMaxMs < 10_000)
  assert.equal(m.bufferUsedBytes, 0)
  assert.equal(m.requestsInFlight, 0)
  assert.deepEqual(batches.map((b) => [b.partition, b.records]).sort(), [[0, 2], [1, 1]])
  assert.ok(batches.every((b) => b.topic === 't' && b.bytes > 61 && b.latencyMs >= 0))
})

test('failures are counted with the last error, and reported as failure events', async (t) => {
  const kafka = await fakeKafka(t, { topics: { t: 1 } })
  kafka.produceFault = () => ({ error: ERR.INVALID_RECORD })
  const producer = producerOn(t, kafka)
  const failures: FailureEvent[] = []
  producer.on('failure', (e: FailureEvent) => failures.push(e))
  const before = Date.now()
  await outcome(producer.send({ topic: 't', messages: [{ value: 'a' }, { value: 'b' }] }))
  const m = producer.metrics()
  assert.equal(m.recordsFailed, 2)
  assert.equal(m.recordsSent, 0)
  assert.equal(m.lastError?.code, 'INVALID_RECORD')
  assert.ok(m.lastError!.at >= before)
  assert.deepEqual(failures.map((f) => [f.topic, f.partition, f.records, f.error.code]), [['t', 0, 2, 'INVALID_RECORD']])
})

test('requests in flight and buffer use show while a request is outstanding', async (t) => {
  const kafka = await fakeKafka(t, { topics: { t: 1 } })
  kafka.produceFault = () => ({ delayMs: 200 })
  const producer = producerOn(t, kafka)
  await producer.connect()
  const pending = producer.send({ topic: 't', messages: [{ value: 'x'.repeat(100) }] })
  await new Promise((r) => setTimeout(r, 100))
  const m = producer.metrics()
  assert.equal(m.requestsInFlight, 1)
  assert.ok(m.bufferUsedBytes >= 100)
  await pending
  assert.equal(producer.metrics().requestsInFlight, 0)
})

test('inspecting a producer shows its mode and pending work, nothing else', async (t) => {
  const kafka = await fakeKafka(t, { topics: { t: 1 } })
  assert.equal(inspect(producerOn(t, kafka)), 'Producer { idempotent, 0 batch(es) pending }')
  assert.equal(inspect(producerOn(t, kafka, { acks: 1, idempotent: false })), 'Producer { acks 1, 0 batch(es) pending }')
  assert.equal(inspect(producerOn(t, kafka, { transactionalId: 'tx' })), 'Producer { transactional tx, UNINITIALIZED, 0 batch(es) pending }')
})
