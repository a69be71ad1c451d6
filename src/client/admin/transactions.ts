/**
 * Producer and transaction state (KIP-664): the producers active on a
 * partition (asked of its leader), transactions by transactional id (asked
 * of each id's transaction coordinator), and every broker's transactions.
 */
import { describeProducers as describeProducersApi } from '../../protocol/messages/describe-producers.js'
import { describeTransactions as describeTransactionsApi } from '../../protocol/messages/describe-transactions.js'
import { listTransactions as listTransactionsApi } from '../../protocol/messages/list-transactions.js'
import { brokerStep, groupBy, tpKey, type AdminContext, type Op, type Step } from './context.js'
import { byLeader } from './offsets.js'
import type { BrokerFailure, Outcome, TopicPartition } from './types.js'

const LEADER_ERRORS = new Set([3, 5, 6, 9])

// ---- describeProducers ---------------------------------------------------------------

export interface ProducerState {
  producerId: bigint
  producerEpoch: number
  /** -1 when the producer wrote no idempotent batch. */
  lastSequence: number
  /** ms since the epoch; null when unknown. */
  lastTimestamp: number | null
  /** -1 for non-transactional producers. */
  coordinatorEpoch: number
  /** First offset of the producer's open transaction; null when none is open. */
  currentTransactionStartOffset: bigint | null
}
export type PartitionProducers = Outcome<TopicPartition, { producers: ProducerState[] }>

export async function describeProducers(ctx: AdminContext, op: Op, partitions: TopicPartition[]): Promise<PartitionProducers[]> {
  const settled = await byLeader<TopicPartition, { producers: ProducerState[] }>(ctx, op, partitions, async (node, items) => {
    const { res } = await ctx.send(
      node,
      describeProducersApi,
      () => ({ topics: [...groupBy(items, (tp) => tp.topic)].map(([name, tps]) => ({ name, partitionIndexes: tps.map((tp) => tp.partition) })) }),
      op,
    )
    const steps = new Map<string, Step<{ producers: ProducerState[] }>>()
    for (const t of res.topics) {
      for (const p of t.partitions) {
        const context = { apiName: 'DescribeProducers', topic: t.name, partition: p.partitionIndex }
        steps.set(
          tpKey(t.name, p.partitionIndex),
          p.errorCode !== 0
            ? brokerStep(p.errorCode, context, p.errorMessage, LEADER_ERRORS.has(p.errorCode))
            : {
                ok: {
                  producers: p.activeProducers.map((s) => ({
                    producerId: s.producerId,
                    producerEpoch: s.producerEpoch,
                    lastSequence: s.lastSequence,
                    lastTimestamp: s.lastTimestamp < 0n ? null : Number(s.lastTimestamp),
                    coordinatorEpoch: s.coordinatorEpoch,
                    currentTransactionStartOffset: s.currentTxnStartOffset < 0n ? null : s.currentTxnStartOffset,
                  })),
                },
              },
        )
      }
    }
    return steps
  })
  return partitions.map((tp) => {
    const s = settled.get(tpKey(tp.topic, tp.partition))!
    return 'ok' in s ? { ...tp, error: null, ...s.ok } : { ...tp, error: s.fail }
  })
}

// ---- describeTransactions ------------------------------------------------------------

export interface TransactionDescriptionData {
  /** "Empty", "Ongoing", "PrepareCommit", "CompleteCommit", ... */
  state: string
  timeoutMs: number
  /** When the ongoing transaction started (ms); null when none is ongoing. */
  startTimeMs: number | null
  producerId: bigint
  producerEpoch: number
  /** Partitions in the ongoing transaction. */
  topics: Array<{ topic: string; partitions: number[] }>
  coordinator: number
}
export type TransactionDescription = Outcome<{ transactionalId: string }, TransactionDescriptionData>

/** An id without state reports TRANSACTIONAL_ID_NOT_FOUND. */
export async function describeTransactions(ctx: AdminContext, op: Op, transactionalIds: string[]): Promise<TransactionDescription[]> {
  const settled = await ctx.settle<TransactionDescriptionData>(transactionalIds, op, async (pending) => {
    const { byNode, steps } = await ctx.coordinators<TransactionDescriptionData>('transaction', pending, op)
    const answered = await ctx.perCoordinator('transaction', byNode, async (node, ids) => {
      const { res } = await ctx.send(node, describeTransactionsApi, () => ({ transactionalIds: ids }), op)
      const out = new Map<string, Step<TransactionDescriptionData>>()
      for (const t of res.transactionStates) {
        if (t.errorCode !== 0) {
          out.set(t.transactionalId, ctx.coordinatorError('transaction', t.transactionalId, t.errorCode, { apiName: 'DescribeTransactions', transactionalId: t.transactionalId }))
          continue
        }
        out.set(t.transactionalId, {
          ok: {
            state: t.transactionState,
            timeoutMs: t.transactionTimeoutMs,
            startTimeMs: t.transactionStartTimeMs < 0n ? null : Number(t.transactionStartTimeMs),
            producerId: t.producerId,
            producerEpoch: t.producerEpoch,
            topics: t.topics.map((x) => ({ topic: x.topic, partitions: x.partitions })),
            coordinator: node,
          },
        })
      }
      return out
    })
    for (const [k, s] of answered) steps.set(k, s)
    return steps
  })
  return transactionalIds.map((transactionalId) => {
    const s = settled.get(transactionalId)!
    return 'ok' in s ? { transactionalId, error: null, ...s.ok } : { transactionalId, error: s.fail }
  })
}

// ---- listTransactions ----------------------------------------------------------------

export interface TransactionListing {
  transactionalId: string
  producerId: bigint
  state: string
  coordinator: number
}

export interface ListTransactionsOptions {
  states?: string[]
  producerIds?: bigint[]
  /** Only transactions running longer than this (ListTransactions v1+, KIP-994). */
  durationFilterMs?: number
  /** Only transactional ids matching this regular expression (ListTransactions v2+, KIP-1152). */
  transactionalIdPattern?: string
}

export interface TransactionListings {
  transactions: TransactionListing[]
  errors: BrokerFailure[]
}

/** Every broker's transactions (each broker coordinates some transactional ids). */
export async function listTransactions(ctx: AdminContext, op: Op, o: ListTransactionsOptions): Promise<TransactionListings> {
  const nodes = await ctx.brokerIds(op)
  const needs = o.transactionalIdPattern !== undefined ? { minVersion: 2, needs: 'transactionalIdPattern (KIP-1152)' } : o.durationFilterMs !== undefined ? { minVersion: 1, needs: 'durationFilterMs (KIP-994)' } : {}
  const settled = await ctx.settle<TransactionListing[]>(nodes.map(String), op, (pending) =>
    ctx.perNode(
      new Map(pending.map((n) => [Number(n), [n]])),
      (k) => k,
      async (node) => {
        const { res } = await ctx.send(
          node,
          listTransactionsApi,
          () => ({
            stateFilters: o.states ?? [],
            producerIdFilters: o.producerIds ?? [],
            durationFilter: o.durationFilterMs === undefined ? -1n : BigInt(o.durationFilterMs),
            transactionalIdPattern: o.transactionalIdPattern ?? null,
          }),
          op,
          needs,
        )
        const step: Step<TransactionListing[]> =
          res.errorCode !== 0
            ? brokerStep(res.errorCode, { apiName: 'ListTransactions', nodeId: node })
            : { ok: res.transactionStates.map((t) => ({ transactionalId: t.transactionalId, producerId: t.producerId, state: t.transactionState, coordinator: node })) }
        return new Map([[String(node), step]])
      },
    ),
  )
  const out: TransactionListings = { transactions: [], errors: [] }
  for (const [node, s] of settled) {
    if ('ok' in s) out.transactions.push(...s.ok)
    else out.errors.push({ nodeId: Number(node), error: s.fail })
  }
  // Deviation tolerated: kfake answers ListTransactions on every broker with every transaction, not only
  // the ones that broker coordinates. An id listed by several brokers is kept once, as its coordinator
  // lists it (the first listing when the lookup fails). (Test: spec/client/impl-deviations.test.ts.)
  const seen = new Map<string, TransactionListing[]>()
  for (const t of out.transactions) seen.set(t.transactionalId, [...(seen.get(t.transactionalId) ?? []), t])
  for (const [id, listings] of seen) {
    if (listings.length < 2) continue
    const coordinator = await ctx.cluster.coordinator('transaction', id, { signal: op.signal }).catch(() => -1)
    const keep = listings.find((t) => t.coordinator === coordinator) ?? listings[0]!
    out.transactions = out.transactions.filter((t) => t.transactionalId !== id || t === keep)
  }
  out.transactions.sort((a, b) => (a.transactionalId < b.transactionalId ? -1 : a.transactionalId > b.transactionalId ? 1 : 0))
  return out
}
