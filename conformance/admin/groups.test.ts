// Admin: consumer groups. A group with a live member (the reference console consumer, classic
// protocol, and KIP-848 consumer protocol where the broker enables it) listed and described;
// committed offsets altered, listed, reset and deleted; groups deleted.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { runKafkaTool, type ToolResult } from '../broker/index.mjs'
import type { Admin, GroupDescription } from '../../src/client/admin/index.js'
import { Cluster } from '../../src/client/cluster.js'
import { highWatermarks } from '../support/high-watermarks.js'
import { BrokerError, KafkawireError } from '../../src/protocol/errors.js'
import { brokers, codeOf, env, createTopics, deleteGroupsQuietly, deleteTopicsQuietly, eventually, kafkaVersion, needs, newAdmin, produce, uniqueName } from './support.js'

const N = 40

/** The reference console consumer in a group: reads everything, commits on close, exits after idleMs without records. */
function consume(topic: string, group: string, protocol: 'classic' | 'consumer', idleMs: number): Promise<ToolResult> {
  const args = ['--bootstrap-server', brokers, '--topic', topic, '--group', group, '--from-beginning', '--timeout-ms', String(idleMs)]
  if (protocol === 'consumer') args.push('--consumer-property', 'group.protocol=consumer')
  return runKafkaTool(kafkaVersion, 'org.apache.kafka.tools.consumer.ConsoleConsumer', args, { timeoutMs: 120_000 })
}

async function described(admin: Admin, group: string, check: (g: GroupDescription & { error: null }) => void): Promise<GroupDescription & { error: null }> {
  return eventually(async () => {
    const [g] = await admin.describeGroups([group])
    assert.ok(g !== undefined && g.error === null, g?.error?.message)
    check(g as GroupDescription & { error: null })
    return g as GroupDescription & { error: null }
  }, 30_000, 300)
}

/** Offsets of a listConsumerGroupOffsets result, as "partition=offset" strings. */
function offsets(rows: Array<{ partition: number; error: KafkawireError | null; offset?: bigint | null }>): string[] {
  return rows.map((r) => `${r.partition}=${r.error === null ? r.offset : r.error.code}`)
}

describe('admin consumer groups', needs('java-tools', 'classic-groups', 'delete-groups'), () => {
  const admin = newAdmin()
  const topic = uniqueName('groups')
  const classicGroup = uniqueName('classic')
  const consumerGroup = uniqueName('consumer')
  const adminGroup = uniqueName('offsets')
  const missingGroup = uniqueName('nogroup')
  let ends: bigint[] = []
  let groupVersion = 0

  before(async () => {
    await createTopics(admin, [{ name: topic, partitions: 2 }])
    // Tiny batches: the sticky partitioner (KIP-794) moves on after each, so both partitions get records.
    await produce(topic, N, { props: ['batch.size=32'] })
    // The log end offsets, from Fetch: Tansu's ListOffsets latest is wrong after batches of several records.
    ends = await highWatermarks(brokers, topic, 2)
    assert.equal(ends[0]! + ends[1]!, BigInt(N))
    assert.ok(ends[0]! > 1n && ends[1]! > 1n, `records per partition: ${ends}`)
    const c = new Cluster({ brokers })
    try {
      groupVersion = (await c.anyConnection()).versions.featureLevel('group.version')
    } finally {
      await c.close()
    }
  })

  after(async () => {
    try {
      await deleteGroupsQuietly(admin, [classicGroup, consumerGroup, adminGroup])
      await deleteTopicsQuietly(admin, [topic])
    } finally {
      await admin.close()
    }
  })

  test('describeGroups answers for groups of both protocols; listGroups lists them with state and type', needs('group-states'), async () => {
    const kip848 = groupVersion >= 1
    const running = [consume(topic, classicGroup, 'classic', 7_000), ...(kip848 ? [consume(topic, consumerGroup, 'consumer', 7_000)] : [])]
    try {
      // Classic: DescribeGroups, with the member's ConsumerProtocol subscription and assignment decoded.
      const g = await described(admin, classicGroup, (g) => {
        assert.equal(g.type, 'classic')
        assert.equal(g.state, 'Stable')
        assert.equal(g.members.length, 1)
        if (g.type === 'classic') assert.ok(g.members[0]!.assignment !== null, 'assigned')
      })
      if (g.type !== 'classic') return
      assert.equal(g.protocolType, 'consumer')
      assert.ok(g.protocol.length > 0, 'assignor name')
      const m = g.members[0]!
      assert.deepEqual(m.subscription?.topics, [topic])
      assert.deepEqual(m.assignment?.assignedPartitions.map((a) => [a.topic, [...a.partitions].sort()]), [[topic, [0, 1]]])
      assert.ok(m.clientId.length > 0 && m.clientHost.length > 0)

      // An admin commit into a group with members is refused per partition.
      const refused = await admin.alterConsumerGroupOffsets(classicGroup, [{ topic, partition: 0, offset: 0n }])
      assert.ok(['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION'].includes(codeOf(refused[0]!)), codeOf(refused[0]!))

      if (kip848) {
        // KIP-848: ConsumerGroupDescribe, with the member's assignment by topic.
        const c = await described(admin, consumerGroup, (c) => {
          assert.equal(c.type, 'consumer')
          assert.equal(c.members.length, 1)
          if (c.type === 'consumer') assert.equal(c.members[0]!.assignment.flatMap((a) => a.partitions).length, 2)
        })
        if (c.type === 'consumer') {
          assert.equal(c.state, 'Stable')
          assert.ok(c.groupEpoch >= 1)
          // kfake names no assignor in ConsumerGroupDescribe
          if (env.KAFKA_IMPL !== 'kfake') assert.ok(c.assignor.length > 0, 'assignor name')
          const cm = c.members[0]!
          assert.deepEqual(cm.subscribedTopicNames, [topic])
          assert.deepEqual(cm.assignment.map((a) => [a.topic, [...a.partitions].sort()]), [[topic, [0, 1]]])
          assert.match(cm.assignment[0]!.topicId, /^[A-Za-z0-9_-]{22}$/)
          assert.equal(cm.memberType, 'consumer')
        }
      } else {
        // This broker does not run the KIP-848 protocol: say so, so a changed test broker is noticed.
        assert.match(kafkaVersion, /^3\./)
      }

      const listed = await admin.listGroups()
      assert.deepEqual(listed.errors, [])
      const mine = listed.groups.find((x) => x.groupId === classicGroup)
      assert.deepEqual(mine && [mine.protocolType, mine.state, mine.type], ['consumer', 'Stable', 'classic'])
      if (kip848) assert.deepEqual(listed.groups.filter((x) => x.groupId === consumerGroup).map((x) => [x.state, x.type]), [['Stable', 'consumer']])
      // State and type filters are applied by the broker (ListGroups v4, v5).
      const stable = await admin.listGroups({ states: ['Stable'], types: ['classic'] })
      assert.ok(stable.groups.some((x) => x.groupId === classicGroup))
      assert.ok(stable.groups.every((x) => x.state === 'Stable' && x.type === 'classic'))
      const empty = await admin.listGroups({ states: ['Empty'] })
      assert.ok(!empty.groups.some((x) => x.groupId === classicGroup))
    } finally {
      const results = await Promise.all(running)
      for (const r of results) assert.equal(r.code, 0, r.stderr)
    }
    // The consumers committed what they read when they closed, and left.
    const after = await described(admin, classicGroup, (g) => assert.equal(g.members.length, 0))
    assert.equal(after.state, 'Empty')
    assert.deepEqual(offsets(await admin.listConsumerGroupOffsets(classicGroup)), [`0=${ends[0]}`, `1=${ends[1]}`])
    if (kip848) assert.deepEqual(offsets(await admin.listConsumerGroupOffsets(consumerGroup)), [`0=${ends[0]}`, `1=${ends[1]}`])
  })

  test('describeGroups of a group that does not exist: GROUP_ID_NOT_FOUND next to a group that does', needs('group-states'), async () => {
    const res = await admin.describeGroups([missingGroup, classicGroup])
    assert.deepEqual(res.map(codeOf), ['GROUP_ID_NOT_FOUND', 'none'])
    const e = res[0]!.error
    assert.ok(e instanceof BrokerError && e.context.groupId === missingGroup)
  })

  test('alterConsumerGroupOffsets then listConsumerGroupOffsets (all, by topic, by partition)', needs('offset-metadata'), async () => {
    const res = await admin.alterConsumerGroupOffsets(adminGroup, [
      { topic, partition: 0, offset: 3n, metadata: 'kw' },
      { topic, partition: 1, offset: 0n },
    ])
    assert.deepEqual(res.map(codeOf), ['none', 'none'])
    const all = await admin.listConsumerGroupOffsets(adminGroup)
    assert.deepEqual(offsets(all), ['0=3', '1=0'])
    assert.ok(all[0]!.error === null && all[0]!.metadata === 'kw')
    assert.deepEqual(await admin.listConsumerGroupOffsets(adminGroup, { topics: [uniqueName('other')] }), [])
    const some = await admin.listConsumerGroupOffsets(adminGroup, { partitions: [{ topic, partition: 1 }] })
    assert.deepEqual(offsets(some), ['1=0'])
    // The group is there now, empty, holding offsets.
    const [g] = await admin.describeGroups([adminGroup])
    assert.ok(g!.error === null && g!.state === 'Empty' && g!.members.length === 0)
  })

  test('resetConsumerGroupOffsets: earliest, latest, timestamp, clamped offset; dryRun commits nothing', needs('list-offsets-latest'), async () => {
    const latest = await admin.resetConsumerGroupOffsets(adminGroup, { topics: [topic], to: 'latest' })
    assert.deepEqual(offsets(latest), [`0=${ends[0]}`, `1=${ends[1]}`])
    assert.deepEqual(offsets(await admin.listConsumerGroupOffsets(adminGroup)), [`0=${ends[0]}`, `1=${ends[1]}`])

    const dry = await admin.resetConsumerGroupOffsets(adminGroup, { topics: [topic], to: 'earliest', dryRun: true })
    assert.deepEqual(offsets(dry), ['0=0', '1=0'])
    assert.deepEqual(offsets(await admin.listConsumerGroupOffsets(adminGroup)), [`0=${ends[0]}`, `1=${ends[1]}`])

    const byTime = await admin.resetConsumerGroupOffsets(adminGroup, { topics: [{ topic, partition: 0 }], to: { timestamp: Date.now() - 3_600_000 } })
    assert.deepEqual(offsets(byTime), ['0=0'])
    // After the last record: the log end.
    const future = await admin.resetConsumerGroupOffsets(adminGroup, { topics: [{ topic, partition: 0 }], to: { timestamp: Date.now() + 3_600_000 } })
    assert.deepEqual(offsets(future), [`0=${ends[0]}`])

    // Out of range offsets are clamped into [earliest, latest].
    const clamped = await admin.resetConsumerGroupOffsets(adminGroup, { topics: [topic], to: { offset: 1_000_000n } })
    assert.deepEqual(offsets(clamped), [`0=${ends[0]}`, `1=${ends[1]}`])
    const exact = await admin.resetConsumerGroupOffsets(adminGroup, { topics: [{ topic, partition: 0 }, { topic, partition: 1 }], to: { offset: 1n } })
    assert.deepEqual(offsets(exact), ['0=1', '1=1'])
    assert.deepEqual(offsets(await admin.listConsumerGroupOffsets(adminGroup)), ['0=1', '1=1'])

    await assert.rejects(admin.resetConsumerGroupOffsets(adminGroup, { topics: [uniqueName('missing')], to: 'earliest' }), (e: unknown) => e instanceof BrokerError && e.code === 'UNKNOWN_TOPIC_OR_PARTITION')
  })

  test('deleteConsumerGroupOffsets removes one partition; a missing group throws GROUP_ID_NOT_FOUND', needs('offset-delete'), async () => {
    const res = await admin.deleteConsumerGroupOffsets(adminGroup, [{ topic, partition: 0 }])
    assert.deepEqual(res.map(codeOf), ['none'])
    assert.deepEqual(offsets(await admin.listConsumerGroupOffsets(adminGroup)), ['1=1'])
    await assert.rejects(
      admin.deleteConsumerGroupOffsets(missingGroup, [{ topic, partition: 0 }]),
      (e: unknown) => e instanceof BrokerError && e.code === 'GROUP_ID_NOT_FOUND' && e.context.groupId === missingGroup,
    )
  })

  test('deleteGroups: each group its own result; deleted groups are gone', needs('group-states'), async () => {
    const groups = [classicGroup, adminGroup, ...(groupVersion >= 1 ? [consumerGroup] : [])]
    const res = await admin.deleteGroups([...groups, missingGroup])
    assert.deepEqual(res.map(codeOf), [...groups.map(() => 'none'), 'GROUP_ID_NOT_FOUND'])
    const d = await admin.describeGroups(groups)
    assert.deepEqual(d.map(codeOf), groups.map(() => 'GROUP_ID_NOT_FOUND'))
    const listed = await admin.listGroups()
    assert.ok(!listed.groups.some((g) => groups.includes(g.groupId)))
  })
})
