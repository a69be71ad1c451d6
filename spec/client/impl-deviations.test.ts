// Behaviours of Kafka implementations other than Apache Kafka that the client tolerates, each replayed on a
// mock broker the way the implementation behaves. The tolerance itself lives where its comment says
// ("Deviation tolerated: <implementation> ..."); conformance/README.md lists them all.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Admin } from '../../src/client/admin/index.js'
import { Cluster } from '../../src/client/cluster.js'
import { fetchCommittedOffsets } from '../../src/consumer/offsets.js'
import { AuthenticationError } from '../../src/client/errors.js'
import { apiVersions } from '../../src/protocol/messages/api-versions.js'
import { consumerGroupDescribe } from '../../src/protocol/messages/consumer-group-describe.js'
import { describeConfigs } from '../../src/protocol/messages/describe-configs.js'
import { describeGroups } from '../../src/protocol/messages/describe-groups.js'
import { findCoordinator } from '../../src/protocol/messages/find-coordinator.js'
import { offsetFetch } from '../../src/protocol/messages/offset-fetch.js'
import { listPartitionReassignments } from '../../src/protocol/messages/list-partition-reassignments.js'
import { listTransactions } from '../../src/protocol/messages/list-transactions.js'
import { connectionTo, mockBroker, rejection } from '../support/client.js'
import { MockBroker, reply } from '../support/mock-broker.js'

const SASL_AUTHENTICATE = 36

describe('kfake: invalid SASL credentials close the connection instead of SASL_AUTHENTICATION_FAILED', () => {
  for (const mechanism of ['PLAIN', 'SCRAM-SHA-256'] as const) {
    test(`${mechanism}: an AuthenticationError naming the mechanism and broker, not a retriable ConnectionError`, async (t) => {
      const broker = await mockBroker(t)
      broker.requireSasl({ mechanisms: ['PLAIN', 'SCRAM-SHA-256'], users: { alice: 'alice-secret' } })
      // kfake returns an error from its handler: the connection is closed, nothing is answered
      broker.on(SASL_AUTHENTICATE, () => reply({ closeAfterBytes: 0 }))
      const conn = connectionTo(t, broker, { sasl: { mechanism, username: 'alice', password: 'wrong' } })
      const err = await rejection(conn.connect(), 'connect with wrong credentials')
      assert.ok(err instanceof AuthenticationError, `${err.name}: ${err.message}`)
      assert.equal(err.retriable, false)
      assert.match(err.message, new RegExp(`^SASL ${mechanism} authentication with 127\\.0\\.0\\.1:${broker.port} failed: the broker closed the connection`))
      assert.equal(err.message.includes('wrong'), false, 'the password is not in the message')
    })
  }

  test('a Cluster gives up at once instead of reconnecting until its deadline', async (t) => {
    const broker = await mockBroker(t)
    broker.requireSasl({ mechanisms: ['PLAIN'], users: { alice: 'alice-secret' } })
    broker.on(SASL_AUTHENTICATE, () => reply({ closeAfterBytes: 0 }))
    const cluster = new Cluster({ brokers: broker.address, sasl: { mechanism: 'PLAIN', username: 'alice', password: 'wrong' }, defaultTimeoutMs: 30_000 })
    t.after(() => cluster.destroy())
    const started = Date.now()
    const err = await rejection(cluster.connect(), 'Cluster.connect', 10_000)
    assert.ok(err instanceof AuthenticationError, `${err.name}: ${err.message}`)
    assert.ok(Date.now() - started < 5000)
  })

  test('a connection closed before SaslAuthenticate (during the handshake) stays a retriable ConnectionError', async (t) => {
    const broker = await mockBroker(t)
    broker.requireSasl({ mechanisms: ['PLAIN'], users: { alice: 'alice-secret' } })
    broker.on(17, () => reply({ closeAfterBytes: 0 }))
    const conn = connectionTo(t, broker, { sasl: { mechanism: 'PLAIN', username: 'alice', password: 'alice-secret' } })
    const err = await rejection(conn.connect(), 'connect')
    assert.equal((err as { retriable?: boolean }).retriable, true, `${err.name}: ${err.message}`)
  })
})

describe('Tansu: every tagged field of the ApiVersions response, defaults included', () => {
  // Tansu 0.6.0's ApiVersions v4 answer as captured on the wire (after the correlation id): 35 APIs, then
  // throttle 0 and four tagged fields, SupportedFeatures [], FinalizedFeaturesEpoch -1, FinalizedFeatures [],
  // ZkMigrationReady false, where Apache Kafka leaves out the ones at their defaults. librdkafka 2.0.2 fails
  // on it with "Read underflow": it skipped one byte less than each tagged field's length (fixed in
  // librdkafka 2.2.0, confluentinc/librdkafka#4278), which Apache Kafka's tags survive by luck.
  const TANSU_API_VERSIONS_V4 = [
    '000024001c0000000400003c000000010000100000000500001d000000030000000000000b00001600000005000018000000',
    '050000330000000000000a000000060000240000000200000c00000004000002000000090000030000000c00001e00000003',
    '00000100000011000020000000040000150000000200002a0000000200001300000007000011000000010000190000000400',
    '000f000000050000140000000600000b00000009000008000000090000320000000000000e0000000500002c000000010000',
    '12000000040000090000000900000d000000050000450000000000004b000000000000470000000000002e00000000000000',
    '0000040001010108ffffffffffffffff020101030100',
  ].join('')

  test('decoded as sent: 35 APIs, no finalized feature, and requests go out at the versions it offers', async (t) => {
    const broker = await mockBroker(t)
    broker.on(apiVersions, (req) => {
      const body = Buffer.from(TANSU_API_VERSIONS_V4, 'hex')
      const frame = Buffer.alloc(8 + body.length)
      frame.writeInt32BE(4 + body.length, 0)
      frame.writeInt32BE(req.correlationId, 4)
      body.copy(frame, 8)
      return reply({ raw: frame })
    })
    const conn = connectionTo(t, broker)
    await conn.connect()
    assert.equal(conn.versions.negotiatedWith, 4)
    assert.equal(conn.versions.apiKeys.length, 35)
    assert.deepEqual(conn.versions.get(3), { minVersion: 0, maxVersion: 12 })
    assert.equal(conn.versions.has(26), false, 'no EndTxn')
    assert.equal(conn.versions.has(23), false, 'no OffsetForLeaderEpoch')
    assert.equal(conn.versions.featureLevel('transaction.version'), 0)
    assert.equal(conn.versions.featureLevel('group.version'), 0)
  })
})

describe('Tansu: a DescribeConfigs request with configuration keys closes the connection', () => {
  test('describeConfigs with keys asks for every key, as the Java client does, and returns only those asked for', async (t) => {
    const broker = await mockBroker(t)
    const asked: unknown[] = []
    broker.on(describeConfigs, (req) => {
      const resources = req.body.resources as Array<{ resourceType: number; resourceName: string; configurationKeys: string[] | null }>
      asked.push(...resources.map((r) => r.configurationKeys))
      // Tansu 0.6.0 fails to decode any non-null nullable string array ("StringWithoutLength") and hangs up
      if (resources.some((r) => r.configurationKeys !== null)) return reply({ closeAfterBytes: 0 })
      const entry = (name: string, value: string) => ({ name, value, readOnly: false, isDefault: false, configSource: 1, isSensitive: false, synonyms: [], configType: 2, documentation: '' })
      return {
        throttleTimeMs: 0,
        results: resources.map((r) => ({
          errorCode: 0,
          errorMessage: null,
          resourceType: r.resourceType,
          resourceName: r.resourceName,
          configs: [entry('retention.ms', '1000'), entry('cleanup.policy', 'compact'), entry('segment.bytes', '1048576')],
        })),
      }
    })
    const admin = new Admin({ brokers: broker.address, defaultTimeoutMs: 5000 })
    t.after(() => admin.close())
    const [some, all] = await admin.describeConfigs([
      { type: 'topic', name: 'a', keys: ['retention.ms', 'cleanup.policy'] },
      { type: 'topic', name: 'b' },
    ])
    assert.equal(some!.error, null)
    assert.equal(all!.error, null)
    if (some!.error === null) assert.deepEqual(some!.configs.map((c) => [c.name, c.value]), [['retention.ms', '1000'], ['cleanup.policy', 'compact']])
    if (all!.error === null) assert.equal(all!.configs.length, 3)
    assert.deepEqual(asked, [null, null])
  })
})

describe('Tansu: ConsumerGroupDescribe without ConsumerGroupHeartbeat answers every group id as an empty consumer group', () => {
  test('describeGroups asks such a coordinator with DescribeGroups only: a classic group keeps its members', async (t) => {
    const broker = await mockBroker(t)
    broker.versionOverrides.set(68, null) // no ConsumerGroupHeartbeat: no KIP-848 groups
    broker.on(findCoordinator, (req) =>
      req.apiVersion >= 4
        ? { coordinators: req.body.coordinatorKeys.map((key: string) => ({ key, nodeId: broker.nodeId, host: broker.host, port: broker.port, errorCode: 0, errorMessage: null })) }
        : { nodeId: broker.nodeId, host: broker.host, port: broker.port, errorCode: 0, errorMessage: null },
    )
    // what Tansu 0.6.0 answers for any group id
    broker.on(consumerGroupDescribe, (req) => ({
      groups: req.body.groupIds.map((groupId: string) => ({ errorCode: 0, groupId, groupState: 'Empty', groupEpoch: -1, assignmentEpoch: -1, assignorName: '', members: [] })),
    }))
    broker.on(describeGroups, (req) => ({
      groups: req.body.groups.map((groupId: string) => ({ errorCode: 0, groupId, groupState: 'Stable', protocolType: 'consumer', protocolData: 'range', members: [] })),
    }))
    const admin = new Admin({ brokers: broker.address, defaultTimeoutMs: 5000 })
    t.after(() => admin.close())
    const [g] = await admin.describeGroups(['orders'])
    assert.equal(g!.error, null, g!.error?.message)
    if (g!.error === null) assert.deepEqual([g!.type, g!.state], ['classic', 'Stable'])
    assert.equal(broker.requestsOf(consumerGroupDescribe).length, 0)
  })
})

describe('kfake: every broker answers ListTransactions with every transaction', () => {
  test('listTransactions lists each transactional id once, as its coordinator does', async (t) => {
    const brokers = await MockBroker.cluster(2)
    t.after(() => Promise.all(brokers.map((b) => b.close())))
    const [b1, b2] = brokers as [MockBroker, MockBroker]
    for (const b of brokers) {
      // kfake: the whole cluster's transactions, from whichever broker is asked
      b.on(listTransactions, () => ({
        errorCode: 0,
        unknownStateFilters: [],
        transactionStates: [
          { transactionalId: 'orders', producerId: 7n, transactionState: 'Ongoing' },
          { transactionalId: 'payments', producerId: 8n, transactionState: 'CompleteCommit' },
        ],
      }))
      // 'orders' is coordinated by broker 2, 'payments' by broker 1
      b.on(findCoordinator, (req) => {
        const at = (key: string) => (key === 'orders' ? b2 : b1)
        return req.apiVersion >= 4
          ? { coordinators: req.body.coordinatorKeys.map((key: string) => ({ key, nodeId: at(key).nodeId, host: at(key).host, port: at(key).port, errorCode: 0, errorMessage: null })) }
          : { nodeId: at(req.body.key).nodeId, host: at(req.body.key).host, port: at(req.body.key).port, errorCode: 0, errorMessage: null }
      })
    }
    const admin = new Admin({ brokers: b1.address, defaultTimeoutMs: 5000 })
    t.after(() => admin.close())
    const res = await admin.listTransactions()
    assert.deepEqual(res.errors, [])
    assert.deepEqual(res.transactions.map((x) => [x.transactionalId, x.state, x.coordinator]), [['orders', 'Ongoing', 2], ['payments', 'CompleteCommit', 1]])
  })
})

describe('Tansu: ListPartitionReassignments lists every partition, none of them moving', () => {
  test('listPartitionReassignments returns only partitions that add or remove replicas', async (t) => {
    const broker = await mockBroker(t)
    broker.on(listPartitionReassignments, () => ({
      errorCode: 0,
      errorMessage: null,
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, replicas: [111], addingReplicas: [], removingReplicas: [] }, // Tansu: every partition
            { partitionIndex: 1, replicas: [1, 2, 3], addingReplicas: [3], removingReplicas: [1] }, // really moving
          ],
        },
      ],
    }))
    const admin = new Admin({ brokers: broker.address, defaultTimeoutMs: 5000 })
    t.after(() => admin.close())
    assert.deepEqual((await admin.listPartitionReassignments()).map((r) => [r.topic, r.partition]), [['orders', 1]])
  })
})

describe('kfake: OffsetFetch for a group that does not exist answers GROUP_ID_NOT_FOUND', () => {
  test('outside a membership that means no committed offsets, not a failure', async (t) => {
    const broker = await mockBroker(t)
    broker.topics = [{ name: 'orders', partitions: [{ partition: 0, leader: broker.nodeId }] }]
    broker.on(findCoordinator, (req) =>
      req.apiVersion >= 4
        ? { coordinators: req.body.coordinatorKeys.map((key: string) => ({ key, nodeId: broker.nodeId, host: broker.host, port: broker.port, errorCode: 0, errorMessage: null })) }
        : { nodeId: broker.nodeId, host: broker.host, port: broker.port, errorCode: 0, errorMessage: null },
    )
    broker.on(offsetFetch, (req) =>
      req.apiVersion >= 8
        ? { groups: req.body.groups.map((g: { groupId: string }) => ({ groupId: g.groupId, topics: [], errorCode: 69 })) }
        : { topics: [], errorCode: 69 },
    )
    const cluster = new Cluster({ brokers: broker.address, defaultTimeoutMs: 5000 })
    t.after(() => cluster.destroy())
    await cluster.connect()
    await cluster.topicsMetadata(['orders'])
    assert.deepEqual(await fetchCommittedOffsets(cluster, 'new-group', [{ topic: 'orders', partition: 0 }]), [])
    // Within a membership the group must exist: the error stands.
    await assert.rejects(
      fetchCommittedOffsets(cluster, 'new-group', [{ topic: 'orders', partition: 0 }], { member: { memberId: 'm', generationOrEpoch: 1, groupInstanceId: null } }),
      /GROUP_ID_NOT_FOUND/,
    )
  })
})

describe('kfake: ConsumerGroupDescribe names assigned topics by id only', () => {
  test('describeGroups fills the topic names from the cluster metadata', async (t) => {
    const broker = await mockBroker(t)
    const topicId = 'AAAAAAAAAAAAAAAAAAAAAQ'
    broker.topics = [{ name: 'orders', topicId, partitions: [{ partition: 0, leader: broker.nodeId }, { partition: 1, leader: broker.nodeId }] }]
    broker.on(findCoordinator, (req) =>
      req.apiVersion >= 4
        ? { coordinators: req.body.coordinatorKeys.map((key: string) => ({ key, nodeId: broker.nodeId, host: broker.host, port: broker.port, errorCode: 0, errorMessage: null })) }
        : { nodeId: broker.nodeId, host: broker.host, port: broker.port, errorCode: 0, errorMessage: null },
    )
    const assignment = { topicPartitions: [{ topicId, topicName: '', partitions: [0, 1] }] } // kfake: no name
    broker.on(consumerGroupDescribe, (req) => ({
      groups: req.body.groupIds.map((groupId: string) => ({
        errorCode: 0,
        groupId,
        groupState: 'Stable',
        groupEpoch: 2,
        assignmentEpoch: 2,
        assignorName: '',
        members: [{ memberId: 'm1', instanceId: null, rackId: null, memberEpoch: 2, clientId: 'c', clientHost: '/127.0.0.1', subscribedTopicNames: ['orders'], subscribedTopicRegex: null, assignment, targetAssignment: assignment, memberType: 1 }],
      })),
    }))
    const admin = new Admin({ brokers: broker.address, defaultTimeoutMs: 5000 })
    t.after(() => admin.close())
    const [g] = await admin.describeGroups(['g'])
    assert.equal(g!.error, null, g!.error?.message)
    if (g!.error === null && g!.type === 'consumer') {
      assert.deepEqual(g!.members[0]!.assignment.map((a) => [a.topic, a.topicId, a.partitions]), [['orders', topicId, [0, 1]]])
      assert.deepEqual(g!.members[0]!.targetAssignment.map((a) => a.topic), ['orders'])
    } else assert.fail(`a consumer group, got ${JSON.stringify(g)}`)
  })
})
