// Incremental fetch sessions (KIP-227): what each request carries (full or incremental, what is sent,
// what is forgotten), and how the session starts over after errors — checked on examples and against a
// model of the broker's session cache, which must always hold exactly the partitions the consumer wants.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { FetchSession, type SessionPartition, type SessionRequest } from '../../src/consumer/fetch-session.js'

const part = (topic: string, partition: number, fetchOffset: bigint, o: Partial<SessionPartition> = {}): SessionPartition => ({
  topic,
  topicId: `id-${topic}`,
  partition,
  fetchOffset,
  currentLeaderEpoch: 0,
  lastFetchedEpoch: -1,
  logStartOffset: -1n,
  maxBytes: 1 << 20,
  ...o,
})

const names = (l: Array<{ topic: string; partition: number }>): string[] => l.map((p) => `${p.topic}-${p.partition}`).sort()

describe('fetch session requests', () => {
  test('the first request is a full fetch asking for a new session (session 0, epoch 0) with every partition', () => {
    const s = new FetchSession(1, true)
    const req = s.next([part('a', 0, 5n), part('a', 1, 7n)])
    assert.equal(req.full, true)
    assert.equal(req.sessionId, 0)
    assert.equal(req.sessionEpoch, 0)
    assert.deepEqual(names(req.send), ['a-0', 'a-1'])
    assert.deepEqual(req.forget, [])
  })

  test('once the broker created a session, requests are incremental: only changed or new partitions, plus the ones to forget', () => {
    const s = new FetchSession(1, true)
    s.onResponse(s.next([part('a', 0, 5n), part('a', 1, 7n), part('b', 0, 0n)]), 77)
    assert.equal(s.sessionId, 77)

    const unchanged = s.next([part('a', 0, 5n), part('a', 1, 7n), part('b', 0, 0n)])
    assert.equal(unchanged.full, false)
    assert.equal(unchanged.sessionId, 77)
    assert.equal(unchanged.sessionEpoch, 1)
    assert.deepEqual(unchanged.send, [], 'nothing changed: nothing sent')
    assert.deepEqual(names([...unchanged.all.values()]), ['a-0', 'a-1', 'b-0'], 'the response may still cover the whole session')
    s.onResponse(unchanged, 77)

    const moved = s.next([part('a', 0, 9n), part('a', 1, 7n, { currentLeaderEpoch: 3 }), part('c', 0, 1n)])
    assert.equal(moved.sessionEpoch, 2)
    assert.deepEqual(names(moved.send), ['a-0', 'a-1', 'c-0'], 'a new offset, a new leader epoch, a new partition')
    assert.deepEqual(names(moved.forget), ['b-0'], 'no longer wanted from this broker')
    assert.deepEqual(moved.forget[0]!.topicId, 'id-b', 'forgotten partitions carry their topic id (Fetch v13+)')
  })

  test('a partition whose state changed behind the session (seek, reset, revocation) is sent again when wanted and forgotten when not', () => {
    const s = new FetchSession(1, true)
    s.onResponse(s.next([part('a', 0, 5n), part('a', 1, 5n)]), 9)
    s.invalidate('a', 0)
    s.invalidate('a', 1)
    const req = s.next([part('a', 0, 5n)])
    assert.deepEqual(names(req.send), ['a-0'], 'sent again although its fields look unchanged')
    assert.deepEqual(names(req.forget), ['a-1'], 'a revoked partition leaves the broker session instead of lingering in it')
  })

  test('a broker that keeps no session for us (cache full) gets full requests that keep asking for one', () => {
    const s = new FetchSession(1, true)
    s.onResponse(s.next([part('a', 0, 0n)]), 0)
    const again = s.next([part('a', 0, 3n)])
    assert.equal(again.full, true)
    assert.equal(again.sessionEpoch, 0, 'epoch 0: the broker may create a session now')
    s.onResponse(again, 12)
    assert.equal(s.next([part('a', 0, 3n)]).full, false)
  })

  test('after an error the next request is full and closes the old session; after FETCH_SESSION_ID_NOT_FOUND there is none to close', () => {
    const s = new FetchSession(1, true)
    s.onResponse(s.next([part('a', 0, 0n)]), 41)
    s.reset()
    const closing = s.next([part('a', 0, 0n)])
    assert.equal(closing.full, true)
    assert.equal(closing.sessionId, 41, 'names the old session so the broker frees its slot')
    assert.equal(closing.sessionEpoch, 0)
    s.onResponse(closing, 42)
    assert.equal(s.sessionId, 42)
    s.reset(true)
    const fresh = s.next([part('a', 0, 0n)])
    assert.equal(fresh.sessionId, 0)
    assert.equal(fresh.sessionEpoch, 0)
  })

  test('an incremental response with session id 0 means the broker closed the session: the next request is full', () => {
    const s = new FetchSession(1, true)
    s.onResponse(s.next([part('a', 0, 0n)]), 3)
    s.onResponse(s.next([part('a', 0, 0n)]), 0)
    const req = s.next([part('a', 0, 0n)])
    assert.equal(req.full, true)
    assert.equal(req.sessionId, 0)
  })

  test('with sessions disabled every request is a sessionless full fetch (epoch -1)', () => {
    const s = new FetchSession(1, false)
    const req = s.next([part('a', 0, 0n)])
    s.onResponse(req, 0)
    const next = s.next([part('a', 0, 1n)])
    assert.equal(next.full, true)
    assert.equal(next.sessionEpoch, -1)
    assert.equal(next.sessionId, 0)
  })
})

// ---- a model of the broker's session cache ------------------------------------------------------

type Outcome = 'ok' | 'no-session' | 'closed' | 'not-found' | 'bad-epoch' | 'lost'

interface BrokerModel {
  sessions: Map<number, { epoch: number; parts: Map<string, SessionPartition> }>
  nextId: number
}

const k = (p: { topic: string; partition: number }): string => `${p.topic}-${p.partition}`

/** Applies a request the way FetchManager.newContext does; returns the response's session id and error. */
function brokerHandle(b: BrokerModel, req: SessionRequest, outcome: Outcome): { sessionId: number; error: number } | 'lost' {
  if (outcome === 'lost') return 'lost'
  if (req.full) {
    if (req.sessionId !== 0) b.sessions.delete(req.sessionId) // a full request closes the session it names
    if (req.sessionEpoch !== 0 || outcome === 'no-session') return { sessionId: 0, error: 0 }
    const id = b.nextId++
    b.sessions.set(id, { epoch: 1, parts: new Map(req.send.map((p) => [k(p), p])) })
    return { sessionId: id, error: 0 }
  }
  const s = b.sessions.get(req.sessionId)
  if (s === undefined || outcome === 'not-found') {
    b.sessions.delete(req.sessionId)
    return { sessionId: 0, error: 70 }
  }
  if (req.sessionEpoch !== s.epoch || outcome === 'bad-epoch') return { sessionId: 0, error: 71 }
  for (const p of req.send) s.parts.set(k(p), p)
  for (const f of req.forget) s.parts.delete(k(f))
  s.epoch = s.epoch === 0x7fffffff ? 1 : s.epoch + 1
  if (outcome === 'closed') {
    b.sessions.delete(req.sessionId)
    return { sessionId: 0, error: 0 }
  }
  return { sessionId: req.sessionId, error: 0 }
}

const universe = ['a-0', 'a-1', 'a-2', 'b-0', 'b-1'].map((s) => {
  const [topic, p] = s.split('-')
  return { topic: topic!, partition: Number(p) }
})

const stepArb = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('fetch' as const), wanted: fc.subarray(universe), offsets: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 5, maxLength: 5 }), outcome: fc.constantFrom<Outcome>('ok', 'ok', 'ok', 'ok', 'no-session', 'closed', 'not-found', 'bad-epoch', 'lost') }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('invalidate' as const), which: fc.integer({ min: 0, max: 4 }) }) },
)

test('property: after every successful request the broker session holds exactly the wanted partitions, as last wanted', () => {
  fc.assert(
    fc.property(fc.array(stepArb, { maxLength: 40 }), (steps) => {
      const s = new FetchSession(1, true)
      const b: BrokerModel = { sessions: new Map(), nextId: 100 }
      const offsets = new Map<string, bigint>(universe.map((p) => [k(p), 0n]))
      for (const step of steps) {
        if (step.kind === 'invalidate') {
          // The consumer's state for the partition moved (its offset too, as a seek would move it).
          const p = universe[step.which]!
          offsets.set(k(p), offsets.get(k(p))! + 10n)
          s.invalidate(p.topic, p.partition)
          continue
        }
        step.wanted.forEach((p, i) => offsets.set(k(p), offsets.get(k(p))! + BigInt(step.offsets[i] ?? 0)))
        const wanted = step.wanted.map((p) => part(p.topic, p.partition, offsets.get(k(p))!))
        const req = s.next(wanted)
        // What the request carries is always consistent: incremental requests only to a session we have.
        if (!req.full) assert.ok(req.sessionId !== 0, 'an incremental request names its session')
        const res = brokerHandle(b, req, step.outcome)
        if (res === 'lost') {
          s.reset()
          continue
        }
        if (res.error !== 0) {
          s.reset(res.error === 70)
          continue
        }
        s.onResponse(req, res.sessionId)
        if (res.sessionId !== 0) {
          const session = b.sessions.get(res.sessionId)!
          assert.deepEqual([...session.parts.keys()].sort(), wanted.map(k).sort(), 'the broker session holds what is wanted, nothing more')
          for (const w of wanted) assert.equal(session.parts.get(k(w))!.fetchOffset, w.fetchOffset, `${k(w)} at the wanted offset`)
        }
      }
      // Full requests closed the sessions they replaced: at most one session of ours is left on the broker.
      assert.ok(b.sessions.size <= 1, `${b.sessions.size} sessions of ours left on the broker`)
    }),
    { numRuns: 1000 },
  )
})
