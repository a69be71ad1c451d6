/**
 * Record batch encoder / decoder tests.
 *
 * JAVA fixtures were produced once by the reference implementation,
 * kafka-clients 4.3.1 (org.apache.kafka.common.record.internal.MemoryRecords
 * .builder(...).appendWithOffset(...) and MemoryRecords.withEndTransactionMarker),
 * from a throwaway Java program; the inputs are restated next to each use.
 * Legacy v0/v1 message sets are also hand-built here from the LegacyRecord
 * layout, so every field can be varied.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import CRC32 from 'crc-32'
import { CompressionCodec, compress, xxhash32 } from '../src/protocol/compression/index.js'
import { crc32c } from '../src/protocol/crc32c.js'
import { ProtocolError } from '../src/protocol/errors.js'
import {
  decodeRecordBatches,
  decodeRecordBatchesSync,
  encodeEndTxnMarker,
  encodeRecordBatch,
  encodeRecordBatchSync,
  patchRecordBatch,
  type DecodedRecordBatches,
  type DecodeRecordBatchesOptions,
  type KafkaRecord,
  type RecordBatch,
  type RecordBatchOptions,
  type RecordInput,
} from '../src/protocol/records/index.js'

const JAVA: Record<string, string> = {
  commitMarker:
    '000000000000002a0000004200000007028e2714570030000000000000018bcfe5687b0000018bcfe5687b0000011f71' +
    'fb04cb0005ffffffff000000012000000008000000010c00000000000900',
  abortMarker:
    '000000000000002b000000420000000702f1c2c2fe0030000000000000018bcfe5687c0000018bcfe5687c0000011f71' +
    'fb04cb0005ffffffff000000012000000008000000000c00000000000a00',
  v2_txn:
    '00000000000003e80000006c000000030262bceaaf0010000000020000018bcfe568000000018bcfeae6400000011f71' +
    'fb04cb000500000011000000034e0000000a6b65792d610e76616c75652d61080268023102680232026e010ac3a974c3' +
    'a906e298830e00cf0f02010100140080f92b040000020000',
  magic0_none:
    '00000000000000640000001257e7496e0000000000026b31000000027631000000000000006500000010d5960a780000' +
    'ffffffff000000027632000000000000006600000010b643ca6a0000000000026b33ffffffff',
  magic0_gzip:
    '000000000000006600000055863c04210001ffffffff000000471f8b08000000000000ff636000831420160a7fee9907' +
    'e631651b82c832438824432a100b5c9dc655c1c0f01f08c0724650b93490dc36e75359509dc620150025e4eb20560000' +
    '00',
  magic1_none:
    '00000000000000640000001aa5da6a6201000000018bcfe56800000000026b3100000002763100000000000000650000' +
    '0018820bfd0301000000018bcfe56805ffffffff000000027632000000000000006600000018096bf75201000000018b' +
    'cfe56803000000026b33ffffffff',
  magic1_gzip:
    '000000000000006600000066e26fef2b01010000018bcfe56805ffffffff000000501f8b08000000000000ff63608003' +
    'a9a5b7b29218810cc6eef34f3340224cd98620b2cc10aa022429d1c4fd9719ae8af53f1080d51841d53081d470667f0f' +
    '82ab61069b640c5209002ff85f3f6e000000',
  magic2_none:
    '00000000000000640000004effffffff021f51863b0000000000020000018bcfe568000000018bcfe56805ffffffffff' +
    'ffffffffffffffffff0000000314000000046b310476310010000a02010476320010000604046b330100',
  magic2_gzip:
    '000000000000006400000060ffffffff02bdd7f59d0001000000020000018bcfe568000000018bcfe56805ffffffffff' +
    'ffffffffffffffffff000000031f8b08000000000000ff1361606060c936642933641060e062626429330232d85858b2' +
    '8d191900a03eff101d000000',
  magic1_gzip_logappend:
    '00000000000000c9000000528281861901090000018bcff4aa3fffffffff0000003c1f8b08000000000000ff63608003' +
    '09090bc9bb8c1c0c0c8cdde7bfacb2078a302682880aa83c2348cdcbd5d14f51d52481884a002abf46d848000000',
}

const java = (name: string): Buffer => Buffer.from(JAVA[name]!, 'hex')
const u = (s: string): Buffer => Buffer.from(s, 'utf8')
const CODECS = [CompressionCodec.None, CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4, CompressionCodec.Zstd]
const TS = 1_700_000_000_000

async function rejectsWith(p: Promise<unknown> | (() => unknown), code: string | string[]): Promise<ProtocolError> {
  let caught: unknown
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    caught = e
  }
  assert.ok(caught instanceof ProtocolError, `expected ProtocolError ${String(code)}, got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`)
  const codes = Array.isArray(code) ? code : [code]
  assert.ok(codes.includes(caught.code), `expected ${codes.join('|')}, got ${caught.code}: ${caught.message}`)
  return caught
}

/** Recomputes the CRC32C of the v2 batch at `at` (after a test edits it). */
function reseal(buf: Buffer, at = 0): Buffer {
  const end = at + 12 + buf.readInt32BE(at + 8)
  buf.writeUInt32BE(crc32c(buf, at + 21, Math.min(end, buf.length)), at + 17)
  return buf
}

/** Plain values for deepEqual: Buffers as hex (null stays null). */
function plain(r: KafkaRecord): unknown {
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key === null ? null : r.key.toString('hex'),
    value: r.value === null ? null : r.value.toString('hex'),
    headers: r.headers.map((h) => ({ key: h.key, value: h.value === null ? null : h.value.toString('hex') })),
  }
}

// ---------------------------------------------------------------------------
// Legacy message builders (LegacyRecord: crc, magic, attributes, [timestamp],
// key, value; the CRC is CRC32 over magic .. end).

interface LegacyInput {
  offset: bigint
  magic: 0 | 1
  attributes?: number
  timestamp?: number
  key: Buffer | null
  value: Buffer | null
}

function legacyMessage(m: LegacyInput): Buffer {
  const body: Buffer[] = [Buffer.from([m.magic, m.attributes ?? 0])]
  if (m.magic === 1) {
    const ts = Buffer.alloc(8)
    ts.writeBigInt64BE(BigInt(m.timestamp ?? -1))
    body.push(ts)
  }
  for (const field of [m.key, m.value]) {
    const len = Buffer.alloc(4)
    len.writeInt32BE(field === null ? -1 : field.length)
    body.push(len)
    if (field !== null) body.push(field)
  }
  const rest = Buffer.concat(body)
  const head = Buffer.alloc(16)
  head.writeBigInt64BE(m.offset, 0)
  head.writeInt32BE(4 + rest.length, 8)
  head.writeUInt32BE(CRC32.buf(rest) >>> 0, 12)
  return Buffer.concat([head, rest])
}

/** A compressed wrapper message (its value is the compressed inner message set). */
async function legacyWrapper(opts: {
  offset: bigint
  magic: 0 | 1
  codec: number
  inner: Buffer
  timestamp?: number
  logAppendTime?: boolean
  brokenLz4Checksum?: boolean
}): Promise<Buffer> {
  let value = await compress(opts.codec, opts.inner)
  if (opts.brokenLz4Checksum === true) {
    // Kafka < 0.10 computed the LZ4 frame header checksum over the magic too (KAFKA-3160).
    value = Buffer.from(value)
    value[6] = (xxhash32(value, 0, 6) >>> 8) & 0xff
  }
  return legacyMessage({
    offset: opts.offset,
    magic: opts.magic,
    attributes: opts.codec | (opts.logAppendTime === true ? 0x08 : 0),
    timestamp: opts.timestamp ?? -1,
    key: null,
    value,
  })
}

// ---------------------------------------------------------------------------

describe('known answers', () => {
  const SAMPLE =
    '000000000000000000000041ffffffff022eea6de90000000000000000018bcfe568000000018bcfe56800ffffffffffffffffffffffffffff000000011e000000010a68656c6c6f0202680278'

  test('the reference sample batch encodes byte for byte and decodes back', async () => {
    const records: RecordInput[] = [{ key: null, value: u('hello'), headers: [{ key: 'h', value: u('x') }], timestamp: TS }]
    const enc = encodeRecordBatchSync({ compression: CompressionCodec.None }, records)
    assert.equal(enc.toString('hex'), SAMPLE)
    assert.equal(enc.readUInt32BE(17), 0x2eea6de9)
    const { batches, bytesConsumed, partialBytes } = await decodeRecordBatches(Buffer.from(SAMPLE, 'hex'))
    assert.equal(bytesConsumed, SAMPLE.length / 2)
    assert.equal(partialBytes, 0)
    const b = batches[0]!
    assert.equal(b.crc, 0x2eea6de9)
    assert.equal(b.magic, 2)
    assert.equal(b.baseOffset, 0n)
    assert.equal(b.lastOffset, 0n)
    assert.equal(b.partitionLeaderEpoch, -1)
    assert.equal(b.producerId, -1n)
    assert.equal(b.producerEpoch, -1)
    assert.equal(b.baseSequence, -1)
    assert.equal(b.timestampType, 'CreateTime')
    assert.deepEqual(b.records.map(plain), [{ offset: 0n, timestamp: TS, key: null, value: u('hello').toString('hex'), headers: [{ key: 'h', value: '78' }] }])
  })

  test('JAVA v2_txn: transactional batch with producer fields and awkward headers, byte for byte', async () => {
    // builder(magic 2, NONE, CREATE_TIME, baseOffset 1000, logAppendTime -1, producerId 1234567890123,
    // epoch 5, baseSequence 17, transactional, partitionLeaderEpoch 3), then offsets 1000..1002:
    const records: RecordInput[] = [
      {
        key: u('key-a'),
        value: u('value-a'),
        timestamp: 1700000000000,
        headers: [
          { key: 'h', value: u('1') },
          { key: 'h', value: u('2') },
          { key: 'n', value: null },
          { key: 'été', value: u('☃') },
        ],
      },
      { key: null, value: null, timestamp: 1699999999000, headers: [] },
      { key: u(''), value: u(''), timestamp: 1700000360000, headers: [{ key: '', value: u('') }] },
    ]
    const opts: RecordBatchOptions = {
      compression: CompressionCodec.None,
      baseOffset: 1000n,
      producerId: 1234567890123n,
      producerEpoch: 5,
      baseSequence: 17,
      isTransactional: true,
      partitionLeaderEpoch: 3,
    }
    assert.equal(encodeRecordBatchSync(opts, records).toString('hex'), JAVA.v2_txn)
    const [b] = (await decodeRecordBatches(java('v2_txn'))).batches
    assert.ok(b)
    assert.equal(b.isTransactional, true)
    assert.equal(b.isControl, false)
    assert.equal(b.producerId, 1234567890123n)
    assert.equal(b.producerEpoch, 5)
    assert.equal(b.baseSequence, 17)
    assert.equal(b.partitionLeaderEpoch, 3)
    assert.equal(b.baseOffset, 1000n)
    assert.equal(b.lastOffset, 1002n)
    assert.equal(b.baseTimestamp, 1700000000000)
    assert.equal(b.maxTimestamp, 1700000360000)
    assert.deepEqual(
      b.records.map(plain),
      records.map((r, i) => ({
        offset: 1000n + BigInt(i),
        timestamp: r.timestamp,
        key: r.key === null ? null : Buffer.from(r.key).toString('hex'),
        value: r.value === null ? null : Buffer.from(r.value).toString('hex'),
        headers: (r.headers ?? []).map((h) => ({ key: h.key, value: h.value === null ? null : Buffer.from(h.value).toString('hex') })),
      })),
    )
  })

  test('JAVA magic2_none byte for byte; magic2_gzip decodes to the same records', async () => {
    // builder(magic 2, CREATE_TIME, baseOffset 100): (100, ts, "k1", "v1"), (101, ts+5, null, "v2"), (102, ts+3, "k3", null)
    const records: RecordInput[] = [
      { key: u('k1'), value: u('v1'), timestamp: TS },
      { key: null, value: u('v2'), timestamp: TS + 5 },
      { key: u('k3'), value: null, timestamp: TS + 3 },
    ]
    assert.equal(encodeRecordBatchSync({ compression: CompressionCodec.None, baseOffset: 100n }, records).toString('hex'), JAVA.magic2_none)
    for (const name of ['magic2_none', 'magic2_gzip']) {
      const [b] = (await decodeRecordBatches(java(name))).batches
      assert.equal(b!.compression, name.endsWith('gzip') ? CompressionCodec.Gzip : CompressionCodec.None)
      assert.equal(b!.maxTimestamp, TS + 5)
      assert.deepEqual(
        b!.records.map((r) => [r.offset, r.timestamp, r.key?.toString() ?? null, r.value?.toString() ?? null]),
        [
          [100n, TS, 'k1', 'v1'],
          [101n, TS + 5, null, 'v2'],
          [102n, TS + 3, 'k3', null],
        ],
      )
    }
  })

  test('JAVA end-transaction markers byte for byte, and their control records', async () => {
    // withEndTransactionMarker(initialOffset 42/43, timestamp, partitionLeaderEpoch 7, producerId, epoch 5, COMMIT 9 / ABORT 10)
    const commit = encodeEndTxnMarker({ type: 'COMMIT', baseOffset: 42n, timestamp: 1700000000123, partitionLeaderEpoch: 7, producerId: 1234567890123n, producerEpoch: 5, coordinatorEpoch: 9 })
    const abort = encodeEndTxnMarker({ type: 'ABORT', baseOffset: 43n, timestamp: 1700000000124, partitionLeaderEpoch: 7, producerId: 1234567890123n, producerEpoch: 5, coordinatorEpoch: 10 })
    assert.equal(commit.toString('hex'), JAVA.commitMarker)
    assert.equal(abort.toString('hex'), JAVA.abortMarker)
    const { batches } = await decodeRecordBatches(Buffer.concat([commit, abort]))
    assert.deepEqual(batches.map((b) => [b.isControl, b.isTransactional, b.baseSequence, b.control]), [
      [true, true, -1, { type: 'COMMIT', typeId: 1, version: 0, coordinatorEpoch: 9 }],
      [true, true, -1, { type: 'ABORT', typeId: 0, version: 0, coordinatorEpoch: 10 }],
    ])
  })

  test('JAVA legacy message sets: v0 and v1, uncompressed and gzip wrappers (v1 inner offsets relative)', async () => {
    const expected = (ts: boolean): unknown[] => [
      [100n, ts ? TS : -1, 'k1', 'v1'],
      [101n, ts ? TS + 5 : -1, null, 'v2'],
      [102n, ts ? TS + 3 : -1, 'k3', null],
    ]
    for (const name of ['magic0_none', 'magic0_gzip', 'magic1_none', 'magic1_gzip']) {
      const magic = Number(name[5])
      const { batches, bytesConsumed } = await decodeRecordBatches(java(name))
      assert.equal(bytesConsumed, java(name).length)
      const gz = name.endsWith('gzip')
      assert.equal(batches.length, gz ? 1 : 3, name)
      assert.ok(batches.every((b) => b.magic === magic && b.producerId === -1n && b.partitionLeaderEpoch === -1 && !b.isTransactional))
      assert.ok(batches.every((b) => b.timestampType === (magic === 0 ? 'NoTimestampType' : 'CreateTime')))
      const records = batches.flatMap((b) => b.records)
      assert.deepEqual(records.map((r) => [r.offset, r.timestamp, r.key?.toString() ?? null, r.value?.toString() ?? null]), expected(magic === 1), name)
      if (gz) {
        assert.equal(batches[0]!.baseOffset, 100n)
        assert.equal(batches[0]!.lastOffset, 102n)
        assert.equal(batches[0]!.compression, CompressionCodec.Gzip)
      }
    }
  })

  test('JAVA v1 gzip wrapper with LogAppendTime: inner records take the wrapper timestamp', async () => {
    // builder(magic 1, gzip, LOG_APPEND_TIME, baseOffset 200, logAppendTime 1700000999999): (200, "a","x"), (201, "b","y")
    const [b] = (await decodeRecordBatches(java('magic1_gzip_logappend'))).batches
    assert.equal(b!.timestampType, 'LogAppendTime')
    assert.deepEqual(b!.records.map((r) => [r.offset, r.timestamp]), [
      [200n, 1700000999999],
      [201n, 1700000999999],
    ])
  })
})

// ---------------------------------------------------------------------------

const bytesArb = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a))
const nullableBytes = fc.option(bytesArb, { nil: null, freq: 4 })
const headerKey = fc.oneof(fc.constantFrom('h', 'trace-id', ''), fc.string({ maxLength: 8 }), fc.fullUnicodeString({ maxLength: 4 }))
const headersArb = fc.array(fc.record({ key: headerKey, value: nullableBytes }), { maxLength: 4 }).chain((hs) =>
  // duplicate keys: sometimes repeat the first header's key
  hs.length === 0 ? fc.constant(hs) : fc.boolean().map((dup) => (dup ? [...hs, { key: hs[0]!.key, value: null }] : hs)),
)
const timestampArb = fc.oneof(fc.integer({ min: TS - 10_000_000, max: TS + 10_000_000 }), fc.constantFrom(0, -1, 2 ** 40, TS))
const recordsArb = fc.array(fc.record({ key: nullableBytes, value: nullableBytes, headers: headersArb, timestamp: timestampArb }), { maxLength: 12 })
const optsArb = fc.record({
  compression: fc.constantFrom(...CODECS),
  baseOffset: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 40n }), fc.constantFrom(0n, 2n ** 63n - 1n - 2n ** 31n, 2n ** 60n, 9007199254740993n)),
  partitionLeaderEpoch: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
  timestampType: fc.constantFrom('CreateTime' as const, 'LogAppendTime' as const),
  isTransactional: fc.boolean(),
  producerId: fc.oneof(fc.constant(-1n), fc.bigInt({ min: 0n, max: 2n ** 63n - 1n })),
  producerEpoch: fc.integer({ min: -1, max: 32767 }),
  baseSequence: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
})

function expectedRecords(opts: RecordBatchOptions, records: RecordInput[], maxTimestamp: number): unknown[] {
  return records.map((r, i) => ({
    offset: (opts.baseOffset ?? 0n) + BigInt(r.offsetDelta ?? i),
    timestamp: opts.timestampType === 'LogAppendTime' ? maxTimestamp : r.timestamp,
    key: r.key === null ? null : Buffer.from(r.key).toString('hex'),
    value: r.value === null ? null : Buffer.from(r.value).toString('hex'),
    headers: (r.headers ?? []).map((h) => ({ key: h.key, value: h.value === null ? null : Buffer.from(h.value).toString('hex') })),
  }))
}

function checkBatch(b: RecordBatch, opts: RecordBatchOptions, records: RecordInput[], size: number): void {
  const maxTs = records.length === 0 ? -1 : Math.max(...records.map((r) => r.timestamp))
  assert.equal(b.magic, 2)
  assert.equal(b.sizeInBytes, size)
  assert.equal(b.compression, opts.compression)
  assert.equal(b.baseOffset, opts.baseOffset ?? 0n)
  assert.equal(b.lastOffset, (opts.baseOffset ?? 0n) + BigInt(Math.max(0, records.length - 1)))
  assert.equal(b.partitionLeaderEpoch, opts.partitionLeaderEpoch ?? -1)
  assert.equal(b.timestampType, opts.timestampType ?? 'CreateTime')
  assert.equal(b.isTransactional, opts.isTransactional ?? false)
  assert.equal(b.isControl, false)
  assert.equal(b.producerId, opts.producerId ?? -1n)
  assert.equal(b.producerEpoch, opts.producerEpoch ?? -1)
  assert.equal(b.baseSequence, opts.baseSequence ?? -1)
  assert.equal(b.baseTimestamp, records.length === 0 ? -1 : records[0]!.timestamp)
  assert.equal(b.maxTimestamp, maxTs)
  assert.equal(b.deleteHorizonMs, null)
  assert.equal(b.control, null)
  assert.deepEqual(b.records.map(plain), expectedRecords(opts, records, maxTs))
}

describe('v2 round trips', () => {
  test('any records, any attributes, every codec (property)', async () => {
    await fc.assert(
      fc.asyncProperty(optsArb, recordsArb, async (opts, records) => {
        const enc = await encodeRecordBatch(opts, records)
        const out = await decodeRecordBatches(enc)
        assert.equal(out.bytesConsumed, enc.length)
        assert.equal(out.partialBytes, 0)
        assert.equal(out.batches.length, 1)
        checkBatch(out.batches[0]!, opts, records, enc.length)
        if (opts.compression === CompressionCodec.None) {
          assert.ok(encodeRecordBatchSync(opts, records).equals(enc))
          assert.deepEqual(decodeRecordBatchesSync(enc), out)
        }
      }),
      { numRuns: 250 },
    )
  })

  test('encoding into recycled memory gives the same bytes, whatever the memory held before (property)', async () => {
    // A memory source that hands out blocks full of garbage and records what comes back.
    const given: Uint8Array[] = []
    const dirty = {
      take: (n: number): Buffer => Buffer.alloc(n + 7, 0xa5).subarray(3, 3 + n),
      give: (b: Uint8Array): void => void given.push(b),
    }
    await fc.assert(
      fc.asyncProperty(optsArb, recordsArb, async (opts, records) => {
        given.length = 0
        const plain = await encodeRecordBatch(opts, records)
        const recycled = await encodeRecordBatch(opts, records, dirty)
        assert.ok(recycled.equals(plain))
        if (opts.compression === CompressionCodec.None) {
          assert.ok(encodeRecordBatchSync(opts, records, dirty).equals(plain))
          assert.equal(given.length, 0, 'an uncompressed batch has no scratch to hand back')
        } else {
          assert.equal(given.length, 1, 'the uncompressed records are handed back once compressed')
          assert.notEqual(given[0]!.buffer, recycled.buffer)
        }
      }),
      { numRuns: 200 },
    )
  })

  test('several batches of mixed codecs (and legacy messages) in one records field, in order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(optsArb, recordsArb), { minLength: 1, maxLength: 5 }), async (specs) => {
        const parts: Buffer[] = []
        for (const [opts, records] of specs) parts.push(await encodeRecordBatch(opts, records))
        parts.push(legacyMessage({ offset: 5n, magic: 1, timestamp: TS, key: u('legacy'), value: u('v') }))
        const all = Buffer.concat(parts)
        const out = await decodeRecordBatches(all)
        assert.equal(out.bytesConsumed, all.length)
        assert.equal(out.batches.length, specs.length + 1)
        specs.forEach(([opts, records], i) => checkBatch(out.batches[i]!, opts, records, parts[i]!.length))
        assert.equal(out.batches[specs.length]!.records[0]!.key!.toString(), 'legacy')
      }),
      { numRuns: 60 },
    )
  })

  test('explicit offset deltas (gaps, as after compaction) and lastOffsetDelta', async () => {
    const records: RecordInput[] = [
      { key: u('a'), value: u('1'), timestamp: TS, offsetDelta: 0 },
      { key: u('b'), value: u('2'), timestamp: TS, offsetDelta: 7 },
      { key: u('c'), value: u('3'), timestamp: TS, offsetDelta: 300 },
    ]
    const [b] = (await decodeRecordBatches(encodeRecordBatchSync({ compression: 0, baseOffset: 10n, lastOffsetDelta: 400 }, records))).batches
    assert.deepEqual(b!.records.map((r) => r.offset), [10n, 17n, 310n])
    assert.equal(b!.lastOffset, 410n)
  })

  test('an empty batch (as the log cleaner leaves) round-trips, compressed or not', async () => {
    for (const compression of CODECS) {
      const enc = await encodeRecordBatch({ compression, baseOffset: 42n, lastOffsetDelta: 3, producerId: 9n, producerEpoch: 1, baseSequence: 4 }, [])
      const [b] = (await decodeRecordBatches(enc)).batches
      assert.equal(b!.records.length, 0)
      assert.equal(b!.lastOffset, 45n)
      assert.equal(b!.baseTimestamp, -1)
    }
  })

  test('records without headers share one frozen empty array; records with headers get their own', async () => {
    const records: RecordInput[] = [
      { key: null, value: u('a'), timestamp: 1 },
      { key: null, value: u('b'), timestamp: 1, headers: [{ key: 'h', value: u('1') }] },
      { key: null, value: u('c'), timestamp: 1 },
      { key: null, value: u('d'), timestamp: 1, headers: [{ key: 'h', value: u('2') }] },
    ]
    const [b] = (await decodeRecordBatches(encodeRecordBatchSync({ compression: 0 }, records))).batches
    const [r0, r1, r2, r3] = b!.records
    assert.equal(r0!.headers, r2!.headers)
    assert.ok(Object.isFrozen(r0!.headers))
    // Changing it fails loudly instead of giving every other record a header.
    assert.throws(() => (r0!.headers as Array<unknown>).push({ key: 'x', value: null }), TypeError)
    assert.equal(r2!.headers.length, 0)
    assert.notEqual(r1!.headers, r3!.headers)
    assert.deepEqual(r3!.headers, [{ key: 'h', value: u('2') }])
  })

  test('large timestamps deltas and extreme offsets stay exact', async () => {
    const records: RecordInput[] = [
      { key: null, value: u('x'), timestamp: 0 },
      { key: null, value: u('y'), timestamp: 2 ** 53 - 1 },
      { key: null, value: u('z'), timestamp: -(2 ** 52) - 5 },
    ]
    for (const baseOffset of [2n ** 63n - 10n, -(2n ** 62n), 9007199254740993n]) {
      const [b] = (await decodeRecordBatches(encodeRecordBatchSync({ compression: 0, baseOffset }, records))).batches
      assert.deepEqual(b!.records.map((r) => [r.offset, r.timestamp]), [
        [baseOffset, 0],
        [baseOffset + 1n, 2 ** 53 - 1],
        [baseOffset + 2n, -(2 ** 52) - 5],
      ])
    }
  })

  test('delete horizon (KIP-534 attribute bit 6) is reported', async () => {
    const enc = encodeRecordBatchSync({ compression: 0, baseTimestamp: 1234 }, [{ key: null, value: u('v'), timestamp: 1300 }])
    enc.writeUInt16BE(enc.readUInt16BE(21) | 0x40, 21)
    const [b] = (await decodeRecordBatches(reseal(enc))).batches
    assert.equal(b!.deleteHorizonMs, 1234)
  })
})

// ---------------------------------------------------------------------------

const sampleRecords: RecordInput[] = Array.from({ length: 5 }, (_, i) => ({
  key: i % 2 === 0 ? u(`key-${i}`) : null,
  value: u(`value-${i}`.repeat(i + 1)),
  headers: [{ key: 'h', value: i === 3 ? null : u(String(i)) }],
  timestamp: TS + i * 1000,
}))

describe('partial trailing batches', () => {
  test('a batch cut at every byte boundary is a clean partial batch (or PROTOCOL_TRUNCATED when disallowed)', async () => {
    for (const compression of CODECS) {
      const first = await encodeRecordBatch({ compression }, sampleRecords)
      const second = await encodeRecordBatch({ compression, baseOffset: 5n }, sampleRecords)
      for (let k = 0; k < second.length; k++) {
        const buf = Buffer.concat([first, second.subarray(0, k)])
        const out = await decodeRecordBatches(buf)
        assert.equal(out.batches.length, 1, `cut at ${k}`)
        assert.equal(out.bytesConsumed, first.length)
        assert.equal(out.partialBytes, k)
        if (k > 0) await rejectsWith(decodeRecordBatches(buf, { allowPartial: false }), 'PROTOCOL_TRUNCATED')
      }
    }
  })

  test('legacy message sets cut at every byte boundary too', async () => {
    const msgs = Buffer.concat([
      legacyMessage({ offset: 0n, magic: 0, key: u('a'), value: u('b') }),
      await legacyWrapper({ offset: 3n, magic: 1, codec: CompressionCodec.Gzip, timestamp: TS, inner: Buffer.concat([0n, 1n, 2n, 3n].map((o) => legacyMessage({ offset: o, magic: 1, timestamp: TS, key: null, value: u('x') }))) }),
    ])
    const firstLen = legacyMessage({ offset: 0n, magic: 0, key: u('a'), value: u('b') }).length
    for (let k = firstLen; k < msgs.length; k++) {
      const out = await decodeRecordBatches(msgs.subarray(0, k))
      assert.equal(out.batches.length, 1)
      assert.equal(out.bytesConsumed, firstLen)
      assert.equal(out.partialBytes, k - firstLen)
    }
  })
})

describe('malformed batches raise typed ProtocolErrors', () => {
  const structural = ['PROTOCOL_TRUNCATED', 'PROTOCOL_INVALID_LENGTH', 'PROTOCOL_CORRUPT_RECORD', 'PROTOCOL_VARINT_TOO_LONG', 'PROTOCOL_INVALID_VALUE']

  test('records cut at every byte boundary (batch length and CRC rewritten to match) are typed errors', async () => {
    const full = encodeRecordBatchSync({ compression: 0 }, sampleRecords)
    for (let k = 12; k < full.length; k++) {
      const cut = Buffer.from(full.subarray(0, k))
      cut.writeInt32BE(k - 12, 8)
      if (k > 21) reseal(cut)
      await rejectsWith(decodeRecordBatches(cut), structural)
      await rejectsWith(decodeRecordBatches(cut, { verifyCrc: false }), structural)
    }
  })

  test('batch length below the minimum record overhead, or below the v2 header', async () => {
    const enc = encodeRecordBatchSync({ compression: 0 }, sampleRecords)
    for (const len of [-1, 0, 13, 14, 48]) {
      const bad = Buffer.from(enc)
      bad.writeInt32BE(len, 8)
      await rejectsWith(decodeRecordBatches(bad, { verifyCrc: false }), 'PROTOCOL_INVALID_LENGTH')
    }
  })

  test('an inflated batch length swallows the next batch: CRC mismatch, or leftover bytes without CRC checks', async () => {
    const a = encodeRecordBatchSync({ compression: 0 }, sampleRecords)
    const b = encodeRecordBatchSync({ compression: 0, baseOffset: 5n }, sampleRecords)
    const both = Buffer.concat([a, b])
    both.writeInt32BE(a.length - 12 + 5, 8)
    await rejectsWith(decodeRecordBatches(both), 'PROTOCOL_CRC_MISMATCH')
    await rejectsWith(decodeRecordBatches(both, { verifyCrc: false }), 'PROTOCOL_CORRUPT_RECORD')
    // On the last batch, an inflated length is indistinguishable from a partial batch.
    const last = Buffer.from(a)
    last.writeInt32BE(a.length - 12 + 1000, 8)
    assert.equal((await decodeRecordBatches(last)).partialBytes, a.length)
  })

  test('record count: negative, too large for the bytes, larger or smaller than the records present', async () => {
    const enc = encodeRecordBatchSync({ compression: 0 }, sampleRecords)
    for (const count of [-1, -2147483648, 2147483647, 6, 4, 0]) {
      const bad = Buffer.from(enc)
      bad.writeInt32BE(count, 57)
      await rejectsWith(decodeRecordBatches(reseal(bad)), 'PROTOCOL_CORRUPT_RECORD')
    }
  })

  test('a huge record count in a compressed batch is rejected without sizing anything by it', async () => {
    const enc = await encodeRecordBatch({ compression: CompressionCodec.Gzip }, sampleRecords)
    enc.writeInt32BE(2147483647, 57)
    await rejectsWith(decodeRecordBatches(reseal(enc)), 'PROTOCOL_CORRUPT_RECORD')
  })

  test('record length past the batch end, key / value / header lengths past the record end', async () => {
    const one = (): Buffer => encodeRecordBatchSync({ compression: 0 }, [{ key: u('kk'), value: u('vvv'), headers: [{ key: 'h', value: u('x') }], timestamp: TS }])
    // record body: [len][attr][tsDelta][offDelta][keyLen=04]["kk"][valLen=06]["vvv"][hdrCount=02][hkLen=02]["h"][hvLen=02]["x"]
    const at = (field: number): number => 61 + field
    const edits: Array<[string, number, number]> = [
      ['record length', at(0), 0x7e],
      ['key length', at(4), 0x7e],
      ['value length', at(7), 0x7e],
      ['header count', at(11), 0x7e],
      ['header key length', at(12), 0x7e],
      ['header value length', at(14), 0x7e],
      ['header key length negative', at(12), 0x01],
      ['header count negative', at(11), 0x01],
      ['record length too short', at(0), 0x04],
      ['varint longer than 5 bytes', at(4), 0xff],
    ]
    for (const [what, pos, byte] of edits) {
      const bad = one()
      bad[pos] = byte
      const e = await rejectsWith(decodeRecordBatches(reseal(bad)), structural)
      assert.ok(typeof e.context.offset === 'number', what)
    }
  })

  test('unknown magic and unknown compression codec', async () => {
    const enc = encodeRecordBatchSync({ compression: 0 }, sampleRecords)
    const magic = Buffer.from(enc)
    magic[16] = 3
    await rejectsWith(decodeRecordBatches(magic), 'PROTOCOL_CORRUPT_RECORD')
    const codec = Buffer.from(enc)
    codec.writeUInt16BE(6, 21)
    await rejectsWith(decodeRecordBatches(reseal(codec)), 'PROTOCOL_COMPRESSION')
  })

  test('any byte mutation of valid batches decodes or raises a typed ProtocolError (property)', async () => {
    const parts = await Promise.all(CODECS.map((compression, i) => encodeRecordBatch({ compression, baseOffset: BigInt(i * 10) }, sampleRecords)))
    parts.push(legacyMessage({ offset: 70n, magic: 1, timestamp: TS, key: u('k'), value: u('v') }))
    const all = Buffer.concat(parts)
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(all.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        async (flips, fixCrcs) => {
          const bad = Buffer.from(all)
          for (const [at, x] of flips) bad[at]! ^= x
          const opts: DecodeRecordBatchesOptions = { verifyCrc: !fixCrcs, maxDecompressedBytes: 1 << 20 }
          try {
            const out = await decodeRecordBatches(bad, opts)
            assert.ok(out.bytesConsumed + out.partialBytes === bad.length)
          } catch (e) {
            assert.ok(e instanceof ProtocolError, String(e))
            assert.match(e.code, /^PROTOCOL_/)
          }
        },
      ),
      { numRuns: 400 },
    )
  })
})

describe('CRC', () => {
  test('a flipped bit anywhere from attributes to the end is PROTOCOL_CRC_MISMATCH; verifyCrc: false skips the check', async () => {
    for (const compression of [CompressionCodec.None, CompressionCodec.Lz4]) {
      const enc = await encodeRecordBatch({ compression }, sampleRecords)
      for (let at = 17; at < enc.length; at += 7) {
        const bad = Buffer.from(enc)
        bad[at]! ^= 0x10
        const e = await rejectsWith(decodeRecordBatches(bad), 'PROTOCOL_CRC_MISMATCH')
        assert.equal(e.context.offset, 0)
      }
      // A value byte flipped with CRCs off decodes, wrongly but without error.
      const bad = Buffer.from(enc)
      bad[enc.length - 3]! ^= 0x01
      if (compression === CompressionCodec.None) assert.equal((await decodeRecordBatches(bad, { verifyCrc: false })).batches.length, 1)
    }
  })

  test('baseOffset and partitionLeaderEpoch are outside the CRC', async () => {
    const enc = encodeRecordBatchSync({ compression: 0 }, sampleRecords)
    enc.writeBigInt64BE(77n, 0)
    enc.writeInt32BE(9, 12)
    const [b] = (await decodeRecordBatches(enc)).batches
    assert.equal(b!.baseOffset, 77n)
    assert.equal(b!.partitionLeaderEpoch, 9)
  })

  test('legacy messages: outer and inner CRC32 mismatches', async () => {
    const m = legacyMessage({ offset: 1n, magic: 1, timestamp: TS, key: u('k'), value: u('value') })
    const bad = Buffer.from(m)
    bad[bad.length - 1]! ^= 1
    await rejectsWith(decodeRecordBatches(bad), 'PROTOCOL_CRC_MISMATCH')
    assert.equal((await decodeRecordBatches(bad, { verifyCrc: false })).batches[0]!.records[0]!.value!.toString(), 'valud')
    const innerBad = Buffer.from(legacyMessage({ offset: 0n, magic: 1, timestamp: TS, key: null, value: u('x') }))
    innerBad[innerBad.length - 1]! ^= 1
    const wrapper = await legacyWrapper({ offset: 0n, magic: 1, codec: CompressionCodec.Gzip, timestamp: TS, inner: innerBad })
    await rejectsWith(decodeRecordBatches(wrapper), 'PROTOCOL_CRC_MISMATCH')
    assert.equal((await decodeRecordBatches(wrapper, { verifyCrc: false })).batches[0]!.records.length, 1)
  })
})

describe('compressed payloads', () => {
  test('a corrupt compressed records section (CRC intact) is PROTOCOL_COMPRESSION, for every codec', async () => {
    for (const compression of CODECS.slice(1)) {
      const enc = await encodeRecordBatch({ compression }, sampleRecords)
      const bad = Buffer.from(enc)
      // Overwrite the payload's first bytes (its magic / header) with garbage.
      bad.fill(0xee, 61, Math.min(61 + 24, bad.length))
      const e = await rejectsWith(decodeRecordBatches(reseal(bad)), 'PROTOCOL_COMPRESSION')
      assert.equal(e.context.offset, 0)
      assert.ok(['gzip', 'snappy', 'lz4', 'zstd'].includes(String(e.context.codec)))
    }
  })

  test('a compressed batch that decompresses to garbage records is a typed record error', async () => {
    const junk = await compress(CompressionCodec.Gzip, Buffer.from('definitely not records'))
    const enc = encodeRecordBatchSync({ compression: 0 }, sampleRecords)
    const bad = Buffer.concat([enc.subarray(0, 61), junk])
    bad.writeInt32BE(bad.length - 12, 8)
    bad.writeUInt16BE(CompressionCodec.Gzip, 21)
    await rejectsWith(decodeRecordBatches(reseal(bad)), structural())
  })

  test('decompression bomb over maxDecompressedBytes is PROTOCOL_DECOMPRESSED_TOO_LARGE', async () => {
    for (const compression of CODECS.slice(1)) {
      const bomb = await encodeRecordBatch({ compression }, [{ key: null, value: Buffer.alloc(3 * 1024 * 1024), timestamp: TS }])
      assert.ok(bomb.length < 300_000)
      await rejectsWith(decodeRecordBatches(bomb, { maxDecompressedBytes: 1024 * 1024 }), 'PROTOCOL_DECOMPRESSED_TOO_LARGE')
    }
  })

  test('the ceiling is one budget for the whole call', async () => {
    const half = await encodeRecordBatch({ compression: CompressionCodec.Gzip }, [{ key: null, value: Buffer.alloc(600_000), timestamp: TS }])
    assert.equal((await decodeRecordBatches(half, { maxDecompressedBytes: 1_000_000 })).batches.length, 1)
    await rejectsWith(decodeRecordBatches(Buffer.concat([half, half]), { maxDecompressedBytes: 1_000_000 }), 'PROTOCOL_DECOMPRESSED_TOO_LARGE')
  })

  test('decodeRecordBatchesSync decodes uncompressed data and refuses compressed batches', async () => {
    const plainBatch = encodeRecordBatchSync({ compression: 0 }, sampleRecords)
    assert.deepEqual(decodeRecordBatchesSync(plainBatch), await decodeRecordBatches(plainBatch))
    const gz = await encodeRecordBatch({ compression: CompressionCodec.Gzip }, sampleRecords)
    await rejectsWith(() => decodeRecordBatchesSync(Buffer.concat([plainBatch, gz])), 'PROTOCOL_CODEC_UNAVAILABLE')
  })
})

function structural(): string[] {
  return ['PROTOCOL_TRUNCATED', 'PROTOCOL_INVALID_LENGTH', 'PROTOCOL_CORRUPT_RECORD', 'PROTOCOL_VARINT_TOO_LONG', 'PROTOCOL_INVALID_VALUE']
}

describe('control batches', () => {
  function controlBatch(key: Buffer | null, value: Buffer | null, count = 1): Buffer {
    const enc = encodeRecordBatchSync({ compression: 0, producerId: 3n, producerEpoch: 1 }, count === 0 ? [] : [{ key, value, timestamp: TS }])
    enc.writeUInt16BE(enc.readUInt16BE(21) | 0x30, 21)
    return reseal(enc)
  }

  test('non-marker control types (KRaft leader change etc.) decode as UNKNOWN', async () => {
    const [b] = (await decodeRecordBatches(controlBatch(Buffer.from([0, 0, 0, 2]), Buffer.from([0, 0, 1, 2, 3])))).batches
    assert.deepEqual(b!.control, { type: 'UNKNOWN', typeId: 2, version: 0, coordinatorEpoch: -1 })
  })

  test('a control batch emptied by compaction has no control record', async () => {
    const [b] = (await decodeRecordBatches(controlBatch(null, null, 0))).batches
    assert.equal(b!.isControl, true)
    assert.equal(b!.control, null)
  })

  test('a newer key version is parsed as version 0 (ControlRecordType.parseTypeId)', async () => {
    const [b] = (await decodeRecordBatches(controlBatch(Buffer.from([0, 1, 0, 1, 9]), Buffer.from([0, 3, 0, 0, 0, 7, 1])))).batches
    assert.deepEqual(b!.control, { type: 'COMMIT', typeId: 1, version: 1, coordinatorEpoch: 7 })
  })

  test('malformed control keys and marker values are PROTOCOL_CORRUPT_RECORD', async () => {
    for (const [key, value] of [
      [null, Buffer.alloc(6)],
      [Buffer.from([0, 0, 0]), Buffer.alloc(6)],
      [Buffer.from([0xff, 0xff, 0, 0]), Buffer.alloc(6)],
      [Buffer.from([0, 0, 0, 1]), Buffer.alloc(5)],
      [Buffer.from([0, 0, 0, 0]), null],
      [Buffer.from([0, 0, 0, 0]), Buffer.from([0x80, 0, 0, 0, 0, 0])],
    ] as Array<[Buffer | null, Buffer | null]>) {
      await rejectsWith(decodeRecordBatches(controlBatch(key, value)), 'PROTOCOL_CORRUPT_RECORD')
    }
  })
})

describe('patchRecordBatch', () => {
  test('re-stamps producer fields in place and keeps the CRC valid', async () => {
    for (const compression of [CompressionCodec.None, CompressionCodec.Zstd]) {
      const enc = await encodeRecordBatch({ compression, producerId: 1n, producerEpoch: 0, baseSequence: 0 }, sampleRecords)
      const before = await decodeRecordBatches(enc)
      patchRecordBatch(enc, { producerId: 99n, producerEpoch: 7, baseSequence: 1234, isTransactional: true, baseOffset: 500n, partitionLeaderEpoch: 4 })
      const [b] = (await decodeRecordBatches(enc)).batches
      assert.equal(b!.producerId, 99n)
      assert.equal(b!.producerEpoch, 7)
      assert.equal(b!.baseSequence, 1234)
      assert.equal(b!.isTransactional, true)
      assert.equal(b!.baseOffset, 500n)
      assert.equal(b!.partitionLeaderEpoch, 4)
      assert.deepEqual(b!.records.map((r) => r.value!.toString()), before.batches[0]!.records.map((r) => r.value!.toString()))
      patchRecordBatch(enc, { isTransactional: false })
      assert.equal((await decodeRecordBatches(enc)).batches[0]!.isTransactional, false)
    }
  })

  test('patches a batch in the middle of a larger buffer', async () => {
    const a = encodeRecordBatchSync({ compression: 0 }, sampleRecords)
    const b = encodeRecordBatchSync({ compression: 0, baseOffset: 5n }, sampleRecords)
    const buf = Buffer.concat([a, b])
    patchRecordBatch(buf, { baseSequence: 55 }, a.length)
    const out = await decodeRecordBatches(buf)
    assert.deepEqual(out.batches.map((x) => x.baseSequence), [-1, 55])
  })

  test('refuses legacy messages, short buffers, bad lengths and out-of-range values', async () => {
    const legacy = legacyMessage({ offset: 0n, magic: 1, timestamp: TS, key: null, value: Buffer.alloc(60) })
    await rejectsWith(() => patchRecordBatch(legacy, { baseSequence: 1 }), 'PROTOCOL_INVALID_VALUE')
    await rejectsWith(() => patchRecordBatch(Buffer.alloc(30), { baseSequence: 1 }), 'PROTOCOL_TRUNCATED')
    const enc = encodeRecordBatchSync({ compression: 0 }, sampleRecords)
    await rejectsWith(() => patchRecordBatch(enc.subarray(0, enc.length - 1), { baseSequence: 1 }), 'PROTOCOL_INVALID_LENGTH')
    await rejectsWith(() => patchRecordBatch(enc, { producerEpoch: 40000 }), 'PROTOCOL_INVALID_VALUE')
    await rejectsWith(() => patchRecordBatch(enc, { producerId: 2n ** 63n }), 'PROTOCOL_INVALID_VALUE')
  })
})

describe('legacy v0 / v1 message sets (hand-built)', () => {
  const inner = (magic: 0 | 1, offsets: bigint[], ts = TS): Buffer =>
    Buffer.concat(offsets.map((o, i) => legacyMessage({ offset: o, magic, timestamp: ts + i, key: u(`k${i}`), value: i === 1 ? null : u(`v${i}`) })))

  for (const codec of [CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4]) {
    test(`v1 ${['', 'gzip', 'snappy', 'lz4'][codec]} wrapper: relative inner offsets become absolute (wrapper offset - last inner + inner)`, async () => {
      const w = await legacyWrapper({ offset: 1002n, magic: 1, codec, timestamp: TS + 2, inner: inner(1, [0n, 1n, 2n]) })
      const [b] = (await decodeRecordBatches(w)).batches
      assert.equal(b!.baseOffset, 1000n)
      assert.equal(b!.lastOffset, 1002n)
      assert.equal(b!.timestampType, 'CreateTime')
      assert.deepEqual(b!.records.map((r) => [r.offset, r.timestamp, r.key?.toString(), r.value?.toString() ?? null]), [
        [1000n, TS, 'k0', 'v0'],
        [1001n, TS + 1, 'k1', null],
        [1002n, TS + 2, 'k2', 'v2'],
      ])
    })

    test(`v0 ${['', 'gzip', 'snappy', 'lz4'][codec]} wrapper: inner offsets are absolute; no timestamps`, async () => {
      const w = await legacyWrapper({ offset: 52n, magic: 0, codec, inner: inner(0, [50n, 51n, 52n]), brokenLz4Checksum: codec === CompressionCodec.Lz4 })
      const [b] = (await decodeRecordBatches(w)).batches
      assert.equal(b!.timestampType, 'NoTimestampType')
      assert.deepEqual(b!.records.map((r) => [r.offset, r.timestamp]), [
        [50n, -1],
        [51n, -1],
        [52n, -1],
      ])
    })
  }

  test('v1 wrapper with LogAppendTime: inner timestamps are the wrapper timestamp', async () => {
    const w = await legacyWrapper({ offset: 9n, magic: 1, codec: CompressionCodec.Snappy, timestamp: TS + 99, logAppendTime: true, inner: inner(1, [0n, 1n]) })
    const [b] = (await decodeRecordBatches(w)).batches
    assert.equal(b!.timestampType, 'LogAppendTime')
    assert.deepEqual(b!.records.map((r) => [r.offset, r.timestamp]), [
      [8n, TS + 99],
      [9n, TS + 99],
    ])
  })

  test('uncompressed v0 / v1 messages are one-record batches; the sync decoder handles them', () => {
    const set = Buffer.concat([
      legacyMessage({ offset: 7n, magic: 0, key: null, value: u('a') }),
      legacyMessage({ offset: 8n, magic: 1, timestamp: TS, key: u('k'), value: null }),
      legacyMessage({ offset: 9n, magic: 1, attributes: 0x08, timestamp: TS + 1, key: null, value: u('') }),
    ])
    const { batches } = decodeRecordBatchesSync(set)
    assert.deepEqual(batches.map((b) => [b.magic, b.baseOffset, b.timestampType, b.records.length]), [
      [0, 7n, 'NoTimestampType', 1],
      [1, 8n, 'CreateTime', 1],
      [1, 9n, 'LogAppendTime', 1],
    ])
    assert.deepEqual(batches.map((b) => plain(b.records[0]!)), [
      { offset: 7n, timestamp: -1, key: null, value: '61', headers: [] },
      { offset: 8n, timestamp: TS, key: '6b', value: null, headers: [] },
      { offset: 9n, timestamp: TS + 1, key: null, value: '', headers: [] },
    ])
  })

  test('nested compression, empty inner sets, null wrapper values and bad inner framing are typed errors', async () => {
    const nested = await legacyWrapper({ offset: 0n, magic: 1, codec: CompressionCodec.Gzip, timestamp: TS, inner: await legacyWrapper({ offset: 0n, magic: 1, codec: CompressionCodec.Gzip, timestamp: TS, inner: inner(1, [0n]) }) })
    await rejectsWith(decodeRecordBatches(nested), 'PROTOCOL_CORRUPT_RECORD')
    await rejectsWith(decodeRecordBatches(await legacyWrapper({ offset: 0n, magic: 1, codec: CompressionCodec.Gzip, timestamp: TS, inner: Buffer.alloc(0) })), 'PROTOCOL_CORRUPT_RECORD')
    await rejectsWith(decodeRecordBatches(legacyMessage({ offset: 0n, magic: 1, attributes: 1, timestamp: TS, key: null, value: null })), 'PROTOCOL_CORRUPT_RECORD')
    const truncatedInner = inner(1, [0n, 1n]).subarray(0, -3)
    await rejectsWith(decodeRecordBatches(await legacyWrapper({ offset: 1n, magic: 1, codec: CompressionCodec.Gzip, timestamp: TS, inner: truncatedInner })), ['PROTOCOL_INVALID_LENGTH', 'PROTOCOL_CORRUPT_RECORD'])
  })

  test('legacy messages whose key / value lengths disagree with the message size are typed errors', async () => {
    const m = legacyMessage({ offset: 0n, magic: 1, timestamp: TS, key: u('key'), value: u('value') })
    for (const [pos, v] of [
      // offset 8, size 4, crc 4, magic 1, attributes 1, timestamp 8: key length at 26
      [26, 100], // key length past the end
      [26, -5], // negative key length other than -1: null key, then the value length is misread
      [26 + 4 + 3, 1], // value shorter than the message: bytes left over
    ] as Array<[number, number]>) {
      const bad = Buffer.from(m)
      bad.writeInt32BE(v, pos)
      await rejectsWith(decodeRecordBatches(bad, { verifyCrc: false }), ['PROTOCOL_TRUNCATED', 'PROTOCOL_CORRUPT_RECORD'])
    }
    const tiny = Buffer.from(m.subarray(0, 12 + 20))
    tiny.writeInt32BE(20, 8)
    await rejectsWith(decodeRecordBatches(tiny, { verifyCrc: false }), 'PROTOCOL_INVALID_LENGTH')
  })
})

describe('encoder input validation', () => {
  test('bad timestamps, offset deltas, keys, values and header keys are PROTOCOL_INVALID_VALUE', async () => {
    const bad: Array<[RecordBatchOptions, unknown[]]> = [
      [{ compression: 0 }, [{ key: null, value: null, timestamp: 1.5 }]],
      [{ compression: 0 }, [{ key: null, value: null, timestamp: Number.NaN }]],
      [{ compression: 0 }, [{ key: null, value: null, timestamp: 2 ** 53 }]],
      [{ compression: 0, baseTimestamp: -(2 ** 53 - 1) }, [{ key: null, value: null, timestamp: 2 ** 53 - 1 }]],
      [{ compression: 0 }, [{ key: null, value: null, timestamp: TS, offsetDelta: 1 }, { key: null, value: null, timestamp: TS, offsetDelta: 1 }]],
      [{ compression: 0 }, [{ key: null, value: null, timestamp: TS, offsetDelta: -1 }]],
      [{ compression: 0 }, [{ key: 'not bytes', value: null, timestamp: TS }]],
      [{ compression: 0 }, [{ key: null, value: 42, timestamp: TS }]],
      [{ compression: 0 }, [{ key: null, value: null, timestamp: TS, headers: [{ key: 5, value: null }] }]],
      [{ compression: 0 }, [{ key: null, value: null, timestamp: TS, headers: [{ key: 'k', value: 'v' }] }]],
      [{ compression: 0, producerEpoch: 32768 }, []],
      [{ compression: 0, baseSequence: 2 ** 31 }, []],
      [{ compression: 0, producerId: 2n ** 63n }, []],
      [{ compression: 0, lastOffsetDelta: 0 }, [{ key: null, value: null, timestamp: TS, offsetDelta: 3 }]],
      [{ compression: 9 }, []],
    ]
    for (const [opts, records] of bad) {
      await rejectsWith(encodeRecordBatch(opts, records as RecordInput[]), 'PROTOCOL_INVALID_VALUE')
    }
    await rejectsWith(() => encodeRecordBatchSync({ compression: CompressionCodec.Gzip }, []), 'PROTOCOL_INVALID_VALUE')
  })

  test('the encoder is reusable: consecutive batches of different shapes do not leak scratch state', async () => {
    const big: RecordInput[] = Array.from({ length: 3000 }, (_, i) => ({ key: null, value: u(String(i)), headers: [{ key: `h${i % 3}`, value: null }], timestamp: TS }))
    const small: RecordInput[] = [{ key: u('é'), value: null, headers: [{ key: 'ключ', value: u('v') }], timestamp: TS }]
    for (const records of [big, small, big]) {
      const [b] = (await decodeRecordBatches(encodeRecordBatchSync({ compression: 0 }, records))).batches
      assert.deepEqual(b!.records.map(plain), expectedRecords({ compression: 0 }, records, TS))
    }
  })
})

// Keep DecodedRecordBatches referenced for the type-only import check.
export type { DecodedRecordBatches }
