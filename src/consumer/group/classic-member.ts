/**
 * A member of a classic consumer group (JoinGroup / SyncGroup / Heartbeat /
 * LeaveGroup, KIP-62 background heartbeats, KIP-345 static membership,
 * KIP-394 member ids, KIP-429 incremental cooperative rebalancing).
 *
 * States and transitions:
 *
 *   unjoined ──join──▶ joining ──JoinGroup ok──▶ syncing ──SyncGroup ok──▶ stable
 *   stable ──REBALANCE_IN_PROGRESS / rejoin requested──▶ joining
 *   stable | joining | syncing ──ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID──▶ unjoined (partitions lost)
 *   stable ──processing stalled──▶ left ──processing resumed──▶ joining
 *   any ──close()──▶ leaving ──▶ closed;  any ──fenced / group full──▶ fatal
 *
 * Heartbeats run on their own timer, independent of message processing, so
 * slow processing never makes the member miss its session timeout. They also
 * keep running while partitions are revoked (which waits for in-flight
 * processing): before JoinGroup under the eager protocol, and after SyncGroup
 * under the cooperative one, as the reference's heartbeat thread does. Only
 * between JoinGroup and SyncGroup, when the coordinator itself keeps the
 * member alive, are they paused.
 */
import type { Cluster } from '../../client/cluster.js'
import { isCoordinatorError } from '../../client/cluster.js'
import { backoffDelay, sleep } from '../../client/backoff.js'
import { codecFor } from '../../protocol/compiler.js'
import { BrokerError, KafkawireError } from '../../protocol/errors.js'
import { consumerProtocolAssignment } from '../../protocol/messages/consumer-protocol-assignment.js'
import { consumerProtocolSubscription } from '../../protocol/messages/consumer-protocol-subscription.js'
import { heartbeat } from '../../protocol/messages/heartbeat.js'
import { joinGroup } from '../../protocol/messages/join-group.js'
import { leaveGroup } from '../../protocol/messages/leave-group.js'
import { syncGroup } from '../../protocol/messages/sync-group.js'
import { Reader } from '../../protocol/reader.js'
import { Writer } from '../../protocol/writer.js'
import { GroupMembershipError } from '../errors.js'
import type { TopicPartition } from '../fetcher.js'
import type { MemberIdentity } from '../offsets.js'
import type { Assignor, MemberSubscription, RebalanceProtocol } from './assignors.js'
import { difference, groupByTopic, type GroupMember, type MembershipHooks } from './membership.js'

export type ClassicMemberState = 'unjoined' | 'joining' | 'syncing' | 'stable' | 'left' | 'leaving' | 'closed' | 'fatal'

export interface ClassicMemberOptions {
  groupId: string
  groupInstanceId: string | null
  sessionTimeoutMs: number
  /** How long the coordinator waits for members to rejoin; the reference uses max.poll.interval.ms. */
  rebalanceTimeoutMs: number
  heartbeatIntervalMs: number
  assignors: Assignor[]
  rackId: string | null
  log?: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void
}

const E = {
  ILLEGAL_GENERATION: 22,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  INVALID_GROUP_ID: 24,
  UNKNOWN_MEMBER_ID: 25,
  INVALID_SESSION_TIMEOUT: 26,
  REBALANCE_IN_PROGRESS: 27,
  GROUP_AUTHORIZATION_FAILED: 30,
  MEMBER_ID_REQUIRED: 79,
  GROUP_MAX_SIZE_REACHED: 81,
  FENCED_INSTANCE_ID: 82,
} as const

const FATAL = new Set<number>([E.INCONSISTENT_GROUP_PROTOCOL, E.INVALID_GROUP_ID, E.INVALID_SESSION_TIMEOUT, E.GROUP_AUTHORIZATION_FAILED, E.GROUP_MAX_SIZE_REACHED, E.FENCED_INSTANCE_ID])

/** Consumer protocol embedded structures carry their version as a leading int16 (ConsumerProtocol). */
const SUBSCRIPTION_VERSION = 3
const ASSIGNMENT_VERSION = 3

export function encodeSubscription(s: { topics: string[]; userData: Buffer | null; ownedPartitions: TopicPartition[]; generationId: number; rackId: string | null }): Buffer {
  const w = new Writer(128)
  w.int16(SUBSCRIPTION_VERSION)
  codecFor(consumerProtocolSubscription, SUBSCRIPTION_VERSION, false).encode(w, {
    topics: s.topics,
    userData: s.userData,
    ownedPartitions: groupByTopic(s.ownedPartitions),
    generationId: s.generationId,
    rackId: s.rackId,
  })
  return Buffer.from(w.finish())
}

export function decodeSubscription(memberId: string, groupInstanceId: string | null, data: Buffer): MemberSubscription {
  const r = new Reader(data)
  const version = r.int16()
  // A newer version from a newer client is read as the newest we know; its
  // extra fields follow ours and are ignored (forward compatibility).
  const v = Math.min(Math.max(version, 0), SUBSCRIPTION_VERSION)
  const s = codecFor(consumerProtocolSubscription, v, false).decode(r) as {
    topics: string[]
    userData: Buffer | null
    ownedPartitions: Array<{ topic: string; partitions: number[] }>
    generationId: number
    rackId: string | null
  }
  return {
    memberId,
    groupInstanceId,
    topics: s.topics,
    ownedPartitions: s.ownedPartitions.flatMap((t) => t.partitions.map((partition) => ({ topic: t.topic, partition }))),
    generationId: s.generationId,
    rackId: s.rackId,
    userData: s.userData,
  }
}

export function encodeAssignment(tps: readonly TopicPartition[], userData: Buffer | null = null): Buffer {
  const w = new Writer(128)
  w.int16(ASSIGNMENT_VERSION)
  codecFor(consumerProtocolAssignment, ASSIGNMENT_VERSION, false).encode(w, {
    assignedPartitions: groupByTopic(tps),
    userData,
  })
  return Buffer.from(w.finish())
}

export function decodeAssignment(data: Buffer): TopicPartition[] {
  if (data.length === 0) return []
  const r = new Reader(data)
  const version = r.int16()
  const v = Math.min(Math.max(version, 0), ASSIGNMENT_VERSION)
  const a = codecFor(consumerProtocolAssignment, v, false).decode(r) as { assignedPartitions: Array<{ topic: string; partitions: number[] }> }
  return a.assignedPartitions.flatMap((t) => t.partitions.map((partition) => ({ topic: t.topic, partition })))
}

export class ClassicMember implements GroupMember {
  readonly groupId: string
  readonly #cluster: Cluster
  readonly #o: ClassicMemberOptions
  readonly #hooks: MembershipHooks
  readonly #protocol: RebalanceProtocol
  #state: ClassicMemberState = 'unjoined'
  #memberId = ''
  #generationId = -1
  #rejoinNeeded = true
  #wakeLoop: (() => void) | null = null
  #loop: Promise<void> | null = null
  #heartbeatTimer: NodeJS.Timeout | null = null
  #lastHeartbeatOk = Date.now()
  #readyWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = []
  #fatalError: KafkawireError | null = null
  /** Eager revocation before JoinGroup is running: heartbeats go on, a REBALANCE_IN_PROGRESS answer is expected. */
  #preparing = false
  /** Hooks (revoke, assign) run one at a time, in order. */
  #hookChain: Promise<void> = Promise.resolve()
  /** Aborted by close(): a JoinGroup (or its coordinator lookup) may otherwise run for the whole rebalance timeout. */
  readonly #abort = new AbortController()

  constructor(cluster: Cluster, options: ClassicMemberOptions, hooks: MembershipHooks) {
    this.#cluster = cluster
    this.#o = options
    this.#hooks = hooks
    this.groupId = options.groupId
    // Cooperative only when every configured assignor supports it, as the reference decides.
    this.#protocol = options.assignors.every((a) => a.protocol === 'cooperative') ? 'cooperative' : 'eager'
  }

  get state(): ClassicMemberState {
    return this.#state
  }

  get memberId(): string {
    return this.#memberId
  }

  get generationId(): number {
    return this.#generationId
  }

  get rebalanceProtocol(): RebalanceProtocol {
    return this.#protocol
  }

  identity(): MemberIdentity {
    return { generationOrEpoch: this.#generationId, memberId: this.#memberId, groupInstanceId: this.#o.groupInstanceId }
  }

  #log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void {
    this.#o.log?.(level, `group ${this.groupId}: ${msg}`)
  }

  #transition(to: ClassicMemberState): void {
    if (this.#state === to) return
    this.#log('debug', `member ${this.#state} -> ${to}`)
    this.#state = to
  }

  start(): void {
    if (this.#loop !== null) return
    this.#loop = this.#run()
  }

  ready(): Promise<void> {
    if (this.#state === 'stable') return Promise.resolve()
    if (this.#fatalError) return Promise.reject(this.#fatalError)
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }))
  }

  requestRejoin(reason: string): void {
    if (this.#state === 'closed' || this.#state === 'leaving' || this.#state === 'fatal') return
    this.#log('info', `rejoining: ${reason}`)
    this.#rejoinNeeded = true
    this.#wakeLoop?.()
  }

  async #run(): Promise<void> {
    let attempt = 0
    while (this.#state !== 'closed' && this.#state !== 'leaving' && this.#state !== 'fatal') {
      if (!this.#rejoinNeeded || this.#state === 'left') {
        await new Promise<void>((resolve) => (this.#wakeLoop = resolve))
        this.#wakeLoop = null
        continue
      }
      try {
        await this.#joinAndSync()
        attempt = 0
      } catch (err) {
        const e = err instanceof KafkawireError ? err : new KafkawireError('GROUP_JOIN_FAILED', String(err), { retriable: true })
        if (e instanceof GroupMembershipError) {
          this.#fail(e)
          return
        }
        if (isCoordinatorError(e) || e.code === 'CONNECTION_ERROR' || e.code === 'REQUEST_TIMEOUT') this.#cluster.invalidateCoordinator('group', this.groupId)
        this.#log('warn', `join failed (${e.code}): ${e.message}`)
        // The attempt cleared the flag when it started; it still has to happen.
        this.#rejoinNeeded = true
        await sleep(backoffDelay(attempt++)).catch(() => undefined)
      }
    }
  }

  #fail(e: KafkawireError): void {
    this.#fatalError = e
    this.#transition('fatal')
    this.#stopHeartbeats()
    for (const w of this.#readyWaiters.splice(0)) w.reject(e)
    this.#hooks.fatal(e)
  }

  #check<T extends { errorCode: number }>(res: T, api: string): T {
    if (res.errorCode === 0) return res
    const err = new BrokerError(res.errorCode, { groupId: this.groupId, apiName: api })
    if (FATAL.has(res.errorCode)) {
      throw new GroupMembershipError(err.code, `${api} failed for group ${this.groupId}: ${err.message}`, { groupId: this.groupId }, err)
    }
    throw err
  }

  /** Runs a hook after the ones already running or queued. */
  #serial(fn: () => Promise<void>): Promise<void> {
    const run = this.#hookChain.then(fn)
    this.#hookChain = run.catch(() => undefined)
    return run
  }

  async #joinAndSync(): Promise<void> {
    this.#rejoinNeeded = false
    if (this.#protocol === 'eager') {
      // Eager protocols give everything back before joining. Revoking waits
      // for in-flight processing: heartbeats continue meanwhile (the member
      // is still in the group until it sends JoinGroup).
      if (this.#hooks.owned().length > 0) {
        this.#preparing = true
        try {
          await this.#serial(async () => {
            const owned = this.#hooks.owned()
            if (owned.length > 0) await this.#hooks.revoke(owned, false)
          })
        } finally {
          this.#preparing = false
        }
      }
    }
    this.#transition('joining')
    this.#stopHeartbeats()
    const topics = this.#hooks.subscribedTopics().sort()
    const owned = this.#hooks.owned()
    const protocols = this.#o.assignors.map((a) => ({
      name: a.name,
      metadata: encodeSubscription({
        topics,
        userData: a.userData?.(this.#generationId) ?? null,
        ownedPartitions: owned,
        generationId: this.#generationId,
        rackId: this.#o.rackId,
      }),
    }))

    // Find the coordinator within the session timeout; the JoinGroup below may
    // then wait for the whole rebalance timeout for the other members.
    await this.#cluster.coordinator('group', this.groupId, { timeoutMs: this.#o.sessionTimeoutMs, signal: this.#abort.signal })
    // JoinGroup blocks until every member has joined (up to the rebalance timeout).
    let join
    for (let i = 0; ; i++) {
      join = await this.#cluster.sendToCoordinator(
        'group',
        this.groupId,
        joinGroup,
        () => ({
          groupId: this.groupId,
          sessionTimeoutMs: this.#o.sessionTimeoutMs,
          rebalanceTimeoutMs: this.#o.rebalanceTimeoutMs,
          memberId: this.#memberId,
          groupInstanceId: this.#o.groupInstanceId,
          protocolType: 'consumer',
          protocols,
          reason: null,
        }),
        () => undefined,
        { retry: false, timeoutMs: this.#o.rebalanceTimeoutMs + 5_000, signal: this.#abort.signal },
      )
      if (join.errorCode === E.MEMBER_ID_REQUIRED && i === 0) {
        // KIP-394: the coordinator hands out the member id; join again with it.
        this.#memberId = join.memberId
        continue
      }
      if (join.errorCode === E.UNKNOWN_MEMBER_ID) {
        this.#memberId = ''
        this.#generationId = -1
        this.#rejoinNeeded = true
      }
      if (join.errorCode === E.REBALANCE_IN_PROGRESS) this.#rejoinNeeded = true
      this.#check(join, 'JoinGroup')
      break
    }
    this.#memberId = join.memberId
    this.#generationId = join.generationId
    const protocolName = join.protocolName ?? ''
    const assignor = this.#o.assignors.find((a) => a.name === protocolName)
    if (assignor === undefined) {
      throw new GroupMembershipError('INCONSISTENT_GROUP_PROTOCOL', `the group chose assignor ${protocolName}, which this consumer does not have`, { groupId: this.groupId })
    }

    let assignments: Array<{ memberId: string; assignment: Buffer }> = []
    if (join.leader === join.memberId && !join.skipAssignment) {
      const members = join.members.map((m) => decodeSubscription(m.memberId, m.groupInstanceId, m.metadata))
      const allTopics = [...new Set(members.flatMap((m) => m.topics))]
      const counts = new Map<string, number>()
      if (allTopics.length > 0) {
        await this.#cluster.refreshMetadata(allTopics).catch(() => undefined)
        for (const t of allTopics) {
          const info = this.#cluster.topic(t)
          if (info !== undefined && info.partitions.length > 0) counts.set(t, info.partitions.length)
        }
      }
      const result = assignor.assign(members, counts)
      assignments = [...result].map(([memberId, tps]) => ({ memberId, assignment: encodeAssignment(tps) }))
      this.#log('info', `leader assigned ${[...result].map(([m, tps]) => `${m}: ${tps.length}`).join(', ')} with ${protocolName}`)
    }

    this.#transition('syncing')
    const sync = await this.#cluster.sendToCoordinator(
      'group',
      this.groupId,
      syncGroup,
      () => ({
        groupId: this.groupId,
        generationId: this.#generationId,
        memberId: this.#memberId,
        groupInstanceId: this.#o.groupInstanceId,
        protocolType: 'consumer',
        protocolName,
        assignments,
      }),
      () => undefined,
      { retry: false, timeoutMs: this.#o.rebalanceTimeoutMs + 5_000, signal: this.#abort.signal },
    )
    if (sync.errorCode === E.REBALANCE_IN_PROGRESS) {
      this.#rejoinNeeded = true
      this.#transition('joining')
      return
    }
    if (sync.errorCode === E.ILLEGAL_GENERATION || sync.errorCode === E.UNKNOWN_MEMBER_ID) {
      await this.#lose(sync.errorCode === E.UNKNOWN_MEMBER_ID)
      return
    }
    this.#check(sync, 'SyncGroup')

    const assigned = decodeAssignment(sync.assignment)
    // In the group's new generation now: heartbeat while revocation waits
    // for in-flight processing, or the session would expire meanwhile.
    this.#transition('stable')
    this.#lastHeartbeatOk = Date.now()
    this.#scheduleHeartbeat()
    const generation = this.#generationId
    await this.#serial(async () => {
      if (this.#generationId !== generation) return
      const current = this.#hooks.owned()
      if (this.#protocol === 'cooperative') {
        // KIP-429: give back only what moved away; those partitions reach their
        // new owner in the follow-up rebalance we ask for.
        const revoked = difference(current, assigned)
        const added = difference(assigned, current)
        if (revoked.length > 0) {
          await this.#hooks.revoke(revoked, false)
          this.#rejoinNeeded = true
        }
        if (added.length > 0) await this.#hooks.assign(added)
      } else {
        const added = difference(assigned, current)
        if (added.length > 0) await this.#hooks.assign(added)
      }
    })
    if (this.#state === 'stable' && this.#generationId === generation) for (const w of this.#readyWaiters.splice(0)) w.resolve()
  }

  /**
   * Ownership ended without a clean revoke (fenced, unknown member): the
   * partitions of generation `generation` are lost. Nothing happens if the
   * member moved to another generation meanwhile.
   */
  async #lose(resetMemberId: boolean, generation = this.#generationId): Promise<void> {
    if (this.#generationId !== generation) return
    this.#stopHeartbeats()
    this.#generationId = -1
    if (resetMemberId) this.#memberId = ''
    this.#rejoinNeeded = true
    this.#transition('unjoined')
    await this.#serial(async () => {
      const owned = this.#hooks.owned()
      if (owned.length > 0) await this.#hooks.revoke(owned, true)
    })
  }

  // ---- heartbeats -----------------------------------------------------------------

  #scheduleHeartbeat(delay = this.#o.heartbeatIntervalMs): void {
    this.#stopHeartbeats()
    this.#heartbeatTimer = setTimeout(() => void this.#heartbeat(), delay)
  }

  #stopHeartbeats(): void {
    if (this.#heartbeatTimer) clearTimeout(this.#heartbeatTimer)
    this.#heartbeatTimer = null
  }

  async #heartbeat(): Promise<void> {
    this.#heartbeatTimer = null
    if (this.#state !== 'stable') return
    const generation = this.#generationId
    try {
      const res = await this.#cluster.sendToCoordinator(
        'group',
        this.groupId,
        heartbeat,
        () => ({ groupId: this.groupId, generationId: generation, memberId: this.#memberId, groupInstanceId: this.#o.groupInstanceId }),
        () => undefined,
        { retry: false, timeoutMs: Math.max(1000, this.#o.sessionTimeoutMs), signal: this.#abort.signal },
      )
      if (this.#state !== 'stable' || generation !== this.#generationId) return
      if (this.#preparing) {
        // Revoking before JoinGroup: the rebalance is known, keep the session alive.
        if (res.errorCode === 0 || res.errorCode === E.REBALANCE_IN_PROGRESS) {
          this.#lastHeartbeatOk = Date.now()
          this.#scheduleHeartbeat()
          return
        }
        if (res.errorCode === E.ILLEGAL_GENERATION || res.errorCode === E.UNKNOWN_MEMBER_ID) {
          // Out of the group already: the JoinGroup that follows starts afresh.
          this.#generationId = -1
          if (res.errorCode === E.UNKNOWN_MEMBER_ID) this.#memberId = ''
          return
        }
      }
      switch (res.errorCode) {
        case 0:
          this.#lastHeartbeatOk = Date.now()
          this.#scheduleHeartbeat()
          return
        case E.REBALANCE_IN_PROGRESS:
          // Keep heartbeating until JoinGroup goes out (eager revocation may take a while).
          this.#lastHeartbeatOk = Date.now()
          this.#scheduleHeartbeat()
          this.requestRejoin('the coordinator started a rebalance')
          return
        case E.ILLEGAL_GENERATION:
        case E.UNKNOWN_MEMBER_ID:
          this.#log('warn', `heartbeat: ${new BrokerError(res.errorCode).code}; partitions are lost`)
          await this.#lose(res.errorCode === E.UNKNOWN_MEMBER_ID, generation)
          this.#wakeLoop?.()
          return
        default:
          this.#check(res, 'Heartbeat')
      }
    } catch (err) {
      if (err instanceof GroupMembershipError) {
        this.#fail(err)
        return
      }
      if (this.#state !== 'stable') return
      if (isCoordinatorError(err) || (err instanceof KafkawireError && err.retriable)) this.#cluster.invalidateCoordinator('group', this.groupId)
      if (Date.now() - this.#lastHeartbeatOk > this.#o.sessionTimeoutMs) {
        // The coordinator has expired our session by now: whatever we own may
        // already belong to someone else, so it is lost, not revoked.
        this.#log('warn', 'no successful heartbeat within the session timeout; partitions are lost')
        await this.#lose(false, generation)
        this.#wakeLoop?.()
        return
      }
      // Keep trying within the session; retry sooner than the interval.
      this.#scheduleHeartbeat(Math.min(this.#o.heartbeatIntervalMs, backoffDelay(1)))
    }
  }

  // ---- leaving --------------------------------------------------------------------

  async #sendLeave(reason: string): Promise<void> {
    if (this.#memberId === '') return
    await this.#cluster
      .sendToCoordinator(
        'group',
        this.groupId,
        leaveGroup,
        (version) =>
          version >= 3
            ? { groupId: this.groupId, members: [{ memberId: this.#memberId, groupInstanceId: this.#o.groupInstanceId, reason }] }
            : { groupId: this.groupId, memberId: this.#memberId },
        () => undefined,
        { retry: false, timeoutMs: 5_000 },
      )
      .catch((err: unknown) => this.#log('warn', `LeaveGroup failed: ${(err as Error).message}`))
  }

  async leaveForStall(): Promise<void> {
    if (this.#state !== 'stable' && this.#state !== 'joining' && this.#state !== 'syncing') return
    this.#log('warn', 'processing stalled beyond maxProcessingIntervalMs; leaving the group until it resumes')
    this.#stopHeartbeats()
    this.#transition('left')
    await this.#sendLeave('consumer processing stalled (maxProcessingIntervalMs)')
    this.#generationId = -1
    this.#memberId = ''
    // The group reassigns them now: processing of these must not commit.
    await this.#serial(async () => {
      const owned = this.#hooks.owned()
      if (owned.length > 0) await this.#hooks.revoke(owned, true)
    })
  }

  resume(): void {
    if (this.#state !== 'left') return
    this.#transition('unjoined')
    this.#rejoinNeeded = true
    this.#wakeLoop?.()
  }

  /**
   * Leaves the group. Static members do not send LeaveGroup (KIP-345): the
   * coordinator keeps their assignment for the session timeout, so a restart
   * within it causes no rebalance.
   */
  async close(): Promise<void> {
    if (this.#state === 'closed') return
    this.#stopHeartbeats()
    const wasMember = this.#state === 'stable' || this.#state === 'joining' || this.#state === 'syncing'
    this.#transition('leaving')
    // Stop what the member loop waits for (a JoinGroup held by the coordinator,
    // a coordinator lookup while it is unreachable) before leaving.
    this.#abort.abort()
    this.#wakeLoop?.()
    if (wasMember && this.#o.groupInstanceId === null) await this.#sendLeave('the consumer is closing')
    this.#transition('closed')
    for (const w of this.#readyWaiters.splice(0)) w.reject(new KafkawireError('CLIENT_CLOSED', 'the consumer closed before joining its group'))
  }
}
