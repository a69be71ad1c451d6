/**
 * The sender drains ready batches into Produce requests, one request per
 * leader broker carrying at most one batch per partition, and handles the
 * answers: acknowledgement, retry (back in the partition's queue, in sequence
 * order), split of a batch the broker found too large, or failure.
 *
 * Ordering: an idempotent producer keeps up to maxInFlight batches per
 * partition on the wire, and retries one at a time with nothing else of the
 * partition on the wire, so a retried batch can never be overtaken (the broker
 * rejects out-of-order sequences anyway). Without idempotence a partition has
 * one batch on the wire at a time, which is what keeps its order across
 * retries.
 */
import type { Cluster } from '../client/cluster.js'
import type { Connection } from '../client/connection.js'
import { needsMetadataRefresh } from '../client/cluster.js'
import { backoffDelay } from '../client/backoff.js'
import { ClosedError, ConnectionError } from '../client/errors.js'
import { BrokerError, KafkawireError } from '../protocol/errors.js'
import { produce, type ProduceResponse } from '../protocol/messages/produce.js'
import { CompressionCodec } from '../protocol/compression/index.js'
import { encodeRecordBatch, encodeRecordBatchSync } from '../protocol/records/index.js'
import { Recycler } from '../client/recycler.js'
import type { ResolvedProducerConfig } from './config.js'
import type { Accumulator, BufferPool, PartitionQueue } from './accumulator.js'
import type { ProducerBatch } from './batch.js'
import { DeliveryTimeoutError, RecordTooLargeError, TransactionAbortableError } from './errors.js'
import type { ProducerMetrics } from './metrics.js'
import type { TransactionManager } from './transaction-manager.js'

const MESSAGE_TOO_LARGE = 10
const RECORD_LIST_TOO_LARGE = 18
const DUPLICATE_SEQUENCE_NUMBER = 46
const FENCING_CODES = new Set([47 /* INVALID_PRODUCER_EPOCH */, 90 /* PRODUCER_FENCED */])

/** Bytes a Produce request adds around its batches, generously (header, transactional id, topic names). */
const REQUEST_OVERHEAD = 256

type PartitionResponse = ProduceResponse['responses'][number]['partitionResponses'][number]
/** Partition answers keyed by "topic\0partition", or 'no-response' for acks=0. */
type ProduceOutcome = Map<string, PartitionResponse> | 'no-response'

export interface SenderHooks {
  onBatchDone(b: ProducerBatch, latencyMs: number): void
  onBatchFailed(b: ProducerBatch, err: KafkawireError): void
  onRetry(b: ProducerBatch, err: KafkawireError): void
}

export class Sender {
  readonly #cluster: Cluster
  readonly #acc: Accumulator
  readonly #pool: BufferPool
  readonly #tm: TransactionManager
  readonly #cfg: ResolvedProducerConfig
  readonly #metrics: ProducerMetrics
  readonly #hooks: SenderHooks
  readonly #nodeInFlight = new Map<number, number>()
  /** Per broker, the last request not yet handed to its connection: requests are written in drain order. */
  readonly #writeTail = new Map<number, Promise<void>>()
  /**
   * Encoded batches (and compression scratch) reuse memory: a batch's
   * buffer goes back once its request has been answered, since requests
   * carry copies of the batches, never the buffers themselves.
   */
  readonly #batchBlocks = new Recycler(16 * 1024, 16)
  #scheduled = false
  #timer: NodeJS.Timeout | null = null
  #timerAt = Infinity
  #flushing = 0
  #closing = false
  #stopped = false
  #refreshing = false
  #initError: KafkawireError | null = null

  constructor(cluster: Cluster, acc: Accumulator, pool: BufferPool, tm: TransactionManager, cfg: ResolvedProducerConfig, metrics: ProducerMetrics, hooks: SenderHooks) {
    this.#cluster = cluster
    this.#acc = acc
    this.#pool = pool
    this.#tm = tm
    this.#cfg = cfg
    this.#metrics = metrics
    this.#hooks = hooks
  }

  get inFlightRequests(): number {
    let n = 0
    for (const v of this.#nodeInFlight.values()) n += v
    return n
  }

  /** Makes every batch ready at once while flushing. */
  beginFlush(): void {
    this.#flushing++
    this.wake()
  }

  endFlush(): void {
    this.#flushing = Math.max(0, this.#flushing - 1)
  }

  beginClose(): void {
    this.#closing = true
    this.wake()
  }

  stop(): void {
    this.#stopped = true
    if (this.#timer) clearTimeout(this.#timer)
  }

  /** Runs the drain loop soon (coalesced). */
  wake(): void {
    if (this.#scheduled || this.#stopped) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      this.#run()
    })
  }

  #wakeAt(t: number): void {
    if (t === Infinity || this.#stopped) return
    if (this.#timer !== null && this.#timerAt <= t) return
    if (this.#timer) clearTimeout(this.#timer)
    this.#timerAt = t
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#timerAt = Infinity
      this.#run()
    }, Math.max(0, t - Date.now()))
  }

  #run(): void {
    if (this.#stopped) return
    const tm = this.#tm
    if (tm.state === 'FATAL_ERROR') {
      this.#failAll(tm.lastError ?? new ClosedError('the producer is in a fatal state'))
      return
    }
    if (this.#cfg.idempotent && !tm.hasProducerId) {
      if (this.#acc.size === 0) return
      tm.initialize().then(
        () => {
          this.#initError = null
          this.wake()
        },
        (err: KafkawireError) => {
          this.#initError = err
          if (tm.state === 'FATAL_ERROR' || !err.retriable) this.#failAll(err)
          else this.#wakeAt(Date.now() + backoffDelay(1, this.#cfg.retryBackoff))
        },
      )
      return
    }
    if (tm.isTransactional && tm.state === 'ABORTABLE_ERROR') {
      // The transaction can only be aborted now: records not sent yet fail at
      // once instead of waiting for abortTransaction() or their delivery
      // timeout (reference: RecordAccumulator.abortUndrainedBatches).
      const cause = tm.lastError
      this.failQueued(cause instanceof TransactionAbortableError ? cause : new TransactionAbortableError(`the transaction must be aborted: ${cause?.message ?? 'an earlier send failed'}`, {}, cause ?? undefined), (b) => !b.sent)
    }
    if (tm.hasPartitionsToAdd) {
      tm.addPendingPartitions().then(
        () => this.wake(),
        () => this.wake(),
      )
    }

    // Drain rounds until nothing more can go: each round takes at most one
    // batch per partition per request, so a partition with several full
    // batches gets several requests in flight (up to the limits).
    let nextWake = Infinity
    let needMetadata = false
    for (;;) {
      const round = this.#drain(Date.now())
      nextWake = round.nextWake
      needMetadata ||= round.needMetadata
      if (round.requests === 0) break
    }
    if (needMetadata) this.#refreshMetadata()
    // The epoch ran out while preparing a partition: get a new producer id.
    if (this.#cfg.idempotent && !tm.hasProducerId) this.wake()
    this.#wakeAt(nextWake)
  }

  #drain(now: number): { requests: number; nextWake: number; needMetadata: boolean } {
    const tm = this.#tm
    const linger = this.#cfg.lingerMs
    const hurry = this.#flushing > 0 || this.#closing
    let nextWake = Infinity
    let needMetadata = false
    let requests = 0
    const perNode = new Map<number, PartitionQueue[]>()

    for (const q of this.#acc.queues()) {
      if (q.batches.length === 0) continue
      this.#expire(q, now)
      const head = q.head
      if (head === undefined) continue
      if (head.state === 'open' && !hurry && now - head.createdAt < linger && q.batches.length === 1) {
        nextWake = Math.min(nextWake, head.createdAt + linger)
        continue
      }
      if (head.retryAt > now) {
        nextWake = Math.min(nextWake, head.retryAt)
        continue
      }
      // Sending again before the refresh lands would go to the same stale leader.
      if (q.awaitingMetadata) {
        if (this.#refreshing) continue
        q.awaitingMetadata = false
      }
      if (!tm.isPartitionReady(q.topic, q.partition)) continue
      const leader = this.#cluster.leaderFor(q.topic, q.partition)
      if (leader < 0) {
        needMetadata = true
        continue
      }
      if (!this.#partitionCanSend(q, head)) continue
      let list = perNode.get(leader)
      if (list === undefined) perNode.set(leader, (list = []))
      list.push(q)
    }

    for (const [node, queues] of perNode) {
      const inflight = this.#nodeInFlight.get(node) ?? 0
      if (inflight >= this.#cfg.maxInFlight) continue
      const batches: Array<[PartitionQueue, ProducerBatch]> = []
      let bytes = REQUEST_OVERHEAD
      for (const q of queues) {
        const b = q.head!
        if (batches.length > 0 && bytes + b.sizeBytes > this.#cfg.maxRequestSize) break
        bytes += b.sizeBytes
        q.batches.shift()
        if (b.state === 'open') b.state = 'closed'
        this.#beforeSend(q, b)
        batches.push([q, b])
      }
      if (batches.length === 0) continue
      this.#nodeInFlight.set(node, inflight + 1)
      requests++
      void this.#sendRequest(node, batches)
    }
    return { requests, nextWake, needMetadata }
  }

  #partitionCanSend(q: PartitionQueue, head: ProducerBatch): boolean {
    if (!this.#cfg.idempotent) {
      // acks=0 has no answers to wait for; requests are written in order.
      return this.#cfg.acks === 0 || q.onWire === 0
    }
    const seq = (q.sequences ??= this.#tm.partition(q.topic, q.partition))
    this.#tm.prepare(seq)
    // An exhausted epoch dropped the producer id: nothing goes out until a new one arrives.
    if (!this.#tm.hasProducerId) return false
    if (head.sent) return this.#tm.canRetry(seq, head)
    return seq.onWire < this.#cfg.maxInFlight && this.#tm.canSendFresh(seq)
  }

  #beforeSend(q: PartitionQueue, b: ProducerBatch): void {
    b.state = 'in-flight'
    b.attempts++
    q.onWire++
    if (this.#cfg.idempotent) {
      const seq = q.sequences!
      if (!b.hasSequence) this.#tm.stampFresh(b, seq)
      this.#tm.onSent(b, seq)
    }
    b.sent = true
  }

  /** Expires batches waiting in the queue past deliveryTimeoutMs (those on the wire finish first). */
  #expire(q: PartitionQueue, now: number): void {
    const limit = this.#cfg.deliveryTimeoutMs
    for (let i = 0; i < q.batches.length; ) {
      const b = q.batches[i]!
      if (now - b.createdAt < limit) {
        i++
        continue
      }
      q.batches.splice(i, 1)
      this.#giveUp(q, b, new DeliveryTimeoutError(
        `${b.recordCount} record(s) for ${b.topic}-${b.partition} expired after ${now - b.createdAt} ms (deliveryTimeoutMs ${limit})${b.lastError ? `; last error: ${b.lastError.message}` : ''}`,
        { topic: b.topic, partition: b.partition },
        b.lastError ?? undefined,
      ))
    }
  }

  async #encode(b: ProducerBatch): Promise<Buffer> {
    if (b.encoded !== null) return b.encoded
    const opts = {
      compression: this.#cfg.compression,
      ...(this.#cfg.compressionLevel !== undefined ? { compressionLevel: this.#cfg.compressionLevel } : {}),
      producerId: b.producerId,
      producerEpoch: b.producerEpoch,
      baseSequence: b.baseSequence,
      isTransactional: b.isTransactional,
    }
    const memory = this.#batchBlocks
    b.encoded = this.#cfg.compression === CompressionCodec.None ? encodeRecordBatchSync(opts, b.records, memory) : await encodeRecordBatch(opts, b.records, memory)
    return b.encoded
  }

  /**
   * Hands an acknowledged batch's buffer back. Only here: the request that
   * carried it was encoded (a copy) before it was written, and its answer
   * has arrived, so no request still being prepared can read the buffer.
   */
  #recycle(b: ProducerBatch): void {
    const e = b.encoded
    if (e === null) return
    b.encoded = null
    this.#batchBlocks.give(e)
  }

  async #sendRequest(node: number, batches: Array<[PartitionQueue, ProducerBatch]>): Promise<void> {
    const started = Date.now()
    let res: ProduceOutcome | null = null
    let failure: KafkawireError | null = null
    try {
      res = await this.#produce(node, batches)
    } catch (err) {
      failure = err instanceof KafkawireError ? err : new ConnectionError(`produce to broker ${node} failed: ${String(err)}`, { nodeId: node }, err)
    }
    this.#nodeInFlight.set(node, Math.max(0, (this.#nodeInFlight.get(node) ?? 1) - 1))
    const latency = Date.now() - started
    this.#metrics.requestLatency(latency)
    for (const [q, b] of batches) {
      q.onWire--
      if (q.sequences) this.#tm.onReturned(q.sequences)
      if (failure !== null) {
        // The request may have reached the broker: an abort must not overtake it.
        this.#tm.noteUnknownOutcome()
        this.#onBatchError(q, b, -1, -1n, failure)
        continue
      }
      if (res === 'no-response') {
        b.complete(-1n, null)
        this.#recycle(b)
        this.#finish(b, latency)
        continue
      }
      const p = res!.get(`${b.topic}\0${b.partition}`)
      if (p === undefined) {
        this.#onBatchError(q, b, -1, -1n, new ConnectionError(`broker ${node} did not answer for ${b.topic}-${b.partition}`, { nodeId: node, topic: b.topic, partition: b.partition }))
        continue
      }
      if (p.errorCode === 0 || p.errorCode === DUPLICATE_SEQUENCE_NUMBER) {
        if (q.sequences) this.#tm.onSuccess(b, q.sequences, p.baseOffset)
        // A duplicate was written by an earlier attempt whose answer we lost;
        // the broker does not always know its offset then.
        b.complete(p.errorCode === 0 ? p.baseOffset : -1n, p.logAppendTimeMs >= 0n ? Number(p.logAppendTimeMs) : null)
        this.#recycle(b)
        this.#finish(b, latency)
        continue
      }
      const err = new BrokerError(p.errorCode, { nodeId: node, topic: b.topic, partition: b.partition, apiName: 'Produce' }, p.errorMessage)
      this.#onBatchError(q, b, p.errorCode, p.logStartOffset, err)
    }
    this.wake()
  }

  /**
   * Encodes the batches and sends one Produce request. Encoding (compression
   * runs off the event loop) and connecting are asynchronous, so a request
   * drained later could be ready first; requests to a broker are therefore
   * handed to its connection in drain order, or a partition's batches could
   * reach the broker out of order.
   */
  async #produce(node: number, batches: Array<[PartitionQueue, ProducerBatch]>): Promise<ProduceOutcome> {
    const encoding = Promise.all(batches.map(([, b]) => this.#encode(b)))
    encoding.catch(() => undefined)
    const previous = this.#writeTail.get(node)
    let handedOver!: () => void
    const mine = new Promise<void>((resolve) => (handedOver = resolve))
    this.#writeTail.set(node, mine)
    let response: Promise<ProduceOutcome>
    try {
      if (previous !== undefined) await previous
      const conn = await this.#cluster.connectionTo(node, 'default')
      response = this.#write(conn, batches, await encoding)
    } finally {
      handedOver()
      if (this.#writeTail.get(node) === mine) this.#writeTail.delete(node)
    }
    return response
  }

  /** Hands the request to the connection now (synchronously) and returns the answer to come. */
  #write(conn: Connection, batches: Array<[PartitionQueue, ProducerBatch]>, encoded: Buffer[]): Promise<ProduceOutcome> {
    const version = conn.pickVersion(produce, this.#tm.maxProduceVersion())
    const byTopic = new Map<string, Array<{ index: number; records: Buffer }>>()
    batches.forEach(([, b], i) => {
      let l = byTopic.get(b.topic)
      if (l === undefined) byTopic.set(b.topic, (l = []))
      l.push({ index: b.partition, records: encoded[i]! })
    })
    const topicData = [...byTopic].map(([name, partitionData]) =>
      version >= 13 ? { topicId: this.#cluster.topic(name)?.topicId ?? '', partitionData } : { name, partitionData },
    )
    let bytes = 0
    for (const e of encoded) bytes += e.length
    this.#metrics.requestSent(bytes)
    const body = {
      transactionalId: this.#tm.transactionalId,
      acks: this.#cfg.acks,
      timeoutMs: this.#cfg.requestTimeoutMs,
      topicData,
    }
    // The request is the batches plus a little: encode it in one allocation.
    let sizeHint = bytes + 64 + 3 * (this.#tm.transactionalId?.length ?? 0) + 32 * encoded.length
    for (const t of byTopic.keys()) sizeHint += 64 + 3 * t.length
    if (this.#cfg.acks === 0) {
      return conn.send(produce, body, { version, expectResponse: false, sizeHint }).then(() => 'no-response' as const)
    }
    return conn.send(produce, body, { version, timeoutMs: this.#cfg.requestTimeoutMs, sizeHint }).then((res) => {
      const out = new Map<string, PartitionResponse>()
      for (const t of res.responses) {
        const name = version >= 13 ? this.#cluster.topicNameById(t.topicId) ?? t.name : t.name
        for (const p of t.partitionResponses) out.set(`${name}\0${p.index}`, p)
      }
      return out
    })
  }

  /** A batch the broker has (proven by a later acknowledgement), whose offset we do not know. */
  #completeWritten(b: ProducerBatch): void {
    b.complete(-1n, null)
    this.#finish(b, Date.now() - b.createdAt)
  }

  #onBatchError(q: PartitionQueue, b: ProducerBatch, code: number, logStartOffset: bigint, err: KafkawireError): void {
    b.lastError = err
    const now = Date.now()
    if ((code === MESSAGE_TOO_LARGE || code === RECORD_LIST_TOO_LARGE) && b.recordCount > 1) {
      // The broker's limit (message.max.bytes) is below our batch: split it
      // and send the halves with the same sequence range.
      const [a, c] = b.split(now)
      q.requeue(c)
      q.requeue(a)
      if (q.sequences) {
        q.sequences.removeInFlight(b)
        if (a.hasSequence) {
          q.sequences.addInFlight(a)
          q.sequences.addInFlight(c)
        }
      }
      this.#acc.complete(b)
      this.#acc.incomplete.add(a)
      this.#acc.incomplete.add(c)
      this.#hooks.onRetry(b, err)
      return
    }
    if (code === MESSAGE_TOO_LARGE || code === RECORD_LIST_TOO_LARGE) {
      err = new RecordTooLargeError(`the record for ${b.topic}-${b.partition} is larger than the broker accepts (the topic's max.message.bytes / the broker's message.max.bytes)`, err.context, err)
    }
    const retriable = err.retriable || needsMetadataRefresh(err)
    const verdict = q.sequences ? this.#tm.onError(b, q.sequences, code, logStartOffset, retriable) : retriable ? 'retry' : 'fail'
    if (verdict === 'written') {
      this.#completeWritten(b)
      return
    }
    const inTime = now - b.createdAt < this.#cfg.deliveryTimeoutMs
    // A transaction being aborted (or that must be) does not retry: the
    // abort would wait for the retries, and their records are discarded anyway.
    const ending = this.#tm.isTransactional && this.#tm.state !== 'IN_TRANSACTION' && this.#tm.state !== 'COMMITTING'
    if (verdict === 'retry' && b.attempts <= this.#cfg.retries && inTime && !this.#stopped && !ending) {
      b.retryAt = now + backoffDelay(b.attempts - 1, this.#cfg.retryBackoff)
      q.requeue(b)
      this.#metrics.retried(b.recordCount)
      this.#hooks.onRetry(b, err)
      if (needsMetadataRefresh(err)) {
        q.awaitingMetadata = true
        this.#refreshMetadata()
      }
      return
    }
    if (verdict === 'retry' && !inTime) {
      err = new DeliveryTimeoutError(`${b.recordCount} record(s) for ${b.topic}-${b.partition} were not acknowledged within deliveryTimeoutMs (${this.#cfg.deliveryTimeoutMs}); last error: ${err.message}`, err.context, err)
    }
    if (FENCING_CODES.has(code) && this.#tm.isTransactional) {
      // As in the reference (InvalidProducerEpochException is abortable,
      // KIP-588): the epoch moved on, either because another producer with
      // the same transactional id took over or because the coordinator
      // aborted a transaction that outlived its timeout. Aborting tells which:
      // a fenced producer gets PRODUCER_FENCED (fatal) there.
      err = this.#tm.staleEpochError(err)
    }
    this.#giveUp(q, b, err)
  }

  #giveUp(q: PartitionQueue, b: ProducerBatch, err: KafkawireError): void {
    // A transaction that lost a record cannot commit, however the record was
    // lost (refused, retries exhausted, expired): it must be aborted.
    if (this.#tm.isTransactional) this.#tm.abortable(err)
    if (q.sequences) this.#tm.onGiveUp(b, q.sequences)
    b.fail(err)
    this.#pool.release(b.reserved)
    this.#acc.complete(b)
    this.#metrics.failed(b.recordCount, err)
    this.#hooks.onBatchFailed(b, err)
  }

  #finish(b: ProducerBatch, latency: number): void {
    this.#pool.release(b.reserved)
    this.#acc.complete(b)
    this.#metrics.batchDone(b.recordCount, b.sizeBytes, Date.now() - b.createdAt)
    this.#hooks.onBatchDone(b, latency)
  }

  #refreshMetadata(): void {
    if (this.#refreshing || this.#stopped) return
    this.#refreshing = true
    const topics = new Set<string>()
    for (const q of this.#acc.queues()) if (q.batches.length > 0) topics.add(q.topic)
    this.#cluster
      .refreshMetadata([...topics], { allowAutoTopicCreation: this.#cfg.allowAutoTopicCreation })
      .catch(() => undefined)
      .finally(() => {
        this.#refreshing = false
        // Leaders may still be missing (election in progress): look again soon.
        this.#wakeAt(Date.now() + 100)
        this.wake()
      })
  }

  /** Fails every batch not on the wire (fatal state, forced close, transaction abort). */
  failQueued(err: KafkawireError, filter: (b: ProducerBatch) => boolean = () => true): void {
    for (const q of this.#acc.queues()) {
      for (let i = 0; i < q.batches.length; ) {
        const b = q.batches[i]!
        if (!filter(b)) {
          i++
          continue
        }
        q.batches.splice(i, 1)
        this.#giveUp(q, b, err)
      }
    }
  }

  #failAll(err: KafkawireError): void {
    this.failQueued(err)
    this.#pool.failAll(err)
  }

  get lastInitError(): KafkawireError | null {
    return this.#initError
  }
}
