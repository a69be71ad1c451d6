/**
 * The consumer.
 *
 *   const consumer = new Consumer({ brokers: ['127.0.0.1:9092'], groupId: 'billing' })
 *   consumer.subscribe(['orders'])
 *   for await (const message of consumer) handle(message)
 *
 * or, with per-partition ordering and several partitions in parallel:
 *
 *   await consumer.run({ partitionsConcurrency: 4, eachMessage: async ({ message }) => handle(message) })
 *
 * Offsets: only offsets of processed messages are committed (a message is
 * processed when eachMessage resolves, or when the iterator is asked for the
 * next message). Commits never target partitions the member does not own,
 * and pending offsets are committed before a revocation completes.
 */
import { EventEmitter } from 'node:events'
import { inspect } from 'node:util'
import { Cluster } from '../client/cluster.js'
import { abortReason, ClosedError, ConfigError } from '../client/errors.js'
import type { ClientConfig } from '../client/index.js'
import { KafkawireError } from '../protocol/errors.js'
import type { KafkaRecord, RecordHeader } from '../protocol/records/index.js'
import { Producer } from '../producer/producer.js'
import { deserializers, resolveDeserializer, SerializationError, type DeserializerFn, type DeserializerSpec } from '../serde/index.js'
import { CommitFailedError } from './errors.js'
import { Fetcher, listOffsetsFor, type FetchedChunk, type OffsetResetPolicy, type TopicPartition } from './fetcher.js'
import { resolveAssignors, type Assignor, type AssignorName } from './group/assignors.js'
import { ClassicMember } from './group/classic-member.js'
import { ConsumerMember } from './group/consumer-member.js'
import { tpKey, type GroupMember, type MembershipHooks } from './group/membership.js'
import { commitOffsets, fetchCommittedOffsets, isMembershipLost, type CommittedOffset, type MemberIdentity, type OffsetToCommit } from './offsets.js'

export interface ConsumerMessage<K = Buffer | null, V = Buffer | null> {
  topic: string
  partition: number
  offset: bigint
  timestamp: number
  key: K
  value: V
  /** Records without headers share one frozen empty array: copy before changing. */
  headers: readonly RecordHeader[]
  /** Leader epoch of the batch (KIP-320), -1 for old formats. */
  leaderEpoch: number
}

export type CommitStrategy = 'auto' | 'manual' | 'checkpoint'

export interface RebalanceListeners {
  onAssigned?(partitions: TopicPartition[]): void | Promise<void>
  /** Partitions are leaving; their processed offsets are committed after this returns (auto and checkpoint strategies). */
  onRevoked?(partitions: TopicPartition[]): void | Promise<void>
  /** Ownership already ended (fenced, session expired): do not commit for these. */
  onLost?(partitions: TopicPartition[]): void | Promise<void>
}

export interface DeadLetterOptions {
  /** Topic that receives records that fail to deserialize. */
  topic: string
  /** Producer to write with; default: one the consumer creates with its connection settings. */
  producer?: Pick<Producer, 'send' | 'close'>
}

export interface ConsumerOptions<K = Buffer | null, V = Buffer | null> extends ClientConfig {
  /** Consumer group; without it only manual assign() works and nothing is committed. */
  groupId?: string
  /** Static membership (KIP-345): a restart within the session timeout causes no rebalance. */
  groupInstanceId?: string
  /** 'classic' (JoinGroup/SyncGroup) or 'consumer' (KIP-848). Default 'classic'. */
  groupProtocol?: 'classic' | 'consumer'
  /** Classic protocol assignors, in preference order. Default ['cooperative-sticky']. */
  assignors?: Array<AssignorName | Assignor>
  /** KIP-848 server-side assignor ('uniform' or 'range'); default: the broker's choice. */
  serverAssignor?: string
  /** Classic protocol session timeout. Default 45 s. */
  sessionTimeoutMs?: number
  /** Classic protocol heartbeat interval. Default 3 s. */
  heartbeatIntervalMs?: number
  /** Longest a message (or batch) may take to process before the member leaves the group. Default 5 min. */
  maxProcessingIntervalMs?: number
  /** Default 'auto'. */
  commitStrategy?: CommitStrategy
  /** Default 5 s. */
  autoCommitIntervalMs?: number
  /** Where to start without a committed offset. Default 'latest'. */
  autoOffsetReset?: OffsetResetPolicy
  /** Default 'read_uncommitted'. */
  isolationLevel?: 'read_committed' | 'read_uncommitted'
  minBytes?: number
  /** Per fetch request. Default 50 MiB (the reference's fetch.max.bytes). */
  maxBytes?: number
  /** Per partition per fetch. Default 1 MiB. */
  maxPartitionBytes?: number
  maxWaitMs?: number
  /** Budget for prefetched, decompressed record bytes. Default 64 MiB. */
  maxBufferedBytes?: number
  /** Fetch from the closest replica (KIP-392). */
  rackId?: string
  /** Verify record batch CRCs. Default true. */
  checkCrcs?: boolean
  /** Incremental fetch sessions (KIP-227). Default true. */
  fetchSessions?: boolean
  deserializers?: { key?: DeserializerSpec<K>; value?: DeserializerSpec<V> }
  /** Called for a record that fails to deserialize; the record is then skipped (after the dead-letter topic, if any). */
  onDeserializationError?: (error: SerializationError, record: ConsumerMessage) => void | Promise<void>
  deadLetter?: DeadLetterOptions
  listeners?: RebalanceListeners
}

export interface EachMessagePayload<K, V> {
  topic: string
  partition: number
  message: ConsumerMessage<K, V>
}

export interface Batch<K, V> {
  topic: string
  partition: number
  messages: Array<ConsumerMessage<K, V>>
  highWatermark: bigint
  firstOffset: bigint | null
  lastOffset: bigint | null
}

export interface EachBatchPayload<K, V> {
  batch: Batch<K, V>
  /** Marks everything up to and including `offset` as processed. */
  resolveOffset(offset: bigint): void
  isRunning(): boolean
  /** True once the partition was revoked while the batch was processed: stop early. */
  isStale(): boolean
}

export interface RunOptions<K, V> {
  eachMessage?: (payload: EachMessagePayload<K, V>) => Promise<void> | void
  eachBatch?: (payload: EachBatchPayload<K, V>) => Promise<void> | void
  /** Partitions processed in parallel (each partition stays in order). Default 1. */
  partitionsConcurrency?: number
  /** With eachBatch: mark the whole batch processed when it resolves. Default true. */
  eachBatchAutoResolve?: boolean
  signal?: AbortSignal
}

export interface PartitionLag extends TopicPartition {
  position: bigint
  /** High watermark (read_uncommitted) or last stable offset (read_committed). */
  endOffset: bigint
  lag: bigint
}

export interface ConsumerMetricsSnapshot {
  recordsConsumed: number
  bytesConsumed: number
  rebalances: number
  commits: number
  commitFailures: number
  deadLettered: number
  bufferedBytes: number
  assignedPartitions: number
  maxLag: bigint
  lastError: { code: string; message: string; at: number } | null
}

type Mode = 'idle' | 'iterator' | 'run'

interface Processed {
  offset: bigint
  leaderEpoch: number
}

export class Consumer<K = Buffer | null, V = Buffer | null> extends EventEmitter {
  readonly #cluster: Cluster
  readonly #fetcher: Fetcher
  readonly #o: ConsumerOptions<K, V>
  readonly #groupId: string | null
  readonly #strategy: CommitStrategy
  readonly #keyDeser: DeserializerFn
  readonly #valueDeser: DeserializerFn
  readonly #maxProcessing: number
  #member: GroupMember | null = null
  #subscription: string[] | RegExp | null = null
  #resolvedTopics: string[] = []
  #manual = false
  #owned = new Map<string, TopicPartition>()
  /** Next offset to commit per partition (processed + 1). */
  #processed = new Map<string, Processed>()
  #committed = new Map<string, bigint>()
  /** Partitions being processed right now, with a waiter list for revocation. */
  #busy = new Map<string, Array<() => void>>()
  #mode: Mode = 'idle'
  #started = false
  #closed = false
  #closing: Promise<void> | null = null
  #dataWaiters: Array<() => void> = []
  #fatal: KafkawireError | null = null
  #lastProgress = Date.now()
  #inProgress = 0
  #stalled = false
  #timers: NodeJS.Timeout[] = []
  #dlqProducer: Pick<Producer, 'send' | 'close'> | null = null
  #ownDlqProducer = false
  #metrics = { recordsConsumed: 0, bytesConsumed: 0, rebalances: 0, commits: 0, commitFailures: 0, deadLettered: 0, lastError: null as ConsumerMetricsSnapshot['lastError'] }
  #partitionCounts = new Map<string, number>()
  #commitChain: Promise<void> = Promise.resolve()

  constructor(options: ConsumerOptions<K, V>) {
    super()
    this.#o = options
    this.#groupId = options.groupId ?? null
    this.#strategy = options.commitStrategy ?? 'auto'
    if (!['auto', 'manual', 'checkpoint'].includes(this.#strategy)) throw new ConfigError(`commitStrategy must be 'auto', 'manual' or 'checkpoint', got ${String(this.#strategy)}`)
    if (options.groupInstanceId !== undefined && this.#groupId === null) throw new ConfigError('groupInstanceId needs a groupId')
    this.#maxProcessing = options.maxProcessingIntervalMs ?? 300_000
    this.#keyDeser = resolveDeserializer(options.deserializers?.key as DeserializerSpec | undefined)
    this.#valueDeser = resolveDeserializer(options.deserializers?.value as DeserializerSpec | undefined)
    this.#cluster = new Cluster(options)
    const isolation = options.isolationLevel ?? 'read_uncommitted'
    if (isolation !== 'read_committed' && isolation !== 'read_uncommitted') throw new ConfigError(`isolationLevel must be 'read_committed' or 'read_uncommitted', got ${String(isolation)}`)
    this.#fetcher = new Fetcher(
      this.#cluster,
      {
        isolationLevel: isolation === 'read_committed' ? 1 : 0,
        minBytes: options.minBytes ?? 1,
        maxBytes: options.maxBytes ?? 50 * 1024 * 1024,
        maxPartitionBytes: options.maxPartitionBytes ?? 1024 * 1024,
        maxWaitMs: options.maxWaitMs ?? 500,
        maxBufferedBytes: options.maxBufferedBytes ?? 64 * 1024 * 1024,
        rackId: options.rackId ?? null,
        autoOffsetReset: options.autoOffsetReset ?? 'latest',
        verifyCrc: options.checkCrcs ?? true,
        maxDecompressedBytes: undefined,
        fetchSessions: options.fetchSessions ?? true,
        requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      },
      {
        onData: () => this.#notify(),
        onError: (err) => {
          this.#metrics.lastError = { code: err.code, message: err.message, at: Date.now() }
          this.#notify()
        },
        onTruncation: (tp, from, to) => {
          // The log ends before what was consumed: the next commit must not point past it.
          const p = this.#processed.get(tpKey(tp))
          if (p !== undefined && p.offset > to) this.#processed.set(tpKey(tp), { offset: to, leaderEpoch: -1 })
          this.emit('truncation', { ...tp, from, to })
        },
        onReset: (tp, offset) => {
          // A group that consumed nothing from a partition (reset to latest on an empty one) still
          // commits where it stands, so a restart does not reset again past records written meanwhile.
          if (this.#owned.has(tpKey(tp))) this.#processed.set(tpKey(tp), { offset, leaderEpoch: -1 })
        },
      },
    )
    if (options.deadLetter) {
      if (typeof options.deadLetter.topic !== 'string' || options.deadLetter.topic === '') throw new ConfigError('deadLetter.topic must be a topic name')
      this.#dlqProducer = options.deadLetter.producer ?? null
    }
  }

  // ---- subscription ----------------------------------------------------------------

  /** Subscribes to topics (a list, or a pattern matched against the cluster's topics) through the group. */
  subscribe(topics: string[] | string | RegExp): void {
    this.#checkOpen()
    if (this.#groupId === null) throw new ConfigError('subscribe() needs a groupId; use assign() without a group')
    if (this.#manual) throw new ConfigError('cannot subscribe() after assign()')
    this.#subscription = typeof topics === 'string' ? [topics] : topics instanceof RegExp ? topics : [...topics]
    if (Array.isArray(this.#subscription) && this.#subscription.length === 0) throw new ConfigError('subscribe() needs at least one topic')
    this.#member?.requestRejoin('subscription changed')
  }

  /** Consumes exactly these partitions, without group management. */
  assign(partitions: TopicPartition[]): void {
    this.#checkOpen()
    if (this.#subscription !== null) throw new ConfigError('cannot assign() after subscribe()')
    this.#manual = true
    const next = new Map(partitions.map((tp) => [tpKey(tp), { topic: tp.topic, partition: tp.partition }]))
    const removed = [...this.#owned.values()].filter((tp) => !next.has(tpKey(tp)))
    const added = [...next.values()].filter((tp) => !this.#owned.has(tpKey(tp)))
    this.#fetcher.remove(removed)
    for (const tp of removed) {
      this.#owned.delete(tpKey(tp))
      this.#processed.delete(tpKey(tp))
      this.#committed.delete(tpKey(tp))
      this.#userPaused.delete(tpKey(tp))
    }
    for (const tp of added) this.#owned.set(tpKey(tp), tp)
    // Known to the fetcher at once, so seek() works before consuming starts;
    // positions not set by then come from committed offsets or the reset policy.
    this.#fetcher.add(added)
    if (this.#started) {
      void this.#initPositions(added).catch((err: unknown) => {
        this.#metrics.lastError = { code: (err as KafkawireError).code ?? 'ERROR', message: (err as Error).message, at: Date.now() }
      })
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError('the consumer is closed')
  }

  /** Topics currently subscribed (a pattern resolved against cluster metadata). */
  #subscribedTopics(): string[] {
    if (this.#subscription === null) return []
    if (Array.isArray(this.#subscription)) return this.#subscription
    return this.#resolvedTopics
  }

  async #resolvePattern(): Promise<boolean> {
    if (!(this.#subscription instanceof RegExp)) return false
    await this.#cluster.refreshMetadata('all')
    const re = this.#subscription
    const topics = this.#cluster.knownTopics.filter((t) => !this.#cluster.topic(t)!.isInternal && re.test(t)).sort()
    const changed = topics.join('\0') !== this.#resolvedTopics.join('\0')
    this.#resolvedTopics = topics
    return changed
  }

  // ---- lifecycle ---------------------------------------------------------------------

  async #start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    await this.#cluster.connect()
    await this.#resolvePattern()
    this.#fetcher.start()
    if (this.#groupId !== null && this.#subscription !== null) {
      this.#member = this.#makeMember()
      this.#member.start()
      const interval = Math.max(1000, Math.min(this.#o.metadataMaxAgeMs ?? 300_000, 30_000))
      this.#timers.push(setInterval(() => void this.#checkSubscription(), interval))
    } else if (this.#manual) {
      await this.#initPositions([...this.#owned.values()])
    }
    if (this.#groupId !== null && this.#strategy === 'auto') {
      this.#timers.push(setInterval(() => void this.#commitProcessed().catch(() => undefined), this.#o.autoCommitIntervalMs ?? 5000))
    }
    this.#timers.push(setInterval(() => this.#checkStall(), Math.max(100, Math.min(1000, this.#maxProcessing / 4))))
    for (const t of this.#timers) t.unref()
  }

  #makeMember(): GroupMember {
    const hooks: MembershipHooks = {
      subscribedTopics: () => this.#subscribedTopics(),
      owned: () => [...this.#owned.values()],
      revoke: (tps, lost) => this.#revoke(tps, lost),
      assign: (tps) => this.#assigned(tps),
      fatal: (err) => {
        this.#fatal = err
        this.#notify()
      },
    }
    const log = this.#o.log ? (level: 'debug' | 'info' | 'warn' | 'error', m: string) => this.#o.log!(level, m) : undefined
    if ((this.#o.groupProtocol ?? 'classic') === 'consumer') {
      return new ConsumerMember(
        this.#cluster,
        {
          groupId: this.#groupId!,
          groupInstanceId: this.#o.groupInstanceId ?? null,
          rebalanceTimeoutMs: this.#maxProcessing,
          rackId: this.#o.rackId ?? null,
          serverAssignor: this.#o.serverAssignor ?? null,
          ...(log ? { log } : {}),
        },
        hooks,
      )
    }
    return new ClassicMember(
      this.#cluster,
      {
        groupId: this.#groupId!,
        groupInstanceId: this.#o.groupInstanceId ?? null,
        sessionTimeoutMs: this.#o.sessionTimeoutMs ?? 45_000,
        rebalanceTimeoutMs: this.#maxProcessing,
        heartbeatIntervalMs: this.#o.heartbeatIntervalMs ?? 3000,
        assignors: resolveAssignors(this.#o.assignors),
        rackId: this.#o.rackId ?? null,
        ...(log ? { log } : {}),
      },
      hooks,
    )
  }

  /** Rejoins when a pattern matches new topics or a subscribed topic gained partitions. */
  async #checkSubscription(): Promise<void> {
    if (this.#closed || this.#member === null) return
    try {
      let changed = await this.#resolvePattern()
      const topics = this.#subscribedTopics()
      if (!(this.#subscription instanceof RegExp)) await this.#cluster.refreshMetadata(topics)
      for (const t of topics) {
        const n = this.#cluster.topic(t)?.partitions.length ?? 0
        if (this.#partitionCounts.has(t) && this.#partitionCounts.get(t) !== n) changed = true
        this.#partitionCounts.set(t, n)
      }
      if (changed) this.#member.requestRejoin('subscribed topics or partition counts changed')
    } catch {
      // The next check tries again.
    }
  }

  async #assigned(tps: TopicPartition[]): Promise<void> {
    this.#metrics.rebalances++
    for (const tp of tps) {
      this.#owned.set(tpKey(tp), tp)
      this.#partitionCounts.set(tp.topic, this.#cluster.topic(tp.topic)?.partitions.length ?? 0)
    }
    await this.#initPositions(tps)
    await this.#o.listeners?.onAssigned?.(tps)
    this.emit('assigned', tps)
  }

  /** Positions from committed offsets; partitions without one follow autoOffsetReset. */
  async #initPositions(all: TopicPartition[]): Promise<void> {
    this.#fetcher.add(all)
    // A position the application set already (seek() after assign()) stays.
    const tps = all.filter((tp) => {
      const st = this.#fetcher.state(tp.topic, tp.partition)
      return st !== undefined && st.position < 0n && st.reset === null
    })
    if (tps.length === 0) return
    if (this.#groupId === null) {
      for (const tp of tps) this.#fetcher.requestReset(tp.topic, tp.partition)
      return
    }
    let committed: CommittedOffset[]
    try {
      await this.#cluster.topicsMetadata([...new Set(tps.map((t) => t.topic))])
      committed = await fetchCommittedOffsets(this.#cluster, this.#groupId, tps, {
        requireStable: (this.#o.isolationLevel ?? 'read_uncommitted') === 'read_committed',
        ...(this.#member ? { member: this.#member.identity() } : {}),
      })
    } catch (err) {
      // Without committed offsets we must not guess: retry by failing the assignment step.
      this.#fetcher.remove(tps)
      for (const tp of tps) this.#owned.delete(tpKey(tp))
      throw err
    }
    const byKey = new Map(committed.map((c) => [tpKey(c), c]))
    for (const tp of tps) {
      const st = this.#fetcher.state(tp.topic, tp.partition)
      if (st === undefined || st.position >= 0n || st.reset !== null) continue // revoked or sought meanwhile
      const c = byKey.get(tpKey(tp))
      if (c !== undefined && c.offset >= 0n) {
        this.#fetcher.seek(tp.topic, tp.partition, c.offset, c.leaderEpoch)
        this.#committed.set(tpKey(tp), c.offset)
      } else this.#fetcher.requestReset(tp.topic, tp.partition)
    }
  }

  /**
   * Revocation: stop fetching, wait for processing of these partitions,
   * commit what was processed (unless lost), call the listener.
   */
  async #revoke(tps: TopicPartition[], lost: boolean): Promise<void> {
    if (tps.length === 0) return
    const keys = tps.map(tpKey)
    // What is being processed now still counts for the commit below.
    for (const tp of tps) {
      const st = this.#fetcher.state(tp.topic, tp.partition)
      if (st !== undefined) this.#revoking.set(tpKey(tp), st.generation)
    }
    // Stop handing out more of these partitions' records.
    this.#fetcher.remove(tps)
    await this.#waitIdle(keys, this.#maxProcessing)
    if (!lost && this.#groupId !== null && this.#strategy !== 'manual') {
      await this.#commitProcessed(keys).catch((err: unknown) => {
        this.emit('commitFailed', err)
      })
    }
    try {
      if (lost) await this.#o.listeners?.onLost?.(tps)
      else await this.#o.listeners?.onRevoked?.(tps)
    } finally {
      for (const k of keys) {
        this.#owned.delete(k)
        this.#processed.delete(k)
        this.#committed.delete(k)
        this.#userPaused.delete(k)
        this.#revoking.delete(k)
      }
      this.emit(lost ? 'lost' : 'revoked', tps)
    }
  }

  /** Waits until none of these partitions is being processed (bounded). */
  async #waitIdle(keys: string[], timeoutMs: number): Promise<void> {
    const busy = keys.filter((k) => this.#busy.has(k))
    if (busy.length === 0) return
    // The bound's timer is cleared once processing finished: left running it
    // would keep the process alive for up to maxProcessingIntervalMs after close().
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.all(busy.map((k) => new Promise<void>((resolve) => this.#busy.get(k)?.push(resolve) ?? resolve()))),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ])
    clearTimeout(timer)
  }

  #markBusy(k: string): void {
    if (!this.#busy.has(k)) this.#busy.set(k, [])
    this.#inProgress++
  }

  #markIdle(k: string): void {
    const waiters = this.#busy.get(k)
    this.#busy.delete(k)
    this.#inProgress = Math.max(0, this.#inProgress - 1)
    if (waiters) for (const w of waiters) w()
  }

  /**
   * Records that everything up to `offset` of a partition was processed. A
   * chunk handed out before a seek, reset or revocation (another generation)
   * records nothing: its position no longer applies.
   */
  #markProcessed(topic: string, partition: number, offset: bigint, leaderEpoch: number, generation: number): void {
    const k = `${topic}\0${partition}`
    if (!this.#owned.has(k)) return
    const current = this.#fetcher.state(topic, partition)?.generation ?? this.#revoking.get(k)
    if (current !== generation) return
    const next = offset + 1n
    const prev = this.#processed.get(k)
    // Updated in place: with eachMessage this runs per record (commits copy the values they send).
    if (prev === undefined) this.#processed.set(k, { offset: next, leaderEpoch })
    else if (prev.offset < next) {
      prev.offset = next
      prev.leaderEpoch = leaderEpoch
    }
    this.#progress()
  }

  #progress(): void {
    this.#lastProgress = Date.now()
    if (this.#stalled) {
      this.#stalled = false
      this.#member?.resume()
    }
  }

  /** maxProcessingIntervalMs: a handler that runs too long makes the member leave cleanly. */
  #checkStall(): void {
    if (this.#stalled || this.#inProgress === 0 || this.#member === null) return
    if (Date.now() - this.#lastProgress <= this.#maxProcessing) return
    this.#stalled = true
    this.emit('stalled', { sinceMs: Date.now() - this.#lastProgress })
    void (async () => {
      // Keep what is already processed, then leave.
      await this.#commitProcessed().catch(() => undefined)
      await this.#member?.leaveForStall()
    })()
  }

  #notify(): void {
    for (const w of this.#dataWaiters.splice(0)) w()
  }

  #waitForData(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        signal?.removeEventListener('abort', onAbort)
        clearTimeout(t)
        resolve()
      }
      const onAbort = (): void => {
        clearTimeout(t)
        reject(abortReason(signal!))
      }
      // Wake periodically too: positions may have been reset without data.
      const t = setTimeout(done, 1000)
      this.#dataWaiters.push(done)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  // ---- messages ----------------------------------------------------------------------

  /** Builds the application's message; deserialization failures go to the handler / dead-letter topic. */
  async #toMessage(c: FetchedChunk, r: KafkaRecord, markSkipped = true): Promise<ConsumerMessage<K, V> | null> {
    try {
      return this.#message(c, r)
    } catch (err) {
      return this.#undecodable(c, r, err, markSkipped)
    }
  }

  /**
   * The application's message for a record, synchronously (the hot paths
   * call this per record and take the asynchronous #undecodable path only
   * when a deserializer throws).
   */
  #message(c: FetchedChunk, r: KafkaRecord): ConsumerMessage<K, V> {
    // The raw deserializer (the default) returns its input: no call, no context object per record.
    const key = r.key === null || this.#keyDeser === deserializers.raw ? r.key : this.#keyDeser(r.key, { topic: c.topic, part: 'key', headers: r.headers })
    const value = r.value === null || this.#valueDeser === deserializers.raw ? r.value : this.#valueDeser(r.value, { topic: c.topic, part: 'value', headers: r.headers })
    const m: ConsumerMessage = { topic: c.topic, partition: c.partition, offset: r.offset, timestamp: r.timestamp, key: key as Buffer | null, value: value as Buffer | null, headers: r.headers, leaderEpoch: c.leaderEpoch }
    return m as unknown as ConsumerMessage<K, V>
  }

  /** A record whose key or value failed to deserialize: the error handler, the dead-letter topic, then null (skipped). */
  async #undecodable(c: FetchedChunk, r: KafkaRecord, err: unknown, markSkipped: boolean): Promise<null> {
    const e =
      err instanceof SerializationError
        ? err
        : new SerializationError(`cannot deserialize ${c.topic}-${c.partition}@${r.offset}: ${(err as Error).message}`, { topic: c.topic, partition: c.partition, recordOffset: r.offset }, err)
    e.context.partition ??= c.partition
    e.context.recordOffset ??= r.offset
    const rawMsg: ConsumerMessage = { topic: c.topic, partition: c.partition, offset: r.offset, timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers, leaderEpoch: c.leaderEpoch }
    if (this.#o.onDeserializationError === undefined && this.#o.deadLetter === undefined) throw e
    if (this.#o.onDeserializationError) await this.#o.onDeserializationError(e, rawMsg)
    if (this.#o.deadLetter) await this.#deadLetter(rawMsg, e)
    // Done with this record; in a batch, the batch's resolution covers it.
    if (markSkipped) this.#markProcessed(c.topic, c.partition, r.offset, c.leaderEpoch, c.generation)
    return null
  }

  /**
   * Writes the undecodable record, bytes unchanged, to the dead-letter topic
   * with headers naming the reason and where it came from. Only after the
   * write is acknowledged does the consumer move past it, so nothing is lost.
   */
  async #deadLetter(m: ConsumerMessage, err: KafkawireError): Promise<void> {
    if (this.#dlqProducer === null) {
      const { groupId: _g, ...conn } = this.#o
      void _g
      this.#dlqProducer = new Producer({ ...conn, clientId: `${this.#o.clientId ?? 'kafkawire'}-dlq` })
      this.#ownDlqProducer = true
    }
    await this.#dlqProducer.send({
      topic: this.#o.deadLetter!.topic,
      messages: [
        {
          key: m.key,
          value: m.value,
          timestamp: m.timestamp >= 0 ? m.timestamp : Date.now(),
          headers: [
            ...m.headers.map((h) => ({ key: h.key, value: h.value })),
            { key: 'kafkawire-dlq-reason', value: `${err.code}: ${err.message}` },
            { key: 'kafkawire-dlq-topic', value: m.topic },
            { key: 'kafkawire-dlq-partition', value: String(m.partition) },
            { key: 'kafkawire-dlq-offset', value: String(m.offset) },
            { key: 'kafkawire-dlq-time', value: new Date().toISOString() },
          ],
        },
      ],
    })
    this.#metrics.deadLettered++
  }

  #throwIfFailed(): void {
    if (this.#fatal) throw this.#fatal
    const e = this.#fetcher.takeError()
    if (e !== null) {
      const s = this.#fetcher.state(e.tp.topic, e.tp.partition)
      if (s) s.error = null
      throw e.error
    }
  }

  /** Async iteration over messages; a message counts as processed when the next one is requested. */
  async *[Symbol.asyncIterator](): AsyncGenerator<ConsumerMessage<K, V>, void, undefined> {
    this.#checkOpen()
    if (this.#mode !== 'idle') throw new ConfigError(`the consumer is already consuming (${this.#mode})`)
    this.#mode = 'iterator'
    try {
      await this.#start()
      let chunk: FetchedChunk | null = null
      let i = 0
      while (!this.#closed) {
        this.#throwIfFailed()
        if (chunk === null || i >= chunk.records.length) {
          chunk = this.#fetcher.take()
          i = 0
          if (chunk === null) {
            this.#progress()
            await this.#waitForData()
            continue
          }
          this.#metrics.bytesConsumed += chunk.bytes
          if (chunk.records.length === 0) {
            // Only control or aborted records: nothing to hand out, but processed.
            this.#markChunkDone(chunk)
            continue
          }
        }
        const k = `${chunk.topic}\0${chunk.partition}`
        const st = this.#fetcher.state(chunk.topic, chunk.partition)
        if (st === undefined || st.generation !== chunk.generation || !this.#owned.has(k)) {
          // Revoked or sought while we held the chunk: its rest is stale.
          chunk = null
          continue
        }
        const r = chunk.records[i++]!
        const msg = await this.#toMessage(chunk, r)
        if (msg === null) {
          if (i >= chunk.records.length) this.#markChunkDone(chunk)
          continue
        }
        this.#metrics.recordsConsumed++
        this.#markBusy(k)
        try {
          yield msg
        } finally {
          this.#markIdle(k)
        }
        this.#markProcessed(msg.topic, msg.partition, msg.offset, msg.leaderEpoch, chunk.generation)
        if (i >= chunk.records.length) this.#markChunkDone(chunk)
      }
    } finally {
      this.#mode = 'idle'
    }
  }

  /**
   * Runs handlers until close() (resolves) or a fatal error (rejects). A
   * handler that throws stops the run and rejects with its error; the
   * message it failed on is not committed.
   */
  async run(options: RunOptions<K, V>): Promise<void> {
    this.#checkOpen()
    if (this.#mode !== 'idle') throw new ConfigError(`the consumer is already consuming (${this.#mode})`)
    if (!options.eachMessage === !options.eachBatch) throw new ConfigError('run() needs exactly one of eachMessage and eachBatch')
    const concurrency = options.partitionsConcurrency ?? 1
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new ConfigError('partitionsConcurrency must be a positive integer')
    this.#mode = 'run'
    const signal = options.signal
    let failure: unknown = null
    const claimed = new Set<string>()
    const stop = (): boolean => this.#closed || failure !== null || signal?.aborted === true
    try {
      await this.#start()
      const worker = async (): Promise<void> => {
        while (!stop()) {
          this.#throwIfFailed()
          const chunk = this.#takeUnclaimed(claimed)
          if (chunk === null) {
            this.#progress()
            await this.#waitForData(signal).catch(() => undefined)
            continue
          }
          const k = `${chunk.topic}\0${chunk.partition}`
          claimed.add(k)
          this.#markBusy(k)
          try {
            await this.#process(chunk, options, stop)
          } finally {
            claimed.delete(k)
            this.#markIdle(k)
            this.#notify()
          }
        }
      }
      await Promise.all(
        Array.from({ length: concurrency }, () =>
          worker().catch((err: unknown) => {
            failure ??= err
            this.#notify()
          }),
        ),
      )
      if (failure !== null) throw failure
      if (signal?.aborted) throw abortReason(signal)
    } finally {
      this.#mode = 'idle'
    }
  }

  /** The next chunk of a partition no worker is processing. */
  #takeUnclaimed(claimed: ReadonlySet<string>): FetchedChunk | null {
    return this.#fetcher.take(claimed)
  }

  #userPaused = new Set<string>()
  /** Partitions being revoked: the generation whose in-flight processing still counts. */
  #revoking = new Map<string, number>()

  async #process(chunk: FetchedChunk, o: RunOptions<K, V>, stop: () => boolean): Promise<void> {
    this.#metrics.bytesConsumed += chunk.bytes
    const k = `${chunk.topic}\0${chunk.partition}`
    const stale = (): boolean => {
      const st = this.#fetcher.state(chunk.topic, chunk.partition)
      return st === undefined || st.generation !== chunk.generation || !this.#owned.has(k)
    }
    const records = chunk.records
    if (o.eachMessage) {
      for (let i = 0; i < records.length; i++) {
        // The handler awaited before this record may have seen a revocation or seek.
        if (stop() || stale()) return
        const r = records[i]!
        let msg: ConsumerMessage<K, V> | null
        try {
          msg = this.#message(chunk, r)
        } catch (err) {
          msg = await this.#undecodable(chunk, r, err, true)
        }
        if (msg === null) continue
        this.#metrics.recordsConsumed++
        await o.eachMessage({ topic: chunk.topic, partition: chunk.partition, message: msg })
        this.#markProcessed(msg.topic, msg.partition, msg.offset, msg.leaderEpoch, chunk.generation)
      }
      this.#markChunkDone(chunk)
      return
    }
    // Building the batch yields to nothing unless a record fails to
    // deserialize, so the partition can only go stale where it awaits.
    if (stale()) return
    // Sized up front: every record usually becomes a message; the array is
    // compacted only when some did not deserialize.
    const messages = new Array<ConsumerMessage<K, V>>(records.length)
    let kept = 0
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!
      let msg: ConsumerMessage<K, V> | null
      try {
        msg = this.#message(chunk, r)
      } catch (err) {
        msg = await this.#undecodable(chunk, r, err, false)
        if (stale()) return
      }
      if (msg !== null) messages[kept++] = msg
    }
    if (kept !== records.length) messages.length = kept
    if (messages.length === 0) {
      // Control or aborted records only, or none that deserialized (handled above).
      this.#markChunkDone(chunk)
      return
    }
    this.#metrics.recordsConsumed += messages.length
    const st = this.#fetcher.state(chunk.topic, chunk.partition)
    await o.eachBatch!({
      batch: {
        topic: chunk.topic,
        partition: chunk.partition,
        messages,
        highWatermark: st?.highWatermark ?? -1n,
        firstOffset: messages[0]?.offset ?? null,
        lastOffset: messages[messages.length - 1]?.offset ?? null,
      },
      resolveOffset: (offset) => {
        const m = messages.find((x) => x.offset === offset)
        this.#markProcessed(chunk.topic, chunk.partition, offset, m?.leaderEpoch ?? chunk.leaderEpoch, chunk.generation)
      },
      isRunning: () => !stop(),
      isStale: stale,
    })
    if (o.eachBatchAutoResolve !== false) this.#markChunkDone(chunk)
  }

  /** Every record of the chunk was processed (or skipped): the partition is processed up to the chunk's end. */
  #markChunkDone(chunk: FetchedChunk): void {
    this.#markProcessed(chunk.topic, chunk.partition, chunk.nextOffset - 1n, chunk.leaderEpoch, chunk.generation)
  }

  // ---- offsets -------------------------------------------------------------------------

  /**
   * Commits processed offsets of owned partitions (for `keys`, or all). One
   * commit runs at a time, so commits land in order.
   */
  #commitProcessed(keys?: string[]): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.#groupId === null) return
      const offsets: OffsetToCommit[] = []
      for (const [k, p] of this.#processed) {
        if (keys !== undefined && !keys.includes(k)) continue
        const tp = this.#owned.get(k)
        if (tp === undefined) continue
        if (this.#committed.get(k) === p.offset) continue
        offsets.push({ ...tp, offset: p.offset, leaderEpoch: p.leaderEpoch })
      }
      await this.#commit(offsets)
    }
    const next = this.#commitChain.then(run, run)
    this.#commitChain = next.catch(() => undefined)
    return next
  }

  #identity(): MemberIdentity {
    return this.#member?.identity() ?? { generationOrEpoch: -1, memberId: '', groupInstanceId: this.#o.groupInstanceId ?? null }
  }

  async #commit(offsets: OffsetToCommit[]): Promise<void> {
    if (offsets.length === 0) return
    let sentAs: MemberIdentity | null = null
    try {
      // Each attempt carries the member's current generation: a retry after
      // a rebalance must not commit as the generation before it.
      await commitOffsets(this.#cluster, this.#groupId!, () => this.#identity(), offsets, { onAttempt: (m) => (sentAs = m) })
      this.#metrics.commits++
      for (const o of offsets) this.#committed.set(tpKey(o), o.offset)
      this.emit('commit', offsets)
    } catch (err) {
      this.#metrics.commitFailures++
      // Rejoin only when the generation we committed as is still ours: if it
      // moved meanwhile, the member already rejoined (ConsumerCoordinator's
      // generationUnchanged check).
      const used = sentAs as MemberIdentity | null
      if (isMembershipLost(err) && used !== null && used.generationOrEpoch === this.#identity().generationOrEpoch) this.#member?.requestRejoin('commit found the member outdated')
      throw err
    }
  }

  /**
   * Commits offsets now. Without arguments: every processed offset
   * (strategies 'manual' and 'checkpoint'). With offsets: exactly those
   * (each the next offset to read); partitions not owned are refused.
   * `{ async: true }` returns at once; failures are emitted as 'commitFailed'.
   */
  commit(offsets?: OffsetToCommit[], options: { async?: boolean } = {}): Promise<void> {
    this.#checkOpen()
    if (this.#groupId === null) return Promise.reject(new ConfigError('commit() needs a groupId'))
    let p: Promise<void>
    if (offsets === undefined) p = this.#commitProcessed()
    else {
      const foreign = offsets.filter((o) => !this.#owned.has(tpKey(o)))
      if (foreign.length > 0) {
        return Promise.reject(new CommitFailedError(`cannot commit partitions this consumer does not own: ${foreign.map((f) => `${f.topic}-${f.partition}`).join(', ')}`, { groupId: this.#groupId }))
      }
      const run = (): Promise<void> => this.#commit(offsets)
      p = this.#commitChain.then(run, run)
      this.#commitChain = p.catch(() => undefined)
    }
    if (options.async) {
      p.catch((err: unknown) => this.emit('commitFailed', err))
      return Promise.resolve()
    }
    return p
  }

  /** The 'checkpoint' strategy's commit: everything processed so far. */
  checkpoint(): Promise<void> {
    return this.commit()
  }

  /** The next offset the consumer will hand out for a partition. */
  position(tp: TopicPartition): bigint {
    const s = this.#fetcher.state(tp.topic, tp.partition)
    if (s === undefined) throw new KafkawireError('PARTITION_NOT_ASSIGNED', `${tp.topic}-${tp.partition} is not assigned to this consumer`)
    return s.position
  }

  /** Committed offsets of the group for partitions (-1n where none). */
  async committed(tps: TopicPartition[]): Promise<CommittedOffset[]> {
    if (this.#groupId === null) throw new ConfigError('committed() needs a groupId')
    if (!this.#started) await this.#cluster.connect()
    await this.#cluster.topicsMetadata([...new Set(tps.map((t) => t.topic))])
    return fetchCommittedOffsets(this.#cluster, this.#groupId, tps)
  }

  /** The earliest offset with a timestamp >= `timestamp` per partition (-1n when none). */
  async offsetsForTimes(tps: TopicPartition[], timestamp: number): Promise<Array<TopicPartition & { offset: bigint; timestamp: number }>> {
    if (!this.#started) await this.#cluster.connect()
    await this.#cluster.topicsMetadata([...new Set(tps.map((t) => t.topic))])
    const res = await listOffsetsFor(this.#cluster, tps, BigInt(timestamp), (this.#o.isolationLevel ?? 'read_uncommitted') === 'read_committed' ? 1 : 0)
    return tps.map((tp) => {
      const r = res.get(tpKey(tp))
      if (r === undefined || r instanceof KafkawireError) throw r ?? new KafkawireError('LIST_OFFSETS_FAILED', `no answer for ${tp.topic}-${tp.partition}`)
      return { ...tp, offset: r.offset, timestamp: Number(r.timestamp) }
    })
  }

  seek(tp: TopicPartition, offset: bigint): void {
    this.#checkOpen()
    if (!this.#owned.has(tpKey(tp))) throw new KafkawireError('PARTITION_NOT_ASSIGNED', `cannot seek ${tp.topic}-${tp.partition}: not assigned to this consumer`, { context: { ...tp } })
    if (typeof offset !== 'bigint' || offset < 0n) throw new ConfigError(`seek offset must be a non-negative bigint, got ${String(offset)}`)
    this.#fetcher.seek(tp.topic, tp.partition, offset)
    // What the partition's next commit says, as the reference commits the
    // position: a message still being processed from before the seek no
    // longer moves it (its chunk is stale).
    this.#processed.set(tpKey(tp), { offset, leaderEpoch: -1 })
  }

  pause(tps: TopicPartition[]): void {
    for (const tp of tps) this.#userPaused.add(tpKey(tp))
    this.#fetcher.pause(tps)
  }

  resume(tps: TopicPartition[]): void {
    for (const tp of tps) this.#userPaused.delete(tpKey(tp))
    this.#fetcher.resume(tps)
    this.#notify()
  }

  paused(): TopicPartition[] {
    return [...this.#userPaused].map(keyToTp)
  }

  /** Partitions currently assigned. */
  assignment(): TopicPartition[] {
    return [...this.#owned.values()]
  }

  /** Lag per assigned partition, from the last fetch's end offsets. */
  lag(): PartitionLag[] {
    const committedRead = (this.#o.isolationLevel ?? 'read_uncommitted') === 'read_committed'
    const out: PartitionLag[] = []
    for (const s of this.#fetcher.states()) {
      const end = committedRead && s.lastStableOffset >= 0n ? s.lastStableOffset : s.highWatermark
      const lag = end >= 0n && s.position >= 0n ? (end > s.position ? end - s.position : 0n) : -1n
      out.push({ topic: s.topic, partition: s.partition, position: s.position, endOffset: end, lag })
    }
    return out
  }

  /** For producer.sendOffsetsToTransaction(): the group's current generation and member. */
  groupMetadata(): { groupId: string; generationId: number; memberId: string; groupInstanceId: string | null } {
    if (this.#groupId === null) throw new ConfigError('groupMetadata() needs a groupId')
    const id = this.#member?.identity()
    return { groupId: this.#groupId, generationId: id?.generationOrEpoch ?? -1, memberId: id?.memberId ?? '', groupInstanceId: this.#o.groupInstanceId ?? null }
  }

  metrics(): ConsumerMetricsSnapshot {
    let maxLag = 0n
    for (const l of this.lag()) if (l.lag > maxLag) maxLag = l.lag
    return { ...this.#metrics, bufferedBytes: this.#fetcher.bufferedBytes, assignedPartitions: this.#owned.size, maxLag }
  }

  /**
   * Finishes in-flight processing, commits what was processed, leaves the
   * group (dynamic members) and releases every connection.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    this.#closed = true
    this.#notify()
    for (const t of this.#timers) clearInterval(t)
    this.#fetcher.stop()
    const owned = [...this.#owned.values()]
    if (this.#member !== null && owned.length > 0) {
      await this.#revoke(owned, false).catch(() => undefined)
    } else if (this.#groupId !== null && this.#strategy !== 'manual' && owned.length > 0) {
      await this.#waitIdle(owned.map(tpKey), this.#maxProcessing)
      await this.#commitProcessed().catch(() => undefined)
    }
    await this.#member?.close()
    if (this.#ownDlqProducer) await this.#dlqProducer?.close()
    // Offsets are committed and the group is left; what may still be in
    // flight is a fetch long-poll or a JoinGroup the coordinator can hold for
    // the whole rebalance timeout. Nothing of it is needed any more.
    this.#cluster.destroy()
  }

  [inspect.custom](): string {
    return `Consumer { ${this.#groupId ? `group ${this.#groupId}, ` : ''}${this.#owned.size} partition(s)${this.#closed ? ', closed' : ''} }`
  }
}

function keyToTp(k: string): TopicPartition {
  const i = k.indexOf('\0')
  return { topic: k.slice(0, i), partition: Number(k.slice(i + 1)) }
}
