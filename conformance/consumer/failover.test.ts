// Three brokers (RF 3, min ISR 2): while a group of two consumers reads a stream of records, the leader of a
// partition is SIGKILLed, and restarted later. The consumers follow the new leaders (KIP-320 validation on
// the epoch change) and nothing is skipped: every offset of every partition up to the log end is processed,
// and every acknowledged record is seen.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { waitFor } from '../support/kafka.js'
import { testName } from '../support/names.js'
import { unsupportedReason } from '../support/target.js'
import { threeNodeTopic } from '../support/three-nodes.js'
import { Producer } from '../../src/producer/index.js'
import { Consumer } from '../../src/consumer/consumer.js'
import { assertComplete, endOffsets, Journal, sleep, until } from './support.js'

const PARTITIONS = 3
const skip = unsupportedReason('three-nodes', 'classic-groups') ?? false
const three = threeNodeTopic('consumer-failover', PARTITIONS, skip)

test('a partition leader is SIGKILLed while a group consumes: no record skipped, every acknowledged record seen', { skip }, async (t) => {
  const { brokers, cluster, topic } = three
  const journal = new Journal()
  const groupId = testName('consumer-failover')
  const consumers = ['c1', 'c2'].map((name) => {
    const c = new Consumer<Buffer | null, string>({
      brokers,
      clientId: `kafkawire-${name}`,
      groupId,
      autoOffsetReset: 'earliest',
      deserializers: { value: 'string' },
      heartbeatIntervalMs: 500,
      sessionTimeoutMs: 10_000,
      autoCommitIntervalMs: 500,
      requestTimeoutMs: 5000,
      retryBackoff: { initialMs: 50, maxMs: 500 },
    })
    c.subscribe([topic])
    const run = c.run({
      eachMessage: ({ message }) => {
        journal.add({ member: name, partition: message.partition, offset: message.offset, value: message.value ?? '', t0: Date.now(), t1: Date.now() })
      },
    })
    return { name, c, run }
  })
  // Closed on every path: a consumer left running keeps the test process (and the run) alive.
  let closing: Promise<unknown> | null = null
  const closeConsumers = (): Promise<unknown> =>
    (closing ??= Promise.all(consumers.map(async ({ c, run }) => {
      await c.close()
      await run
    })))
  try {
    const producer = new Producer({ brokers, acks: 'all', lingerMs: 2, requestTimeoutMs: 5000, deliveryTimeoutMs: 120_000, retryBackoff: { initialMs: 50, maxMs: 500 } })
    const acked = new Set<string>()
    const ackedPer = new Array<number>(PARTITIONS).fill(0)
    const failures: unknown[] = []
    let stop = false
    let n = 0
    await waitFor(async () => {
      await cluster.refreshMetadata([topic]).catch(() => undefined)
      return cluster.leaderFor(topic, 0) > 0
    }, 'a leader for partition 0')
    const victim = cluster.leaderFor(topic, 0)
    const writers = Array.from({ length: 4 }, async (_, w) => {
      while (!stop) {
        const messages = Array.from({ length: 5 }, (_, i) => ({ value: `w${w}-${n++}`, partition: (w + i) % PARTITIONS }))
        try {
          await producer.send({ topic, messages })
          for (const m of messages) {
            acked.add(m.value)
            ackedPer[m.partition]!++
          }
        } catch (err) {
          failures.push(err)
        }
        await sleep(10)
      }
    })
    try {
      await until('the group consuming', () => journal.count() > 200, 60_000)
      await three.kill(victim)
      const killedAt = Date.now()
      await waitFor(async () => {
        await cluster.refreshMetadata([topic]).catch(() => undefined)
        const l = cluster.leaderFor(topic, 0)
        return l > 0 && l !== victim
      }, 'a new leader for partition 0', 30_000)
      const movedAfter = Date.now() - killedAt
      const consumedAtMove = journal.count()
      await sleep(2000)
      await three.restart(victim)
      await sleep(1000)
      t.diagnostic(`killed node ${victim} (leader of partition 0); leadership moved after ${movedAfter} ms; ${consumedAtMove} records consumed by then`)
    } finally {
      stop = true
      await Promise.all(writers)
      await producer.close()
    }
    assert.deepEqual(failures, [], 'every send succeeded')
    // A leader elected a moment ago (the restarted node taking its preferred partitions back) reports its own
    // high watermark, which can lag what was acknowledged until its followers fetch again: ask until the
    // ends cover every acknowledged record (idempotent producer: one offset each, so they are equal).
    const ends = await until('high watermarks covering every acknowledged record', async () => {
      const e = await endOffsets(cluster, topic, PARTITIONS)
      return e.every((end, p) => end >= BigInt(ackedPer[p]!)) ? e : undefined
    }, 30_000)
    await until('every record consumed', () => {
      const got = journal.offsets()
      return ends.every((end, p) => (got.get(p)?.length ?? 0) === Number(end))
    }, 60_000).catch((err: unknown) => {
      const got = journal.offsets()
      const where = ends.map((end, p) => `partition ${p}: ${got.get(p)?.length ?? 0} of ${end} offsets processed, last ${got.get(p)?.at(-1) ?? 'none'}`)
      throw new Error(`${(err as Error).message}; ${where.join('; ')}`)
    })
    await closeConsumers()
    const seen = new Set(journal.entries.map((e) => e.value))
    const missing = [...acked].filter((v) => !seen.has(v))
    t.diagnostic(`${acked.size} records acknowledged, ${journal.count()} processings, ${journal.duplicates().length} processed more than once (allowed: at-least-once across a coordinator failure)`)
    assertComplete(journal, ends, 'after the leader was killed')
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} acknowledged record(s) never consumed`)
  } finally {
    await closeConsumers()
  }
})
