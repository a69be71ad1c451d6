/** Mismatch records and their printing, shared by the message and batch comparisons. */
import { isDeepStrictEqual } from 'node:util'
import { stringify, type JsonInput } from './json.js'

export interface Mismatch {
  /** e.g. "Produce v9 request", "ConsumerProtocolSubscription v3", "batch gzip transactional". */
  where: string
  what: string
  detail?: string
  value?: unknown
  ours?: Buffer | null
  reference?: Buffer | null
}

export class Tally {
  cases = 0
  readonly mismatches: Mismatch[] = []
  add(m: Mismatch): void {
    this.mismatches.push(m)
  }
}

/** Hex in rows of 32 bytes, with a caret row under the first differing byte when `other` is given. */
export function hexDump(b: Buffer, other?: Buffer | null, max = 512): string {
  const first = other ? firstDifference(b, other) : -1
  const rows: string[] = []
  const end = Math.min(b.length, max)
  for (let i = 0; i < end; i += 32) {
    const row = b.subarray(i, Math.min(i + 32, end)).toString('hex')
    rows.push(`    ${i.toString(16).padStart(6, '0')}  ${row}`)
    if (first >= i && first < i + 32) rows.push(`            ${' '.repeat((first - i) * 2)}^^ first difference at byte ${first}`)
  }
  if (b.length > max) rows.push(`    ... ${b.length - max} more byte(s)`)
  return `${b.length} byte(s)\n${rows.join('\n')}`
}

function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i
  return a.length === b.length ? -1 : n
}

/** The path of the first difference between two decoded values, or null when equal. */
export function diffPath(a: unknown, b: unknown, path = '$'): string | null {
  if (isDeepStrictEqual(a, b)) return null
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b) || a === null || b === null || typeof a !== 'object' || typeof b !== 'object') {
    return `${path}: ${show(a)} vs ${show(b)}`
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path}: length ${a.length} vs ${b.length}`
    for (let i = 0; i < a.length; i++) {
      const d = diffPath(a[i], b[i], `${path}[${i}]`)
      if (d) return d
    }
    return `${path}: differs`
  }
  const ka = Object.keys(a as object)
  const kb = Object.keys(b as object)
  for (const k of new Set([...ka, ...kb])) {
    const d = diffPath((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`)
    if (d) return d
  }
  return `${path}: differs (${ka.join(',')} vs ${kb.join(',')})`
}

/** A readable, bigint-safe rendering of a value (Buffers as hex). */
export function show(v: unknown, max = 2000): string {
  const s = stringify(toJsonInput(v))
  return s.length > max ? `${s.slice(0, max)}... (${s.length} chars)` : s
}

function toJsonInput(v: unknown): JsonInput {
  if (v === undefined) return '<undefined>'
  if (Buffer.isBuffer(v)) return `<hex ${v.toString('hex')}>`
  if (typeof v === 'number' && !Number.isFinite(v)) return `<${v}>`
  if (v === null || typeof v === 'boolean' || typeof v === 'bigint' || typeof v === 'number' || typeof v === 'string') return v
  if (Array.isArray(v)) return v.map(toJsonInput)
  if (typeof v === 'object') {
    const o: Record<string, JsonInput> = {}
    for (const [k, e] of Object.entries(v)) o[k] = toJsonInput(e)
    return o
  }
  return String(v)
}

export function printMismatches(label: string, mismatches: Mismatch[], limit = 5): void {
  for (const m of mismatches.slice(0, limit)) {
    const lines = [`${label} MISMATCH ${m.where}: ${m.what}`]
    if (m.detail) lines.push(`  ${m.detail}`)
    if (m.value !== undefined) lines.push(`  value: ${show(m.value)}`)
    if (m.ours) lines.push(`  ours: ${hexDump(m.ours, m.reference)}`)
    if (m.reference) lines.push(`  reference: ${hexDump(m.reference, m.ours)}`)
    console.log(lines.join('\n'))
  }
  if (mismatches.length > limit) console.log(`${label} ... and ${mismatches.length - limit} more mismatch(es)`)
}
