// A kafkawire consumer and a Java consumer in one group, under range (eager) and cooperative-sticky
// (cooperative): each in turn is the group leader and assigns the other; the coordinator's view of the
// group shows both with disjoint assignments covering every partition; while records stream in, every
// record is processed, by one member at a time, once.
import assert from 'node:assert/strict'
import { after, before, describe, test, type TestContext } from 'node:test'
import { Admin } from '../../src/client/admin/index.js'
import type { Cluster } from '../../src/client/cluster.js'
import { brokers, createTopic, deleteTopic, noBrokers, plumbing, topicName } from '../support/kafka.js'
import { testName } from '../support/names.js'
import { unsupportedReason } from '../support/target.js'
import { assertComplete, balanced, endOffsets, JavaMember, Journal, Member, producer, sleep, until } from './support.js'

const PARTITIONS = 6
// Members join and leave a group of several dynamic members: a rebalance has to complete each time.
const skip = noBrokers || (unsupportedReason('classic-groups', 'classic-rebalance', 'java-tools') ?? false)
let cluster: Cluster
let admin: Admin
const topics: string[] = []
const cleanup: Array<() => Promise<void> | void> = []

before(async () => {
  if (skip) return
  cluster = await plumbing()
  admin = new Admin({ brokers, clientId: 'kafkawire-interop-conformance' })
})

after(async () => {
  if (skip) return
  for (const c of cleanup) await Promise.resolve(c()).catch(() => undefined)
  await deleteTopic(cluster, ...topics)
  await admin.close()
  await cluster.close()
})

/** The group as the coordinator describes it: protocol, and each member's assigned partitions. */
async function describe_(groupId: string): Promise<{ protocol: string; assignments: number[][] }> {
  const [g] = await admin.describeGroups([groupId])
  assert.ok(g !== undefined && g.error === null, `describeGroups: ${g?.error?.message}`)
  assert.equal(g.type, 'classic')
  if (g.type !== 'classic') throw new Error('not a classic group')
  return {
    protocol: g.protocol,
    assignments: g.members.map((m) => (m.assignment?.assignedPartitions ?? []).flatMap((x) => x.partitions).sort((a, b) => a - b)),
  }
}

async function mixedGroup(t: TestContext, ours: 'range' | 'cooperative-sticky', java: string): Promise<void> {
  const topic = topicName(`interop-${ours}`)
  topics.push(topic)
  await createTopic(cluster, topic, { partitions: PARTITIONS })
  const groupId = testName(`interop-${ours}`)
  const journal = new Journal()
  const p = producer()
  let streaming = true
  let sent = 0
  const writer = (async () => {
    while (streaming) {
      await p.send({ topic, messages: Array.from({ length: 12 }, (_, i) => ({ value: `r-${sent + i}`, partition: (sent + i) % PARTITIONS })) })
      sent += 12
      await sleep(40)
    }
  })()
  const opts = { groupId, assignors: [ours], heartbeatIntervalMs: 500, sessionTimeoutMs: 10_000, autoCommitIntervalMs: 500 }
  const a = new Member('kw-a', journal, topic, opts)
  const j = new JavaMember('java', journal, topic, groupId, java)
  const b = new Member('kw-b', journal, topic, opts)
  cleanup.push(() => a.close(), () => b.close(), () => j.kill())
  try {
    // 1. kafkawire leads and assigns the Java member.
    a.start()
    await balanced([a], PARTITIONS)
    await j.start()
    await balanced([a, j], PARTITIONS, 60_000)
    const first = await describe_(groupId)
    assert.equal(first.protocol, ours)
    assert.equal(first.assignments.length, 2)
    assert.deepEqual(first.assignments.flat().sort((x, y) => x - y), [0, 1, 2, 3, 4, 5], 'kafkawire as leader: disjoint assignments covering every partition')
    // 2. kafkawire leaves; the Java member leads and assigns a new kafkawire member.
    await a.close()
    await balanced([j], PARTITIONS, 60_000)
    b.start()
    await balanced([j, b], PARTITIONS, 60_000)
    const second = await describe_(groupId)
    assert.equal(second.protocol, ours)
    assert.deepEqual(second.assignments.flat().sort((x, y) => x - y), [0, 1, 2, 3, 4, 5], 'the Java member as leader: disjoint assignments covering every partition')
    await sleep(500)
  } finally {
    streaming = false
    await writer
    await p.close()
  }
  const ends = await endOffsets(cluster, topic, PARTITIONS)
  await until('every record processed', () => {
    const got = journal.offsets()
    return ends.every((end, part) => (got.get(part)?.length ?? 0) === Number(end))
  }, 60_000)
  await Promise.all([b.close(), j.close()])
  const byMember = new Map<string, number>()
  for (const e of journal.entries) byMember.set(e.member, (byMember.get(e.member) ?? 0) + 1)
  t.diagnostic(`${sent} records: ${[...byMember].map(([m, n]) => `${m} ${n}`).join(', ')}; java assignments ${j.assignments.map((x) => `[${x}]`).join('')}`)
  assert.ok((byMember.get('java') ?? 0) > 0 && (byMember.get('kw-a') ?? 0) > 0 && (byMember.get('kw-b') ?? 0) > 0, 'every member processed records')
  assert.deepEqual(journal.overlaps(), [], 'no record processed by two members at once')
  assertComplete(journal, ends, 'mixed group')
  assert.deepEqual(journal.duplicates(), [], 'every record processed once')
}

describe('kafkawire and Java consumers in one group', { skip }, () => {
  test('range (eager): either one leading, they split the partitions and every record is processed once', async (t) => {
    await mixedGroup(t, 'range', 'org.apache.kafka.clients.consumer.RangeAssignor')
  })

  test('cooperative-sticky (cooperative): either one leading, they split the partitions and every record is processed once', async (t) => {
    await mixedGroup(t, 'cooperative-sticky', 'org.apache.kafka.clients.consumer.CooperativeStickyAssignor')
  })
})
