/**
 * Idempotence and transaction state for one producer.
 *
 * States (as the reference TransactionManager names them) and the only
 * transitions allowed between them:
 *
 *   UNINITIALIZED ─init─▶ INITIALIZING ─InitProducerId ok─▶ READY
 *   READY ─beginTransaction─▶ IN_TRANSACTION ─commit─▶ COMMITTING ─EndTxn ok─▶ READY
 *   IN_TRANSACTION | ABORTABLE_ERROR ─abort─▶ ABORTING ─EndTxn or epoch bump ok─▶ READY
 *   IN_TRANSACTION | COMMITTING ─abortable error─▶ ABORTABLE_ERROR
 *   any ─fencing, authorization, unsupported broker─▶ FATAL_ERROR (terminal)
 *
 * An idempotent producer without a transactional id only uses
 * UNINITIALIZED → INITIALIZING → READY (and FATAL_ERROR).
 *
 * Sequence numbers (KIP-98) are per partition. The rules below follow the
 * reference client: a batch keeps its (producer id, epoch, sequence) for every
 * retry while its outcome is unknown; sequences are only rewritten after the
 * broker said definitively that they were not written (OUT_OF_ORDER_SEQUENCE
 * for the next expected batch, UNKNOWN_PRODUCER_ID), and then only once
 * nothing is in flight for the partition. A non-transactional producer bumps
 * its epoch locally to restart a partition at sequence 0 (KIP-360).
 */
import type { Cluster } from '../client/cluster.js'
import { UnsupportedApiError } from '../client/errors.js'
import { BrokerError, KafkawireError } from '../protocol/errors.js'
import { addOffsetsToTxn } from '../protocol/messages/add-offsets-to-txn.js'
import { addPartitionsToTxn } from '../protocol/messages/add-partitions-to-txn.js'
import { endTxn } from '../protocol/messages/end-txn.js'
import { initProducerId } from '../protocol/messages/init-producer-id.js'
import { txnOffsetCommit } from '../protocol/messages/txn-offset-commit.js'
import { incrementSequence, sequenceAfter, type ProducerBatch } from './batch.js'
import { ProducerFatalError, ProducerFencedError, TransactionAbortableError, TransactionStateError } from './errors.js'

export type TxnState =
  | 'UNINITIALIZED'
  | 'INITIALIZING'
  | 'READY'
  | 'IN_TRANSACTION'
  | 'COMMITTING'
  | 'ABORTING'
  | 'ABORTABLE_ERROR'
  | 'FATAL_ERROR'

const TRANSITIONS: Record<TxnState, readonly TxnState[]> = {
  UNINITIALIZED: ['READY', 'INITIALIZING'],
  INITIALIZING: ['UNINITIALIZED', 'ABORTING', 'INITIALIZING'],
  READY: ['INITIALIZING', 'COMMITTING', 'ABORTING'],
  IN_TRANSACTION: ['READY'],
  COMMITTING: ['IN_TRANSACTION'],
  ABORTING: ['IN_TRANSACTION', 'ABORTABLE_ERROR'],
  ABORTABLE_ERROR: ['IN_TRANSACTION', 'COMMITTING', 'ABORTABLE_ERROR'],
  FATAL_ERROR: [],
}
// TRANSITIONS[target] lists the states it may be entered from; FATAL_ERROR may be entered from anywhere.

/** Error codes (protocol guide error table). */
const E = {
  OUT_OF_ORDER_SEQUENCE_NUMBER: 45,
  DUPLICATE_SEQUENCE_NUMBER: 46,
  INVALID_PRODUCER_EPOCH: 47,
  INVALID_TXN_STATE: 48,
  INVALID_PRODUCER_ID_MAPPING: 49,
  CONCURRENT_TRANSACTIONS: 51,
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 53,
  CLUSTER_AUTHORIZATION_FAILED: 31,
  UNKNOWN_PRODUCER_ID: 59,
  PRODUCER_FENCED: 90,
  TRANSACTION_ABORTABLE: 120,
  INVALID_TXN_TIMEOUT: 50,
} as const

const NO_ACKED = -1

/**
 * Idempotence bookkeeping of one partition. `inFlight` holds every batch that
 * was sent and is not finished yet, including batches queued for a retry:
 * their outcome may be unknown, so the partition must not move to another
 * epoch under them (the reference keeps them in inflightBatchesBySequence).
 */
export class PartitionSequences {
  producerId = -1n
  epoch = -1
  nextSequence = 0
  lastAckedSequence = NO_ACKED
  lastAckedOffset = -1n
  /** Sent and not finished, ordered by base sequence. */
  readonly inFlight: ProducerBatch[] = []
  /** How many of them are on the wire right now (the rest wait for a retry). */
  onWire = 0
  /** Set when a sent batch was given up: the sequence after it, until a later response resolves it. */
  unresolvedNext = -1
  /** Restart the partition at sequence 0 once nothing is on the wire; `bump` also moves to a newer epoch. */
  resetRequested = false
  bump = false

  addInFlight(b: ProducerBatch): void {
    if (this.inFlight.includes(b)) return
    const a = this.inFlight
    let i = a.length
    // Sequences wrap at int32 max: order them within the window, not by value.
    while (i > 0 && sequenceAfter(a[i - 1]!.baseSequence, b.baseSequence)) i--
    a.splice(i, 0, b)
  }

  removeInFlight(b: ProducerBatch): void {
    const i = this.inFlight.indexOf(b)
    if (i >= 0) this.inFlight.splice(i, 1)
  }

  isNextSequence(seq: number): boolean {
    return this.lastAckedSequence === NO_ACKED ? seq === 0 : seq === incrementSequence(this.lastAckedSequence, 1)
  }

  requestReset(bump: boolean): void {
    this.resetRequested = true
    this.bump ||= bump
  }
}

export interface GroupMetadataForTxn {
  groupId: string
  generationId?: number
  memberId?: string
  groupInstanceId?: string | null
}

export interface TxnOffset {
  topic: string
  partition: number
  offset: bigint
  leaderEpoch?: number
  metadata?: string | null
}

/** 'written': a later batch of the same epoch was acknowledged, so the broker has this one (its offset is unknown). */
export type BatchVerdict = 'retry' | 'fail' | 'written'

export class TransactionManager {
  readonly transactionalId: string | null
  readonly #cluster: Cluster
  readonly #timeoutMs: number
  readonly #txnTimeoutMs: number
  #state: TxnState = 'UNINITIALIZED'
  #lastError: KafkawireError | null = null
  producerId = -1n
  producerEpoch = -1
  /** KIP-890 Transactions V2 is on for the current transaction. */
  #tv2 = false
  #tv2Next = false
  /** InitProducerId v3+ (KIP-360) lets the client bump the epoch. */
  #canBump = false
  /** The next abort must fence in-flight produce requests by bumping the epoch. */
  #epochBumpRequired = false
  /** A produce was refused because our epoch is stale: another producer took over, or the coordinator moved on. */
  #staleEpoch = false
  /** A produce request of this transaction failed with its outcome unknown (timeout, lost connection). */
  #unknownOutcome = false
  readonly #partitions = new Map<string, PartitionSequences>()
  /** Transactions V1: partitions added to the current transaction, and those still to add. */
  readonly #inTxn = new Set<string>()
  readonly #toAdd = new Map<string, { topic: string; partition: number }>()
  #adding: Promise<void> | null = null
  #transactionStarted = false
  /** When beginTransaction() was called, to recognise a transaction the coordinator aborted on its timeout. */
  #begunAt = 0
  #initializing: Promise<void> | null = null
  onStateChange: ((from: TxnState, to: TxnState) => void) | null = null

  constructor(cluster: Cluster, o: { transactionalId: string | null; transactionTimeoutMs: number; timeoutMs: number }) {
    this.#cluster = cluster
    this.transactionalId = o.transactionalId
    this.#txnTimeoutMs = o.transactionTimeoutMs
    this.#timeoutMs = o.timeoutMs
  }

  get state(): TxnState {
    return this.#state
  }

  get isTransactional(): boolean {
    return this.transactionalId !== null
  }

  get hasProducerId(): boolean {
    return this.producerId >= 0n
  }

  get lastError(): KafkawireError | null {
    return this.#lastError
  }

  /** Transactions V2 (KIP-890) in use: Produce v12+, EndTxn v5 bumps the epoch, no AddPartitionsToTxn. */
  get transactionV2(): boolean {
    return this.#tv2
  }

  #ctx(): { transactionalId?: string } {
    return this.transactionalId === null ? {} : { transactionalId: this.transactionalId }
  }

  #transition(to: TxnState, err?: KafkawireError): void {
    const from = this.#state
    if (to !== 'FATAL_ERROR' && !TRANSITIONS[to].includes(from) && from !== to) {
      throw new TransactionStateError(`invalid transaction state transition ${from} -> ${to}`, this.#ctx())
    }
    if (from === 'FATAL_ERROR') return
    this.#state = to
    if (err) this.#lastError = err
    else if (to === 'READY') this.#lastError = null
    this.onStateChange?.(from, to)
  }

  /** Throws the stored error when the producer cannot send. */
  checkCanSend(): void {
    if (this.#state === 'FATAL_ERROR') throw this.#fatalFor('send')
    if (!this.isTransactional) return
    if (this.#state === 'ABORTABLE_ERROR') {
      throw new TransactionAbortableError(`the transaction must be aborted: ${this.#lastError?.message ?? 'an earlier send failed'}`, this.#ctx(), this.#lastError)
    }
    if (this.#state !== 'IN_TRANSACTION') {
      throw new TransactionStateError(`cannot send outside a transaction (state ${this.#state}); call beginTransaction() first`, this.#ctx())
    }
  }

  #fatalFor(op: string): KafkawireError {
    const e = this.#lastError
    if (e instanceof ProducerFencedError) return e
    return new ProducerFatalError(`the producer cannot ${op} after a fatal error: ${e?.message ?? 'unknown'}`, this.#ctx(), e)
  }

  fatal(err: KafkawireError): void {
    const e = err instanceof ProducerFencedError || err instanceof ProducerFatalError ? err : new ProducerFatalError(err.message, err.context, err)
    this.#lastError = e
    const from = this.#state
    this.#state = 'FATAL_ERROR'
    this.onStateChange?.(from, 'FATAL_ERROR')
  }

  /** A failure inside a transaction: the transaction can only be aborted now. */
  abortable(err: KafkawireError): void {
    if (!this.isTransactional) return
    if (this.#state === 'ABORTING' || this.#state === 'FATAL_ERROR') return
    // Only a transaction in progress can become abortable. Outside one (a
    // late failure after the transaction ended) there is nothing to abort,
    // and this runs in the sender, where an illegal transition must not throw.
    if (this.#state !== 'IN_TRANSACTION' && this.#state !== 'COMMITTING' && this.#state !== 'ABORTABLE_ERROR') return
    // Without TV2 or a client-side bump the broker cannot fence what was
    // already sent, so continuing would be unsafe (reference:
    // transitionToAbortableErrorOrFatalError).
    if (!this.#tv2 && !this.#canBump) {
      this.fatal(new ProducerFatalError(`${err.message}; the broker cannot bump the producer epoch, so the producer cannot continue`, this.#ctx(), err))
      return
    }
    if (!this.#tv2) this.#epochBumpRequired = true
    // Already abortable: keep the first cause, it is the one worth reporting.
    if (this.#state === 'ABORTABLE_ERROR') return
    this.#transition('ABORTABLE_ERROR', err instanceof TransactionAbortableError ? err : new TransactionAbortableError(err.message, err.context, err))
  }

  // ---- producer id -------------------------------------------------------------

  /** Obtains a producer id (InitProducerId). Idempotent producers call it lazily. */
  initialize(signal?: AbortSignal): Promise<void> {
    if (this.#state === 'FATAL_ERROR') return Promise.reject(this.#fatalFor('initialize'))
    if (this.#initializing) return this.#initializing
    if (this.#state !== 'UNINITIALIZED' && !(this.#state === 'INITIALIZING')) {
      if (this.isTransactional) return Promise.reject(new TransactionStateError(`initTransactions() called in state ${this.#state}`, this.#ctx()))
      return Promise.resolve()
    }
    this.#transition('INITIALIZING')
    this.#initializing = this.#initProducerId(-1n, -1, signal)
      .then(() => this.#transition('READY'))
      .catch((err: unknown) => {
        const e = err instanceof KafkawireError ? err : new ProducerFatalError(String(err))
        if (isFatalInit(e)) this.fatal(e)
        else this.#transition('UNINITIALIZED') // back to the start: a later call retries
        throw e
      })
      .finally(() => {
        this.#initializing = null
      })
    return this.#initializing
  }

  async #initProducerId(currentId: bigint, currentEpoch: number, signal?: AbortSignal): Promise<void> {
    const txnId = this.transactionalId
    const o = { timeoutMs: this.#timeoutMs, ...(signal ? { signal } : {}) }
    const check = (res: { errorCode: number }): void => {
      if (res.errorCode !== 0) throw txnError(res.errorCode, this.#ctx(), 'InitProducerId')
    }
    const build = (version: number) => {
      if (currentId >= 0n && version < 3) {
        throw new UnsupportedApiError('the broker does not support bumping the producer epoch (InitProducerId v3, KIP-360)', this.#ctx())
      }
      return {
        transactionalId: txnId,
        transactionTimeoutMs: txnId === null ? 0x7fffffff : this.#txnTimeoutMs,
        ...(version >= 3 ? { producerId: currentId, producerEpoch: currentEpoch } : {}),
      }
    }
    let res
    if (txnId !== null) {
      res = await this.#cluster.sendToCoordinator('transaction', txnId, initProducerId, build, check, o)
      const conn = await this.#cluster.connectionTo(await this.#cluster.coordinator('transaction', txnId, o), 'coordinator', signal)
      this.#canBump = conn.versions.has(initProducerId.apiKey, 3)
      // KIP-890: the finalized transaction.version feature decides V2.
      this.#tv2Next = conn.versions.featureLevel('transaction.version') >= 2 && conn.versions.has(endTxn.apiKey, 5)
      if (!this.#transactionStarted) this.#tv2 = this.#tv2Next
    } else {
      res = await this.#cluster.withRetry('InitProducerId', async () => {
        const conn = await this.#cluster.anyConnection(signal)
        const version = conn.pickVersion(initProducerId)
        this.#canBump = version >= 3
        const r = await conn.send(initProducerId, build(version), { version, ...(signal ? { signal } : {}) })
        check(r)
        return r
      }, o)
    }
    this.producerId = res.producerId
    this.producerEpoch = res.producerEpoch
    this.#resetAllSequences()
  }

  /** After a new producer id or epoch: idle partitions restart at 0; busy ones do in prepare(). */
  #resetAllSequences(): void {
    for (const p of this.#partitions.values()) {
      if (p.inFlight.length === 0) {
        p.unresolvedNext = -1
        p.resetRequested = false
        p.bump = false
        this.#restart(p)
      }
    }
  }

  // ---- sequences ---------------------------------------------------------------

  partition(topic: string, partition: number): PartitionSequences {
    const key = `${topic}\0${partition}`
    let p = this.#partitions.get(key)
    if (p === undefined) {
      p = new PartitionSequences()
      p.producerId = this.producerId
      p.epoch = this.producerEpoch
      this.#partitions.set(key, p)
    }
    return p
  }

  /**
   * Whether a batch that has never been sent may be stamped and sent now. Not
   * while the partition waits for a reset or an epoch change with earlier
   * batches unfinished, and not while a given-up batch is unresolved.
   */
  canSendFresh(p: PartitionSequences): boolean {
    if (p.inFlight.length === 0) return true
    if (p.resetRequested || p.unresolvedNext >= 0) return false
    return p.epoch === this.producerEpoch && p.producerId === this.producerId
  }

  /** Whether the partition's first unfinished batch may be resent now. */
  canRetry(p: PartitionSequences, b: ProducerBatch): boolean {
    // Retries go one at a time, in sequence order, with nothing else on the
    // wire, so a retried batch can never be overtaken.
    return p.onWire === 0 && p.inFlight[0] === b
  }

  /**
   * Brings the partition up to date before anything is drained from it, when
   * nothing of it is on the wire: resolves a given-up batch, performs a
   * requested reset (restamping every unfinished batch from sequence 0, in
   * order), and moves an idle partition to the producer's current epoch.
   */
  prepare(p: PartitionSequences): void {
    if (p.onWire > 0) return
    if (p.unresolvedNext >= 0 && p.inFlight.length === 0) {
      // Nothing later can resolve the given-up batch. If the last ack is
      // right before the next sequence, nothing is missing; otherwise its
      // fate is unknown and the partition restarts (maybeResolveSequences).
      const resolved = p.isNextSequence(p.nextSequence)
      p.unresolvedNext = -1
      if (!resolved) {
        if (this.isTransactional) {
          this.abortable(new TransactionAbortableError('a batch was not acknowledged and can no longer be retried; abort the transaction', this.#ctx()))
        } else p.requestReset(true)
      }
    }
    if (p.resetRequested) {
      if (p.bump && !this.isTransactional && p.epoch === this.producerEpoch && p.producerId === this.producerId) this.#bumpEpoch()
      p.bump = false
      // The epoch was exhausted and the producer id dropped: restart once
      // InitProducerId has given a new one (never stamp producer id -1).
      if (!this.hasProducerId) return
      p.resetRequested = false
      // Sequences of the old epoch mean nothing in the new one.
      p.unresolvedNext = -1
      this.#restart(p)
      return
    }
    if (p.inFlight.length === 0 && (p.epoch !== this.producerEpoch || p.producerId !== this.producerId)) this.#restart(p)
  }

  #restart(p: PartitionSequences): void {
    p.producerId = this.producerId
    p.epoch = this.producerEpoch
    p.lastAckedSequence = NO_ACKED
    let seq = 0
    for (const b of p.inFlight) {
      b.stamp(this.producerId, this.producerEpoch, seq, this.isTransactional)
      seq = incrementSequence(seq, b.recordCount)
    }
    p.nextSequence = seq
  }

  /**
   * Local epoch bump of an idempotent producer (KIP-360): the broker accepts
   * a higher epoch of a known producer id when it starts at sequence 0. An
   * exhausted epoch needs a new producer id instead.
   */
  #bumpEpoch(): void {
    if (this.producerEpoch >= 0x7fff) {
      this.producerId = -1n
      this.producerEpoch = -1
      this.#transition('UNINITIALIZED')
      return
    }
    this.producerEpoch++
  }

  /** Stamps a batch about to be sent for the first time. */
  stampFresh(b: ProducerBatch, p: PartitionSequences): void {
    b.stamp(this.producerId, this.producerEpoch, p.nextSequence, this.isTransactional)
    p.nextSequence = incrementSequence(p.nextSequence, b.recordCount)
  }

  onSent(b: ProducerBatch, p: PartitionSequences): void {
    p.addInFlight(b)
    p.onWire++
  }

  /** The batch's request failed or was answered; it is no longer on the wire. */
  onReturned(p: PartitionSequences): void {
    if (p.onWire > 0) p.onWire--
  }

  onSuccess(b: ProducerBatch, p: PartitionSequences, baseOffset: bigint): void {
    p.removeInFlight(b)
    if (b.producerEpoch === p.epoch && b.producerId === p.producerId) {
      const last = b.lastSequence
      if (p.lastAckedSequence === NO_ACKED || sequenceAfter(last, p.lastAckedSequence)) p.lastAckedSequence = last
      if (baseOffset >= 0n) p.lastAckedOffset = baseOffset + BigInt(b.recordCount - 1)
      // A later batch succeeding proves the given-up one was written.
      if (p.unresolvedNext >= 0 && (b.baseSequence === p.unresolvedNext || sequenceAfter(b.baseSequence, p.unresolvedNext))) p.unresolvedNext = -1
    }
  }

  #implicitlyAcked(p: PartitionSequences, b: ProducerBatch): boolean {
    return (
      b.hasSequence &&
      b.producerId === p.producerId &&
      b.producerEpoch === p.epoch &&
      p.lastAckedSequence !== NO_ACKED &&
      !sequenceAfter(b.lastSequence, p.lastAckedSequence)
    )
  }

  /** A batch that will not be sent again (failed or expired). */
  onGiveUp(b: ProducerBatch, p: PartitionSequences): void {
    const wasInFlight = p.inFlight.includes(b)
    p.removeInFlight(b)
    if (wasInFlight && b.sent) {
      const next = incrementSequence(b.lastSequence, 1)
      p.unresolvedNext = p.unresolvedNext < 0 || sequenceAfter(next, p.unresolvedNext) ? next : p.unresolvedNext
      // The partition's sequences now have a hole the broker may or may not
      // have filled. Under Transactions V1 the epoch stays the same after
      // EndTxn, so the abort must move to a new epoch (V2 always does).
      if (this.isTransactional) this.#epochBumpRequired = true
    }
  }

  /**
   * Decides what to do with a batch the broker rejected with `code`
   * (reference: TransactionManager.canRetry and handleFailedBatch). The
   * batch stays in the partition's unfinished list on 'retry'.
   */
  onError(b: ProducerBatch, p: PartitionSequences, code: number, logStartOffset: bigint, retriable: boolean): BatchVerdict {
    // The broker only accepts a producer's sequences in order, so once a
    // later batch of the same epoch was acknowledged this one was written,
    // whatever this answer says (a retry of it can be refused as out of
    // order once it left the broker's five-batch window).
    if (this.#implicitlyAcked(p, b)) {
      p.removeInFlight(b)
      return 'written'
    }
    if (code === E.UNKNOWN_PRODUCER_ID) {
      if (logStartOffset === -1n) return 'retry'
      if (b.producerEpoch !== p.epoch || b.producerId !== p.producerId) return 'retry'
      if (p.lastAckedOffset < logStartOffset) {
        // Retention removed the producer's last records, so the broker lost
        // our state legitimately: restart the partition's sequences (and,
        // when not transactional, the epoch, so no (epoch, seq) is reused).
        p.requestReset(!this.isTransactional)
        return 'retry'
      }
      if (!this.isTransactional) {
        p.requestReset(true)
        return 'retry'
      }
      return 'fail'
    }
    if (code === E.OUT_OF_ORDER_SEQUENCE_NUMBER) {
      if (p.unresolvedNext < 0 && !p.isNextSequence(b.baseSequence)) return 'retry' // an earlier batch is still pending
      if (!this.isTransactional) {
        // A real gap: the broker did not write this batch (nor anything
        // after it). Restart at a new epoch, unless we still wait for an
        // unresolved batch that is not the one right before this one.
        if (p.unresolvedNext < 0 || p.unresolvedNext === b.baseSequence) p.requestReset(true)
        return 'retry'
      }
      return 'fail'
    }
    return retriable ? 'retry' : 'fail'
  }

  // ---- transactions -----------------------------------------------------------

  beginTransaction(): void {
    this.#requireTransactional('beginTransaction')
    if (this.#state === 'FATAL_ERROR') throw this.#fatalFor('begin a transaction')
    if (this.#state !== 'READY') throw new TransactionStateError(`cannot begin a transaction in state ${this.#state}`, this.#ctx())
    this.#transition('IN_TRANSACTION')
    this.#transactionStarted = false
    this.#begunAt = Date.now()
    this.#tv2 = this.#tv2Next
  }

  /** How long the current transaction has run, when that is longer than transactionTimeoutMs; else null. */
  #overdueMs(): number | null {
    if (this.#begunAt === 0) return null
    const ran = Date.now() - this.#begunAt
    return ran > this.#txnTimeoutMs ? ran : null
  }

  #overdueNote(ran: number): string {
    return `the transaction ran for ${ran} ms, longer than transactionTimeoutMs (${this.#txnTimeoutMs} ms), so the transaction coordinator aborted it`
  }

  /** The error for a produce refused because this producer's epoch is no longer the current one. */
  staleEpochError(cause: KafkawireError): TransactionAbortableError {
    this.#staleEpoch = true
    const ran = this.#overdueMs()
    const why = ran !== null ? this.#overdueNote(ran) : 'another producer with the same transactional id may have taken over, or the transaction timed out'
    return new TransactionAbortableError(`${cause.message}: ${why}; abort the transaction`, cause.context, cause)
  }

  #requireTransactional(op: string): void {
    if (!this.isTransactional) throw new TransactionStateError(`${op}() needs a transactional producer (set transactionalId)`)
  }

  /** Whether a partition may be sent to now (V1: it must have been added to the transaction). */
  isPartitionReady(topic: string, partition: number): boolean {
    if (!this.isTransactional || this.#tv2) return true
    return this.#inTxn.has(`${topic}\0${partition}`)
  }

  /** Notes that the transaction writes to this partition (V1 queues an AddPartitionsToTxn). */
  maybeAddPartition(topic: string, partition: number): void {
    if (!this.isTransactional) return
    if (this.#tv2) {
      // V2: the Produce request itself adds the partition (KIP-890).
      this.#transactionStarted = true
      return
    }
    const key = `${topic}\0${partition}`
    if (!this.#inTxn.has(key)) this.#toAdd.set(key, { topic, partition })
  }

  /** Whether AddPartitionsToTxn should be sent now: partitions wait and the transaction is still going. */
  get hasPartitionsToAdd(): boolean {
    return this.#toAdd.size > 0 && this.#adding === null && (this.#state === 'IN_TRANSACTION' || this.#state === 'COMMITTING')
  }

  /** Transactions V1: AddPartitionsToTxn for the partitions written since the last call. */
  addPendingPartitions(): Promise<void> {
    if (this.#adding) return this.#adding
    const batch = [...this.#toAdd.entries()]
    if (batch.length === 0) return Promise.resolve()
    const txnId = this.transactionalId!
    this.#adding = (async () => {
      const byTopic = new Map<string, number[]>()
      for (const [, { topic, partition }] of batch) {
        const l = byTopic.get(topic) ?? []
        l.push(partition)
        byTopic.set(topic, l)
      }
      const topics = [...byTopic].map(([name, partitions]) => ({ name, partitions }))
      await this.#cluster.sendToCoordinator(
        'transaction',
        txnId,
        addPartitionsToTxn,
        (version) => {
          if (version >= 4) throw new UnsupportedApiError('AddPartitionsToTxn v4+ is broker-only')
          return { v3AndBelowTransactionalId: txnId, v3AndBelowProducerId: this.producerId, v3AndBelowProducerEpoch: this.producerEpoch, v3AndBelowTopics: topics }
        },
        (res) => {
          if (res.errorCode !== 0) throw txnError(res.errorCode, this.#ctx(), 'AddPartitionsToTxn')
          for (const t of res.resultsByTopicV3AndBelow) {
            for (const p of t.resultsByPartition) {
              if (p.partitionErrorCode !== 0 && p.partitionErrorCode !== 55 /* OPERATION_NOT_ATTEMPTED */) {
                throw txnError(p.partitionErrorCode, { ...this.#ctx(), topic: t.name, partition: p.partitionIndex }, 'AddPartitionsToTxn')
              }
            }
          }
        },
        // Brokers advertise v4+, which is for broker-to-broker verification
        // (KIP-890 part 1); clients use v3 at most (AddPartitionsToTxnRequest.Builder.forClient).
        { timeoutMs: this.#timeoutMs, maxVersion: 3 },
      )
      for (const [key] of batch) {
        this.#toAdd.delete(key)
        this.#inTxn.add(key)
      }
      // V1: the coordinator knows of the transaction once a partition was added.
      this.#transactionStarted = true
    })()
      .catch((err: unknown) => {
        const e = err instanceof KafkawireError ? err : new ProducerFatalError(String(err))
        if (isFencing(e)) this.fatal(e)
        else this.abortable(e)
        throw e
      })
      .finally(() => {
        this.#adding = null
      })
    return this.#adding
  }

  /** Adds consumed offsets to the transaction (KIP-98; V2 skips AddOffsetsToTxn, KIP-890). */
  async sendOffsets(offsets: readonly TxnOffset[], group: GroupMetadataForTxn): Promise<void> {
    this.#requireTransactional('sendOffsetsToTransaction')
    this.checkCanSend()
    const txnId = this.transactionalId!
    try {
      if (this.#tv2) this.#transactionStarted = true
      else {
        await this.#cluster.sendToCoordinator(
          'transaction',
          txnId,
          addOffsetsToTxn,
          () => ({ transactionalId: txnId, producerId: this.producerId, producerEpoch: this.producerEpoch, groupId: group.groupId }),
          (res) => {
            if (res.errorCode !== 0) throw txnError(res.errorCode, this.#ctx(), 'AddOffsetsToTxn')
          },
          { timeoutMs: this.#timeoutMs },
        )
        this.#transactionStarted = true
      }
      const byTopic = new Map<string, TxnOffset[]>()
      for (const o of offsets) {
        const l = byTopic.get(o.topic) ?? []
        l.push(o)
        byTopic.set(o.topic, l)
      }
      await this.#cluster.sendToCoordinator(
        'group',
        group.groupId,
        txnOffsetCommit,
        (version) => {
          return {
            transactionalId: txnId,
            groupId: group.groupId,
            producerId: this.producerId,
            producerEpoch: this.producerEpoch,
            ...(version >= 3
              ? { generationId: group.generationId ?? -1, memberId: group.memberId ?? '', groupInstanceId: group.groupInstanceId ?? null }
              : {}),
            topics: [...byTopic].map(([name, list]) => ({
              name,
              partitions: list.map((o) => ({
                partitionIndex: o.partition,
                committedOffset: o.offset,
                committedLeaderEpoch: o.leaderEpoch ?? -1,
                committedMetadata: o.metadata ?? null,
              })),
            })),
          }
        },
        (res) => {
          for (const t of res.topics) {
            for (const p of t.partitions) {
              if (p.errorCode !== 0) throw txnError(p.errorCode, { ...this.#ctx(), groupId: group.groupId, topic: t.name, partition: p.partitionIndex }, 'TxnOffsetCommit')
            }
          }
        },
        // TxnOffsetCommit v5 means Transactions V2 to the broker (KIP-890).
        { timeoutMs: this.#timeoutMs, ...(this.#tv2 ? {} : { maxVersion: 4 }) },
      )
    } catch (err) {
      const e = err instanceof KafkawireError ? err : new ProducerFatalError(String(err))
      if (isFencing(e)) this.fatal(e)
      else this.abortable(e)
      throw e
    }
  }

  /** A produce request of the current transaction may have been written without our knowing. */
  noteUnknownOutcome(): void {
    if (this.isTransactional) this.#unknownOutcome = true
  }

  /** The version cap the reference applies under Transactions V1 (ProduceRequest.LAST_STABLE_VERSION_BEFORE_TRANSACTION_V2). */
  maxProduceVersion(): number {
    return this.isTransactional && !this.#tv2 ? 11 : Infinity
  }

  beginCommit(): void {
    this.#requireTransactional('commitTransaction')
    if (this.#state === 'FATAL_ERROR') throw this.#fatalFor('commit')
    if (this.#state === 'ABORTABLE_ERROR') {
      throw new TransactionAbortableError(`cannot commit: ${this.#lastError?.message ?? 'an earlier operation failed'}; abort the transaction`, this.#ctx(), this.#lastError)
    }
    if (this.#state !== 'IN_TRANSACTION') throw new TransactionStateError(`cannot commit in state ${this.#state}`, this.#ctx())
    this.#transition('COMMITTING')
  }

  beginAbort(): void {
    this.#requireTransactional('abortTransaction')
    if (this.#state === 'FATAL_ERROR') throw this.#fatalFor('abort')
    // ABORTING: an earlier abort failed with a retriable error (its deadline
    // passed); aborting again resumes it.
    if (this.#state !== 'IN_TRANSACTION' && this.#state !== 'ABORTABLE_ERROR' && this.#state !== 'ABORTING') {
      throw new TransactionStateError(`cannot abort in state ${this.#state}`, this.#ctx())
    }
    this.#toAdd.clear()
    this.#transition('ABORTING')
  }

  /**
   * Ends the transaction once every batch is acknowledged or failed. When a
   * produce request's outcome is unknown (it timed out) under Transactions
   * V1, an EndTxn could overtake it, so the abort is done by bumping the
   * epoch instead: the coordinator aborts the ongoing transaction with the
   * new epoch and any late write with the old one is fenced.
   */
  async endTransaction(commit: boolean): Promise<void> {
    const txnId = this.transactionalId!
    try {
      if (!this.#transactionStarted) {
        // Nothing was sent or added: there is nothing to end on the broker.
      } else if (!commit && (this.#epochBumpRequired || this.#unknownOutcome) && !this.#tv2 && this.#canBump && !this.#staleEpoch) {
        // (With a stale epoch the abort goes through EndTxn instead: a bump
        // by a producer that was fenced would make the coordinator abort its
        // successor's ongoing transaction before refusing the zombie, and
        // writes of the stale epoch are refused by the brokers anyway.)
        await this.#bumpTransactionalEpoch()
      } else {
        await this.#cluster.sendToCoordinator(
          'transaction',
          txnId,
          endTxn,
          () => ({ transactionalId: txnId, producerId: this.producerId, producerEpoch: this.producerEpoch, committed: commit }),
          (res, version) => {
            if (res.errorCode !== 0) throw txnError(res.errorCode, this.#ctx(), 'EndTxn')
            if (version >= 5 && res.producerId >= 0n) {
              // KIP-890: every EndTxn v5 bumps the epoch (or a new id when exhausted),
              // so every partition starts again at sequence 0.
              this.producerId = res.producerId
              this.producerEpoch = res.producerEpoch
              this.#resetAllSequences()
            }
          },
          // EndTxn v5 means Transactions V2 to the broker (KIP-890).
          { timeoutMs: this.#timeoutMs, ...(this.#tv2 ? {} : { maxVersion: 4 }) },
        )
        if (this.#epochBumpRequired && this.#canBump && !this.#tv2) await this.#bumpTransactionalEpoch()
      }
    } catch (err) {
      let e = err instanceof KafkawireError ? err : new ProducerFatalError(String(err))
      // A coordinator that aborted the transaction on its timeout answers the
      // commit with INVALID_TXN_STATE (or a fencing error): say so.
      const ran = this.#overdueMs()
      if (ran !== null && (isFencing(e) || e.code === 'INVALID_TXN_STATE')) {
        e = new ProducerFatalError(`${this.#overdueNote(ran)}: ${e.message}`, this.#ctx(), e)
      }
      if (isFencing(e) || e.code === 'INVALID_TXN_STATE' || e.code === 'INVALID_PRODUCER_ID_MAPPING' || e instanceof ProducerFatalError) this.fatal(e)
      // An abort that is itself refused as abortable would loop (reference: EndTxnHandler).
      else if (!commit && e.code === 'TRANSACTION_ABORTABLE') this.fatal(new ProducerFatalError(`failed to abort the transaction: ${e.message}`, this.#ctx(), e))
      else if (commit) this.abortable(e)
      throw e
    }
    this.#epochBumpRequired = false
    this.#staleEpoch = false
    this.#unknownOutcome = false
    this.#transactionStarted = false
    this.#inTxn.clear()
    this.#toAdd.clear()
    // Under Transactions V1 the epoch is unchanged, so sequences go on where
    // they are: the broker expects the next one, not 0. They restart only
    // when the producer id or epoch changed (EndTxn v5 or a bump above).
    this.#transition('READY')
  }

  async #bumpTransactionalEpoch(): Promise<void> {
    // CONCURRENT_TRANSACTIONS while the coordinator completes the abort is retriable.
    await this.#initProducerId(this.producerId, this.producerEpoch)
  }
}

function isFencing(e: KafkawireError): boolean {
  return e instanceof ProducerFencedError || e.code === 'PRODUCER_FENCED' || e.code === 'INVALID_PRODUCER_EPOCH' || e.code === 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED'
}

function isFatalInit(e: KafkawireError): boolean {
  return isFencing(e) || e.code === 'CLUSTER_AUTHORIZATION_FAILED' || e.code === 'INVALID_TXN_TIMEOUT' || e instanceof UnsupportedApiError
}

/** Maps a transactional error code to the error the application sees. */
export function txnError(code: number, context: Record<string, unknown>, apiName: string): KafkawireError {
  if (code === E.PRODUCER_FENCED || code === E.INVALID_PRODUCER_EPOCH) {
    return new ProducerFencedError(
      `producer fenced: another producer with the same transactional id is active, or the transaction timed out (${apiName})`,
      context,
      new BrokerError(code, { ...context, apiName }),
    )
  }
  return new BrokerError(code, { ...context, apiName })
}

export const TXN_ERRORS = E
