/**
 * Consumer groups: listing, describing (classic and KIP-848 groups),
 * deleting, and reading and changing their committed offsets.
 */
import { codecFor } from '../../protocol/compiler.js'
import { BrokerError, ProtocolError, type KafkawireError } from '../../protocol/errors.js'
import { consumerGroupDescribe } from '../../protocol/messages/consumer-group-describe.js'
import { consumerProtocolAssignment, type ConsumerProtocolAssignment } from '../../protocol/messages/consumer-protocol-assignment.js'
import { consumerProtocolSubscription, type ConsumerProtocolSubscription } from '../../protocol/messages/consumer-protocol-subscription.js'
import { deleteGroups as deleteGroupsApi } from '../../protocol/messages/delete-groups.js'
import { describeGroups as describeGroupsApi } from '../../protocol/messages/describe-groups.js'
import { listGroups as listGroupsApi } from '../../protocol/messages/list-groups.js'
import { offsetCommit } from '../../protocol/messages/offset-commit.js'
import { offsetDelete } from '../../protocol/messages/offset-delete.js'
import { offsetFetch } from '../../protocol/messages/offset-fetch.js'
import { Reader } from '../../protocol/reader.js'
import type { MessageSchema } from '../../protocol/schema.js'
import { isCoordinatorError } from '../cluster.js'
import { isRetriable } from '../backoff.js'
import { brokerStep, byTopicPartition, groupBy, tpKey, type AdminContext, type Op, type Step } from './context.js'
import { listOffsets, type OffsetSpec } from './offsets.js'
import { authorizedOperations, type AclOperation, type BrokerFailure, type Outcome, type TopicPartition } from './types.js'

const GROUP_ID_NOT_FOUND = 69
const CONSUMER_GROUP_HEARTBEAT = 68
const UNSUPPORTED_VERSION = 35

/**
 * OffsetFetch v10 and OffsetCommit v10 name topics by id only (KIP-848).
 * Like the reference admin client, which builds these requests "for topic
 * names", we stay at v9 and keep topic names.
 */
const OFFSET_FETCH_MAX_BY_NAME = 9
const OFFSET_COMMIT_MAX_BY_NAME = 9

/**
 * Runs fn against the group's coordinator with retries: a coordinator that
 * moved or cannot be reached is looked up again (KIP-848 groups move like
 * classic ones).
 */
function withCoordinator<T>(ctx: AdminContext, op: Op, groupId: string, fn: (node: number) => Promise<T>): Promise<T> {
  return ctx.retry(op, async () => {
    const node = await ctx.cluster.coordinator('group', groupId, { signal: op.signal, timeoutMs: ctx.remaining(op) })
    try {
      return await fn(node)
    } catch (err) {
      // Moved, unavailable, or unreachable (connection failed or timed out): look it up again. Loading: same coordinator, later.
      if ((isCoordinatorError(err) && (err as BrokerError).errorCode !== 14) || (!(err instanceof BrokerError) && isRetriable(err))) ctx.cluster.invalidateCoordinator('group', groupId)
      throw err
    }
  })
}

// ---- listGroups ----------------------------------------------------------------------

export interface GroupListing {
  groupId: string
  protocolType: string
  /** ListGroups v4+ (KIP-518); null from older brokers. */
  state: string | null
  /** 'classic', 'consumer', 'share', 'streams': ListGroups v5+ (KIP-848); null from older brokers. */
  type: string | null
  /** The broker coordinating the group. */
  coordinator: number
}

export interface GroupListings {
  groups: GroupListing[]
  /** Brokers that could not list their groups; their groups are missing from `groups`. */
  errors: BrokerFailure[]
}

export async function listGroups(ctx: AdminContext, op: Op, o: { states?: string[]; types?: string[] }): Promise<GroupListings> {
  const states = o.states ?? []
  const types = o.types ?? []
  const nodes = await ctx.brokerIds(op)
  const settled = await ctx.settle<GroupListing[]>(nodes.map(String), op, (pending) =>
    ctx.perNode(
      new Map(pending.map((n) => [Number(n), [n]])),
      (k) => k,
      async (node) => {
        const { res } = await ctx.send(node, listGroupsApi, () => ({ statesFilter: states, typesFilter: types }), op, {
          // Filters that a version cannot carry would be silently dropped: require the version.
          ...(types.length > 0 ? { minVersion: 5, needs: 'filtering groups by type (KIP-848)' } : states.length > 0 ? { minVersion: 4, needs: 'filtering groups by state (KIP-518)' } : {}),
        })
        const step: Step<GroupListing[]> =
          res.errorCode !== 0
            ? brokerStep(res.errorCode, { apiName: 'ListGroups', nodeId: node })
            : {
                ok: res.groups.map((g) => ({
                  groupId: g.groupId,
                  protocolType: g.protocolType,
                  state: g.groupState === '' ? null : g.groupState,
                  type: g.groupType === '' ? null : g.groupType,
                  coordinator: node,
                })),
              }
        return new Map([[String(node), step]])
      },
    ),
  )
  const out: GroupListings = { groups: [], errors: [] }
  for (const [node, s] of settled) {
    if ('ok' in s) out.groups.push(...s.ok)
    else out.errors.push({ nodeId: Number(node), error: s.fail })
  }
  out.groups.sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0))
  return out
}

// ---- describeGroups ------------------------------------------------------------------

export interface TopicPartitions {
  topic: string
  partitions: number[]
}

export interface ClassicGroupMember {
  memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  /** The member's ConsumerProtocolSubscription, for protocol type "consumer" groups; null otherwise. */
  subscription: ConsumerProtocolSubscription | null
  /** The member's ConsumerProtocolAssignment, for protocol type "consumer" groups once assigned; null otherwise. */
  assignment: ConsumerProtocolAssignment | null
  /** The raw member metadata and assignment, for other protocol types (e.g. Connect). */
  metadataBytes: Buffer
  assignmentBytes: Buffer
}

export interface ClassicGroupDescription {
  type: 'classic'
  /** "consumer", "connect", ... ; "" for a group that only commits offsets. */
  protocolType: string
  /** The assignor (for consumer groups) in use. */
  protocol: string
  state: string
  coordinator: number
  members: ClassicGroupMember[]
  authorizedOperations: AclOperation[] | null
}

export interface ConsumerGroupMember {
  memberId: string
  instanceId: string | null
  rackId: string | null
  memberEpoch: number
  clientId: string
  clientHost: string
  subscribedTopicNames: string[]
  subscribedTopicRegex: string | null
  assignment: Array<TopicPartitions & { topicId: string }>
  targetAssignment: Array<TopicPartitions & { topicId: string }>
  /** ConsumerGroupDescribe v1+ (KIP-1099): whether the member speaks the classic or the consumer protocol; null before. */
  memberType: 'classic' | 'consumer' | null
}

export interface ConsumerGroupDescription {
  type: 'consumer'
  state: string
  groupEpoch: number
  assignmentEpoch: number
  assignor: string
  coordinator: number
  members: ConsumerGroupMember[]
  authorizedOperations: AclOperation[] | null
}

export type GroupDescription = Outcome<{ groupId: string }, ClassicGroupDescription | ConsumerGroupDescription>

/** Decodes a consumer-protocol blob: int16 version, then the struct. Newer versions only append fields, so they are read with the newest known (as the reference ConsumerProtocol does). */
function decodeConsumerProtocol<T>(schema: MessageSchema, buf: Buffer): T | null {
  if (buf.length === 0) return null
  const r = new Reader(buf)
  const v = r.int16()
  if (v < 0) throw new ProtocolError('PROTOCOL_INVALID_VALUE', `${schema.name} has negative version ${v}`)
  return codecFor<T>(schema, Math.min(v, schema.versions.max), false, schema.name).decode(r)
}

function classicDescription(g: { groupState: string; protocolType: string; protocolData: string; authorizedOperations: number; members: Array<{ memberId: string; groupInstanceId: string | null; clientId: string; clientHost: string; memberMetadata: Buffer; memberAssignment: Buffer }> }, node: number): ClassicGroupDescription {
  const isConsumer = g.protocolType === 'consumer'
  return {
    type: 'classic',
    protocolType: g.protocolType,
    protocol: g.protocolData,
    state: g.groupState,
    coordinator: node,
    authorizedOperations: authorizedOperations(g.authorizedOperations),
    members: g.members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      subscription: isConsumer ? decodeConsumerProtocol<ConsumerProtocolSubscription>(consumerProtocolSubscription, m.memberMetadata) : null,
      assignment: isConsumer ? decodeConsumerProtocol<ConsumerProtocolAssignment>(consumerProtocolAssignment, m.memberAssignment) : null,
      metadataBytes: m.memberMetadata,
      assignmentBytes: m.memberAssignment,
    })),
  }
}

const MEMBER_TYPES = { 0: 'classic', 1: 'consumer' } as const

/**
 * Describes groups of either protocol. Each group's coordinator is asked
 * with ConsumerGroupDescribe (API 69, KIP-848) when it has that API; a group
 * it answers with GROUP_ID_NOT_FOUND (a classic group, or none at all) or
 * UNSUPPORTED_VERSION is then asked with DescribeGroups, whose answer is
 * final. This is the reference admin client's order. DescribeGroups reports
 * an unknown group as state "Dead" before v6; that is reported as
 * GROUP_ID_NOT_FOUND too, so both kinds of broker give the same answer.
 */
export async function describeGroups(ctx: AdminContext, op: Op, groupIds: string[], includeAuthorizedOperations: boolean): Promise<GroupDescription[]> {
  const classicOnly = new Set<string>()
  const settled = await ctx.settle<ClassicGroupDescription | ConsumerGroupDescription>(groupIds, op, async (pending) => {
    const { byNode, steps } = await ctx.coordinators<ClassicGroupDescription | ConsumerGroupDescription>('group', pending, op)
    const answered = await ctx.perCoordinator('group', byNode, async (node, ids) => {
      const out = new Map<string, Step<ClassicGroupDescription | ConsumerGroupDescription>>()
      // Deviation tolerated: Tansu 0.6 advertises ConsumerGroupDescribe without ConsumerGroupHeartbeat (it
      // has no KIP-848 groups) and answers it for any group id, classic or unknown, as an empty consumer
      // group. A coordinator without ConsumerGroupHeartbeat has no consumer groups to describe: ask it with
      // DescribeGroups only. (Test: spec/client/impl-deviations.test.ts.)
      const consumerApi = (await ctx.supports(node, consumerGroupDescribe.apiKey, op)) && (await ctx.supports(node, CONSUMER_GROUP_HEARTBEAT, op))
      const viaConsumer = consumerApi ? ids.filter((id) => !classicOnly.has(id)) : []
      if (viaConsumer.length > 0) {
        const { res, version } = await ctx.send(node, consumerGroupDescribe, () => ({ groupIds: viaConsumer, includeAuthorizedOperations }), op)
        for (const g of res.groups) {
          if (g.errorCode === GROUP_ID_NOT_FOUND || g.errorCode === UNSUPPORTED_VERSION) {
            classicOnly.add(g.groupId)
            continue
          }
          if (g.errorCode !== 0) {
            out.set(g.groupId, ctx.coordinatorError('group', g.groupId, g.errorCode, { apiName: 'ConsumerGroupDescribe', groupId: g.groupId }, g.errorMessage))
            continue
          }
          const tps = (a: { topicPartitions: Array<{ topicId: string; topicName: string; partitions: number[] }> }) =>
            a.topicPartitions.map((t) => ({ topic: t.topicName, topicId: t.topicId, partitions: t.partitions }))
          out.set(g.groupId, {
            ok: {
              type: 'consumer',
              state: g.groupState,
              groupEpoch: g.groupEpoch,
              assignmentEpoch: g.assignmentEpoch,
              assignor: g.assignorName,
              coordinator: node,
              authorizedOperations: authorizedOperations(g.authorizedOperations),
              members: g.members.map((m) => ({
                memberId: m.memberId,
                instanceId: m.instanceId,
                rackId: m.rackId,
                memberEpoch: m.memberEpoch,
                clientId: m.clientId,
                clientHost: m.clientHost,
                subscribedTopicNames: m.subscribedTopicNames,
                subscribedTopicRegex: m.subscribedTopicRegex,
                assignment: tps(m.assignment),
                targetAssignment: tps(m.targetAssignment),
                memberType: version >= 1 ? (MEMBER_TYPES[m.memberType as 0 | 1] ?? null) : null,
              })),
            },
          })
        }
      }
      const viaClassic = ids.filter((id) => !out.has(id) && (classicOnly.has(id) || !consumerApi))
      if (viaClassic.length > 0) {
        const { res, version } = await ctx.send(node, describeGroupsApi, () => ({ groups: viaClassic, includeAuthorizedOperations }), op)
        for (const g of res.groups) {
          const context = { apiName: 'DescribeGroups', groupId: g.groupId }
          if (g.errorCode !== 0) out.set(g.groupId, ctx.coordinatorError('group', g.groupId, g.errorCode, context, g.errorMessage))
          else if (version < 6 && g.groupState === 'Dead') out.set(g.groupId, brokerStep(GROUP_ID_NOT_FOUND, context, `group ${g.groupId} does not exist`))
          else {
            try {
              out.set(g.groupId, { ok: classicDescription(g, node) })
            } catch (err) {
              // Member metadata that is not valid ConsumerProtocol data: report it on the group.
              out.set(g.groupId, { fail: err as KafkawireError, retry: false })
            }
          }
        }
      }
      return out
    })
    for (const [k, s] of answered) steps.set(k, s)
    return steps
  })
  // Deviation tolerated: kfake leaves TopicName empty in the assignments of ConsumerGroupDescribe and names
  // the topics by id only. The names come from the cluster's metadata then. (Test:
  // spec/client/impl-deviations.test.ts.)
  const unnamed = [...settled.values()].flatMap((s) => ('ok' in s && s.ok.type === 'consumer' ? s.ok.members.flatMap((m) => [...m.assignment, ...m.targetAssignment]) : [])).filter((a) => a.topic === '')
  if (unnamed.length > 0) {
    if (unnamed.some((a) => ctx.cluster.topicNameById(a.topicId) === undefined)) await ctx.cluster.refreshMetadata('all', { signal: op.signal }).catch(() => undefined)
    for (const a of unnamed) a.topic = ctx.cluster.topicNameById(a.topicId) ?? ''
  }
  return groupIds.map((groupId) => {
    const s = settled.get(groupId)!
    return 'ok' in s ? { groupId, error: null, ...s.ok } : { groupId, error: s.fail }
  })
}

// ---- deleteGroups --------------------------------------------------------------------

export type DeletedGroup = Outcome<{ groupId: string }, object>

export async function deleteGroups(ctx: AdminContext, op: Op, groupIds: string[]): Promise<DeletedGroup[]> {
  const settled = await ctx.settle<object>(groupIds, op, async (pending) => {
    const { byNode, steps } = await ctx.coordinators<object>('group', pending, op)
    const answered = await ctx.perCoordinator('group', byNode, async (node, ids) => {
      const { res } = await ctx.send(node, deleteGroupsApi, () => ({ groupsNames: ids }), op)
      const out = new Map<string, Step<object>>()
      for (const r of res.results) {
        out.set(r.groupId, r.errorCode === 0 ? { ok: {} } : ctx.coordinatorError('group', r.groupId, r.errorCode, { apiName: 'DeleteGroups', groupId: r.groupId }))
      }
      return out
    })
    for (const [k, s] of answered) steps.set(k, s)
    return steps
  })
  return groupIds.map((groupId) => {
    const s = settled.get(groupId)!
    return 'ok' in s ? { groupId, error: null } : { groupId, error: s.fail }
  })
}

// ---- listConsumerGroupOffsets --------------------------------------------------------

export interface CommittedOffsetData {
  /** Null when the group has no committed offset for the partition. */
  offset: bigint | null
  leaderEpoch: number | null
  metadata: string | null
}
export type CommittedOffset = Outcome<TopicPartition, CommittedOffsetData>

export interface ListGroupOffsetsOptions {
  /** Only these topics (filtering the group's committed offsets). */
  topics?: string[]
  /** Exactly these partitions: partitions without a committed offset are reported with offset null. */
  partitions?: TopicPartition[]
  /** Wait for pending transactional commits (KIP-447; OffsetFetch v7+). */
  requireStable?: boolean
}

/**
 * The group's committed offsets. A group-level error (e.g.
 * GROUP_AUTHORIZATION_FAILED) is thrown as a BrokerError with the group id
 * in its context: it concerns the one resource asked about.
 */
export async function listConsumerGroupOffsets(ctx: AdminContext, op: Op, groupId: string, o: ListGroupOffsetsOptions): Promise<CommittedOffset[]> {
  const explicit = o.partitions === undefined ? null : [...groupBy(o.partitions, (tp) => tp.topic)].map(([name, tps]) => ({ name, partitionIndexes: tps.map((tp) => tp.partition) }))
  const requireStable = o.requireStable ?? false
  const rows = await withCoordinator(ctx, op, groupId, async (node) => {
    const { res, version } = await ctx.send(
      node,
      offsetFetch,
      (v) =>
        v >= 8
          ? { groups: [{ groupId, memberId: null, memberEpoch: -1, topics: explicit }], requireStable }
          : { groupId, topics: explicit, requireStable },
      op,
      {
        maxVersion: OFFSET_FETCH_MAX_BY_NAME,
        // v0-1 cannot ask for all partitions; v7 brought requireStable.
        ...(requireStable ? { minVersion: 7, needs: 'requireStable (KIP-447)' } : explicit === null ? { minVersion: 2, needs: 'fetching all committed offsets' } : {}),
      },
    )
    const group = version >= 8 ? res.groups.find((g) => g.groupId === groupId) : { errorCode: version >= 2 ? res.errorCode : 0, topics: res.topics }
    if (group === undefined) throw new BrokerError(GROUP_ID_NOT_FOUND, { apiName: 'OffsetFetch', groupId }, 'missing from the response')
    if (group.errorCode !== 0) throw new BrokerError(group.errorCode, { apiName: 'OffsetFetch', groupId })
    const out: CommittedOffset[] = []
    for (const t of group.topics) {
      for (const p of t.partitions) {
        const key = { topic: t.name, partition: p.partitionIndex }
        if (p.errorCode !== 0) {
          const e = new BrokerError(p.errorCode, { apiName: 'OffsetFetch', groupId, ...key })
          // Coordinator moves show up per partition before v2; UNSTABLE_OFFSET_COMMIT clears once transactions complete.
          if (isCoordinatorError(e) || p.errorCode === 88) throw e
          out.push({ ...key, error: e })
        } else {
          out.push({
            ...key,
            error: null,
            offset: p.committedOffset < 0n ? null : p.committedOffset,
            leaderEpoch: p.committedLeaderEpoch < 0 ? null : p.committedLeaderEpoch,
            metadata: p.metadata,
          })
        }
      }
    }
    return out
  })
  const topics = o.topics === undefined ? null : new Set(o.topics)
  return rows.filter((r) => topics === null || topics.has(r.topic)).sort(byTopicPartition)
}

// ---- alterConsumerGroupOffsets -------------------------------------------------------

export interface OffsetToCommit extends TopicPartition {
  offset: bigint
  /** The leader epoch of the record before `offset`, when known (KIP-320). */
  leaderEpoch?: number
  metadata?: string
}
export type AlteredOffset = Outcome<TopicPartition, object>

/**
 * Commits offsets for a group with no generation and no member id, as the
 * reference admin client does: the coordinator accepts that only while the
 * group has no active members (otherwise UNKNOWN_MEMBER_ID per partition).
 */
export async function alterConsumerGroupOffsets(ctx: AdminContext, op: Op, groupId: string, offsets: OffsetToCommit[]): Promise<AlteredOffset[]> {
  const byTopic = [...groupBy(offsets, (o) => o.topic)]
  const errors = await withCoordinator(ctx, op, groupId, async (node) => {
    const { res } = await ctx.send(
      node,
      offsetCommit,
      () => ({
        groupId,
        generationIdOrMemberEpoch: -1,
        memberId: '',
        groupInstanceId: null,
        retentionTimeMs: -1n,
        topics: byTopic.map(([name, list]) => ({
          name,
          partitions: list.map((o) => ({
            partitionIndex: o.partition,
            committedOffset: o.offset,
            committedLeaderEpoch: o.leaderEpoch ?? -1,
            commitTimestamp: -1n,
            committedMetadata: o.metadata ?? '',
          })),
        })),
      }),
      op,
      { maxVersion: OFFSET_COMMIT_MAX_BY_NAME },
    )
    const out = new Map<string, KafkawireError>()
    for (const t of res.topics) {
      for (const p of t.partitions) {
        if (p.errorCode === 0) continue
        const e = new BrokerError(p.errorCode, { apiName: 'OffsetCommit', groupId, topic: t.name, partition: p.partitionIndex })
        if (isCoordinatorError(e)) throw e
        out.set(tpKey(t.name, p.partitionIndex), e)
      }
    }
    return out
  })
  return offsets.map((o) => {
    const e = errors.get(tpKey(o.topic, o.partition))
    return e === undefined ? { topic: o.topic, partition: o.partition, error: null } : { topic: o.topic, partition: o.partition, error: e }
  })
}

// ---- deleteConsumerGroupOffsets ------------------------------------------------------

export type DeletedOffset = Outcome<TopicPartition, object>

/**
 * Deletes committed offsets (OffsetDelete, KIP-496). A group-level error
 * (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, ...) is thrown as a BrokerError with
 * the group id; per-partition ones (GROUP_SUBSCRIBED_TO_TOPIC) are items.
 */
export async function deleteConsumerGroupOffsets(ctx: AdminContext, op: Op, groupId: string, partitions: TopicPartition[]): Promise<DeletedOffset[]> {
  const errors = await withCoordinator(ctx, op, groupId, async (node) => {
    const { res } = await ctx.send(
      node,
      offsetDelete,
      () => ({ groupId, topics: [...groupBy(partitions, (tp) => tp.topic)].map(([name, tps]) => ({ name, partitions: tps.map((tp) => ({ partitionIndex: tp.partition })) })) }),
      op,
    )
    if (res.errorCode !== 0) throw new BrokerError(res.errorCode, { apiName: 'OffsetDelete', groupId })
    const out = new Map<string, KafkawireError>()
    for (const t of res.topics) {
      for (const p of t.partitions) {
        if (p.errorCode !== 0) out.set(tpKey(t.name, p.partitionIndex), new BrokerError(p.errorCode, { apiName: 'OffsetDelete', groupId, topic: t.name, partition: p.partitionIndex }))
      }
    }
    return out
  })
  return partitions.map((tp) => {
    const e = errors.get(tpKey(tp.topic, tp.partition))
    return e === undefined ? { ...tp, error: null } : { ...tp, error: e }
  })
}

// ---- resetConsumerGroupOffsets -------------------------------------------------------

export type ResetTarget = 'earliest' | 'latest' | { timestamp: number } | { offset: bigint }

export interface ResetOptions {
  /** Topics (all their partitions) or explicit partitions. */
  topics: Array<string | TopicPartition>
  to: ResetTarget
  /** Compute the new offsets without committing them. */
  dryRun?: boolean
}

export type ResetOffset = Outcome<TopicPartition, { offset: bigint }>

/**
 * Moves a group's committed offsets, as `kafka-consumer-groups.sh
 * --reset-offsets` does: the target offsets come from ListOffsets, then are
 * committed with alterConsumerGroupOffsets (unless dryRun). A timestamp
 * after the last record resets to the log end; an explicit offset outside
 * [earliest, latest] is clamped into that range, as the reference tool does.
 * A topic that does not exist is thrown as UNKNOWN_TOPIC_OR_PARTITION.
 */
export async function resetConsumerGroupOffsets(ctx: AdminContext, op: Op, groupId: string, o: ResetOptions): Promise<ResetOffset[]> {
  const named = o.topics.filter((t): t is string => typeof t === 'string')
  const tps: TopicPartition[] = o.topics.filter((t): t is TopicPartition => typeof t !== 'string')
  if (named.length > 0) {
    const { res } = await ctx.retry(op, () => ctx.metadata(named, op))
    for (const name of named) {
      const t = res.topics.find((x) => x.name === name)
      if (t === undefined || t.errorCode !== 0) throw new BrokerError(t?.errorCode || 3, { apiName: 'Metadata', topic: name, groupId })
      for (const p of t.partitions) tps.push({ topic: name, partition: p.partitionIndex })
    }
  }
  tps.sort(byTopicPartition)
  const to = o.to
  const lookup = async (spec: OffsetSpec): Promise<Map<string, { offset: bigint | null } | KafkawireError>> => {
    const rows = await listOffsets(ctx, op, tps.map((tp) => ({ ...tp, spec })), 'read_uncommitted')
    return new Map(rows.map((r) => [tpKey(r.topic, r.partition), r.error === null ? { offset: r.offset } : r.error]))
  }
  const targets = new Map<string, bigint | KafkawireError>()
  if (typeof to === 'object' && 'offset' in to) {
    const [earliest, latest] = await Promise.all([lookup('earliest'), lookup('latest')])
    for (const tp of tps) {
      const k = tpKey(tp.topic, tp.partition)
      const lo = earliest.get(k)!
      const hi = latest.get(k)!
      if (!('offset' in lo)) targets.set(k, lo)
      else if (!('offset' in hi)) targets.set(k, hi)
      else targets.set(k, to.offset < lo.offset! ? lo.offset! : to.offset > hi.offset! ? hi.offset! : to.offset)
    }
  } else {
    const spec: OffsetSpec = to === 'earliest' || to === 'latest' ? to : { timestamp: to.timestamp }
    const found = await lookup(spec)
    const needLatest = tps.some((tp) => {
      const f = found.get(tpKey(tp.topic, tp.partition))!
      return 'offset' in f && f.offset === null
    })
    const latest = needLatest ? await lookup('latest') : null
    for (const tp of tps) {
      const k = tpKey(tp.topic, tp.partition)
      const f = found.get(k)!
      if (!('offset' in f)) targets.set(k, f)
      else if (f.offset !== null) targets.set(k, f.offset)
      else {
        // No record at or after the timestamp: the log end, as kafka-consumer-groups does.
        const l = latest!.get(k)!
        targets.set(k, 'offset' in l ? l.offset! : l)
      }
    }
  }
  const toCommit: OffsetToCommit[] = []
  for (const tp of tps) {
    const t = targets.get(tpKey(tp.topic, tp.partition))!
    if (typeof t === 'bigint') toCommit.push({ ...tp, offset: t })
  }
  const commitErrors = new Map<string, KafkawireError>()
  if (!o.dryRun && toCommit.length > 0) {
    for (const r of await alterConsumerGroupOffsets(ctx, op, groupId, toCommit)) if (r.error !== null) commitErrors.set(tpKey(r.topic, r.partition), r.error)
  }
  return tps.map((tp) => {
    const k = tpKey(tp.topic, tp.partition)
    const t = targets.get(k)!
    if (typeof t !== 'bigint') return { ...tp, error: t }
    const e = commitErrors.get(k)
    return e === undefined ? { ...tp, error: null, offset: t } : { ...tp, error: e }
  })
}
