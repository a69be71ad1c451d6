// Admin: retries re-route after leader and coordinator moves. On a 3-node cluster of its own, the
// node coordinating a group (and leading some partitions) is killed; listOffsets, describeTopics,
// describeGroups and the group's offsets still answer, from the new leaders and coordinator.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { killNode, startCluster, stopCluster, threeNodeOptions } from '../broker/index.mjs'
import type { Admin } from '../../src/client/admin/index.js'
import { codeOf, eventually, needs, newAdmin, uniqueName } from './support.js'

const opts = threeNodeOptions()

describe('admin failover on three nodes', needs('three-nodes'), () => {
  let admin: Admin
  const topic = uniqueName('failover')
  const group = uniqueName('failover-group')
  const committed = [5n, 6n, 7n, 8n, 9n, 10n]

  before(async () => {
    const c = await startCluster(opts)
    admin = newAdmin({ brokers: c.KAFKA_BROKERS })
    const res = await admin.createTopics([{ name: topic, partitions: 6, replicationFactor: 3 }])
    assert.deepEqual(res.map(codeOf), ['none'])
    await eventually(async () => {
      const [d] = await admin.describeTopics([topic])
      assert.ok(d!.error === null && d!.partitions.every((p) => p.isr.length === 3), 'fully replicated')
    }, 60_000)
    const altered = await admin.alterConsumerGroupOffsets(group, committed.map((offset, partition) => ({ topic, partition, offset })))
    assert.deepEqual(altered.map(codeOf), committed.map(() => 'none'))
  })

  after(async () => {
    try {
      await admin?.close()
    } finally {
      await stopCluster(opts.name)
    }
  })

  test('killing the group coordinator: offsets, leaders and the group move to the other nodes', async () => {
    const [g] = await admin.describeGroups([group])
    assert.ok(g!.error === null)
    const victim = g!.error === null ? g!.coordinator : -1
    const [before] = await admin.describeTopics([topic])
    assert.ok(before!.error === null)
    const led = before!.error === null ? before!.partitions.filter((p) => p.leader === victim).map((p) => p.partition) : []
    assert.ok(led.length > 0, `node ${victim} leads some of the 6 partitions`)

    await killNode(opts.name, victim, 'KILL')

    // Right after the kill the cluster still names the dead node: these calls must wait out the
    // fencing (broker.session.timeout.ms 4 s), re-route, and answer within their deadline.
    const offsets = await admin.listOffsets([0, 1, 2, 3, 4, 5].map((partition) => ({ topic, partition, spec: 'latest' as const })), { timeoutMs: 45_000 })
    assert.deepEqual(offsets.map((o) => [o.partition, codeOf(o), o.error === null ? o.offset : null]), [0, 1, 2, 3, 4, 5].map((p) => [p, 'none', 0n]))

    // Kafka 4.3.1's group coordinator (KIP-848 runtime) was seen answering OffsetFetch with no offsets
    // and no error for a few hundred ms after taking the group over, instead of COORDINATOR_LOAD_IN_PROGRESS:
    // nothing a client can tell from "no offsets", so this polls.
    await eventually(async () => {
      const listed = await admin.listConsumerGroupOffsets(group, { timeoutMs: 45_000 })
      assert.deepEqual(listed.map((o) => (o.error === null ? o.offset : o.error.code)), committed)
    }, 30_000, 200)

    const [moved] = await admin.describeGroups([group], { timeoutMs: 45_000 })
    assert.ok(moved!.error === null && moved!.coordinator !== victim, `coordinator ${moved!.error === null ? moved!.coordinator : moved!.error}`)

    const [after] = await admin.describeTopics([topic], { timeoutMs: 45_000 })
    assert.ok(after!.error === null)
    if (after!.error === null) {
      for (const p of after!.partitions) {
        assert.notEqual(p.leader, victim)
        assert.ok(!p.isr.includes(victim))
      }
    }
    // listGroups asks every broker: the dead one is reported on its own, the group is still found.
    const groups = await admin.listGroups({ timeoutMs: 8_000 })
    assert.ok(groups.groups.some((x) => x.groupId === group))
    assert.ok(groups.errors.every((e) => e.nodeId === victim))
  })
})
