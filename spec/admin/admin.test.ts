// Admin client against scripted mock brokers: the behaviour real single-node brokers cannot show —
// re-routing after leader and coordinator moves, partial results at the deadline, the
// ConsumerGroupDescribe -> DescribeGroups decision, and version-dependent request bodies.
import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import { Admin } from '../../src/client/admin/index.js'
import type { ClientConfig } from '../../src/client/index.js'
import { DeadlineExceededError, UnsupportedApiError } from '../../src/client/errors.js'
import { BrokerError } from '../../src/protocol/errors.js'
import { consumerGroupDescribe } from '../../src/protocol/messages/consumer-group-describe.js'
import { createTopics } from '../../src/protocol/messages/create-topics.js'
import { deleteGroups } from '../../src/protocol/messages/delete-groups.js'
import { deleteTopics } from '../../src/protocol/messages/delete-topics.js'
import { describeGroups } from '../../src/protocol/messages/describe-groups.js'
import { findCoordinator } from '../../src/protocol/messages/find-coordinator.js'
import { listOffsets } from '../../src/protocol/messages/list-offsets.js'
import { offsetFetch } from '../../src/protocol/messages/offset-fetch.js'
import { MockBroker, type MockRequest, type MockTopic } from '../support/mock-broker.js'

async function mockCluster(t: TestContext, n: number, topics: MockTopic[] = []): Promise<MockBroker[]> {
  const brokers = await MockBroker.cluster(n)
  for (const b of brokers) b.topics = topics
  t.after(() => Promise.all(brokers.map((b) => b.close())))
  return brokers
}

function adminOf(t: TestContext, brokers: MockBroker[], config: Partial<ClientConfig> = {}): Admin {
  const a = new Admin({ brokers: brokers.map((b) => b.address), retryBackoff: { initialMs: 10, maxMs: 50 }, reconnectBackoff: { initialMs: 10, maxMs: 50 }, ...config })
  t.after(() => a.close())
  return a
}

/** A ListOffsets answer: `offset` for every partition asked, unless `errorFor` gives an error code. */
function offsetsAnswer(offset: bigint, errorFor: (topic: string, partition: number) => number = () => 0) {
  return (req: MockRequest) => ({
    topics: req.body.topics.map((tp: { name: string; partitions: Array<{ partitionIndex: number }> }) => ({
      name: tp.name,
      partitions: tp.partitions.map((p) => ({
        partitionIndex: p.partitionIndex,
        errorCode: errorFor(tp.name, p.partitionIndex),
        // v0 answers with an array of offsets, v1+ with one offset and its timestamp, v4+ with the leader epoch.
        ...(req.apiVersion === 0 ? { oldStyleOffsets: [offset] } : { offset, timestamp: -1n }),
        ...(req.apiVersion >= 4 ? { leaderEpoch: 0 } : {}),
      })),
    })),
  })
}

function coordinatorAnswer(node: () => MockBroker) {
  return (req: MockRequest) => {
    const n = node()
    return req.apiVersion >= 4
      ? { coordinators: req.body.coordinatorKeys.map((key: string) => ({ key, nodeId: n.nodeId, host: n.host, port: n.port, errorCode: 0, errorMessage: null })) }
      : { nodeId: n.nodeId, host: n.host, port: n.port, errorCode: 0, errorMessage: null }
  }
}

describe('routing and retries', () => {
  test('listOffsets follows a leader that moved: NOT_LEADER_OR_FOLLOWER, fresh metadata, the new leader answers', async (t) => {
    const brokers = await mockCluster(t, 2, [{ name: 'orders', partitions: [{ partition: 0, leader: 1 }, { partition: 1, leader: 2 }] }])
    const [b1, b2] = brokers as [MockBroker, MockBroker]
    b2.on(listOffsets, offsetsAnswer(42n))
    const admin = adminOf(t, brokers)
    // Broker 1 lost partition 0 to broker 2: it says NOT_LEADER_OR_FOLLOWER, and metadata asked again says broker 2.
    b1.on(listOffsets, (req) => {
      for (const b of brokers) b.topics = [{ name: 'orders', partitions: [{ partition: 0, leader: 2 }, { partition: 1, leader: 2 }] }]
      return offsetsAnswer(0n, () => 6)(req)
    })
    const res = await admin.listOffsets([{ topic: 'orders', partition: 0, spec: 'latest' }, { topic: 'orders', partition: 1, spec: 'latest' }])
    assert.deepEqual(res.map((r) => (r.error === null ? r.offset : r.error.code)), [42n, 42n])
    assert.equal(b1.requestsOf(listOffsets).length, 1)
    // One request per leader and round: partition 1 in the first, partition 0 in the second.
    assert.deepEqual(b2.requestsOf(listOffsets).map((r) => r.body.topics[0].partitions.map((p: { partitionIndex: number }) => p.partitionIndex)), [[1], [0]])
  })

  test('a partition whose error persists keeps it when the deadline comes; the others have their results', async (t) => {
    const brokers = await mockCluster(t, 2, [{ name: 'orders', partitions: [{ partition: 0, leader: 1 }, { partition: 1, leader: 2 }] }])
    brokers[0]!.on(listOffsets, offsetsAnswer(7n))
    brokers[1]!.on(listOffsets, offsetsAnswer(0n, () => 5 /* LEADER_NOT_AVAILABLE */))
    const admin = adminOf(t, brokers)
    const started = Date.now()
    const res = await admin.listOffsets([{ topic: 'orders', partition: 0, spec: 'latest' }, { topic: 'orders', partition: 1, spec: 'latest' }], { timeoutMs: 600 })
    assert.ok(Date.now() - started < 1000)
    assert.equal(res[0]!.error === null ? res[0]!.offset : null, 7n)
    assert.ok(res[1]!.error instanceof BrokerError && res[1]!.error.code === 'LEADER_NOT_AVAILABLE')
    assert.ok(brokers[1]!.requestsOf(listOffsets).length > 1, 'retried')
  })

  test('a leader that never answers: its partitions report DeadlineExceededError, the rest their results', async (t) => {
    const brokers = await mockCluster(t, 2, [{ name: 'orders', partitions: [{ partition: 0, leader: 1 }, { partition: 1, leader: 2 }] }])
    brokers[0]!.on(listOffsets, offsetsAnswer(7n))
    brokers[1]!.on(listOffsets, () => null)
    const admin = adminOf(t, brokers)
    const res = await admin.listOffsets([{ topic: 'orders', partition: 0, spec: 'latest' }, { topic: 'orders', partition: 1, spec: 'latest' }], { timeoutMs: 500 })
    assert.equal(res[0]!.error === null ? res[0]!.offset : null, 7n)
    assert.ok(res[1]!.error instanceof DeadlineExceededError, String(res[1]!.error))
  })

  test('deleteGroups: NOT_COORDINATOR sends the group to its new coordinator', async (t) => {
    const brokers = await mockCluster(t, 2)
    const [b1, b2] = brokers as [MockBroker, MockBroker]
    let coordinator = b1
    for (const b of brokers) b.on(findCoordinator, coordinatorAnswer(() => coordinator))
    b1.on(deleteGroups, (req) => {
      coordinator = b2
      return { results: req.body.groupsNames.map((groupId: string) => ({ groupId, errorCode: 16 })) }
    })
    b2.on(deleteGroups, (req) => ({ results: req.body.groupsNames.map((groupId: string) => ({ groupId, errorCode: groupId === 'ghost' ? 69 : 0 })) }))
    const res = await adminOf(t, brokers).deleteGroups(['billing', 'ghost'])
    assert.deepEqual(res.map((r) => r.error?.code ?? 'ok'), ['ok', 'GROUP_ID_NOT_FOUND'])
    assert.equal(b2.requestsOf(deleteGroups).length, 1)
  })
})

describe('describeGroups: which API answers', () => {
  const emptyClassic = (groupId: string, state = 'Empty') => ({ errorCode: 0, groupId, groupState: state, protocolType: '', protocolData: '', members: [] })

  test('ConsumerGroupDescribe first; GROUP_ID_NOT_FOUND there sends the group to DescribeGroups', async (t) => {
    const brokers = await mockCluster(t, 1)
    const b = brokers[0]!
    b.on(findCoordinator, coordinatorAnswer(() => b))
    b.on(consumerGroupDescribe, (req) => ({
      groups: req.body.groupIds.map((groupId: string) =>
        groupId === 'new'
          ? { errorCode: 0, groupId, groupState: 'Stable', groupEpoch: 3, assignmentEpoch: 3, assignorName: 'uniform', members: [] }
          : { errorCode: 69, errorMessage: `Group ${groupId} is not a consumer group.`, groupId },
      ),
    }))
    b.on(describeGroups, (req) => ({ groups: req.body.groups.map((g: string) => emptyClassic(g)) }))
    const res = await adminOf(t, brokers).describeGroups(['new', 'old'])
    assert.deepEqual(res.map((g) => (g.error === null ? [g.groupId, g.type, g.state] : g.error.code)), [['new', 'consumer', 'Stable'], ['old', 'classic', 'Empty']])
    assert.deepEqual(b.requestsOf(describeGroups).map((r) => r.body.groups), [['old']])
  })

  test('a coordinator without ConsumerGroupDescribe is asked with DescribeGroups only; "Dead" before v6 is GROUP_ID_NOT_FOUND', async (t) => {
    const brokers = await mockCluster(t, 1)
    const b = brokers[0]!
    b.versionOverrides.set(consumerGroupDescribe.apiKey, null)
    b.versionOverrides.set(describeGroups.apiKey, { minVersion: 0, maxVersion: 5 })
    b.on(findCoordinator, coordinatorAnswer(() => b))
    b.on(describeGroups, (req) => ({ groups: req.body.groups.map((g: string) => emptyClassic(g, g === 'ghost' ? 'Dead' : 'Empty')) }))
    const res = await adminOf(t, brokers).describeGroups(['old', 'ghost'])
    assert.deepEqual(res.map((g) => g.error?.code ?? (g.error === null ? g.type : '')), ['classic', 'GROUP_ID_NOT_FOUND'])
    assert.equal(b.requestsOf(consumerGroupDescribe).length, 0)
  })
})

describe('version-dependent requests', () => {
  test('ListOffsets v0: maxNumOffsets and the old-style offsets array; max-timestamp needs v7 and fails alone', async (t) => {
    const brokers = await mockCluster(t, 1, [{ name: 'orders', partitions: [{ partition: 0, leader: 1 }, { partition: 1, leader: 1 }] }])
    const b = brokers[0]!
    b.versionOverrides.set(listOffsets.apiKey, { minVersion: 0, maxVersion: 0 })
    b.on(listOffsets, offsetsAnswer(9n))
    const res = await adminOf(t, brokers).listOffsets([{ topic: 'orders', partition: 0, spec: 'latest' }, { topic: 'orders', partition: 1, spec: 'max-timestamp' }])
    assert.equal(res[0]!.error === null ? res[0]!.offset : null, 9n)
    assert.ok(res[1]!.error instanceof UnsupportedApiError)
    const req = b.requestsOf(listOffsets)[0]!
    assert.equal(req.apiVersion, 0)
    assert.deepEqual(req.body.topics[0].partitions.map((p: { maxNumOffsets: number; timestamp: bigint }) => [p.timestamp, p.maxNumOffsets]), [[-1n, 1]])
  })

  test('OffsetFetch stays at v9 (topic names) when the broker offers v10 (topic ids only)', async (t) => {
    const brokers = await mockCluster(t, 1)
    const b = brokers[0]!
    b.on(findCoordinator, coordinatorAnswer(() => b))
    b.on(offsetFetch, (req) => ({ groups: [{ groupId: req.body.groups[0].groupId, errorCode: 0, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 5n, committedLeaderEpoch: -1, metadata: '', errorCode: 0 }] }] }] }))
    const res = await adminOf(t, brokers).listConsumerGroupOffsets('billing')
    assert.deepEqual(res.map((r) => (r.error === null ? [r.topic, r.partition, r.offset] : r.error.code)), [['orders', 0, 5n]])
    assert.equal(b.requestsOf(offsetFetch)[0]!.apiVersion, 9)
  })

  test('CreateTopics before v4 needs partitions and replication factor; DeleteTopics before v6 cannot delete by id', async (t) => {
    const brokers = await mockCluster(t, 1)
    const b = brokers[0]!
    b.versionOverrides.set(createTopics.apiKey, { minVersion: 0, maxVersion: 3 })
    b.versionOverrides.set(deleteTopics.apiKey, { minVersion: 0, maxVersion: 5 })
    b.on(createTopics, (req) => ({ topics: req.body.topics.map((x: { name: string }) => ({ name: x.name, errorCode: 0, errorMessage: null })) }))
    b.on(deleteTopics, (req) => ({ responses: req.body.topicNames.map((name: string) => ({ name, errorCode: 0 })) }))
    const admin = adminOf(t, brokers)
    await assert.rejects(admin.createTopics([{ name: 'orders' }]), UnsupportedApiError)
    const created = await admin.createTopics([{ name: 'orders', partitions: 2, replicationFactor: 1 }])
    assert.deepEqual(created.map((r) => (r.error === null ? [r.partitions, r.configs] : r.error.code)), [[-1, null]])
    assert.deepEqual(b.requestsOf(createTopics)[0]!.body.topics[0].numPartitions, 2)
    const deleted = await admin.deleteTopics(['orders', { topicId: 'Zm9vYmFyYmF6cXV4cXV1eA' }])
    assert.deepEqual(deleted.map((r) => r.error?.code ?? 'ok'), ['ok', 'UNSUPPORTED_VERSION'])
    assert.deepEqual(b.requestsOf(deleteTopics)[0]!.body.topicNames, ['orders'])
  })

  test('a partition given twice in one listOffsets call is refused', async (t) => {
    const brokers = await mockCluster(t, 1, [{ name: 'orders', partitions: [{ partition: 0, leader: 1 }] }])
    const admin = adminOf(t, brokers)
    await assert.rejects(admin.listOffsets([{ topic: 'orders', partition: 0, spec: 'earliest' }, { topic: 'orders', partition: 0, spec: 'latest' }]), TypeError)
  })
})
