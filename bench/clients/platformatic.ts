/** @platformatic/kafka 2.x: producer and consumer drivers. See lib/child.ts. */
import { driveChunks, fail, pkgVersion, job, Meter, payloads, PAYLOADS, report, result, type ConsumeJob, type Job, type ProduceJob } from '../lib/child.js'

/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any
const pkg = { version: pkgVersion('@platformatic/kafka') }
const { Producer, Consumer, ProduceAcks } = (await import('@platformatic/kafka')) as Any

const MASK = PAYLOADS - 1

async function produce(j: ProduceJob): Promise<void> {
  // idempotent: true makes the client force acks=all and maxInflights=1 per connection.
  const config = { version: pkg.version, acks: 'all (ProduceAcks.ALL)', idempotent: true, compression: j.compression, maxInflights: '1 (forced by idempotent)', batching: 'none: one Produce request per send() call' }
  const producer = new Producer({
    clientId: 'bench-platformatic',
    bootstrapBrokers: j.brokers,
    idempotent: true,
    acks: ProduceAcks.ALL,
    compression: j.compression,
  })
  // Connect, get the producer id and the topic metadata before measuring.
  await producer.metadata({ topics: [j.topic] })
  await producer.initIdempotentProducer({})
  const values = payloads(j.recordSize)
  const m = new Meter()
  m.start()
  const errors = await driveChunks(j.records, j.chunk, j.window, (first, n) => {
    const messages = new Array(n)
    for (let i = 0; i < n; i++) messages[i] = { topic: j.topic, value: values[(first + i) & MASK] }
    return producer.send({ messages })
  })
  m.stop()
  await producer.close()
  report(result(m, j.records, j.records * j.recordSize, errors, { ...config, sendChunk: j.chunk, sendWindow: j.window }))
}

async function consume(j: ConsumeJob): Promise<void> {
  const config = { version: pkg.version, maxBytes: j.maxBytes, maxBytesPerPartition: j.maxPartitionBytes, mode: 'earliest', api: "stream.on('data')" }
  const consumer = new Consumer({
    clientId: 'bench-platformatic',
    bootstrapBrokers: j.brokers,
    groupId: j.groupId,
    maxBytes: j.maxBytes,
    maxBytesPerPartition: j.maxPartitionBytes,
  })
  // consume() resolves once the member joined the group and has its assignment.
  const stream = await consumer.consume({ topics: [j.topic], mode: 'earliest', autocommit: true, maxBytes: j.maxBytes, maxBytesPerPartition: j.maxPartitionBytes })
  const m = new Meter()
  m.start()
  let count = 0
  let bytes = 0
  await new Promise<void>((resolve, reject) => {
    stream.on('error', reject)
    stream.on('data', (message: Any) => {
      bytes += message.value.length
      if (++count === j.records) resolve()
    })
  })
  m.stop()
  await stream.close()
  await consumer.close(true)
  report(result(m, count, bytes, 0, config))
}

const j = job<Job>()
;(j.role === 'produce' ? produce(j) : consume(j)).then(() => process.exit(0), fail)
