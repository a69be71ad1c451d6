// A KIP-848 member (groupProtocol 'consumer') against a scripted coordinator: it reconciles toward the
// assignment the coordinator sends, keeps heartbeating while a revocation waits for in-flight processing,
// reports a revoked partition as owned until the revocation is complete, and after being fenced treats its
// partitions as lost and rejoins with epoch 0.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { MockRequest } from '../support/mock-broker.js'
import { consumerOn, eventually, fakeKafka, sleep } from './support/helpers.js'
import type { FakeKafka } from './support/fake-kafka.js'

interface Beat {
  at: number
  epoch: number
  owned: number[] | null
}

/** A coordinator that hands out `assignment()` at a new epoch whenever it changes, or answers with `error()`. */
function scriptedCoordinator(kafka: FakeKafka, o: { assignment: () => number[]; error?: () => number }) {
  const topicId = kafka.topics.get('t')!.id
  const beats: Beat[] = []
  let epoch = 0
  let last: string | null = null
  kafka.broker.versionOverrides.delete(68)
  kafka.broker.on(68, (req: MockRequest) => {
    const b = req.body
    const owned = b.topicPartitions === null ? null : (b.topicPartitions as Array<{ partitions: number[] }>).flatMap((x) => x.partitions).sort()
    beats.push({ at: Date.now(), epoch: b.memberEpoch, owned })
    const error = o.error?.() ?? 0
    if (error !== 0) return { throttleTimeMs: 0, errorCode: error, errorMessage: null, memberId: null, memberEpoch: -1, heartbeatIntervalMs: 0, assignment: null }
    if (b.memberEpoch === -1) return { throttleTimeMs: 0, errorCode: 0, errorMessage: null, memberId: b.memberId, memberEpoch: -1, heartbeatIntervalMs: 100, assignment: null }
    const target = o.assignment()
    const key = target.join(',')
    const changed = b.memberEpoch === 0 || key !== last
    if (changed) {
      epoch++
      last = key
    }
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      errorMessage: null,
      memberId: b.memberId,
      memberEpoch: epoch,
      heartbeatIntervalMs: 100,
      assignment: changed ? { topicPartitions: [{ topicId, partitions: target }] } : null,
    }
  })
  return beats
}

describe('KIP-848 member', () => {
  test('heartbeats go on while a revocation waits for a slow handler, reporting the partition as owned until it is given back', async (t) => {
    const kafka = await fakeKafka(t)
    kafka.createTopic('t', 2)
    for (const p of [0, 1]) kafka.appendValues('t', p, ['a', 'b'])
    let target = [0, 1]
    const beats = scriptedCoordinator(kafka, { assignment: () => target })
    const c = consumerOn(t, kafka, { groupId: 'g', groupProtocol: 'consumer', autoOffsetReset: 'earliest', commitStrategy: 'manual' })
    const revoked: number[][] = []
    let revokedAt = 0
    c.on('revoked', (tps: Array<{ partition: number }>) => {
      revoked.push(tps.map((x) => x.partition))
      revokedAt = Date.now()
    })
    c.subscribe('t')
    let blocking = false
    let done = 0
    const run = c.run({
      partitionsConcurrency: 2,
      eachMessage: async ({ partition }) => {
        if (partition === 1 && !blocking) {
          blocking = true
          await sleep(1500)
          done = Date.now()
        }
      },
    })
    await eventually(() => assert.ok(blocking, 'the handler of partition 1 is running'), 5000)
    const from = Date.now()
    target = [0] // the coordinator takes partition 1 away
    await eventually(() => assert.deepEqual(revoked, [[1]]), 5000)
    assert.ok(revokedAt >= done && done > 0, 'given back only after the handler finished')
    const during = beats.filter((x) => x.at > from + 200 && x.at < done)
    assert.ok(during.length >= 5, `${during.length} heartbeats while the revocation waited (interval 100 ms, about 1.3 s)`)
    assert.ok(during.every((x) => x.owned === null || x.owned.join(',') === '0,1'), 'partition 1 still reported as owned while revoking')
    await eventually(() => assert.deepEqual(beats.at(-1)!.owned, [0]), 2000)
    await c.close()
    await run
  })

  test('fenced (FENCED_MEMBER_EPOCH): the partitions are lost, not revoked, and the member rejoins with epoch 0', async (t) => {
    const kafka = await fakeKafka(t)
    kafka.createTopic('t', 2)
    let fence = false
    const beats = scriptedCoordinator(kafka, {
      assignment: () => [0, 1],
      error: () => {
        if (!fence) return 0
        fence = false
        return 110
      },
    })
    const c = consumerOn(t, kafka, { groupId: 'g', groupProtocol: 'consumer', autoOffsetReset: 'earliest', commitStrategy: 'manual' })
    const lost: number[][] = []
    const revoked: number[][] = []
    c.on('lost', (tps: Array<{ partition: number }>) => lost.push(tps.map((x) => x.partition)))
    c.on('revoked', (tps: Array<{ partition: number }>) => revoked.push(tps.map((x) => x.partition)))
    c.subscribe('t')
    const run = c.run({ eachMessage: () => undefined })
    await eventually(() => assert.equal(c.assignment().length, 2))
    const before = beats.length
    fence = true
    await eventually(() => assert.deepEqual(lost, [[0, 1]]))
    assert.deepEqual(revoked, [])
    await eventually(() => assert.ok(beats.slice(before).some((x) => x.epoch === 0), 'a heartbeat with epoch 0 follows'))
    await eventually(() => assert.equal(c.assignment().length, 2, 'assigned again'))
    await c.close()
    await run
  })
})
