// Three brokers (RF 3, min ISR 2), acks=all, idempotent: the leader of a
// partition is SIGKILLed while records stream in, then restarted. Every
// acknowledged record is in the log exactly once, each partition in send
// order, none lost; every send settles.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Producer } from '../../src/producer/index.js'
import { waitFor } from '../support/kafka.js'
import { unsupportedReason } from '../support/target.js'
import { threeNodeTopic } from '../support/three-nodes.js'
import { readPartition } from '../support/read-partition.js'

const PARTITIONS = 3
const skip = unsupportedReason('three-nodes') ?? false
const three = threeNodeTopic('failover', PARTITIONS, skip)

test('the leader of a partition is killed (SIGKILL) and restarted mid-stream: every acknowledged record once, in order, none lost', { skip }, async (t) => {
  const { brokers, cluster, topic } = three
  const producer = new Producer({ brokers, acks: 'all', lingerMs: 2, batchSize: 4096, requestTimeoutMs: 5000, deliveryTimeoutMs: 120_000, retryBackoff: { initialMs: 50, maxMs: 500 } })
  const sent: string[][] = Array.from({ length: PARTITIONS }, () => [])
  const acked: string[][] = Array.from({ length: PARTITIONS }, () => [])
  const failures: unknown[] = []
  await producer.connect()
  // Brokers learn of a new topic at slightly different times: ask until one names the leader.
  await waitFor(async () => {
    await cluster.refreshMetadata([topic]).catch(() => undefined)
    return cluster.leaderFor(topic, 0) > 0
  }, 'a leader for partition 0')
  const victim = cluster.leaderFor(topic, 0)
  let stop = false
  let n = 0
  const senders = Array.from({ length: 10 }, async (_, w) => {
    for (let c = 0; !stop; c++) {
      const partition = (w + c) % PARTITIONS
      const messages = Array.from({ length: 1 + ((w + c) % 5) }, () => {
        const value = `${partition}:${String(n++).padStart(7, '0')}`
        sent[partition]!.push(value)
        return { value, partition }
      })
      try {
        const metas = await producer.send({ topic, messages })
        metas.forEach((_, i) => acked[partition]!.push(messages[i]!.value))
      } catch (err) {
        failures.push(err)
      }
      await new Promise((r) => setTimeout(r, 5))
    }
  })
  try {
    await new Promise((r) => setTimeout(r, 1500))
    const ackedBeforeKill = acked.flat().length
    await three.kill(victim)
    // The controller fences the dead broker after its session timeout and moves leadership.
    await waitFor(async () => {
      await cluster.refreshMetadata([topic]).catch(() => undefined)
      const l = cluster.leaderFor(topic, 0)
      return l > 0 && l !== victim
    }, 'a new leader for partition 0', 30_000)
    const ackedAfterMove = acked.flat().length
    await new Promise((r) => setTimeout(r, 1500))
    await three.restart(victim)
    await new Promise((r) => setTimeout(r, 1500))
    t.diagnostic(`killed node ${victim}; ${ackedBeforeKill} records acknowledged before the kill, ${ackedAfterMove} when partition 0 had moved`)
  } finally {
    stop = true
    await Promise.all(senders)
    await producer.close()
  }
  assert.deepEqual(failures, [], 'every send succeeds')
  t.diagnostic(`${acked.flat().length} records acknowledged; retried ${producer.metrics().recordsRetried}`)
  for (let p = 0; p < PARTITIONS; p++) {
    // Every acknowledged record has its own offset (idempotence: no duplicates), so the log ends at or past their count.
    const log = (await readPartition(cluster, topic, p, { timeoutMs: 60_000, atLeast: BigInt(acked[p]!.length) })).records.map((r) => r.value!.toString())
    assert.equal(new Set(log).size, log.length, `partition ${p}: no duplicates`)
    assert.deepEqual(log, [...sent[p]!].sort(), `partition ${p}: every record, in send order`)
    assert.deepEqual([...acked[p]!].sort(), log, `partition ${p}: exactly the acknowledged records, none lost`)
  }
})
