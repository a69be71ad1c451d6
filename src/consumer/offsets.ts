/**
 * Committed offsets of a group: OffsetCommit and OffsetFetch against the
 * group coordinator, across their versions (v8+ batch groups in OffsetFetch,
 * v9+ carry KIP-848 member epochs, v10 names topics by id).
 */
import type { Cluster } from '../client/cluster.js'
import { BrokerError, KafkawireError } from '../protocol/errors.js'
import { offsetCommit } from '../protocol/messages/offset-commit.js'
import { offsetFetch } from '../protocol/messages/offset-fetch.js'
import { CommitFailedError } from './errors.js'
import type { TopicPartition } from './fetcher.js'

export interface OffsetToCommit extends TopicPartition {
  /** The next offset to consume (last processed + 1). */
  offset: bigint
  leaderEpoch?: number
  metadata?: string | null
}

export interface CommittedOffset extends TopicPartition {
  /** -1n when the group has no committed offset for the partition. */
  offset: bigint
  leaderEpoch: number
  metadata: string | null
}

export interface MemberIdentity {
  /** Classic: the generation id; KIP-848: the member epoch; -1 outside a group generation. */
  generationOrEpoch: number
  memberId: string
  groupInstanceId: string | null
}

/** Errors after which the commit is pointless: the member lost its partitions. */
const STALE_MEMBER_EPOCH = 113

const GROUP_ID_NOT_FOUND = 69
const MEMBERSHIP_LOST = new Set([22 /* ILLEGAL_GENERATION */, 25 /* UNKNOWN_MEMBER_ID */, 82 /* FENCED_INSTANCE_ID */, 110 /* FENCED_MEMBER_EPOCH */])

/**
 * Commits offsets. `member` is read for every attempt, so a retry carries
 * the member's current generation or epoch (and `onAttempt` learns which).
 * STALE_MEMBER_EPOCH (KIP-848: the epoch moved while the commit travelled)
 * is retried that way; other membership errors become CommitFailedError.
 */
export async function commitOffsets(
  cluster: Cluster,
  groupId: string,
  member: MemberIdentity | (() => MemberIdentity),
  offsets: readonly OffsetToCommit[],
  o: { timeoutMs?: number; signal?: AbortSignal; onAttempt?: (member: MemberIdentity) => void } = {},
): Promise<void> {
  if (offsets.length === 0) return
  const byTopic = new Map<string, OffsetToCommit[]>()
  for (const x of offsets) {
    const l = byTopic.get(x.topic) ?? []
    l.push(x)
    byTopic.set(x.topic, l)
  }
  const topicIds = new Map<string, string>()
  for (const t of byTopic.keys()) topicIds.set(t, cluster.topic(t)?.topicId ?? '')
  const missingId = [...topicIds.values()].some((id) => id === '' || id === 'AAAAAAAAAAAAAAAAAAAAAA')
  await cluster.sendToCoordinator(
    'group',
    groupId,
    offsetCommit,
    (version) => {
      const m = typeof member === 'function' ? member() : member
      o.onAttempt?.(m)
      return {
      groupId,
      generationIdOrMemberEpoch: m.generationOrEpoch,
      memberId: m.memberId,
      groupInstanceId: version >= 7 ? m.groupInstanceId : null,
      retentionTimeMs: -1n,
      topics: [...byTopic].map(([name, list]) => ({
        ...(version >= 10 ? { topicId: topicIds.get(name)! } : { name }),
        partitions: list.map((x) => ({
          partitionIndex: x.partition,
          committedOffset: x.offset,
          committedLeaderEpoch: x.leaderEpoch ?? -1,
          commitTimestamp: -1n,
          committedMetadata: x.metadata ?? null,
        })),
      })),
      }
    },
    (res, version) => {
      for (const t of res.topics) {
        const topic = version >= 10 ? cluster.topicNameById(t.topicId) ?? t.name : t.name
        for (const p of t.partitions) {
          if (p.errorCode === 0) continue
          const ctx = { groupId, topic, partition: p.partitionIndex, apiName: 'OffsetCommit' }
          if (p.errorCode === STALE_MEMBER_EPOCH) {
            throw new KafkawireError('STALE_MEMBER_EPOCH', `the member epoch moved while committing ${topic}-${p.partitionIndex}; retrying with the current one`, { retriable: true, context: ctx, cause: new BrokerError(p.errorCode, ctx) })
          }
          if (MEMBERSHIP_LOST.has(p.errorCode)) {
            throw new CommitFailedError(
              `cannot commit offsets for ${topic}-${p.partitionIndex}: the member is no longer part of the group generation (a rebalance happened)`,
              ctx,
              new BrokerError(p.errorCode, ctx),
            )
          }
          throw new BrokerError(p.errorCode, ctx)
        }
      }
    },
    {
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(missingId ? { maxVersion: 9 } : {}),
    },
  )
}

/**
 * The group's committed offsets for partitions. With `requireStable`,
 * offsets pending in an open transaction make the broker answer
 * UNSTABLE_OFFSET_COMMIT, which is retried (KIP-447).
 */
export async function fetchCommittedOffsets(
  cluster: Cluster,
  groupId: string,
  tps: readonly TopicPartition[],
  o: { requireStable?: boolean; member?: MemberIdentity; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<CommittedOffset[]> {
  const byTopic = new Map<string, number[]>()
  for (const tp of tps) {
    const l = byTopic.get(tp.topic) ?? []
    l.push(tp.partition)
    byTopic.set(tp.topic, l)
  }
  const out: CommittedOffset[] = []
  const topicIdsKnown = [...byTopic.keys()].every((t) => {
    const id = cluster.topic(t)?.topicId
    return id !== undefined && id !== 'AAAAAAAAAAAAAAAAAAAAAA'
  })
  await cluster.sendToCoordinator(
    'group',
    groupId,
    offsetFetch,
    (version) => {
      const topics = [...byTopic].map(([name, partitionIndexes]) => ({
        name,
        ...(version >= 10 ? { topicId: cluster.topic(name)!.topicId } : {}),
        partitionIndexes,
      }))
      if (version >= 8) {
        return {
          groups: [
            {
              groupId,
              ...(version >= 9 && o.member ? { memberId: o.member.memberId, memberEpoch: o.member.generationOrEpoch } : {}),
              topics,
            },
          ],
          requireStable: o.requireStable ?? false,
        }
      }
      return { groupId, topics, requireStable: version >= 7 ? (o.requireStable ?? false) : false }
    },
    (res, version) => {
      out.length = 0
      if (version >= 8) {
        const g = res.groups[0]
        if (g === undefined) throw new BrokerError(-1, { groupId, apiName: 'OffsetFetch' }, 'empty OffsetFetch response')
        // Deviation tolerated: kfake answers OffsetFetch for a group that does not exist with GROUP_ID_NOT_FOUND,
        // where Apache Kafka answers that nothing is committed. Outside a membership (assign() with a groupId,
        // committed()) that means the same: no committed offsets. (Test: spec/client/impl-deviations.test.ts.)
        if (g.errorCode === GROUP_ID_NOT_FOUND && o.member === undefined) return
        if (g.errorCode !== 0) throw new BrokerError(g.errorCode, { groupId, apiName: 'OffsetFetch' })
        for (const t of g.topics) {
          const topic = version >= 10 ? cluster.topicNameById(t.topicId) ?? t.name : t.name
          for (const p of t.partitions) {
            if (p.errorCode !== 0) throw new BrokerError(p.errorCode, { groupId, topic, partition: p.partitionIndex, apiName: 'OffsetFetch' })
            out.push({ topic, partition: p.partitionIndex, offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch, metadata: p.metadata })
          }
        }
        return
      }
      if (res.errorCode === GROUP_ID_NOT_FOUND && o.member === undefined) return // kfake, as above
      if (res.errorCode !== 0) throw new BrokerError(res.errorCode, { groupId, apiName: 'OffsetFetch' })
      for (const t of res.topics) {
        for (const p of t.partitions) {
          if (p.errorCode !== 0) throw new BrokerError(p.errorCode, { groupId, topic: t.name, partition: p.partitionIndex, apiName: 'OffsetFetch' })
          out.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch, metadata: p.metadata })
        }
      }
    },
    { ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}), ...(o.signal ? { signal: o.signal } : {}), ...(topicIdsKnown ? {} : { maxVersion: 9 }) },
  )
  return out
}

export function isMembershipLost(err: unknown): boolean {
  return err instanceof CommitFailedError || (err instanceof BrokerError && MEMBERSHIP_LOST.has(err.errorCode))
}

export type { KafkawireError }
