/**
 * Client-side partition assignors for the classic group protocol. The group
 * leader runs one to split partitions among members. Names match the
 * reference client ('range', 'roundrobin', 'cooperative-sticky') so a group
 * mixing kafkawire and Java members agrees on the protocol.
 */
import type { TopicPartition } from '../fetcher.js'

export interface MemberSubscription {
  memberId: string
  groupInstanceId: string | null
  topics: string[]
  ownedPartitions: TopicPartition[]
  /** Generation of the owned partitions (ConsumerProtocolSubscription v2+), -1 when unknown. */
  generationId: number
  rackId: string | null
  userData: Buffer | null
}

export type RebalanceProtocol = 'eager' | 'cooperative'

export interface Assignor {
  readonly name: string
  readonly protocol: RebalanceProtocol
  /** Extra data for the subscription; cooperative-sticky sends its generation like the reference. */
  userData?(generationId: number): Buffer | null
  /** Returns partitions per member id. `partitions` maps each subscribed topic to its partition count. */
  assign(members: readonly MemberSubscription[], partitions: ReadonlyMap<string, number>): Map<string, TopicPartition[]>
}

/** The reference's member order (AbstractPartitionAssignor.MemberInfo): static members by instance id first, then member id. */
export function compareMembers(a: MemberSubscription, b: MemberSubscription): number {
  if (a.groupInstanceId !== null && b.groupInstanceId !== null) return cmp(a.groupInstanceId, b.groupInstanceId)
  if (a.groupInstanceId !== null) return -1
  if (b.groupInstanceId !== null) return 1
  return cmp(a.memberId, b.memberId)
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function emptyAssignment(members: readonly MemberSubscription[]): Map<string, TopicPartition[]> {
  const out = new Map<string, TopicPartition[]>()
  for (const m of members) out.set(m.memberId, [])
  return out
}

/** Per topic, consecutive ranges of partitions to members in order (RangeAssignor). */
export const rangeAssignor: Assignor = {
  name: 'range',
  protocol: 'eager',
  assign(members, partitions) {
    const out = emptyAssignment(members)
    const topics = [...new Set(members.flatMap((m) => m.topics))].sort()
    for (const topic of topics) {
      const n = partitions.get(topic)
      if (n === undefined) continue
      const consumers = members.filter((m) => m.topics.includes(topic)).sort(compareMembers)
      const per = Math.floor(n / consumers.length)
      const extra = n % consumers.length
      consumers.forEach((m, i) => {
        const start = per * i + Math.min(i, extra)
        const len = per + (i < extra ? 1 : 0)
        for (let p = start; p < start + len; p++) out.get(m.memberId)!.push({ topic, partition: p })
      })
    }
    return out
  },
}

/** All partitions in (topic, partition) order dealt to members in turn, skipping unsubscribed ones (RoundRobinAssignor). */
export const roundRobinAssignor: Assignor = {
  name: 'roundrobin',
  protocol: 'eager',
  assign(members, partitions) {
    const out = emptyAssignment(members)
    const sorted = [...members].sort(compareMembers)
    if (sorted.length === 0) return out
    const topics = [...new Set(members.flatMap((m) => m.topics))].filter((t) => partitions.has(t)).sort()
    let i = 0
    for (const topic of topics) {
      for (let p = 0; p < partitions.get(topic)!; p++) {
        for (let tries = 0; tries < sorted.length; tries++) {
          const m = sorted[i % sorted.length]!
          i++
          if (m.topics.includes(topic)) {
            out.get(m.memberId)!.push({ topic, partition: p })
            break
          }
        }
      }
    }
    return out
  },
}

const tpKey = (topic: string, partition: number): string => `${topic}\0${partition}`

/**
 * Sticky, balanced assignment for the cooperative protocol (KIP-429):
 * members keep what they validly own, unowned partitions go to the least
 * loaded eligible member, and partitions move from the most to the least
 * loaded member until no eligible pair differs by more than one. A partition
 * that changes owner is withheld from its new owner this round: the old
 * owner revokes it first and the follow-up rebalance hands it over
 * (CooperativeStickyAssignor.adjustAssignment). "Old owner" means any member
 * that still lists the partition as owned, valid claim or not.
 */
export const cooperativeStickyAssignor: Assignor = {
  name: 'cooperative-sticky',
  protocol: 'cooperative',
  userData(generationId) {
    // The reference encodes the generation as userData for members that
    // predate ConsumerProtocolSubscription v2; send it the same way.
    const b = Buffer.alloc(4)
    b.writeInt32BE(generationId)
    return b
  },
  assign(members, partitions) {
    const out = emptyAssignment(members)
    if (members.length === 0) return out
    const sorted = [...members].sort(compareMembers)
    const generationOf = (m: MemberSubscription): number => (m.generationId >= 0 ? m.generationId : m.userData !== null && m.userData.length >= 4 ? m.userData.readInt32BE(0) : -1)

    // 1. Valid previous ownership: the highest generation's claim wins; two
    //    claims at the same generation cancel each other.
    const claims = new Map<string, { member: string; generation: number; conflict: boolean }>()
    for (const m of sorted) {
      const g = generationOf(m)
      for (const tp of m.ownedPartitions) {
        const n = partitions.get(tp.topic)
        if (n === undefined || tp.partition >= n || !m.topics.includes(tp.topic)) continue
        const k = tpKey(tp.topic, tp.partition)
        const c = claims.get(k)
        if (c === undefined || g > c.generation) claims.set(k, { member: m.memberId, generation: g, conflict: false })
        else if (g === c.generation && c.member !== m.memberId) c.conflict = true
      }
    }
    const previousOwner = new Map<string, string>()
    for (const [k, c] of claims) if (!c.conflict) previousOwner.set(k, c.member)

    // 2. Keep owned partitions, then place the rest on the least loaded eligible member.
    const load = new Map<string, Set<string>>()
    for (const m of sorted) load.set(m.memberId, new Set())
    const eligible = new Map<string, MemberSubscription[]>()
    for (const [topic] of partitions) eligible.set(topic, sorted.filter((m) => m.topics.includes(topic)))
    const all: Array<[string, number]> = []
    for (const [topic, n] of [...partitions].sort((a, b) => cmp(a[0], b[0]))) {
      if (eligible.get(topic)!.length === 0) continue
      for (let p = 0; p < n; p++) all.push([topic, p])
    }
    const unassigned: Array<[string, number]> = []
    for (const [topic, p] of all) {
      const owner = previousOwner.get(tpKey(topic, p))
      if (owner !== undefined) load.get(owner)!.add(tpKey(topic, p))
      else unassigned.push([topic, p])
    }
    for (const [topic, p] of unassigned) {
      const target = eligible.get(topic)!.reduce((best, m) => (load.get(m.memberId)!.size < load.get(best.memberId)!.size ? m : best))
      load.get(target.memberId)!.add(tpKey(topic, p))
    }

    // 3. Balance: move one partition from the most loaded member to a less
    //    loaded eligible one while that narrows the gap. Each move lowers the
    //    sum of squared loads, so this terminates.
    for (let moved = true; moved; ) {
      moved = false
      const byLoad = [...sorted].sort((a, b) => load.get(b.memberId)!.size - load.get(a.memberId)!.size || compareMembers(a, b))
      for (const heavy of byLoad) {
        const hs = load.get(heavy.memberId)!
        for (const k of [...hs].sort()) {
          const topic = k.slice(0, k.indexOf('\0'))
          const light = eligible
            .get(topic)!
            .filter((m) => load.get(m.memberId)!.size + 1 < hs.size)
            .sort((a, b) => load.get(a.memberId)!.size - load.get(b.memberId)!.size || compareMembers(a, b))[0]
          if (light === undefined) continue
          hs.delete(k)
          load.get(light.memberId)!.add(k)
          moved = true
          break
        }
        if (moved) break
      }
    }

    // 4. Withhold partitions that change owner until their holder revoked
    //    them: a partition goes to a member only if it validly owned it, or
    //    if no other member still holds it. Holders include members whose
    //    claim is void (a topic they no longer subscribe to, a claim disputed
    //    at the same generation): they consume it until they revoke it
    //    (CooperativeStickyAssignor.computePartitionsTransferringOwnership).
    const holders = new Map<string, string[]>()
    for (const m of sorted) {
      for (const tp of m.ownedPartitions) {
        const k = tpKey(tp.topic, tp.partition)
        const l = holders.get(k)
        if (l === undefined) holders.set(k, [m.memberId])
        else l.push(m.memberId)
      }
    }
    for (const m of sorted) {
      const list = out.get(m.memberId)!
      for (const k of [...load.get(m.memberId)!].sort()) {
        if (previousOwner.get(k) !== m.memberId && (holders.get(k) ?? []).some((h) => h !== m.memberId)) continue
        const i = k.indexOf('\0')
        list.push({ topic: k.slice(0, i), partition: Number(k.slice(i + 1)) })
      }
    }
    return out
  },
}

export type AssignorName = 'range' | 'roundrobin' | 'cooperative-sticky'

export function resolveAssignors(spec: ReadonlyArray<AssignorName | Assignor> | undefined): Assignor[] {
  const list = spec ?? ['cooperative-sticky']
  if (list.length === 0) throw new TypeError('at least one assignor is needed')
  return list.map((a) => {
    if (typeof a !== 'string') return a
    if (a === 'range') return rangeAssignor
    if (a === 'roundrobin') return roundRobinAssignor
    if (a === 'cooperative-sticky') return cooperativeStickyAssignor
    throw new TypeError(`unknown assignor ${String(a)}`)
  })
}
