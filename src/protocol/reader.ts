import { ProtocolError } from './errors.js'

const UUID_BYTES = 16

/**
 * A bounds-checked cursor over a Buffer. Every read checks the bytes left
 * before touching the buffer, so malformed input raises a ProtocolError with
 * the offset instead of a RangeError, and no length prefix can make us
 * allocate more than the bytes actually present.
 */
export class Reader {
  buf: Buffer
  offset: number
  end: number

  constructor(buf: Buffer, offset = 0, end = buf.length) {
    this.buf = buf
    this.offset = offset
    this.end = end
  }

  get remaining(): number {
    return this.end - this.offset
  }

  truncated(need: number, what: string): ProtocolError {
    return new ProtocolError(
      'PROTOCOL_TRUNCATED',
      `truncated input: ${what} needs ${need} byte(s) at offset ${this.offset}, ${this.end - this.offset} left`,
      { offset: this.offset },
    )
  }

  /** Throws unless n more bytes are available. */
  need(n: number, what: string): void {
    if (this.offset + n > this.end) throw this.truncated(n, what)
  }

  int8(): number {
    if (this.offset + 1 > this.end) throw this.truncated(1, 'int8')
    const v = this.buf[this.offset++]!
    return (v << 24) >> 24
  }

  uint8(): number {
    if (this.offset + 1 > this.end) throw this.truncated(1, 'uint8')
    return this.buf[this.offset++]!
  }

  bool(): boolean {
    if (this.offset + 1 > this.end) throw this.truncated(1, 'boolean')
    return this.buf[this.offset++] !== 0
  }

  int16(): number {
    const o = this.offset
    if (o + 2 > this.end) throw this.truncated(2, 'int16')
    this.offset = o + 2
    const b = this.buf
    return ((b[o]! << 24) | (b[o + 1]! << 16)) >> 16
  }

  uint16(): number {
    const o = this.offset
    if (o + 2 > this.end) throw this.truncated(2, 'uint16')
    this.offset = o + 2
    const b = this.buf
    return (b[o]! << 8) | b[o + 1]!
  }

  int32(): number {
    const o = this.offset
    if (o + 4 > this.end) throw this.truncated(4, 'int32')
    this.offset = o + 4
    const b = this.buf
    return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!
  }

  uint32(): number {
    const o = this.offset
    if (o + 4 > this.end) throw this.truncated(4, 'uint32')
    this.offset = o + 4
    const b = this.buf
    return (b[o]! * 0x1000000) + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!)
  }

  int64(): bigint {
    const o = this.offset
    if (o + 8 > this.end) throw this.truncated(8, 'int64')
    this.offset = o + 8
    return this.buf.readBigInt64BE(o)
  }

  /**
   * An int64 as a number. Exact for |v| <= 2^53; callers use it only where
   * Kafka's values stay in that range (timestamps, offsets inside a batch).
   */
  int64Number(): number {
    const o = this.offset
    if (o + 8 > this.end) throw this.truncated(8, 'int64')
    this.offset = o + 8
    const b = this.buf
    const hi = (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!
    const lo = (b[o + 4]! * 0x1000000) + ((b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!)
    return hi * 0x100000000 + lo
  }

  float64(): number {
    const o = this.offset
    if (o + 8 > this.end) throw this.truncated(8, 'float64')
    this.offset = o + 8
    return this.buf.readDoubleBE(o)
  }

  /** Unsigned LEB128, at most 5 bytes, 32 bits (KIP-482 lengths and tags). */
  uvarint(): number {
    const b = this.buf
    let o = this.offset
    const end = this.end
    let result = 0
    let shift = 0
    for (let i = 0; i < 5; i++) {
      if (o >= end) {
        this.offset = o
        throw this.truncated(1, 'varint')
      }
      const byte = b[o++]!
      if (i === 4 && byte > 0x0f) {
        this.offset = o
        throw new ProtocolError('PROTOCOL_VARINT_TOO_LONG', `varint does not fit in 32 bits at offset ${o - 1}`, { offset: o - 1 })
      }
      result += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) {
        this.offset = o
        return result
      }
      shift += 7
    }
    this.offset = o
    throw new ProtocolError('PROTOCOL_VARINT_TOO_LONG', `varint longer than 5 bytes at offset ${o - 5}`, { offset: o - 5 })
  }

  /** Zig-zag signed varint (int32). */
  varint(): number {
    const u = this.uvarint()
    // Zig-zag decode on the unsigned 32-bit value.
    return (u >>> 1) ^ -(u & 1)
  }

  /** Zig-zag signed varlong as bigint. */
  varlong(): bigint {
    const b = this.buf
    let o = this.offset
    const end = this.end
    let result = 0n
    let shift = 0n
    for (let i = 0; i < 10; i++) {
      if (o >= end) {
        this.offset = o
        throw this.truncated(1, 'varlong')
      }
      const byte = b[o++]!
      if (i === 9 && byte > 0x01) {
        this.offset = o
        throw new ProtocolError('PROTOCOL_VARINT_TOO_LONG', `varlong does not fit in 64 bits at offset ${o - 1}`, { offset: o - 1 })
      }
      result |= BigInt(byte & 0x7f) << shift
      if ((byte & 0x80) === 0) {
        this.offset = o
        return (result >> 1n) ^ -(result & 1n)
      }
      shift += 7n
    }
    this.offset = o
    throw new ProtocolError('PROTOCOL_VARINT_TOO_LONG', `varlong longer than 10 bytes at offset ${o - 10}`, { offset: o - 10 })
  }

  /**
   * Zig-zag varlong as a number. The record hot path uses it for timestamp
   * deltas, which are far below 2^53; larger magnitudes fall back to the exact
   * bigint path and are rejected if they would lose precision.
   */
  varlongNumber(): number {
    const b = this.buf
    const start = this.offset
    let o = start
    const end = this.end
    let result = 0
    let mul = 1
    for (let i = 0; i < 7; i++) {
      if (o >= end) {
        this.offset = o
        throw this.truncated(1, 'varlong')
      }
      const byte = b[o++]!
      result += (byte & 0x7f) * mul
      if ((byte & 0x80) === 0) {
        this.offset = o
        // result < 2^49 here, so the zig-zag decode is exact in doubles.
        return result % 2 === 0 ? result / 2 : -(result + 1) / 2
      }
      mul *= 128
    }
    this.offset = start
    const big = this.varlong()
    if (big > 9007199254740991n || big < -9007199254740991n) {
      throw new ProtocolError('PROTOCOL_INVALID_VALUE', `varlong ${big} exceeds the exact number range at offset ${start}`, { offset: start })
    }
    return Number(big)
  }

  uuid(): string {
    const o = this.offset
    if (o + UUID_BYTES > this.end) throw this.truncated(UUID_BYTES, 'uuid')
    this.offset = o + UUID_BYTES
    return this.buf.toString('base64url', o, o + UUID_BYTES)
  }

  /** A zero-copy view of the next n bytes. */
  view(n: number, what = 'bytes'): Buffer {
    const o = this.offset
    if (n < 0 || o + n > this.end) throw this.truncated(n, what)
    this.offset = o + n
    return this.buf.subarray(o, o + n)
  }

  /** A copy of the next n bytes, for values that outlive the frame. */
  copy(n: number, what = 'bytes'): Buffer {
    const o = this.offset
    if (n < 0 || o + n > this.end) throw this.truncated(n, what)
    this.offset = o + n
    const out = Buffer.allocUnsafe(n)
    this.buf.copy(out, 0, o, o + n)
    return out
  }

  utf8(n: number, what = 'string'): string {
    const o = this.offset
    if (n < 0 || o + n > this.end) throw this.truncated(n, what)
    this.offset = o + n
    return this.buf.toString('utf8', o, o + n)
  }

  skip(n: number, what = 'bytes'): void {
    if (n < 0 || this.offset + n > this.end) throw this.truncated(n, what)
    this.offset += n
  }
}
