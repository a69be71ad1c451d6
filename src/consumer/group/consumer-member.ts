/**
 * A member of a consumer group using the KIP-848 protocol: the coordinator
 * computes assignments and a member only heartbeats (ConsumerGroupHeartbeat),
 * reconciling toward the target assignment the coordinator sends.
 *
 * States and transitions:
 *
 *   unjoined ──heartbeat epoch 0──▶ joining ──epoch > 0──▶ stable
 *   stable ──new target──▶ reconciling (revoke, then acknowledge by
 *            heartbeating the owned set, then assign) ──▶ stable
 *   any ──FENCED_MEMBER_EPOCH / UNKNOWN_MEMBER_ID──▶ unjoined (partitions lost, rejoin with epoch 0)
 *   stable ──processing stalled──▶ left ──resumed──▶ joining
 *   any ──close()──▶ leaving (epoch -1, or -2 for a static member) ──▶ closed
 *   any ──fenced instance / group full / unsupported──▶ fatal
 *
 * Reconciliation runs beside the heartbeats, not inside them: revoking waits
 * for in-flight processing, and the member must keep heartbeating meanwhile
 * (reporting the partitions it still owns) or the coordinator fences it.
 */
import { randomUUID } from 'node:crypto'
import type { Cluster } from '../../client/cluster.js'
import { isCoordinatorError } from '../../client/cluster.js'
import { backoffDelay } from '../../client/backoff.js'
import { UnsupportedApiError } from '../../client/errors.js'
import { BrokerError, KafkawireError } from '../../protocol/errors.js'
import { consumerGroupHeartbeat } from '../../protocol/messages/consumer-group-heartbeat.js'
import { GroupMembershipError } from '../errors.js'
import type { TopicPartition } from '../fetcher.js'
import type { MemberIdentity } from '../offsets.js'
import { difference, tpKey, type GroupMember, type MembershipHooks } from './membership.js'

export type ConsumerMemberState = 'unjoined' | 'joining' | 'stable' | 'reconciling' | 'left' | 'leaving' | 'closed' | 'fatal'

export interface ConsumerMemberOptions {
  groupId: string
  groupInstanceId: string | null
  rebalanceTimeoutMs: number
  rackId: string | null
  /** Server-side assignor name ('uniform', 'range'); null lets the broker choose. */
  serverAssignor: string | null
  log?: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void
}

const E = {
  UNKNOWN_MEMBER_ID: 25,
  GROUP_AUTHORIZATION_FAILED: 30,
  UNSUPPORTED_VERSION: 35,
  INVALID_REQUEST: 42,
  GROUP_MAX_SIZE_REACHED: 81,
  FENCED_MEMBER_EPOCH: 110,
  UNRELEASED_INSTANCE_ID: 111,
  UNSUPPORTED_ASSIGNOR: 112,
} as const

const FATAL = new Set<number>([E.GROUP_AUTHORIZATION_FAILED, E.UNSUPPORTED_VERSION, E.INVALID_REQUEST, E.GROUP_MAX_SIZE_REACHED, E.UNRELEASED_INSTANCE_ID, E.UNSUPPORTED_ASSIGNOR])

const LEAVE_EPOCH = -1
const STATIC_LEAVE_EPOCH = -2

export class ConsumerMember implements GroupMember {
  readonly groupId: string
  readonly #cluster: Cluster
  readonly #o: ConsumerMemberOptions
  readonly #hooks: MembershipHooks
  #state: ConsumerMemberState = 'unjoined'
  /** v1+: the client generates its member id (KIP-1082); v0 learns it from the first answer. */
  #memberId: string = randomUUID()
  #serverAssignedId = false
  #memberEpoch = 0
  #heartbeatIntervalMs = 3000
  #timer: NodeJS.Timeout | null = null
  #inFlight: Promise<void> | null = null
  /** Latest target assignment from the coordinator, by topic id. */
  #target: Array<{ topicId: string; partitions: number[] }> | null = null
  #reconciling = false
  /** A new target arrived while reconciling: reconcile again afterwards. */
  #reconcileAgain = false
  /** Bumped when ownership ends (fenced, left): a reconciliation in progress stops applying its target. */
  #incarnation = 0
  /** Hooks (revoke, assign) run one at a time, in order. */
  #hookChain: Promise<void> = Promise.resolve()
  /** Aborted by close(): the heartbeat in flight (or its coordinator lookup) is not waited for. */
  readonly #abort = new AbortController()
  #readyWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = []
  #fatalError: KafkawireError | null = null
  #attempt = 0

  constructor(cluster: Cluster, options: ConsumerMemberOptions, hooks: MembershipHooks) {
    this.#cluster = cluster
    this.#o = options
    this.#hooks = hooks
    this.groupId = options.groupId
  }

  get state(): ConsumerMemberState {
    return this.#state
  }

  get memberId(): string {
    return this.#memberId
  }

  get memberEpoch(): number {
    return this.#memberEpoch
  }

  identity(): MemberIdentity {
    return { generationOrEpoch: this.#memberEpoch, memberId: this.#memberId, groupInstanceId: this.#o.groupInstanceId }
  }

  #log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void {
    this.#o.log?.(level, `group ${this.groupId}: ${msg}`)
  }

  #transition(to: ConsumerMemberState): void {
    if (this.#state === to) return
    this.#log('debug', `member ${this.#state} -> ${to}`)
    this.#state = to
  }

  start(): void {
    if (this.#state !== 'unjoined') return
    this.#transition('joining')
    this.#schedule(0)
  }

  ready(): Promise<void> {
    if (this.#state === 'stable' && this.#memberEpoch > 0) return Promise.resolve()
    if (this.#fatalError) return Promise.reject(this.#fatalError)
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }))
  }

  requestRejoin(_reason: string): void {
    // Subscription changes travel in the next heartbeat; send it now.
    if (this.#state === 'stable' || this.#state === 'joining') this.#schedule(0)
  }

  #schedule(delay: number): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#timer = null
      void this.#beat()
    }, delay)
  }

  #stop(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
  }

  #fail(e: KafkawireError): void {
    this.#fatalError = e
    this.#stop()
    this.#transition('fatal')
    for (const w of this.#readyWaiters.splice(0)) w.reject(e)
    this.#hooks.fatal(e)
  }

  #ownedByTopicId(): Array<{ topicId: string; partitions: number[] }> {
    const m = new Map<string, number[]>()
    for (const tp of this.#hooks.owned()) {
      const id = this.#cluster.topic(tp.topic)?.topicId
      if (id === undefined) continue
      const l = m.get(id) ?? []
      l.push(tp.partition)
      m.set(id, l)
    }
    return [...m].map(([topicId, partitions]) => ({ topicId, partitions }))
  }

  async #beat(epochOverride?: number): Promise<void> {
    if (this.#inFlight) return this.#inFlight
    this.#inFlight = this.#doBeat(epochOverride).finally(() => {
      this.#inFlight = null
    })
    return this.#inFlight
  }

  async #doBeat(epochOverride?: number): Promise<void> {
    const leaving = epochOverride !== undefined
    if (!leaving && (this.#state === 'left' || this.#state === 'closed' || this.#state === 'fatal' || this.#state === 'leaving')) return
    const epoch = epochOverride ?? this.#memberEpoch
    try {
      const topics = this.#hooks.subscribedTopics().sort()
      // Owned partitions need topic ids: make sure metadata has them.
      const missing = topics.filter((t) => this.#cluster.topic(t) === undefined)
      if (missing.length > 0) await this.#cluster.refreshMetadata(missing).catch(() => undefined)
      const res = await this.#cluster.sendToCoordinator(
        'group',
        this.groupId,
        consumerGroupHeartbeat,
        (version) => {
          return {
            groupId: this.groupId,
            // v0: the coordinator assigns the id on the first join; v1+: ours (KIP-1082).
            memberId: version === 0 && !this.#serverAssignedId ? '' : this.#memberId,
            memberEpoch: epoch,
            instanceId: this.#o.groupInstanceId,
            rackId: this.#o.rackId,
            rebalanceTimeoutMs: this.#o.rebalanceTimeoutMs,
            subscribedTopicNames: leaving ? null : topics,
            serverAssignor: this.#o.serverAssignor,
            topicPartitions: leaving ? null : this.#ownedByTopicId(),
          }
        },
        () => undefined,
        { retry: false, timeoutMs: Math.max(5_000, this.#heartbeatIntervalMs * 2), ...(leaving ? {} : { signal: this.#abort.signal }) },
      )
      if (leaving) return
      if (res.errorCode !== 0) {
        const err = new BrokerError(res.errorCode, { groupId: this.groupId, apiName: 'ConsumerGroupHeartbeat' }, res.errorMessage)
        if (res.errorCode === E.FENCED_MEMBER_EPOCH || res.errorCode === E.UNKNOWN_MEMBER_ID) {
          this.#log('warn', `${err.code}: partitions are lost, rejoining`)
          await this.#lose()
          this.#schedule(0)
          return
        }
        if (FATAL.has(res.errorCode)) {
          this.#fail(new GroupMembershipError(err.code, `ConsumerGroupHeartbeat failed for group ${this.groupId}: ${err.message}`, { groupId: this.groupId }, err))
          return
        }
        throw err
      }
      this.#attempt = 0
      if (res.memberId !== null && res.memberId !== '') {
        this.#memberId = res.memberId
        this.#serverAssignedId = true
      }
      this.#memberEpoch = res.memberEpoch
      if (res.heartbeatIntervalMs > 0) this.#heartbeatIntervalMs = res.heartbeatIntervalMs
      if (res.assignment !== null) this.#target = res.assignment.topicPartitions
      if (this.#state === 'joining' && this.#memberEpoch > 0) this.#transition('stable')
      this.#schedule(this.#heartbeatIntervalMs)
      void this.#reconcileLoop()
    } catch (err) {
      if (leaving) throw err
      if (err instanceof UnsupportedApiError) {
        this.#fail(new GroupMembershipError('UNSUPPORTED_VERSION', `the broker does not support the consumer group protocol (KIP-848): ${err.message}; use groupProtocol 'classic'`, { groupId: this.groupId }, err))
        return
      }
      if (isCoordinatorError(err) || (err instanceof KafkawireError && err.retriable)) this.#cluster.invalidateCoordinator('group', this.groupId)
      this.#log('warn', `heartbeat failed: ${(err as Error).message}`)
      this.#schedule(Math.min(this.#heartbeatIntervalMs, backoffDelay(this.#attempt++)))
    }
  }

  #serial(fn: () => Promise<void>): Promise<void> {
    const run = this.#hookChain.then(fn)
    this.#hookChain = run.catch(() => undefined)
    return run
  }

  async #reconcileLoop(): Promise<void> {
    if (this.#reconciling) {
      this.#reconcileAgain = true
      return
    }
    this.#reconciling = true
    try {
      do {
        this.#reconcileAgain = false
        await this.#reconcile()
      } while (this.#reconcileAgain)
    } catch (err) {
      this.#log('warn', `reconciliation failed: ${(err as Error).message}; retrying with the next heartbeat`)
    } finally {
      this.#reconciling = false
    }
  }

  /**
   * Moves toward the target: first revoke what left the target (commit,
   * listener), then assign what is new. The next heartbeat reports the new
   * owned set, which is how the coordinator learns the revocation is done.
   */
  async #reconcile(): Promise<void> {
    const targetIds = this.#target
    if (targetIds === null || this.#memberEpoch <= 0) return
    const incarnation = this.#incarnation
    const target: TopicPartition[] = []
    const unknownIds: string[] = []
    for (const t of targetIds) {
      const name = this.#cluster.topicNameById(t.topicId)
      if (name === undefined) unknownIds.push(t.topicId)
      else for (const p of t.partitions) target.push({ topic: name, partition: p })
    }
    if (unknownIds.length > 0) {
      // Learn names of topic ids we have not seen yet, then try again.
      await this.#cluster.refreshMetadata('all').catch(() => undefined)
      for (const t of targetIds) {
        if (!unknownIds.includes(t.topicId)) continue
        const name = this.#cluster.topicNameById(t.topicId)
        if (name !== undefined) for (const p of t.partitions) target.push({ topic: name, partition: p })
      }
    }
    let changed = false
    await this.#serial(async () => {
      if (this.#incarnation !== incarnation) return
      const owned = this.#hooks.owned()
      const revoke = difference(owned, target)
      const add = difference(target, owned)
      if (revoke.length === 0 && add.length === 0) return
      changed = true
      this.#transition('reconciling')
      if (revoke.length > 0) await this.#hooks.revoke(revoke, false)
      if (add.length > 0 && this.#incarnation === incarnation) await this.#hooks.assign(add)
    })
    if (this.#incarnation !== incarnation) return
    if (this.#state === 'reconciling') this.#transition('stable')
    if (this.#state === 'stable') for (const w of this.#readyWaiters.splice(0)) w.resolve()
    // Acknowledge at once so revoked partitions reach their new owners quickly.
    if (changed && this.#state === 'stable') this.#schedule(0)
  }

  async #lose(): Promise<void> {
    this.#incarnation++
    this.#memberEpoch = 0
    this.#target = null
    this.#transition('joining')
    await this.#serial(async () => {
      const owned = this.#hooks.owned()
      if (owned.length > 0) await this.#hooks.revoke(owned, true)
    })
  }

  async leaveForStall(): Promise<void> {
    if (this.#state !== 'stable' && this.#state !== 'reconciling' && this.#state !== 'joining') return
    this.#log('warn', 'processing stalled beyond maxProcessingIntervalMs; leaving the group until it resumes')
    this.#stop()
    this.#transition('left')
    this.#incarnation++
    await this.#beat(this.#o.groupInstanceId === null ? LEAVE_EPOCH : STATIC_LEAVE_EPOCH).catch(() => undefined)
    this.#memberEpoch = 0
    this.#target = null
    await this.#serial(async () => {
      const owned = this.#hooks.owned()
      if (owned.length > 0) await this.#hooks.revoke(owned, true)
    })
  }

  resume(): void {
    if (this.#state !== 'left') return
    this.#transition('joining')
    this.#schedule(0)
  }

  /** Leaves with epoch -1, or -2 for a static member so its assignment is kept for its return (KIP-848). */
  async close(): Promise<void> {
    if (this.#state === 'closed') return
    this.#stop()
    const wasMember = this.#memberEpoch > 0
    this.#transition('leaving')
    this.#abort.abort()
    if (this.#inFlight) await this.#inFlight.catch(() => undefined)
    if (wasMember) {
      await this.#beat(this.#o.groupInstanceId === null ? LEAVE_EPOCH : STATIC_LEAVE_EPOCH).catch((err: unknown) =>
        this.#log('warn', `leave heartbeat failed: ${(err as Error).message}`),
      )
    }
    this.#transition('closed')
    for (const w of this.#readyWaiters.splice(0)) w.reject(new KafkawireError('CLIENT_CLOSED', 'the consumer closed before joining its group'))
  }

  /** For tests and diagnostics. */
  targetKeys(): string[] {
    return (this.#target ?? []).flatMap((t) => t.partitions.map((p) => tpKey({ topic: t.topicId, partition: p })))
  }
}
