/**
 * The client's view of a Kafka cluster: bootstrap, the metadata cache, one
 * connection per broker and purpose, coordinator lookup, and retries.
 *
 * Metadata is refreshed on an interval (metadataMaxAgeMs), on demand when a
 * topic is unknown, and whenever a request fails with an error that means the
 * cached leaders are stale. Concurrent refreshes are coalesced into one
 * request. When no known broker can be reached the client falls back to the
 * bootstrap addresses (re-bootstrap), as the reference client does (KIP-899).
 */
import { inspect } from 'node:util'
import { BrokerError, KafkawireError } from '../protocol/errors.js'
import { findCoordinator } from '../protocol/messages/find-coordinator.js'
import { metadata as metadataApi } from '../protocol/messages/metadata.js'
import type { ApiSchema, Fields, Infer, Input } from '../protocol/schema.js'
import { backoffDelay, retry, sleep, type BackoffOptions } from './backoff.js'
import { Connection, type ConnectionOptions, type RequestOptions } from './connection.js'
import { abortReason, ClosedError, ConfigError, ConnectionError, DeadlineExceededError } from './errors.js'

export interface BrokerAddress {
  host: string
  port: number
}

export interface BrokerInfo extends BrokerAddress {
  nodeId: number
  rack: string | null
}

export interface PartitionInfo {
  partition: number
  leader: number
  leaderEpoch: number
  replicas: number[]
  isr: number[]
  offlineReplicas: number[]
  /** Non-zero when the broker reported a problem with this partition (e.g. LEADER_NOT_AVAILABLE). */
  errorCode: number
}

export interface TopicInfo {
  name: string
  /** Kafka's base64url topic id; the zero id before Metadata v10. */
  topicId: string
  isInternal: boolean
  partitions: PartitionInfo[]
}

/** What every connection of the cluster is opened with; documented once, on ConnectionOptions. */
type SharedConnectionOptions = Pick<
  ConnectionOptions,
  | 'clientId'
  | 'clientSoftwareName'
  | 'clientSoftwareVersion'
  | 'tls'
  | 'sasl'
  | 'connectTimeoutMs'
  | 'requestTimeoutMs'
  | 'maxResponseBytes'
  | 'idleTimeoutMs'
  | 'socketFactory'
  | 'log'
>

export interface ClusterOptions extends Partial<SharedConnectionOptions> {
  /** Bootstrap brokers, "host:port". */
  brokers: string[] | string
  /** Refresh metadata at least this often. Default 5 min. */
  metadataMaxAgeMs?: number
  /** Backoff between retries of failed requests. */
  retryBackoff?: BackoffOptions
  /** Backoff between reconnect attempts to one broker. Default 50 ms doubling to 1 s. */
  reconnectBackoff?: BackoffOptions
  /** Overall deadline for operations that retry (metadata, coordinator lookups). Default 60 s. */
  defaultTimeoutMs?: number
}

/** Why a connection is used; each purpose gets its own socket to a broker. */
export type Channel = 'default' | 'coordinator' | 'fetch' | 'admin'

export type CoordinatorType = 'group' | 'transaction'

interface Slot {
  conn: Connection | null
  connecting: Promise<Connection> | null
  failures: number
  nextAttempt: number
}

export function parseBrokers(list: string[] | string): BrokerAddress[] {
  const items = (Array.isArray(list) ? list : list.split(',')).map((s) => s.trim()).filter((s) => s !== '')
  if (items.length === 0) throw new ConfigError('no bootstrap brokers given')
  return items.map((s) => {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s)
    if (!m) throw new ConfigError(`invalid broker address ${JSON.stringify(s)}: expected host:port`)
    const port = Number(m[2])
    if (port < 1 || port > 65535) throw new ConfigError(`invalid port in broker address ${JSON.stringify(s)}`)
    return { host: m[1]!, port }
  })
}

const STALE_METADATA_ERRORS = new Set([3, 5, 6, 9, 74, 75, 100, 103]) // UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER, REPLICA_NOT_AVAILABLE, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, UNKNOWN_TOPIC_ID, INCONSISTENT_TOPIC_ID
const COORDINATOR_MOVED_ERRORS = new Set([14, 15, 16]) // COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR

/** Whether an error means cached leaders or topics are stale. */
export function needsMetadataRefresh(err: unknown): boolean {
  if (err instanceof BrokerError) return err.refreshMetadata || STALE_METADATA_ERRORS.has(err.errorCode)
  return err instanceof ConnectionError
}

export function isCoordinatorError(err: unknown): boolean {
  return err instanceof BrokerError && COORDINATOR_MOVED_ERRORS.has(err.errorCode)
}

export class Cluster {
  readonly clientId: string
  // Private: it holds credentials, which must not show in util.inspect.
  readonly #options: Readonly<ClusterOptions>
  readonly #bootstrap: BrokerAddress[]
  #brokers = new Map<number, BrokerInfo>()
  #topics = new Map<string, TopicInfo>()
  #topicNames = new Map<string, string>()
  #clusterId: string | null = null
  #controllerId = -1
  #slots = new Map<string, Slot>()
  #bootstrapSlots = new Map<string, Slot>()
  #coordinators = new Map<string, number>()
  #coordinatorLookups = new Map<string, Promise<number>>()
  #refreshing: Promise<void> | null = null
  /** What the running refresh asked for. */
  #refreshingTopics: Set<string> | 'all' | null = null
  #pendingTopics: Set<string> | 'all' | null = null
  #watchedTopics = new Set<string>()
  #lastRefresh = 0
  #metadataTimer: NodeJS.Timeout | null = null
  #closed = false

  constructor(options: ClusterOptions) {
    this.#options = options
    this.clientId = options.clientId ?? 'kafkawire'
    this.#bootstrap = parseBrokers(options.brokers)
  }

  get clusterId(): string | null {
    return this.#clusterId
  }

  get controllerId(): number {
    return this.#controllerId
  }

  get brokers(): BrokerInfo[] {
    return [...this.#brokers.values()].sort((a, b) => a.nodeId - b.nodeId)
  }

  get isClosed(): boolean {
    return this.#closed
  }

  broker(nodeId: number): BrokerInfo | undefined {
    return this.#brokers.get(nodeId)
  }

  /** Cached topic metadata, or undefined when not known yet. */
  topic(name: string): TopicInfo | undefined {
    return this.#topics.get(name)
  }

  topicNameById(topicId: string): string | undefined {
    return this.#topicNames.get(topicId)
  }

  get knownTopics(): string[] {
    return [...this.#topics.keys()]
  }

  #connectionOptions(addr: BrokerAddress, nodeId?: number): ConnectionOptions {
    const o = this.#options
    return {
      host: addr.host,
      port: addr.port,
      ...(nodeId !== undefined ? { nodeId } : {}),
      clientId: this.clientId,
      ...(o.clientSoftwareName !== undefined ? { clientSoftwareName: o.clientSoftwareName } : {}),
      ...(o.clientSoftwareVersion !== undefined ? { clientSoftwareVersion: o.clientSoftwareVersion } : {}),
      ...(o.tls !== undefined ? { tls: o.tls } : {}),
      ...(o.sasl !== undefined ? { sasl: o.sasl } : {}),
      ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
      ...(o.requestTimeoutMs !== undefined ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
      ...(o.maxResponseBytes !== undefined ? { maxResponseBytes: o.maxResponseBytes } : {}),
      ...(o.idleTimeoutMs !== undefined ? { idleTimeoutMs: o.idleTimeoutMs } : {}),
      ...(o.socketFactory !== undefined ? { socketFactory: o.socketFactory } : {}),
      ...(o.log !== undefined ? { log: o.log } : {}),
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError('the client is closed')
  }

  /**
   * A ready connection from a slot, reconnecting with exponential backoff
   * after failures (the reference client's reconnect.backoff.ms).
   */
  async #fromSlot(slots: Map<string, Slot>, key: string, make: () => Connection, signal?: AbortSignal): Promise<Connection> {
    this.#checkOpen()
    let slot = slots.get(key)
    if (slot === undefined) slots.set(key, (slot = { conn: null, connecting: null, failures: 0, nextAttempt: 0 }))
    if (slot.conn !== null && slot.conn.isUsable) return slot.conn
    if (slot.connecting !== null) return slot.connecting
    const s = slot
    const wait = s.nextAttempt - Date.now()
    s.connecting = (async () => {
      if (wait > 0) await sleep(wait, signal)
      this.#checkOpen()
      const conn = make()
      try {
        await conn.connect(signal)
      } catch (err) {
        s.failures++
        s.nextAttempt = Date.now() + backoffDelay(s.failures - 1, { initialMs: 50, maxMs: 1000, ...this.#options.reconnectBackoff })
        throw err
      }
      s.failures = 0
      s.nextAttempt = 0
      s.conn = conn
      conn.onClose = () => {
        if (s.conn === conn) s.conn = null
      }
      if (this.#closed) {
        conn.destroy()
        throw new ClosedError('the client is closed')
      }
      if (slots.get(key) !== s) {
        // The broker left (or moved in) the metadata while we connected and
        // its slot was dropped: nothing would ever close this connection.
        void conn.close()
        throw new ConnectionError(`broker ${key.split('/')[0]} left the cluster metadata while connecting`, { broker: conn.address })
      }
      return conn
    })().finally(() => {
      s.connecting = null
    })
    return s.connecting
  }

  /** A ready connection to a broker by node id. */
  async connectionTo(nodeId: number, channel: Channel = 'default', signal?: AbortSignal): Promise<Connection> {
    let info = this.#brokers.get(nodeId)
    if (info === undefined) {
      await this.refreshMetadata()
      info = this.#brokers.get(nodeId)
      if (info === undefined) {
        throw new ConnectionError(`broker ${nodeId} is not in the cluster metadata`, { nodeId })
      }
    }
    const addr = info
    return this.#fromSlot(this.#slots, `${nodeId}/${channel}`, () => new Connection(this.#connectionOptions(addr, nodeId)), signal)
  }

  /**
   * A ready connection to any broker: known brokers in random order first,
   * then the bootstrap list when none of them answers.
   */
  async anyConnection(signal?: AbortSignal): Promise<Connection> {
    this.#checkOpen()
    // Prefer a connection that is already open.
    for (const [key, slot] of this.#slots) {
      if (key.endsWith('/default') && slot.conn?.isUsable) return slot.conn
    }
    const errors: unknown[] = []
    const known = shuffle([...this.#brokers.values()])
    for (const b of known) {
      try {
        return await this.connectionTo(b.nodeId, 'default', signal)
      } catch (err) {
        if (signal?.aborted) throw abortReason(signal)
        if (err instanceof KafkawireError && !err.retriable) throw err
        errors.push(err)
      }
    }
    for (const addr of shuffle([...this.#bootstrap])) {
      try {
        return await this.#fromSlot(this.#bootstrapSlots, `${addr.host}:${addr.port}`, () => new Connection(this.#connectionOptions(addr)), signal)
      } catch (err) {
        if (signal?.aborted) throw abortReason(signal)
        if (err instanceof KafkawireError && !err.retriable) throw err
        errors.push(err)
      }
    }
    const last = errors[errors.length - 1]
    throw new ConnectionError(
      `no broker is reachable (tried ${known.length} known and ${this.#bootstrap.length} bootstrap address(es))${last instanceof Error ? `: ${last.message}` : ''}`,
      {},
      last,
    )
  }

  /** Sends a request to a broker and returns the response body. */
  async send<Req extends Fields, Res extends Fields>(
    nodeId: number | 'any',
    api: ApiSchema<Req, Res>,
    body: Input<Infer<Req>> | ((version: number) => Input<Infer<Req>>),
    options: RequestOptions & { channel?: Channel } = {},
  ): Promise<Infer<Res>> {
    const conn = nodeId === 'any' ? await this.anyConnection(options.signal) : await this.connectionTo(nodeId, options.channel ?? 'default', options.signal)
    const version = options.version ?? conn.pickVersion(api)
    const b = typeof body === 'function' ? body(version) : body
    return conn.send(api, b, { ...options, version })
  }

  /** Runs fn with retries and a deadline, refreshing metadata when an error says it is stale. */
  withRetry<T>(operation: string, fn: (attempt: number) => Promise<T>, o: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<T> {
    const deadline = Date.now() + (o.timeoutMs ?? this.#options.defaultTimeoutMs ?? 60_000)
    return retry(fn, {
      operation,
      deadline,
      ...(o.signal ? { signal: o.signal } : {}),
      ...(this.#options.retryBackoff ? { backoff: this.#options.retryBackoff } : {}),
      beforeRetry: async (err) => {
        // The refresh gets what is left of this operation's time and its
        // signal, so it cannot make the caller overrun its deadline.
        if (needsMetadataRefresh(err)) {
          await this.refreshMetadata(undefined, { timeoutMs: Math.max(1, deadline - Date.now()), ...(o.signal ? { signal: o.signal } : {}) }).catch(() => undefined)
        }
      },
    })
  }

  /**
   * Waits for a shared operation under one caller's own signal and timeout;
   * the operation itself goes on for the others sharing it.
   */
  #bounded<T>(shared: Promise<T>, o: { signal?: AbortSignal; timeoutMs?: number }, operation: string): Promise<T> {
    if (o.signal === undefined && o.timeoutMs === undefined) return shared
    if (o.signal?.aborted) return Promise.reject(abortReason(o.signal))
    return new Promise<T>((resolve, reject) => {
      const cleanup = (): void => {
        if (timer) clearTimeout(timer)
        o.signal?.removeEventListener('abort', onAbort)
      }
      const onAbort = (): void => {
        cleanup()
        reject(abortReason(o.signal!))
      }
      const timer =
        o.timeoutMs === undefined
          ? null
          : setTimeout(() => {
              cleanup()
              reject(new DeadlineExceededError(`${operation} did not finish within ${o.timeoutMs} ms`))
            }, o.timeoutMs)
      o.signal?.addEventListener('abort', onAbort, { once: true })
      shared.then(
        (v) => {
          cleanup()
          resolve(v)
        },
        (e: unknown) => {
          cleanup()
          reject(e)
        },
      )
    })
  }

  // ---- metadata ---------------------------------------------------------------

  /** Connects to the cluster and loads broker metadata. */
  async connect(signal?: AbortSignal): Promise<void> {
    await this.refreshMetadata([], { ...(signal ? { signal } : {}) })
    this.#startMetadataTimer()
  }

  #startMetadataTimer(): void {
    if (this.#metadataTimer !== null || this.#closed) return
    const age = this.#options.metadataMaxAgeMs ?? 300_000
    this.#metadataTimer = setInterval(() => {
      if (Date.now() - this.#lastRefresh >= age * 0.9) void this.refreshMetadata().catch(() => undefined)
    }, Math.max(1000, Math.floor(age / 2)))
    this.#metadataTimer.unref()
  }

  /** Topics whose metadata every refresh includes (producers and consumers register theirs). */
  watchTopics(topics: Iterable<string>): void {
    for (const t of topics) this.#watchedTopics.add(t)
  }

  unwatchTopics(topics: Iterable<string>): void {
    for (const t of topics) this.#watchedTopics.delete(t)
  }

  /**
   * Refreshes metadata for the given topics (default: the watched and known
   * topics; 'all' for every topic in the cluster). Concurrent calls share
   * one request when possible.
   */
  refreshMetadata(topics?: string[] | 'all', o: { signal?: AbortSignal; timeoutMs?: number; allowAutoTopicCreation?: boolean } = {}): Promise<void> {
    // Not async (the coalescing needs the same promise back), so a closed
    // client must reject rather than throw.
    if (this.#closed) return Promise.reject(new ClosedError('the client is closed'))
    const wanted: Set<string> | 'all' = topics === 'all' ? 'all' : new Set([...(topics ?? []), ...this.#watchedTopics, ...(topics === undefined ? this.#topics.keys() : [])])
    // The running refresh already asks for everything wanted: share it.
    if (this.#refreshing !== null && covers(this.#refreshingTopics, wanted)) return this.#bounded(this.#refreshing, o, 'metadata refresh')
    if (this.#pendingTopics === 'all' || wanted === 'all') this.#pendingTopics = 'all'
    else {
      this.#pendingTopics ??= new Set()
      for (const t of wanted) (this.#pendingTopics as Set<string>).add(t)
    }
    if (this.#refreshing !== null) {
      // Chain one more refresh after the running one so topics added now are
      // included. The first chained caller starts it; the others wait for
      // that same refresh (not merely for the one that was running).
      const chained = this.#refreshing.then(
        () => (this.#pendingTopics !== null ? this.#runRefresh(o) : (this.#refreshing ?? undefined)),
        () => (this.#pendingTopics !== null ? this.#runRefresh(o) : (this.#refreshing ?? undefined)),
      )
      return this.#bounded(chained, o, 'metadata refresh')
    }
    return this.#bounded(this.#runRefresh(o), o, 'metadata refresh')
  }

  /**
   * The shared refresh. Callers bound their own waits (#bounded), so it
   * takes no caller's signal: one caller giving up must not fail the
   * refresh for everyone else waiting on it.
   */
  #runRefresh(o: { timeoutMs?: number; allowAutoTopicCreation?: boolean }): Promise<void> {
    if (this.#refreshing !== null) return this.#refreshing
    const pending = this.#pendingTopics
    this.#pendingTopics = null
    this.#refreshingTopics = pending
    // Plain retry, not withRetry: its beforeRetry refreshes metadata, which
    // from inside a refresh would wait for this very refresh forever.
    this.#refreshing = retry(
      async () => {
        const conn = await this.anyConnection()
        const version = conn.pickVersion(metadataApi)
        const topics = pending === 'all' || pending === null ? null : [...pending].map((name) => ({ name }))
        const res = await conn.send(
          metadataApi,
          {
            // v0 has no null: an empty list means "all topics" there.
            topics: version === 0 && topics !== null && topics.length === 0 ? [] : pending === 'all' ? null : (topics ?? []),
            allowAutoTopicCreation: o.allowAutoTopicCreation ?? false,
          },
          { version },
        )
        if (version === 0 && topics !== null && topics.length === 0) res.topics = []
        this.#applyMetadata(res, pending)
      },
      {
        operation: 'metadata refresh',
        // At least the default: later callers may wait on it longer than the first.
        deadline: Date.now() + Math.max(o.timeoutMs ?? 0, this.#options.defaultTimeoutMs ?? 60_000),
        ...(this.#options.retryBackoff ? { backoff: this.#options.retryBackoff } : {}),
      },
    ).finally(() => {
      this.#refreshing = null
      this.#refreshingTopics = null
    })
    return this.#refreshing
  }

  #applyMetadata(res: Infer<(typeof metadataApi)['response']['fields']>, requested: Set<string> | 'all' | null): void {
    const brokers = new Map<number, BrokerInfo>()
    for (const b of res.brokers) brokers.set(b.nodeId, { nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack })
    if (brokers.size > 0) {
      this.#brokers = brokers
      // Drop connections to brokers that left the cluster or moved.
      for (const [key, slot] of this.#slots) {
        const nodeId = Number(key.split('/')[0])
        const b = brokers.get(nodeId)
        if (b === undefined || (slot.conn && (slot.conn.host !== b.host || slot.conn.port !== b.port))) {
          void slot.conn?.close()
          this.#slots.delete(key)
        }
      }
    }
    this.#clusterId = res.clusterId
    this.#controllerId = res.controllerId
    if (requested === 'all') {
      this.#topics.clear()
      this.#topicNames.clear()
    }
    for (const t of res.topics) {
      if (t.name === null) continue
      if (t.errorCode === 3 /* UNKNOWN_TOPIC_OR_PARTITION */) {
        this.#topics.delete(t.name)
        continue
      }
      if (t.errorCode !== 0 && t.partitions.length === 0) continue
      const info: TopicInfo = {
        name: t.name,
        topicId: t.topicId,
        isInternal: t.isInternal,
        partitions: t.partitions
          .map((p) => ({
            partition: p.partitionIndex,
            leader: p.leaderId,
            leaderEpoch: p.leaderEpoch,
            replicas: p.replicaNodes,
            isr: p.isrNodes,
            offlineReplicas: p.offlineReplicas,
            errorCode: p.errorCode,
          }))
          .sort((a, b) => a.partition - b.partition),
      }
      // Keep a newer leader epoch we already know (KIP-320): metadata from a
      // lagging broker must not move us back to an older leader.
      const old = this.#topics.get(t.name)
      if (old && old.topicId === info.topicId) {
        for (const p of info.partitions) {
          const prev = old.partitions[p.partition]
          if (prev && prev.leaderEpoch > p.leaderEpoch && p.leaderEpoch >= 0) Object.assign(p, { leader: prev.leader, leaderEpoch: prev.leaderEpoch })
        }
      }
      this.#topics.set(t.name, info)
      if (info.topicId !== 'AAAAAAAAAAAAAAAAAAAAAA') this.#topicNames.set(info.topicId, t.name)
    }
    this.#lastRefresh = Date.now()
  }

  /**
   * Metadata for the given topics, refreshing when any is unknown or has a
   * partition without a leader, until the deadline.
   */
  async topicsMetadata(topics: string[], o: { signal?: AbortSignal; timeoutMs?: number; allowAutoTopicCreation?: boolean } = {}): Promise<TopicInfo[]> {
    this.watchTopics(topics)
    return this.withRetry(
      `metadata for ${topics.join(', ')}`,
      async (attempt) => {
        const missing = topics.filter((t) => {
          const info = this.#topics.get(t)
          return info === undefined || info.partitions.length === 0 || info.partitions.some((p) => p.leader < 0)
        })
        if (missing.length > 0 || attempt > 0) await this.refreshMetadata(topics, o)
        const out: TopicInfo[] = []
        for (const t of topics) {
          const info = this.#topics.get(t)
          if (info === undefined) throw new BrokerError(3, { topic: t })
          if (info.partitions.length === 0 || info.partitions.some((p) => p.leader < 0)) throw new BrokerError(5, { topic: t })
          out.push(info)
        }
        return out
      },
      o,
    )
  }

  /** Leader of a partition per cached metadata, or -1. */
  leaderFor(topic: string, partition: number): number {
    return this.#topics.get(topic)?.partitions[partition]?.leader ?? -1
  }

  // ---- coordinators -----------------------------------------------------------

  /**
   * The coordinator for a group or transactional id, cached until
   * invalidated (after NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE).
   */
  async coordinator(type: CoordinatorType, key: string, o: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<number> {
    const cacheKey = `${type}:${key}`
    const cached = this.#coordinators.get(cacheKey)
    if (cached !== undefined && this.#brokers.has(cached)) return cached
    const running = this.#coordinatorLookups.get(cacheKey)
    if (running) return running
    const lookup = this.withRetry(
      `find ${type} coordinator for ${key}`,
      async () => {
        const conn = await this.anyConnection(o.signal)
        const version = conn.pickVersion(findCoordinator)
        const keyType = type === 'group' ? 0 : 1
        const res = await conn.send(
          findCoordinator,
          version >= 4 ? { keyType, coordinatorKeys: [key] } : { key, keyType },
          { version, ...(o.signal ? { signal: o.signal } : {}) },
        )
        const r =
          version >= 4
            ? res.coordinators[0]
            : { nodeId: res.nodeId, host: res.host, port: res.port, errorCode: res.errorCode, errorMessage: res.errorMessage }
        if (r === undefined) throw new BrokerError(15, { [type === 'group' ? 'groupId' : 'transactionalId']: key })
        if (r.errorCode !== 0) {
          throw new BrokerError(r.errorCode, { [type === 'group' ? 'groupId' : 'transactionalId']: key, apiName: 'FindCoordinator' }, r.errorMessage)
        }
        if (!this.#brokers.has(r.nodeId)) this.#brokers.set(r.nodeId, { nodeId: r.nodeId, host: r.host, port: r.port, rack: null })
        this.#coordinators.set(cacheKey, r.nodeId)
        return r.nodeId
      },
      o,
    ).finally(() => this.#coordinatorLookups.delete(cacheKey))
    this.#coordinatorLookups.set(cacheKey, lookup)
    return lookup
  }

  invalidateCoordinator(type: CoordinatorType, key: string): void {
    this.#coordinators.delete(`${type}:${key}`)
  }

  /**
   * Sends a request to the coordinator of `key`, retrying with a fresh
   * lookup when the coordinator moved or is loading. `check` throws the
   * response's error (a BrokerError) when there is one.
   */
  async sendToCoordinator<Req extends Fields, Res extends Fields>(
    type: CoordinatorType,
    key: string,
    api: ApiSchema<Req, Res>,
    body: (version: number) => Input<Infer<Req>>,
    check: (res: Infer<Res>, version: number) => void,
    o: { signal?: AbortSignal; timeoutMs?: number; retry?: boolean; maxVersion?: number } = {},
  ): Promise<Infer<Res>> {
    const once = async (): Promise<Infer<Res>> => {
      const nodeId = await this.coordinator(type, key, o)
      try {
        const conn = await this.connectionTo(nodeId, 'coordinator', o.signal)
        const version = conn.pickVersion(api, o.maxVersion)
        const res = await conn.send(api, body(version), { version, ...(o.signal ? { signal: o.signal } : {}) })
        check(res, version)
        return res
      } catch (err) {
        if (isCoordinatorError(err) || err instanceof ConnectionError) this.invalidateCoordinator(type, key)
        throw err
      }
    }
    if (o.retry === false) return once()
    return this.withRetry(`${api.name} to the ${type} coordinator for ${key}`, once, o)
  }

  // ---- lifecycle --------------------------------------------------------------

  /** Closes every connection, letting in-flight requests finish. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#metadataTimer) clearInterval(this.#metadataTimer)
    const all = [...this.#slots.values(), ...this.#bootstrapSlots.values()]
    this.#slots.clear()
    this.#bootstrapSlots.clear()
    await Promise.all(
      all.map(async (s) => {
        const pending = s.connecting
        if (pending) {
          const c = await pending.catch(() => null)
          await c?.close()
        }
        await s.conn?.close()
      }),
    )
  }

  /** Closes every connection at once, failing requests in flight. */
  destroy(): void {
    this.#closed = true
    if (this.#metadataTimer) clearInterval(this.#metadataTimer)
    for (const s of [...this.#slots.values(), ...this.#bootstrapSlots.values()]) s.conn?.destroy()
    this.#slots.clear()
    this.#bootstrapSlots.clear()
  }

  /** Open connections, for diagnostics and tests. */
  get connections(): Connection[] {
    return [...this.#slots.values(), ...this.#bootstrapSlots.values()].flatMap((s) => (s.conn ? [s.conn] : []))
  }

  [inspect.custom](): string {
    return `Cluster { ${this.#bootstrap.map((b) => `${b.host}:${b.port}`).join(',')}, ${this.#brokers.size} broker(s), ${this.#topics.size} topic(s)${this.#closed ? ', closed' : ''} }`
  }
}

/** Whether a refresh for `running` also answers a request for `wanted`. */
function covers(running: Set<string> | 'all' | null, wanted: Set<string> | 'all'): boolean {
  if (running === 'all') return true
  if (wanted === 'all' || running === null) return false
  for (const t of wanted) if (!running.has(t)) return false
  return true
}

function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[a[i], a[j]] = [a[j]!, a[i]!]
  }
  return a
}
