import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { BrokerError } from '../../src/protocol/errors.js'
import { DeliveryTimeoutError, ProduceError, RecordTooLargeError } from '../../src/producer/errors.js'
import type { RetryEvent } from '../../src/producer/producer.js'
import { ERR, type Fault } from './support/fake-kafka.js'
import { fakeKafka, outcome, producerOn, rng } from './support/helpers.js'

const values = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ value: `${prefix}${i}` }))

describe('retries', () => {
  test('a retriable error is retried with growing backoff until the broker accepts the batch, which lands once', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    kafka.produceFault = (c) => (c.attempt <= 3 ? { error: ERR.NOT_ENOUGH_REPLICAS } : undefined)
    const producer = producerOn(t, kafka, { retryBackoff: { initialMs: 50, maxMs: 1000 } })
    const retries: RetryEvent[] = []
    producer.on('retry', (e: RetryEvent) => retries.push(e))
    const [m] = await producer.send({ topic: 't', messages: [{ value: 'once' }] })
    assert.equal(m!.offset, 0n)
    assert.deepEqual(kafka.values('t', 0), ['once'])
    assert.deepEqual(kafka.produced.map((e) => e.outcome), [ERR.NOT_ENOUGH_REPLICAS, ERR.NOT_ENOUGH_REPLICAS, ERR.NOT_ENOUGH_REPLICAS, 'appended'])
    assert.deepEqual(retries.map((r) => [r.attempt, r.error.code]), [[1, 'NOT_ENOUGH_REPLICAS'], [2, 'NOT_ENOUGH_REPLICAS'], [3, 'NOT_ENOUGH_REPLICAS']])
    const at = kafka.produced.map((e) => e.at)
    // 50, 100, 200 ms with ±20 % jitter: generous lower bounds only.
    assert.ok(at[1]! - at[0]! >= 35, `first backoff ${at[1]! - at[0]!} ms`)
    assert.ok(at[3]! - at[2]! >= 140, `third backoff ${at[3]! - at[2]!} ms`)
    assert.ok(at[3]! - at[2]! > at[1]! - at[0]!, 'the backoff grows')
    assert.deepEqual(kafka.violations, [])
  })

  test('a non-retriable error fails the batch at once, with the broker error per record', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    kafka.produceFault = () => ({ error: ERR.INVALID_RECORD, message: 'bad record' })
    const producer = producerOn(t, kafka)
    const err = await outcome(producer.send({ topic: 't', messages: values('x', 3) }))
    assert.ok(err instanceof ProduceError)
    assert.equal(err.errors.length, 3)
    const e = err.errors[0]!
    assert.ok(e instanceof BrokerError)
    assert.equal(e.code, 'INVALID_RECORD')
    assert.deepEqual({ topic: e.context.topic, partition: e.context.partition }, { topic: 't', partition: 0 })
    assert.equal(kafka.produced.length, 1, 'not retried')
  })

  test('an authorization failure is not retried', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    kafka.produceFault = () => ({ error: ERR.TOPIC_AUTHORIZATION_FAILED })
    const producer = producerOn(t, kafka)
    const err = await outcome(producer.send({ topic: 't', messages: values('x', 1) }))
    assert.ok(err instanceof ProduceError)
    assert.equal(err.errors[0]!.code, 'TOPIC_AUTHORIZATION_FAILED')
    assert.equal(kafka.produced.length, 1)
  })

  test('retries: N gives up after N retries with the last error', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    kafka.produceFault = () => ({ error: ERR.NOT_ENOUGH_REPLICAS })
    const producer = producerOn(t, kafka, { retries: 2 })
    const err = await outcome(producer.send({ topic: 't', messages: values('x', 1) }))
    assert.ok(err instanceof ProduceError)
    assert.equal(err.errors[0]!.code, 'NOT_ENOUGH_REPLICAS')
    assert.equal(kafka.produced.length, 3)
  })

  test('NOT_LEADER_OR_FOLLOWER refreshes metadata and sends the batch to the new leader', async (t) => {
    const kafka = await fakeKafka(t, { brokers: 2, topics: { t: 1 } })
    const producer = producerOn(t, kafka)
    await producer.send({ topic: 't', messages: [{ value: 'before' }] })
    kafka.setLeader('t', 0, 2) // the producer's cached metadata still says broker 1
    const [m] = await producer.send({ topic: 't', messages: [{ value: 'after' }] })
    assert.equal(m!.offset, 1n)
    assert.deepEqual(kafka.produced.map((e) => [e.node, e.outcome]), [[1, 'appended'], [1, ERR.NOT_LEADER_OR_FOLLOWER], [2, 'appended']])
    assert.deepEqual(kafka.values('t', 0), ['before', 'after'])
  })

  test('the producer honours the retryBackoff option', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    kafka.produceFault = (c) => (c.attempt <= 2 ? { error: ERR.NOT_ENOUGH_REPLICAS } : undefined)
    const producer = producerOn(t, kafka, { retryBackoff: { initialMs: 300, maxMs: 300 } })
    await producer.send({ topic: 't', messages: [{ value: 'x' }] })
    const at = kafka.produced.map((e) => e.at)
    assert.ok(at[1]! - at[0]! >= 200, `backoff ${at[1]! - at[0]!} ms, configured 300 ms ± 20 %`)
  })
})

/**
 * The broker's view of a run: per partition, the values in log order, and
 * whether each producer's sequences in the log are gap-free.
 */
function checkLog(kafka: Awaited<ReturnType<typeof fakeKafka>>, topic: string, partitions: number, acked: Map<number, string[]>): void {
  for (let p = 0; p < partitions; p++) {
    const log = kafka.records(topic, p)
    assert.deepEqual(log.map((r) => r.value!.toString()), acked.get(p) ?? [], `partition ${p}: the log holds exactly the acknowledged records, in send order`)
    const seen = new Set<string>()
    for (const r of log) {
      assert.ok(!seen.has(r.value!.toString()), `duplicate ${r.value} in partition ${p}`)
      seen.add(r.value!.toString())
    }
    for (let i = 1; i < log.length; i++) {
      const a = log[i - 1]!
      const b = log[i]!
      if (a.producerId === b.producerId && a.producerEpoch === b.producerEpoch) {
        assert.equal(b.sequence, a.sequence === 0x7fffffff ? 0 : a.sequence + 1, `partition ${p}: sequence gap at offset ${b.offset}`)
      } else {
        assert.equal(b.sequence, 0, `partition ${p}: a new epoch or producer id starts at sequence 0 (offset ${b.offset})`)
      }
    }
  }
}

const FAULTS: Array<(r: () => number) => Fault> = [
  () => ({ error: ERR.NOT_ENOUGH_REPLICAS }),
  () => ({ error: ERR.NOT_LEADER_OR_FOLLOWER }),
  () => ({ error: ERR.REQUEST_TIMED_OUT, append: true }),
  () => ({ error: ERR.NOT_ENOUGH_REPLICAS_AFTER_APPEND, append: true }),
  () => ({ disconnect: 'before-append' }),
  () => ({ disconnect: 'after-append' }),
  (r) => ({ delayMs: Math.floor(r() * 30) }),
]

describe('ordering across retries', () => {
  for (const compression of ['none', 'gzip'] as const) {
    test(`property (${compression}): with random failures, each partition's log holds every acknowledged record once, in send order, with gap-free sequences`, async (t) => {
      for (let run = 0; run < 15; run++) {
        const seed = (Date.now() + run * 7919) >>> 0
        const r = rng(seed)
        const partitions = 1 + Math.floor(r() * 3)
        const kafka = await fakeKafka(t, { brokers: 2, topics: { t: partitions } })
        const failureRate = 0.1 + r() * 0.25
        kafka.produceFault = () => (r() < failureRate ? FAULTS[Math.floor(r() * FAULTS.length)]!(r) : undefined)
        const producer = producerOn(t, kafka, {
          compression,
          batchSize: 200 + Math.floor(r() * 400),
          lingerMs: Math.floor(r() * 3),
          requestTimeoutMs: 500,
          deliveryTimeoutMs: 20_000,
        })
        const sends: Array<Promise<void>> = []
        let n = 0
        for (let s = 0; s < 40; s++) {
          const count = 1 + Math.floor(r() * 12)
          const messages = Array.from({ length: count }, () => ({ value: `v${n++}`, partition: Math.floor(r() * partitions) }))
          sends.push(
            producer.send({ topic: 't', messages }).then((metas) => {
              metas.forEach((m, i) => assert.equal(m.partition, messages[i]!.partition))
            }),
          )
          if (r() < 0.3) await new Promise((res) => setTimeout(res, Math.floor(r() * 5)))
        }
        const failed = (await Promise.allSettled(sends)).filter((x) => x.status === 'rejected')
        assert.deepEqual(failed, [], `seed ${seed}: every send succeeds`)
        checkLogAgainstSends(kafka, partitions, n, seed)
        assert.deepEqual(kafka.violations, [], `seed ${seed}`)
        await producer.close()
        await kafka.close()
      }
    })
  }
})

/**
 * Values v0..vN-1 were sent in that order: each partition's log must hold its
 * values in increasing order, and all partitions together every value once.
 */
function checkLogAgainstSends(kafka: Awaited<ReturnType<typeof fakeKafka>>, partitions: number, n: number, seed: number): void {
  const all: string[] = []
  const acked = new Map<number, string[]>()
  for (let p = 0; p < partitions; p++) {
    const vals = kafka.records('t', p).map((r) => r.value!.toString())
    all.push(...vals)
    const sorted = [...vals].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
    acked.set(p, sorted)
  }
  checkLog(kafka, 't', partitions, acked)
  const nums = all.map((v) => Number(v.slice(1))).sort((a, b) => a - b)
  assert.deepEqual(nums, Array.from({ length: n }, (_, i) => i), `seed ${seed}: every record is in the log exactly once`)
}

describe('pipelining and order on the wire', () => {
  test('a partition with several full batches has several requests in flight at once (up to 5)', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    kafka.produceFault = () => ({ delayMs: 100 })
    const producer = producerOn(t, kafka, { batchSize: 100 })
    await producer.send({ topic: 't', messages: values('x', 50) })
    // Every answer is held 100 ms: batches arriving within 90 ms of the first were sent before any answer.
    const first = kafka.produced[0]!.at
    const beforeAnswer = kafka.produced.filter((e) => e.at - first < 90)
    assert.ok(beforeAnswer.length >= 2 && beforeAnswer.length <= 5, `${beforeAnswer.length} batch(es) reached the broker before the first answer`)
    assert.deepEqual(kafka.values('t', 0), values('x', 50).map((m) => m.value))
  })

  for (const compression of ['gzip', 'zstd'] as const) {
    test(`with ${compression} (compressed off the event loop), batches reach the broker in sequence order`, async (t) => {
      const kafka = await fakeKafka(t, { topics: { t: 1 } })
      const producer = producerOn(t, kafka, { compression, batchSize: 16 * 1024 })
      // Batches of very different sizes compress in very different times.
      const sends = []
      for (let i = 0; i < 20; i++) {
        const big = i % 2 === 0
        sends.push(producer.send({ topic: 't', messages: [{ value: big ? `${i}:`.padEnd(15_000, String(i % 10)) : `${i}` }] }))
        if (i % 4 === 0) await new Promise((r) => setImmediate(r))
      }
      await Promise.all(sends)
      assert.deepEqual(kafka.produced.map((e) => e.outcome).filter((o) => o !== 'appended'), [], 'no batch was refused as out of order')
      assert.deepEqual(kafka.values('t', 0).map((v) => v.split(':')[0]!.slice(0, 2).replace(/\D.*$/, '')), Array.from({ length: 20 }, (_, i) => String(i)))
    })
  }

  test('a small batch drained right after a large one (still compressing) does not overtake it', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = producerOn(t, kafka, { compression: 'gzip', compressionLevel: 9, batchSize: 16 * 1024, maxRequestSize: 4 * 1024 * 1024 })
    const noise = Buffer.alloc(900_000)
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919 + (i >> 3) * 31) & 0xff
    await producer.send({ topic: 't', messages: [{ value: 'warm-up' }] }) // connected, metadata known
    const big = producer.send({ topic: 't', messages: [{ value: noise }] })
    await new Promise((r) => setImmediate(r)) // the big batch is drained and starts compressing
    const small = producer.send({ topic: 't', messages: [{ value: 'small' }] })
    await Promise.all([big, small])
    assert.deepEqual(kafka.produced.map((e) => [e.baseSequence, e.outcome]), [[0, 'appended'], [1, 'appended'], [2, 'appended']])
  })

  for (const [compression, acks] of [['none', -1], ['lz4', -1], ['zstd', -1], ['none', 0], ['lz4', 1]] as const) {
    test(`recycled batch and request memory (${compression}, acks=${acks}): every record arrives intact, in order, through retries`, async (t) => {
      const kafka = await fakeKafka(t, { topics: { t: 3 } })
      // Some requests are refused and retried, so a batch buffer lives across attempts.
      let calls = 0
      kafka.produceFault = () => (acks !== 0 && ++calls % 7 === 3 ? { error: ERR.NOT_ENOUGH_REPLICAS } : undefined)
      const producer = producerOn(t, kafka, { compression, acks, idempotent: acks === -1, batchSize: 30_000, lingerMs: 2 })
      const random = rng(7)
      const expected: string[][] = [[], [], []]
      const sends = []
      for (let i = 0; i < 120; i++) {
        const messages = []
        for (let j = 0; j < 25; j++) {
          const p = (i + j) % 3
          // 1-3 KB values: ~30 KB batches and ~90 KB requests, both above the recyclers' smallest blocks.
          const value = `${i}.${j}:`.padEnd(1000 + Math.floor(random() * 2000), String.fromCharCode(97 + Math.floor(random() * 26)))
          expected[p]!.push(value)
          messages.push({ partition: p, value })
        }
        sends.push(producer.send({ topic: 't', messages }))
        if (i % 8 === 0) await new Promise((r) => setImmediate(r))
      }
      await Promise.all(sends)
      if (acks === 0) await producer.flush()
      for (let p = 0; p < 3; p++) {
        for (let i = 0; i < 100 && kafka.values('t', p).length < expected[p]!.length; i++) await new Promise((r) => setTimeout(r, 20))
        assert.deepEqual(kafka.values('t', p), expected[p], `partition ${p}`)
      }
      if (acks !== 0) assert.ok(calls > 20 && kafka.produced.some((e) => e.outcome !== 'appended'), 'some requests were refused and retried')
    })
  }

  test('acks=0 with compression keeps each partition in order on the wire', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = producerOn(t, kafka, { acks: 0, compression: 'gzip', batchSize: 16 * 1024 })
    const sends = []
    for (let i = 0; i < 20; i++) sends.push(producer.send({ topic: 't', messages: [{ value: i % 2 === 0 ? `${i}:`.padEnd(15_000, 'z') : `${i}:` }] }))
    await Promise.all(sends)
    await new Promise((r) => setTimeout(r, 100))
    assert.deepEqual(kafka.values('t', 0).map((v) => v.split(':')[0]), Array.from({ length: 20 }, (_, i) => String(i)))
  })
})

describe('acks', () => {
  test('acks=0: the broker does not answer; records resolve with offset -1 once written', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = producerOn(t, kafka, { acks: 0 })
    const res = await producer.send({ topic: 't', messages: values('x', 3) })
    assert.deepEqual(res.map((m) => m.offset), [-1n, -1n, -1n])
    await new Promise((r) => setTimeout(r, 50))
    assert.deepEqual(kafka.values('t', 0), ['x0', 'x1', 'x2'])
    assert.deepEqual(kafka.produced.map((e) => [e.acks, e.producerId]), [[0, -1n]], 'acks 0, no producer id')
  })

  test('acks=1 without idempotence: one batch per partition on the wire, no producer id', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    kafka.produceFault = () => ({ delayMs: 30 })
    const producer = producerOn(t, kafka, { acks: 1, batchSize: 100 })
    await producer.send({ topic: 't', messages: values('x', 20) })
    const at = kafka.produced.map((e) => e.at)
    for (let i = 1; i < at.length; i++) assert.ok(at[i]! - at[i - 1]! >= 20, 'each batch waits for the previous answer')
    assert.ok(kafka.produced.every((e) => e.acks === 1 && e.producerId === -1n && e.baseSequence === -1))
    assert.deepEqual(kafka.values('t', 0), values('x', 20).map((m) => m.value))
  })

  test('acks=all idempotent: every batch carries the producer id, epoch and consecutive sequences', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = producerOn(t, kafka, { batchSize: 100 })
    await producer.send({ topic: 't', messages: values('x', 20) })
    let next = 0
    for (const e of kafka.produced) {
      assert.equal(e.acks, -1)
      assert.equal(e.producerId, 1000n)
      assert.equal(e.baseSequence, next)
      next += e.count
    }
  })
})

describe('batches the broker finds too large', () => {
  test('MESSAGE_TOO_LARGE splits the batch; the halves keep the sequence range and every record lands once, in order', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    kafka.partition('t', 0).maxBatchBytes = 400
    const producer = producerOn(t, kafka, { batchSize: 10_000, lingerMs: 20 })
    const res = await Promise.all([producer.send({ topic: 't', messages: values('a', 20) }), producer.send({ topic: 't', messages: values('b', 20) })])
    assert.deepEqual(kafka.values('t', 0), [...values('a', 20), ...values('b', 20)].map((m) => m.value))
    assert.deepEqual(res.flat().map((m) => m.offset), Array.from({ length: 40 }, (_, i) => BigInt(i)))
    const log = kafka.records('t', 0)
    assert.deepEqual(log.map((r) => r.sequence), Array.from({ length: 40 }, (_, i) => i), 'sequences 0..39 with no gap or restart')
    assert.ok(log.every((r) => r.producerEpoch === 0), 'no epoch bump was needed')
    assert.ok(kafka.produced.some((e) => e.outcome === ERR.MESSAGE_TOO_LARGE))
  })

  test('a single record the broker refuses fails with RecordTooLargeError pointing at the broker limit', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    kafka.partition('t', 0).maxBatchBytes = 100
    const producer = producerOn(t, kafka)
    const err = await outcome(producer.send({ topic: 't', messages: [{ value: 'x'.repeat(200) }] }))
    assert.ok(err instanceof ProduceError)
    assert.ok(err.errors[0] instanceof RecordTooLargeError)
    assert.match(err.errors[0]!.message, /larger than the broker accepts \(the topic's max.message.bytes/)
  })

  test('a record over maxRequestSize fails before anything is sent, naming the limit', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = producerOn(t, kafka, { maxRequestSize: 1000 })
    const err = await outcome(producer.send({ topic: 't', messages: [{ value: 'ok' }, { value: 'x'.repeat(2000) }] }))
    assert.ok(err instanceof ProduceError)
    assert.equal((err.results[0] as { offset: bigint }).offset, 0n, 'the small record of the same call is sent')
    assert.ok(err.results[1] instanceof RecordTooLargeError)
    assert.match((err.results[1] as Error).message, /more than maxRequestSize \(1000\)/)
    assert.deepEqual(kafka.values('t', 0), ['ok'])
  })
})

describe('delivery timeout', () => {
  test('a broker that never answers: the records fail with DeliveryTimeoutError after deliveryTimeoutMs, with the last error as cause', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    kafka.produceFault = () => ({ noResponse: true })
    const producer = producerOn(t, kafka, { requestTimeoutMs: 200, deliveryTimeoutMs: 700 })
    const started = Date.now()
    const err = await outcome(producer.send({ topic: 't', messages: values('x', 2) }))
    const took = Date.now() - started
    assert.ok(err instanceof ProduceError)
    assert.ok(err.errors[0] instanceof DeliveryTimeoutError, String(err.errors[0]))
    assert.match(err.errors[0]!.message, /deliveryTimeoutMs/)
    assert.ok(took >= 600 && took < 5000, `failed after ${took} ms`)
  })

  test('records for a partition without a leader expire after deliveryTimeoutMs', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 2 } })
    const producer = producerOn(t, kafka, { requestTimeoutMs: 200, deliveryTimeoutMs: 500 })
    await producer.send({ topic: 't', messages: [{ value: 'warm-up', partition: 1 }] })
    kafka.setLeader('t', 1, -1)
    kafka.produceFault = (c) => (c.partition === 1 ? { error: ERR.NOT_LEADER_OR_FOLLOWER } : undefined)
    const err = await outcome(producer.send({ topic: 't', messages: [{ value: 'lost', partition: 1 }, { value: 'fine', partition: 0 }] }))
    assert.ok(err instanceof ProduceError)
    assert.ok(err.results[0] instanceof DeliveryTimeoutError)
    assert.equal((err.results[1] as { offset: bigint }).offset, 0n)
  })

  test('a partition without a leader does not hold up a new producer\'s records for the other partitions of the topic', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 2 } })
    kafka.setLeader('t', 1, -1)
    const producer = producerOn(t, kafka, { requestTimeoutMs: 200, deliveryTimeoutMs: 600, maxBlockMs: 5000 })
    const started = Date.now()
    const [m] = await producer.send({ topic: 't', messages: [{ value: 'fine', partition: 0 }] })
    assert.equal(m!.offset, 0n)
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`)
    const err = await outcome(producer.send({ topic: 't', messages: [{ value: 'stuck', partition: 1 }] }))
    assert.ok(err instanceof ProduceError)
    assert.ok(err.errors[0] instanceof DeliveryTimeoutError)
  })

  test('a retriable error until the deadline ends in DeliveryTimeoutError naming that error', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    kafka.produceFault = () => ({ error: ERR.NOT_ENOUGH_REPLICAS })
    const producer = producerOn(t, kafka, { requestTimeoutMs: 100, deliveryTimeoutMs: 400 })
    const err = await outcome(producer.send({ topic: 't', messages: values('x', 1) }))
    assert.ok(err instanceof ProduceError)
    assert.ok(err.errors[0] instanceof DeliveryTimeoutError)
    assert.match(err.errors[0]!.message, /NOT_ENOUGH_REPLICAS|fewer in-sync replicas/)
  })
})
