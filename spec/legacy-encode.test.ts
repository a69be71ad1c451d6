import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { CompressionCodec } from '../src/protocol/compression/index.js'
import { ProtocolError } from '../src/protocol/errors.js'
import { decodeRecordBatches, encodeLegacyMessageSet } from '../src/protocol/records/index.js'

const codecs = [CompressionCodec.None, CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4]
const record = fc.record({
  key: fc.option(fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b)), { nil: null }),
  value: fc.option(fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)), { nil: null }),
  timestamp: fc.integer({ min: 0, max: 2 ** 45 }),
})

test('legacy message sets we encode decode to the same records, offsets and timestamps', async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom<0 | 1>(0, 1), fc.constantFrom(...codecs), fc.array(record, { minLength: 1, maxLength: 8 }), fc.bigInt({ min: 0n, max: 2n ** 40n }), async (magic, compression, records, baseOffset) => {
      const bytes = await encodeLegacyMessageSet({ magic, compression, baseOffset }, records)
      const { batches, partialBytes } = await decodeRecordBatches(bytes)
      assert.equal(partialBytes, 0)
      const decoded = batches.flatMap((b) => b.records)
      assert.equal(decoded.length, records.length)
      decoded.forEach((r, i) => {
        assert.equal(r.offset, baseOffset + BigInt(i))
        // Magic 0 has no timestamps.
        assert.equal(r.timestamp, magic === 0 ? -1 : records[i]!.timestamp)
        assert.deepEqual(r.key, records[i]!.key)
        assert.deepEqual(r.value, records[i]!.value)
      })
      for (const b of batches) {
        assert.equal(b.magic, magic)
        assert.equal(b.compression, compression)
      }
    }),
    { numRuns: 60 },
  )
})

test('zstd and headers cannot be expressed in legacy messages', async () => {
  await assert.rejects(encodeLegacyMessageSet({ magic: 1, compression: CompressionCodec.Zstd }, [{ key: null, value: Buffer.from('x'), timestamp: 1 }]), ProtocolError)
  await assert.rejects(encodeLegacyMessageSet({ magic: 1, compression: CompressionCodec.None }, [{ key: null, value: Buffer.from('x'), timestamp: 1, headers: [{ key: 'h', value: null }] }]), ProtocolError)
})
