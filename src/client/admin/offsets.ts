/**
 * Partition offsets: ListOffsets and DeleteRecords, each sent to the
 * partitions' leaders, one request per leader.
 */
import type { KafkawireError } from '../../protocol/errors.js'
import { deleteRecords as deleteRecordsApi } from '../../protocol/messages/delete-records.js'
import { listOffsets as listOffsetsApi } from '../../protocol/messages/list-offsets.js'
import { UnsupportedApiError } from '../errors.js'
import { brokerStep, groupBy, tpKey, type AdminContext, type Op, type Step } from './context.js'
import type { Outcome, TopicPartition } from './types.js'

/**
 * Per-partition errors after which the leader is looked up again: the
 * leader moved, is being elected, or its epoch moved on. Others are final.
 */
const LEADER_ERRORS = new Set([3, 5, 6, 9, 74, 75, 78 /* OFFSET_NOT_AVAILABLE: a new leader catching up (KIP-207) */])

function leaderStep(code: number, context: Record<string, unknown>, message: string | null = null): Step<never> {
  return brokerStep(code, context, message, LEADER_ERRORS.has(code))
}

/**
 * Runs `send` for each leader's partitions with fresh leaders on every
 * round, until every partition has a result or a final error.
 */
export async function byLeader<T extends TopicPartition, V>(
  ctx: AdminContext,
  op: Op,
  items: T[],
  send: (node: number, items: T[]) => Promise<Map<string, Step<V>>>,
): Promise<Map<string, { ok: V } | { fail: KafkawireError }>> {
  const byKey = new Map(items.map((it) => [tpKey(it.topic, it.partition), it]))
  if (byKey.size !== items.length) throw new TypeError('each partition may appear only once in one request')
  return ctx.settle<V>([...byKey.keys()], op, async (pending) => {
    const { byNode, steps } = await ctx.leaders<V>(
      pending.map((k) => byKey.get(k)!),
      op,
    )
    const routed = new Map([...byNode].map(([node, tps]) => [node, tps.map((tp) => byKey.get(tpKey(tp.topic, tp.partition))!)]))
    for (const [k, s] of await ctx.perNode(routed, (it) => tpKey(it.topic, it.partition), send)) steps.set(k, s)
    return steps
  })
}

// ---- listOffsets ---------------------------------------------------------------------

/**
 * Which offset to find: the first, the next to be written, the one of the
 * record with the largest timestamp (KIP-734), or the first whose timestamp
 * is at or after a time (ms since the epoch).
 */
export type OffsetSpec = 'earliest' | 'latest' | 'max-timestamp' | { timestamp: number }
export type IsolationLevel = 'read_uncommitted' | 'read_committed'

export interface OffsetRequest extends TopicPartition {
  spec: OffsetSpec
}

export interface ListedOffsetData {
  /** Null when no record matches (a timestamp after the last record, max-timestamp of an empty partition). */
  offset: bigint | null
  /** The matching record's timestamp (ms); null when the broker does not say (earliest/latest, or ListOffsets v0). */
  timestamp: number | null
  leaderEpoch: number | null
}
export type ListedOffset = Outcome<TopicPartition, ListedOffsetData>

function specTimestamp(spec: OffsetSpec): bigint {
  if (spec === 'earliest') return -2n
  if (spec === 'latest') return -1n
  if (spec === 'max-timestamp') return -3n
  return BigInt(spec.timestamp)
}

/** The lowest ListOffsets version that can ask for a spec. */
function specVersion(spec: OffsetSpec): number {
  if (spec === 'max-timestamp') return 7 // KIP-734
  if (typeof spec === 'object') return 1 // v0 answers timestamps with segment starts only
  return 0
}

export async function listOffsets(ctx: AdminContext, op: Op, requests: OffsetRequest[], isolationLevel: IsolationLevel): Promise<ListedOffset[]> {
  const settled = await byLeader<OffsetRequest, ListedOffsetData>(ctx, op, requests, async (node, items) => {
    const steps = new Map<string, Step<ListedOffsetData>>()
    const conn = await ctx.cluster.connectionTo(node, 'default', op.signal)
    const max = conn.pickVersion(listOffsetsApi)
    // read_committed needs v2 (KIP-98); each spec its own minimum. Partitions the broker cannot serve fail alone.
    const base = isolationLevel === 'read_committed' ? 2 : 0
    const sendable = items.filter((it) => {
      const need = Math.max(base, specVersion(it.spec))
      if (need <= max) return true
      steps.set(tpKey(it.topic, it.partition), {
        fail: new UnsupportedApiError(`${typeof it.spec === 'string' ? it.spec : 'timestamp'} offsets need ListOffsets v${need}+, broker ${conn.address} supports v${max}`, {
          apiName: 'ListOffsets',
          topic: it.topic,
          partition: it.partition,
        }),
        retry: false,
      })
      return false
    })
    if (sendable.length === 0) return steps
    const { res, version } = await ctx.send(
      node,
      listOffsetsApi,
      () => ({
        replicaId: -1,
        isolationLevel: isolationLevel === 'read_committed' ? 1 : 0,
        topics: [...groupBy(sendable, (it) => it.topic)].map(([name, its]) => ({
          name,
          partitions: its.map((it) => ({ partitionIndex: it.partition, currentLeaderEpoch: -1, timestamp: specTimestamp(it.spec), maxNumOffsets: 1 })),
        })),
        timeoutMs: ctx.remaining(op),
      }),
      op,
    )
    for (const t of res.topics) {
      for (const p of t.partitions) {
        const key = tpKey(t.name, p.partitionIndex)
        if (p.errorCode !== 0) {
          steps.set(key, leaderStep(p.errorCode, { apiName: 'ListOffsets', topic: t.name, partition: p.partitionIndex }))
          continue
        }
        const offset = version === 0 ? (p.oldStyleOffsets[0] ?? -1n) : p.offset
        steps.set(key, {
          ok: {
            offset: offset < 0n ? null : offset,
            timestamp: version === 0 || p.timestamp < 0n ? null : Number(p.timestamp),
            leaderEpoch: p.leaderEpoch < 0 ? null : p.leaderEpoch,
          },
        })
      }
    }
    return steps
  })
  return requests.map((r) => {
    const s = settled.get(tpKey(r.topic, r.partition))!
    return 'ok' in s ? { topic: r.topic, partition: r.partition, error: null, ...s.ok } : { topic: r.topic, partition: r.partition, error: s.fail }
  })
}

// ---- deleteRecords -------------------------------------------------------------------

export interface DeleteRecordsRequest extends TopicPartition {
  /** Delete every record before this offset; -1n: before the high watermark (everything). */
  offset: bigint
}
export type DeletedRecords = Outcome<TopicPartition, { lowWatermark: bigint }>

export async function deleteRecords(ctx: AdminContext, op: Op, requests: DeleteRecordsRequest[]): Promise<DeletedRecords[]> {
  const settled = await byLeader<DeleteRecordsRequest, { lowWatermark: bigint }>(ctx, op, requests, async (node, items) => {
    const { res } = await ctx.send(
      node,
      deleteRecordsApi,
      () => ({
        topics: [...groupBy(items, (it) => it.topic)].map(([name, its]) => ({ name, partitions: its.map((it) => ({ partitionIndex: it.partition, offset: it.offset })) })),
        timeoutMs: ctx.remaining(op),
      }),
      op,
      { serverWaitMs: ctx.remaining(op) },
    )
    const steps = new Map<string, Step<{ lowWatermark: bigint }>>()
    for (const t of res.topics) {
      for (const p of t.partitions) {
        steps.set(
          tpKey(t.name, p.partitionIndex),
          p.errorCode === 0 ? { ok: { lowWatermark: p.lowWatermark } } : leaderStep(p.errorCode, { apiName: 'DeleteRecords', topic: t.name, partition: p.partitionIndex }),
        )
      }
    }
    return steps
  })
  return requests.map((r) => {
    const s = settled.get(tpKey(r.topic, r.partition))!
    return 'ok' in s ? { topic: r.topic, partition: r.partition, error: null, ...s.ok } : { topic: r.topic, partition: r.partition, error: s.fail }
  })
}
