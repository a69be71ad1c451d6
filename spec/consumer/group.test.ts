// A classic group member against a coordinator that expires sessions as the broker does: slow processing
// must not cost the member its session, even while a rebalance waits for that processing; a member whose
// processing stalls beyond maxProcessingIntervalMs leaves cleanly and comes back when it resumes; commits
// retried across a rebalance carry the member's current generation.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Consumer } from '../../src/consumer/consumer.js'
import { consumerOn, eventually, fakeKafka, sleep } from './support/helpers.js'
import type { FakeKafka } from './support/fake-kafka.js'

interface Trace {
  assigned: number[][]
  revoked: number[][]
  lost: number[][]
  stalled: number
}

function trace(c: Consumer): Trace {
  const t: Trace = { assigned: [], revoked: [], lost: [], stalled: 0 }
  c.on('assigned', (tps: Array<{ partition: number }>) => t.assigned.push(tps.map((x) => x.partition)))
  c.on('revoked', (tps: Array<{ partition: number }>) => t.revoked.push(tps.map((x) => x.partition)))
  c.on('lost', (tps: Array<{ partition: number }>) => t.lost.push(tps.map((x) => x.partition)))
  c.on('stalled', () => t.stalled++)
  return t
}

function twoPartitions(kafka: FakeKafka): void {
  kafka.createTopic('t', 2)
  for (const p of [0, 1]) kafka.appendValues('t', p, ['a', 'b', 'c'].map((v) => `${v}${p}`))
}

describe('heartbeats while revocation waits for processing', () => {
  for (const assignor of ['cooperative-sticky', 'range'] as const) {
    test(`${assignor}: a handler slower than the session timeout, during a rebalance, costs the member neither its session nor its partitions`, async (t) => {
      const kafka = await fakeKafka(t)
      twoPartitions(kafka)
      const opts = { groupId: 'g', autoOffsetReset: 'earliest' as const, sessionTimeoutMs: 1000, heartbeatIntervalMs: 100, assignors: [assignor], maxProcessingIntervalMs: 60_000 }
      const a = consumerOn(t, kafka, opts)
      const ta = trace(a)
      a.subscribe('t')
      let blocking = false
      let released = false
      const runA = a.run({
        eachMessage: async () => {
          if (!released) {
            blocking = true
            await sleep(2500) // 2.5 session timeouts
            released = true
          }
        },
      })
      await eventually(() => assert.ok(blocking, 'the slow handler is running'))
      const b = consumerOn(t, kafka, opts)
      const tb = trace(b)
      b.subscribe('t')
      const runB = b.run({ eachMessage: () => undefined })
      await eventually(() => assert.deepEqual(tb.assigned.flat().length, 1), 8000)
      assert.ok(released, 'the partition moved only after the slow handler finished')
      assert.deepEqual(kafka.eventsOf('g', 'expired'), [], 'no session expired')
      assert.deepEqual(ta.lost, [], 'a lost nothing')
      assert.equal(ta.revoked.flat().length, assignor === 'range' ? 2 : 1, 'a gave back (eager: everything; cooperative: the moving partition) after processing')
      await sleep(300)
      await Promise.all([a.close(), b.close()])
      await Promise.all([runA, runB])
    })
  }
})

describe('partitions revoked and assigned again', () => {
  test('eager: a fetch still in flight from before the revocation is not taken for the new assignment (nothing skipped, nothing twice)', async (t) => {
    const kafka = await fakeKafka(t)
    kafka.createTopic('t', 2)
    // Batches of five: a revocation stops the application inside a batch, whose end the fetch position is past.
    for (let i = 0; i < 40; i += 5) kafka.appendValues('t', 0, Array.from({ length: 5 }, (_, k) => `p0-${i + k}`))
    const opts = { groupId: 'g', autoOffsetReset: 'earliest' as const, assignors: ['range' as const], heartbeatIntervalMs: 50, maxPartitionBytes: 200 }
    const seen: Array<{ who: string; offset: bigint }> = []
    const a = consumerOn(t, kafka, opts)
    a.subscribe('t')
    const runA = a.run({
      eachMessage: async ({ message, partition }) => {
        if (partition === 0) seen.push({ who: 'a', offset: message.offset })
        await sleep(40)
      },
    })
    await eventually(() => assert.ok(seen.length >= 5, 'a is consuming'))
    // b joins: a gives everything back (eager), and range gives partition 0 back to a. Meanwhile fetch
    // answers are slow: the one in flight when a revoked arrives after partition 0 was assigned again.
    kafka.fetchDelayMs = 1000
    const b = consumerOn(t, kafka, opts)
    b.subscribe('t')
    const runB = b.run({ eachMessage: ({ message, partition }) => void (partition === 0 && seen.push({ who: 'b', offset: message.offset })) })
    await eventually(() => assert.ok(b.assignment().length > 0, 'b is assigned'), 8000)
    await sleep(1500)
    kafka.fetchDelayMs = 0
    await eventually(() => assert.ok(seen.some((x) => x.offset === 39n), 'partition 0 read to its end'), 15_000)
    await Promise.all([a.close(), b.close()])
    await Promise.all([runA, runB])
    const offsets = seen.map((x) => x.offset)
    assert.deepEqual([...new Set(offsets)].sort((x, y) => (x < y ? -1 : 1)), Array.from({ length: 40 }, (_, i) => BigInt(i)), 'every offset of partition 0 processed')
    assert.equal(offsets.length, 40, `nothing processed twice: ${offsets.join(',')}`)
  })
})

describe('stalled processing (maxProcessingIntervalMs)', () => {
  test('a handler stuck beyond maxProcessingIntervalMs: the member leaves the group cleanly, its partitions count as lost, and it rejoins once the handler returns', async (t) => {
    const kafka = await fakeKafka(t)
    twoPartitions(kafka)
    const c = consumerOn(t, kafka, { groupId: 'g', autoOffsetReset: 'earliest', maxProcessingIntervalMs: 400, autoCommitIntervalMs: 50 })
    const tc = trace(c)
    c.subscribe('t')
    const seen: string[] = []
    let stuck = true
    const run = c.run({
      eachMessage: async ({ message }) => {
        seen.push(`${message.partition}@${message.offset}`)
        if (stuck) {
          await sleep(1500)
          stuck = false
        }
      },
    })
    await eventually(() => assert.equal(tc.stalled, 1), 3000)
    await eventually(() => assert.equal(kafka.eventsOf('g', 'left').length, 1), 3000)
    await eventually(() => assert.deepEqual(tc.lost.flat().sort(), [0, 1]), 3000)
    const firstMember = kafka.eventsOf('g', 'left')[0]!.memberId!
    // Back in the group once processing resumed, and everything gets processed (the stalled
    // message again: its partition was lost, so its offset was never committed).
    await eventually(() => assert.equal(seen.filter((s) => s.endsWith('@2')).length, 2), 8000)
    assert.ok(tc.assigned.length >= 2, 'assigned again after rejoining')
    assert.ok(kafka.eventsOf('g', 'joined').some((e) => e.memberId !== firstMember), 'rejoined as a new member')
    assert.ok(
      kafka.commits.filter((x) => x.memberId === firstMember && x.errorCode === 0).every((x) => x.at <= kafka.eventsOf('g', 'left')[0]!.at),
      'nothing committed for the old membership after it left',
    )
    await c.close()
    await run
  })
})

describe('commit retries across a rebalance', () => {
  test('a commit retried after the group moved to a new generation carries the new generation, succeeds, and triggers no extra rebalance', async (t) => {
    const kafka = await fakeKafka(t)
    kafka.createTopic('t', 1)
    kafka.createTopic('u', 1)
    kafka.appendValues('t', 0, ['a', 'b', 'c'])
    // Retries of a's requests wait 1.5 s: long enough for the group to move on in between.
    const a = consumerOn(t, kafka, { groupId: 'g', autoOffsetReset: 'earliest', commitStrategy: 'manual', heartbeatIntervalMs: 50, retryBackoff: { initialMs: 1500, maxMs: 1500 } })
    a.subscribe('t')
    let processed = 0
    const runA = a.run({ eachMessage: () => void processed++ })
    await eventually(() => assert.equal(processed, 3))
    let b: Consumer | null = null
    kafka.beforeCommit = (req) => {
      if (b !== null) return undefined
      // The coordinator answers the first attempt with a retriable error (NOT_COORDINATOR)...
      // ...and before the retry, another member joins: the generation moves on.
      b = consumerOn(t, kafka, { groupId: 'g', autoOffsetReset: 'earliest', heartbeatIntervalMs: 50 })
      b.subscribe('u')
      void b.run({ eachMessage: () => undefined })
      return { throttleTimeMs: 0, topics: req.body.topics.map((x: { name?: string; topicId?: string; partitions: Array<{ partitionIndex: number }> }) => ({ name: x.name, topicId: x.topicId, partitions: x.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: 16 })) })) }
    }
    await a.commit()
    const generation = kafka.group('g').generation
    assert.ok(generation >= 2, 'the group moved on while the commit waited for its retry')
    assert.equal(kafka.committed('g', 't', 0), 3n)
    assert.equal(kafka.commits.at(-1)!.generation, generation, 'the retry carried the current generation')
    await sleep(500)
    assert.equal(kafka.group('g').generation, generation, 'no rebalance followed the commit')
    await Promise.all([a.close(), (b as Consumer | null)?.close()])
    await runA
  })
})
