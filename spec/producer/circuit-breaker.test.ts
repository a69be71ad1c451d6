import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { KafkawireError } from '../../src/protocol/errors.js'
import { CircuitBreaker, type CircuitState } from '../../src/producer/circuit-breaker.js'
import { CircuitOpenError, ProduceError } from '../../src/producer/errors.js'
import { ERR } from './support/fake-kafka.js'
import { fakeKafka, outcome, producerOn } from './support/helpers.js'

const boom = new KafkawireError('CONNECTION_ERROR', 'broker down', { retriable: true })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function breaker(failureThreshold = 3, resetTimeoutMs = 50): { cb: CircuitBreaker; transitions: Array<[CircuitState, CircuitState]> } {
  const cb = new CircuitBreaker({ failureThreshold, resetTimeoutMs })
  const transitions: Array<[CircuitState, CircuitState]> = []
  cb.onTransition = (from, to) => transitions.push([from, to])
  return { cb, transitions }
}

describe('CircuitBreaker', () => {
  test('stays closed below the threshold, and a success resets the count', () => {
    const { cb } = breaker(3)
    cb.failure(boom, cb.admit())
    cb.failure(boom, cb.admit())
    cb.success()
    cb.failure(boom, cb.admit())
    cb.failure(boom, cb.admit())
    assert.equal(cb.state, 'closed')
  })

  test('opens after failureThreshold consecutive failures, then refuses at once with CircuitOpenError carrying the last error', () => {
    const { cb, transitions } = breaker(3)
    for (let i = 0; i < 3; i++) cb.failure(boom, cb.admit())
    assert.equal(cb.state, 'open')
    assert.throws(
      () => cb.admit(),
      (e: unknown) => e instanceof CircuitOpenError && e.cause === boom && /circuit breaker is open; retrying in \d+ ms \(last error: broker down\)/.test(e.message),
    )
    assert.deepEqual(transitions, [['closed', 'open']])
  })

  test('after resetTimeoutMs it lets exactly one trial through (half-open); a successful trial closes it', async () => {
    const { cb, transitions } = breaker(1, 30)
    cb.failure(boom, cb.admit())
    await sleep(40)
    assert.equal(cb.state, 'half-open')
    assert.equal(cb.admit(), true, 'the first caller is the trial')
    assert.throws(() => cb.admit(), /half-open with a trial send in flight/)
    cb.success()
    assert.equal(cb.state, 'closed')
    assert.equal(cb.admit(), false)
    assert.deepEqual(transitions, [['closed', 'open'], ['open', 'half-open'], ['half-open', 'closed']])
  })

  test('a failed trial opens it again for another resetTimeoutMs', async () => {
    const { cb, transitions } = breaker(1, 30)
    cb.failure(boom, cb.admit())
    await sleep(40)
    const trial = cb.admit()
    cb.failure(boom, trial)
    assert.equal(cb.state, 'open')
    assert.throws(() => cb.admit(), CircuitOpenError)
    assert.deepEqual(transitions, [['closed', 'open'], ['open', 'half-open'], ['half-open', 'open']])
  })
})

describe('through the producer', () => {
  test('sends failing against a broken cluster open the circuit; later sends fail fast; a healed cluster closes it again', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    kafka.produceFault = () => ({ error: ERR.NOT_ENOUGH_REPLICAS })
    const producer = producerOn(t, kafka, { circuitBreaker: { failureThreshold: 2, resetTimeoutMs: 300 }, requestTimeoutMs: 100, deliveryTimeoutMs: 200 })
    const events: Array<{ from: CircuitState; to: CircuitState }> = []
    producer.on('circuit', (e: { from: CircuitState; to: CircuitState }) => events.push(e))
    for (let i = 0; i < 2; i++) assert.ok((await outcome(producer.send({ topic: 't', messages: [{ value: 'x' }] }))) instanceof ProduceError)
    assert.equal(producer.circuitState, 'open')
    const sentBefore = kafka.produced.length
    const started = Date.now()
    await assert.rejects(producer.send({ topic: 't', messages: [{ value: 'fast' }] }), CircuitOpenError)
    assert.ok(Date.now() - started < 50, 'fails fast, without waiting for a delivery timeout')
    assert.equal(kafka.produced.length, sentBefore, 'nothing was sent')
    assert.equal(producer.metrics().circuitBreakerTrips, 1)
    kafka.produceFault = null
    await sleep(320)
    const [m] = await producer.send({ topic: 't', messages: [{ value: 'trial' }] })
    assert.equal(m!.partition, 0)
    assert.equal(producer.circuitState, 'closed')
    assert.deepEqual(events.map((e) => e.to), ['open', 'half-open', 'closed'])
  })

  test('errors that say the input was bad, not the cluster, do not count', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = producerOn(t, kafka, { circuitBreaker: { failureThreshold: 1 }, maxRequestSize: 500 })
    kafka.produceFault = () => ({ error: ERR.INVALID_RECORD })
    await outcome(producer.send({ topic: 't', messages: [{ value: 'x' }] }))
    await outcome(producer.send({ topic: 't', messages: [{ value: 'y'.repeat(1000) }] }))
    assert.equal(producer.circuitState, 'closed')
  })

  test('without the option there is no circuit breaker', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    assert.equal(producerOn(t, kafka).circuitState, null)
  })
})
