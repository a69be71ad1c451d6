// Capabilities, not assumptions: on every implementation the client uses what the brokers advertise, and
// where a user explicitly asks for something the cluster lacks, the error names the missing API. Each test
// runs on every cluster: with the feature it must work, without it the error must say what is missing.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Admin, Consumer, Producer } from '../src/index.js'
import { KafkawireError } from '../src/protocol/errors.js'
import { testName } from './support/names.js'
import { describeTarget, has, unsupportedReason } from './support/target.js'

const brokers = process.env.KAFKA_BROKERS ?? ''

/** Resolves with the settled outcome, or fails the test when it takes longer than `ms`. */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<PromiseSettledResult<T>> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      p.then((value) => ({ status: 'fulfilled' as const, value }), (reason: unknown) => ({ status: 'rejected' as const, reason })),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Reads `n` messages with a fresh consumer; resolves with their values. */
async function readAll(consumer: Consumer, topic: string, n: number): Promise<string[]> {
  consumer.subscribe(topic)
  const out: string[] = []
  for await (const m of consumer) {
    out.push(String(m.value))
    if (out.length === n) break
  }
  return out
}

describe('capabilities, not assumptions', { skip: !brokers && 'KAFKA_BROKERS not set' }, () => {
  const admin = new Admin({ brokers, clientId: 'kafkawire-capabilities-conformance' })
  const topic = testName('capabilities')
  const groups: string[] = []

  before(async () => {
    process.stderr.write(`# ${describeTarget()}\n`)
    const [r] = await admin.createTopics([{ name: topic, partitions: 1 }])
    assert.equal(r!.error, null, r!.error?.message)
    const producer = new Producer({ brokers, compression: 'zstd' })
    try {
      await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) })
    } finally {
      await producer.close()
    }
  })

  after(async () => {
    try {
      await admin.deleteGroups(groups).catch(() => undefined)
      await admin.deleteTopics([topic])
    } finally {
      await admin.close()
    }
  })

  test('transactions: committed where the cluster has them; without EndTxn initTransactions names the missing API', async () => {
    const producer = new Producer({ brokers, transactionalId: testName('capabilities-txn') })
    try {
      const r = await within(60_000, 'a transaction', (async () => {
        await producer.initTransactions()
        producer.beginTransaction()
        await producer.send({ topic, messages: [{ value: 'in a transaction' }] })
        await producer.commitTransaction()
      })())
      const why = unsupportedReason('transactions')
      if (why === null) {
        assert.equal(r.status, 'fulfilled', r.status === 'rejected' ? String(r.reason) : '')
      } else {
        assert.equal(r.status, 'rejected', `the cluster lacks transactions (${why}), yet the transaction committed`)
        const e = (r as PromiseRejectedResult).reason as Error
        assert.ok(e instanceof KafkawireError, String(e))
        assert.match(e.message, /does not support (EndTxn|AddPartitionsToTxn|AddOffsetsToTxn|TxnOffsetCommit|InitProducerId) \(API key \d+\)/)
        assert.equal(e.retriable, false)
      }
    } finally {
      await producer.close().catch(() => undefined)
    }
  })

  test("groupProtocol 'consumer' (KIP-848): consumes where the cluster has it; otherwise the error names ConsumerGroupHeartbeat", async () => {
    const groupId = testName('capabilities-848')
    groups.push(groupId)
    const consumer = new Consumer({ brokers, groupId, groupProtocol: 'consumer', autoOffsetReset: 'earliest' })
    try {
      const r = await within(60_000, 'a KIP-848 consumer', readAll(consumer, topic, 10))
      if (has('kip848')) {
        assert.equal(r.status, 'fulfilled', r.status === 'rejected' ? String(r.reason) : '')
        assert.deepEqual((r as PromiseFulfilledResult<string[]>).value, Array.from({ length: 10 }, (_, i) => `v${i}`))
      } else {
        assert.equal(r.status, 'rejected', 'the cluster lacks KIP-848 groups, yet the consumer read')
        const e = (r as PromiseRejectedResult).reason as Error
        assert.ok(e instanceof KafkawireError, String(e))
        assert.match(e.message, /ConsumerGroupHeartbeat|group\.version|KIP-848/)
        assert.equal(e.retriable, false)
      }
    } finally {
      await consumer.close().catch(() => undefined)
    }
  })

  test('a classic group resumes from its committed offset, with or without OffsetForLeaderEpoch (no stuck validation)', async () => {
    const groupId = testName('capabilities-classic')
    groups.push(groupId)
    const first = new Consumer({ brokers, groupId, autoOffsetReset: 'earliest', sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1000 })
    try {
      const r = await within(60_000, 'the first consumer', readAll(first, topic, 10))
      assert.equal(r.status, 'fulfilled', r.status === 'rejected' ? String(r.reason) : '')
      await first.commit()
    } finally {
      await first.close()
    }
    const producer = new Producer({ brokers })
    try {
      await producer.send({ topic, messages: [{ value: 'after the commit' }] })
    } finally {
      await producer.close()
    }
    // The second member starts at the committed offset (with its leader epoch, where the broker keeps one):
    // KIP-320 validation where the brokers have OffsetForLeaderEpoch, none where they do not.
    const second = new Consumer({ brokers, groupId, autoOffsetReset: 'earliest', sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1000 })
    try {
      second.subscribe(topic)
      const seen: string[] = []
      const reading = (async () => {
        for await (const m of second) {
          seen.push(String(m.value))
          if (seen.at(-1) === 'after the commit') return
        }
      })()
      const r = await within(60_000, `resuming (${has('leader-epoch-validation') ? 'with' : 'without'} OffsetForLeaderEpoch)`, reading)
      assert.equal(r.status, 'fulfilled', r.status === 'rejected' ? String(r.reason) : '')
      // From the committed offset on: not from the beginning (the last record read may come again, as the
      // iterator counts a record as processed when the next one is asked for).
      assert.notEqual(seen[0], 'v0', `the second member started at the beginning: ${seen.join(', ')}`)
      assert.ok(seen.length <= 3, `read ${seen.join(', ')}`)
    } finally {
      await second.close()
    }
  })

  test('an admin call on an API the cluster lacks names it; one it has works', async () => {
    const r = await within(30_000, 'createPartitions', admin.createPartitions([{ topic, count: 2 }]))
    if (has('create-partitions')) {
      assert.equal(r.status, 'fulfilled', r.status === 'rejected' ? String(r.reason) : '')
      const [p] = (r as PromiseFulfilledResult<Array<{ error: Error | null }>>).value
      assert.equal(p!.error, null, p!.error?.message)
    } else {
      const e = r.status === 'rejected' ? (r.reason as Error) : (r as PromiseFulfilledResult<Array<{ error: Error | null }>>).value[0]!.error
      assert.ok(e instanceof KafkawireError, String(e))
      assert.match(e.message, /does not support CreatePartitions \(API key 37\)/)
    }
  })
})
