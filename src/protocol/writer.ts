import { ProtocolError } from './errors.js'

const MIN_CAPACITY = 256

/**
 * A growable output buffer. Encoders write through it without knowing sizes
 * up front; capacity doubles so the amortised cost per byte stays constant.
 * `finish()` returns a view of the written bytes, no copy.
 */
export class Writer {
  buf: Buffer
  offset: number

  /** Starts with `capacity` bytes, or writes over `buf` (growing into a new buffer if it fills). */
  constructor(capacity = 1024, buf?: Buffer) {
    this.buf = buf ?? Buffer.allocUnsafe(Math.max(capacity, MIN_CAPACITY))
    this.offset = 0
  }

  /** Makes room for n more bytes. */
  ensure(n: number): void {
    const needed = this.offset + n
    if (needed <= this.buf.length) return
    let cap = this.buf.length * 2
    while (cap < needed) cap *= 2
    const next = Buffer.allocUnsafe(cap)
    this.buf.copy(next, 0, 0, this.offset)
    this.buf = next
  }

  /** Drops everything written, keeping the capacity for reuse. */
  reset(): this {
    this.offset = 0
    return this
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.offset)
  }

  int8(v: number): void {
    this.ensure(1)
    this.buf[this.offset++] = v & 0xff
  }

  bool(v: boolean): void {
    this.ensure(1)
    this.buf[this.offset++] = v ? 1 : 0
  }

  int16(v: number): void {
    this.ensure(2)
    const b = this.buf
    const o = this.offset
    b[o] = (v >>> 8) & 0xff
    b[o + 1] = v & 0xff
    this.offset = o + 2
  }

  uint16(v: number): void {
    this.int16(v)
  }

  int32(v: number): void {
    this.ensure(4)
    const b = this.buf
    const o = this.offset
    b[o] = (v >>> 24) & 0xff
    b[o + 1] = (v >>> 16) & 0xff
    b[o + 2] = (v >>> 8) & 0xff
    b[o + 3] = v & 0xff
    this.offset = o + 4
  }

  uint32(v: number): void {
    this.int32(v)
  }

  int64(v: bigint): void {
    this.ensure(8)
    this.buf.writeBigInt64BE(BigInt.asIntN(64, v), this.offset)
    this.offset += 8
  }

  /** An int64 given as a number (exact up to 2^53). */
  int64Number(v: number): void {
    this.ensure(8)
    const b = this.buf
    const o = this.offset
    const hi = Math.floor(v / 0x100000000)
    const lo = v - hi * 0x100000000
    b[o] = (hi >>> 24) & 0xff
    b[o + 1] = (hi >>> 16) & 0xff
    b[o + 2] = (hi >>> 8) & 0xff
    b[o + 3] = hi & 0xff
    b[o + 4] = (lo >>> 24) & 0xff
    b[o + 5] = (lo >>> 16) & 0xff
    b[o + 6] = (lo >>> 8) & 0xff
    b[o + 7] = lo & 0xff
    this.offset = o + 8
  }

  float64(v: number): void {
    this.ensure(8)
    this.buf.writeDoubleBE(v, this.offset)
    this.offset += 8
  }

  /** Unsigned LEB128 of a value in [0, 2^32). */
  uvarint(v: number): void {
    this.ensure(5)
    const b = this.buf
    let o = this.offset
    while (v >= 0x80) {
      b[o++] = (v & 0x7f) | 0x80
      v = Math.floor(v / 128)
    }
    b[o++] = v
    this.offset = o
  }

  /** Zig-zag signed varint (int32). */
  varint(v: number): void {
    this.uvarint(((v << 1) ^ (v >> 31)) >>> 0)
  }

  /** Zig-zag signed varlong from a bigint. */
  varlong(v: bigint): void {
    this.ensure(10)
    let z = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n))
    const b = this.buf
    let o = this.offset
    while (z >= 0x80n) {
      b[o++] = Number(z & 0x7fn) | 0x80
      z >>= 7n
    }
    b[o++] = Number(z)
    this.offset = o
  }

  /** Zig-zag signed varlong from a number; exact for |v| <= 2^53. */
  varlongNumber(v: number): void {
    if (v > 0x7fffffff || v < -0x80000000) {
      if (!Number.isSafeInteger(v)) {
        throw new ProtocolError('PROTOCOL_INVALID_VALUE', `varlong value ${v} is not a safe integer`)
      }
      // Beyond 2^52 the zig-zag value 2|v| - 1 of a negative v is odd and
      // above 2^53, so it cannot be computed in doubles: use the exact path.
      if (v < -0x10000000000000) {
        this.varlong(BigInt(v))
        return
      }
      let z = v >= 0 ? v * 2 : -v * 2 - 1
      this.ensure(10)
      const b = this.buf
      let o = this.offset
      while (z >= 0x80) {
        b[o++] = (z % 128) | 0x80
        z = Math.floor(z / 128)
      }
      b[o++] = z
      this.offset = o
      return
    }
    this.uvarint(((v << 1) ^ (v >> 31)) >>> 0)
  }

  uuid(v: string): void {
    this.ensure(16)
    const n = this.buf.write(v, this.offset, 16, 'base64url')
    if (n !== 16 || v.length !== 22) {
      throw new ProtocolError('PROTOCOL_INVALID_VALUE', `invalid uuid ${JSON.stringify(v)}: expected 22 base64url characters`)
    }
    this.offset += 16
  }

  bytes(v: Uint8Array): void {
    const n = v.length
    this.ensure(n)
    this.buf.set(v, this.offset)
    this.offset += n
  }

  /** Writes a UTF-8 string of known byte length, without a prefix. */
  utf8(v: string, byteLength: number): void {
    this.ensure(byteLength)
    const b = this.buf
    const o = this.offset
    if (byteLength === v.length && byteLength < 32) {
      // Short ASCII strings (topic names, client ids): a plain loop beats
      // the native call overhead of Buffer#write.
      for (let i = 0; i < byteLength; i++) b[o + i] = v.charCodeAt(i)
    } else {
      b.write(v, o, byteLength, 'utf8')
    }
    this.offset = o + byteLength
  }

  /** Writes at an absolute position without moving the cursor. */
  int32At(pos: number, v: number): void {
    const b = this.buf
    b[pos] = (v >>> 24) & 0xff
    b[pos + 1] = (v >>> 16) & 0xff
    b[pos + 2] = (v >>> 8) & 0xff
    b[pos + 3] = v & 0xff
  }
}

/** Byte length of the unsigned varint encoding of v (v in [0, 2^32)). */
export function uvarintSize(v: number): number {
  if (v < 0x80) return 1
  if (v < 0x4000) return 2
  if (v < 0x200000) return 3
  if (v < 0x10000000) return 4
  return 5
}

/** Byte length of the zig-zag varint encoding of an int32. */
export function varintSize(v: number): number {
  return uvarintSize(((v << 1) ^ (v >> 31)) >>> 0)
}

/** Byte length of the zig-zag varlong encoding of a safe-integer number. */
export function varlongNumberSize(v: number): number {
  if (v <= 0x7fffffff && v >= -0x80000000) return varintSize(v)
  let z = v >= 0 ? v * 2 : -v * 2 - 1
  let n = 1
  while (z >= 0x80) {
    z = Math.floor(z / 128)
    n++
  }
  return n
}
