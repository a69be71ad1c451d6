import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { crc32c, crc32cJs } from '../src/protocol/crc32c.js'

describe('CRC-32C', () => {
  test('known answer: CRC32C("123456789") = 0xE3069283 (both implementations)', () => {
    const b = Buffer.from('123456789')
    assert.equal(crc32c(b), 0xe3069283)
    assert.equal(crc32cJs(b), 0xe3069283)
  })

  test('known answers from RFC 3720 (iSCSI) appendix B.4', () => {
    assert.equal(crc32c(Buffer.alloc(32, 0x00)), 0x8a9136aa)
    assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43)
    assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e)
    assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))), 0x113fdb5c)
    assert.equal(crc32c(Buffer.alloc(0)), 0)
  })

  test('the wasm path agrees with crc-32/crc32c on any range, short or long (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.nat(40), fc.nat(40), (bytes, a, b) => {
        const buf = Buffer.from(bytes)
        const start = Math.min(a, buf.length)
        const end = Math.max(start, buf.length - b)
        assert.equal(crc32c(buf, start, end), crc32cJs(buf, start, end))
      }),
      { numRuns: 300 },
    )
  })

  test('inputs longer than the wasm window are hashed in chunks, at any alignment', () => {
    for (const n of [311_295, 311_296, 311_297, 1_048_576 + 13]) {
      const buf = Buffer.allocUnsafe(n + 3)
      for (let i = 0; i < buf.length; i++) buf[i] = (i * 131 + 7) & 0xff
      assert.equal(crc32c(buf, 3, n + 3), crc32cJs(buf, 3, n + 3), `length ${n}`)
    }
  })
})
