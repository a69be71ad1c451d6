// Consumer groups on a real broker: members joining and leaving while records stream in (every record
// processed, none by two members at once, committed offsets where a new member continues exactly), a handler
// slower than the session timeout (no rebalance), a static member restarting within its session (no
// rebalance for the others), and the same churn with the KIP-848 protocol.
import assert from 'node:assert/strict'
import { after, before, describe, test, type TestContext } from 'node:test'
import type { Cluster } from '../../src/client/cluster.js'
import { createTopic, committedOffset, deleteTopic, noBrokers, plumbing, topicName } from '../support/kafka.js'
import { testName } from '../support/names.js'
import { unsupportedReason } from '../support/target.js'
import { assertComplete, balanced, endOffsets, Journal, Member, producer, sleep, until } from './support.js'

const skip = noBrokers || (unsupportedReason('classic-groups') ?? false)
const skip848 = noBrokers || (unsupportedReason('kip848') ?? false)
let cluster: Cluster
const topics: string[] = []
const members: Member[] = []
const writers: Array<{ stop: () => Promise<number> }> = []

before(async () => {
  if (skip) return
  cluster = await plumbing()
})

after(async () => {
  if (skip) return
  // A test that failed midway leaves its writer running (the process would never exit).
  await Promise.all(writers.map((w) => w.stop().catch(() => 0)))
  await Promise.all(members.map((m) => m.close().catch(() => undefined)))
  await deleteTopic(cluster, ...topics)
  await cluster.close()
})

async function newTopic(what: string, partitions: number): Promise<string> {
  const t = topicName(what)
  topics.push(t)
  await createTopic(cluster, t, { partitions })
  return t
}

function member(name: string, journal: Journal, topic: string, o: ConstructorParameters<typeof Member>[3], processMs?: number): Member {
  const m = new Member(name, journal, topic, o, processMs)
  members.push(m)
  return m
}

/**
 * Sends records round-robin over the partitions until stopped; resolves with how many. `perPartition`
 * records go to each partition per request, i.e. record batches of that size.
 */
function stream(topic: string, partitions: number, perPartition = 2): { stop: () => Promise<number> } {
  const p = producer()
  let stopped = false
  let n = 0
  const size = perPartition * partitions
  const loop = (async () => {
    while (!stopped) {
      await p.send({ topic, messages: Array.from({ length: size }, (_, i) => ({ value: `r-${n + i}`, partition: (n + i) % partitions })) })
      n += size
      await sleep(40)
    }
  })()
  let done: Promise<number> | null = null
  const w = {
    stop: () =>
      (done ??= (async () => {
        stopped = true
        await loop
        await p.close()
        return n
      })()),
  }
  writers.push(w)
  return w
}

async function churn(t: TestContext, o: { groupProtocol: 'classic' | 'consumer'; partitions: number }): Promise<{ topic: string; groupId: string; journal: Journal; ends: bigint[] }> {
  const topic = await newTopic(`churn-${o.groupProtocol}`, o.partitions)
  const groupId = testName(`churn-${o.groupProtocol}`)
  const journal = new Journal()
  const opts = { groupId, groupProtocol: o.groupProtocol, heartbeatIntervalMs: 500, sessionTimeoutMs: 10_000, autoCommitIntervalMs: 500 }
  const writer = stream(topic, o.partitions)
  const m1 = member('m1', journal, topic, opts).start()
  await balanced([m1], o.partitions)
  const m2 = member('m2', journal, topic, opts).start()
  await balanced([m1, m2], o.partitions)
  const m3 = member('m3', journal, topic, opts).start()
  await balanced([m1, m2, m3], o.partitions)
  await m1.close()
  await balanced([m2, m3], o.partitions)
  const m4 = member('m4', journal, topic, opts).start()
  await balanced([m2, m3, m4], o.partitions)
  await sleep(500)
  const sent = await writer.stop()
  const ends = await endOffsets(cluster, topic, o.partitions)
  assert.equal(ends.reduce((a, b) => a + b, 0n), BigInt(sent))
  await until('every record processed', () => {
    const got = journal.offsets()
    return ends.every((end, p) => (got.get(p)?.length ?? 0) === Number(end))
  })
  await Promise.all([m2.close(), m3.close(), m4.close()])
  t.diagnostic(`${sent} records, ${journal.count()} processings; assignments: ${[m1, m2, m3, m4].map((m) => `${m.name} ${m.assignments.map((a) => `[${a}]`).join('')}`).join(', ')}`)
  assert.deepEqual(journal.overlaps(), [], 'no record processed by two members at once')
  assertComplete(journal, ends, 'after the churn')
  assert.deepEqual(journal.duplicates(), [], 'members left and joined cleanly: nothing processed twice')
  return { topic, groupId, journal, ends }
}

describe('classic consumer groups', { skip }, () => {
  test('three members joining and leaving while records stream in: every record processed, none by two members at once; a new member continues exactly after the committed offsets', { skip: unsupportedReason('classic-rebalance') ?? false }, async (t) => {
    const { topic, groupId, ends } = await churn(t, { groupProtocol: 'classic', partitions: 6 })
    for (let p = 0; p < 6; p++) assert.equal(await committedOffset(cluster, groupId, topic, p), ends[p], `partition ${p}: committed offset is the log end`)

    // The group restarts: a new member starts exactly where the last one committed.
    const more = producer()
    await Promise.all(Array.from({ length: 6 }, (_, p) => more.send({ topic, messages: Array.from({ length: 5 }, (_, i) => ({ value: `more-${p}-${i}`, partition: p })) })))
    await more.close()
    const journal = new Journal()
    const m5 = member('m5', journal, topic, { groupId, heartbeatIntervalMs: 500 }).start()
    await until('the new records processed', () => journal.count() >= 30)
    await sleep(300)
    await m5.close()
    const first = new Map<number, bigint>()
    for (const e of journal.entries) if (!first.has(e.partition)) first.set(e.partition, e.offset)
    for (let p = 0; p < 6; p++) assert.equal(first.get(p), ends[p], `partition ${p}: the first record after the restart is the committed offset`)
    assert.equal(journal.count(), 30, 'exactly the new records')
  })

  test('a handler slower than the session timeout (6 s session, 10 s handler) causes no rebalance', async (t) => {
    const topic = await newTopic('slow', 1)
    const groupId = testName('slow')
    const journal = new Journal()
    const m = member('slow', journal, topic, { groupId, sessionTimeoutMs: 6000, heartbeatIntervalMs: 1000 })
    const p = producer()
    await p.send({ topic, messages: [{ value: 'slow-0' }, { value: 'fast-1' }, { value: 'fast-2' }] })
    await p.close()
    let generation = -1
    m.start(async (msg) => {
      if (msg.offset === 0n) {
        generation = m.consumer.groupMetadata().generationId
        await sleep(10_000)
      }
    })
    await until('three records processed', () => journal.count() === 3, 40_000)
    const after = m.consumer.groupMetadata().generationId
    const changes = journal.events.filter((e) => e.type !== 'assigned')
    await m.close()
    t.diagnostic(`generation ${generation} before, ${after} after the 10 s handler`)
    assert.deepEqual(m.assignments, [[0]], 'assigned once')
    assert.deepEqual(changes, [], 'no revocation or loss before closing')
    assert.equal(after, generation, 'the same generation: no rebalance')
    assert.equal(await committedOffset(cluster, groupId, topic, 0), 3n)
  })

  test('a static member restarting within its session timeout causes no rebalance for the others, and continues where it committed', { skip: unsupportedReason('static-rejoin') ?? false }, async (t) => {
    const topic = await newTopic('static', 3)
    const groupId = testName('static')
    const journal = new Journal()
    const opts = (id: string) => ({ groupId, groupInstanceId: `${groupId}-${id}`, sessionTimeoutMs: 20_000, heartbeatIntervalMs: 500 })
    // One record per batch: the restarted member starts at its committed offset, always a batch boundary then.
    // (Not what this test is about: a Fetch inside a batch is 'fetch-mid-batch', which Tansu answers from the
    // next batch on.)
    const writer = stream(topic, 3, 1)
    const [a, b, c] = ['a', 'b', 'c'].map((id) => member(`static-${id}`, journal, topic, opts(id)).start()) as [Member, Member, Member]
    await balanced([a, b, c], 3)
    await sleep(1000)
    const generation = a.consumer.groupMetadata().generationId
    const eventsBefore = journal.events.filter((e) => e.member !== 'static-b').length
    const bOwned = b.owned()
    await b.close()
    const b2 = member('static-b2', journal, topic, opts('b')).start()
    await until('the restarted member owns its partitions again', () => b2.owned().join() === bOwned.join() || undefined)
    await sleep(2000)
    const sent = await writer.stop()
    const ends = await endOffsets(cluster, topic, 3)
    await until('every record processed', () => journal.offsets().size === 3 && ends.every((end, p) => (journal.offsets().get(p)?.length ?? 0) === Number(end)))
    const others = journal.events.filter((e) => e.member !== 'static-b' && e.member !== 'static-b2')
    t.diagnostic(`${sent} records; b owned [${bOwned}], b2 [${b2.owned()}]; generation ${generation} -> ${a.consumer.groupMetadata().generationId}`)
    assert.equal(others.length, eventsBefore, `no assignment change for the other members: ${JSON.stringify(others.slice(eventsBefore))}`)
    assert.equal(a.consumer.groupMetadata().generationId, generation, 'the same generation')
    assert.equal(c.consumer.groupMetadata().generationId, generation)
    await Promise.all([a.close(), b2.close(), c.close()])
    assert.deepEqual(journal.overlaps(), [])
    assertComplete(journal, ends, 'static restart')
    assert.deepEqual(journal.duplicates(), [], 'the restarted member continued exactly where the first one committed')
  })
})

describe('KIP-848 consumer groups', { skip: skip848 }, () => {
  test("groupProtocol 'consumer': three members joining and leaving while records stream in: every record processed, none by two members at once", async (t) => {
    const { topic, groupId, ends } = await churn(t, { groupProtocol: 'consumer', partitions: 6 })
    for (let p = 0; p < 6; p++) assert.equal(await committedOffset(cluster, groupId, topic, p), ends[p], `partition ${p}: committed offset is the log end`)
  })
})
