// Transactions against real brokers: Transactions V2 (KIP-890) on Kafka 4.3.1,
// V1 on 3.9.1, and on 4.3.1 also V1 through a second single-node cluster
// formatted with transaction.version=0 (managed runs only). Committed records
// are visible to read_committed readers and aborted ones are not (both are to
// read_uncommitted readers); sendOffsetsToTransaction commits the group's
// offsets only with the transaction; a second producer with the same
// transactional id fences the first; a transaction that outlives its timeout
// fails clearly.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Cluster } from '../../src/client/cluster.js'
import { KafkawireError } from '../../src/protocol/errors.js'
import { Producer, ProduceError, ProducerFencedError, TransactionAbortableError, type ProducerOptions } from '../../src/producer/index.js'
import { PRODUCER_INTERNALS } from '../../src/producer/producer.js'
import { startCluster, stopCluster } from '../broker/index.mjs'
import { brokers, committedOffset, createTopic, deleteTopic, env, kafkaVersion, managed, noBrokers, plumbing, topicName } from '../support/kafka.js'
import { readPartition } from '../support/read-partition.js'
import { has, requires } from '../support/target.js'

interface Target {
  label: string
  /** Transactions V2 expected. */
  v2: boolean
  brokers: () => string[]
  setUp?: () => Promise<void>
  tearDown?: () => Promise<void>
}

const targets: Target[] = [{ label: env.KAFKA_IMPL && env.KAFKA_IMPL !== 'apache' ? env.KAFKA_IMPL : `Kafka ${kafkaVersion}`, v2: has('transactions-v2'), brokers: () => brokers }]

// A second cluster for V1 on 4.x: beside the orchestrator's ports for this
// target (its 3-node cluster uses base+50..+71, the next target base+100).
if (managed && kafkaVersion.startsWith('4.')) {
  const name = `${env.KAFKAWIRE_CLUSTER_3NODE ?? 'kafkawire-3node'}-tv1`
  const portBase = Number(env.KAFKAWIRE_BROKER_PORT_BASE_3NODE ?? 19050) + 30
  let list: string[] = []
  targets.push({
    label: `Kafka ${kafkaVersion} formatted with transaction.version=0`,
    v2: false,
    brokers: () => list,
    setUp: async () => {
      const c = await startCluster({ kafka: kafkaVersion as '4.3.1', nodes: 1, portBase, name, features: ['transaction.version=0'], log: () => undefined })
      list = c.KAFKA_BROKERS.split(',')
    },
    tearDown: async () => {
      await stopCluster(name)
    },
  })
}

const values = async (cluster: Cluster, topic: string, partitions: number, isolation: 'read_committed' | 'read_uncommitted') => {
  const out: string[] = []
  for (let p = 0; p < partitions; p++) out.push(...(await readPartition(cluster, topic, p, { isolation })).records.map((r) => r.value!.toString()))
  return out.sort()
}

/**
 * commitTransaction() returns once the coordinator has decided; the markers
 * (and the group's offsets) are written right after, asynchronously. Readers
 * see the outcome once they are: poll until `expected` holds.
 */
async function eventually<T>(read: () => Promise<T>, expected: (v: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await read()
    if (expected(v) || Date.now() > deadline) return v
    await new Promise((r) => setTimeout(r, 100))
  }
}

for (const target of targets) {
  describe(`transactions on ${target.label}`, noBrokers ? { skip: noBrokers } : requires('transactions'), () => {
    let cluster: Cluster
    const topic = topicName('txn')
    const other = topicName('txn-other')
    const created: string[] = [topic, other]
    const txnId = (what: string) => `${topic}-${what}`
    const transactional = async (id: string, o: Partial<ProducerOptions> = {}): Promise<Producer> => {
      const p = new Producer({ brokers: target.brokers(), transactionalId: id, ...o })
      await p.initTransactions()
      assert.equal(p[PRODUCER_INTERNALS].transactions.transactionV2, target.v2, `Transactions ${target.v2 ? 'V2' : 'V1'} in use`)
      return p
    }

    before(async () => {
      await target.setUp?.()
      cluster = await plumbing(target.brokers())
      await createTopic(cluster, topic, { partitions: 3 })
      await createTopic(cluster, other, { partitions: 1 })
    })

    after(async () => {
      try {
        await deleteTopic(cluster, ...created)
        await cluster.close()
      } finally {
        await target.tearDown?.()
      }
    })

    test('committed records are visible to read_committed readers, aborted ones are not; read_uncommitted sees both', async () => {
      const producer = await transactional(txnId('visibility'))
      const plain = new Producer({ brokers: target.brokers() })
      try {
        for (let i = 0; i < 6; i++) {
          producer.beginTransaction()
          await producer.send([
            { topic, messages: Array.from({ length: 5 }, (_, j) => ({ key: `k${j}`, value: `txn${i}-${j}` })) },
            { topic: other, messages: [{ value: `txn${i}-other` }] },
          ])
          // A non-transactional producer writing in between.
          await plain.send({ topic, messages: [{ value: `plain${i}` }] })
          if (i % 2 === 0) await producer.commitTransaction()
          else await producer.abortTransaction()
        }
      } finally {
        await producer.close()
        await plain.close()
      }
      const expectCommitted = [0, 2, 4].flatMap((i) => Array.from({ length: 5 }, (_, j) => `txn${i}-${j}`))
      const plainValues = Array.from({ length: 6 }, (_, i) => `plain${i}`)
      const committed = await eventually(() => values(cluster, topic, 3, 'read_committed'), (v) => v.length >= expectCommitted.length + plainValues.length)
      const everything = await values(cluster, topic, 3, 'read_uncommitted')
      assert.deepEqual(committed, [...expectCommitted, ...plainValues].sort())
      const expectAll = [0, 1, 2, 3, 4, 5].flatMap((i) => Array.from({ length: 5 }, (_, j) => `txn${i}-${j}`))
      assert.deepEqual(everything, [...expectAll, ...plainValues].sort())
      assert.deepEqual(await eventually(() => values(cluster, other, 1, 'read_committed'), (v) => v.length >= 3), ['txn0-other', 'txn2-other', 'txn4-other'])
      const p0 = await readPartition(cluster, topic, 0)
      assert.ok(p0.markers.some((m) => m.type === 'COMMIT') && p0.markers.some((m) => m.type === 'ABORT'), 'commit and abort markers were written')
    })

    test('sendOffsetsToTransaction commits the group offsets only when the transaction commits', async () => {
      const group = `${topic}-group`
      const producer = await transactional(txnId('offsets'))
      try {
        producer.beginTransaction()
        await producer.send({ topic, messages: [{ value: 'with-offsets-1' }] })
        await producer.sendOffsetsToTransaction([{ topic: other, partition: 0, offset: 42n }], { groupId: group })
        assert.equal(await committedOffset(cluster, group, other, 0), -1n, 'not visible before the commit')
        await producer.commitTransaction()
        assert.equal(await eventually(() => committedOffset(cluster, group, other, 0), (o) => o === 42n), 42n)

        producer.beginTransaction()
        await producer.send({ topic, messages: [{ value: 'with-offsets-2' }] })
        await producer.sendOffsetsToTransaction([{ topic: other, partition: 0, offset: 99n }], { groupId: group })
        await producer.abortTransaction()
        // The abort's markers are written asynchronously too: wait for the transaction to be over.
        await eventually(() => readPartition(cluster, topic, 0, { isolation: 'read_committed' }).then((r) => r.lastStableOffset === r.highWatermark), (done) => done)
        await new Promise((r) => setTimeout(r, 500))
        assert.equal(await committedOffset(cluster, group, other, 0), 42n, 'an aborted transaction does not move the offsets')
      } finally {
        await producer.close()
      }
    })

    test('a second producer with the same transactional id fences the first: its commit fails with ProducerFencedError, for good', requires('txn-fencing'), async () => {
      const id = txnId('fencing')
      const first = await transactional(id)
      let second: Producer | undefined
      try {
        first.beginTransaction()
        await first.send({ topic: other, messages: [{ value: 'zombie-1' }] })
        second = await transactional(id)
        await assert.rejects(first.commitTransaction(), ProducerFencedError)
        assert.equal(first.transactionState, 'FATAL_ERROR')
        assert.throws(() => first.beginTransaction(), ProducerFencedError)
        await assert.rejects(first.send({ topic: other, messages: [{ value: 'zombie-2' }] }), ProducerFencedError)
        second.beginTransaction()
        await second.send({ topic: other, messages: [{ value: 'successor-1' }] })
        await second.commitTransaction()
      } finally {
        await first.close()
        await second?.close()
      }
      const committed = await eventually(() => values(cluster, other, 1, 'read_committed'), (v) => v.includes('successor-1'))
      assert.ok(committed.includes('successor-1'))
      assert.ok(!committed.some((v) => v.startsWith('zombie')), 'nothing of the fenced producer is visible')
    })

    test('a fenced producer that sends: its records fail, the commit is refused, and the abort ends in ProducerFencedError', async () => {
      const id = txnId('fencing-send')
      const first = await transactional(id)
      let second: Producer | undefined
      try {
        first.beginTransaction()
        await first.send({ topic: other, messages: [{ value: 'zombie-3' }] })
        second = await transactional(id)
        second.beginTransaction()
        await second.send({ topic: other, messages: [{ value: 'successor-2' }] })
        const err = await first.send({ topic: other, messages: [{ value: 'zombie-4' }] }).then(() => null, (e: unknown) => e)
        assert.ok(err instanceof ProduceError, `the send must fail, got ${String(err)}`)
        assert.match(err.errors[0]!.message, /old epoch|fenced|taken over/)
        await assert.rejects(first.commitTransaction(), TransactionAbortableError)
        await assert.rejects(first.abortTransaction(), ProducerFencedError)
        assert.equal(first.transactionState, 'FATAL_ERROR')
        await second.commitTransaction()
      } finally {
        await first.close()
        await second?.close()
      }
      const committed = await eventually(() => values(cluster, other, 1, 'read_committed'), (v) => v.includes('successor-2'))
      assert.ok(committed.includes('successor-2'))
      assert.ok(!committed.some((v) => v.startsWith('zombie')), 'nothing of the fenced producer is visible')
    })

    test('a transaction that outlives transactionTimeoutMs fails with a clear error and none of it is visible', async () => {
      const producer = await transactional(txnId('timeout'), { transactionTimeoutMs: 1500 })
      try {
        producer.beginTransaction()
        await producer.send({ topic: other, messages: [{ value: 'too-slow' }] })
        // The coordinator aborts it after the timeout (its check runs every second).
        await new Promise((r) => setTimeout(r, 4500))
        const err = await producer.commitTransaction().then(
          () => null,
          (e: unknown) => e,
        )
        assert.ok(err instanceof KafkawireError, `the commit must fail, got ${String(err)}`)
        assert.match(err.message, /longer than transactionTimeoutMs \(1500 ms\), so the transaction coordinator aborted it/)
      } finally {
        await producer.close()
      }
      assert.ok(!(await values(cluster, other, 1, 'read_committed')).includes('too-slow'))
    })
  })
}
