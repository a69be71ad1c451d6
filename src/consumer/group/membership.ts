/**
 * What a group member needs from the consumer, whichever group protocol it
 * speaks (classic JoinGroup/SyncGroup or KIP-848 ConsumerGroupHeartbeat).
 */
import type { KafkawireError } from '../../protocol/errors.js'
import type { TopicPartition } from '../fetcher.js'
import type { MemberIdentity } from '../offsets.js'

export interface MembershipHooks {
  /** Topics the member subscribes to now (a pattern already resolved). */
  subscribedTopics(): string[]
  /** Partitions the member owns now. */
  owned(): TopicPartition[]
  /**
   * Partitions are leaving: stop fetching them, let in-flight processing
   * finish, commit what was processed, call the application's listener.
   * `lost` means ownership already ended (fenced, session expired): then
   * nothing is committed and onLost is called instead.
   */
  revoke(tps: TopicPartition[], lost: boolean): Promise<void>
  /** Partitions arrive: set their positions from committed offsets and start fetching. */
  assign(tps: TopicPartition[]): Promise<void>
  /** The member cannot continue (fenced static member, group full, ...). */
  fatal(err: KafkawireError): void
}

export interface GroupMember {
  readonly groupId: string
  readonly state: string
  /** For OffsetCommit/OffsetFetch and TxnOffsetCommit: generation (or member epoch), member id, instance id. */
  identity(): MemberIdentity
  start(): void
  /** Rejoin at the next opportunity (subscription or metadata changed). */
  requestRejoin(reason: string): void
  /** Called when processing stalls beyond maxProcessingIntervalMs: leave the group cleanly. */
  leaveForStall(): Promise<void>
  /** Processing resumed after a stall: join again. */
  resume(): void
  /** Leaves the group (dynamic members) and stops. */
  close(): Promise<void>
  /** Resolves once the member has an assignment (or failed). */
  ready(): Promise<void>
}

export function tpKey(tp: TopicPartition): string {
  return `${tp.topic}\0${tp.partition}`
}

export function difference(a: readonly TopicPartition[], b: readonly TopicPartition[]): TopicPartition[] {
  const s = new Set(b.map(tpKey))
  return a.filter((x) => !s.has(tpKey(x)))
}

export function groupByTopic(tps: readonly TopicPartition[]): Array<{ topic: string; partitions: number[] }> {
  const m = new Map<string, number[]>()
  for (const tp of tps) {
    const l = m.get(tp.topic) ?? []
    l.push(tp.partition)
    m.set(tp.topic, l)
  }
  return [...m].map(([topic, partitions]) => ({ topic, partitions: partitions.sort((x, y) => x - y) }))
}
