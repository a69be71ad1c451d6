// Size limits: the topic's max.message.bytes is set low and the producer's
// maxRequestSize high, so the broker is the one refusing. A record whose batch
// is exactly at the limit is accepted, one byte more is refused with an error
// naming the broker's limit, and records that only exceed it together are split
// into batches that fit. A record over maxRequestSize fails in the client.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Cluster } from '../../src/client/cluster.js'
import { Producer, ProduceError, RecordTooLargeError } from '../../src/producer/index.js'
import { BATCH_OVERHEAD, recordSize } from '../../src/producer/batch.js'
import { brokers, createTopic, deleteTopic, noBrokers, plumbing, topicName } from '../support/kafka.js'
import { readPartition } from '../support/read-partition.js'
import { requires } from '../support/target.js'

const LIMIT = 10_000

/** A value whose record, alone in a batch (no key, no headers), makes a batch of exactly `batchBytes`. */
function valueForBatchOf(batchBytes: number): Buffer {
  let n = batchBytes - BATCH_OVERHEAD - 8
  while (BATCH_OVERHEAD + recordSize(0, 0, null, Buffer.alloc(n), []) < batchBytes) n++
  while (BATCH_OVERHEAD + recordSize(0, 0, null, Buffer.alloc(n), []) > batchBytes) n--
  assert.equal(BATCH_OVERHEAD + recordSize(0, 0, null, Buffer.alloc(n), []), batchBytes)
  return Buffer.alloc(n, 0x61)
}

describe('size limits', { skip: noBrokers }, () => {
  let cluster: Cluster
  const topic = topicName('limits')

  before(async () => {
    cluster = await plumbing()
    await createTopic(cluster, topic, { partitions: 1, configs: { 'max.message.bytes': String(LIMIT) } })
  })

  after(async () => {
    await deleteTopic(cluster, topic)
    await cluster.close()
  })

  test('a record whose batch is exactly max.message.bytes is accepted; one byte more is refused by the broker, naming its limit', requires('max-message-bytes'), async () => {
    const producer = new Producer({ brokers, maxRequestSize: 1024 * 1024 })
    try {
      const [m] = await producer.send({ topic, messages: [{ value: valueForBatchOf(LIMIT) }] })
      assert.ok(m!.offset >= 0n)
      const err = await producer.send({ topic, messages: [{ value: valueForBatchOf(LIMIT + 1) }] }).then(() => null, (e: unknown) => e)
      assert.ok(err instanceof ProduceError, `expected a ProduceError, got ${String(err)}`)
      const e = err.errors[0]!
      assert.ok(e instanceof RecordTooLargeError, String(e))
      assert.match(e.message, /larger than the broker accepts \(the topic's max\.message\.bytes/)
      assert.equal((e.cause as { code?: string }).code, 'MESSAGE_TOO_LARGE')
      // The producer is still usable.
      await producer.send({ topic, messages: [{ value: 'small' }] })
    } finally {
      await producer.close()
    }
  })

  test('records that fit one by one but not together are split into batches the broker accepts, in order', async () => {
    const producer = new Producer({ brokers, maxRequestSize: 1024 * 1024, batchSize: 200_000, lingerMs: 50 })
    const before = (await readPartition(cluster, topic, 0)).highWatermark
    try {
      const values = Array.from({ length: 12 }, (_, i) => Buffer.alloc(3000, 0x30 + i))
      const res = await producer.send({ topic, messages: values.map((value) => ({ value })) })
      assert.deepEqual(res.map((m) => m.offset), values.map((_, i) => before + BigInt(i)))
    } finally {
      await producer.close()
    }
    const read = (await readPartition(cluster, topic, 0)).records.filter((r) => r.offset >= before)
    assert.deepEqual(read.map((r) => r.value![0]), Array.from({ length: 12 }, (_, i) => 0x30 + i))
    assert.ok(read.every((r, i) => i === 0 || r.sequence === read[i - 1]!.sequence + 1), 'one gap-free sequence across the split batches')
  })

  test('a record over maxRequestSize fails in the client, naming the limit, and nothing reaches the broker', async () => {
    const producer = new Producer({ brokers, maxRequestSize: 5000 })
    const before = (await readPartition(cluster, topic, 0)).highWatermark
    try {
      const err = await producer.send({ topic, messages: [{ value: Buffer.alloc(6000) }] }).then(() => null, (e: unknown) => e)
      assert.ok(err instanceof ProduceError)
      assert.ok(err.errors[0] instanceof RecordTooLargeError)
      assert.match(err.errors[0]!.message, /more than maxRequestSize \(5000\)/)
    } finally {
      await producer.close()
    }
    assert.equal((await readPartition(cluster, topic, 0)).highWatermark, before)
  })
})
