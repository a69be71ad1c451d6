// read_committed on a real broker: transactions written by kafkawire's producer and by the Java client,
// interleaved with each other and with plain records, some committed, some aborted, one left open. A
// read_committed consumer sees exactly the committed and plain records, stops at the open transaction (the
// last stable offset) and commits up to it; a read_uncommitted consumer sees every record.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Cluster } from '../../src/client/cluster.js'
import { createTopic, committedOffset, deleteTopic, noBrokers, plumbing, topicName } from '../support/kafka.js'
import { testName } from '../support/names.js'
import { unsupportedReason } from '../support/target.js'
import { Journal, Member, producer, runJava, sleep, until } from './support.js'

const PARTITIONS = 2
const skip = noBrokers || (unsupportedReason('transactions', 'classic-groups', 'java-tools') ?? false)
let cluster: Cluster
const topic = topicName('txn')
const members: Member[] = []

before(async () => {
  if (skip) return
  cluster = await plumbing()
  await createTopic(cluster, topic, { partitions: PARTITIONS })
})

after(async () => {
  if (skip) return
  await Promise.all(members.map((m) => m.close().catch(() => undefined)))
  await deleteTopic(cluster, topic)
  await cluster.close()
})

test('read_committed hides aborted transactions of kafkawire and of the Java client and stops at an open one; read_uncommitted shows them', { skip }, async (t) => {
  const ours = producer({ transactionalId: testName('txn-kw') })
  const plain = producer()
  await ours.initTransactions()
  const committed: string[] = []
  const aborted: string[] = []
  const plainValues: string[] = []

  // The Java client's transactions run meanwhile: committed, aborted, committed, aborted.
  const java = runJava(['transactions', cluster.brokers.map((b) => `${b.host}:${b.port}`).join(','), topic, testName('txn-java'), 'c6,a5,c3,a4'])
  for (const [txn, commit, n] of [['A', true, 6], ['B', false, 5], ['C', true, 4], ['D', false, 3], ['E', true, 2]] as const) {
    ours.beginTransaction()
    const values = Array.from({ length: n }, (_, i) => `kw-${txn}-${commit ? 'commit' : 'abort'}-${i}`)
    await ours.send({ topic, messages: values.map((value, i) => ({ value, partition: i % PARTITIONS })) })
    const between = Array.from({ length: 2 }, (_, i) => `plain-${txn}-${i}`)
    await plain.send({ topic, messages: between.map((value, i) => ({ value, partition: i % PARTITIONS })) })
    plainValues.push(...between)
    if (commit) {
      await ours.commitTransaction()
      committed.push(...values)
    } else {
      await ours.abortTransaction()
      aborted.push(...values)
    }
    await sleep(50)
  }
  await java
  committed.push(...[6, 3].flatMap((n, k) => Array.from({ length: n }, (_, i) => `java-${k * 2}-commit-${i}`)))
  aborted.push(...[5, 4].flatMap((n, k) => Array.from({ length: n }, (_, i) => `java-${k * 2 + 1}-abort-${i}`)))

  // A transaction left open: read_committed stops at its first record.
  ours.beginTransaction()
  const open = ['kw-open-0', 'kw-open-1']
  await ours.send({ topic, messages: open.map((value, i) => ({ value, partition: i % PARTITIONS })) })
  await ours.flush()
  try {
    const rcGroup = testName('rc')
    const rc = new Journal()
    const readCommitted = new Member('read-committed', rc, topic, { groupId: rcGroup, isolationLevel: 'read_committed', autoCommitIntervalMs: 200 }, 0)
    members.push(readCommitted)
    readCommitted.start()
    const all = new Journal()
    const readAll = new Member('read-uncommitted', all, topic, { groupId: testName('ru') }, 0)
    members.push(readAll)
    readAll.start()

    const visible = [...committed, ...plainValues].sort()
    const everything = [...committed, ...aborted, ...plainValues, ...open].sort()
    await until('read_committed saw every committed and plain record', () => rc.count() >= visible.length)
    await until('read_uncommitted saw every record', () => all.count() >= everything.length)
    await sleep(1000) // nothing more may come
    assert.deepEqual(rc.entries.map((e) => e.value).sort(), visible, 'read_committed: committed and plain records, nothing aborted or open')
    assert.deepEqual(all.entries.map((e) => e.value).sort(), everything, 'read_uncommitted: every record')

    // The consumer processed everything below the last stable offset: its commits reach the LSO (the
    // commit markers before it count as processed).
    const lag = readCommitted.consumer.lag()
    t.diagnostic(`read_committed lag: ${lag.map((l) => `p${l.partition} position ${l.position} LSO ${l.endOffset}`).join(', ')}`)
    for (const l of lag) assert.equal(l.position, l.endOffset, `partition ${l.partition}: at the last stable offset`)
    await until('read_committed committed up to the last stable offset', async () => {
      for (const l of lag) if ((await committedOffset(cluster, rcGroup, topic, l.partition)) !== l.endOffset) return false
      return true
    }, 10_000)
  } finally {
    await ours.abortTransaction().catch(() => undefined)
    await ours.close()
    await plain.close()
  }
})
