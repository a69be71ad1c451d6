/**
 * The fetcher keeps, per assigned partition, the position (the next offset
 * the application gets) and the fetch position (the next offset to ask the
 * broker for), and prefetches ahead of the application within a memory
 * budget counted in decompressed record bytes.
 *
 * One fetch loop runs per broker that leads (or is the preferred read replica
 * for, KIP-392) a fetchable partition, with an incremental fetch session each
 * (KIP-227). Under read_committed, records of aborted transactions are
 * dropped using the aborted-transaction list of the response and control
 * batches are skipped (KIP-98). When a partition's leader epoch moves, the
 * position is validated with OffsetForLeaderEpoch before fetching again, so a
 * truncated log is detected instead of silently rewinding (KIP-320). As in
 * the reference consumer, that validation starts from the application's
 * position: data prefetched under the old leader is dropped and fetched again
 * once the position is known to be on the new leader's log.
 */
import type { Cluster } from '../client/cluster.js'
import { needsMetadataRefresh } from '../client/cluster.js'
import { backoffDelay } from '../client/backoff.js'
import { BrokerError, KafkawireError } from '../protocol/errors.js'
import { fetch as fetchApi } from '../protocol/messages/fetch.js'
import { listOffsets } from '../protocol/messages/list-offsets.js'
import { offsetForLeaderEpoch } from '../protocol/messages/offset-for-leader-epoch.js'
import { decodeRecordBatches, decodeRecordBatchesSync, type KafkaRecord, type RecordBatch } from '../protocol/records/index.js'
import { FetchSession, type SessionPartition, type SessionRequest } from './fetch-session.js'
import { LogTruncationError, NoOffsetError } from './errors.js'

export interface TopicPartition {
  topic: string
  partition: number
}

export type OffsetResetPolicy = 'earliest' | 'latest' | 'none'

export interface FetcherOptions {
  isolationLevel: 0 | 1
  minBytes: number
  maxBytes: number
  maxPartitionBytes: number
  maxWaitMs: number
  /** Budget of decompressed record bytes fetched but not yet handed to the application. */
  maxBufferedBytes: number
  rackId: string | null
  autoOffsetReset: OffsetResetPolicy
  verifyCrc: boolean
  maxDecompressedBytes: number | undefined
  fetchSessions: boolean
  requestTimeoutMs: number
}

/** Records of one batch, ready for the application. */
export interface FetchedChunk {
  topic: string
  partition: number
  records: KafkaRecord[]
  /** The batch's partition leader epoch (for commits and KIP-320 validation). */
  leaderEpoch: number
  /** The offset after this chunk (the position once it is consumed). */
  nextOffset: bigint
  bytes: number
  /** The partition state generation the chunk belongs to; stale after a seek. */
  generation: number
}

export interface FetcherEvents {
  /** Data arrived or an error is waiting. */
  onData(): void
  onError(err: KafkawireError, tp: TopicPartition): void
  onTruncation(tp: TopicPartition, from: bigint, to: bigint): void
  /**
   * The reset policy moved a partition's position to `offset` (no committed offset, or out of range).
   * Everything before it is skipped by policy, so it is the partition's position to commit until a
   * record is processed: the reference client commits positions, not only consumed offsets.
   */
  onReset(tp: TopicPartition, offset: bigint): void
}

const key = (topic: string, partition: number): string => `${topic}\0${partition}`

export class PartitionState {
  readonly topic: string
  readonly partition: number
  /** Next offset the application gets; -1n until initialized. */
  position = -1n
  /** Leader epoch of the record before `position` (KIP-320), -1 when unknown. */
  positionEpoch = -1
  /** Next offset to fetch; -1n until initialized. */
  fetchPosition = -1n
  /** Epoch of the last fetched batch (Fetch v12 lastFetchedEpoch). */
  fetchEpoch = -1
  paused = false
  reset: OffsetResetPolicy | null = null
  resetting = false
  validating = false
  validationInFlight = false
  /** Leader epoch the partition was last fetched under. */
  knownLeaderEpoch = -1
  readonly buffered: FetchedChunk[] = []
  bufferedBytes = 0
  highWatermark = -1n
  lastStableOffset = -1n
  logStartOffset = -1n
  preferredReplica = -1
  preferredUntil = 0
  /**
   * Changes whenever the position moves other than by consuming (seek, reset, truncation, revocation):
   * chunks the application holds become stale. Values come from one counter per fetcher, so a partition
   * assigned again never repeats a value of its previous assignment.
   */
  generation: number
  /** Changes whenever prefetched data is dropped or the fetch position rewinds: responses in flight become stale. Same counter. */
  fetchGeneration: number
  inFlight = false
  retryAt = 0
  error: KafkawireError | null = null

  constructor(topic: string, partition: number, generation: number) {
    this.topic = topic
    this.partition = partition
    this.generation = this.fetchGeneration = generation
  }

  get isFetchable(): boolean {
    return !this.paused && this.fetchPosition >= 0n && !this.resetting && this.reset === null && !this.validating && this.error === null
  }
}

export class Fetcher {
  readonly #cluster: Cluster
  readonly #o: FetcherOptions
  readonly #events: FetcherEvents
  readonly #parts = new Map<string, PartitionState>()
  readonly #sessions = new Map<number, FetchSession>()
  readonly #nodeBusy = new Set<number>()
  #bufferedBytes = 0
  #rr: string[] = []
  #rrIndex = 0
  #scheduled = false
  #timer: NodeJS.Timeout | null = null
  #running = false
  #refreshing = false
  /** Source of partition generations (see PartitionState.generation). */
  #generations = 0

  constructor(cluster: Cluster, options: FetcherOptions, events: FetcherEvents) {
    this.#cluster = cluster
    this.#o = options
    this.#events = events
  }

  get bufferedBytes(): number {
    return this.#bufferedBytes
  }

  get assignment(): TopicPartition[] {
    return [...this.#parts.values()].map((p) => ({ topic: p.topic, partition: p.partition }))
  }

  state(topic: string, partition: number): PartitionState | undefined {
    return this.#parts.get(key(topic, partition))
  }

  states(): IterableIterator<PartitionState> {
    return this.#parts.values()
  }

  start(): void {
    this.#running = true
    this.wake()
  }

  stop(): void {
    this.#running = false
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
  }

  /** Adds partitions (positions unset until seek() or a reset policy sets them). */
  add(tps: readonly TopicPartition[]): void {
    for (const tp of tps) {
      const k = key(tp.topic, tp.partition)
      if (!this.#parts.has(k)) this.#parts.set(k, new PartitionState(tp.topic, tp.partition, ++this.#generations))
    }
    this.#cluster.watchTopics(tps.map((t) => t.topic))
    this.#rr = [...this.#parts.keys()]
    this.wake()
  }

  /** Removes partitions, dropping their buffered data. */
  remove(tps: readonly TopicPartition[]): void {
    for (const tp of tps) {
      const k = key(tp.topic, tp.partition)
      const s = this.#parts.get(k)
      if (s === undefined) continue
      this.#drop(s)
      s.generation = ++this.#generations
      this.#parts.delete(k)
      for (const session of this.#sessions.values()) session.invalidate(tp.topic, tp.partition)
    }
    this.#rr = [...this.#parts.keys()]
  }

  #drop(s: PartitionState): void {
    this.#bufferedBytes -= s.bufferedBytes
    s.buffered.length = 0
    s.bufferedBytes = 0
    s.fetchGeneration = ++this.#generations
  }

  /**
   * Starts validating the position against the current leader (KIP-320):
   * prefetched data is dropped and fetched again from the position once the
   * leader confirmed it, so nothing read from a diverged log reaches the
   * application.
   */
  #beginValidation(s: PartitionState): void {
    this.#drop(s)
    s.fetchPosition = s.position
    s.fetchEpoch = s.positionEpoch
    s.validating = s.positionEpoch >= 0
    for (const session of this.#sessions.values()) session.invalidate(s.topic, s.partition)
  }

  /** Moves the position of a partition; buffered and in-flight data for it is discarded. */
  seek(topic: string, partition: number, offset: bigint, leaderEpoch = -1): void {
    const s = this.#parts.get(key(topic, partition))
    if (s === undefined) throw new KafkawireError('PARTITION_NOT_ASSIGNED', `cannot seek ${topic}-${partition}: it is not assigned to this consumer`, { context: { topic, partition } })
    this.#drop(s)
    s.generation = ++this.#generations
    s.position = s.fetchPosition = offset
    s.positionEpoch = s.fetchEpoch = leaderEpoch
    s.reset = null
    s.error = null
    s.retryAt = 0
    // Validate a position that came with an epoch against the current leader.
    s.validating = leaderEpoch >= 0
    for (const session of this.#sessions.values()) session.invalidate(topic, partition)
    this.wake()
  }

  /** Marks a partition for an offset reset by policy (no committed offset, or out of range). */
  requestReset(topic: string, partition: number, policy: OffsetResetPolicy = this.#o.autoOffsetReset): void {
    const s = this.#parts.get(key(topic, partition))
    if (s === undefined) return
    this.#drop(s)
    s.generation = ++this.#generations
    s.reset = policy
    s.error = null
    this.wake()
  }

  pause(tps: readonly TopicPartition[]): void {
    for (const tp of tps) {
      const s = this.#parts.get(key(tp.topic, tp.partition))
      if (s) s.paused = true
    }
  }

  resume(tps: readonly TopicPartition[]): void {
    for (const tp of tps) {
      const s = this.#parts.get(key(tp.topic, tp.partition))
      if (s) s.paused = false
    }
    this.wake()
  }

  /**
   * Takes the next chunk, visiting partitions in turn so none starves.
   * The partition's position moves past the chunk.
   */
  take(skip?: ReadonlySet<string>): FetchedChunk | null {
    const n = this.#rr.length
    for (let i = 0; i < n; i++) {
      const k = this.#rr[(this.#rrIndex + i) % n]!
      const s = this.#parts.get(k)
      if (s === undefined || s.paused || s.buffered.length === 0 || skip?.has(k) === true) continue
      this.#rrIndex = (this.#rrIndex + i + 1) % n
      const c = s.buffered.shift()!
      s.bufferedBytes -= c.bytes
      this.#bufferedBytes -= c.bytes
      s.position = c.nextOffset
      s.positionEpoch = c.leaderEpoch
      this.wake()
      return c
    }
    return null
  }

  /** The first partition error waiting to be surfaced, cleared when taken. */
  takeError(): { tp: TopicPartition; error: KafkawireError } | null {
    for (const s of this.#parts.values()) {
      if (s.error !== null && s.buffered.length === 0) {
        const error = s.error
        return { tp: { topic: s.topic, partition: s.partition }, error }
      }
    }
    return null
  }

  /** Runs the fetch loop soon (coalesced). */
  wake(): void {
    if (this.#scheduled || !this.#running) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      this.#tick()
    })
  }

  #wakeAt(delay: number): void {
    if (!this.#running || this.#timer !== null) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#tick()
    }, delay)
  }

  #tick(): void {
    if (!this.#running) return
    const now = Date.now()
    const resets: PartitionState[] = []
    const validations: PartitionState[] = []
    const byNode = new Map<number, PartitionState[]>()
    let needMetadata = false
    let soonest = Infinity

    for (const s of this.#parts.values()) {
      if (s.reset !== null && !s.resetting) {
        resets.push(s)
        continue
      }
      const info = this.#cluster.topic(s.topic)
      const p = info?.partitions[s.partition]
      if (p === undefined || p.leader < 0) {
        needMetadata = true
        continue
      }
      // A new leader epoch: validate before fetching (KIP-320).
      if (p.leaderEpoch > s.knownLeaderEpoch) {
        if (s.knownLeaderEpoch >= 0 && s.positionEpoch >= 0 && s.position >= 0n) this.#beginValidation(s)
        s.knownLeaderEpoch = p.leaderEpoch
      }
      if (s.retryAt > now) {
        soonest = Math.min(soonest, s.retryAt)
        continue
      }
      if (s.validating && !s.validationInFlight && s.reset === null) {
        validations.push(s)
        continue
      }
      if (!s.isFetchable || s.inFlight) continue
      if (this.#bufferedBytes >= this.#o.maxBufferedBytes) continue
      // Keep at most about one partition-fetch ahead per partition.
      if (s.bufferedBytes >= this.#o.maxPartitionBytes) continue
      const node = s.preferredReplica >= 0 && s.preferredUntil > now && this.#cluster.broker(s.preferredReplica) ? s.preferredReplica : p.leader
      if (this.#nodeBusy.has(node)) continue
      let l = byNode.get(node)
      if (l === undefined) byNode.set(node, (l = []))
      l.push(s)
    }

    if (resets.length > 0) void this.#resetOffsets(resets)
    if (validations.length > 0) void this.#validate(validations)
    for (const [node, parts] of byNode) void this.#fetchFrom(node, parts)
    if (needMetadata) this.#refresh()
    if (soonest !== Infinity) this.#wakeAt(Math.max(1, soonest - now))
  }

  #refresh(): void {
    if (this.#refreshing) return
    this.#refreshing = true
    this.#cluster
      .refreshMetadata()
      .catch(() => undefined)
      .finally(() => {
        this.#refreshing = false
        this.#wakeAt(100)
      })
  }

  // ---- fetching -------------------------------------------------------------------

  #session(node: number): FetchSession {
    let s = this.#sessions.get(node)
    if (s === undefined) this.#sessions.set(node, (s = new FetchSession(node, this.#o.fetchSessions)))
    return s
  }

  async #fetchFrom(node: number, parts: PartitionState[]): Promise<void> {
    this.#nodeBusy.add(node)
    const session = this.#session(node)
    // What each partition's request asked for: a response counts only if the partition still wants exactly that.
    const gens = new Map<string, { fetchGeneration: number; fetchOffset: bigint }>()
    for (const s of parts) {
      s.inFlight = true
      gens.set(key(s.topic, s.partition), { fetchGeneration: s.fetchGeneration, fetchOffset: s.fetchPosition })
    }
    let req: SessionRequest | null = null
    try {
      const conn = await this.#cluster.connectionTo(node, 'fetch')
      // Fetch v13+ names topics by id; fall back when an id is unknown.
      const ids = parts.map((s) => this.#cluster.topic(s.topic)?.topicId ?? '')
      const missingId = ids.some((id) => id === '' || id === 'AAAAAAAAAAAAAAAAAAAAAA')
      const version = conn.pickVersion(fetchApi, missingId ? 12 : Infinity)
      const wanted: SessionPartition[] = parts.map((s, i) => ({
        topic: s.topic,
        topicId: ids[i]!,
        partition: s.partition,
        fetchOffset: s.fetchPosition,
        currentLeaderEpoch: this.#cluster.topic(s.topic)?.partitions[s.partition]?.leaderEpoch ?? -1,
        lastFetchedEpoch: s.fetchEpoch,
        logStartOffset: -1n,
        maxBytes: this.#o.maxPartitionBytes,
      }))
      // A session needs every partition of its node; partitions the node
      // still has in the session but that are busy elsewhere stay unchanged.
      req = session.next(wanted)
      const useSession = version >= 7 && this.#o.fetchSessions
      const byTopic = new Map<string, SessionPartition[]>()
      for (const p of useSession ? req.send : wanted) {
        let l = byTopic.get(p.topic)
        if (l === undefined) byTopic.set(p.topic, (l = []))
        l.push(p)
      }
      const forgotten = new Map<string, { topicId: string; partitions: number[] }>()
      if (useSession) {
        for (const f of req.forget) {
          let e = forgotten.get(f.topic)
          if (e === undefined) forgotten.set(f.topic, (e = { topicId: f.topicId, partitions: [] }))
          e.partitions.push(f.partition)
        }
      }
      const body = {
        replicaId: -1,
        maxWaitMs: this.#o.maxWaitMs,
        minBytes: this.#o.minBytes,
        maxBytes: this.#o.maxBytes,
        isolationLevel: this.#o.isolationLevel,
        sessionId: useSession ? req.sessionId : 0,
        sessionEpoch: useSession ? req.sessionEpoch : -1,
        topics: [...byTopic].map(([topic, ps]) => ({
          ...(version >= 13 ? { topicId: ps[0]!.topicId } : { topic }),
          partitions: ps.map((p) => ({
            partition: p.partition,
            currentLeaderEpoch: p.currentLeaderEpoch,
            fetchOffset: p.fetchOffset,
            lastFetchedEpoch: version >= 12 ? p.lastFetchedEpoch : -1,
            logStartOffset: -1n,
            partitionMaxBytes: p.maxBytes,
          })),
        })),
        forgottenTopicsData: [...forgotten].map(([topic, f]) => (version >= 13 ? { topicId: f.topicId, partitions: f.partitions } : { topic, partitions: f.partitions })),
        rackId: this.#o.rackId ?? '',
      }
      const res = await conn.send(fetchApi, body, { version, timeoutMs: this.#o.requestTimeoutMs + this.#o.maxWaitMs })
      if (res.errorCode !== 0) {
        // 70 FETCH_SESSION_ID_NOT_FOUND, 71 INVALID_FETCH_SESSION_EPOCH, 106 FETCH_SESSION_TOPIC_ID_ERROR
        session.reset(res.errorCode === 70)
        if (res.errorCode !== 70 && res.errorCode !== 71 && res.errorCode !== 106) throw new BrokerError(res.errorCode, { nodeId: node, apiName: 'Fetch' })
        return
      }
      if (useSession) session.onResponse(req, res.sessionId)
      for (const t of res.responses) {
        const topic = version >= 13 ? this.#cluster.topicNameById(t.topicId) : t.topic
        if (topic === undefined || topic === null) continue
        for (const p of t.partitions) {
          const s = this.#parts.get(key(topic, p.partitionIndex))
          const asked = gens.get(key(topic, p.partitionIndex))
          if (s === undefined || asked === undefined || asked.fetchGeneration !== s.fetchGeneration || asked.fetchOffset !== s.fetchPosition) continue
          await this.#onPartition(s, node, p, session)
        }
      }
    } catch (err) {
      session.reset()
      const e = err instanceof KafkawireError ? err : new KafkawireError('FETCH_FAILED', String(err), { retriable: true })
      for (const s of parts) s.retryAt = Date.now() + backoffDelay(0)
      if (needsMetadataRefresh(e)) this.#refresh()
      if (!e.retriable) for (const s of parts) this.#events.onError(e, { topic: s.topic, partition: s.partition })
    } finally {
      for (const s of parts) s.inFlight = false
      this.#nodeBusy.delete(node)
      this.wake()
    }
  }

  async #onPartition(
    s: PartitionState,
    node: number,
    p: {
      errorCode: number
      highWatermark: bigint
      lastStableOffset: bigint
      logStartOffset: bigint
      preferredReadReplica: number
      divergingEpoch?: { epoch: number; endOffset: bigint }
      abortedTransactions: Array<{ producerId: bigint; firstOffset: bigint }> | null
      records: Buffer | null
    },
    session: FetchSession,
  ): Promise<void> {
    const tp = { topic: s.topic, partition: s.partition }
    if (p.errorCode !== 0) {
      session.invalidate(s.topic, s.partition)
      const err = new BrokerError(p.errorCode, { ...tp, nodeId: node, apiName: 'Fetch' })
      switch (p.errorCode) {
        case 1: // OFFSET_OUT_OF_RANGE
          if (s.preferredReplica >= 0 && node === s.preferredReplica) {
            // A follower may lag the leader: ask the leader before resetting (KIP-392).
            s.preferredReplica = -1
            return
          }
          this.#drop(s)
          s.generation = ++this.#generations
          s.reset = this.#o.autoOffsetReset
          return
        case 74: // FENCED_LEADER_EPOCH: our metadata is older than the broker's
        case 75: // UNKNOWN_LEADER_EPOCH: the broker's is older than ours
        case 6: // NOT_LEADER_OR_FOLLOWER
        case 3: // UNKNOWN_TOPIC_OR_PARTITION
        case 100: // UNKNOWN_TOPIC_ID
        case 103: // INCONSISTENT_TOPIC_ID
        case 56: // KAFKA_STORAGE_ERROR
        case 78: // OFFSET_NOT_AVAILABLE
        case 5: // LEADER_NOT_AVAILABLE
        case 9: // REPLICA_NOT_AVAILABLE
          s.preferredReplica = -1
          s.retryAt = Date.now() + backoffDelay(0)
          this.#refresh()
          return
        default:
          if (err.retriable) {
            s.retryAt = Date.now() + backoffDelay(1)
            return
          }
          s.error = err
          this.#events.onError(err, tp)
          this.#events.onData()
          return
      }
    }
    s.highWatermark = p.highWatermark
    if (p.lastStableOffset >= 0n) s.lastStableOffset = p.lastStableOffset
    if (p.logStartOffset >= 0n) s.logStartOffset = p.logStartOffset
    if (p.preferredReadReplica >= 0 && p.preferredReadReplica !== node) {
      s.preferredReplica = p.preferredReadReplica
      s.preferredUntil = Date.now() + 300_000
    }
    if (p.divergingEpoch !== undefined && p.divergingEpoch.epoch >= 0) {
      // The leader says the log diverged from what we fetched (the fetch
      // carried lastFetchedEpoch): validate from the position before reading on.
      session.invalidate(s.topic, s.partition)
      this.#beginValidation(s)
      if (!s.validating) s.retryAt = Date.now() + backoffDelay(0)
      return
    }
    const data = p.records
    if (data === null || data.length === 0) return
    const fetchOffset = s.fetchPosition
    const fetchGeneration = s.fetchGeneration
    let decoded
    try {
      const opts = {
        verifyCrc: this.#o.verifyCrc,
        ...(this.#o.maxDecompressedBytes !== undefined ? { maxDecompressedBytes: this.#o.maxDecompressedBytes } : {}),
      }
      decoded = needsAsync(data) ? await decodeRecordBatches(data, opts) : decodeRecordBatchesSync(data, opts)
    } catch (err) {
      const e = err instanceof KafkawireError ? err : new KafkawireError('PROTOCOL_CORRUPT_RECORD', String(err))
      if (s.fetchGeneration !== fetchGeneration) return
      s.error = e
      e.context.topic ??= s.topic
      e.context.partition ??= s.partition
      this.#events.onError(e, tp)
      this.#events.onData()
      return
    }
    if (s.fetchGeneration !== fetchGeneration || s.fetchPosition !== fetchOffset) return
    if (decoded.batches.length === 0) {
      // Only a partial batch came back: it is larger than maxPartitionBytes.
      // Brokers since KIP-74 return the first batch whole, so this only
      // happens with old brokers; ask again with more room.
      if (decoded.partialBytes > 0) {
        s.error = new KafkawireError(
          'RECORD_TOO_LARGE',
          `a record batch at offset ${fetchOffset} of ${s.topic}-${s.partition} is larger than maxPartitionBytes (${this.#o.maxPartitionBytes}); raise it`,
          { context: tp },
        )
        this.#events.onError(s.error, tp)
        this.#events.onData()
      }
      return
    }
    const r = chunksFromBatches(decoded.batches, {
      topic: s.topic,
      partition: s.partition,
      fetchOffset,
      generation: s.generation,
      readCommitted: this.#o.isolationLevel === 1,
      abortedTransactions: p.abortedTransactions,
    })
    if (r.chunks.length === 0) return
    s.fetchPosition = r.nextFetchOffset
    s.fetchEpoch = r.lastEpoch
    for (const chunk of r.chunks) {
      s.buffered.push(chunk)
      s.bufferedBytes += chunk.bytes
      this.#bufferedBytes += chunk.bytes
    }
    this.#events.onData()
  }

  // ---- resets and validation ------------------------------------------------------

  async #resetOffsets(parts: PartitionState[]): Promise<void> {
    const byPolicy = new Map<OffsetResetPolicy, PartitionState[]>()
    for (const s of parts) {
      if (s.reset === 'none') {
        s.reset = null
        s.error = new NoOffsetError(`${s.topic}-${s.partition} has no valid position and autoOffsetReset is 'none'`, { topic: s.topic, partition: s.partition })
        this.#events.onError(s.error, { topic: s.topic, partition: s.partition })
        this.#events.onData()
        continue
      }
      const l = byPolicy.get(s.reset!) ?? []
      l.push(s)
      byPolicy.set(s.reset!, l)
    }
    for (const [policy, list] of byPolicy) {
      for (const s of list) s.resetting = true
      const gens = list.map((s) => s.generation)
      try {
        const offsets = await listOffsetsFor(this.#cluster, list, policy === 'earliest' ? -2n : -1n, this.#o.isolationLevel)
        list.forEach((s, i) => {
          if (s.generation !== gens[i] || s.reset !== policy) return
          const r = offsets.get(key(s.topic, s.partition))
          if (r === undefined) return
          if (r instanceof KafkawireError) {
            if (!r.retriable && !needsMetadataRefresh(r)) {
              s.error = r
              this.#events.onError(r, { topic: s.topic, partition: s.partition })
            }
            return
          }
          s.reset = null
          s.position = s.fetchPosition = r.offset
          s.positionEpoch = s.fetchEpoch = -1
          s.generation = ++this.#generations
          for (const session of this.#sessions.values()) session.invalidate(s.topic, s.partition)
          this.#events.onReset({ topic: s.topic, partition: s.partition }, r.offset)
        })
      } catch (err) {
        if (err instanceof KafkawireError && needsMetadataRefresh(err)) this.#refresh()
      } finally {
        for (const s of list) {
          s.resetting = false
          if (s.reset !== null) s.retryAt = Date.now() + backoffDelay(1)
        }
        this.#wakeAt(list.some((s) => s.reset !== null) ? 100 : 1)
      }
    }
  }

  /**
   * KIP-320: ask the leader where the epoch of our last consumed record
   * ends. If that is before our position, the log was truncated under us
   * (unclean leader election): report it and continue from the divergence
   * point instead of silently re-reading or skipping.
   */
  async #validate(parts: PartitionState[]): Promise<void> {
    for (const s of parts) s.validationInFlight = true
    const gens = parts.map((s) => s.fetchGeneration)
    try {
      const byLeader = new Map<number, PartitionState[]>()
      for (const s of parts) {
        const leader = this.#cluster.leaderFor(s.topic, s.partition)
        const l = byLeader.get(leader) ?? []
        l.push(s)
        byLeader.set(leader, l)
      }
      for (const [leader, list] of byLeader) {
        if (leader < 0) {
          for (const s of list) s.retryAt = Date.now() + backoffDelay(1)
          this.#refresh()
          continue
        }
        const conn = await this.#cluster.connectionTo(leader, 'default')
        if (!conn.versions.has(offsetForLeaderEpoch.apiKey, 2)) {
          // Without v2 (currentLeaderEpoch) the answer cannot be trusted; skip validation.
          for (const s of list) s.validating = false
          continue
        }
        const byTopic = new Map<string, PartitionState[]>()
        for (const s of list) {
          const l = byTopic.get(s.topic) ?? []
          l.push(s)
          byTopic.set(s.topic, l)
        }
        const res = await conn.send(offsetForLeaderEpoch, {
          replicaId: -1,
          topics: [...byTopic].map(([topic, ps]) => ({
            topic,
            partitions: ps.map((s) => ({
              partition: s.partition,
              currentLeaderEpoch: this.#cluster.topic(s.topic)?.partitions[s.partition]?.leaderEpoch ?? -1,
              leaderEpoch: s.positionEpoch,
            })),
          })),
        })
        for (const t of res.topics) {
          for (const r of t.partitions) {
            const s = this.#parts.get(key(t.topic, r.partition))
            const i = parts.indexOf(s!)
            if (s === undefined || i < 0 || s.fetchGeneration !== gens[i] || !s.validating) continue
            if (r.errorCode !== 0) {
              const e = new BrokerError(r.errorCode, { topic: t.topic, partition: r.partition, apiName: 'OffsetForLeaderEpoch' })
              if (needsMetadataRefresh(e) || e.retriable) {
                s.retryAt = Date.now() + backoffDelay(0)
                this.#refresh()
              } else s.validating = false
              continue
            }
            s.validating = false
            if (r.endOffset >= 0n && r.endOffset < s.position) {
              const from = s.position
              const tp = { topic: s.topic, partition: s.partition }
              this.#events.onTruncation(tp, from, r.endOffset)
              if (this.#o.autoOffsetReset === 'none') {
                s.error = new LogTruncationError(`the log of ${s.topic}-${s.partition} was truncated at ${r.endOffset}, before the position ${from}`, { ...tp }, from, r.endOffset)
                this.#events.onError(s.error, tp)
                this.#events.onData()
              } else {
                this.#drop(s)
                s.generation = ++this.#generations
                s.position = s.fetchPosition = r.endOffset
                s.positionEpoch = s.fetchEpoch = r.leaderEpoch
                for (const session of this.#sessions.values()) session.invalidate(s.topic, s.partition)
              }
            }
          }
        }
      }
    } catch (err) {
      if (err instanceof KafkawireError && needsMetadataRefresh(err)) this.#refresh()
      for (const s of parts) s.retryAt = Date.now() + backoffDelay(1)
    } finally {
      for (const s of parts) s.validationInFlight = false
      this.wake()
    }
  }
}

export interface ChunkOptions {
  topic: string
  partition: number
  /** The offset the fetch asked for: records before it were consumed already. */
  fetchOffset: bigint
  generation: number
  /** read_committed: drop records of aborted transactions. Control batches are dropped either way. */
  readCommitted: boolean
  /** The response's aborted transactions (producer id, first offset), any order. */
  abortedTransactions: ReadonlyArray<{ producerId: bigint; firstOffset: bigint }> | null
}

/**
 * Turns the batches of one partition's fetch response into chunks for the
 * application, one per batch at or after the fetch offset. Under
 * read_committed, a transactional batch is dropped when its producer has an
 * aborted transaction that began at or before the batch's last offset and
 * whose ABORT marker has not been passed yet; control batches (the markers)
 * never reach the application. A batch that leaves no records still yields an
 * empty chunk, so the position moves past it (CompletedFetch.nextFetchedRecord).
 */
export function chunksFromBatches(
  batches: readonly RecordBatch[],
  o: ChunkOptions,
): { chunks: FetchedChunk[]; nextFetchOffset: bigint; lastEpoch: number } {
  const aborted =
    o.readCommitted && o.abortedTransactions !== null && o.abortedTransactions.length > 0
      ? [...o.abortedTransactions].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0))
      : null
  const abortedProducers = new Set<bigint>()
  let ai = 0
  let position = o.fetchOffset
  let lastEpoch = -1
  const chunks: FetchedChunk[] = []
  for (const b of batches) {
    const next = b.lastOffset + 1n
    if (next <= position) continue // consumed already (a batch starting before our offset)
    let records: KafkaRecord[] = b.records
    if (aborted !== null && b.producerId >= 0n) {
      while (ai < aborted.length && aborted[ai]!.firstOffset <= b.lastOffset) abortedProducers.add(aborted[ai++]!.producerId)
    }
    if (b.isControl) {
      // An ABORT marker ends its producer's aborted transaction.
      if (aborted !== null && b.control?.type === 'ABORT') abortedProducers.delete(b.producerId)
      records = []
    } else if (aborted !== null && b.isTransactional && abortedProducers.has(b.producerId)) {
      records = []
    }
    // Compressed legacy message sets and v2 batches may start before the offset asked for.
    if (records.length > 0 && records[0]!.offset < position) records = records.filter((r) => r.offset >= position)
    chunks.push({ topic: o.topic, partition: o.partition, records, leaderEpoch: b.partitionLeaderEpoch, nextOffset: next, bytes: recordBytes(records), generation: o.generation })
    position = next
    lastEpoch = b.partitionLeaderEpoch
  }
  return { chunks, nextFetchOffset: position, lastEpoch }
}

/** Whether decoding needs the async path (a compressed v2 batch or legacy wrapper). */
function needsAsync(data: Buffer): boolean {
  // Attributes of a v2 batch sit at byte 21; compression is the low 3 bits.
  // Scan batch headers; any compressed batch (or a legacy message set) takes the async path.
  let o = 0
  while (o + 22 <= data.length) {
    const magic = data[o + 16]
    if (magic !== 2) return true
    if ((data[o + 22]! & 0x07) !== 0) return true
    const len = data.readInt32BE(o + 8)
    if (len <= 0) return false
    o += 12 + len
  }
  return false
}

/** Decompressed bytes the records occupy in memory, for the buffer budget. */
function recordBytes(records: readonly KafkaRecord[]): number {
  let n = 0
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!
    n += 32 + (r.key?.length ?? 0) + (r.value?.length ?? 0)
    const hs = r.headers
    for (let j = 0; j < hs.length; j++) n += 16 + hs[j]!.key.length + (hs[j]!.value?.length ?? 0)
  }
  return n
}

export interface ListedOffset {
  offset: bigint
  timestamp: bigint
  leaderEpoch: number
}

/** ListOffsets for partitions at one timestamp (-1 latest, -2 earliest, else ms), grouped by leader. */
export async function listOffsetsFor(
  cluster: Cluster,
  parts: readonly TopicPartition[],
  timestamp: bigint,
  isolationLevel: 0 | 1,
): Promise<Map<string, ListedOffset | KafkawireError>> {
  const out = new Map<string, ListedOffset | KafkawireError>()
  const byLeader = new Map<number, TopicPartition[]>()
  for (const tp of parts) {
    const leader = cluster.leaderFor(tp.topic, tp.partition)
    if (leader < 0) {
      out.set(key(tp.topic, tp.partition), new BrokerError(5, { topic: tp.topic, partition: tp.partition }))
      continue
    }
    const l = byLeader.get(leader) ?? []
    l.push(tp)
    byLeader.set(leader, l)
  }
  await Promise.all(
    [...byLeader].map(async ([leader, tps]) => {
      const byTopic = new Map<string, number[]>()
      for (const tp of tps) {
        const l = byTopic.get(tp.topic) ?? []
        l.push(tp.partition)
        byTopic.set(tp.topic, l)
      }
      try {
        const res = await cluster.send(leader, listOffsets, (version) => ({
          replicaId: -1,
          isolationLevel,
          topics: [...byTopic].map(([name, ps]) => ({
            name,
            partitions: ps.map((partitionIndex) => ({
              partitionIndex,
              currentLeaderEpoch: cluster.topic(name)?.partitions[partitionIndex]?.leaderEpoch ?? -1,
              timestamp,
              ...(version === 0 ? { maxNumOffsets: 1 } : {}),
            })),
          })),
          timeoutMs: 30_000,
        }))
        for (const t of res.topics) {
          for (const p of t.partitions) {
            const k = key(t.name, p.partitionIndex)
            if (p.errorCode !== 0) out.set(k, new BrokerError(p.errorCode, { topic: t.name, partition: p.partitionIndex, apiName: 'ListOffsets' }))
            else {
              const offset = p.oldStyleOffsets.length > 0 ? p.oldStyleOffsets[0]! : p.offset
              out.set(k, { offset, timestamp: p.timestamp, leaderEpoch: p.leaderEpoch })
            }
          }
        }
      } catch (err) {
        const e = err instanceof KafkawireError ? err : new KafkawireError('LIST_OFFSETS_FAILED', String(err), { retriable: true })
        for (const tp of tps) out.set(key(tp.topic, tp.partition), e)
      }
    }),
  )
  return out
}

export type { RecordBatch }
