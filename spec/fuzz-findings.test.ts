/**
 * Bugs the fuzzer (fuzz/) found, each as a readable one-line reproduction.
 * The minimised inputs also live in fuzz/corpus/ and are replayed through the
 * full fuzz oracle by fuzz/regression.test.ts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CompressionCodec, decompress } from '../src/protocol/compression/index.js'
import { ProtocolError } from '../src/protocol/errors.js'

test('zstd: a frame declaring content it does not hold is corrupt, not empty (fuzz/corpus/decompress.zstd/152683196f30)', async () => {
  // Frame content size 131072 (FCS field 00 00 02 00), then one empty last raw block.
  const frame = Buffer.from('28b52ffd800000000200010000', 'hex')
  await assert.rejects(decompress(CompressionCodec.Zstd, frame), (e: unknown) => e instanceof ProtocolError && e.code === 'PROTOCOL_COMPRESSION')
})
