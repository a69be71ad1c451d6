/** KafkaJS 2.2.4: producer and consumer drivers. See lib/child.ts. */
import { createRequire } from 'node:module'
import { driveChunks, fail, pkgVersion, job, Meter, payloads, PAYLOADS, report, result, type ConsumeJob, type Job, type ProduceJob } from '../lib/child.js'
import { compress, decompress, CompressionCodec } from '../../src/protocol/compression/index.js'

/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any
const require = createRequire(import.meta.url)
const pkg = { version: pkgVersion('kafkajs') }
const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs') as Any

// KafkaJS ships gzip only; lz4 and zstd are plugins (kafkajs-lz4, @kafkajs/zstd)
// with this interface. These use the native packages kafkawire uses (lz4-napi,
// @mongodb-js/zstd) with the same framings, as bench/codec.ts does.
const plugin = (id: CompressionCodec) => () => ({
  compress: async (encoder: Any) => compress(id, encoder.buffer),
  decompress: async (buffer: Buffer) => decompress(id, buffer),
})
CompressionCodecs[CompressionTypes.LZ4] = plugin(CompressionCodec.Lz4)
CompressionCodecs[CompressionTypes.ZSTD] = plugin(CompressionCodec.Zstd)
const CODECS: Record<string, number> = { none: CompressionTypes.None, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD, gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy }

const kafka = (brokers: string[]): Any => new Kafka({ clientId: 'bench-kafkajs', brokers, logLevel: logLevel.ERROR })

const MASK = PAYLOADS - 1

async function produce(j: ProduceJob): Promise<void> {
  const config = { version: pkg.version, acks: -1, idempotent: true, maxInFlightRequests: j.maxInFlight, compression: j.compression, batching: 'none: one Produce request per send() call' }
  const producer = kafka(j.brokers).producer({ idempotent: true, maxInFlightRequests: j.maxInFlight, allowAutoTopicCreation: false })
  await producer.connect()
  const values = payloads(j.recordSize)
  const m = new Meter()
  m.start()
  const errors = await driveChunks(j.records, j.chunk, j.window, (first, n) => {
    const messages = new Array(n)
    for (let i = 0; i < n; i++) messages[i] = { value: values[(first + i) & MASK] }
    return producer.send({ topic: j.topic, acks: -1, compression: CODECS[j.compression], messages })
  })
  m.stop()
  await producer.disconnect()
  report(result(m, j.records, j.records * j.recordSize, errors, { ...config, sendChunk: j.chunk, sendWindow: j.window }))
}

async function consume(j: ConsumeJob): Promise<void> {
  const config = { version: pkg.version, maxBytes: j.maxBytes, maxBytesPerPartition: j.maxPartitionBytes, fromBeginning: true, api: 'run({ eachBatch })' }
  const consumer = kafka(j.brokers).consumer({ groupId: j.groupId, maxBytes: j.maxBytes, maxBytesPerPartition: j.maxPartitionBytes })
  const m = new Meter()
  let started = false
  consumer.on(consumer.events.GROUP_JOIN, () => {
    if (!started) {
      started = true
      m.start()
    }
  })
  await consumer.connect()
  await consumer.subscribe({ topics: [j.topic], fromBeginning: true })
  let count = 0
  let bytes = 0
  let finished!: () => void
  const done = new Promise<void>((r) => (finished = r))
  await consumer.run({
    eachBatch: async ({ batch }: Any) => {
      const ms = batch.messages
      for (let i = 0; i < ms.length; i++) bytes += ms[i].value.length
      count += ms.length
      if (count >= j.records) finished()
    },
  })
  await done
  m.stop()
  await consumer.disconnect()
  report(result(m, count, bytes, 0, config))
}

const j = job<Job>()
;(j.role === 'produce' ? produce(j) : consume(j)).then(() => process.exit(0), fail)
