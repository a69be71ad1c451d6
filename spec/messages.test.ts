import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { codecFor } from '../src/protocol/compiler.js'
import { KafkawireError, ProtocolError } from '../src/protocol/errors.js'
import { apiSchemas } from '../src/protocol/messages/index.js'
import { consumerProtocolAssignment, consumerProtocolSubscription, requestHeader, responseHeader } from '../src/protocol/messages/index.js'
import { Reader } from '../src/protocol/reader.js'
import type { MessageSchema } from '../src/protocol/schema.js'
import { Writer } from '../src/protocol/writer.js'
import { normalize, structArbitrary } from './support/arbitrary.js'

function encode(m: MessageSchema, version: number, value: unknown): Buffer {
  const w = new Writer(64)
  codecFor(m, version, m.flexible.has(version)).encode(w, value)
  return Buffer.from(w.finish())
}

function decode(m: MessageSchema, version: number, buf: Buffer): Record<string, unknown> {
  const r = new Reader(buf)
  const v = codecFor(m, version, m.flexible.has(version)).decode(r)
  assert.equal(r.offset, buf.length, 'decoder must consume the whole body')
  return v
}

function versionsOf(m: MessageSchema): number[] {
  const out: number[] = []
  for (let v = m.versions.min; v <= m.versions.max; v++) if (m.versions.has(v)) out.push(v)
  return out
}

const messages: MessageSchema[] = [
  ...apiSchemas.flatMap((a) => [a.request, a.response]),
  consumerProtocolSubscription,
  consumerProtocolAssignment,
  requestHeader,
  responseHeader,
]

describe('every message at every version round-trips', () => {
  for (const m of messages) {
    test(`${m.name} v${m.versions.min}-${m.versions.max}`, () => {
      for (const v of versionsOf(m)) {
        fc.assert(
          fc.property(structArbitrary(m, v), (value) => {
            const bytes = encode(m, v, value)
            assert.deepStrictEqual(decode(m, v, bytes), normalize(m, v, value))
            // Encoding what we decoded gives the same bytes back.
            assert.deepStrictEqual(encode(m, v, decode(m, v, bytes)), bytes)
          }),
          { numRuns: 25 },
        )
      }
    })
  }
})

describe('long values (two- and three-byte length prefixes)', () => {
  for (const m of messages) {
    test(`${m.name} at its newest version with strings and bytes up to 300 bytes`, () => {
      const v = m.versions.max
      fc.assert(
        fc.property(structArbitrary(m, v, { maxString: 300, maxBytes: 300, maxArray: 2 }), (value) => {
          const bytes = encode(m, v, value)
          assert.deepStrictEqual(decode(m, v, bytes), normalize(m, v, value))
        }),
        { numRuns: 5 },
      )
    })
  }
})

describe('tagged fields (KIP-482)', () => {
  const metadata = apiSchemas.find((a) => a.name === 'Metadata')!.response

  test('unknown tagged fields are kept on decode and written back in tag order', () => {
    const base = encode(metadata, 12, { brokers: [], topics: [] })
    // The top-level tagged section is the last byte (count 0). Replace it with
    // two unknown fields, tags 7 and 3, out of order on purpose.
    const withTags = Buffer.concat([base.subarray(0, base.length - 1), Buffer.from([2, 7, 2, 0xaa, 0xbb, 3, 1, 0xcc])])
    const decoded = decode(metadata, 12, withTags)
    assert.deepStrictEqual(decoded._unknownTaggedFields, [
      { tag: 7, data: Buffer.from([0xaa, 0xbb]) },
      { tag: 3, data: Buffer.from([0xcc]) },
    ])
    const reencoded = encode(metadata, 12, decoded)
    assert.deepStrictEqual(reencoded, Buffer.concat([base.subarray(0, base.length - 1), Buffer.from([2, 3, 1, 0xcc, 7, 2, 0xaa, 0xbb])]))
  })

  test('a known tagged field at its default is elided, otherwise written with its tag', () => {
    const produceRes = apiSchemas.find((a) => a.name === 'Produce')!.response
    const partition = { index: 0, errorCode: 6, baseOffset: 5n, recordErrors: [], currentLeader: { leaderId: -1, leaderEpoch: -1 } }
    const atDefault = encode(produceRes, 10, { responses: [{ name: 't', partitionResponses: [partition] }] })
    const moved = encode(produceRes, 10, {
      responses: [{ name: 't', partitionResponses: [{ ...partition, currentLeader: { leaderId: 2, leaderEpoch: 9 } }] }],
    })
    assert.equal(moved.length - atDefault.length, 1 + 1 + 9, 'tag, size, then leaderId int32 + leaderEpoch int32 + empty tag section')
    const back = decode(produceRes, 10, moved) as { responses: Array<{ partitionResponses: Array<{ currentLeader: unknown }> }> }
    assert.deepStrictEqual(back.responses[0]!.partitionResponses[0]!.currentLeader, { leaderId: 2, leaderEpoch: 9 })
  })

  test('a tagged field whose declared size runs past the data is a typed error', () => {
    const body = Buffer.from([0, 1, 0, 0, 0, 0, 1, 0, 0x09, 0xff]) // ends with: 1 tagged field, tag 0, size 9, one byte present
    const subscription = consumerProtocolSubscription
    assert.throws(() => decode(subscription, 1, body), (e: unknown) => e instanceof ProtocolError)
  })
})

describe('bad input gives a typed error, never a RangeError', () => {
  const samples: Array<[MessageSchema, number]> = []
  for (const a of apiSchemas) {
    samples.push([a.request, a.maxVersion], [a.response, a.maxVersion], [a.response, a.minVersion])
  }

  test('truncation at every byte boundary', () => {
    for (const [m, v] of samples) {
      const value = fc.sample(structArbitrary(m, v, { maxArray: 2 }), { numRuns: 1, seed: 42 })[0]!
      const bytes = encode(m, v, value)
      for (let cut = 0; cut < bytes.length; cut++) {
        assert.throws(
          () => decode(m, v, bytes.subarray(0, cut)),
          (e: unknown) => e instanceof KafkawireError && e.code.startsWith('PROTOCOL_'),
          `${m.name} v${v} cut at ${cut}/${bytes.length}`,
        )
      }
    }
  })

  test('inflated array and string lengths are refused before allocating', () => {
    const listGroups = apiSchemas.find((a) => a.name === 'ListGroups')!.response
    // v0: errorCode int16, groups array with a count of 2^31-1 and no elements.
    const lying = Buffer.from([0, 0, 0x7f, 0xff, 0xff, 0xff])
    assert.throws(() => decode(listGroups, 0, lying), (e: unknown) => e instanceof ProtocolError && e.code === 'PROTOCOL_INVALID_LENGTH')
    // v3 (flexible): throttle, errorCode, compact array count of 2^32-2.
    const compact = Buffer.from([0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f])
    assert.throws(() => decode(listGroups, 3, compact), (e: unknown) => e instanceof ProtocolError && e.code === 'PROTOCOL_INVALID_LENGTH')
  })

  test('null in a non-nullable field is refused on decode and encode', () => {
    const listGroups = apiSchemas.find((a) => a.name === 'ListGroups')!.response
    assert.throws(() => decode(listGroups, 0, Buffer.from([0, 0, 0xff, 0xff, 0xff, 0xff])), (e: unknown) => e instanceof ProtocolError && e.code === 'PROTOCOL_NULL_NOT_ALLOWED')
    assert.throws(() => encode(listGroups, 0, { groups: null }), (e: unknown) => e instanceof ProtocolError && e.code === 'PROTOCOL_NULL_NOT_ALLOWED')
  })

  test('a value for a field that does not exist at the version is refused unless ignorable', () => {
    const joinGroup = apiSchemas.find((a) => a.name === 'JoinGroup')!.request
    // groupInstanceId appears in v5 and is not ignorable.
    assert.throws(() => encode(joinGroup, 4, { groupId: 'g', groupInstanceId: 'static-1' }), (e: unknown) => e instanceof KafkawireError && e.code === 'UNSUPPORTED_VERSION')
    assert.doesNotThrow(() => encode(joinGroup, 5, { groupId: 'g', groupInstanceId: 'static-1' }))
  })
})
