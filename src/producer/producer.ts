/**
 * The producer.
 *
 *   const producer = new Producer({ brokers: ['127.0.0.1:9092'] })
 *   const [meta] = await producer.send({ topic: 'orders', messages: [{ key: 'o-1', value: JSON.stringify(order) }] })
 *   await producer.close()
 *
 * Idempotence is on by default (acks=all): retries never duplicate or
 * reorder records within a partition. With a transactionalId the producer is
 * transactional: initTransactions(), then beginTransaction() / send() /
 * sendOffsetsToTransaction() / commitTransaction() or abortTransaction().
 */
import { EventEmitter } from 'node:events'
import { inspect } from 'node:util'
import { Cluster, type TopicInfo } from '../client/cluster.js'
import { abortReason, ClosedError, ConfigError } from '../client/errors.js'
import { BrokerError, KafkawireError } from '../protocol/errors.js'
import type { RecordHeaderInput, RecordInput } from '../protocol/records/index.js'
import { resolveSerializer, SerializationError, serializers, type SerdeContext, type SerializerFn, type SerializerSpec } from '../serde/index.js'
import { Accumulator, BufferPool } from './accumulator.js'
import { BATCH_OVERHEAD, recordSize, SendCall, type ProducerBatch, type RecordMetadata } from './batch.js'
import { CircuitBreaker, type CircuitState } from './circuit-breaker.js'
import { resolveProducerConfig, type ProducerOptions, type ResolvedProducerConfig } from './config.js'
import { ProduceError, RecordTooLargeError, TransactionAbortableError } from './errors.js'
import { ProducerMetrics, type ProducerMetricsSnapshot } from './metrics.js'
import { resolvePartitioner, type PartitionerFn, type PartitionerInput } from './partitioner.js'
import { Sender } from './sender.js'
import { TransactionManager, type GroupMetadataForTxn, type TxnOffset, type TxnState } from './transaction-manager.js'

export type HeaderValue = string | Buffer | null
/** Headers as a map (an array value repeats the key) or as an ordered list. */
export type MessageHeaders = Record<string, HeaderValue | HeaderValue[]> | ReadonlyArray<{ key: string; value: HeaderValue }>

export interface ProducerMessage<K = unknown, V = unknown> {
  key?: K | null
  value: V | null
  headers?: MessageHeaders
  /** Explicit partition; otherwise the partitioner decides. */
  partition?: number
  /** CreateTime in ms; default now. */
  timestamp?: number
}

export interface SendRequest<K = unknown, V = unknown> {
  topic: string
  messages: ReadonlyArray<ProducerMessage<K, V>>
  /** Serializers for this send, overriding the producer's. */
  serializers?: { key?: SerializerSpec<K>; value?: SerializerSpec<V> }
}

export interface SendOptions {
  signal?: AbortSignal
}

/** Events: 'batch' (BatchEvent), 'retry' (RetryEvent), 'failure' (FailureEvent), 'circuit' ({ from, to }), 'state' ({ from, to }). */
export interface BatchEvent {
  topic: string
  partition: number
  records: number
  bytes: number
  latencyMs: number
}
export interface RetryEvent {
  topic: string
  partition: number
  records: number
  attempt: number
  error: KafkawireError
}
export interface FailureEvent {
  topic: string
  partition: number
  records: number
  error: KafkawireError
}

const REQUEST_OVERHEAD = 256

/**
 * Access to a producer's parts for kafkawire's own tests (state that a real
 * broker cannot be made to reach, such as sequences near int32 max). Not
 * exported from the package entry point; not a public API.
 */
export const PRODUCER_INTERNALS: unique symbol = Symbol('kafkawire.producer.internals')

export interface ProducerInternals {
  cluster: Cluster
  config: ResolvedProducerConfig
  transactions: TransactionManager
  accumulator: Accumulator
  pool: BufferPool
  sender: Sender
}

export class Producer extends EventEmitter {
  readonly #cluster: Cluster
  readonly #cfg: ResolvedProducerConfig
  readonly #acc: Accumulator
  readonly #pool: BufferPool
  readonly #tm: TransactionManager
  readonly #sender: Sender
  readonly #metrics = new ProducerMetrics()
  readonly #breaker: CircuitBreaker | null
  readonly #partitioner: PartitionerFn
  /** The partitioner is one of ours (not the application's function). */
  readonly #builtinPartitioner: boolean
  readonly #keySerializer: SerializerFn
  readonly #valueSerializer: SerializerFn
  readonly #available = new WeakMap<TopicInfo, number[]>()
  #closed = false
  #closing: Promise<void> | null = null
  #connected: Promise<void> | null = null

  constructor(options: ProducerOptions) {
    super()
    this.#cfg = resolveProducerConfig(options)
    this.#cluster = new Cluster({ ...options, requestTimeoutMs: this.#cfg.requestTimeoutMs })
    this.#acc = new Accumulator(this.#cfg.batchSize)
    this.#pool = new BufferPool(this.#cfg.bufferMemory)
    this.#tm = new TransactionManager(this.#cluster, {
      transactionalId: this.#cfg.transactionalId,
      transactionTimeoutMs: this.#cfg.transactionTimeoutMs,
      timeoutMs: this.#cfg.maxBlockMs,
    })
    this.#tm.onStateChange = (from, to) => this.emit('state', { from, to })
    this.#partitioner = resolvePartitioner(options.partitioner, this.#cfg.batchSize)
    this.#builtinPartitioner = typeof options.partitioner !== 'function'
    this.#keySerializer = resolveSerializer(options.serializers?.key)
    this.#valueSerializer = resolveSerializer(options.serializers?.value)
    this.#breaker = this.#cfg.circuitBreaker ? new CircuitBreaker(this.#cfg.circuitBreaker) : null
    if (this.#breaker) {
      this.#breaker.onTransition = (from, to) => {
        if (to === 'open') this.#metrics.circuitBreakerTrips++
        this.emit('circuit', { from, to })
      }
    }
    this.#sender = new Sender(this.#cluster, this.#acc, this.#pool, this.#tm, this.#cfg, this.#metrics, {
      onBatchDone: (b, latencyMs) => {
        if (this.listenerCount('batch') > 0) this.emit('batch', { topic: b.topic, partition: b.partition, records: b.recordCount, bytes: b.sizeBytes, latencyMs } satisfies BatchEvent)
      },
      onBatchFailed: (b, error) => {
        if (this.listenerCount('failure') > 0) this.emit('failure', { topic: b.topic, partition: b.partition, records: b.recordCount, error } satisfies FailureEvent)
      },
      onRetry: (b, error) => {
        if (this.listenerCount('retry') > 0) this.emit('retry', { topic: b.topic, partition: b.partition, records: b.recordCount, attempt: b.attempts, error } satisfies RetryEvent)
      },
    })
  }

  get [PRODUCER_INTERNALS](): ProducerInternals {
    return { cluster: this.#cluster, config: this.#cfg, transactions: this.#tm, accumulator: this.#acc, pool: this.#pool, sender: this.#sender }
  }

  /** The transaction state machine's current state (see TransactionManager). */
  get transactionState(): TxnState {
    return this.#tm.state
  }

  get circuitState(): CircuitState | null {
    return this.#breaker?.state ?? null
  }

  /** Connects to the cluster (and gets a producer id when idempotent). send() does this on first use. */
  connect(): Promise<void> {
    this.#checkOpen()
    this.#connected ??= (async () => {
      await this.#cluster.connect()
      if (this.#cfg.idempotent && !this.#tm.isTransactional) await this.#tm.initialize()
    })().catch((err: unknown) => {
      this.#connected = null
      throw err
    })
    return this.#connected
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError('the producer is closed')
  }

  /**
   * Sends records to one topic (or several: pass an array of requests) and
   * resolves with one RecordMetadata per record, in order. If any record
   * fails, rejects with a ProduceError whose `results` hold each record's
   * metadata or typed error.
   */
  async send(request: SendRequest | ReadonlyArray<SendRequest>, options: SendOptions = {}): Promise<RecordMetadata[]> {
    this.#checkOpen()
    this.#tm.checkCanSend()
    const trial = this.#breaker?.admit() ?? false
    try {
      const results = await this.#send(Array.isArray(request) ? request : [request as SendRequest], options)
      this.#breaker?.success()
      return results
    } catch (err) {
      if (this.#breaker && err instanceof KafkawireError && countsAgainstBreaker(err)) this.#breaker.failure(err, trial)
      else if (trial) this.#breaker?.success()
      throw err
    }
  }

  async #send(requests: readonly SendRequest[], options: SendOptions): Promise<RecordMetadata[]> {
    const signal = options.signal
    if (signal?.aborted) throw abortReason(signal)
    if (this.#connected === null) await this.connect()
    else await this.#connected

    let total = 0
    const topics: string[] = []
    for (const r of requests) {
      if (typeof r.topic !== 'string' || r.topic === '') throw new ConfigError('send() needs a topic name')
      if (!Array.isArray(r.messages)) throw new ConfigError(`send() to ${r.topic} needs a messages array`)
      total += r.messages.length
      if (!topics.includes(r.topic)) topics.push(r.topic)
    }
    if (total === 0) return []
    const infos = await this.#topics(topics, signal)

    // Serialize, partition and size every record before reserving memory.
    // The per-record loops live in plain synchronous methods: inside this
    // async function V8 compiled them on-stack and threw that code away
    // again on every call (--trace-deopt: "exit from OSR'd inner loop").
    const now = Date.now()
    const prepared = new PreparedRecords(total)
    let pending!: SendCall
    const call = new Promise<Array<RecordMetadata | KafkawireError>>((resolve) => {
      pending = new SendCall(total, resolve)
    })
    const reserve = this.#prepare(requests, infos, now, prepared, pending)
    if (reserve > 0) {
      const wait = this.#pool.reserve(reserve, this.#cfg.maxBlockMs)
      if (wait !== null) {
        try {
          await wait
        } catch (err) {
          for (let k = 0; k < total; k++) if (prepared.targets[k]! >= 0) pending.settle(k, err as KafkawireError, true)
          return this.#finishCall(await call)
        }
      }
      try {
        this.#checkOpen()
        // The transaction may have moved on while this call waited for
        // metadata or memory (commitTransaction() started, an abortable
        // error): records must not slip into a transaction being committed.
        this.#tm.checkCanSend()
      } catch (err) {
        this.#pool.release(reserve)
        throw err
      }
      this.#append(prepared, pending, now)
      // One wake per send() call (coalesced): the sender sends full batches
      // now and arms the linger timer for the rest.
      this.#sender.wake()
    }
    return this.#finishCall(await call)
  }

  /**
   * Serializes, partitions and sizes every record of a send() call into
   * `prepared`; a record that cannot be sent is settled with its error at
   * once. Returns the bytes to reserve.
   */
  #prepare(requests: readonly SendRequest[], infos: Map<string, TopicInfo>, now: number, prepared: PreparedRecords, pending: SendCall): number {
    let reserve = 0
    let first = 0
    for (const r of requests) {
      reserve += this.#prepareTopic(r, infos.get(r.topic)!, now, prepared, pending, first)
      first += r.messages.length
    }
    return reserve
  }

  /** #prepare for one topic's records, from index `first` on (its own function: its loop is then the outermost). */
  #prepareTopic(r: SendRequest, info: TopicInfo, now: number, prepared: PreparedRecords, pending: SendCall, first: number): number {
    let reserve = 0
    let i = first
    const keyS = r.serializers?.key ? resolveSerializer(r.serializers.key) : this.#keySerializer
    const valueS = r.serializers?.value ? resolveSerializer(r.serializers.value) : this.#valueSerializer
    const partitionCount = info.partitions.length
    const available = this.#availablePartitions(info)
    // The raw serializer returns a Buffer as is: skip the call (and its context object) for Buffers.
    const rawKey = keyS === serializers.raw
    const rawValue = valueS === serializers.raw
    // Built-in partitioners keep nothing of their input: one object serves every record.
    const input: PartitionerInput | null = this.#builtinPartitioner ? { topic: r.topic, key: null, size: 0, partitionCount, availablePartitions: available } : null
    for (const m of r.messages) {
      const idx = i++
      prepared.topicOf[idx] = r.topic
      prepared.targets[idx] = -1
      try {
        const headers = normalizeHeaders(m.headers)
        const mk = m.key
        const key = mk === undefined || mk === null ? null : rawKey && Buffer.isBuffer(mk) ? mk : keyS(mk, { topic: r.topic, part: 'key', headers } satisfies SerdeContext)
        const mv = m.value
        const value = mv === undefined || mv === null ? null : rawValue && Buffer.isBuffer(mv) ? mv : valueS(mv, { topic: r.topic, part: 'value', headers } satisfies SerdeContext)
        const timestamp = m.timestamp ?? now
        if (!Number.isSafeInteger(timestamp)) throw new ConfigError(`timestamp must be an integer number of ms, got ${String(m.timestamp)}`, { topic: r.topic })
        const size = recordSize(0, 0, key, value, headers)
        if (BATCH_OVERHEAD + size + REQUEST_OVERHEAD > this.#cfg.maxRequestSize) {
          throw new RecordTooLargeError(
            `the record is ${size + BATCH_OVERHEAD} bytes when serialized, more than maxRequestSize (${this.#cfg.maxRequestSize}) allows`,
            { topic: r.topic },
          )
        }
        let partition: number
        if (m.partition !== undefined && m.partition !== null) {
          partition = m.partition
          if (!Number.isInteger(partition) || partition < 0 || partition >= partitionCount) {
            throw new BrokerError(3, { topic: r.topic, partition }, `partition ${partition} does not exist; ${r.topic} has ${partitionCount} partition(s)`)
          }
        } else {
          if (input !== null) {
            input.key = key
            input.size = size
            partition = this.#partitioner(input)
          } else partition = this.#partitioner({ topic: r.topic, key, size, partitionCount, availablePartitions: available })
          if (!Number.isInteger(partition) || partition < 0 || partition >= partitionCount) {
            throw new ConfigError(`the partitioner returned partition ${partition} for ${r.topic}, which has ${partitionCount}`, { topic: r.topic })
          }
        }
        prepared.records[idx] = { key, value, headers, timestamp }
        prepared.targets[idx] = partition
        prepared.sizes[idx] = size
        reserve += size
      } catch (err) {
        const e = err instanceof KafkawireError ? err : new SerializationError(String(err), { topic: r.topic }, err)
        pending.settle(idx, e, true)
      }
    }
    return reserve
  }

  /** Appends the prepared records to their partitions' batches. */
  #append(prepared: PreparedRecords, pending: SendCall, now: number): void {
    const txn = this.#tm.isTransactional
    const { targets, topicOf, records, sizes } = prepared
    for (let k = 0; k < targets.length; k++) {
      const p = targets[k]!
      if (p < 0) continue
      const topic = topicOf[k]!
      const q = this.#acc.queue(topic, p)
      if (txn) this.#tm.maybeAddPartition(topic, p)
      this.#acc.append(q, records[k]!, pending, k, now, sizes[k]!)
    }
  }

  #finishCall(results: Array<RecordMetadata | KafkawireError>): RecordMetadata[] {
    for (const r of results) if (r instanceof KafkawireError) throw new ProduceError(results)
    return results as RecordMetadata[]
  }

  /**
   * Topic metadata, fetched (and auto-created when allowed) within maxBlockMs.
   * A topic is usable once its partitions are known; partitions without a
   * leader right now (an election, a broker down) do not hold up records for
   * the others: their own records wait in the accumulator (up to
   * deliveryTimeoutMs), as the reference's waitOnMetadata does.
   */
  async #topics(topics: string[], signal?: AbortSignal): Promise<Map<string, TopicInfo>> {
    const out = new Map<string, TopicInfo>()
    const known = (t: string): TopicInfo | undefined => {
      const info = this.#cluster.topic(t)
      return info !== undefined && info.partitions.length > 0 ? info : undefined
    }
    let missing: string[] = []
    for (const t of topics) {
      const info = known(t)
      if (info !== undefined) out.set(t, info)
      else missing.push(t)
    }
    if (missing.length === 0) return out
    this.#cluster.watchTopics(missing)
    await this.#cluster.withRetry(
      `metadata for ${missing.join(', ')}`,
      async () => {
        await this.#cluster.refreshMetadata(missing, {
          allowAutoTopicCreation: this.#cfg.allowAutoTopicCreation,
          ...(signal ? { signal } : {}),
        })
        const still: string[] = []
        for (const t of missing) {
          const info = known(t)
          if (info !== undefined) out.set(t, info)
          else still.push(t)
        }
        missing = still
        // UNKNOWN_TOPIC_OR_PARTITION (retriable): not created yet, or not visible to this broker yet.
        if (still.length > 0) throw new BrokerError(3, { topic: still[0]! })
      },
      { timeoutMs: this.#cfg.maxBlockMs, ...(signal ? { signal } : {}) },
    )
    return out
  }

  #availablePartitions(info: TopicInfo): number[] {
    let a = this.#available.get(info)
    if (a === undefined) {
      a = info.partitions.filter((p) => p.leader >= 0).map((p) => p.partition)
      this.#available.set(info, a)
    }
    return a
  }

  /** Sends everything buffered now and waits until it is acknowledged or failed. */
  async flush(options: { timeoutMs?: number } = {}): Promise<void> {
    const batches = [...this.#acc.incomplete]
    if (batches.length === 0) return
    this.#sender.beginFlush()
    try {
      const all = Promise.all(batches.map((b) => b.done))
      if (options.timeoutMs === undefined) await all
      else {
        let timer: NodeJS.Timeout | undefined
        const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), options.timeoutMs)))
        const r = await Promise.race([all, timeout])
        clearTimeout(timer)
        if (r === 'timeout') throw new KafkawireError('FLUSH_TIMEOUT', `flush did not finish within ${options.timeoutMs} ms; ${this.#acc.size} batch(es) pending`, { retriable: true })
      }
    } finally {
      this.#sender.endFlush()
    }
  }

  // ---- transactions -------------------------------------------------------------

  /** Registers the transactional id with its coordinator and fences older producers using it. */
  async initTransactions(): Promise<void> {
    this.#checkOpen()
    if (!this.#tm.isTransactional) throw new ConfigError('initTransactions() needs a transactionalId')
    await this.connect()
    await this.#tm.initialize()
  }

  beginTransaction(): void {
    this.#checkOpen()
    this.#tm.beginTransaction()
  }

  /**
   * Adds a consumer group's offsets to the transaction, so they commit or
   * abort with the records (consume-transform-produce). Pass the consumer's
   * group metadata so the coordinator can fence zombie members (KIP-447).
   */
  async sendOffsetsToTransaction(offsets: readonly TxnOffset[], group: GroupMetadataForTxn | string): Promise<void> {
    this.#checkOpen()
    await this.#tm.sendOffsets(offsets, typeof group === 'string' ? { groupId: group } : group)
  }

  /** Flushes, then commits. On an abortable error, rejects with TransactionAbortableError: call abortTransaction(). */
  async commitTransaction(): Promise<void> {
    this.#checkOpen()
    this.#tm.beginCommit()
    await this.flush()
    if (this.#tm.state === 'ABORTABLE_ERROR') {
      const e = this.#tm.lastError
      throw e instanceof TransactionAbortableError ? e : new TransactionAbortableError(`cannot commit: ${e?.message ?? 'a send failed'}`, {}, e)
    }
    if (this.#tm.state === 'FATAL_ERROR') throw this.#tm.lastError ?? new ClosedError('fatal')
    await this.#tm.endTransaction(true)
  }

  /** Drops unsent records of the transaction, waits for those in flight, then aborts it. */
  async abortTransaction(): Promise<void> {
    this.#checkOpen()
    this.#tm.beginAbort()
    this.#sender.failQueued(new TransactionAbortableError('the transaction was aborted before this record was sent'))
    const inFlight = [...this.#acc.incomplete].map((b) => b.done)
    await Promise.all(inFlight)
    await this.#tm.endTransaction(false)
  }

  // ---- lifecycle ------------------------------------------------------------------

  /** A snapshot of the producer's metrics. */
  metrics(): ProducerMetricsSnapshot {
    return this.#metrics.snapshot({
      requestsInFlight: this.#sender.inFlightRequests,
      bufferUsedBytes: this.#pool.used,
      bufferLimitBytes: this.#pool.limit,
    })
  }

  /**
   * Sends what is buffered (waiting up to `timeoutMs`, default 30 s), fails
   * whatever is left, and releases every connection.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(options.timeoutMs ?? 30_000)
    return this.#closing
  }

  async #close(timeoutMs: number): Promise<void> {
    this.#sender.beginClose()
    try {
      await this.flush({ timeoutMs })
    } catch {
      // Whatever did not make it fails below.
    }
    this.#closed = true
    const closed = new ClosedError('the producer was closed before the record was acknowledged')
    this.#sender.failQueued(closed)
    this.#pool.failAll(closed)
    this.#sender.stop()
    if (this.#acc.size > 0) {
      this.#cluster.destroy()
      for (const b of [...this.#acc.incomplete]) failBatch(b, closed)
    } else await this.#cluster.close()
  }

  [inspect.custom](): string {
    return `Producer { ${this.#cfg.transactionalId ? `transactional ${this.#cfg.transactionalId}, ${this.#tm.state}` : this.#cfg.idempotent ? 'idempotent' : `acks ${this.#cfg.acks}`}, ${this.#acc.size} batch(es) pending${this.#closed ? ', closed' : ''} }`
  }
}

function failBatch(b: ProducerBatch, err: KafkawireError): void {
  b.fail(err)
}

/** Errors that say the cluster is unhealthy (not that the input was bad). */
function countsAgainstBreaker(err: KafkawireError): boolean {
  if (err instanceof ProduceError) return err.errors.some(countsAgainstBreaker)
  return err.retriable || err.code === 'DEADLINE_EXCEEDED' || err.code === 'DELIVERY_TIMEOUT'
}

function headerBuffer(v: HeaderValue): Buffer | null {
  if (v === null || v === undefined) return null
  if (Buffer.isBuffer(v)) return v
  if (typeof v === 'string') return Buffer.from(v, 'utf8')
  throw new SerializationError(`header values must be strings, Buffers or null, got ${typeof v}`)
}

const NO_HEADERS: RecordHeaderInput[] = []

function normalizeHeaders(h: MessageHeaders | undefined): RecordHeaderInput[] {
  if (h === undefined || h === null) return NO_HEADERS
  if (Array.isArray(h)) return h.map((x) => ({ key: String(x.key), value: headerBuffer(x.value) }))
  const out: RecordHeaderInput[] = []
  for (const key of Object.keys(h)) {
    const v = (h as Record<string, HeaderValue | HeaderValue[]>)[key]!
    if (Array.isArray(v)) for (const x of v) out.push({ key, value: headerBuffer(x) })
    else out.push({ key, value: headerBuffer(v) })
  }
  return out
}

/** One send() call's records after serialization, partitioning and sizing (partition -1: failed already). */
class PreparedRecords {
  readonly records: RecordInput[]
  readonly targets: Int32Array
  readonly sizes: Float64Array
  readonly topicOf: string[]

  constructor(total: number) {
    this.records = new Array<RecordInput>(total)
    this.targets = new Int32Array(total)
    this.sizes = new Float64Array(total)
    this.topicOf = new Array<string>(total)
  }
}
