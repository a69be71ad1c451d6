/**
 * Message golden vectors: random values of every message at every version both
 * codecs know, serialized by each side and parsed by the other.
 *
 * For each value V of a (message, version):
 *   (a) the reference encodes V; our encoder must give the same bytes, and our
 *       decoder must read the reference's bytes back as normalize(V);
 *   (b) the reference decodes our bytes; its JsonConverter output, mapped back
 *       through our schema, must be normalize(V), with no trailing bytes; and its
 *       reflective dump of every field (absent-in-version ones too) must equal
 *       what our decoder returns, which checks our defaults for absent fields.
 * For API messages a few values also go through whole frames (header + body):
 * encodeRequest/encodeResponse on both sides, decoded by the other side.
 * Below the newest common version, a few values generated at that newest
 * version are also encoded at the older one ("downgraded"): both sides must
 * agree on dropping ignorable fields the version lacks and refusing the
 * others, and then on the bytes.
 */
import fc from 'fast-check'
import {
  decodeRequest,
  decodeRequestBody,
  decodeResponse,
  decodeResponseBody,
  encodeRequest,
  encodeRequestBody,
  encodeResponse,
  encodeResponseBody,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../../src/protocol/api.js'
import { codecFor } from '../../src/protocol/compiler.js'
import { requestHeader, responseHeader } from '../../src/protocol/messages/index.js'
import { Reader } from '../../src/protocol/reader.js'
import { defaultValue, type ApiSchema, type Field, type MessageSchema, type PrimitiveKind, type Struct } from '../../src/protocol/schema.js'
import { Writer } from '../../src/protocol/writer.js'
import { normalize, structArbitrary } from '../../spec/support/arbitrary.js'
import { RawJson, type Json, type JsonInput } from './json.js'
import type { Reference } from './reference.js'
import { diffPath, type Mismatch, type Tally } from './report.js'

/** One api × version × direction (or standalone message × version) compared. */
export interface Pair {
  label: string
  schema: MessageSchema
  version: number
  /** Set for API requests and responses; standalone messages have no frames. */
  api?: ApiSchema
  dir: 'request' | 'response' | 'message'
  /** The newest version of this message both sides know. */
  top: number
}

export interface PairOptions {
  /** Random values per pair. */
  runs: number
  /** How many of them also go through whole frames (API pairs only). */
  frames: number
  /** Values generated at the pair's top version and encoded at its version, when older. */
  downgrades: number
  seed: number
}

// ---------------------------------------------------------------------------
// Our values <-> the reference's JSON form (what its generated JsonConverters read and write)

/** A value of struct `s` at `version` as the reference's JsonConverter reads it: only the fields of that version. */
export function toJava(s: Struct, version: number, value: Record<string, unknown>): JsonInput {
  const out: Record<string, JsonInput> = {}
  for (const name of s.order) {
    const fd = s.fields[name]!
    if (!fd.versions.has(version)) continue
    const v = value[name] === undefined ? defaultValue(fd) : value[name]
    out[name] = fieldToJava(fd.kind, fd, version, v, fd.element ?? fd.struct)
  }
  return out
}

function fieldToJava(kind: Field['kind'], fd: Field, version: number, v: unknown, sub?: PrimitiveKind | Struct): JsonInput {
  if (v === null) return null
  switch (kind) {
    case 'int8':
    case 'int16':
    case 'int32':
    case 'uint16':
    case 'uint32':
    case 'bool':
    case 'string':
    case 'uuid':
      return v as JsonInput
    case 'int64':
      return BigInt(v as bigint | number) // written as a plain JSON integer, exact
    case 'float64':
      return new RawJson(javaDouble(v as number))
    case 'bytes':
    case 'records':
      return (v as Buffer).toString('base64')
    case 'struct':
      return toJava(sub as Struct, version, v as Record<string, unknown>)
    case 'array':
      return (v as unknown[]).map((e) =>
        typeof sub === 'string' ? fieldToJava(sub, fd, version, e) : toJava(sub as Struct, version, e as Record<string, unknown>),
      )
  }
}

/**
 * The reference's jsonNodeToDouble insists on a floating-point JSON node: an
 * integral double must be written "5.0", not "5" (Jackson would make an int
 * node of that). Infinities use the bare tokens the reference's parser is set
 * up to accept.
 */
function javaDouble(x: number): string {
  if (Number.isNaN(x)) return 'NaN'
  if (x === Infinity) return 'Infinity'
  if (x === -Infinity) return '-Infinity'
  const s = String(x)
  return /[.eE]/.test(s) ? s : `${s}.0`
}

/**
 * Maps the reference's JSON for struct `s` back to our value form.
 *  - 'present': a JsonConverter output, which carries exactly the fields of
 *    `version`; absent fields take our defaults (they are not compared here).
 *    A key we do not know at this version is reported.
 *  - 'all': a reflective dump of every field; a field the reference's class
 *    does not have takes the value from `fallback` (our decoded value), so only
 *    fields both sides know are compared.
 */
export function fromJava(s: Struct, version: number, json: Json, mode: 'present' | 'all', path: string, problems: string[], fallback?: Record<string, unknown>): Record<string, unknown> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    problems.push(`${path}: expected an object, got ${typeof json}`)
    return {}
  }
  const out: Record<string, unknown> = {}
  for (const name of s.order) {
    const fd = s.fields[name]!
    const inVersion = fd.versions.has(version)
    const j = json[name]
    const fb = fallback?.[name]
    if (j === undefined) {
      if (mode === 'all') out[name] = fb
      else if (!inVersion || fd.tagged.has(version)) out[name] = defaultValue(fd)
      else {
        problems.push(`${path}.${name}: missing from the reference's JSON at v${version}`)
        out[name] = defaultValue(fd)
      }
      continue
    }
    if (mode === 'present' && !inVersion) {
      problems.push(`${path}.${name}: the reference writes it at v${version}, our schema says it is absent`)
      out[name] = defaultValue(fd)
      continue
    }
    out[name] = fieldFromJava(fd.kind, fd, version, j, mode, `${path}.${name}`, problems, fd.element ?? fd.struct, fb)
  }
  if (mode === 'present') {
    for (const k of Object.keys(json)) {
      if (!(k in s.fields)) problems.push(`${path}.${k}: the reference writes a field our schema does not have (v${version})`)
    }
  }
  return out
}

function fieldFromJava(kind: Field['kind'], fd: Field, version: number, j: Json, mode: 'present' | 'all', path: string, problems: string[], sub?: PrimitiveKind | Struct, fb?: unknown): unknown {
  if (j === null) return null
  const bad = (what: string): unknown => {
    problems.push(`${path}: expected ${what}, got ${typeof j}`)
    return undefined
  }
  switch (kind) {
    case 'int8':
    case 'int16':
    case 'int32':
    case 'uint16':
    case 'uint32':
      return typeof j === 'bigint' ? Number(j) : bad('an integer')
    case 'int64':
      return typeof j === 'bigint' ? j : bad('an integer')
    case 'float64':
      if (typeof j === 'bigint' || typeof j === 'number') return Number(j)
      // Jackson writes non-finite doubles as strings.
      if (j === 'Infinity' || j === '-Infinity' || j === 'NaN') return Number(j)
      return bad('a number')
    case 'bool':
      return typeof j === 'boolean' ? j : bad('a boolean')
    case 'string':
    case 'uuid':
      return typeof j === 'string' ? j : bad('a string')
    case 'bytes':
    case 'records':
      return typeof j === 'string' ? Buffer.from(j, 'base64') : bad('base64')
    case 'struct':
      return fromJava(sub as Struct, version, j, mode, path, problems, fb as Record<string, unknown> | undefined)
    case 'array': {
      if (!Array.isArray(j)) return bad('an array')
      const fba = Array.isArray(fb) ? fb : []
      return j.map((e, i) =>
        typeof sub === 'string'
          ? fieldFromJava(sub, fd, version, e, mode, `${path}[${i}]`, problems)
          : fromJava(sub as Struct, version, e, mode, `${path}[${i}]`, problems, fba[i] as Record<string, unknown> | undefined),
      )
    }
  }
}

// ---------------------------------------------------------------------------
// Our side

function encodeBody(p: Pair, value: object): Buffer {
  if (p.dir === 'request') return encodeRequestBody(p.api!.apiKey, p.version, value)
  if (p.dir === 'response') return encodeResponseBody(p.api!.apiKey, p.version, value)
  const w = new Writer(128)
  codecFor(p.schema, p.version, p.schema.flexible.has(p.version), p.schema.name).encode(w, value)
  return Buffer.from(w.finish())
}

/** Decodes a whole body; any byte left over is an error. */
function decodeBody(p: Pair, buf: Buffer): Record<string, unknown> {
  if (p.dir === 'request') return decodeRequestBody(p.api!.apiKey, p.version, buf)
  if (p.dir === 'response') return decodeResponseBody(p.api!.apiKey, p.version, buf)
  const r = new Reader(buf)
  const v = codecFor<Record<string, unknown>>(p.schema, p.version, p.schema.flexible.has(p.version), p.schema.name).decode(r)
  if (r.offset !== buf.length) throw new Error(`${buf.length - r.offset} byte(s) left after the body`)
  return v
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

/** A reference result: an error message, or the result object. */
type Result = { error: string } | { error?: undefined; r: Record<string, Json> }

function ok(r: Json | undefined): Result {
  if (r === undefined || r === null || typeof r !== 'object' || Array.isArray(r)) return { error: `malformed reference result ${String(r)}` }
  if (typeof r.error === 'string') return { error: r.error }
  return { r }
}

function hexOf(r: Record<string, Json>): Buffer {
  return Buffer.from(r.hex as string, 'hex')
}

/** Ops for the reference plus the check of their results. */
interface Case {
  ops: JsonInput[]
  check(results: Json[]): void
}

/** FNV-1a: a stable per-pair seed derived from the run's seed and the pair's label. */
export function pairSeed(seed: number, label: string): number {
  let h = 0x811c9dc5 ^ seed
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193)
  return h | 0
}

/**
 * fast-check caps generated lengths by its "size" (about 10 at the default
 * 'small') whatever maxLength says; the arbitrary is built under 'medium' so
 * strings and bytes really reach a few hundred bytes.
 */
function largeArbitrary(s: Struct, version: number): fc.Arbitrary<Record<string, unknown>> {
  const saved = fc.readConfigureGlobal()
  fc.configureGlobal({ ...saved, baseSize: 'medium' })
  try {
    return structArbitrary(s, version, { maxArray: 2, maxString: 150, maxBytes: 300 })
  } finally {
    fc.configureGlobal(saved)
  }
}

const frameHeader = fc.record({
  correlationId: fc.integer({ min: -2147483648, max: 2147483647 }),
  clientId: fc.option(fc.string({ maxLength: 12, unit: 'grapheme' }), { nil: null }),
})

export async function checkPair(ref: Reference, p: Pair, o: PairOptions, tally: Tally): Promise<void> {
  const seed = pairSeed(o.seed, p.label)
  // A fifth of the values use long strings and bytes, so that compact lengths
  // and tagged-field sizes need multi-byte varints (>= 128); the rest keep the
  // default small sizes, where most of the structure variety is.
  const large = Math.floor(o.runs / 5)
  const values = [
    ...fc.sample(structArbitrary(p.schema, p.version), { numRuns: o.runs - large, seed }),
    ...(large > 0 ? fc.sample(largeArbitrary(p.schema, p.version), { numRuns: large, seed: seed ^ 0x5bd1e995 }) : []),
  ]
  const headers = fc.sample(frameHeader, { numRuns: Math.max(1, o.frames), seed })
  const cases: Case[] = []
  const target: JsonInput = p.api ? { api: BigInt(p.api.apiKey), dir: p.dir } : { message: p.schema.name }
  const version = BigInt(p.version)
  values.forEach((value, i) => {
    const expected = normalize(p.schema, p.version, value)
    const fail = (what: string, extra: Partial<Mismatch> = {}): void => tally.add({ where: p.label, what, value: expected, ...extra })
    cases.push(bodyCase(p, value, expected, target, version, fail))
    if (p.api && i < o.frames) cases.push(frameCase(p, value, expected, headers[i]!, fail))
  })
  if (p.version < p.top) {
    for (const value of fc.sample(structArbitrary(p.schema, p.top), { numRuns: o.downgrades, seed: seed ^ 0x27d4eb2f })) {
      const expected = normalize(p.schema, p.version, value)
      const fail = (what: string, extra: Partial<Mismatch> = {}): void =>
        tally.add({ where: `${p.label} (value of v${p.top})`, what, value, ...extra })
      cases.push(downgradeCase(p, value, expected, target, version, fail))
    }
  }
  const results = await ref.call(cases.flatMap((c) => c.ops))
  let at = 0
  for (const c of cases) {
    tally.cases++
    const mine = results.slice(at, at + c.ops.length)
    at += c.ops.length
    try {
      c.check(mine)
    } catch (e) {
      tally.add({ where: p.label, what: 'comparison crashed', detail: (e as Error).stack ?? message(e) })
    }
  }
}

type Fail = (what: string, extra?: Partial<Mismatch>) => void

function bodyCase(p: Pair, value: Record<string, unknown>, expected: Record<string, unknown>, target: JsonInput, version: bigint, fail: Fail): Case {
  let ours: Buffer | null = null
  let oursError = ''
  try {
    ours = encodeBody(p, value)
  } catch (e) {
    oursError = message(e)
  }
  const ops: JsonInput[] = [{ op: 'encode', target, version, data: toJava(p.schema, p.version, value) }]
  if (ours) ops.push({ op: 'decode', target, version, hex: ours.toString('hex') })
  return {
    ops,
    check([enc, dec]) {
      const e = ok(enc)
      const theirs = e.error === undefined ? hexOf(e.r) : null
      if (ours === null) fail('our encoder refused the value', { detail: oursError, reference: theirs })
      // (a) the reference's bytes: same as ours, and our decoder reads them as the value.
      if (e.error !== undefined) fail('the reference refused to encode the value', { detail: e.error, ours })
      else if (theirs) {
        if (ours && !ours.equals(theirs)) fail('encodings differ', { ours, reference: theirs })
        try {
          const d = diffPath(decodeBody(p, theirs), expected)
          if (d) fail('our decoder reads the reference bytes differently', { detail: d, reference: theirs })
        } catch (err) {
          fail('our decoder failed on the reference bytes', { detail: message(err), reference: theirs })
        }
      }
      // (b) our bytes read by the reference.
      if (ours === null) return
      const res = ok(dec)
      if (res.error !== undefined) return fail('the reference could not decode our bytes', { detail: res.error, ours })
      const r = res.r
      if (r.trailing !== 0n) fail(`the reference left ${r.trailing} byte(s) of our encoding unread`, { ours })
      compareDecoded(p.schema, p.version, r.data!, r.fields!, expected, decodeBody(p, ours), fail, ours)
    },
  }
}

/**
 * A value of the top version encoded at an older one. The reference's
 * converter reads it at the top version (the only version whose converter
 * accepts every field of it), and its writer then drops ignorable fields the
 * older version lacks and refuses non-ignorable ones that differ from their
 * default, as our encoder must.
 */
function downgradeCase(p: Pair, value: Record<string, unknown>, expected: Record<string, unknown>, target: JsonInput, version: bigint, fail: Fail): Case {
  let ours: Buffer | null = null
  let oursError = ''
  try {
    ours = encodeBody(p, value)
  } catch (e) {
    oursError = message(e)
  }
  return {
    ops: [{ op: 'encode', target, version, jsonVersion: BigInt(p.top), data: toJava(p.schema, p.top, value) }],
    check([enc]) {
      const e = ok(enc)
      if (e.error !== undefined) {
        if (ours) fail('the reference refuses the value at this version, our encoder accepts it', { detail: e.error, ours })
        return
      }
      const theirs = hexOf(e.r)
      if (ours === null) return fail('our encoder refuses the value at this version, the reference accepts it', { detail: oursError, reference: theirs })
      if (!ours.equals(theirs)) return fail('encodings differ', { ours, reference: theirs })
      const d = diffPath(decodeBody(p, theirs), expected)
      if (d) fail('our decoder reads the reference bytes differently', { detail: d, reference: theirs })
    },
  }
}

/** Compares the reference's decode (converter JSON and full dump) with what we expect and what our decoder returns. */
function compareDecoded(s: Struct, v: number, data: Json, fields: Json, expected: Record<string, unknown>, oursDecoded: Record<string, unknown>, fail: Fail, ours: Buffer): void {
  const problems: string[] = []
  const theirs = fromJava(s, v, data, 'present', '$', problems)
  if (problems.length) fail('the reference JSON does not fit our schema', { detail: problems.slice(0, 5).join('\n  '), ours })
  const d = diffPath(theirs, expected)
  if (d) fail('the reference reads our bytes differently', { detail: d, ours })
  const all: string[] = []
  const dump = fromJava(s, v, fields, 'all', '$', all, oursDecoded)
  if (all.length) fail('the reference field dump does not fit our schema', { detail: all.slice(0, 5).join('\n  '), ours })
  const dd = diffPath(oursDecoded, dump)
  if (dd) fail('a field absent at this version decodes to a different default (ours vs reference)', { detail: dd, ours })
}

function frameCase(p: Pair, value: Record<string, unknown>, expected: Record<string, unknown>, h: { correlationId: number; clientId: string | null }, fail: Fail): Case {
  const api = p.api!
  const request = p.dir === 'request'
  const apiKey = BigInt(api.apiKey)
  const version = BigInt(p.version)
  let ours: Buffer | null = null
  try {
    ours = request
      ? encodeRequest(api.apiKey, p.version, h.correlationId, h.clientId, value, { sizePrefix: false })
      : encodeResponse(api.apiKey, p.version, h.correlationId, value, { sizePrefix: false })
  } catch (e) {
    fail('our frame encoder refused the value', { detail: message(e) })
  }
  const data = toJava(p.schema, p.version, value)
  const correlationId = BigInt(h.correlationId)
  const ops: JsonInput[] = request
    ? [{ op: 'encodeRequest', api: apiKey, version, correlationId, clientId: h.clientId, data }]
    : [{ op: 'encodeResponse', api: apiKey, version, correlationId, data }]
  if (ours) ops.push(request ? { op: 'decodeRequest', hex: ours.toString('hex') } : { op: 'decodeResponse', api: apiKey, version, hex: ours.toString('hex') })
  const ourHv = request ? requestHeaderVersion(api.apiKey, p.version) : responseHeaderVersion(api.apiKey, p.version)
  const headerSchema = request ? requestHeader : responseHeader
  const expectedHeader = request
    ? { requestApiKey: api.apiKey, requestApiVersion: p.version, correlationId: h.correlationId, clientId: h.clientId }
    : { correlationId: h.correlationId }
  const what = request ? 'request frame' : 'response frame'
  return {
    ops,
    check([enc, dec]) {
      const res = ok(enc)
      if (res.error !== undefined) fail(`the reference refused to encode the ${what}`, { detail: res.error, ours })
      else {
        const e = res.r
        const theirs = hexOf(e)
        if (Number(e.headerVersion) !== ourHv) fail(`${what}: header version ${ourHv} (ours) vs ${e.headerVersion} (reference)`)
        if (ours && !ours.equals(theirs)) fail(`${what}s differ`, { ours, reference: theirs })
        try {
          if (request) {
            const d = decodeRequest(theirs)
            const got = { requestApiKey: d.header.apiKey, requestApiVersion: d.header.apiVersion, correlationId: d.header.correlationId, clientId: d.header.clientId }
            const diff = diffPath(got, expectedHeader) ?? diffPath(d.body, expected)
            if (diff) fail(`our decoder reads the reference ${what} differently`, { detail: diff, reference: theirs })
          } else {
            const d = decodeResponse(api.apiKey, p.version, theirs)
            const diff = diffPath({ correlationId: d.correlationId }, expectedHeader) ?? diffPath(d.body, expected)
            if (diff) fail(`our decoder reads the reference ${what} differently`, { detail: diff, reference: theirs })
          }
        } catch (err) {
          fail(`our decoder failed on the reference ${what}`, { detail: message(err), reference: theirs })
        }
      }
      if (!ours) return
      const decoded = ok(dec)
      if (decoded.error !== undefined) return fail(`the reference could not decode our ${what}`, { detail: decoded.error, ours })
      const r = decoded.r
      if (r.trailing !== 0n) fail(`the reference left ${r.trailing} byte(s) of our ${what} unread`, { ours })
      if (Number(r.headerVersion) !== ourHv) fail(`${what}: the reference read header v${r.headerVersion}, we wrote v${ourHv}`, { ours })
      const problems: string[] = []
      const header = fromJava(headerSchema, ourHv, r.header!, 'present', '$header', problems)
      const body = fromJava(p.schema, p.version, r.data!, 'present', '$', problems)
      if (problems.length) fail(`the reference JSON of our ${what} does not fit our schema`, { detail: problems.slice(0, 5).join('\n  '), ours })
      const diff = diffPath(header, expectedHeader) ?? diffPath(body, expected)
      if (diff) fail(`the reference reads our ${what} differently`, { detail: diff, ours })
    },
  }
}
