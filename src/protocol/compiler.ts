/**
 * Compiles a message declaration into an encoder and a decoder specialised for
 * one version. The generated functions are straight-line code for that
 * version: no per-field version checks at run time, one object shape per
 * struct, and every length checked against the bytes present before use.
 *
 * Wire rules follow the Kafka protocol guide and KIP-482 (flexible versions:
 * compact strings/bytes/arrays and a tagged-field section after each struct).
 */
import { ProtocolError, UnsupportedVersionError } from './errors.js'
import type { Reader } from './reader.js'
import { Writer } from './writer.js'
import {
  defaultStruct,
  defaultValue,
  isDefault,
  type Field,
  type PrimitiveKind,
  type Struct,
  type UnknownTaggedField,
} from './schema.js'

export interface Codec<T = Record<string, unknown>> {
  encode(w: Writer, value: unknown): void
  decode(r: Reader): T
}

/** Java limits strings to a signed int16 length, in every version. */
const MAX_STRING = 0x7fff

const NULL_TEXT = 'was serialized as null'

function nullError(path: string, r?: Reader): ProtocolError {
  return new ProtocolError('PROTOCOL_NULL_NOT_ALLOWED', `non-nullable field ${path} ${NULL_TEXT}`, {
    field: path,
    ...(r ? { offset: r.offset } : {}),
  })
}

function lengthError(path: string, what: string, n: number, r: Reader): ProtocolError {
  return new ProtocolError(
    'PROTOCOL_INVALID_LENGTH',
    `${path}: ${what} length ${n} exceeds the ${r.end - r.offset} byte(s) left at offset ${r.offset}`,
    { field: path, offset: r.offset },
  )
}

/** Runtime helpers the generated code calls. Small and monomorphic so V8 inlines them. */
const H = {
  readString(r: Reader, compact: boolean, nullable: boolean, path: string): string | null {
    const n = compact ? r.uvarint() - 1 : r.int16()
    if (n < 0) {
      if (n === -1 && nullable) return null
      if (n === -1) throw nullError(path, r)
      throw new ProtocolError('PROTOCOL_INVALID_LENGTH', `${path}: invalid string length ${n}`, { field: path, offset: r.offset })
    }
    if (n > MAX_STRING) {
      throw new ProtocolError('PROTOCOL_INVALID_LENGTH', `${path}: string length ${n} exceeds ${MAX_STRING}`, { field: path, offset: r.offset })
    }
    if (n > r.end - r.offset) throw lengthError(path, 'string', n, r)
    return r.utf8(n)
  },

  readBytes(r: Reader, compact: boolean, nullable: boolean, path: string): Buffer | null {
    const n = compact ? r.uvarint() - 1 : r.int32()
    if (n < 0) {
      if (n === -1 && nullable) return null
      if (n === -1) throw nullError(path, r)
      throw new ProtocolError('PROTOCOL_INVALID_LENGTH', `${path}: invalid bytes length ${n}`, { field: path, offset: r.offset })
    }
    if (n > r.end - r.offset) throw lengthError(path, 'bytes', n, r)
    return r.view(n)
  },

  /** Returns the element count, or -1 for a null array. Bounded by the bytes left. */
  readArrayLength(r: Reader, compact: boolean, nullable: boolean, path: string): number {
    const n = compact ? r.uvarint() - 1 : r.int32()
    if (n < 0) {
      if (n === -1 && nullable) return -1
      if (n === -1) throw nullError(path, r)
      throw new ProtocolError('PROTOCOL_INVALID_LENGTH', `${path}: invalid array length ${n}`, { field: path, offset: r.offset })
    }
    // Every element takes at least one byte on the wire, so a count larger
    // than the bytes left is a lie; refuse it before allocating anything.
    if (n > r.end - r.offset) throw lengthError(path, 'array', n, r)
    return n
  },

  writeString(w: Writer, s: string | null | undefined, compact: boolean, nullable: boolean, path: string): void {
    if (s === null || s === undefined) {
      if (s === null && !nullable) throw nullError(path)
      if (s === undefined) s = ''
      else {
        if (compact) w.uvarint(0)
        else w.int16(-1)
        return
      }
    }
    if (typeof s !== 'string') throw invalidValue(path, 'a string', s)
    const n = s.length < 64 && isAscii(s) ? s.length : Buffer.byteLength(s, 'utf8')
    if (n > MAX_STRING) throw new ProtocolError('PROTOCOL_INVALID_VALUE', `${path}: string of ${n} bytes exceeds ${MAX_STRING}`, { field: path })
    if (compact) w.uvarint(n + 1)
    else w.int16(n)
    w.utf8(s, n)
  },

  writeBytes(w: Writer, b: Uint8Array | null | undefined, compact: boolean, nullable: boolean, path: string): void {
    if (b === null || b === undefined) {
      if (!nullable) throw nullError(path)
      if (compact) w.uvarint(0)
      else w.int32(-1)
      return
    }
    if (!(b instanceof Uint8Array)) throw invalidValue(path, 'a Buffer', b)
    if (compact) w.uvarint(b.length + 1)
    else w.int32(b.length)
    w.bytes(b)
  },

  /** Writes an array's length prefix; returns false for null (nothing more to write). */
  writeArrayLength(w: Writer, a: unknown[] | null, compact: boolean, nullable: boolean, path: string): boolean {
    if (a === null) {
      if (!nullable) throw nullError(path)
      if (compact) w.uvarint(0)
      else w.int32(-1)
      return false
    }
    if (!Array.isArray(a)) throw invalidValue(path, 'an array', a)
    if (compact) w.uvarint(a.length + 1)
    else w.int32(a.length)
    return true
  },

  int64(v: unknown, path: string): bigint {
    if (typeof v === 'bigint') return v
    if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v)
    throw invalidValue(path, 'a bigint', v)
  },

  unsupported(path: string, version: number, value: unknown): UnsupportedVersionError {
    return new UnsupportedVersionError(
      `${path} cannot be set to ${describe(value)} at version ${version}: the field does not exist in that version`,
      { field: path, apiVersion: version },
    )
  },

  isDefault,

  /** Writes a tagged field: tag, size, then the value encoded by `write`. */
  writeTagged(w: Writer, tag: number, write: (w: Writer) => void): void {
    const scratch = new Writer(64)
    write(scratch)
    const body = scratch.finish()
    w.uvarint(tag)
    w.uvarint(body.length)
    w.bytes(body)
  },

  writeRawTag(w: Writer, t: UnknownTaggedField): void {
    w.uvarint(t.tag)
    w.uvarint(t.data.length)
    w.bytes(t.data)
  },

  sortTags(u: UnknownTaggedField[] | undefined): UnknownTaggedField[] {
    if (u === undefined || u.length === 0) return EMPTY_TAGS
    return u.length === 1 ? u : [...u].sort((a, b) => a.tag - b.tag)
  },

  taggedSizeError(r: Reader, tag: number, size: number): ProtocolError {
    return new ProtocolError('PROTOCOL_INVALID_LENGTH', `tagged field ${tag}: size ${size} exceeds the ${r.end - r.offset} byte(s) left`, {
      offset: r.offset,
    })
  },
}

const EMPTY_TAGS: UnknownTaggedField[] = []

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}

function describe(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`
  if (Buffer.isBuffer(v)) return `<${v.length} bytes>`
  try {
    const s = JSON.stringify(v)
    return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + '...' : s
  } catch {
    return String(v)
  }
}

function invalidValue(path: string, expected: string, v: unknown): ProtocolError {
  return new ProtocolError('PROTOCOL_INVALID_VALUE', `${path} must be ${expected}, got ${describe(v)}`, { field: path })
}

// ---------------------------------------------------------------------------

const cache = new WeakMap<Struct, Map<number, Codec>>()

/** The codec of a struct at one version; `flexible` is whether that version is flexible. */
export function codecFor<T = Record<string, unknown>>(s: Struct, version: number, flexible: boolean, path = 'message'): Codec<T> {
  let perVersion = cache.get(s)
  if (perVersion === undefined) cache.set(s, (perVersion = new Map()))
  const key = version * 2 + (flexible ? 1 : 0)
  let codec = perVersion.get(key)
  if (codec === undefined) {
    codec = compile(s, version, flexible, path)
    perVersion.set(key, codec)
  }
  return codec as Codec<T>
}

interface Ctx {
  version: number
  flexible: boolean
  /** Values the generated code closes over, referenced as K[i]. */
  consts: unknown[]
  path: string
}

function constRef(ctx: Ctx, v: unknown): string {
  let i = ctx.consts.indexOf(v)
  if (i < 0) {
    i = ctx.consts.length
    ctx.consts.push(v)
  }
  return `K[${i}]`
}

const SIMPLE_WRITE: Record<string, string> = {
  int8: 'int8',
  int16: 'int16',
  int32: 'int32',
  uint16: 'uint16',
  uint32: 'uint32',
  float64: 'float64',
  bool: 'bool',
  uuid: 'uuid',
}

const SIMPLE_READ: Record<string, string> = {
  int8: 'int8()',
  int16: 'int16()',
  int32: 'int32()',
  uint16: 'uint16()',
  uint32: 'uint32()',
  int64: 'int64()',
  float64: 'float64()',
  bool: 'bool()',
  uuid: 'uuid()',
}

/** Whether a field uses compact encodings at this version. */
function compactFor(fd: Field, ctx: Ctx): boolean {
  return fd.flexible !== null ? fd.flexible.has(ctx.version) : ctx.flexible
}

let tmp = 0
function fresh(prefix: string): string {
  return `${prefix}${tmp++}`
}

/** JS statements writing value expression `x` of the given kind through writer `w`. */
function emitWrite(kind: PrimitiveKind | 'array' | 'struct', fd: Field | null, x: string, w: string, ctx: Ctx, path: string, element?: PrimitiveKind | Struct): string {
  const compact = fd ? compactFor(fd, ctx) : ctx.flexible
  const nullable = fd ? fd.nullable.has(ctx.version) : false
  const p = JSON.stringify(path)
  switch (kind) {
    case 'int8':
    case 'int16':
    case 'int32':
    case 'uint16':
    case 'uint32':
    case 'float64':
      return `if (typeof ${x} !== 'number') throw H.invalid(${p}, 'a number', ${x}); ${w}.${SIMPLE_WRITE[kind]}(${x});`
    case 'bool':
      return `${w}.bool(${x} === true);`
    case 'uuid':
      return `${w}.uuid(${x});`
    case 'int64':
      return `${w}.int64(H.int64(${x}, ${p}));`
    case 'string':
      return `H.writeString(${w}, ${x}, ${compact}, ${nullable}, ${p});`
    case 'bytes':
    case 'records':
      return `H.writeBytes(${w}, ${x}, ${compact}, ${nullable}, ${p});`
    case 'struct': {
      const s = element as Struct
      const enc = constRef(ctx, codecFor(s, ctx.version, ctx.flexible, path))
      if (nullable) {
        return `if (${x} === null) ${w}.int8(-1); else { ${w}.int8(1); ${enc}.encode(${w}, ${x}); }`
      }
      return `if (${x} === null) throw H.nullError(${p}); ${enc}.encode(${w}, ${x});`
    }
    case 'array': {
      const i = fresh('i')
      const a = fresh('a')
      const e = fresh('e')
      let body: string
      if (typeof element === 'string') {
        const ef: Field = { ...(fd as Field), kind: element, nullable: NO_NULL, element: undefined }
        body = `let ${e} = ${a}[${i}]; ${emitWrite(element, ef, e, w, ctx, `${path}[]`)}`
      } else {
        const enc = constRef(ctx, codecFor(element!, ctx.version, ctx.flexible, `${path}[]`))
        body = `${enc}.encode(${w}, ${a}[${i}]);`
      }
      return `{ const ${a} = ${x}; if (H.writeArrayLength(${w}, ${a}, ${compact}, ${nullable}, ${p})) { for (let ${i} = 0; ${i} < ${a}.length; ${i}++) { ${body} } } }`
    }
  }
}

const NO_NULL = { has: () => false } as unknown as Field['nullable']

/** JS statements reading a value of the given kind into variable `t`. */
function emitRead(t: string, kind: PrimitiveKind | 'array' | 'struct', fd: Field | null, ctx: Ctx, path: string, element?: PrimitiveKind | Struct): string {
  const compact = fd ? compactFor(fd, ctx) : ctx.flexible
  const nullable = fd ? fd.nullable.has(ctx.version) : false
  const p = JSON.stringify(path)
  switch (kind) {
    case 'string':
      return `${t} = H.readString(r, ${compact}, ${nullable}, ${p});`
    case 'bytes':
    case 'records':
      return `${t} = H.readBytes(r, ${compact}, ${nullable}, ${p});`
    case 'struct': {
      const dec = constRef(ctx, codecFor(element as Struct, ctx.version, ctx.flexible, path))
      return nullable ? `${t} = r.int8() < 0 ? null : ${dec}.decode(r);` : `${t} = ${dec}.decode(r);`
    }
    case 'array': {
      const n = fresh('n')
      const a = fresh('a')
      const i = fresh('i')
      let elemRead: string
      if (typeof element === 'string') {
        const ef: Field = { ...(fd as Field), kind: element, nullable: NO_NULL, element: undefined }
        elemRead = emitRead(`${a}[${i}]`, element, ef, ctx, `${path}[]`)
      } else {
        elemRead = `${a}[${i}] = ${constRef(ctx, codecFor(element!, ctx.version, ctx.flexible, `${path}[]`))}.decode(r);`
      }
      return `{ const ${n} = H.readArrayLength(r, ${compact}, ${nullable}, ${p}); if (${n} < 0) ${t} = null; else { const ${a} = new Array(${n}); for (let ${i} = 0; ${i} < ${n}; ${i}++) { ${elemRead} } ${t} = ${a}; } }`
    }
    default:
      return `${t} = r.${SIMPLE_READ[kind]};`
  }
}

function compile(s: Struct, version: number, flexible: boolean, path: string): Codec {
  const ctx: Ctx = { version, flexible, consts: [], path }
  const enc: string[] = []
  const dec: string[] = []
  const decLocals: string[] = []
  const tagged: Array<{ name: string; fd: Field; local: string }> = []

  s.order.forEach((name, idx) => {
    const fd = s.fields[name]!
    const local = `f${idx}`
    const fpath = `${path}.${name}`
    decLocals.push(local)
    const key = JSON.stringify(name)
    if (!fd.versions.has(version)) {
      // Absent in this version: decode to the default; refuse to silently
      // drop a meaningful value on encode, unless the spec says it may be.
      dec.push(`${local} = ${emitDefault(fd, ctx)};`)
      if (!fd.ignorable) {
        enc.push(`{ const x = o[${key}]; if (x !== undefined && !H.isDefault(${constRef(ctx, fd)}, x)) throw H.unsupported(${JSON.stringify(fpath)}, ${version}, x); }`)
      }
      return
    }
    if (fd.tagged.has(version)) {
      if (!flexible) throw new Error(`${fpath} is tagged in non-flexible version ${version}`)
      tagged.push({ name, fd, local })
      dec.push(`${local} = ${emitDefault(fd, ctx)};`)
      return
    }
    enc.push(`{ let x = o[${key}]; if (x === undefined) x = ${emitDefault(fd, ctx)}; ${emitWrite(fd.kind as PrimitiveKind, fd, 'x', 'w', ctx, fpath, fd.element ?? fd.struct)} }`)
    dec.push(emitRead(local, fd.kind as PrimitiveKind, fd, ctx, fpath, fd.element ?? fd.struct))
  })

  if (flexible) {
    tagged.sort((a, b) => a.fd.tag - b.fd.tag)
    // Encode: count known tagged fields that differ from their default plus
    // unknown ones carried over from a decode, then write them in tag order.
    enc.push('{ let nt = 0; const unk = H.sortTags(o._unknownTaggedFields); nt += unk.length;')
    tagged.forEach((t, i) => {
      enc.push(`const t${i} = o[${JSON.stringify(t.name)}]; const has${i} = t${i} !== undefined && !H.isDefault(${constRef(ctx, t.fd)}, t${i}); if (has${i}) nt++;`)
    })
    enc.push('w.uvarint(nt); if (nt > 0) { let ui = 0;')
    tagged.forEach((t, i) => {
      const fpath = `${path}.${t.name}`
      enc.push(`while (ui < unk.length && unk[ui].tag < ${t.fd.tag}) H.writeRawTag(w, unk[ui++]);`)
      enc.push(`if (has${i}) H.writeTagged(w, ${t.fd.tag}, (w) => { const x = t${i}; ${emitWrite(t.fd.kind as PrimitiveKind, t.fd, 'x', 'w', ctx, fpath, t.fd.element ?? t.fd.struct)} });`)
    })
    enc.push('while (ui < unk.length) H.writeRawTag(w, unk[ui++]); } }')

    // Decode: read the tagged section; a known tag is read within its
    // declared size, an unknown one is kept verbatim to be written back.
    dec.push('{ const nt = r.uvarint(); for (let j = 0; j < nt; j++) { const tag = r.uvarint(); const size = r.uvarint();')
    dec.push('if (size > r.end - r.offset) throw H.taggedSizeError(r, tag, size); const stop = r.offset + size;')
    dec.push('switch (tag) {')
    for (const t of tagged) {
      const fpath = `${path}.${t.name}`
      dec.push(`case ${t.fd.tag}: { const e = r.end; r.end = stop; try { ${emitRead(t.local, t.fd.kind as PrimitiveKind, t.fd, ctx, fpath, t.fd.element ?? t.fd.struct)} } finally { r.end = e; } r.offset = stop; break; }`)
    }
    dec.push('default: (unk ??= []).push({ tag, data: r.copy(size, "tagged field") }); } } }')
  }

  const objectLiteral = `{ ${s.order.map((name, idx) => `${JSON.stringify(name)}: f${idx}`).join(', ')} }`
  const src = `
    "use strict";
    const encode = function encode(w, o) {
      if (o === null || typeof o !== 'object') throw H.invalid(${JSON.stringify(path)}, 'an object', o);
      ${enc.join('\n      ')}
    };
    const decode = function decode(r) {
      let ${decLocals.length ? decLocals.join(', ') + ', ' : ''}unk;
      ${dec.join('\n      ')}
      const o = ${objectLiteral};
      if (unk !== undefined) o._unknownTaggedFields = unk;
      return o;
    };
    return { encode, decode };`
  const helpers = { ...H, nullError, invalid: invalidValue }
  try {
    return new Function('H', 'K', src)(helpers, ctx.consts) as Codec
  } catch (err) {
    throw new Error(`failed to compile ${path} v${version}: ${(err as Error).message}\n${src}`)
  }
}

/** A JS expression producing a fresh default value for the field. */
function emitDefault(fd: Field, ctx: Ctx): string {
  const d = defaultValue(fd)
  if (d === null) return 'null'
  switch (fd.kind) {
    case 'int64':
      return `${d}n`
    case 'string':
    case 'uuid':
      return JSON.stringify(d)
    case 'bool':
    case 'int8':
    case 'int16':
    case 'int32':
    case 'uint16':
    case 'uint32':
    case 'float64':
      return String(d)
    case 'bytes':
      return constRef(ctx, d)
    case 'array':
      return '[]'
    case 'struct':
      return `${constRef(ctx, () => defaultStruct(fd.struct!))}()`
    default:
      return 'null'
  }
}
