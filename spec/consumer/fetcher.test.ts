// Leader changes and log truncation (KIP-320): when a partition's leader epoch moves, the position is
// validated against the new leader before reading on; a log truncated below the position is reported and
// consumption continues from the divergence point (or fails with autoOffsetReset 'none'); records
// prefetched from the old leader never reach the application unvalidated; validation errors back off.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { ConsumerMessage } from '../../src/consumer/consumer.js'
import { LogTruncationError } from '../../src/consumer/errors.js'
import { consumerOn, eventually, fakeKafka, sleep, texts } from './support/helpers.js'
import type { FakeKafka } from './support/fake-kafka.js'

/** Ten records, one batch each, so the consumer prefetches them as separate chunks. */
function tenBatches(kafka: FakeKafka): void {
  kafka.createTopic('t', 1)
  for (let i = 0; i < 10; i++) kafka.appendValues('t', 0, [`v${i}`])
}

const tp = { topic: 't', partition: 0 }

describe('leader epochs and truncation (KIP-320)', () => {
  test('a log truncated below the position by an unclean election is reported, and consumption continues from where it diverged', async (t) => {
    const kafka = await fakeKafka(t)
    tenBatches(kafka)
    const c = consumerOn(t, kafka, { autoOffsetReset: 'earliest' })
    const truncations: Array<{ from: bigint; to: bigint }> = []
    c.on('truncation', (e: { from: bigint; to: bigint }) => truncations.push({ from: e.from, to: e.to }))
    c.assign([tp])
    const seen: Array<ConsumerMessage> = []
    const run = c.run({ eachMessage: ({ message }) => void seen.push(message) })
    await eventually(() => assert.equal(seen.length, 10))
    // The new leader lacks offsets 6..9 and takes new writes there.
    kafka.truncateAndElect('t', 0, 6n)
    kafka.appendValues('t', 0, ['x6'])
    kafka.appendValues('t', 0, ['x7'])
    await eventually(() => assert.deepEqual(texts(seen.slice(10)), ['x6', 'x7']))
    assert.deepEqual(truncations, [{ from: 10n, to: 6n }])
    assert.equal(seen[10]!.leaderEpoch, 1)
    await c.close()
    await run
  })

  test("with autoOffsetReset 'none' the truncation is an error the application sees", async (t) => {
    const kafka = await fakeKafka(t)
    tenBatches(kafka)
    const c = consumerOn(t, kafka, { autoOffsetReset: 'none' })
    c.assign([tp])
    c.seek(tp, 0n)
    let n = 0
    const run = c.run({ eachMessage: () => void n++ })
    await eventually(() => assert.equal(n, 10))
    kafka.truncateAndElect('t', 0, 4n)
    await assert.rejects(run, (e: Error) => e instanceof LogTruncationError && (e as LogTruncationError).divergentOffset === 4n && (e as LogTruncationError).position === 10n)
  })

  test('records prefetched from the old leader are dropped on an epoch change and fetched again from the position', async (t) => {
    const kafka = await fakeKafka(t)
    tenBatches(kafka)
    const c = consumerOn(t, kafka, { autoOffsetReset: 'earliest' })
    c.assign([tp])
    const seen: string[] = []
    let release!: () => void
    const released = new Promise<void>((r) => (release = r))
    const run = c.run({
      eachMessage: async ({ message }) => {
        seen.push(message.value!.toString())
        if (message.offset === 4n) await released
      },
    })
    // While the application holds offset 4, offsets 5..9 sit prefetched.
    await eventually(() => assert.ok(kafka.broker.requestsOf(1).some((r) => r.body.topics.some((x: { partitions: Array<{ fetchOffset: bigint }> }) => x.partitions.some((p) => p.fetchOffset === 10n))), 'prefetched up to the end'))
    // The new leader has 5 and 6 but not what followed; it wrote 7', 8', 9' instead.
    kafka.truncateAndElect('t', 0, 7n)
    for (const v of ["v7'", "v8'", "v9'"]) kafka.appendValues('t', 0, [v])
    await eventually(() => assert.ok(kafka.broker.requestsOf(23).length > 0, 'the position was validated'), 5000)
    await sleep(200)
    release()
    await eventually(() => assert.equal(seen.length, 10))
    assert.deepEqual(seen, ['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6', "v7'", "v8'", "v9'"], 'nothing the new leader does not have')
    await c.close()
    await run
  })

  test('a fetch answered with a diverging epoch makes the consumer validate instead of asking again forever', async (t) => {
    const kafka = await fakeKafka(t)
    tenBatches(kafka)
    const c = consumerOn(t, kafka, { autoOffsetReset: 'earliest' })
    c.assign([tp])
    const seen: string[] = []
    const run = c.run({ eachMessage: ({ message }) => void seen.push(message.value!.toString()) })
    await eventually(() => assert.equal(seen.length, 10))
    // The consumer does not learn the new epoch from metadata, and the leader does not fence its
    // fetches: only the divergence check on lastFetchedEpoch can tell.
    kafka.announceEpochs = false
    kafka.fenceStaleEpochs = false
    kafka.truncateAndElect('t', 0, 6n)
    kafka.appendValues('t', 0, ['x6'])
    await eventually(() => assert.deepEqual(seen.slice(10), ['x6']))
    await c.close()
    await run
  })

  test('validation that fails with a retriable error is retried with backoff, not in a loop', async (t) => {
    const kafka = await fakeKafka(t)
    tenBatches(kafka)
    const c = consumerOn(t, kafka, { autoOffsetReset: 'earliest' })
    c.assign([tp])
    let n = 0
    const run = c.run({ eachMessage: () => void n++ })
    await eventually(() => assert.equal(n, 10))
    const refusing = Date.now() + 1000
    kafka.beforeEpochQuery = (req) =>
      Date.now() < refusing
        ? { throttleTimeMs: 0, topics: req.body.topics.map((x: { topic: string; partitions: Array<{ partition: number }> }) => ({ topic: x.topic, partitions: x.partitions.map((p) => ({ errorCode: 6, partition: p.partition, leaderEpoch: -1, endOffset: -1n })) })) }
        : undefined
    kafka.truncateAndElect('t', 0, 10n) // a clean election: same log, new epoch
    kafka.appendValues('t', 0, ['after'])
    await eventually(() => assert.equal(n, 11), 6000)
    const queries = kafka.broker.requestsOf(23).length
    assert.ok(queries >= 2 && queries < 40, `${queries} OffsetForLeaderEpoch requests in about a second of NOT_LEADER_OR_FOLLOWER`)
    await c.close()
    await run
  })
})
