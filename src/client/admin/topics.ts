/**
 * Topic administration: create, delete, list, describe, add partitions.
 */
import { BrokerError, type KafkawireError } from '../../protocol/errors.js'
import { createPartitions as createPartitionsApi } from '../../protocol/messages/create-partitions.js'
import { createTopics as createTopicsApi } from '../../protocol/messages/create-topics.js'
import { deleteTopics as deleteTopicsApi } from '../../protocol/messages/delete-topics.js'
import { describeTopicPartitions } from '../../protocol/messages/describe-topic-partitions.js'
import { ZERO_UUID_STRING } from '../../protocol/schema.js'
import { UnsupportedApiError } from '../errors.js'
import { brokerStep, unique, type AdminContext, type Op, type Reply, type Step } from './context.js'
import { authorizedOperations, configSource, type AclOperation, type ConfigEntry, type Outcome } from './types.js'

const NOT_CONTROLLER = 41
const THROTTLING_QUOTA_EXCEEDED = 89

/**
 * Errors worth another attempt for controller requests: the controller
 * moved, or the controller mutation quota (KIP-599) is exhausted for now.
 * Other errors, even retriable ones such as REQUEST_TIMED_OUT (the topic may
 * have been created anyway), are final, as in the reference admin client.
 */
function controllerRetry(code: number): boolean {
  return code === NOT_CONTROLLER || code === THROTTLING_QUOTA_EXCEEDED
}

// ---- createTopics --------------------------------------------------------------------

export interface NewTopic {
  name: string
  /** Default: the broker's num.partitions (CreateTopics v4+, KIP-464). */
  partitions?: number
  /** Default: the broker's default.replication.factor (v4+). */
  replicationFactor?: number
  /** Replicas of each partition by partition index; excludes partitions and replicationFactor. */
  replicaAssignment?: number[][]
  configs?: Record<string, string>
}

export interface CreatedTopicData {
  /** Zero ("AAAAAAAAAAAAAAAAAAAAAA") before CreateTopics v7 and with validateOnly. */
  topicId: string
  /** -1 before CreateTopics v5. */
  partitions: number
  replicationFactor: number
  /** The topic's configs as created (v5+); null before v5 or when the broker could not describe them. */
  configs: ConfigEntry[] | null
}
export type CreatedTopic = Outcome<{ name: string }, CreatedTopicData>

export async function createTopics(ctx: AdminContext, op: Op, topics: NewTopic[], validateOnly: boolean): Promise<CreatedTopic[]> {
  const byName = new Map(topics.map((t) => [t.name, t]))
  if (byName.size !== topics.length) throw new TypeError('each topic may appear only once in createTopics')
  const settled = await ctx.settle<CreatedTopicData>([...byName.keys()], op, async (pending, attempt) => {
    const node = await ctx.controller(op, attempt > 0)
    const { res, version } = await ctx.send(
      node,
      createTopicsApi,
      (v) => ({
        topics: pending.map((name) => {
          const t = byName.get(name)!
          const assigned = t.replicaAssignment !== undefined
          // Before v4 the broker has no defaults to fall back on.
          if (v < 4 && !assigned && (t.partitions === undefined || t.replicationFactor === undefined)) {
            throw new UnsupportedApiError(`CreateTopics v${v} needs partitions and replicationFactor for topic ${name} (broker defaults need v4+)`, { apiName: 'CreateTopics', topic: name })
          }
          return {
            name,
            numPartitions: assigned ? -1 : (t.partitions ?? -1),
            replicationFactor: assigned ? -1 : (t.replicationFactor ?? -1),
            assignments: (t.replicaAssignment ?? []).map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds })),
            configs: Object.entries(t.configs ?? {}).map(([n, value]) => ({ name: n, value })),
          }
        }),
        timeoutMs: ctx.remaining(op),
        validateOnly,
      }),
      op,
      { serverWaitMs: ctx.remaining(op) },
    )
    const steps = new Map<string, Step<CreatedTopicData>>()
    for (const t of res.topics) {
      const ctxt = { apiName: 'CreateTopics', topic: t.name }
      if (t.errorCode !== 0) {
        steps.set(t.name, brokerStep(t.errorCode, ctxt, t.errorMessage, controllerRetry(t.errorCode)))
        continue
      }
      steps.set(t.name, {
        ok: {
          topicId: t.topicId,
          partitions: t.numPartitions,
          replicationFactor: t.replicationFactor,
          configs:
            version < 5 || t.configs === null || t.topicConfigErrorCode !== 0
              ? null
              : t.configs.map((c) => ({
                  name: c.name,
                  value: c.value,
                  readOnly: c.readOnly,
                  isSensitive: c.isSensitive,
                  isDefault: c.configSource === 5,
                  source: configSource(c.configSource),
                  synonyms: [],
                  type: null,
                  documentation: null,
                })),
        },
      })
    }
    return steps
  })
  return [...byName.keys()].map((name) => {
    const s = settled.get(name)!
    return 'ok' in s ? { name, error: null, ...s.ok } : { name, error: s.fail }
  })
}

// ---- deleteTopics --------------------------------------------------------------------

/** A topic to delete: by name, or by id (DeleteTopics v6+, KIP-516). */
export type TopicRef = string | { topicId: string }
export type DeletedTopic = Outcome<{ name: string | null; topicId: string | null }, object>

export async function deleteTopics(ctx: AdminContext, op: Op, topics: TopicRef[]): Promise<DeletedTopic[]> {
  const keyOf = (t: TopicRef): string => (typeof t === 'string' ? `name:${t}` : `id:${t.topicId}`)
  const refs = new Map(topics.map((t) => [keyOf(t), t]))
  const settled = await ctx.settle<{ name: string | null; topicId: string | null }>([...refs.keys()], op, async (pending, attempt) => {
    const node = await ctx.controller(op, attempt > 0)
    const steps = new Map<string, Step<{ name: string | null; topicId: string | null }>>()
    const canUseIds = await ctx.supports(node, deleteTopicsApi.apiKey, op, 6)
    const sendable = pending.filter((k) => {
      if (canUseIds || typeof refs.get(k) === 'string') return true
      steps.set(k, { fail: new UnsupportedApiError('deleting a topic by id needs DeleteTopics v6+ (KIP-516)', { apiName: 'DeleteTopics', topicId: k.slice(3) }), retry: false })
      return false
    })
    if (sendable.length === 0) return steps
    const { res } = await ctx.send(
      node,
      deleteTopicsApi,
      (v) => {
        const list = sendable.map((k) => refs.get(k)!)
        return v >= 6
          ? { topics: list.map((t) => (typeof t === 'string' ? { name: t, topicId: ZERO_UUID_STRING } : { name: null, topicId: t.topicId })), timeoutMs: ctx.remaining(op) }
          : { topicNames: list as string[], timeoutMs: ctx.remaining(op) }
      },
      op,
      { serverWaitMs: ctx.remaining(op) },
    )
    for (const r of res.responses) {
      // Answers to requests by id carry the id (and the name when authorized); by name, the name.
      const byId = r.topicId !== ZERO_UUID_STRING && refs.has(`id:${r.topicId}`) && sendable.includes(`id:${r.topicId}`)
      const key = byId ? `id:${r.topicId}` : `name:${r.name}`
      const ids = { name: r.name, topicId: r.topicId === ZERO_UUID_STRING ? null : r.topicId }
      if (r.errorCode !== 0) {
        const context = { apiName: 'DeleteTopics', ...(r.name !== null ? { topic: r.name } : {}), ...(ids.topicId !== null ? { topicId: ids.topicId } : {}) }
        steps.set(key, brokerStep(r.errorCode, context, r.errorMessage, controllerRetry(r.errorCode)))
      } else steps.set(key, { ok: ids })
    }
    return steps
  })
  return [...refs].map(([k, t]) => {
    const s = settled.get(k)!
    const asked = typeof t === 'string' ? { name: t, topicId: null } : { name: null, topicId: t.topicId }
    return 'ok' in s ? { name: s.ok.name ?? asked.name, topicId: s.ok.topicId ?? asked.topicId, error: null } : { ...asked, error: s.fail }
  })
}

// ---- listTopics ----------------------------------------------------------------------

export interface TopicListing {
  name: string
  topicId: string
  isInternal: boolean
  partitions: number
}

export async function listTopics(ctx: AdminContext, op: Op, includeInternal: boolean): Promise<TopicListing[]> {
  const { res } = await ctx.retry(op, () => ctx.metadata(null, op))
  return res.topics
    .filter((t) => t.name !== null && (includeInternal || !t.isInternal))
    .map((t) => ({ name: t.name!, topicId: t.topicId, isInternal: t.isInternal, partitions: t.partitions.length }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

// ---- describeTopics ------------------------------------------------------------------

export interface PartitionDescription {
  partition: number
  /** -1 when the partition has no leader. */
  leader: number
  leaderEpoch: number
  replicas: number[]
  isr: number[]
  offlineReplicas: number[]
  /** Eligible leader replicas (KIP-966); null when the broker does not report them (Metadata). */
  eligibleLeaderReplicas: number[] | null
  lastKnownElr: number[] | null
}

export interface TopicDescriptionData {
  topicId: string
  isInternal: boolean
  partitions: PartitionDescription[]
  /** With includeAuthorizedOperations; null otherwise. */
  authorizedOperations: AclOperation[] | null
}
export type TopicDescription = Outcome<{ name: string }, TopicDescriptionData>

/** Partitions per DescribeTopicPartitions response; the reference admin's default too. */
const PARTITIONS_PER_RESPONSE = 2000

/**
 * Describes topics with DescribeTopicPartitions (API 75, KIP-966) when the
 * broker has it, paginating with its cursor; with Metadata otherwise.
 */
export async function describeTopics(ctx: AdminContext, op: Op, names: string[], includeAuthorizedOperations: boolean, partitionsPerResponse = PARTITIONS_PER_RESPONSE): Promise<TopicDescription[]> {
  const wanted = unique(names)
  const found = await ctx.retry(op, async () =>
    (await ctx.supports('any', describeTopicPartitions.apiKey, op))
      ? describeWithDescribeTopicPartitions(ctx, op, wanted, includeAuthorizedOperations, partitionsPerResponse)
      : describeWithMetadata(ctx, op, wanted, includeAuthorizedOperations),
  )
  return wanted.map((name) => found.get(name) ?? { name, error: new BrokerError(3, { topic: name }, 'missing from the response') })
}

export async function describeWithDescribeTopicPartitions(
  ctx: AdminContext,
  op: Op,
  names: string[],
  withOps: boolean,
  partitionsPerResponse = PARTITIONS_PER_RESPONSE,
): Promise<Map<string, TopicDescription>> {
  const out = new Map<string, TopicDescription>()
  const sorted = [...names].sort()
  let cursor: { topicName: string; partitionIndex: number } | null = null
  for (;;) {
    const from: string | null = cursor === null ? null : cursor.topicName
    // The broker answers in name order and resumes at the cursor; topics before it are done.
    const topics: string[] = from === null ? sorted : sorted.filter((n) => n >= from)
    const reply: Reply<typeof describeTopicPartitions.response.fields> = await ctx.send('any', describeTopicPartitions, () => ({ topics: topics.map((name) => ({ name })), responsePartitionLimit: partitionsPerResponse, cursor }), op)
    const res = reply.res
    for (const t of res.topics) {
      if (t.name === null) continue
      if (t.errorCode !== 0) {
        out.set(t.name, { name: t.name, error: new BrokerError(t.errorCode, { apiName: 'DescribeTopicPartitions', topic: t.name }) })
        continue
      }
      const prev = out.get(t.name)
      const partitions = t.partitions.map((p) => ({
        partition: p.partitionIndex,
        leader: p.leaderId,
        leaderEpoch: p.leaderEpoch,
        replicas: p.replicaNodes,
        isr: p.isrNodes,
        offlineReplicas: p.offlineReplicas,
        eligibleLeaderReplicas: p.eligibleLeaderReplicas,
        lastKnownElr: p.lastKnownElr,
      }))
      if (prev !== undefined && prev.error === null) prev.partitions.push(...partitions)
      else {
        out.set(t.name, {
          name: t.name,
          error: null,
          topicId: t.topicId,
          isInternal: t.isInternal,
          partitions,
          authorizedOperations: withOps ? authorizedOperations(t.topicAuthorizedOperations) : null,
        })
      }
    }
    cursor = res.nextCursor
    if (cursor === null) break
  }
  for (const d of out.values()) if (d.error === null) d.partitions.sort((a, b) => a.partition - b.partition)
  return out
}

export async function describeWithMetadata(ctx: AdminContext, op: Op, names: string[], withOps: boolean): Promise<Map<string, TopicDescription>> {
  const { res, version } = await ctx.metadata(names, op, { authorizedOperations: withOps })
  const out = new Map<string, TopicDescription>()
  for (const t of res.topics) {
    if (t.name === null) continue
    if (t.errorCode !== 0) {
      out.set(t.name, { name: t.name, error: new BrokerError(t.errorCode, { apiName: 'Metadata', topic: t.name }) })
      continue
    }
    out.set(t.name, {
      name: t.name,
      error: null,
      topicId: t.topicId,
      isInternal: t.isInternal,
      partitions: t.partitions
        .map((p) => ({
          partition: p.partitionIndex,
          leader: p.leaderId,
          leaderEpoch: p.leaderEpoch,
          replicas: p.replicaNodes,
          isr: p.isrNodes,
          offlineReplicas: p.offlineReplicas,
          eligibleLeaderReplicas: null,
          lastKnownElr: null,
        }))
        .sort((a, b) => a.partition - b.partition),
      authorizedOperations: withOps && version >= 8 ? authorizedOperations(t.topicAuthorizedOperations) : null,
    })
  }
  return out
}

// ---- createPartitions ----------------------------------------------------------------

export interface NewPartitions {
  topic: string
  /** The total number of partitions the topic should have. */
  count: number
  /** Replicas of each new partition, in order. */
  assignments?: number[][]
}
export type CreatedPartitions = Outcome<{ topic: string }, object>

export async function createPartitions(ctx: AdminContext, op: Op, requests: NewPartitions[], validateOnly: boolean): Promise<CreatedPartitions[]> {
  const byTopic = new Map(requests.map((r) => [r.topic, r]))
  if (byTopic.size !== requests.length) throw new TypeError('each topic may appear only once in createPartitions')
  const settled = await ctx.settle<object>([...byTopic.keys()], op, async (pending, attempt) => {
    const node = await ctx.controller(op, attempt > 0)
    const { res } = await ctx.send(
      node,
      createPartitionsApi,
      () => ({
        topics: pending.map((name) => {
          const r = byTopic.get(name)!
          return { name, count: r.count, assignments: r.assignments === undefined ? null : r.assignments.map((brokerIds) => ({ brokerIds })) }
        }),
        timeoutMs: ctx.remaining(op),
        validateOnly,
      }),
      op,
      { serverWaitMs: ctx.remaining(op) },
    )
    const steps = new Map<string, Step<object>>()
    for (const r of res.results) {
      steps.set(r.name, r.errorCode === 0 ? { ok: {} } : brokerStep(r.errorCode, { apiName: 'CreatePartitions', topic: r.name }, r.errorMessage, controllerRetry(r.errorCode)))
    }
    return steps
  })
  return [...byTopic.keys()].map((topic) => {
    const s = settled.get(topic)!
    return 'ok' in s ? { topic, error: null } : { topic, error: s.fail as KafkawireError }
  })
}
