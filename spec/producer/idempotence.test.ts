import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { initProducerId } from '../../src/protocol/messages/init-producer-id.js'
import { DeliveryTimeoutError, ProduceError } from '../../src/producer/errors.js'
import { ERR, type Fault } from './support/fake-kafka.js'
import { fakeKafka, internals, outcome, producerOn, rng } from './support/helpers.js'

const values = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ value: `${prefix}${i}` }))
const INT32_MAX = 0x7fffffff

describe('sequence errors', () => {
  test('OUT_OF_ORDER_SEQUENCE_NUMBER for a batch behind a failed one is retried as it is, in order, without an epoch bump', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    // The first batch fails once and is not written; the next ones reach a
    // broker that expects sequence 0 and refuse them as out of order.
    kafka.produceFault = (c) => (c.batch.baseSequence === 0 && c.attempt === 1 ? { error: ERR.NOT_ENOUGH_REPLICAS, logStartOffset: 0n } : { delayMs: 10 })
    const producer = producerOn(t, kafka, { batchSize: 80 })
    await producer.send({ topic: 't', messages: values('x', 30) })
    assert.ok(kafka.produced.some((e) => e.outcome === ERR.OUT_OF_ORDER_SEQUENCE_NUMBER), 'later batches were refused as out of order')
    const log = kafka.records('t', 0)
    assert.deepEqual(log.map((r) => r.value!.toString()), values('x', 30).map((m) => m.value))
    assert.deepEqual(log.map((r) => r.sequence), Array.from({ length: 30 }, (_, i) => i))
    assert.ok(log.every((r) => r.producerEpoch === 0), 'no epoch bump')
    assert.equal(internals(producer).transactions.producerEpoch, 0)
  })

  test('OUT_OF_ORDER_SEQUENCE_NUMBER for the next expected batch (a real gap) bumps the epoch locally and restarts at 0 (KIP-360)', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = producerOn(t, kafka)
    await producer.send({ topic: 't', messages: values('a', 5) })
    kafka.produceFault = (c) => (c.batch.baseSequence === 5 ? { error: ERR.OUT_OF_ORDER_SEQUENCE_NUMBER } : undefined)
    const res = await producer.send({ topic: 't', messages: values('b', 5) })
    assert.deepEqual(res.map((m) => m.offset), [5n, 6n, 7n, 8n, 9n])
    const log = kafka.records('t', 0)
    assert.deepEqual(log.slice(5).map((r) => [r.producerEpoch, r.sequence]), [[1, 0], [1, 1], [1, 2], [1, 3], [1, 4]])
    assert.equal(internals(producer).transactions.producerEpoch, 1)
    assert.equal(kafka.brokers[0]!.requestsOf(initProducerId).length, 1, 'the bump is local: no second InitProducerId')
    assert.deepEqual(kafka.violations, [])
  })

  test('DUPLICATE_SEQUENCE_NUMBER counts as success, without an offset', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    kafka.produceFault = () => ({ error: ERR.DUPLICATE_SEQUENCE_NUMBER })
    const producer = producerOn(t, kafka)
    const res = await producer.send({ topic: 't', messages: values('x', 2) })
    assert.deepEqual(res.map((m) => m.offset), [-1n, -1n])
  })

  test('a lost answer is retried with the same sequence; the broker recognises the duplicate and the record is in the log once, at its first offset', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    await producerOn(t, kafka).send({ topic: 't', messages: [{ value: 'other producer' }] })
    kafka.produceFault = (c) => (c.attempt === 1 && c.batch.producerId === 1001n ? { disconnect: 'after-append' } : undefined)
    const producer = producerOn(t, kafka)
    const [m] = await producer.send({ topic: 't', messages: [{ value: 'once' }] })
    assert.equal(m!.offset, 1n)
    assert.deepEqual(kafka.values('t', 0), ['other producer', 'once'])
    assert.deepEqual(kafka.produced.filter((e) => e.producerId === 1001n).map((e) => e.outcome), ['appended', 'duplicate'])
  })
})

test('a retry refused as out of order after a later batch was acknowledged counts as written (the broker\'s duplicate window moved on)', async (t) => {
  const kafka = await fakeKafka(t, { topics: { t: 1 } })
  kafka.dedupWindow = 1
  // The first batch is written but the client hears "timed out"; the next
  // batch is acknowledged before the retry, which then falls outside the window.
  kafka.produceFault = (c) => (c.batch.baseSequence === 0 && c.attempt === 1 ? { error: ERR.REQUEST_TIMED_OUT, append: true } : undefined)
  const producer = producerOn(t, kafka, { batchSize: 60, retryBackoff: { initialMs: 100, maxMs: 100 }, deliveryTimeoutMs: 5000, requestTimeoutMs: 1000 })
  const res = await producer.send({ topic: 't', messages: values('x', 6) })
  assert.equal(res.length, 6)
  assert.deepEqual(kafka.values('t', 0), values('x', 6).map((m) => m.value), 'once each, in order')
  assert.ok(kafka.produced.some((e) => e.baseSequence === 0 && e.outcome === ERR.OUT_OF_ORDER_SEQUENCE_NUMBER), 'the retry was refused as out of order')
  assert.equal(internals(producer).transactions.producerEpoch, 0, 'no epoch bump: nothing was lost')
})

describe('UNKNOWN_PRODUCER_ID (KIP-360)', () => {
  test('after retention removed the producer\'s records (log start past the last ack), the epoch is bumped and the batch restarts at 0', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = producerOn(t, kafka)
    await producer.send({ topic: 't', messages: values('a', 3) })
    kafka.loseProducerState('t', 0)
    kafka.produceFault = (c) => (c.batch.producerEpoch === 0 ? { error: ERR.UNKNOWN_PRODUCER_ID, logStartOffset: 3n } : undefined)
    const res = await producer.send({ topic: 't', messages: values('b', 2) })
    assert.deepEqual(res.map((m) => m.offset), [3n, 4n])
    assert.deepEqual(kafka.records('t', 0).slice(3).map((r) => [r.producerEpoch, r.sequence]), [[1, 0], [1, 1]])
  })

  test('with log start offset -1 (the broker does not know it yet) the batch is retried unchanged', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    kafka.produceFault = (c) => (c.attempt <= 2 ? { error: ERR.UNKNOWN_PRODUCER_ID, logStartOffset: -1n } : undefined)
    const producer = producerOn(t, kafka)
    await producer.send({ topic: 't', messages: values('a', 2) })
    assert.deepEqual(kafka.produced.map((e) => [e.producerEpoch, e.baseSequence, e.outcome]), [
      [0, 0, ERR.UNKNOWN_PRODUCER_ID],
      [0, 0, ERR.UNKNOWN_PRODUCER_ID],
      [0, 0, 'appended'],
    ])
  })

  test('otherwise an idempotent producer bumps its epoch and retries', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = producerOn(t, kafka)
    await producer.send({ topic: 't', messages: values('a', 3) })
    kafka.produceFault = (c) => (c.batch.producerEpoch === 0 && c.batch.baseSequence === 3 ? { error: ERR.UNKNOWN_PRODUCER_ID, logStartOffset: 0n } : undefined)
    await producer.send({ topic: 't', messages: values('b', 1) })
    assert.deepEqual(kafka.records('t', 0).map((r) => [r.value!.toString(), r.producerEpoch, r.sequence]), [
      ['a0', 0, 0],
      ['a1', 0, 1],
      ['a2', 0, 2],
      ['b0', 1, 0],
    ])
  })
})

const FAULTS: Array<(r: () => number) => Fault> = [
  () => ({ error: ERR.NOT_ENOUGH_REPLICAS }),
  () => ({ error: ERR.NOT_LEADER_OR_FOLLOWER }),
  () => ({ error: ERR.REQUEST_TIMED_OUT, append: true }),
  () => ({ disconnect: 'before-append' }),
  () => ({ disconnect: 'after-append' }),
  (r) => ({ delayMs: Math.floor(r() * 20) }),
]

describe('boundaries', () => {
  test('sequences wrap from int32 max to 0 with no gap, also when batches around the wrap are retried', async (t) => {
    for (let run = 0; run < 20; run++) {
      const seed = (Date.now() + run * 104729) >>> 0
      const r = rng(seed)
      const kafka = await fakeKafka(t, { topics: { t: 1 } })
      const producer = producerOn(t, kafka, { batchSize: 100 + Math.floor(r() * 100), requestTimeoutMs: 300, deliveryTimeoutMs: 20_000 })
      await producer.connect()
      const tm = internals(producer).transactions
      const start = INT32_MAX - 10 - Math.floor(r() * 10)
      const seq = tm.partition('t', 0)
      seq.producerId = tm.producerId
      seq.epoch = tm.producerEpoch
      seq.nextSequence = start
      seq.lastAckedSequence = start - 1
      kafka.seedProducer('t', 0, tm.producerId, tm.producerEpoch, start - 1)
      kafka.produceFault = () => (r() < 0.3 ? FAULTS[Math.floor(r() * FAULTS.length)]!(r) : undefined)
      const sends = []
      for (let i = 0; i < 10; i++) sends.push(producer.send({ topic: 't', messages: values(`s${i}-`, 4) }))
      await Promise.all(sends)
      const log = kafka.records('t', 0)
      const expected = Array.from({ length: 10 }, (_, i) => values(`s${i}-`, 4).map((m) => m.value)).flat()
      assert.deepEqual(log.map((x) => x.value!.toString()), expected, `seed ${seed}: every record once, in order`)
      let s = start
      for (const x of log) {
        assert.equal(x.sequence, s, `seed ${seed}: sequence after ${s - 1}`)
        assert.equal(x.producerEpoch, 0, `seed ${seed}: no epoch bump`)
        s = s === INT32_MAX ? 0 : s + 1
      }
      assert.ok(log.some((x) => x.sequence === INT32_MAX) && log.some((x) => x.sequence === 0), 'the run crossed the wrap')
      await producer.close()
      await kafka.close()
    }
  })

  test('after the wrap, a real gap (out of order for the next expected batch) still bumps the epoch', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = producerOn(t, kafka, { deliveryTimeoutMs: 3000, requestTimeoutMs: 1000 })
    await producer.connect()
    const tm = internals(producer).transactions
    const seq = tm.partition('t', 0)
    seq.producerId = tm.producerId
    seq.epoch = 0
    seq.nextSequence = INT32_MAX - 1
    seq.lastAckedSequence = INT32_MAX - 2
    kafka.seedProducer('t', 0, tm.producerId, 0, INT32_MAX - 2)
    await producer.send({ topic: 't', messages: values('a', 4) }) // sequences 2147483646, 2147483647, 0, 1
    kafka.produceFault = (c) => (c.batch.producerEpoch === 0 && c.batch.baseSequence === 2 ? { error: ERR.OUT_OF_ORDER_SEQUENCE_NUMBER } : undefined)
    await producer.send({ topic: 't', messages: values('b', 2) })
    assert.deepEqual(kafka.records('t', 0).map((r) => [r.value!.toString(), r.producerEpoch, r.sequence]), [
      ['a0', 0, INT32_MAX - 1],
      ['a1', 0, INT32_MAX],
      ['a2', 0, 0],
      ['a3', 0, 1],
      ['b0', 1, 0],
      ['b1', 1, 1],
    ])
  })

  test('an exhausted epoch (32767) gets a new producer id instead of a bump; nothing is sent without a producer id', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 3 } })
    const producer = producerOn(t, kafka, { batchSize: 60 })
    await producer.connect()
    const tm = internals(producer).transactions
    const pid = tm.producerId
    tm.producerEpoch = 0x7fff
    for (let p = 0; p < 3; p++) {
      const seq = tm.partition('t', p)
      seq.producerId = pid
      seq.epoch = 0x7fff
      seq.nextSequence = 5
      seq.lastAckedSequence = 4
      kafka.seedProducer('t', p, pid, 0x7fff, 4)
    }
    // A gap on partition 0 forces an epoch bump.
    kafka.produceFault = (c) => (c.partition === 0 && c.batch.producerId === pid && c.batch.baseSequence === 5 ? { error: ERR.OUT_OF_ORDER_SEQUENCE_NUMBER } : { delayMs: 5 })
    const res = await Promise.all([0, 1, 2].map((p) => producer.send({ topic: 't', messages: values(`p${p}-`, 6).map((m) => ({ ...m, partition: p })) })))
    assert.equal(res.flat().length, 18)
    assert.notEqual(tm.producerId, pid, 'a new producer id')
    assert.equal(tm.producerEpoch, 0)
    assert.equal(kafka.brokers[0]!.requestsOf(initProducerId).length, 2)
    assert.ok(kafka.produced.every((e) => e.producerId >= 0n), 'no batch went out with producer id -1')
    for (let p = 0; p < 3; p++) {
      assert.deepEqual(kafka.values('t', p), values(`p${p}-`, 6).map((m) => m.value), `partition ${p}: every record once, in order`)
    }
    assert.deepEqual(kafka.records('t', 0).map((x) => [x.producerId, x.sequence]).slice(0, 2), [[tm.producerId, 0], [tm.producerId, 1]])
    assert.deepEqual(kafka.violations, [])
  })
})

describe('concurrency and expiry', () => {
  test('10,000 concurrent single-record sends to one partition get 10,000 distinct offsets, in send order', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = producerOn(t, kafka, { lingerMs: 2 })
    const res = await Promise.all(Array.from({ length: 10_000 }, (_, i) => producer.send({ topic: 't', messages: [{ value: `${i}` }] })))
    assert.deepEqual(res.map(([m]) => m!.offset), Array.from({ length: 10_000 }, (_, i) => BigInt(i)))
    assert.deepEqual(kafka.values('t', 0), Array.from({ length: 10_000 }, (_, i) => `${i}`))
  })

  test('batches that expired while possibly written do not make later records vanish as duplicates, and order holds', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    let healed = false
    // The broker writes but never answers until healed.
    kafka.produceFault = () => (healed ? undefined : { noResponse: true })
    const producer = producerOn(t, kafka, { requestTimeoutMs: 150, deliveryTimeoutMs: 400, batchSize: 60 })
    const early = await outcome(producer.send({ topic: 't', messages: values('early', 6) }))
    assert.ok(early instanceof ProduceError)
    assert.ok(early.errors.every((e) => e instanceof DeliveryTimeoutError))
    healed = true
    const late = await producer.send({ topic: 't', messages: values('late', 6) })
    assert.equal(late.length, 6)
    const log = kafka.values('t', 0)
    const lateInLog = log.filter((v) => v.startsWith('late'))
    assert.deepEqual(lateInLog, values('late', 6).map((m) => m.value), 'every later record once, in order')
    const earlyInLog = log.filter((v) => v.startsWith('early'))
    assert.equal(new Set(earlyInLog).size, earlyInLog.length, 'possibly-persisted records are not duplicated')
    assert.deepEqual(late.map((m) => m.offset), lateInLog.map((_, i) => BigInt(log.indexOf('late0') + i)))
  })
})
