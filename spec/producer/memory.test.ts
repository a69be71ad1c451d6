import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { BufferPool } from '../../src/producer/accumulator.js'
import { BufferExhaustedError, ProduceError } from '../../src/producer/errors.js'
import { fakeKafka, outcome, producerOn } from './support/helpers.js'

describe('BufferPool', () => {
  test('reserves at once while there is room', () => {
    const pool = new BufferPool(100)
    assert.equal(pool.reserve(60, 1000), null)
    assert.equal(pool.reserve(40, 1000), null)
    assert.equal(pool.used, 100)
  })

  test('a reservation that does not fit waits, first come first served, until memory is released', async () => {
    const pool = new BufferPool(100)
    pool.reserve(90, 1000)
    const order: string[] = []
    const a = pool.reserve(50, 1000)!.then(() => order.push('a'))
    const b = pool.reserve(10, 1000)!.then(() => order.push('b'))
    assert.equal(pool.waiting, 2, 'the small one waits behind the big one, so the big one cannot starve')
    pool.release(50)
    await a
    await b
    assert.deepEqual(order, ['a', 'b'])
    assert.equal(pool.used, 100)
  })

  test('a wait longer than maxBlockMs fails with BufferExhaustedError naming the budget, and lets the next waiter in', async () => {
    const pool = new BufferPool(100)
    pool.reserve(100, 1000)
    const started = Date.now()
    await assert.rejects(pool.reserve(60, 100)!, (e: unknown) => e instanceof BufferExhaustedError && /within maxBlockMs \(100 ms\): 100 of 100 bytes/.test(e.message))
    assert.ok(Date.now() - started >= 90)
    assert.equal(pool.waiting, 0)
  })

  test('more than the whole budget fails at once', async () => {
    const pool = new BufferPool(100)
    await assert.rejects(pool.reserve(101, 10_000)!, /more than the whole buffer \(bufferMemory 100\)/)
  })
})

describe('the producer under a slow broker', () => {
  test('send() waits for memory, then fails with BufferExhaustedError after maxBlockMs', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    kafka.produceFault = () => ({ delayMs: 1000 })
    const producer = producerOn(t, kafka, { bufferMemory: 2000, maxBlockMs: 200, requestTimeoutMs: 5000 })
    await producer.connect()
    const first = producer.send({ topic: 't', messages: [{ value: 'x'.repeat(1500) }] })
    await new Promise((r) => setTimeout(r, 20))
    const started = Date.now()
    const err = await outcome(producer.send({ topic: 't', messages: [{ value: 'y'.repeat(1000) }] }))
    const waited = Date.now() - started
    assert.ok(err instanceof ProduceError)
    assert.ok(err.errors[0] instanceof BufferExhaustedError)
    assert.ok(waited >= 150 && waited < 900, `waited ${waited} ms`)
    await first
  })

  test('send() waits for memory and goes through once earlier records are acknowledged', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    kafka.produceFault = () => ({ delayMs: 100 })
    const producer = producerOn(t, kafka, { bufferMemory: 2000, maxBlockMs: 5000 })
    const a = producer.send({ topic: 't', messages: [{ value: 'a'.repeat(1500) }] })
    const b = producer.send({ topic: 't', messages: [{ value: 'b'.repeat(1500) }] })
    const [[ma], [mb]] = await Promise.all([a, b])
    assert.deepEqual([ma!.offset, mb!.offset], [0n, 1n])
  })

  test('memory stays within bufferMemory when the application produces far faster than the broker takes', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 4 } })
    kafka.produceFault = () => ({ delayMs: 5 })
    const limit = 16 * 1024
    const producer = producerOn(t, kafka, { bufferMemory: limit, batchSize: 4096, maxBlockMs: 30_000 })
    let peak = 0
    const sampler = setInterval(() => (peak = Math.max(peak, producer.metrics().bufferUsedBytes)), 1)
    t.after(() => clearInterval(sampler))
    const sends = Array.from({ length: 300 }, (_, i) => producer.send({ topic: 't', messages: [{ key: `k${i}`, value: 'v'.repeat(500) }] }))
    const res = await Promise.all(sends)
    clearInterval(sampler)
    assert.equal(res.length, 300)
    assert.ok(peak > 0 && peak <= limit, `peak ${peak} of ${limit}`)
    assert.equal(producer.metrics().bufferUsedBytes, 0, 'everything is released once acknowledged')
    assert.equal(kafka.records('t', 0).length + kafka.records('t', 1).length + kafka.records('t', 2).length + kafka.records('t', 3).length, 300)
  })

  test('memory held by failed records is released too', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    kafka.produceFault = () => ({ error: 87 })
    const producer = producerOn(t, kafka, { bufferMemory: 4000 })
    for (let i = 0; i < 5; i++) await outcome(producer.send({ topic: 't', messages: [{ value: 'x'.repeat(1000) }] }))
    assert.equal(producer.metrics().bufferUsedBytes, 0)
  })

  test('close() fails sends still waiting for memory', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    kafka.produceFault = () => ({ noResponse: true })
    const producer = producerOn(t, kafka, { bufferMemory: 2000, maxBlockMs: 10_000, requestTimeoutMs: 10_000, deliveryTimeoutMs: 20_000 })
    await producer.connect()
    const first = outcome(producer.send({ topic: 't', messages: [{ value: 'x'.repeat(1500) }] }))
    await new Promise((r) => setTimeout(r, 20))
    const waiting = outcome(producer.send({ topic: 't', messages: [{ value: 'y'.repeat(1500) }] }))
    await producer.close({ timeoutMs: 100 })
    const [a, b] = await Promise.all([first, waiting])
    assert.ok(a instanceof ProduceError && a.errors[0]!.code === 'CLIENT_CLOSED')
    assert.ok(b instanceof ProduceError && b.errors[0]!.code === 'CLIENT_CLOSED', String(b))
    await assert.rejects(producer.send({ topic: 't', messages: [{ value: 'late' }] }), /closed/)
  })
})

describe('flush and close', () => {
  test('flush() waits for everything buffered; with a timeout it fails with FLUSH_TIMEOUT and the records stay pending', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    kafka.produceFault = (c) => (c.attempt === 1 ? { delayMs: 300 } : undefined)
    const producer = producerOn(t, kafka, { lingerMs: 10_000 })
    await producer.connect()
    const pending = producer.send({ topic: 't', messages: [{ value: 'lingering' }] })
    await new Promise((r) => setTimeout(r, 20))
    await assert.rejects(producer.flush({ timeoutMs: 50 }), (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'FLUSH_TIMEOUT')
    await producer.flush()
    const [m] = await pending
    assert.equal(m!.offset, 0n)
  })

  test('close() with a timeout returns within it when the broker never answers, failing what is left', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    kafka.produceFault = () => ({ noResponse: true })
    const producer = producerOn(t, kafka, { requestTimeoutMs: 30_000, deliveryTimeoutMs: 60_000 })
    await producer.connect()
    const pending = outcome(producer.send({ topic: 't', messages: [{ value: 'x' }] }))
    await new Promise((r) => setTimeout(r, 50))
    const started = Date.now()
    await producer.close({ timeoutMs: 200 })
    const took = Date.now() - started
    assert.ok(took >= 150 && took < 2000, `close took ${took} ms`)
    const err = await pending
    assert.ok(err instanceof ProduceError && err.errors[0]!.code === 'CLIENT_CLOSED')
  })
})
