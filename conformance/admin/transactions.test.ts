// Admin: producers and transactions (KIP-664). describeProducers after an idempotent produce and
// during an open transaction; listOffsets read_committed at an open transaction; describeTransactions
// and listTransactions for a committed and an ongoing transaction of the reference producer.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fetchKafka } from '../broker/index.mjs'
import type { Admin } from '../../src/client/admin/index.js'
import { BrokerError } from '../../src/protocol/errors.js'
import { brokers, codeOf, createTopics, deleteTopicsQuietly, eventually, kafkaVersion, needs, newAdmin, produce, uniqueName } from './support.js'

const N = 30

/**
 * A transaction left open: the reference producer (2 records/s, one transaction for the whole run) is
 * killed once the coordinator reports the transaction Ongoing on the topic. The coordinator aborts it
 * when transaction.timeout.ms (60 s) has passed, after this file ran.
 */
async function leaveTransactionOpen(admin: Admin, topic: string, transactionalId: string): Promise<void> {
  const { libs } = await fetchKafka(kafkaVersion)
  const args = ['--topic', topic, '--num-records', '1000', '--record-size', '10', '--throughput', '2', '--producer-props', `bootstrap.servers=${brokers}`, 'acks=all', '--transactional-id', transactionalId, '--transaction-duration-ms', '600000']
  const java = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java'
  const child = spawn(java, ['-Xmx256m', '-cp', join(libs, '*'), 'org.apache.kafka.tools.ProducerPerformance', ...args], { stdio: 'ignore' })
  const exited = new Promise((resolve) => child.on('exit', resolve))
  try {
    await eventually(async () => {
      const [d] = await admin.describeTransactions([transactionalId])
      assert.ok(d!.error === null && d!.state === 'Ongoing' && d!.topics.some((t) => t.topic === topic), `not yet open: ${d!.error?.code ?? (d as { state: string }).state}`)
      // ...and a record of it written (with transactions V1 the partition joins before its first record).
      const [end] = await admin.listOffsets([{ topic, partition: 0, spec: 'latest' }])
      assert.ok(end!.error === null && end!.offset !== null && end!.offset > 0n, 'no record yet')
    }, 60_000, 250)
  } finally {
    child.kill('SIGKILL')
    await exited
  }
}

describe('admin producers and transactions', needs('java-tools', 'transactions', 'describe-producers', 'describe-transactions'), () => {
  const admin = newAdmin()
  const plain = uniqueName('idempotent')
  const txTopic = uniqueName('txn')
  const openTopic = uniqueName('open-txn')
  const committedId = uniqueName('committed')
  const openId = uniqueName('open')
  let started = 0

  before(async () => {
    await createTopics(admin, [{ name: plain, partitions: 1 }, { name: txTopic, partitions: 1 }, { name: openTopic, partitions: 1 }])
    started = Date.now()
    await Promise.all([produce(plain, N), produce(txTopic, N, { transactionalId: committedId })])
    await leaveTransactionOpen(admin, openTopic, openId)
  })

  after(async () => {
    try {
      await deleteTopicsQuietly(admin, [plain, txTopic, openTopic])
    } finally {
      await admin.close()
    }
  })

  test('describeProducers after an idempotent produce: one producer, last sequence N-1', needs('idempotent-producer-state'), async () => {
    const res = await admin.describeProducers([{ topic: plain, partition: 0 }, { topic: plain, partition: 3 }])
    assert.deepEqual(res.map(codeOf), ['none', 'UNKNOWN_TOPIC_OR_PARTITION'])
    const e = res[1]!.error
    assert.ok(e instanceof BrokerError && e.context.topic === plain && e.context.partition === 3)
    const p = res[0]!
    assert.ok(p.error === null)
    if (p.error !== null) return
    assert.equal(p.producers.length, 1)
    const s = p.producers[0]!
    assert.ok(s.producerId >= 0n)
    assert.equal(s.producerEpoch, 0)
    assert.equal(s.lastSequence, N - 1)
    assert.equal(s.coordinatorEpoch, -1)
    assert.equal(s.currentTransactionStartOffset, null)
    assert.ok(s.lastTimestamp !== null && s.lastTimestamp >= started - 1000 && s.lastTimestamp <= Date.now(), `lastTimestamp ${s.lastTimestamp}`)
  })

  test('describeTransactions: a committed transaction, an open one, and an unknown id', needs('txn-states'), async () => {
    const missing = uniqueName('no-txn')
    const res = await admin.describeTransactions([committedId, openId, missing])
    assert.deepEqual(res.map(codeOf), ['none', 'none', 'TRANSACTIONAL_ID_NOT_FOUND'])
    const [done, open, unknown] = res
    if (done!.error === null) {
      assert.equal(done!.state, 'CompleteCommit')
      assert.equal(done!.timeoutMs, 60_000)
      assert.ok(done!.producerId >= 0n)
      assert.deepEqual(done!.topics, [])
    }
    if (open!.error === null) {
      assert.equal(open!.state, 'Ongoing')
      assert.deepEqual(open!.topics, [{ topic: openTopic, partitions: [0] }])
      assert.ok(open!.startTimeMs !== null && open!.startTimeMs >= started - 1000)
      assert.notEqual(open!.producerId, done!.error === null ? done!.producerId : -1n)
    }
    assert.ok(unknown!.error instanceof BrokerError && unknown!.error.context.transactionalId === missing)
  })

  test('describeProducers during an open transaction: its first offset', async () => {
    const [open] = await admin.describeTransactions([openId])
    const [p] = await admin.describeProducers([{ topic: openTopic, partition: 0 }])
    assert.ok(open!.error === null && p!.error === null)
    if (open!.error !== null || p!.error !== null) return
    const s = p!.producers.find((x) => x.producerId === open!.producerId)
    assert.ok(s, 'the transactional producer is active on the partition')
    assert.equal(s.currentTransactionStartOffset, 0n)
    assert.ok(s.lastSequence >= 0)
  })

  test('listOffsets read_committed stops at the open transaction (the last stable offset)', async () => {
    const [uncommitted] = await admin.listOffsets([{ topic: openTopic, partition: 0, spec: 'latest' }])
    const [committed] = await admin.listOffsets([{ topic: openTopic, partition: 0, spec: 'latest' }], { isolationLevel: 'read_committed' })
    assert.ok(uncommitted!.error === null && uncommitted!.offset !== null && uncommitted!.offset > 0n)
    assert.ok(committed!.error === null && committed!.offset === 0n)
  })

  test('listTransactions: every broker, with state, producer id and duration filters', needs('txn-states'), async () => {
    const all = await eventually(async () => {
      const l = await admin.listTransactions()
      assert.deepEqual(l.errors, [])
      assert.ok(l.transactions.some((t) => t.transactionalId === openId))
      return l
    })
    const mine = all.transactions.filter((t) => t.transactionalId === committedId || t.transactionalId === openId)
    assert.deepEqual(mine.map((t) => [t.transactionalId, t.state]).sort(), [[committedId, 'CompleteCommit'], [openId, 'Ongoing']].sort())
    const [d] = await admin.describeTransactions([committedId])
    const committed = mine.find((t) => t.transactionalId === committedId)!
    assert.ok(d!.error === null && d!.coordinator === committed.coordinator && d!.producerId === committed.producerId)

    const ongoing = await admin.listTransactions({ states: ['Ongoing'] })
    assert.ok(ongoing.transactions.some((t) => t.transactionalId === openId))
    assert.ok(ongoing.transactions.every((t) => t.state === 'Ongoing'))
    const byPid = await admin.listTransactions({ producerIds: [committed.producerId] })
    assert.deepEqual(byPid.transactions.map((t) => t.transactionalId), [committedId])
    // Running for more than an hour: none of ours (ListTransactions v1, KIP-994).
    const old = await admin.listTransactions({ durationFilterMs: 3_600_000 })
    assert.ok(!old.transactions.some((t) => t.transactionalId === openId || t.transactionalId === committedId))
  })
})
