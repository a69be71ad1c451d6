// Admin: topics. createTopics / describeTopics (both DescribeTopicPartitions and Metadata) /
// listTopics / createPartitions / deleteTopics (by name and by id), with per-topic errors.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { AdminContext } from '../../src/client/admin/context.js'
import type { CreatedTopic } from '../../src/client/admin/index.js'
import { describeWithDescribeTopicPartitions, describeWithMetadata } from '../../src/client/admin/topics.js'
import { BrokerError } from '../../src/protocol/errors.js'
import { ZERO_UUID_STRING } from '../../src/protocol/schema.js'
import { brokers, codeOf, env, createTopics, deleteTopicsQuietly, eventually, needs, newAdmin, uniqueName } from './support.js'

describe('admin topics', needs(), () => {
  const admin = newAdmin()
  const created: string[] = []
  const topic = uniqueName('topics')
  const missing = uniqueName('missing')

  let created0: CreatedTopic | undefined

  before(async () => {
    created.push(topic)
    ;[created0] = await admin.createTopics([{ name: topic, partitions: 3, replicationFactor: 1, configs: { 'retention.ms': '3600000', 'cleanup.policy': 'compact' } }])
  })

  after(async () => {
    try {
      await deleteTopicsQuietly(admin, created)
    } finally {
      await admin.close()
    }
  })

  test('createTopics reports what it created: topic id, partitions, replication factor and configs (v5+)', needs('config-details'), async () => {
    const r = created0!
    assert.equal(r.error, null, r.error?.message)
    if (r.error !== null) return
    assert.equal(r.partitions, 3)
    assert.equal(r.replicationFactor, 1)
    assert.notEqual(r.topicId, ZERO_UUID_STRING)
    assert.ok(r.configs !== null)
    const byName = new Map(r.configs.map((c) => [c.name, c]))
    assert.equal(byName.get('retention.ms')?.value, '3600000')
    assert.equal(byName.get('retention.ms')?.source, 'dynamic-topic')
    assert.equal(byName.get('cleanup.policy')?.value, 'compact')
    assert.equal(byName.get('segment.bytes')?.isDefault, true)
  })

  test('describeTopics shows the partition count, replication factor and a non-zero topic id', async () => {
    const d = await eventually(async () => {
      const [t] = await admin.describeTopics([topic])
      assert.equal(t!.error, null)
      return t!
    })
    assert.equal(d.error, null)
    if (d.error !== null) return
    assert.equal(d.name, topic)
    assert.notEqual(d.topicId, ZERO_UUID_STRING)
    assert.match(d.topicId, /^[A-Za-z0-9_-]{22}$/)
    assert.equal(d.isInternal, false)
    assert.deepEqual(d.partitions.map((p) => p.partition), [0, 1, 2])
    for (const p of d.partitions) {
      assert.equal(p.replicas.length, 1)
      assert.deepEqual(p.isr, p.replicas)
      assert.equal(p.leader, p.replicas[0])
      assert.ok(p.leaderEpoch >= 0)
      assert.deepEqual(p.offlineReplicas, [])
    }
    assert.equal(d.authorizedOperations, null)
  })

  test('describeTopics of one existing and one missing topic: a description and an UNKNOWN_TOPIC_OR_PARTITION item', async () => {
    const res = await admin.describeTopics([topic, missing])
    assert.deepEqual(res.map((r) => r.name), [topic, missing])
    assert.equal(res[0]!.error, null)
    const e = res[1]!.error
    assert.ok(e instanceof BrokerError, String(e))
    assert.equal(e.code, 'UNKNOWN_TOPIC_OR_PARTITION')
    assert.equal(e.context.topic, missing)
  })

  test('describeTopics with includeAuthorizedOperations lists what this client may do', needs('authorized-operations'), async () => {
    const [d] = await admin.describeTopics([topic], { includeAuthorizedOperations: true })
    assert.equal(d!.error, null)
    if (d!.error !== null) return
    // Without an authorizer everything is allowed.
    assert.ok(d!.authorizedOperations !== null)
    for (const op of ['read', 'write', 'describe', 'delete', 'alter', 'describe-configs', 'alter-configs'] as const) assert.ok(d!.authorizedOperations.includes(op), op)
  })

  test('DescribeTopicPartitions (API 75) and Metadata describe the same topics', needs('describe-topic-partitions'), async () => {
    const ctx = new AdminContext({ brokers })
    try {
      const [viaDtp, viaMetadata] = await ctx.run('compare', {}, (op) =>
        Promise.all([describeWithDescribeTopicPartitions(ctx, op, [topic, missing], false), describeWithMetadata(ctx, op, [topic, missing], false)]),
      )
      const a = viaDtp.get(topic)!
      const b = viaMetadata.get(topic)!
      assert.ok(a.error === null && b.error === null)
      if (a.error !== null || b.error !== null) return
      assert.equal(a.topicId, b.topicId)
      const strip = (ps: typeof a.partitions) => ps.map(({ eligibleLeaderReplicas: _e, lastKnownElr: _l, ...p }) => p)
      assert.deepEqual(strip(a.partitions), strip(b.partitions))
      assert.equal(codeOf(viaDtp.get(missing)!), 'UNKNOWN_TOPIC_OR_PARTITION')
      assert.equal(codeOf(viaMetadata.get(missing)!), 'UNKNOWN_TOPIC_OR_PARTITION')
    } finally {
      await ctx.close()
    }
  })

  test('DescribeTopicPartitions pages with its cursor: topics split across responses come back complete', needs('describe-topic-partitions'), async () => {
    const many = uniqueName('many')
    created.push(many)
    await createTopics(admin, [{ name: many, partitions: 30 }])
    // 7 partitions per response: both topics are cut, several times.
    const res = await admin.describeTopics([many, topic, missing], { partitionsPerResponse: 7 })
    assert.deepEqual(res.map(codeOf), ['none', 'none', 'UNKNOWN_TOPIC_OR_PARTITION'])
    const [a, b] = res
    if (a!.error === null) assert.deepEqual(a!.partitions.map((p) => p.partition), Array.from({ length: 30 }, (_, i) => i))
    if (b!.error === null) assert.deepEqual(b!.partitions.map((p) => p.partition), [0, 1, 2])
  })

  test('createTopics reports TOPIC_ALREADY_EXISTS per topic, next to a topic that is created', async () => {
    const other = uniqueName('second')
    created.push(other)
    const res = await admin.createTopics([{ name: topic, partitions: 1 }, { name: other }])
    assert.deepEqual(res.map(codeOf), ['TOPIC_ALREADY_EXISTS', 'none'])
    const ok = res[1]!
    // Broker defaults (CreateTopics v4+): num.partitions=1 on the test brokers (Tansu: 3); default.replication.factor
    // is 1 on one Apache node and every broker on kfake (3).
    if (ok.error === null) assert.deepEqual([ok.partitions, ok.replicationFactor], [env.KAFKA_IMPL === 'tansu' ? 3 : 1, env.KAFKA_IMPL === 'kfake' ? 3 : 1])
  })

  test('createTopics with validateOnly creates nothing, and invalid settings fail per topic', needs('config-validation'), async () => {
    const name = uniqueName('validate')
    const res = await admin.createTopics([{ name, partitions: 2 }, { name: uniqueName('bad'), partitions: 1, configs: { 'cleanup.policy': 'no-such-policy' } }], { validateOnly: true })
    assert.deepEqual(res.map(codeOf), ['none', 'INVALID_CONFIG'])
    const [d] = await admin.describeTopics([name])
    assert.equal(codeOf(d!), 'UNKNOWN_TOPIC_OR_PARTITION')
  })

  test('listTopics includes the topic with its id and partition count, and internal topics only when asked', async () => {
    const plain = await admin.listTopics()
    const mine = plain.find((t) => t.name === topic)
    assert.ok(mine, 'topic listed')
    assert.equal(mine.partitions >= 3, true)
    assert.notEqual(mine.topicId, ZERO_UUID_STRING)
    assert.ok(plain.every((t) => !t.isInternal))
    const all = await admin.listTopics({ includeInternal: true })
    assert.ok(all.length >= plain.length)
  })

  test('createPartitions grows the topic; a missing topic fails on its own', needs('create-partitions'), async () => {
    const res = await admin.createPartitions([{ topic, count: 5 }, { topic: missing, count: 2 }])
    assert.deepEqual(res.map(codeOf), ['none', 'UNKNOWN_TOPIC_OR_PARTITION'])
    await eventually(async () => {
      const [d] = await admin.describeTopics([topic])
      assert.ok(d!.error === null && d!.partitions.length === 5, 'five partitions')
    })
    const shrink = await admin.createPartitions([{ topic, count: 2 }])
    assert.equal(codeOf(shrink[0]!), 'INVALID_PARTITIONS')
  })

  test('deleteTopics by name and by id; the deleted topics are gone', async () => {
    const byName = uniqueName('del-name')
    const byId = uniqueName('del-id')
    created.push(byName, byId)
    await createTopics(admin, [{ name: byName }, { name: byId }])
    const [d] = await admin.describeTopics([byId])
    assert.ok(d!.error === null)
    if (d!.error !== null) return
    const res = await admin.deleteTopics([byName, { topicId: d!.topicId }, missing])
    assert.deepEqual(res.map(codeOf), ['none', 'none', 'UNKNOWN_TOPIC_OR_PARTITION'])
    assert.equal(res[0]!.name, byName)
    assert.equal(res[1]!.topicId, d!.topicId)
    await eventually(async () => {
      const after = await admin.describeTopics([byName, byId])
      assert.deepEqual(after.map(codeOf), ['UNKNOWN_TOPIC_OR_PARTITION', 'UNKNOWN_TOPIC_OR_PARTITION'])
    })
  })
})
