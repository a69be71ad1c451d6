/**
 * Byte-level mutations for the fuzzer, driven by a small seeded PRNG so that a
 * campaign is reproducible from its --seed (up to timing: a slice stops after
 * a wall-clock budget, so two runs share a prefix of their input sequence).
 */

/** sfc32, seeded through splitmix32: fast, 32-bit, good enough for fuzzing. */
export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor(seed: number) {
    let s = seed >>> 0
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      return (z ^ (z >>> 16)) >>> 0
    }
    this.a = next()
    this.b = next()
    this.c = next()
    this.d = next()
    for (let i = 0; i < 12; i++) this.u32()
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 0 ? 0 : this.u32() % n
  }

  chance(p: number): boolean {
    return this.u32() < p * 0x100000000
  }

  pick<T>(items: ReadonlyArray<T>): T {
    return items[this.below(items.length)]!
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff
    return out
  }
}

/** A stable 32-bit hash of a string, to derive per-target seeds. */
export function hashString(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}

export interface MutationContext {
  rng: Rng
  /** Another input of the same target, for splicing. */
  other(): Buffer
  /** Mutants are cut to this size so inputs stay small and executions fast. */
  maxLength: number
}

const INTERESTING_8 = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x40, 0x10]
const INTERESTING_16 = [0, 1, -1, -2, 0x7f, 0x80, 0xff, 0x7fff, -0x8000, 0x100, 0x3fff]
const INTERESTING_32 = [0, 1, -1, -2, 0x7f, 0x80, 0x7fff, 0x8000, 0xffff, 0x7fffffff, -0x80000000, 0x10000, 0x3fffffff]

function mutableCopy(data: Buffer): Buffer {
  return Buffer.from(data)
}

function flipBits(data: Buffer, ctx: MutationContext): Buffer {
  if (data.length === 0) return data
  const out = mutableCopy(data)
  const flips = 1 + (ctx.rng.chance(0.7) ? 0 : ctx.rng.below(4))
  for (let i = 0; i < flips; i++) {
    const bit = ctx.rng.below(out.length * 8)
    out[bit >> 3]! ^= 1 << (bit & 7)
  }
  return out
}

function setInteresting(data: Buffer, ctx: MutationContext): Buffer {
  if (data.length === 0) return data
  const out = mutableCopy(data)
  const { rng } = ctx
  const width = rng.pick([1, 1, 2, 4])
  if (out.length < width) return out
  const pos = rng.below(out.length - width + 1)
  if (width === 1) out[pos] = rng.pick(INTERESTING_8)
  else if (width === 2) out.writeInt16BE(rng.pick(INTERESTING_16), pos)
  else out.writeInt32BE(rng.pick(INTERESTING_32), pos)
  return out
}

/** Adds or subtracts a small amount to an 8/16/32-bit big-endian integer. */
function arithmetic(data: Buffer, ctx: MutationContext): Buffer {
  if (data.length === 0) return data
  const out = mutableCopy(data)
  const { rng } = ctx
  const delta = (1 + rng.below(35)) * (rng.chance(0.5) ? 1 : -1)
  const width = rng.pick([1, 2, 4])
  if (out.length < width) return out
  const pos = rng.below(out.length - width + 1)
  if (width === 1) out[pos] = (out[pos]! + delta) & 0xff
  else if (width === 2) out.writeUInt16BE((out.readUInt16BE(pos) + delta) & 0xffff, pos)
  else out.writeUInt32BE((out.readUInt32BE(pos) + delta) >>> 0, pos)
  return out
}

function truncate(data: Buffer, ctx: MutationContext): Buffer {
  if (data.length === 0) return data
  // Mostly cut the tail (a short read); sometimes drop the head instead.
  if (ctx.rng.chance(0.85)) return data.subarray(0, ctx.rng.below(data.length))
  return data.subarray(1 + ctx.rng.below(Math.min(data.length, 16)))
}

function insertBytes(data: Buffer, ctx: MutationContext): Buffer {
  const { rng } = ctx
  const pos = rng.below(data.length + 1)
  const n = 1 + rng.below(rng.chance(0.7) ? 4 : 32)
  let chunk: Buffer
  if (rng.chance(0.5)) chunk = rng.bytes(n)
  else if (rng.chance(0.5)) chunk = Buffer.alloc(n, rng.pick(INTERESTING_8))
  else {
    // Repeat part of the input itself: duplicated fields, elements, records.
    const from = rng.below(data.length + 1)
    chunk = data.subarray(from, from + n)
  }
  return Buffer.concat([data.subarray(0, pos), chunk, data.subarray(pos)])
}

function deleteBytes(data: Buffer, ctx: MutationContext): Buffer {
  if (data.length === 0) return data
  const { rng } = ctx
  const pos = rng.below(data.length)
  const n = 1 + rng.below(rng.chance(0.7) ? 4 : 32)
  return Buffer.concat([data.subarray(0, pos), data.subarray(pos + n)])
}

/** Head of this input, tail of another: fields of one message followed by those of another. */
function splice(data: Buffer, ctx: MutationContext): Buffer {
  const { rng } = ctx
  const other = ctx.other()
  const cut = rng.below(data.length + 1)
  if (rng.chance(0.5)) return Buffer.concat([data.subarray(0, cut), other.subarray(rng.below(other.length + 1))])
  // Or drop a chunk of the other input into this one, overwriting.
  const from = rng.below(other.length + 1)
  const chunk = other.subarray(from, from + 1 + rng.below(32))
  const out = Buffer.concat([data.subarray(0, cut), chunk, data.subarray(Math.min(data.length, cut + chunk.length))])
  return out
}

interface LengthField {
  pos: number
  width: 2 | 4 | 'uvarint' | 'zigzag'
  /** Bytes the field itself takes (for varints). */
  size: number
  value: number
}

/** Reads an unsigned LEB128 of at most 5 bytes at pos; null if it runs off the end. */
function readUvarint(data: Buffer, pos: number): { value: number; size: number } | null {
  let value = 0
  for (let i = 0; i < 5 && pos + i < data.length; i++) {
    const b = data[pos + i]!
    value += (b & 0x7f) * 2 ** (7 * i)
    if ((b & 0x80) === 0) return { value, size: i + 1 }
  }
  return null
}

function uvarintBytes(v: number, minSize = 1): Buffer {
  const out: number[] = []
  v = v >>> 0
  do {
    out.push(v & 0x7f)
    v = Math.floor(v / 128)
  } while (v > 0)
  // A padded (non-minimal) encoding is still valid LEB128 and keeps the width.
  while (out.length < minSize) out.push(0)
  for (let i = 0; i < out.length - 1; i++) out[i]! |= 0x80
  return Buffer.from(out)
}

/**
 * Finds fields that look like length prefixes: an int16/int32 or (zig-zag)
 * varint whose value would fit in the bytes that follow it. Kafka writes a
 * length before every string, bytes, array and record, so these are where a
 * lying length bites.
 */
export function findLengthFields(data: Buffer): LengthField[] {
  const out: LengthField[] = []
  for (let pos = 0; pos < data.length; pos++) {
    const left = data.length - pos
    if (left >= 2) {
      const v = data.readInt16BE(pos)
      if (v >= 0 ? v <= left - 2 && v > 0 : v === -1) out.push({ pos, width: 2, size: 2, value: v })
    }
    if (left >= 4) {
      const v = data.readInt32BE(pos)
      if (v >= 0 ? v <= left - 4 && v > 0 : v === -1) out.push({ pos, width: 4, size: 4, value: v })
    }
    const u = readUvarint(data, pos)
    // Compact lengths are stored as length + 1 (0 means null).
    if (u !== null && u.value >= 2 && u.value - 1 <= left - u.size) out.push({ pos, width: 'uvarint', size: u.size, value: u.value - 1 })
    if (u !== null) {
      const z = u.value % 2 === 0 ? u.value / 2 : -(u.value + 1) / 2
      if (z >= 1 && z <= left - u.size) out.push({ pos, width: 'zigzag', size: u.size, value: z })
    }
  }
  return out
}

/** Rewrites a length-looking field with a lie: a little or a lot too big, too small, or negative. */
function lieAboutLength(data: Buffer, ctx: MutationContext): Buffer {
  const fields = findLengthFields(data)
  if (fields.length === 0) return setInteresting(data, ctx)
  const { rng } = ctx
  const f = rng.pick(fields)
  const left = data.length - f.pos - f.size
  const lies = [f.value + 1, f.value + 1 + rng.below(8), left + 1, f.value * 2 + 1, f.value - 1, 0, -1, -2, 0x7fff, 0x7fffffff]
  const lie = rng.pick(lies)
  const out = mutableCopy(data)
  if (f.width === 2) {
    out.writeInt16BE(((lie << 16) >> 16), f.pos)
    return out
  }
  if (f.width === 4) {
    out.writeInt32BE(lie | 0, f.pos)
    return out
  }
  let encoded: Buffer
  if (f.width === 'uvarint') {
    // Compact lengths are length + 1: -1 becomes 0 (null), and the largest
    // lie is the largest 32-bit varint.
    const raw = lie === 0x7fffffff ? 0xffffffff : Math.max(0, lie + 1)
    encoded = uvarintBytes(raw, rng.chance(0.5) ? f.size : 1)
  } else {
    const z = lie >= 0 ? lie * 2 : -lie * 2 - 1
    encoded = uvarintBytes(z, rng.chance(0.5) ? f.size : 1)
  }
  return Buffer.concat([data.subarray(0, f.pos), encoded, data.subarray(f.pos + f.size)])
}

/** Copies a chunk of the input over another place in it. */
function overwriteWithin(data: Buffer, ctx: MutationContext): Buffer {
  if (data.length < 2) return data
  const { rng } = ctx
  const n = 1 + rng.below(Math.min(16, data.length - 1))
  const from = rng.below(data.length - n + 1)
  const to = rng.below(data.length - n + 1)
  const out = mutableCopy(data)
  data.copy(out, to, from, from + n)
  return out
}

type Mutator = (data: Buffer, ctx: MutationContext) => Buffer

const MUTATORS: ReadonlyArray<readonly [Mutator, number]> = [
  [flipBits, 10],
  [setInteresting, 10],
  [arithmetic, 6],
  [truncate, 5],
  [lieAboutLength, 10],
  [insertBytes, 6],
  [deleteBytes, 6],
  [splice, 5],
  [overwriteWithin, 3],
]
const TOTAL_WEIGHT = MUTATORS.reduce((s, [, w]) => s + w, 0)

function pickMutator(rng: Rng): Mutator {
  let x = rng.below(TOTAL_WEIGHT)
  for (const [m, w] of MUTATORS) {
    if (x < w) return m
    x -= w
  }
  return MUTATORS[0]![0]
}

/**
 * One mutant of `data`: usually a single mutation, sometimes a stack of them
 * (AFL's "havoc"), and now and then purely random bytes.
 */
export function mutate(data: Buffer, ctx: MutationContext): Buffer {
  const { rng } = ctx
  if (rng.chance(0.01)) return rng.bytes(rng.below(64))
  const rounds = rng.chance(0.6) ? 1 : 1 << rng.below(4)
  let out = data
  for (let i = 0; i < rounds; i++) out = pickMutator(rng)(out, ctx)
  return out.length > ctx.maxLength ? out.subarray(0, ctx.maxLength) : out
}
