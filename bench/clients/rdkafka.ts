/** node-rdkafka (librdkafka, built from source by npm install): producer and consumer drivers. See lib/child.ts. */
import { createRequire } from 'node:module'
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises'
import { fail, pkgVersion, job, Meter, payloads, PAYLOADS, report, result, type ConsumeJob, type Job, type ProduceJob } from '../lib/child.js'

/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any
const require = createRequire(import.meta.url)
const pkg = { version: pkgVersion('node-rdkafka') }
const Kafka = require('node-rdkafka') as Any

function ready(client: Any): Promise<void> {
  return new Promise((resolve, reject) => {
    client.connect({}, (err: Any) => (err ? reject(err) : resolve()))
  })
}

const MASK = PAYLOADS - 1

async function produce(j: ProduceJob): Promise<void> {
  const conf = {
    'client.id': 'bench-rdkafka',
    'metadata.broker.list': j.brokers.join(','),
    'enable.idempotence': true,
    acks: 'all',
    'compression.codec': j.compression,
    'linger.ms': j.lingerMs,
    'batch.size': j.batchSize,
    'max.in.flight.requests.per.connection': j.maxInFlight,
    dr_cb: true,
  }
  const producer = new Kafka.Producer(conf, {})
  await ready(producer)
  await new Promise<void>((resolve, reject) => producer.getMetadata({ topic: j.topic, timeout: 10_000 }, (err: Any) => (err ? reject(err) : resolve())))
  const values = payloads(j.recordSize)
  let delivered = 0
  let errors = 0
  let firstError: unknown = null
  let allDelivered!: () => void
  const done = new Promise<void>((r) => (allDelivered = r))
  producer.on('delivery-report', (err: Any) => {
    if (err) {
      errors++
      firstError ??= err
    }
    if (++delivered === j.records) allDelivered()
  })
  const m = new Meter()
  m.start()
  // produce() is synchronous and queues in librdkafka (queue.buffering.max.messages,
  // default 100000); delivery reports arrive through poll(). Produce in slices,
  // polling after each, and back off while the queue is full.
  let sent = 0
  while (sent < j.records) {
    const end = Math.min(j.records, sent + 1000)
    try {
      while (sent < end) {
        producer.produce(j.topic, null, values[sent & MASK], null)
        sent++
      }
    } catch (e) {
      if ((e as Any)?.code !== Kafka.CODES.ERRORS.ERR__QUEUE_FULL) throw e
      producer.poll()
      await sleep(1)
      continue
    }
    producer.poll()
    await yieldToLoop()
  }
  while (delivered < j.records) {
    producer.poll()
    await Promise.race([done, sleep(1)])
  }
  m.stop()
  await new Promise<void>((r) => producer.disconnect(5000, () => r()))
  if (firstError) process.stderr.write(`first delivery error: ${String(firstError)}\n`)
  const { dr_cb: _dr, 'metadata.broker.list': _b, 'client.id': _c, ...shown } = conf
  report(result(m, j.records, j.records * j.recordSize, errors, { version: pkg.version, librdkafka: Kafka.librdkafkaVersion, ...shown, 'delivery reports': 'dr_cb, polled after every 1000 produce() calls' }))
}

async function consume(j: ConsumeJob): Promise<void> {
  const m = new Meter()
  let started = false
  const conf = {
    'client.id': 'bench-rdkafka',
    'metadata.broker.list': j.brokers.join(','),
    'group.id': j.groupId,
    'fetch.max.bytes': j.maxBytes,
    'max.partition.fetch.bytes': j.maxPartitionBytes,
    'enable.auto.commit': true,
    rebalance_cb(this: Any, err: Any, assignment: Any): void {
      if (err.code === Kafka.CODES.ERRORS.ERR__ASSIGN_PARTITIONS) {
        this.assign(assignment)
        if (!started) {
          started = true
          m.start()
        }
      } else this.unassign()
    },
  }
  const consumer = new Kafka.KafkaConsumer(conf, { 'auto.offset.reset': 'earliest' })
  await ready(consumer)
  consumer.subscribe([j.topic])
  let count = 0
  let bytes = 0
  // Default: flowing mode, consume() with 'data' events (a consume loop on a
  // background thread; about twice the throughput of the batch calls here).
  // Variant 'batch:N': consume(N, cb) in a loop.
  const flowing = !j.variant?.startsWith('batch:')
  const batch = flowing ? 0 : Number(j.variant!.slice(6))
  await new Promise<void>((resolve, reject) => {
    if (flowing) {
      consumer.on('data', (message: Any) => {
        bytes += message.value.length
        if (++count === j.records) resolve()
      })
      consumer.consume()
      return
    }
    const next = (): void => {
      consumer.consume(batch, (err: Any, messages: Any[]) => {
        if (err) return reject(err)
        for (let i = 0; i < messages.length; i++) bytes += messages[i].value.length
        count += messages.length
        if (count >= j.records) resolve()
        else next()
      })
    }
    next()
  })
  m.stop()
  await new Promise<void>((r) => consumer.disconnect(() => r()))
  report(result(m, count, bytes, 0, { version: pkg.version, librdkafka: Kafka.librdkafkaVersion, 'fetch.max.bytes': j.maxBytes, 'max.partition.fetch.bytes': j.maxPartitionBytes, 'auto.offset.reset': 'earliest', api: flowing ? "consume() with 'data' events (flowing)" : `consume(${batch}, cb) in a loop` }))
}

const j = job<Job>()
;(j.role === 'produce' ? produce(j) : consume(j)).then(() => process.exit(0), fail)
