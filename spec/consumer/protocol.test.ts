// The consumer protocol blobs a classic group carries: ConsumerProtocolSubscription (JoinGroup member
// metadata) and ConsumerProtocolAssignment (SyncGroup), each an int16 version then the struct. Round trips,
// the byte layout the reference writes, old versions, and newer versions from newer clients (read as the
// newest known version, trailing fields ignored, as ConsumerProtocol.deserializeSubscription does).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription } from '../../src/consumer/group/classic-member.js'
import type { TopicPartition } from '../../src/consumer/fetcher.js'

/** The reference's non-flexible layout, written by hand: int16 strings, int32 arrays and bytes. */
class Layout {
  readonly parts: Buffer[] = []
  int16(v: number): this {
    const b = Buffer.alloc(2)
    b.writeInt16BE(v)
    this.parts.push(b)
    return this
  }
  int32(v: number): this {
    const b = Buffer.alloc(4)
    b.writeInt32BE(v)
    this.parts.push(b)
    return this
  }
  string(s: string | null): this {
    if (s === null) return this.int16(-1)
    const b = Buffer.from(s, 'utf8')
    this.int16(b.length)
    this.parts.push(b)
    return this
  }
  bytes(b: Buffer | null): this {
    if (b === null) return this.int32(-1)
    this.int32(b.length)
    this.parts.push(b)
    return this
  }
  raw(b: Buffer): this {
    this.parts.push(b)
    return this
  }
  done(): Buffer {
    return Buffer.concat(this.parts)
  }
}

function byTopic(tps: TopicPartition[]): Array<[string, number[]]> {
  const m = new Map<string, number[]>()
  for (const tp of tps) m.set(tp.topic, [...(m.get(tp.topic) ?? []), tp.partition])
  return [...m].map(([t, ps]) => [t, ps.sort((a, b) => a - b)])
}

function referenceSubscriptionV3(s: { topics: string[]; userData: Buffer | null; owned: TopicPartition[]; generationId: number; rackId: string | null }): Buffer {
  const l = new Layout().int16(3).int32(s.topics.length)
  for (const t of s.topics) l.string(t)
  l.bytes(s.userData)
  const owned = byTopic(s.owned)
  l.int32(owned.length)
  for (const [t, ps] of owned) {
    l.string(t).int32(ps.length)
    for (const p of ps) l.int32(p)
  }
  return l.int32(s.generationId).string(s.rackId).done()
}

const topicName = fc.stringMatching(/^[a-zA-Z0-9._-]{1,20}$/)
const tpList = fc.uniqueArray(fc.record({ topic: topicName, partition: fc.integer({ min: 0, max: 10_000 }) }), { selector: (tp) => `${tp.topic}-${tp.partition}`, maxLength: 30 })
const sortTps = (l: TopicPartition[]): TopicPartition[] => [...l].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))

describe('ConsumerProtocolSubscription', () => {
  test('property: encodes byte for byte as the reference writes version 3, and decodes back', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(topicName, { maxLength: 10 }),
        fc.option(fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a)), { nil: null }),
        tpList,
        fc.integer({ min: -1, max: 0x7fffffff }),
        fc.option(fc.stringMatching(/^[a-z0-9-]{0,10}$/), { nil: null }),
        (topics, userData, owned, generationId, rackId) => {
          const bytes = encodeSubscription({ topics, userData, ownedPartitions: owned, generationId, rackId })
          assert.deepEqual(bytes, referenceSubscriptionV3({ topics, userData, owned, generationId, rackId }))
          const back = decodeSubscription('m-1', 'static-1', bytes)
          assert.deepEqual(back.topics, topics)
          assert.deepEqual(back.userData === null ? null : Buffer.from(back.userData), userData)
          assert.deepEqual(sortTps(back.ownedPartitions), sortTps(owned))
          assert.equal(back.generationId, generationId)
          assert.equal(back.rackId, rackId)
          assert.equal(back.memberId, 'm-1')
          assert.equal(back.groupInstanceId, 'static-1')
        },
      ),
      { numRuns: 300 },
    )
  })

  test('version 0 (topics and user data only) reads with no owned partitions and no generation', () => {
    const v0 = new Layout().int16(0).int32(2).string('orders').string('refunds').bytes(Buffer.from([1, 2])).done()
    const s = decodeSubscription('m', null, v0)
    assert.deepEqual(s.topics, ['orders', 'refunds'])
    assert.deepEqual([...s.userData!], [1, 2])
    assert.deepEqual(s.ownedPartitions, [])
    assert.equal(s.generationId, -1)
    assert.equal(s.rackId, null)
  })

  test('version 1 carries owned partitions; version 2 adds the generation', () => {
    const v1 = new Layout().int16(1).int32(1).string('t').bytes(null).int32(1).string('t').int32(2).int32(0).int32(3).done()
    assert.deepEqual(decodeSubscription('m', null, v1).ownedPartitions, [{ topic: 't', partition: 0 }, { topic: 't', partition: 3 }])
    const v2 = new Layout().int16(2).int32(1).string('t').bytes(null).int32(0).int32(17).done()
    assert.equal(decodeSubscription('m', null, v2).generationId, 17)
  })

  test('a newer version from a newer client is read as version 3, its extra trailing fields ignored', () => {
    const v3 = referenceSubscriptionV3({ topics: ['orders'], userData: null, owned: [{ topic: 'orders', partition: 1 }], generationId: 9, rackId: 'rack-a' })
    // Version 7: the same fields, then fields this client does not know.
    const v7 = Buffer.concat([Buffer.from([0, 7]), v3.subarray(2), new Layout().int32(42).string('future').int16(-1).done()])
    const s = decodeSubscription('m', null, v7)
    assert.deepEqual(s.topics, ['orders'])
    assert.deepEqual(s.ownedPartitions, [{ topic: 'orders', partition: 1 }])
    assert.equal(s.generationId, 9)
    assert.equal(s.rackId, 'rack-a')
  })

  test('truncated member metadata is refused with a protocol error, not read past its end', () => {
    const v3 = referenceSubscriptionV3({ topics: ['orders'], userData: null, owned: [], generationId: 1, rackId: null })
    assert.throws(() => decodeSubscription('m', null, v3.subarray(0, v3.length - 3)), (e: Error & { code?: string }) => /^PROTOCOL_/.test(e.code ?? ''))
  })
})

describe('ConsumerProtocolAssignment', () => {
  test('property: round trip, partitions grouped by topic as the reference writes them', () => {
    fc.assert(
      fc.property(tpList, fc.option(fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)), { nil: null }), (tps, userData) => {
        const bytes = encodeAssignment(tps, userData)
        const l = new Layout().int16(3)
        const grouped = byTopic(tps)
        l.int32(grouped.length)
        for (const [t, ps] of grouped) {
          l.string(t).int32(ps.length)
          for (const p of ps) l.int32(p)
        }
        assert.deepEqual(bytes, l.bytes(userData).done())
        assert.deepEqual(sortTps(decodeAssignment(bytes)), sortTps(tps))
      }),
      { numRuns: 300 },
    )
  })

  test('an empty assignment blob (a member the leader gave nothing, or an older broker) is no partitions', () => {
    assert.deepEqual(decodeAssignment(Buffer.alloc(0)), [])
  })

  test('version 0 and a newer version with trailing fields both decode', () => {
    const body = new Layout().int32(1).string('orders').int32(2).int32(4).int32(5).bytes(null).done()
    const expected = [{ topic: 'orders', partition: 4 }, { topic: 'orders', partition: 5 }]
    assert.deepEqual(decodeAssignment(Buffer.concat([Buffer.from([0, 0]), body])), expected)
    assert.deepEqual(decodeAssignment(Buffer.concat([Buffer.from([0, 5]), body, Buffer.from([0, 0, 0, 1])])), expected)
  })
})
