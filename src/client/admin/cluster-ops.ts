/**
 * Cluster-wide operations: describing the cluster, log directories, leader
 * elections and partition reassignments.
 */
import { BrokerError, type KafkawireError } from '../../protocol/errors.js'
import { alterPartitionReassignments as alterPartitionReassignmentsApi } from '../../protocol/messages/alter-partition-reassignments.js'
import { describeCluster as describeClusterApi } from '../../protocol/messages/describe-cluster.js'
import { describeLogDirs as describeLogDirsApi } from '../../protocol/messages/describe-log-dirs.js'
import { electLeaders as electLeadersApi } from '../../protocol/messages/elect-leaders.js'
import { listPartitionReassignments as listPartitionReassignmentsApi } from '../../protocol/messages/list-partition-reassignments.js'
import { metadata as metadataApi } from '../../protocol/messages/metadata.js'
import type { BrokerInfo } from '../cluster.js'
import { brokerStep, byTopicPartition, groupBy, tpKey, type AdminContext, type Op, type Step } from './context.js'
import { authorizedOperations, type AclOperation, type BrokerFailure, type Outcome, type TopicPartition } from './types.js'

const NOT_CONTROLLER = 41

// ---- describeCluster -----------------------------------------------------------------

export interface ClusterDescription {
  clusterId: string | null
  /** In KRaft clusters a broker that forwards controller requests (KIP-590); null when none is known. */
  controller: BrokerInfo | null
  brokers: BrokerInfo[]
  /** With includeAuthorizedOperations; null otherwise. */
  authorizedOperations: AclOperation[] | null
}

/** DescribeCluster (API 60, KIP-700) when the broker has it, Metadata otherwise. */
export async function describeCluster(ctx: AdminContext, op: Op, includeAuthorizedOperations: boolean): Promise<ClusterDescription> {
  return ctx.retry(op, async () => {
    if (await ctx.supports('any', describeClusterApi.apiKey, op)) {
      const { res } = await ctx.send('any', describeClusterApi, () => ({ includeClusterAuthorizedOperations: includeAuthorizedOperations, endpointType: 1, includeFencedBrokers: false }), op)
      if (res.errorCode !== 0) throw new BrokerError(res.errorCode, { apiName: 'DescribeCluster' }, res.errorMessage)
      const brokers = res.brokers.map((b) => ({ nodeId: b.brokerId, host: b.host, port: b.port, rack: b.rack })).sort((a, b) => a.nodeId - b.nodeId)
      return {
        clusterId: res.clusterId,
        controller: brokers.find((b) => b.nodeId === res.controllerId) ?? null,
        brokers,
        authorizedOperations: includeAuthorizedOperations ? authorizedOperations(res.clusterAuthorizedOperations) : null,
      }
    }
    const { res, version } = await ctx.send('any', metadataApi, () => ({ topics: [], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: includeAuthorizedOperations }), op)
    const brokers = res.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack })).sort((a, b) => a.nodeId - b.nodeId)
    return {
      clusterId: res.clusterId,
      controller: brokers.find((b) => b.nodeId === res.controllerId) ?? null,
      brokers,
      // Metadata carries cluster operations in v8-10 only (KIP-430; later moved to DescribeCluster).
      authorizedOperations: includeAuthorizedOperations && version >= 8 && version <= 10 ? authorizedOperations(res.clusterAuthorizedOperations) : null,
    }
  })
}

// ---- describeLogDirs -----------------------------------------------------------------

export interface LogDirPartition {
  partition: number
  size: bigint
  /** How far the future replica (being moved here) lags; 0 for the current replica. */
  offsetLag: bigint
  isFuture: boolean
}

export interface LogDirDescription {
  path: string
  /** KAFKA_STORAGE_ERROR for an offline directory, for example. */
  error: KafkawireError | null
  topics: Array<{ topic: string; partitions: LogDirPartition[] }>
  /** DescribeLogDirs v4+ (KIP-827); null before. */
  totalBytes: bigint | null
  usableBytes: bigint | null
}

export interface LogDirs {
  brokers: Array<{ nodeId: number; logDirs: LogDirDescription[] }>
  errors: BrokerFailure[]
}

/** Every broker's log directories, with the given topics' replicas on them (default: every topic). */
export async function describeLogDirs(ctx: AdminContext, op: Op, topics: string[] | null): Promise<LogDirs> {
  let wanted: Array<{ topic: string; partitions: number[] }> | null = null
  if (topics !== null) {
    const { res } = await ctx.retry(op, () => ctx.metadata(topics, op))
    wanted = []
    for (const t of res.topics) {
      if (t.name === null) continue
      // An unknown topic is simply on no broker.
      if (t.errorCode === 0) wanted.push({ topic: t.name, partitions: t.partitions.map((p) => p.partitionIndex) })
    }
  }
  const nodes = await ctx.brokerIds(op)
  const settled = await ctx.settle<LogDirDescription[]>(nodes.map(String), op, (pending) =>
    ctx.perNode(
      new Map(pending.map((n) => [Number(n), [n]])),
      (k) => k,
      async (node) => {
        const { res, version } = await ctx.send(node, describeLogDirsApi, () => ({ topics: wanted }), op)
        if (version >= 3 && res.errorCode !== 0) return new Map([[String(node), brokerStep(res.errorCode, { apiName: 'DescribeLogDirs', nodeId: node })]])
        const dirs = res.results.map((d) => ({
          path: d.logDir,
          error: d.errorCode === 0 ? null : new BrokerError(d.errorCode, { apiName: 'DescribeLogDirs', nodeId: node, logDir: d.logDir }),
          topics: d.topics.map((t) => ({
            topic: t.name,
            partitions: t.partitions
              .map((p) => ({ partition: p.partitionIndex, size: p.partitionSize, offsetLag: p.offsetLag, isFuture: p.isFutureKey }))
              .sort((a, b) => a.partition - b.partition),
          })),
          totalBytes: version >= 4 && d.totalBytes >= 0n ? d.totalBytes : null,
          usableBytes: version >= 4 && d.usableBytes >= 0n ? d.usableBytes : null,
        }))
        return new Map([[String(node), { ok: dirs }]])
      },
    ),
  )
  const out: LogDirs = { brokers: [], errors: [] }
  for (const [node, s] of settled) {
    if ('ok' in s) out.brokers.push({ nodeId: Number(node), logDirs: s.ok })
    else out.errors.push({ nodeId: Number(node), error: s.fail })
  }
  out.brokers.sort((a, b) => a.nodeId - b.nodeId)
  return out
}

// ---- electLeaders --------------------------------------------------------------------

export type ElectionType = 'preferred' | 'unclean'
export type ElectionResult = Outcome<TopicPartition, object>

/**
 * Elects leaders (KIP-460) for the given partitions, or for every partition
 * that needs it (null). ELECTION_NOT_NEEDED is a final per-partition answer
 * here even though the error table marks it retriable: the preferred
 * leader already leads.
 */
export async function electLeaders(ctx: AdminContext, op: Op, type: ElectionType, partitions: TopicPartition[] | null): Promise<ElectionResult[]> {
  return ctx.retry(op, async (attempt) => {
    const node = await ctx.controller(op, attempt > 0)
    const { res, version } = await ctx.send(
      node,
      electLeadersApi,
      () => ({
        electionType: type === 'preferred' ? 0 : 1,
        topicPartitions: partitions === null ? null : [...groupBy(partitions, (tp) => tp.topic)].map(([topic, tps]) => ({ topic, partitions: tps.map((tp) => tp.partition) })),
        timeoutMs: ctx.remaining(op),
      }),
      op,
      { serverWaitMs: ctx.remaining(op), ...(type === 'unclean' ? { minVersion: 1, needs: 'unclean leader election' } : {}) },
    )
    if (version >= 1 && res.errorCode !== 0) throw new BrokerError(res.errorCode, { apiName: 'ElectLeaders' })
    const out: ElectionResult[] = []
    for (const t of res.replicaElectionResults) {
      for (const p of t.partitionResult) {
        const key = { topic: t.topic, partition: p.partitionId }
        if (p.errorCode === NOT_CONTROLLER) throw new BrokerError(p.errorCode, { apiName: 'ElectLeaders', ...key })
        out.push(p.errorCode === 0 ? { ...key, error: null } : { ...key, error: new BrokerError(p.errorCode, { apiName: 'ElectLeaders', ...key }, p.errorMessage) })
      }
    }
    return out.sort(byTopicPartition)
  })
}

// ---- partition reassignments ---------------------------------------------------------

export interface Reassignment extends TopicPartition {
  /** The new replica list; null cancels the reassignment in progress. */
  replicas: number[] | null
}
export type ReassignmentResult = Outcome<TopicPartition, object>

/**
 * Starts or cancels partition reassignments (KIP-455). A top-level error
 * from the controller applies to every partition, as in the reference
 * admin client.
 */
export async function alterPartitionReassignments(ctx: AdminContext, op: Op, reassignments: Reassignment[], allowReplicationFactorChange: boolean): Promise<ReassignmentResult[]> {
  const byKey = new Map(reassignments.map((r) => [tpKey(r.topic, r.partition), r]))
  const settled = await ctx.settle<object>([...byKey.keys()], op, async (pending, attempt) => {
    const items = pending.map((k) => byKey.get(k)!)
    const node = await ctx.controller(op, attempt > 0)
    const { res } = await ctx.send(
      node,
      alterPartitionReassignmentsApi,
      () => ({
        timeoutMs: ctx.remaining(op),
        allowReplicationFactorChange,
        topics: [...groupBy(items, (r) => r.topic)].map(([name, rs]) => ({ name, partitions: rs.map((r) => ({ partitionIndex: r.partition, replicas: r.replicas })) })),
      }),
      op,
      // Refusing replication factor changes is KIP-860 (v1); v0 brokers always allow them.
      { serverWaitMs: ctx.remaining(op), ...(allowReplicationFactorChange ? {} : { minVersion: 1, needs: 'allowReplicationFactorChange: false (KIP-860)' }) },
    )
    const steps = new Map<string, Step<object>>()
    if (res.errorCode !== 0) {
      for (const r of items) steps.set(tpKey(r.topic, r.partition), brokerStep(res.errorCode, { apiName: 'AlterPartitionReassignments', topic: r.topic, partition: r.partition }, res.errorMessage, res.errorCode === NOT_CONTROLLER))
      return steps
    }
    for (const t of res.responses) {
      for (const p of t.partitions) {
        const context = { apiName: 'AlterPartitionReassignments', topic: t.name, partition: p.partitionIndex }
        steps.set(tpKey(t.name, p.partitionIndex), p.errorCode === 0 ? { ok: {} } : brokerStep(p.errorCode, context, p.errorMessage, p.errorCode === NOT_CONTROLLER))
      }
    }
    return steps
  })
  return reassignments.map((r) => {
    const s = settled.get(tpKey(r.topic, r.partition))!
    return 'ok' in s ? { topic: r.topic, partition: r.partition, error: null } : { topic: r.topic, partition: r.partition, error: s.fail }
  })
}

export interface OngoingReassignment extends TopicPartition {
  replicas: number[]
  addingReplicas: number[]
  removingReplicas: number[]
}

/** Reassignments in progress, for the given partitions or all (null). A top-level error is thrown. */
export async function listPartitionReassignments(ctx: AdminContext, op: Op, partitions: TopicPartition[] | null): Promise<OngoingReassignment[]> {
  return ctx.retry(op, async (attempt) => {
    const node = await ctx.controller(op, attempt > 0)
    const { res } = await ctx.send(
      node,
      listPartitionReassignmentsApi,
      () => ({
        timeoutMs: ctx.remaining(op),
        topics: partitions === null ? null : [...groupBy(partitions, (tp) => tp.topic)].map(([name, tps]) => ({ name, partitionIndexes: tps.map((tp) => tp.partition) })),
      }),
      op,
      { serverWaitMs: ctx.remaining(op) },
    )
    if (res.errorCode !== 0) throw new BrokerError(res.errorCode, { apiName: 'ListPartitionReassignments' }, res.errorMessage)
    // Deviation tolerated: Tansu 0.6 lists every partition, with no adding and no removing replicas. A
    // reassignment in progress always adds or removes one; the others are not moving and are left out.
    // (Test: spec/client/impl-deviations.test.ts.)
    return res.topics
      .flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, replicas: p.replicas, addingReplicas: p.addingReplicas, removingReplicas: p.removingReplicas })))
      .filter((p) => p.addingReplicas.length > 0 || p.removingReplicas.length > 0)
      .sort(byTopicPartition)
  })
}
