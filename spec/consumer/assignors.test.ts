// Client-side assignors of the classic group protocol. Range and round-robin must produce exactly what
// the reference client's RangeAssignor / RoundRobinAssignor produce (a group may mix kafkawire and Java
// members, and whichever is leader assigns): the oracles below are line-by-line ports of the reference
// algorithms (kafka-clients 4.3.1, without rack awareness), checked against examples from the reference's
// own documentation and against our implementation on generated groups. Cooperative-sticky is checked for
// its promises: validity, balance, stickiness, and withholding partitions that change owner (KIP-429).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import {
  compareMembers,
  cooperativeStickyAssignor,
  rangeAssignor,
  resolveAssignors,
  roundRobinAssignor,
  type Assignor,
  type MemberSubscription,
} from '../../src/consumer/group/assignors.js'
import type { TopicPartition } from '../../src/consumer/fetcher.js'

const member = (memberId: string, topics: string[], o: Partial<MemberSubscription> = {}): MemberSubscription => ({
  memberId,
  groupInstanceId: null,
  topics,
  ownedPartitions: [],
  generationId: -1,
  rackId: null,
  userData: null,
  ...o,
})

const tps = (spec: string): TopicPartition[] =>
  spec === ''
    ? []
    : spec.split(' ').map((s) => {
        const i = s.lastIndexOf('-')
        return { topic: s.slice(0, i), partition: Number(s.slice(i + 1)) }
      })

const show = (list: readonly TopicPartition[]): string =>
  [...list]
    .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
    .map((tp) => `${tp.topic}-${tp.partition}`)
    .join(' ')

const asObject = (m: Map<string, TopicPartition[]>): Record<string, string> => Object.fromEntries([...m].map(([k, v]) => [k, show(v)]))

// ---- oracles: the reference algorithms, ported ------------------------------------------------

/** MemberInfo.compareTo: static members first by group.instance.id, then member id (Java String order). */
function memberInfoCompare(a: MemberSubscription, b: MemberSubscription): number {
  const javaCompare = (x: string, y: string): number => {
    const n = Math.min(x.length, y.length)
    for (let i = 0; i < n; i++) if (x.charCodeAt(i) !== y.charCodeAt(i)) return x.charCodeAt(i) - y.charCodeAt(i)
    return x.length - y.length
  }
  if (a.groupInstanceId !== null && b.groupInstanceId !== null) return javaCompare(a.groupInstanceId, b.groupInstanceId)
  if (a.groupInstanceId !== null) return -1
  if (b.groupInstanceId !== null) return 1
  return javaCompare(a.memberId, b.memberId)
}

/** RangeAssignor.assignPartitions with TopicAssignmentState / assignRanges, racks absent. */
function referenceRange(members: MemberSubscription[], partitionsPerTopic: Map<string, number>): Map<string, TopicPartition[]> {
  const assignment = new Map<string, TopicPartition[]>(members.map((m) => [m.memberId, []]))
  const consumersPerTopic = new Map<string, MemberSubscription[]>()
  for (const m of members) for (const t of m.topics) consumersPerTopic.set(t, [...(consumersPerTopic.get(t) ?? []), m])
  for (const [topic, n] of partitionsPerTopic) {
    if (n === 0) continue // partitionsPerTopic.filter(!isEmpty)
    const consumers = [...(consumersPerTopic.get(topic) ?? [])].sort(memberInfoCompare)
    const unassigned: TopicPartition[] = Array.from({ length: n }, (_, p) => ({ topic, partition: p }))
    const numAssigned = new Map(consumers.map((c) => [c.memberId, 0]))
    const numPartitionsPerConsumer = consumers.length === 0 ? 0 : Math.floor(n / consumers.length)
    let remainingConsumersWithExtraPartition = consumers.length === 0 ? 0 : n % consumers.length
    const maxAssignable = (c: string): number => Math.max(0, numPartitionsPerConsumer + (remainingConsumersWithExtraPartition > 0 ? 1 : 0) - numAssigned.get(c)!)
    for (const c of consumers) {
      if (unassigned.length === 0) break
      const assignable = unassigned.slice(0, maxAssignable(c.memberId))
      if (assignable.length === 0) continue
      assignment.get(c.memberId)!.push(...assignable)
      const total = numAssigned.get(c.memberId)! + assignable.length
      numAssigned.set(c.memberId, total)
      if (total > numPartitionsPerConsumer) remainingConsumersWithExtraPartition--
      unassigned.splice(0, assignable.length)
    }
  }
  return assignment
}

/** RoundRobinAssignor.assign: a CircularIterator over sorted members, partitions of the sorted topic set in order. */
function referenceRoundRobin(members: MemberSubscription[], partitionsPerTopic: Map<string, number>): Map<string, TopicPartition[]> {
  const assignment = new Map<string, TopicPartition[]>(members.map((m) => [m.memberId, []]))
  const sorted = [...members].sort(memberInfoCompare)
  let cursor = 0
  const peek = (): MemberSubscription => sorted[cursor % sorted.length]!
  const next = (): MemberSubscription => sorted[cursor++ % sorted.length]!
  const topics = [...new Set(members.flatMap((m) => m.topics))].sort()
  for (const topic of topics) {
    const n = partitionsPerTopic.get(topic)
    if (n === undefined) continue
    for (let p = 0; p < n; p++) {
      while (!peek().topics.includes(topic)) next()
      assignment.get(next().memberId)!.push({ topic, partition: p })
    }
  }
  return assignment
}

// ---- generated groups -------------------------------------------------------------------------

const TOPICS = ['alpha', 'beta', 'gamma', 'delta']

interface Group {
  members: MemberSubscription[]
  partitions: Map<string, number>
}

/** Members with distinct ids (some static), each subscribed to a non-empty subset of the topics; topics with 0..12 partitions, some without metadata. */
const groupArb = (o: { homogeneous?: boolean } = {}): fc.Arbitrary<Group> =>
  fc
    .record({
      ids: fc.uniqueArray(fc.stringMatching(/^[a-zA-Z0-9_-]{1,8}$/), { minLength: 1, maxLength: 7 }),
      statics: fc.array(fc.option(fc.stringMatching(/^[a-z0-9]{1,6}$/), { nil: null }), { minLength: 7, maxLength: 7 }),
      subs: fc.array(fc.subarray(TOPICS, { minLength: 1 }), { minLength: 7, maxLength: 7 }),
      counts: fc.array(fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined, freq: 8 }), { minLength: TOPICS.length, maxLength: TOPICS.length }),
    })
    .map(({ ids, statics, subs, counts }) => {
      const usedInstances = new Set<string>()
      const members = ids.map((id, i) => {
        let instance = statics[i] ?? null
        if (instance !== null && usedInstances.has(instance)) instance = null
        if (instance !== null) usedInstances.add(instance)
        return member(id, o.homogeneous ? [...subs[0]!] : [...subs[i]!], { groupInstanceId: instance })
      })
      const partitions = new Map<string, number>()
      TOPICS.forEach((t, i) => {
        if (counts[i] !== undefined) partitions.set(t, counts[i]!)
      })
      return { members, partitions }
    })

/** Every partition of a topic some member subscribes to is assigned exactly once, to a subscriber. */
function assertValid(g: Group, result: Map<string, TopicPartition[]>, what: string): void {
  assert.deepEqual([...result.keys()].sort(), g.members.map((m) => m.memberId).sort(), `${what}: one entry per member`)
  const seen = new Map<string, string>()
  for (const [id, list] of result) {
    const m = g.members.find((x) => x.memberId === id)!
    for (const tp of list) {
      const k = `${tp.topic}-${tp.partition}`
      assert.ok(!seen.has(k), `${what}: ${k} assigned to ${seen.get(k)} and ${id}`)
      seen.set(k, id)
      assert.ok(m.topics.includes(tp.topic), `${what}: ${id} got ${k} without subscribing to ${tp.topic}`)
    }
  }
  for (const [topic, n] of g.partitions) {
    if (!g.members.some((m) => m.topics.includes(topic))) continue
    for (let p = 0; p < n; p++) assert.ok(seen.has(`${topic}-${p}`), `${what}: ${topic}-${p} unassigned`)
  }
}

function loads(result: Map<string, TopicPartition[]>): number[] {
  return [...result.values()].map((l) => l.length)
}

// ---- range and round-robin --------------------------------------------------------------------

describe('range and round-robin: what the reference client computes', () => {
  test('range: the reference documentation example (two consumers, two topics of three partitions)', () => {
    const result = rangeAssignor.assign([member('C1', ['t0', 't1']), member('C0', ['t0', 't1'])], new Map([['t0', 3], ['t1', 3]]))
    assert.deepEqual(asObject(result), { C1: 't0-2 t1-2', C0: 't0-0 t0-1 t1-0 t1-1' })
  })

  test('range: leftover partitions go to the first members in order; static members sort first by instance id', () => {
    const members = [member('m-a', ['t']), member('m-b', ['t'], { groupInstanceId: 'zz' }), member('m-c', ['t'], { groupInstanceId: 'aa' })]
    assert.deepEqual(asObject(rangeAssignor.assign(members, new Map([['t', 8]]))), { 'm-c': 't-0 t-1 t-2', 'm-b': 't-3 t-4 t-5', 'm-a': 't-6 t-7' })
  })

  test('round-robin: the reference documentation example with unequal subscriptions', () => {
    const members = [member('C0', ['t0']), member('C1', ['t0', 't1']), member('C2', ['t0', 't1', 't2'])]
    const result = roundRobinAssignor.assign(members, new Map([['t0', 1], ['t1', 2], ['t2', 3]]))
    assert.deepEqual(asObject(result), { C0: 't0-0', C1: 't1-0', C2: 't1-1 t2-0 t2-1 t2-2' })
  })

  test('round-robin: partitions dealt over topics in name order, one member after the other', () => {
    const members = [member('c2', ['t1', 't0']), member('c0', ['t0', 't1']), member('c1', ['t0', 't1'])]
    const result = roundRobinAssignor.assign(members, new Map([['t1', 3], ['t0', 8]]))
    assert.deepEqual(asObject(result), { c2: 't0-2 t0-5 t1-0', c0: 't0-0 t0-3 t0-6 t1-1', c1: 't0-1 t0-4 t0-7 t1-2' })
  })

  test('member order is Java String order (UTF-16 code units), not locale order', () => {
    const members = [member('b', ['t']), member('B', ['t']), member('a', ['t']), member('\u00e9', ['t'])]
    assert.deepEqual([...members].sort(compareMembers).map((m) => m.memberId), ['B', 'a', 'b', '\u00e9'])
    assert.deepEqual(asObject(rangeAssignor.assign(members, new Map([['t', 4]]))), { b: 't-2', B: 't-0', a: 't-1', '\u00e9': 't-3' })
  })

  test('property: range equals the ported reference algorithm on generated groups', () => {
    fc.assert(
      fc.property(groupArb(), (g) => {
        assert.deepEqual(asObject(rangeAssignor.assign(g.members, g.partitions)), asObject(referenceRange(g.members, g.partitions)))
      }),
      { numRuns: 500 },
    )
  })

  test('property: round-robin equals the ported reference algorithm on generated groups', () => {
    fc.assert(
      fc.property(groupArb(), (g) => {
        assert.deepEqual(asObject(roundRobinAssignor.assign(g.members, g.partitions)), asObject(referenceRoundRobin(g.members, g.partitions)))
      }),
      { numRuns: 500 },
    )
  })

  for (const a of [rangeAssignor, roundRobinAssignor]) {
    test(`property: ${a.name} assigns every partition exactly once among its subscribers`, () => {
      fc.assert(fc.property(groupArb(), (g) => assertValid(g, a.assign(g.members, g.partitions), a.name)), { numRuns: 300 })
    })
  }

  test('property: with one subscription for all, round-robin loads differ by at most one', () => {
    fc.assert(
      fc.property(groupArb({ homogeneous: true }), (g) => {
        const l = loads(roundRobinAssignor.assign(g.members, g.partitions))
        assert.ok(Math.max(...l) - Math.min(...l) <= 1, `loads ${l.join(',')}`)
      }),
      { numRuns: 300 },
    )
  })

  test('property: with one subscription for all, range loads per topic differ by at most one', () => {
    fc.assert(
      fc.property(groupArb({ homogeneous: true }), (g) => {
        const result = rangeAssignor.assign(g.members, g.partitions)
        for (const topic of g.partitions.keys()) {
          const l = [...result.values()].map((list) => list.filter((tp) => tp.topic === topic).length)
          assert.ok(Math.max(...l) - Math.min(...l) <= 1, `${topic}: loads ${l.join(',')}`)
        }
      }),
      { numRuns: 300 },
    )
  })
})

// ---- cooperative-sticky -----------------------------------------------------------------------

/** One rebalance: members report what they own (at `generation`), the leader assigns, each member keeps its assignment. */
function rebalance(members: MemberSubscription[], partitions: Map<string, number>, owned: Map<string, TopicPartition[]>, generation: number): Map<string, TopicPartition[]> {
  const subs = members.map((m) => ({ ...m, ownedPartitions: owned.get(m.memberId) ?? [], generationId: owned.has(m.memberId) ? generation : -1 }))
  return cooperativeStickyAssignor.assign(subs, partitions)
}

/** Rebalances until an assignment hands out nothing that was withheld (at most `rounds`). */
function converge(members: MemberSubscription[], partitions: Map<string, number>, owned: Map<string, TopicPartition[]>, generation: number, rounds = 4): { result: Map<string, TopicPartition[]>; rounds: number } {
  let current = owned
  for (let i = 1; i <= rounds; i++) {
    const next = rebalance(members, partitions, current, generation + i - 1)
    const total = (m: Map<string, TopicPartition[]>): number => [...m.values()].reduce((n, l) => n + l.length, 0)
    if (show([...next.values()].flat()) === show([...current.values()].flat()) && total(next) === total(current) && i > 1) return { result: next, rounds: i }
    current = next
  }
  return { result: current, rounds }
}

describe('cooperative-sticky', () => {
  test('a new member takes partitions only after their owner gave them up: they are withheld for one round', () => {
    const partitions = new Map([['t', 6]])
    const first = rebalance([member('a', ['t'])], partitions, new Map(), 0)
    assert.equal(show(first.get('a')!), 't-0 t-1 t-2 t-3 t-4 t-5')
    const members = [member('a', ['t']), member('b', ['t'])]
    const second = rebalance(members, partitions, new Map([['a', first.get('a')!]]), 1)
    // a keeps three, b gets nothing yet: the three moving partitions are withheld until a revoked them.
    assert.equal(second.get('a')!.length, 3)
    assert.equal(second.get('b')!.length, 0)
    const third = rebalance(members, partitions, new Map([['a', second.get('a')!], ['b', []]]), 2)
    assert.equal(show(third.get('a')!), show(second.get('a')!), 'a keeps what it kept')
    assert.equal(third.get('b')!.length, 3)
    assertValid({ members, partitions }, third, 'third round')
  })

  test('the generation is sent as userData too (for members that predate ConsumerProtocolSubscription v2), as the reference does', () => {
    const data = cooperativeStickyAssignor.userData!(7)!
    assert.deepEqual([...data], [0, 0, 0, 7])
    // And it is read back when a subscription carries no generation field: the newer claim wins.
    const result = cooperativeStickyAssignor.assign(
      [
        member('old', ['t'], { ownedPartitions: tps('t-0 t-1'), generationId: -1, userData: cooperativeStickyAssignor.userData!(3) }),
        member('new', ['t'], { ownedPartitions: tps('t-0 t-1'), generationId: -1, userData: cooperativeStickyAssignor.userData!(5) }),
      ],
      new Map([['t', 2]]),
    )
    assert.equal(result.get('new')!.length, 1, 'the newer generation keeps one of its partitions (balance moves the other)')
    assert.equal(show(result.get('old')!), '', 'the moving partition is withheld: the newer owner still holds it')
  })

  test('two claims on one partition in the same generation void each other; it is handed out once neither holds it', () => {
    const members = [member('a', ['t'], { ownedPartitions: tps('t-0'), generationId: 4 }), member('b', ['t'], { ownedPartitions: tps('t-0 t-1'), generationId: 4 })]
    const partitions = new Map([['t', 2]])
    const first = cooperativeStickyAssignor.assign(members, partitions)
    assert.equal(show(first.get('b')!), 't-1', 'b keeps its undisputed partition')
    assert.equal(show(first.get('a')!), '', 't-0 is withheld while both hold it')
    const second = rebalance(members, partitions, first, 5)
    assert.equal(show([...second.values()].flat()), 't-0 t-1')
  })

  test('a partition of a topic its holder no longer subscribes to moves only after the holder gave it up', () => {
    // a unsubscribed from u but still consumes u-0 until its next assignment makes it revoke u-0.
    const members = [member('a', ['t'], { ownedPartitions: tps('t-0 u-0'), generationId: 2 }), member('b', ['t', 'u'], { ownedPartitions: [], generationId: 2 })]
    const partitions = new Map([['t', 2], ['u', 1]])
    const first = cooperativeStickyAssignor.assign(members, partitions)
    assert.equal(show(first.get('a')!), 't-0')
    assert.equal(show(first.get('b')!), 't-1', 'u-0 is withheld from b while a holds it')
    const second = rebalance(members, partitions, first, 3)
    assert.equal(show(second.get('b')!), 't-1 u-0')
  })

  test('property: no partition is assigned twice, nor to a member not subscribed to its topic', () => {
    fc.assert(
      fc.property(groupArb(), fc.integer({ min: 0, max: 0xffff }), (g, seed) => {
        // Owned partitions: an earlier valid assignment, rotated among the members (so some own
        // partitions of topics they do not subscribe to).
        const earlier = [...rangeAssignor.assign(g.members, g.partitions).values()]
        const owned = new Map(g.members.map((m, i) => [m.memberId, earlier[(i + seed) % earlier.length]!]))
        const result = rebalance(g.members, g.partitions, owned, 3)
        const seen = new Set<string>()
        for (const [id, list] of result) {
          const m = g.members.find((x) => x.memberId === id)!
          for (const tp of list) {
            const k = `${tp.topic}-${tp.partition}`
            assert.ok(!seen.has(k), `${k} twice`)
            seen.add(k)
            assert.ok(m.topics.includes(tp.topic), `${id} got ${k} without subscribing`)
          }
        }
      }),
      { numRuns: 300 },
    )
  })

  test('property: withholding — a partition never goes to a member while another member validly owns it', () => {
    fc.assert(
      fc.property(groupArb(), (g) => {
        // First round: a subset of members; then everyone.
        const firstMembers = g.members.slice(0, Math.max(1, Math.floor(g.members.length / 2)))
        const first = converge(firstMembers, g.partitions, new Map(), 1).result
        const second = rebalance(g.members, g.partitions, first, 10)
        const previousOwner = new Map<string, string>()
        for (const [id, list] of first) for (const tp of list) previousOwner.set(`${tp.topic}-${tp.partition}`, id)
        for (const [id, list] of second) {
          for (const tp of list) {
            const owner = previousOwner.get(`${tp.topic}-${tp.partition}`)
            assert.ok(owner === undefined || owner === id, `${tp.topic}-${tp.partition} given to ${id} while ${owner} still owns it`)
          }
        }
        // What a member gave up is withheld from everyone this round: nothing it owned moved directly.
        const assignedNow = new Set([...second.values()].flat().map((tp) => `${tp.topic}-${tp.partition}`))
        for (const [id, list] of first) {
          const kept = new Set(second.get(id)!.map((tp) => `${tp.topic}-${tp.partition}`))
          for (const tp of list) {
            const k = `${tp.topic}-${tp.partition}`
            if (!kept.has(k)) assert.ok(!assignedNow.has(k), `${k} moved from ${id} without being withheld`)
          }
        }
      }),
      { numRuns: 300 },
    )
  })

  test('property: after the follow-up rebalance every partition is assigned exactly once among its subscribers (heterogeneous subscriptions too)', () => {
    fc.assert(
      fc.property(groupArb(), (g) => {
        const firstMembers = g.members.slice(0, Math.max(1, Math.ceil(g.members.length / 2)))
        const first = converge(firstMembers, g.partitions, new Map(), 1).result
        const { result } = converge(g.members, g.partitions, first, 10)
        assertValid(g, result, 'converged')
      }),
      { numRuns: 300 },
    )
  })

  test('property: with one subscription for all, loads differ by at most one once converged', () => {
    fc.assert(
      fc.property(groupArb({ homogeneous: true }), (g) => {
        const firstMembers = g.members.slice(0, Math.max(1, Math.ceil(g.members.length / 2)))
        const first = converge(firstMembers, g.partitions, new Map(), 1).result
        const { result } = converge(g.members, g.partitions, first, 10)
        const l = loads(result)
        assert.ok(Math.max(...l) - Math.min(...l) <= 1, `loads ${l.join(',')}`)
      }),
      { numRuns: 300 },
    )
  })

  test('property: stickiness — with one subscription for all, a member keeps at least min(owned, floor(partitions / members)) of what it owned', () => {
    fc.assert(
      fc.property(groupArb({ homogeneous: true }), fc.integer({ min: 1, max: 6 }), (g, leaving) => {
        // A stable group, then some members leave and others join.
        const first = converge(g.members, g.partitions, new Map(), 1).result
        const stay = g.members.slice(0, Math.max(1, g.members.length - Math.min(leaving, g.members.length - 1)))
        const next = [...stay, member('newcomer-1', stay[0]!.topics), member('newcomer-2', stay[0]!.topics)]
        const owned = new Map([...first].filter(([id]) => stay.some((m) => m.memberId === id)))
        const result = rebalance(next, g.partitions, owned, 5)
        const total = [...g.partitions].filter(([t]) => stay[0]!.topics.includes(t)).reduce((n, [, c]) => n + c, 0)
        const floor = Math.floor(total / next.length)
        for (const m of stay) {
          const had = owned.get(m.memberId) ?? []
          const keptNow = result.get(m.memberId)!.filter((tp) => had.some((x) => x.topic === tp.topic && x.partition === tp.partition)).length
          assert.ok(keptNow >= Math.min(had.length, floor), `${m.memberId} kept ${keptNow} of ${had.length} (floor ${floor})`)
        }
      }),
      { numRuns: 300 },
    )
  })

  test('property: an unchanged, balanced group gets exactly what it owns (no movement)', () => {
    fc.assert(
      fc.property(groupArb(), (g) => {
        const settled = converge(g.members, g.partitions, new Map(), 1).result
        const again = rebalance(g.members, g.partitions, settled, 20)
        assert.deepEqual(asObject(again), asObject(settled))
      }),
      { numRuns: 300 },
    )
  })
})

describe('assignor configuration', () => {
  test('names resolve to the built-in assignors, cooperative-sticky by default; unknown names are refused', () => {
    assert.deepEqual(resolveAssignors(undefined).map((a) => a.name), ['cooperative-sticky'])
    assert.deepEqual(resolveAssignors(['range', 'roundrobin']).map((a: Assignor) => a.name), ['range', 'roundrobin'])
    assert.throws(() => resolveAssignors(['sticky' as never]), /unknown assignor/)
    assert.throws(() => resolveAssignors([]), /at least one/)
  })
})
