/**
 * What the producer's conformance tests share: the environment the
 * orchestrator (conformance/run.mjs) sets, unique topic names, and topic
 * creation, deletion and committed-offset lookups with raw requests (so these
 * tests do not depend on the admin client).
 */
import { randomBytes } from 'node:crypto'
import { Cluster, type ClusterOptions } from '../../src/client/cluster.js'
import { BrokerError } from '../../src/protocol/errors.js'
import { createTopics } from '../../src/protocol/messages/create-topics.js'
import { deleteTopics } from '../../src/protocol/messages/delete-topics.js'
import { offsetFetch } from '../../src/protocol/messages/offset-fetch.js'

export const env = process.env
export const brokers = (env.KAFKA_BROKERS ?? '').split(',').filter(Boolean)
export const kafkaVersion = env.KAFKA_VERSION ?? 'unknown'
/** The orchestrator started this cluster: tests may start their own clusters next to it. */
export const managed = env.KAFKAWIRE_MANAGED === '1'
export const noBrokers = brokers.length === 0 ? 'KAFKA_BROKERS is not set' : false

/** A topic name no other test (or earlier run) uses. */
export function topicName(what: string): string {
  return `kw-test-${what}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`
}

/** A Cluster for test plumbing (topic admin, reading back); close it when done. */
export async function plumbing(list: string[] = brokers, o: Partial<ClusterOptions> = {}): Promise<Cluster> {
  const c = new Cluster({ brokers: list, clientId: 'kafkawire-conformance', retryBackoff: { initialMs: 50, maxMs: 500 }, ...o })
  await c.connect()
  return c
}

export interface TopicSpec {
  partitions?: number
  /** Default: the broker's default.replication.factor. */
  replicationFactor?: number
  configs?: Record<string, string>
}

/** Creates topics and waits until every partition has a leader. */
export async function createTopic(cluster: Cluster, name: string, spec: TopicSpec = {}): Promise<void> {
  const controller = cluster.controllerId >= 0 ? cluster.controllerId : 'any'
  const res = await cluster.withRetry(`create ${name}`, () =>
    cluster.send(controller, createTopics, {
      topics: [
        {
          name,
          numPartitions: spec.partitions ?? 1,
          replicationFactor: spec.replicationFactor ?? -1,
          assignments: [],
          configs: Object.entries(spec.configs ?? {}).map(([k, v]) => ({ name: k, value: v })),
        },
      ],
      timeoutMs: 30_000,
      validateOnly: false,
    }),
  )
  const t = res.topics[0]!
  if (t.errorCode !== 0 && t.errorCode !== 36 /* TOPIC_ALREADY_EXISTS */) throw new BrokerError(t.errorCode, { topic: name, apiName: 'CreateTopics' }, t.errorMessage)
  await cluster.topicsMetadata([name], { timeoutMs: 30_000 })
}

/** Deletes topics; missing ones are fine. */
export async function deleteTopic(cluster: Cluster, ...names: string[]): Promise<void> {
  if (names.length === 0) return
  const controller = cluster.controllerId >= 0 ? cluster.controllerId : 'any'
  await cluster
    .withRetry(`delete ${names.join(', ')}`, () =>
      cluster.send(controller, deleteTopics, (version) =>
        version >= 6 ? { topics: names.map((name) => ({ name, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' })), timeoutMs: 30_000 } : { topicNames: names, timeoutMs: 30_000 },
      ),
    )
    .catch(() => undefined)
}

/** A group's committed offset for one partition (-1n when none), read from its coordinator. */
export async function committedOffset(cluster: Cluster, groupId: string, topic: string, partition: number): Promise<bigint> {
  const res = await cluster.sendToCoordinator(
    'group',
    groupId,
    offsetFetch,
    (version) =>
      version >= 8
        ? { groups: [{ groupId, topics: [{ name: topic, topicId: cluster.topic(topic)?.topicId ?? 'AAAAAAAAAAAAAAAAAAAAAA', partitionIndexes: [partition] }] }], requireStable: false }
        : { groupId, topics: [{ name: topic, partitionIndexes: [partition] }], requireStable: false },
    (r, version) => {
      const code = version >= 8 ? (r.groups[0]?.errorCode ?? 0) : r.errorCode
      // kfake answers GROUP_ID_NOT_FOUND for a group that does not exist (yet): nothing committed (-1 below)
      if (code !== 0 && code !== 69) throw new BrokerError(code, { groupId, apiName: 'OffsetFetch' })
    },
    // v10 names topics by id; stay below it so the answer names them.
    { timeoutMs: 30_000, maxVersion: 9 },
  )
  const parts = res.groups.length > 0 ? (res.groups[0]?.topics[0]?.partitions ?? []) : (res.topics[0]?.partitions ?? [])
  return parts.find((p) => p.partitionIndex === partition)?.committedOffset ?? -1n
}

export const text = (b: Buffer | null): string | null => (b === null ? null : b.toString('utf8'))

export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
