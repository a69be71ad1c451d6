/**
 * A small Kafka for the consumer's unit tests, built on the shared
 * MockBroker (one node): partition logs of real encoded record batches
 * (transactions, markers, aborted-transaction index, last stable offset),
 * Fetch / ListOffsets / OffsetForLeaderEpoch over them, committed offsets
 * (OffsetCommit / OffsetFetch, with the classic group's generation checks),
 * and a classic group coordinator (JoinGroup / SyncGroup / Heartbeat /
 * LeaveGroup) that expires members whose session runs out, as the broker
 * does: a member that stops heartbeating before it sends JoinGroup is
 * removed after its session timeout, even while a rebalance is preparing.
 *
 * Every OffsetCommit and every group event is recorded so tests can check
 * what the broker saw, independently of what the client believes.
 */
import { randomBytes } from 'node:crypto'
import { encodeEndTxnMarker, encodeRecordBatchSync, type RecordInput } from '../../../src/protocol/records/index.js'
import { MockBroker, reply, type HandlerResult, type MockRequest } from '../../support/mock-broker.js'

export const ERR = {
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  ILLEGAL_GENERATION: 22,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  UNKNOWN_MEMBER_ID: 25,
  REBALANCE_IN_PROGRESS: 27,
  MEMBER_ID_REQUIRED: 79,
} as const

interface StoredBatch {
  baseOffset: bigint
  lastOffset: bigint
  bytes: Buffer
  producerId: bigint
  transactional: boolean
  control: boolean
}

export class PartitionLog {
  readonly batches: StoredBatch[] = []
  logStartOffset = 0n
  endOffset = 0n
  leaderEpoch = 0
  /** The leader epoch cache: where each epoch's records start. */
  readonly epochs: Array<{ epoch: number; start: bigint }> = [{ epoch: 0, start: 0n }]
  /** Open transactions by producer id: offset of their first record. */
  readonly open = new Map<bigint, bigint>()
  /** Ended aborted transactions (the broker's aborted-transaction index). */
  readonly aborted: Array<{ producerId: bigint; firstOffset: bigint; lastOffset: bigint }> = []

  /**
   * Where `epoch` ends in this log (LeaderEpochFileCache.endOffsetFor): the
   * largest known epoch <= `epoch` and the start of the epoch after it (or the
   * log end); [-1, -1] when no epoch that old is known.
   */
  endOffsetFor(epoch: number): { epoch: number; endOffset: bigint } {
    let i = -1
    for (let j = 0; j < this.epochs.length; j++) if (this.epochs[j]!.epoch <= epoch) i = j
    if (i < 0) return { epoch: -1, endOffset: -1n }
    const next = this.epochs[i + 1]
    return { epoch: this.epochs[i]!.epoch, endOffset: next ? next.start : this.endOffset }
  }

  /** The last stable offset: the first offset of the oldest open transaction, else the end. */
  get lastStableOffset(): bigint {
    let lso = this.endOffset
    for (const first of this.open.values()) if (first < lso) lso = first
    return lso
  }
}

export interface AppendOptions {
  producerId?: bigint
  producerEpoch?: number
  transactional?: boolean
  timestamp?: number
}

type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable'

interface Member {
  memberId: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  protocols: Array<{ name: string; metadata: Buffer }>
  lastSeen: number
  /** Resolves the member's pending JoinGroup. */
  awaitingJoin: ((r: object) => void) | null
  joinVersion: number
  awaitingSync: ((r: object) => void) | null
  assignment: Buffer
}

export interface GroupEvent {
  at: number
  type: 'joined' | 'left' | 'expired' | 'rebalance' | 'generation' | 'removed-at-rebalance-timeout'
  memberId?: string
  generation?: number
}

export interface CommitRecord {
  at: number
  groupId: string
  memberId: string
  generation: number
  topic: string
  partition: number
  offset: bigint
  errorCode: number
}

class ClassicGroup {
  state: GroupState = 'Empty'
  generation = 0
  protocolName: string | null = null
  leader: string | null = null
  readonly members = new Map<string, Member>()
  readonly events: GroupEvent[] = []
  rebalanceDeadline = 0

  constructor(readonly groupId: string) {}
}

const uuid = (): string => randomBytes(16).toString('base64url')

export class FakeKafka {
  readonly broker: MockBroker
  readonly topics = new Map<string, { id: string; logs: PartitionLog[] }>()
  readonly groups = new Map<string, ClassicGroup>()
  /** Committed offsets: group -> "topic\0partition" -> offset. */
  readonly offsets = new Map<string, Map<string, { offset: bigint; leaderEpoch: number; metadata: string | null }>>()
  readonly commits: CommitRecord[] = []
  /** Every Fetch answer is sent this much later (computed when the request arrives): keeps fetches in flight. */
  fetchDelayMs = 0
  /** Fetch checks currentLeaderEpoch against the partition's (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH), as leaders do. */
  fenceStaleEpochs = true
  /** When false, Metadata keeps announcing the leader epochs it announced last. */
  announceEpochs = true
  /** Runs before each OffsetForLeaderEpoch is handled; a result it returns answers the request instead. */
  beforeEpochQuery: ((req: MockRequest) => HandlerResult | undefined) | null = null
  /** Runs before each OffsetCommit is handled; a result it returns answers the request instead. */
  beforeCommit: ((req: MockRequest) => Promise<HandlerResult | undefined> | HandlerResult | undefined) | null = null
  #timer: NodeJS.Timeout
  #nextMember = 1

  private constructor(broker: MockBroker) {
    this.broker = broker
    broker.on(10, (r) => this.#findCoordinator(r))
    broker.on(11, (r) => this.#joinGroup(r))
    broker.on(14, (r) => this.#syncGroup(r))
    broker.on(12, (r) => this.#heartbeat(r))
    broker.on(13, (r) => this.#leaveGroup(r))
    broker.on(8, async (r) => (await this.beforeCommit?.(r)) ?? this.#offsetCommit(r))
    broker.on(9, (r) => this.#offsetFetch(r))
    broker.on(2, (r) => this.#listOffsets(r))
    broker.on(1, (r) => this.#fetch(r))
    broker.on(23, (r) => this.beforeEpochQuery?.(r) ?? this.#offsetForLeaderEpoch(r))
    // KIP-848 is not modelled: a consumer configured for it fails fast.
    broker.versionOverrides.set(68, null)
    this.#timer = setInterval(() => this.#tick(), 20)
  }

  static async start(): Promise<FakeKafka> {
    return new FakeKafka(await MockBroker.start())
  }

  get bootstrap(): string {
    return this.broker.address
  }

  async close(): Promise<void> {
    clearInterval(this.#timer)
    await this.broker.close()
  }

  // ---- topics and logs ---------------------------------------------------------------

  createTopic(name: string, partitions = 1): void {
    const id = uuid()
    this.topics.set(name, { id, logs: Array.from({ length: partitions }, () => new PartitionLog()) })
    this.#syncMetadata()
  }

  #syncMetadata(): void {
    if (!this.announceEpochs) return
    this.broker.topics = [...this.topics].map(([name, t]) => ({
      name,
      topicId: t.id,
      partitions: t.logs.map((l, partition) => ({ partition, leader: this.broker.nodeId, leaderEpoch: l.leaderEpoch })),
    }))
  }

  log(topic: string, partition: number): PartitionLog {
    const l = this.topics.get(topic)?.logs[partition]
    if (l === undefined) throw new Error(`no partition ${topic}-${partition}`)
    return l
  }

  /**
   * Unclean leader election: the log loses everything from `to` on, and a
   * new leader epoch starts there.
   */
  truncateAndElect(topic: string, partition: number, to: bigint): void {
    const l = this.log(topic, partition)
    const kept = l.batches.filter((b) => b.baseOffset < to)
    if (kept.some((b) => b.lastOffset >= to)) throw new Error('truncate at a batch boundary')
    l.batches.length = 0
    l.batches.push(...kept)
    l.endOffset = to
    while (l.epochs.length > 1 && l.epochs[l.epochs.length - 1]!.start >= to) l.epochs.pop()
    l.leaderEpoch++
    l.epochs.push({ epoch: l.leaderEpoch, start: to })
    this.#syncMetadata()
  }

  /** Appends one batch; returns the offsets its records got. */
  append(topic: string, partition: number, records: Array<Partial<RecordInput> & { value: Uint8Array | null }>, o: AppendOptions = {}): bigint[] {
    const l = this.log(topic, partition)
    const base = l.endOffset
    const producerId = o.producerId ?? -1n
    const bytes = encodeRecordBatchSync(
      {
        baseOffset: base,
        partitionLeaderEpoch: l.leaderEpoch,
        compression: 0,
        producerId,
        producerEpoch: o.producerEpoch ?? (producerId >= 0n ? 0 : -1),
        baseSequence: producerId >= 0n ? 0 : -1,
        isTransactional: o.transactional ?? false,
      },
      records.map((r, i) => ({ key: r.key ?? null, value: r.value, headers: r.headers ?? [], timestamp: r.timestamp ?? o.timestamp ?? Date.now(), offsetDelta: i })),
    )
    const last = base + BigInt(records.length) - 1n
    l.batches.push({ baseOffset: base, lastOffset: last, bytes, producerId, transactional: o.transactional ?? false, control: false })
    l.endOffset = last + 1n
    if (o.transactional && !l.open.has(producerId)) l.open.set(producerId, base)
    return records.map((_, i) => base + BigInt(i))
  }

  /**
   * Appends record data as it is, e.g. a legacy (magic 0/1) message set a real broker served: `bytes`
   * must hold complete batches or messages for offsets `baseOffset`..`lastOffset`, next in the log.
   */
  appendRaw(topic: string, partition: number, bytes: Buffer, baseOffset: bigint, lastOffset: bigint): void {
    const l = this.log(topic, partition)
    if (baseOffset !== l.endOffset) throw new Error(`raw data at ${baseOffset}, the log ends at ${l.endOffset}`)
    l.batches.push({ baseOffset, lastOffset, bytes, producerId: -1n, transactional: false, control: false })
    l.endOffset = lastOffset + 1n
  }

  /** Appends text values, one record each, in one batch. */
  appendValues(topic: string, partition: number, values: string[], o: AppendOptions = {}): bigint[] {
    return this.append(topic, partition, values.map((v) => ({ value: Buffer.from(v) })), o)
  }

  /** Ends a producer's transaction on a partition with a COMMIT or ABORT marker. */
  endTransaction(topic: string, partition: number, producerId: bigint, type: 'COMMIT' | 'ABORT', producerEpoch = 0): bigint {
    const l = this.log(topic, partition)
    const offset = l.endOffset
    const bytes = encodeEndTxnMarker({ type, producerId, producerEpoch, coordinatorEpoch: 0, timestamp: Date.now(), baseOffset: offset, partitionLeaderEpoch: l.leaderEpoch })
    l.batches.push({ baseOffset: offset, lastOffset: offset, bytes, producerId, transactional: true, control: true })
    l.endOffset = offset + 1n
    const first = l.open.get(producerId)
    if (first !== undefined) {
      l.open.delete(producerId)
      if (type === 'ABORT') l.aborted.push({ producerId, firstOffset: first, lastOffset: offset })
    }
    return offset
  }

  #topicByRef(t: { topic?: string; name?: string; topicId?: string }): [string, { id: string; logs: PartitionLog[] }] | undefined {
    const name = t.topic ?? t.name
    if (name !== undefined && name !== '' && this.topics.has(name)) return [name, this.topics.get(name)!]
    for (const e of this.topics) if (e[1].id === t.topicId) return e
    return undefined
  }

  // ---- fetching ----------------------------------------------------------------------

  #fetch(req: MockRequest): HandlerResult {
    const b = req.body
    const readCommitted = b.isolationLevel === 1
    let any = false
    const responses = (b.topics as Array<{ topic?: string; topicId?: string; partitions: Array<{ partition: number; fetchOffset: bigint; partitionMaxBytes: number; currentLeaderEpoch: number; lastFetchedEpoch: number }> }>).map((t) => {
      const found = this.#topicByRef(t)
      return {
        topic: t.topic ?? found?.[0] ?? '',
        topicId: t.topicId ?? found?.[1].id ?? 'AAAAAAAAAAAAAAAAAAAAAA',
        partitions: t.partitions.map((p) => {
          const l = found?.[1].logs[p.partition]
          const base = { partitionIndex: p.partition, highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n, abortedTransactions: null, preferredReadReplica: -1, records: null }
          if (l === undefined) return { ...base, errorCode: ERR.UNKNOWN_TOPIC_OR_PARTITION }
          const ends = { highWatermark: l.endOffset, lastStableOffset: l.lastStableOffset, logStartOffset: l.logStartOffset }
          if (this.fenceStaleEpochs && p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch !== l.leaderEpoch) {
            return { ...base, ...ends, errorCode: p.currentLeaderEpoch < l.leaderEpoch ? 74 : 75 }
          }
          if (req.apiVersion >= 12 && p.lastFetchedEpoch >= 0) {
            // The fetch says which epoch its last record had: a log that diverged from it answers
            // with the point of divergence instead of records (Partition.fetchRecords).
            const end = l.endOffsetFor(p.lastFetchedEpoch)
            if (end.epoch < p.lastFetchedEpoch || end.endOffset < p.fetchOffset) {
              return { ...base, ...ends, errorCode: 0, divergingEpoch: { epoch: end.epoch, endOffset: end.endOffset } }
            }
          }
          if (p.fetchOffset < l.logStartOffset || p.fetchOffset > l.endOffset) return { ...base, ...ends, errorCode: ERR.OFFSET_OUT_OF_RANGE }
          const limit = readCommitted ? l.lastStableOffset : l.endOffset
          const out: StoredBatch[] = []
          let size = 0
          for (const batch of l.batches) {
            if (batch.lastOffset < p.fetchOffset) continue
            if (batch.lastOffset >= limit) break
            if (out.length > 0 && size + batch.bytes.length > p.partitionMaxBytes) break
            out.push(batch)
            size += batch.bytes.length
          }
          if (out.length > 0) any = true
          const lastReturned = out.length > 0 ? out[out.length - 1]!.lastOffset : -1n
          const aborted = readCommitted
            ? l.aborted.filter((a) => a.firstOffset <= lastReturned && a.lastOffset >= p.fetchOffset).map((a) => ({ producerId: a.producerId, firstOffset: a.firstOffset }))
            : null
          return { ...base, ...ends, errorCode: 0, abortedTransactions: aborted, records: out.length > 0 ? Buffer.concat(out.map((x) => x.bytes)) : null }
        }),
      }
    })
    const body = { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses }
    // Long poll, shortened: an empty answer comes after a little while.
    if (this.fetchDelayMs > 0) return reply({ body, delayMs: this.fetchDelayMs })
    return any ? body : reply({ body, delayMs: Math.min(b.maxWaitMs as number, 50) })
  }

  #listOffsets(req: MockRequest): HandlerResult {
    const readCommitted = req.body.isolationLevel === 1
    return {
      throttleTimeMs: 0,
      topics: (req.body.topics as Array<{ name: string; partitions: Array<{ partitionIndex: number; timestamp: bigint }> }>).map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => {
          const l = this.topics.get(t.name)?.logs[p.partitionIndex]
          if (l === undefined) return { partitionIndex: p.partitionIndex, errorCode: ERR.UNKNOWN_TOPIC_OR_PARTITION, timestamp: -1n, offset: -1n, leaderEpoch: -1 }
          const offset = p.timestamp === -2n ? l.logStartOffset : readCommitted ? l.lastStableOffset : l.endOffset
          return { partitionIndex: p.partitionIndex, errorCode: 0, ...(req.apiVersion === 0 ? { oldStyleOffsets: [offset] } : {}), timestamp: -1n, offset, leaderEpoch: l.leaderEpoch }
        }),
      })),
    }
  }

  #offsetForLeaderEpoch(req: MockRequest): HandlerResult {
    return {
      throttleTimeMs: 0,
      topics: (req.body.topics as Array<{ topic: string; partitions: Array<{ partition: number; leaderEpoch: number }> }>).map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((p) => {
          const l = this.topics.get(t.topic)?.logs[p.partition]
          if (l === undefined) return { errorCode: ERR.UNKNOWN_TOPIC_OR_PARTITION, partition: p.partition, leaderEpoch: -1, endOffset: -1n }
          const end = l.endOffsetFor(p.leaderEpoch)
          return { errorCode: 0, partition: p.partition, leaderEpoch: end.epoch, endOffset: end.endOffset }
        }),
      })),
    }
  }

  // ---- committed offsets -------------------------------------------------------------

  committed(groupId: string, topic: string, partition: number): bigint {
    return this.offsets.get(groupId)?.get(`${topic}\0${partition}`)?.offset ?? -1n
  }

  #offsetCommit(req: MockRequest): HandlerResult {
    const b = req.body
    const g = this.groups.get(b.groupId as string)
    const generation = (b.generationIdOrMemberEpoch as number | undefined) ?? -1
    let error: number = ERR.NONE
    if (generation >= 0 || (b.memberId ?? '') !== '') {
      if (g === undefined || !g.members.has(b.memberId)) error = ERR.UNKNOWN_MEMBER_ID
      else if (g.state === 'CompletingRebalance') error = ERR.REBALANCE_IN_PROGRESS
      else if (generation !== g.generation) error = ERR.ILLEGAL_GENERATION
    }
    const store = this.offsets.get(b.groupId) ?? new Map()
    this.offsets.set(b.groupId, store)
    return {
      throttleTimeMs: 0,
      topics: (b.topics as Array<{ name?: string; topicId?: string; partitions: Array<{ partitionIndex: number; committedOffset: bigint; committedLeaderEpoch?: number; committedMetadata: string | null }> }>).map((t) => {
        const name = this.#topicByRef(t)?.[0] ?? t.name ?? ''
        return {
          name,
          topicId: t.topicId ?? 'AAAAAAAAAAAAAAAAAAAAAA',
          partitions: t.partitions.map((p) => {
            this.commits.push({ at: Date.now(), groupId: b.groupId, memberId: b.memberId ?? '', generation, topic: name, partition: p.partitionIndex, offset: p.committedOffset, errorCode: error })
            if (error === ERR.NONE) store.set(`${name}\0${p.partitionIndex}`, { offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch ?? -1, metadata: p.committedMetadata })
            return { partitionIndex: p.partitionIndex, errorCode: error }
          }),
        }
      }),
    }
  }

  #offsetFetch(req: MockRequest): HandlerResult {
    const b = req.body
    const answer = (groupId: string, topics: Array<{ name?: string; topicId?: string; partitionIndexes: number[] }>) =>
      topics.map((t) => {
        const name = this.#topicByRef(t)?.[0] ?? t.name ?? ''
        return {
          name,
          topicId: t.topicId ?? 'AAAAAAAAAAAAAAAAAAAAAA',
          partitions: t.partitionIndexes.map((p) => {
            const c = this.offsets.get(groupId)?.get(`${name}\0${p}`)
            return { partitionIndex: p, committedOffset: c?.offset ?? -1n, committedLeaderEpoch: c?.leaderEpoch ?? -1, metadata: c?.metadata ?? null, errorCode: 0 }
          }),
        }
      })
    if (req.apiVersion >= 8) {
      return { throttleTimeMs: 0, groups: (b.groups as Array<{ groupId: string; topics: Array<{ name?: string; topicId?: string; partitionIndexes: number[] }> }>).map((g) => ({ groupId: g.groupId, topics: answer(g.groupId, g.topics ?? []), errorCode: 0 })) }
    }
    return { throttleTimeMs: 0, errorCode: 0, topics: answer(b.groupId, b.topics ?? []) }
  }

  // ---- the group coordinator ---------------------------------------------------------

  #findCoordinator(req: MockRequest): HandlerResult {
    const b = this.broker
    if (req.apiVersion >= 4) {
      return { throttleTimeMs: 0, coordinators: (req.body.coordinatorKeys as string[]).map((key) => ({ key, nodeId: b.nodeId, host: b.host, port: b.port, errorCode: 0, errorMessage: null })) }
    }
    return { throttleTimeMs: 0, errorCode: 0, errorMessage: null, nodeId: b.nodeId, host: b.host, port: b.port }
  }

  group(groupId: string): ClassicGroup {
    let g = this.groups.get(groupId)
    if (g === undefined) this.groups.set(groupId, (g = new ClassicGroup(groupId)))
    return g
  }

  #prepareRebalance(g: ClassicGroup, why: string): void {
    if (g.state === 'PreparingRebalance') return
    // Members waiting for their assignment learn about the new round.
    for (const m of g.members.values()) {
      m.awaitingSync?.({ throttleTimeMs: 0, errorCode: ERR.REBALANCE_IN_PROGRESS, protocolType: 'consumer', protocolName: null, assignment: Buffer.alloc(0) })
      m.awaitingSync = null
    }
    g.state = 'PreparingRebalance'
    g.rebalanceDeadline = Date.now() + Math.max(0, ...[...g.members.values()].map((m) => m.rebalanceTimeoutMs))
    g.events.push({ at: Date.now(), type: 'rebalance', memberId: why })
    this.#maybeCompleteJoin(g)
  }

  #joinGroup(req: MockRequest): HandlerResult | Promise<HandlerResult> {
    const b = req.body
    const g = this.group(b.groupId)
    const fail = (errorCode: number, memberId = ''): object => ({ throttleTimeMs: 0, errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', skipAssignment: false, memberId, members: [] })
    let memberId = b.memberId as string
    if (memberId === '') {
      memberId = `member-${this.#nextMember++}`
      if (req.apiVersion >= 4) {
        // KIP-394: the member joins again with this id.
        g.members.set(memberId, { memberId, sessionTimeoutMs: b.sessionTimeoutMs, rebalanceTimeoutMs: b.rebalanceTimeoutMs, protocols: b.protocols, lastSeen: Date.now(), awaitingJoin: null, joinVersion: req.apiVersion, awaitingSync: null, assignment: Buffer.alloc(0) })
        g.events.push({ at: Date.now(), type: 'joined', memberId })
        this.#prepareRebalance(g, `${memberId} joined`)
        return fail(ERR.MEMBER_ID_REQUIRED, memberId)
      }
    } else if (!g.members.has(memberId)) {
      return fail(ERR.UNKNOWN_MEMBER_ID)
    }
    let m = g.members.get(memberId)
    if (m === undefined) {
      m = { memberId, sessionTimeoutMs: b.sessionTimeoutMs, rebalanceTimeoutMs: b.rebalanceTimeoutMs, protocols: b.protocols, lastSeen: Date.now(), awaitingJoin: null, joinVersion: req.apiVersion, awaitingSync: null, assignment: Buffer.alloc(0) }
      g.members.set(memberId, m)
      g.events.push({ at: Date.now(), type: 'joined', memberId })
    }
    m.protocols = b.protocols
    m.sessionTimeoutMs = b.sessionTimeoutMs
    m.rebalanceTimeoutMs = b.rebalanceTimeoutMs
    m.lastSeen = Date.now()
    m.joinVersion = req.apiVersion
    m.awaitingSync = null
    const member = m
    const response = new Promise<HandlerResult>((resolve) => (member.awaitingJoin = resolve))
    if (g.state === 'PreparingRebalance') this.#maybeCompleteJoin(g)
    else this.#prepareRebalance(g, `${memberId} rejoined`)
    return response
  }

  #maybeCompleteJoin(g: ClassicGroup, deadlinePassed = false): void {
    if (g.state !== 'PreparingRebalance') return
    const all = [...g.members.values()]
    if (all.some((m) => m.awaitingJoin === null)) {
      if (!deadlinePassed) return
      for (const m of all) {
        if (m.awaitingJoin !== null) continue
        g.members.delete(m.memberId)
        g.events.push({ at: Date.now(), type: 'removed-at-rebalance-timeout', memberId: m.memberId })
      }
    }
    const members = [...g.members.values()]
    if (members.length === 0) {
      g.state = 'Empty'
      g.generation++
      return
    }
    g.generation++
    const names = members[0]!.protocols.map((p) => p.name).filter((n) => members.every((m) => m.protocols.some((p) => p.name === n)))
    g.protocolName = names[0] ?? null
    g.leader = members[0]!.memberId
    g.state = 'CompletingRebalance'
    g.events.push({ at: Date.now(), type: 'generation', generation: g.generation })
    for (const m of members) {
      const isLeader = m.memberId === g.leader
      m.awaitingJoin!({
        throttleTimeMs: 0,
        errorCode: g.protocolName === null ? ERR.INCONSISTENT_GROUP_PROTOCOL : 0,
        generationId: g.generation,
        protocolType: 'consumer',
        protocolName: g.protocolName,
        leader: g.leader,
        skipAssignment: false,
        memberId: m.memberId,
        members: isLeader ? members.map((x) => ({ memberId: x.memberId, groupInstanceId: null, metadata: x.protocols.find((p) => p.name === g.protocolName)?.metadata ?? Buffer.alloc(0) })) : [],
      })
      m.awaitingJoin = null
      m.lastSeen = Date.now()
    }
  }

  #syncGroup(req: MockRequest): HandlerResult | Promise<HandlerResult> {
    const b = req.body
    const g = this.group(b.groupId)
    const answer = (errorCode: number, assignment: Buffer = Buffer.alloc(0)): object => ({ throttleTimeMs: 0, errorCode, protocolType: 'consumer', protocolName: g.protocolName, assignment })
    const m = g.members.get(b.memberId)
    if (m === undefined) return answer(ERR.UNKNOWN_MEMBER_ID)
    if (b.generationId !== g.generation) return answer(ERR.ILLEGAL_GENERATION)
    if (g.state === 'PreparingRebalance') return answer(ERR.REBALANCE_IN_PROGRESS)
    m.lastSeen = Date.now()
    if (g.state === 'Stable') return answer(0, m.assignment)
    const response = new Promise<HandlerResult>((resolve) => (m.awaitingSync = (r) => resolve(r)))
    if (b.memberId === g.leader) {
      for (const x of g.members.values()) x.assignment = Buffer.alloc(0)
      for (const a of b.assignments as Array<{ memberId: string; assignment: Buffer }>) {
        const x = g.members.get(a.memberId)
        if (x) x.assignment = Buffer.from(a.assignment)
      }
      g.state = 'Stable'
      for (const x of g.members.values()) {
        x.awaitingSync?.(answer(0, x.assignment))
        x.awaitingSync = null
        x.lastSeen = Date.now()
      }
    }
    return response
  }

  #heartbeat(req: MockRequest): HandlerResult {
    const b = req.body
    const g = this.groups.get(b.groupId)
    const m = g?.members.get(b.memberId)
    if (g === undefined || m === undefined) return { throttleTimeMs: 0, errorCode: ERR.UNKNOWN_MEMBER_ID }
    if (b.generationId !== g.generation) return { throttleTimeMs: 0, errorCode: ERR.ILLEGAL_GENERATION }
    m.lastSeen = Date.now()
    return { throttleTimeMs: 0, errorCode: g.state === 'PreparingRebalance' ? ERR.REBALANCE_IN_PROGRESS : 0 }
  }

  #leaveGroup(req: MockRequest): HandlerResult {
    const b = req.body
    const g = this.group(b.groupId)
    const ids: string[] = req.apiVersion >= 3 ? (b.members as Array<{ memberId: string }>).map((x) => x.memberId) : [b.memberId]
    const out: Array<{ memberId: string; groupInstanceId: null; errorCode: number }> = []
    for (const id of ids) {
      const m = g.members.get(id)
      out.push({ memberId: id, groupInstanceId: null, errorCode: m ? 0 : ERR.UNKNOWN_MEMBER_ID })
      if (m === undefined) continue
      this.#remove(g, m, 'left')
    }
    return { throttleTimeMs: 0, errorCode: 0, members: out }
  }

  #remove(g: ClassicGroup, m: Member, why: 'left' | 'expired'): void {
    g.members.delete(m.memberId)
    g.events.push({ at: Date.now(), type: why, memberId: m.memberId })
    m.awaitingJoin?.({ throttleTimeMs: 0, errorCode: ERR.UNKNOWN_MEMBER_ID, generationId: -1, protocolType: null, protocolName: null, leader: '', skipAssignment: false, memberId: '', members: [] })
    m.awaitingJoin = null
    if (g.members.size === 0) {
      g.state = 'Empty'
      return
    }
    if (g.state === 'PreparingRebalance') this.#maybeCompleteJoin(g)
    else this.#prepareRebalance(g, `${m.memberId} ${why}`)
  }

  #tick(): void {
    const now = Date.now()
    for (const g of this.groups.values()) {
      for (const m of [...g.members.values()]) {
        // The coordinator keeps members alive while it holds their JoinGroup or SyncGroup.
        if (m.awaitingJoin !== null || m.awaitingSync !== null) continue
        if (now - m.lastSeen > m.sessionTimeoutMs) this.#remove(g, m, 'expired')
      }
      if (g.state === 'PreparingRebalance' && now >= g.rebalanceDeadline) this.#maybeCompleteJoin(g, true)
    }
  }

  /** Group events of one type. */
  eventsOf(groupId: string, type: GroupEvent['type']): GroupEvent[] {
    return this.groups.get(groupId)?.events.filter((e) => e.type === type) ?? []
  }
}
