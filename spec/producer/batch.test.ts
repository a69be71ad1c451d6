import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { CompressionCodec } from '../../src/protocol/compression/index.js'
import { decodeRecordBatchesSync, encodeRecordBatchSync, type RecordInput } from '../../src/protocol/records/index.js'
import { BATCH_OVERHEAD, incrementSequence, ProducerBatch, recordSize, SendCall } from '../../src/producer/batch.js'

const bytes = (max: number) => fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b)))

/** Records as the producer builds them: Buffers or null, unicode header keys, repeated keys, any timestamps. */
const record = (max: number): fc.Arbitrary<RecordInput> =>
  fc.record({
    key: bytes(max),
    value: bytes(max * 4),
    headers: fc.array(fc.record({ key: fc.oneof(fc.string({ maxLength: 8 }), fc.fullUnicodeString({ maxLength: 4 }), fc.constant('dup')), value: bytes(max) }), { maxLength: 4 }),
    timestamp: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.constant(1_700_000_000_000)),
  })

const noop = () => undefined

describe('record sizing', () => {
  test('recordSize is exactly what the records encoder writes, for any records', () => {
    fc.assert(
      fc.property(fc.array(record(40), { minLength: 1, maxLength: 30 }), (records) => {
        const base = records[0]!.timestamp
        let expected = BATCH_OVERHEAD
        records.forEach((r, i) => (expected += recordSize(i, r.timestamp - base, r.key as Buffer | null, r.value as Buffer | null, r.headers)))
        const encoded = encodeRecordBatchSync({ compression: CompressionCodec.None }, records)
        assert.equal(encoded.length, expected)
      }),
      { numRuns: 300 },
    )
  })

  test('a ProducerBatch tracks its encoded size as records are appended', () => {
    fc.assert(
      fc.property(fc.array(record(40), { minLength: 1, maxLength: 30 }), (records) => {
        const b = new ProducerBatch('t', 0, 0)
        const call = new SendCall(records.length, noop)
        records.forEach((r, i) => b.append(r, b.sizeWith(r), call, i))
        assert.equal(b.sizeBytes, encodeRecordBatchSync({ compression: CompressionCodec.None }, b.records).length)
      }),
      { numRuns: 200 },
    )
  })

  test('a batch with thousands of headers is sized and encoded exactly (the encoder grows its scratch space mid-batch)', () => {
    const records = Array.from({ length: 1500 }, (_, i) => ({
      key: Buffer.from(`k${i}`),
      value: Buffer.from(`v${i}`),
      headers: [{ key: 'a', value: Buffer.from('1') }, { key: 'a', value: null }],
      timestamp: 1_700_000_000_000 + i,
    }))
    const b = new ProducerBatch('t', 0, 0)
    const call = new SendCall(records.length, noop)
    records.forEach((r, i) => b.append(r, b.sizeWith(r), call, i))
    const encoded = encodeRecordBatchSync({ compression: CompressionCodec.None }, b.records)
    assert.equal(encoded.length, b.sizeBytes)
    const [batch] = decodeRecordBatchesSync(encoded).batches
    assert.equal(batch!.records.length, 1500)
    assert.deepEqual(batch!.records[1499]!.headers.map((h) => [h.key, h.value?.toString() ?? null]), [['a', '1'], ['a', null]])
  })
})

describe('sequences', () => {
  test('incrementSequence wraps at int32 max as DefaultRecordBatch.incrementSequence does', () => {
    assert.equal(incrementSequence(0, 5), 5)
    assert.equal(incrementSequence(2147483647, 1), 0)
    assert.equal(incrementSequence(2147483646, 1), 2147483647)
    assert.equal(incrementSequence(2147483645, 5), 2)
    assert.equal(incrementSequence(2147483647, 0), 2147483647)
  })

  test('a batch spanning the wrap reports its last sequence after it', () => {
    const b = new ProducerBatch('t', 0, 0)
    const call = new SendCall(4, noop)
    for (let i = 0; i < 4; i++) {
      const r = { key: null, value: Buffer.from('x'), timestamp: 1 }
      b.append(r, b.sizeWith(r), call, i)
    }
    b.stamp(7n, 0, 2147483646, false)
    assert.equal(b.lastSequence, 1)
  })

  test('splitting a stamped batch gives two halves that share its sequence range, in order', () => {
    const b = new ProducerBatch('t', 3, 0)
    const call = new SendCall(5, noop)
    for (let i = 0; i < 5; i++) {
      const r = { key: null, value: Buffer.from(`r${i}`), timestamp: 1 }
      b.append(r, b.sizeWith(r), call, i)
    }
    b.stamp(9n, 2, 2147483645, true)
    b.reserved = 101
    const [a, c] = b.split(Date.now())
    assert.deepEqual(a.records.map((r) => Buffer.from(r.value!).toString()), ['r0', 'r1', 'r2'])
    assert.deepEqual(c.records.map((r) => Buffer.from(r.value!).toString()), ['r3', 'r4'])
    assert.equal(a.baseSequence, 2147483645)
    assert.equal(a.lastSequence, 2147483647)
    assert.equal(c.baseSequence, 0, 'the second half starts right after the first, across the wrap')
    assert.equal(c.lastSequence, b.lastSequence)
    for (const x of [a, c]) {
      assert.equal(x.producerId, 9n)
      assert.equal(x.producerEpoch, 2)
      assert.equal(x.isTransactional, true)
      assert.equal(x.sizeBytes, encodeRecordBatchSync({ compression: CompressionCodec.None }, x.records).length)
    }
    assert.equal(a.reserved + c.reserved, 101, 'the reserved memory is divided, not duplicated')
  })

  test('stamping an encoded batch patches its producer fields in place', () => {
    const b = new ProducerBatch('t', 0, 0)
    const call = new SendCall(1, noop)
    const r = { key: null, value: Buffer.from('x'), timestamp: 1 }
    b.append(r, b.sizeWith(r), call, 0)
    b.stamp(1n, 0, 0, false)
    b.encoded = encodeRecordBatchSync({ compression: CompressionCodec.None, producerId: 1n, producerEpoch: 0, baseSequence: 0 }, b.records)
    b.stamp(1n, 1, 0, false)
    const [decoded] = decodeRecordBatchesSync(b.encoded).batches
    assert.equal(decoded!.producerEpoch, 1)
    assert.equal(decoded!.baseSequence, 0)
  })
})
