// Positions and commits. Only offsets of processed messages are committed, never for partitions the
// consumer does not own; a seek moves what the next commit says and makes messages handed out before it
// stale; each commit strategy commits when it promises to and not otherwise.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Consumer } from '../../src/consumer/consumer.js'
import { CommitFailedError } from '../../src/consumer/errors.js'
import { consumeUntil, consumerOn, eventually, fakeKafka, sleep, texts } from './support/helpers.js'
import type { FakeKafka } from './support/fake-kafka.js'

function tenRecords(kafka: FakeKafka, topic = 't'): void {
  kafka.createTopic(topic, 1)
  kafka.appendValues(topic, 0, Array.from({ length: 10 }, (_, i) => `v${i}`))
}

describe('commit strategies', () => {
  test("'auto': a handler that fails at offset 5 leaves the committed offset at 5, never past the failed message", async (t) => {
    const kafka = await fakeKafka(t)
    tenRecords(kafka)
    const c = consumerOn(t, kafka, { groupId: 'g', autoOffsetReset: 'earliest', autoCommitIntervalMs: 50 })
    c.subscribe('t')
    await assert.rejects(
      c.run({
        eachMessage: ({ message }) => {
          if (message.offset === 5n) throw new Error('poison')
        },
      }),
      /poison/,
    )
    await c.close()
    assert.equal(kafka.committed('g', 't', 0), 5n)
    assert.ok(kafka.commits.every((x) => x.offset <= 5n), `commits: ${kafka.commits.map((x) => x.offset).join(',')}`)
  })

  test("'auto' commits processed offsets on its interval, without being asked", async (t) => {
    const kafka = await fakeKafka(t)
    tenRecords(kafka)
    const c = consumerOn(t, kafka, { groupId: 'g', autoOffsetReset: 'earliest', autoCommitIntervalMs: 50 })
    c.subscribe('t')
    await consumeUntil(c, (all) => all.length === 10)
    await eventually(() => assert.equal(kafka.committed('g', 't', 0), 10n))
  })

  test("'auto' commits where the reset policy put a partition it consumed nothing from, so a restart does not skip records written meanwhile", async (t) => {
    const kafka = await fakeKafka(t)
    tenRecords(kafka)
    kafka.createTopic('empty', 1)
    const c = consumerOn(t, kafka, { groupId: 'g', autoOffsetReset: 'latest', autoCommitIntervalMs: 50 })
    c.subscribe(['t', 'empty'])
    const run = c.run({ eachMessage: () => undefined })
    // Nothing was processed: 't' was reset to its end (10), 'empty' to 0; both are committed there.
    await eventually(() => {
      assert.equal(kafka.committed('g', 't', 0), 10n)
      assert.equal(kafka.committed('g', 'empty', 0), 0n)
    })
    await c.close()
    await run
    // Records written while the group is away are read by the next member, not reset past.
    kafka.appendValues('t', 0, ['after-1', 'after-2'])
    const next = consumerOn(t, kafka, { groupId: 'g', autoOffsetReset: 'latest' })
    next.subscribe('t')
    assert.deepEqual(texts(await consumeUntil(next, (all) => all.length === 2)), ['after-1', 'after-2'])
  })

  test("'manual': nothing is committed unless commit() is called — not on an interval, not on close", async (t) => {
    const kafka = await fakeKafka(t)
    tenRecords(kafka)
    const c = consumerOn(t, kafka, { groupId: 'g', autoOffsetReset: 'earliest', commitStrategy: 'manual', autoCommitIntervalMs: 50 })
    c.subscribe('t')
    await consumeUntil(c, (all) => all.length === 10)
    await sleep(300)
    assert.equal(kafka.commits.length, 0)
    await eventually(async () => {
      await c.commit()
      assert.equal(kafka.committed('g', 't', 0), 10n)
    })
    const before = kafka.commits.length
    await c.close()
    assert.equal(kafka.commits.length, before, 'close commits nothing by itself')
  })

  test("'checkpoint': commits on checkpoint() and when partitions leave (close), not on an interval", async (t) => {
    const kafka = await fakeKafka(t)
    tenRecords(kafka)
    const c = consumerOn(t, kafka, { groupId: 'g', autoOffsetReset: 'earliest', commitStrategy: 'checkpoint', autoCommitIntervalMs: 50 })
    c.subscribe('t')
    const seen: bigint[] = []
    let checkpointed = false
    const run = c.run({
      eachMessage: async ({ message }) => {
        seen.push(message.offset)
        if (message.offset === 3n) {
          await c.checkpoint()
          checkpointed = true
        }
      },
    })
    await eventually(() => assert.equal(seen.length, 10))
    assert.ok(checkpointed, 'the handler checkpointed')
    assert.equal(kafka.committed('g', 't', 0), 3n, 'the checkpoint inside the handler of offset 3 covers 0..2 only')
    await sleep(200)
    assert.equal(kafka.committed('g', 't', 0), 3n, 'no interval commits')
    await c.close()
    await run
    assert.equal(kafka.committed('g', 't', 0), 10n, 'close commits what was processed')
  })

  test('commit() of explicit offsets refuses partitions the consumer does not own, and sends nothing', async (t) => {
    const kafka = await fakeKafka(t)
    tenRecords(kafka)
    kafka.createTopic('other', 1)
    const c = consumerOn(t, kafka, { groupId: 'g', autoOffsetReset: 'earliest', commitStrategy: 'manual' })
    c.subscribe('t')
    await consumeUntil(c, (all) => all.length >= 1)
    await assert.rejects(c.commit([{ topic: 'other', partition: 0, offset: 3n }]), CommitFailedError)
    await assert.rejects(c.commit([{ topic: 't', partition: 0, offset: 3n }, { topic: 't', partition: 1, offset: 3n }]), CommitFailedError)
    assert.equal(kafka.commits.length, 0)
    await c.commit([{ topic: 't', partition: 0, offset: 4n }])
    assert.equal(kafka.committed('g', 't', 0), 4n)
  })

  test('no commit ever names a partition the member did not own at that moment, across rebalances', async (t) => {
    const kafka = await fakeKafka(t)
    kafka.createTopic('t', 4)
    for (let p = 0; p < 4; p++) kafka.appendValues('t', p, Array.from({ length: 50 }, (_, i) => `p${p}-${i}`))
    const owned = new Map<string, Set<number>>()
    const violations: string[] = []
    const track = (name: string, c: Consumer): void => {
      const set = new Set<number>()
      owned.set(name, set)
      c.on('assigned', (tps: Array<{ partition: number }>) => tps.forEach((tp) => set.add(tp.partition)))
      // Revocation commits before 'revoked' is emitted: ownership ends after it.
      c.on('revoked', (tps: Array<{ partition: number }>) => tps.forEach((tp) => set.delete(tp.partition)))
      c.on('lost', (tps: Array<{ partition: number }>) => tps.forEach((tp) => set.delete(tp.partition)))
      c.on('commit', (offsets: Array<{ partition: number }>) => {
        for (const o of offsets) if (!set.has(o.partition)) violations.push(`${name} committed partition ${o.partition} it does not own`)
      })
    }
    const slow = async (): Promise<void> => sleep(5)
    const a = consumerOn(t, kafka, { groupId: 'g', autoOffsetReset: 'earliest', autoCommitIntervalMs: 30 })
    track('a', a)
    a.subscribe('t')
    const runA = a.run({ eachMessage: slow })
    await eventually(() => assert.ok(kafka.commits.length > 2, `a commits: ${kafka.commits.length}`))
    const b = consumerOn(t, kafka, { groupId: 'g', autoOffsetReset: 'earliest', autoCommitIntervalMs: 30 })
    track('b', b)
    b.subscribe('t')
    const runB = b.run({ eachMessage: slow })
    await eventually(() => assert.ok(owned.get('b')!.size === 2 && owned.get('a')!.size === 2, `a owns ${[...owned.get('a')!]}, b owns ${[...owned.get('b')!]}`), 8000)
    await sleep(300)
    await b.close()
    await eventually(() => assert.equal(owned.get('a')!.size, 4), 8000)
    await a.close()
    await Promise.all([runA, runB])
    assert.deepEqual(violations, [])
    // And the broker refused none as coming from outside the group or its generation (a commit may
    // meet a rebalance in progress: REBALANCE_IN_PROGRESS, and the next interval commits again).
    assert.deepEqual(kafka.commits.filter((x) => x.errorCode !== 0 && x.errorCode !== 27), [])
  })
})

describe('positions and seeking', () => {
  test('seek() right after assign(), before consuming starts, sets where consumption begins', async (t) => {
    const kafka = await fakeKafka(t)
    tenRecords(kafka)
    const c = consumerOn(t, kafka, {})
    c.assign([{ topic: 't', partition: 0 }])
    c.seek({ topic: 't', partition: 0 }, 7n)
    assert.deepEqual(texts(await consumeUntil(c, (all) => all.length === 3)), ['v7', 'v8', 'v9'])
  })

  test('with a group, a seek after assign() wins over the committed offset', async (t) => {
    const kafka = await fakeKafka(t)
    tenRecords(kafka)
    kafka.offsets.set('g', new Map([['t\u00000', { offset: 2n, leaderEpoch: -1, metadata: null }]]))
    const c = consumerOn(t, kafka, { groupId: 'g', commitStrategy: 'manual' })
    c.assign([{ topic: 't', partition: 0 }])
    c.seek({ topic: 't', partition: 0 }, 8n)
    assert.deepEqual(texts(await consumeUntil(c, (all) => all.length === 2)), ['v8', 'v9'])
    const other = consumerOn(t, kafka, { groupId: 'g', commitStrategy: 'manual' })
    other.assign([{ topic: 't', partition: 0 }])
    assert.deepEqual(texts(await consumeUntil(other, (all) => all.length === 1)), ['v2'], 'without a seek: the committed offset')
  })

  test('a seek inside the handler: the rest of the chunk is dropped, and the message in hand does not move the commit past the seek', async (t) => {
    const kafka = await fakeKafka(t)
    tenRecords(kafka)
    const c = consumerOn(t, kafka, { groupId: 'g', autoOffsetReset: 'earliest', commitStrategy: 'manual' })
    c.subscribe('t')
    const seen: bigint[] = []
    let sought = false
    let committedAfterSeek: bigint | null = null
    const done = new Promise<void>((resolve, reject) => {
      c.run({
        eachMessage: async ({ message, topic, partition }) => {
          seen.push(message.offset)
          if (message.offset === 5n && !sought) {
            sought = true
            c.seek({ topic, partition }, 2n)
            return
          }
          if (sought && committedAfterSeek === null) {
            // The first message after the seek: commit what is processed so far.
            await c.commit()
            committedAfterSeek = kafka.committed('g', 't', 0)
          }
          if (message.offset === 9n && sought) resolve()
        },
      }).catch(reject)
    })
    await done
    assert.deepEqual(seen, [0n, 1n, 2n, 3n, 4n, 5n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n])
    assert.equal(committedAfterSeek, 2n, 'the commit says "continue at 2", not "at 6"')
  })

  test('the async iterator counts a message as processed when the next one is requested', async (t) => {
    const kafka = await fakeKafka(t)
    tenRecords(kafka)
    const c = consumerOn(t, kafka, { groupId: 'g', autoOffsetReset: 'earliest', commitStrategy: 'manual' })
    c.subscribe('t')
    const it = c[Symbol.asyncIterator]()
    const first = await it.next()
    assert.equal(first.value!.offset, 0n)
    // The reset put the position at 0, and offset 0 is still in the application's hands: a commit says
    // "continue at 0", never past it.
    await c.commit()
    assert.equal(kafka.committed('g', 't', 0), 0n)
    await it.next()
    await c.commit()
    assert.equal(kafka.committed('g', 't', 0), 1n)
    assert.equal(c.position({ topic: 't', partition: 0 }), 10n, 'the position is past the chunk handed out')
    await it.return!(undefined)
    assert.throws(() => c.position({ topic: 'nope', partition: 0 }), /not assigned/)
  })

  test('seek() refuses partitions not assigned and negative offsets', async (t) => {
    const kafka = await fakeKafka(t)
    tenRecords(kafka)
    const c = consumerOn(t, kafka, {})
    c.assign([{ topic: 't', partition: 0 }])
    assert.throws(() => c.seek({ topic: 't', partition: 1 }, 0n), /not assigned/)
    assert.throws(() => c.seek({ topic: 't', partition: 0 }, -1n), /non-negative/)
  })
})
