/** kafkawire (../src, through tsx): producer and consumer drivers. See lib/child.ts. */
// BENCH_KAFKAWIRE_SRC: another copy of src/index.ts, for A/B runs (produce.ts / consume.ts: client "kafkawire@<path>").
const { Consumer, Producer } = (await import(process.env.BENCH_KAFKAWIRE_SRC ?? '../../src/index.js')) as typeof import('../../src/index.js')
import { driveChunks, fail, job, Meter, payloads, PAYLOADS, report, result, type ConsumeJob, type Job, type ProduceJob } from '../lib/child.js'

const MASK = PAYLOADS - 1

async function produce(j: ProduceJob): Promise<void> {
  const config = {
    acks: 'all' as const,
    idempotent: true,
    compression: j.compression,
    batchSize: j.batchSize,
    lingerMs: j.lingerMs,
    maxInFlightRequestsPerConnection: j.maxInFlight,
  }
  const producer = new Producer({ brokers: j.brokers, clientId: 'bench-kafkawire', ...config })
  await producer.connect()
  const values = payloads(j.recordSize)
  const m = new Meter()
  m.start()
  const errors = await driveChunks(j.records, j.chunk, j.window, (first, n) => {
    const messages = new Array(n)
    for (let i = 0; i < n; i++) messages[i] = { value: values[(first + i) & MASK] }
    return producer.send({ topic: j.topic, messages })
  })
  m.stop()
  await producer.close()
  report(result(m, j.records, j.records * j.recordSize, errors, { ...config, sendChunk: j.chunk, sendWindow: j.window }))
}

async function consume(j: ConsumeJob): Promise<void> {
  const each = j.variant === 'eachMessage' ? 'eachMessage' : 'eachBatch'
  const config = { maxBytes: j.maxBytes, maxPartitionBytes: j.maxPartitionBytes, autoOffsetReset: 'earliest' as const, api: `run({ ${each} })` }
  const consumer = new Consumer({ brokers: j.brokers, clientId: 'bench-kafkawire', groupId: j.groupId, autoOffsetReset: 'earliest', maxBytes: j.maxBytes, maxPartitionBytes: j.maxPartitionBytes })
  const m = new Meter()
  let count = 0
  let bytes = 0
  let finished!: () => void
  const done = new Promise<void>((r) => (finished = r))
  let started = false
  consumer.on('assigned', () => {
    if (!started) {
      started = true
      m.start()
    }
  })
  consumer.subscribe([j.topic])
  const running =
    each === 'eachBatch'
      ? consumer.run({
          eachBatch: ({ batch }) => {
            const ms = batch.messages
            for (let i = 0; i < ms.length; i++) bytes += ms[i]!.value!.length
            count += ms.length
            if (count >= j.records) finished()
          },
        })
      : consumer.run({
          eachMessage: ({ message }) => {
            bytes += message.value!.length
            if (++count >= j.records) finished()
          },
        })
  running.catch(fail)
  await done
  m.stop()
  await consumer.close()
  report(result(m, count, bytes, 0, config))
}

const j = job<Job>()
;(j.role === 'produce' ? produce(j) : consume(j)).then(() => process.exit(0), fail)
