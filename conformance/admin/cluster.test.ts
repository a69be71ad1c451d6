// Admin: cluster-wide operations. describeCluster, describeLogDirs, electLeaders, partition
// reassignments; and failures of the whole request (no broker, deadline, abort, closed client).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Admin } from '../../src/client/admin/index.js'
import { AbortError, ClosedError, ConnectionError, DeadlineExceededError } from '../../src/client/errors.js'
import { BrokerError, KafkawireError } from '../../src/protocol/errors.js'
import { brokers, codeOf, createTopics, deleteTopicsQuietly, needs, newAdmin, produce, uniqueName } from './support.js'

describe('admin cluster operations', needs('java-tools'), () => {
  const admin = newAdmin()
  const topic = uniqueName('cluster')
  const missing = uniqueName('missing')
  let nodeId = -1

  before(async () => {
    await createTopics(admin, [{ name: topic, partitions: 2 }])
    await produce(topic, 20)
  })

  after(async () => {
    try {
      await deleteTopicsQuietly(admin, [topic])
    } finally {
      await admin.close()
    }
  })

  test('describeCluster: cluster id, brokers at the bootstrap address, a controller among them', needs('authorized-operations'), async () => {
    const c = await admin.describeCluster()
    assert.ok(c.clusterId !== null && c.clusterId.length > 0, `cluster id ${c.clusterId}`)
    const [host, port] = brokers.split(',')[0]!.split(':')
    const b = c.brokers.find((x) => x.host === host && x.port === Number(port))
    assert.ok(b, `a broker at ${host}:${port} among ${JSON.stringify(c.brokers)}`)
    nodeId = b.nodeId
    assert.ok(c.controller !== null && c.brokers.some((x) => x.nodeId === c.controller!.nodeId))
    assert.equal(c.authorizedOperations, null)
    const withOps = await admin.describeCluster({ includeAuthorizedOperations: true })
    assert.ok(withOps.authorizedOperations?.includes('describe') && withOps.authorizedOperations.includes('alter-configs'), String(withOps.authorizedOperations))
  })

  test('describeLogDirs: the topic is on the broker, with the bytes of its records', needs('log-dirs', 'log-dir-sizes'), async () => {
    const res = await admin.describeLogDirs([topic, missing])
    assert.deepEqual(res.errors, [])
    const b = res.brokers.find((x) => x.nodeId === nodeId)
    assert.ok(b && b.logDirs.length >= 1)
    const dir = b.logDirs.find((d) => d.topics.some((t) => t.topic === topic))
    assert.ok(dir, 'a log dir holding the topic')
    assert.equal(dir.error, null)
    assert.ok(dir.path.length > 0)
    assert.deepEqual(dir.topics.map((t) => t.topic), [topic])
    const parts = dir.topics[0]!.partitions
    assert.deepEqual(parts.map((p) => p.partition), [0, 1])
    assert.ok(parts.reduce((n, p) => n + p.size, 0n) > 200n, 'the 20 records take some bytes')
    assert.ok(parts.every((p) => !p.isFuture && p.offsetLag === 0n))
    if (dir.totalBytes !== null) assert.ok(dir.usableBytes !== null && dir.totalBytes >= dir.usableBytes && dir.usableBytes > 0n)
    // Every topic when none is named.
    const all = await admin.describeLogDirs()
    assert.ok(all.brokers.find((x) => x.nodeId === nodeId)?.logDirs.some((d) => d.topics.some((t) => t.topic === topic)))
  })

  test('electLeaders on a single node: ELECTION_NOT_NEEDED per partition', needs('elect-leaders', 'election-not-needed'), async () => {
    const preferred = await admin.electLeaders('preferred', [{ topic, partition: 0 }, { topic, partition: 1 }])
    assert.deepEqual(preferred.map((r) => [r.partition, codeOf(r)]), [[0, 'ELECTION_NOT_NEEDED'], [1, 'ELECTION_NOT_NEEDED']])
    const e = preferred[0]!.error
    assert.ok(e instanceof BrokerError && e.context.topic === topic && e.context.partition === 0)
    const unclean = await admin.electLeaders('unclean', [{ topic, partition: 0 }, { topic: missing, partition: 0 }])
    assert.deepEqual(unclean.map((r) => [r.topic, codeOf(r)]), [[topic, 'ELECTION_NOT_NEEDED'], [missing, 'UNKNOWN_TOPIC_OR_PARTITION']])
  })

  test('partition reassignments: none in progress; altering on one node', needs('reassignments', 'reassignment-validation'), async () => {
    assert.deepEqual(await admin.listPartitionReassignments(), [])
    assert.deepEqual(await admin.listPartitionReassignments([{ topic, partition: 0 }]), [])
    const res = await admin.alterPartitionReassignments([
      // To where it is already: accepted, completes at once.
      { topic, partition: 0, replicas: [nodeId] },
      // Cancelling what is not running.
      { topic, partition: 1, replicas: null },
      // A broker that does not exist.
      { topic: missing, partition: 0, replicas: [nodeId] },
    ])
    assert.deepEqual(res.map(codeOf), ['none', 'NO_REASSIGNMENT_IN_PROGRESS', 'UNKNOWN_TOPIC_OR_PARTITION'])
    const bad = await admin.alterPartitionReassignments([{ topic, partition: 1, replicas: [nodeId + 1000] }])
    assert.ok(['INVALID_REPLICA_ASSIGNMENT', 'INELIGIBLE_REPLICA'].includes(codeOf(bad[0]!)), codeOf(bad[0]!))
    assert.deepEqual(await admin.listPartitionReassignments(), [])
  })

  test('no broker reachable: DeadlineExceededError naming the operation, with the connection error as cause', async () => {
    const lost = new Admin({ brokers: '127.0.0.1:1', connectTimeoutMs: 500 })
    try {
      const started = Date.now()
      await assert.rejects(lost.listTopics({ timeoutMs: 1500 }), (e: unknown) => {
        assert.ok(e instanceof DeadlineExceededError, String(e))
        assert.match(e.message, /listTopics/)
        assert.ok(e.cause instanceof ConnectionError, String(e.cause))
        return true
      })
      assert.ok(Date.now() - started < 5000)
    } finally {
      await lost.close()
    }
  })

  test('abort signal: AbortError; closed client: ClosedError', async () => {
    const a = newAdmin()
    const ac = new AbortController()
    ac.abort()
    await assert.rejects(a.describeCluster({ signal: ac.signal }), (e: unknown) => e instanceof AbortError)
    const c = await a.describeCluster()
    assert.ok(c.brokers.length > 0)
    await a.close()
    await assert.rejects(a.describeCluster(), (e: unknown) => e instanceof ClosedError && e instanceof KafkawireError)
  })
})
