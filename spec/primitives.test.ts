/**
 * Reader / Writer varint and zig-zag edge values. The expected byte strings
 * follow from the encodings the protocol guide specifies (unsigned LEB128
 * for KIP-482 lengths; zig-zag varint / varlong for record fields, as in
 * org.apache.kafka.common.utils.ByteUtils).
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ProtocolError } from '../src/protocol/errors.js'
import { Reader } from '../src/protocol/reader.js'
import { Writer, uvarintSize, varintSize, varlongNumberSize } from '../src/protocol/writer.js'

const INT32_MIN = -2147483648
const INT32_MAX = 2147483647
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

function hex(write: (w: Writer) => void): string {
  const w = new Writer(16)
  write(w)
  return Buffer.from(w.finish()).toString('hex')
}

function reader(h: string): Reader {
  return new Reader(Buffer.from(h, 'hex'))
}

function assertCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ProtocolError, `expected ProtocolError, got ${String(e)}`)
    assert.equal(e.code, code)
    return true
  })
}

describe('unsigned varint (uvarint)', () => {
  const cases: Array<[number, string]> = [
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8001'],
    [16383, 'ff7f'],
    [16384, '808001'],
    [2 ** 31 - 1, 'ffffffff07'],
    [2 ** 31, '8080808008'],
    [2 ** 32 - 1, 'ffffffff0f'],
  ]
  for (const [v, h] of cases) {
    test(`${v} <-> ${h}`, () => {
      assert.equal(hex((w) => w.uvarint(v)), h)
      const r = reader(h)
      assert.equal(r.uvarint(), v)
      assert.equal(r.remaining, 0)
      assert.equal(uvarintSize(v), h.length / 2)
    })
  }

  test('a fifth byte above 0x0f does not fit in 32 bits', () => {
    assertCode(() => reader('ffffffff10').uvarint(), 'PROTOCOL_VARINT_TOO_LONG')
    assertCode(() => reader('8080808070').uvarint(), 'PROTOCOL_VARINT_TOO_LONG')
  })

  test('more than five bytes is rejected', () => {
    assertCode(() => reader('808080808000').uvarint(), 'PROTOCOL_VARINT_TOO_LONG')
  })

  test('a varint cut short is PROTOCOL_TRUNCATED, at every length', () => {
    for (const h of ['', '80', '8080', '808080', '80808080']) assertCode(() => reader(h).uvarint(), 'PROTOCOL_TRUNCATED')
  })
})

describe('zig-zag varint (int32)', () => {
  const cases: Array<[number, string]> = [
    [0, '00'],
    [-1, '01'],
    [1, '02'],
    [-64, '7f'],
    [63, '7e'],
    [64, '8001'],
    [INT32_MAX, 'feffffff0f'],
    [INT32_MIN, 'ffffffff0f'],
  ]
  for (const [v, h] of cases) {
    test(`${v} <-> ${h}`, () => {
      assert.equal(hex((w) => w.varint(v)), h)
      const r = reader(h)
      assert.equal(r.varint(), v)
      assert.equal(r.remaining, 0)
      assert.equal(varintSize(v), h.length / 2)
    })
  }

  test('round-trips every int32 (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: INT32_MIN, max: INT32_MAX }), (v) => {
        const w = new Writer(8)
        w.varint(v)
        const b = Buffer.from(w.finish())
        assert.equal(b.length, varintSize(v))
        assert.equal(new Reader(b).varint(), v)
      }),
    )
  })
})

describe('zig-zag varlong (int64)', () => {
  const cases: Array<[bigint, string]> = [
    [0n, '00'],
    [-1n, '01'],
    [1n, '02'],
    [2n ** 31n, '8080808010'],
    [-(2n ** 31n), 'ffffffff0f'],
    [2n ** 53n, '80808080808080' + '20'],
    [-(2n ** 53n), 'ffffffffffffff' + '1f'],
    [INT64_MAX, 'feffffffffffffffff01'],
    [INT64_MIN, 'ffffffffffffffffff01'],
  ]
  for (const [v, h] of cases) {
    test(`${v} <-> ${h}`, () => {
      assert.equal(hex((w) => w.varlong(v)), h)
      const r = reader(h)
      assert.equal(r.varlong(), v)
      assert.equal(r.remaining, 0)
    })
  }

  test('the number variant agrees with the bigint variant on safe integers, both ways', () => {
    const edges = [0, -1, 1, INT32_MAX, INT32_MIN, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 - 1, -(2 ** 53 - 1), 1_700_000_000_000, -1_700_000_000_000]
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...edges), fc.maxSafeInteger()), (v) => {
        const a = hex((w) => w.varlongNumber(v))
        assert.equal(a, hex((w) => w.varlong(BigInt(v))))
        assert.equal(varlongNumberSize(v), a.length / 2)
        assert.equal(reader(a).varlongNumber(), v)
        assert.equal(reader(a).varlong(), BigInt(v))
      }),
    )
  })

  test('±2^53 cannot be a number: writing it is PROTOCOL_INVALID_VALUE, reading it as a number too', () => {
    assertCode(() => new Writer().varlongNumber(2 ** 53), 'PROTOCOL_INVALID_VALUE')
    assertCode(() => new Writer().varlongNumber(-(2 ** 53)), 'PROTOCOL_INVALID_VALUE')
    assertCode(() => reader(hex((w) => w.varlong(2n ** 53n))).varlongNumber(), 'PROTOCOL_INVALID_VALUE')
    assertCode(() => reader(hex((w) => w.varlong(INT64_MIN))).varlongNumber(), 'PROTOCOL_INVALID_VALUE')
  })

  test('round-trips every int64 (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: INT64_MIN, max: INT64_MAX }), (v) => {
        assert.equal(reader(hex((w) => w.varlong(v))).varlong(), v)
      }),
    )
  })

  test('a tenth byte above 0x01, or an eleventh byte, is rejected; a cut varlong is truncated', () => {
    assertCode(() => reader('ffffffffffffffffff02').varlong(), 'PROTOCOL_VARINT_TOO_LONG')
    assertCode(() => reader('8080808080808080808000').varlong(), 'PROTOCOL_VARINT_TOO_LONG')
    assertCode(() => reader('feffffffffffffffff').varlong(), 'PROTOCOL_TRUNCATED')
    assertCode(() => reader('80').varlongNumber(), 'PROTOCOL_TRUNCATED')
  })
})

describe('fixed-width ints at their limits', () => {
  test('int32 / uint32 / int64 / int64Number', () => {
    const w = new Writer(32)
    w.int32(INT32_MIN)
    w.int32(INT32_MAX)
    w.uint32(0xffffffff)
    w.int64(INT64_MIN)
    w.int64(INT64_MAX)
    w.int64Number(-1)
    w.int64Number(2 ** 53 - 1)
    const r = new Reader(Buffer.from(w.finish()))
    assert.equal(r.int32(), INT32_MIN)
    assert.equal(r.int32(), INT32_MAX)
    assert.equal(r.uint32(), 0xffffffff)
    assert.equal(r.int64(), INT64_MIN)
    assert.equal(r.int64(), INT64_MAX)
    assert.equal(r.int64Number(), -1)
    assert.equal(r.int64Number(), 2 ** 53 - 1)
    assert.equal(r.remaining, 0)
    assertCode(() => r.int8(), 'PROTOCOL_TRUNCATED')
  })
})
