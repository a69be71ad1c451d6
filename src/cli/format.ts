/**
 * Output: aligned tables for people, one JSON document for programs, and
 * one-line errors.
 */
import { KafkawireError } from '../protocol/errors.js'

/** Columns separated by two spaces, each as wide as its widest cell; no trailing spaces. */
export function table(headers: string[], rows: Array<Array<string | number | bigint | null>>): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null ? '-' : String(c))))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd() + '\n').join('')
}

/** JSON with bigints (offsets) as decimal strings, so no precision is lost in any parser. */
export function json(doc: unknown): string {
  return JSON.stringify(doc, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n'
}

/** A typed error as JSON: its code and message. */
export function errorJson(err: KafkawireError): { code: string; message: string } {
  return { code: err.code, message: err.message }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim()
}

/**
 * "CODE: message" for a KafkawireError (broker errors' messages already
 * start with their code). When the error only says a deadline passed or no
 * broker answered, the cause that made it so is appended: it is usually
 * what the user needs (connection refused, authentication failed).
 */
export function describeError(err: unknown): string {
  if (!(err instanceof KafkawireError)) return oneLine(err instanceof Error ? err.message : String(err))
  let line = err.message.startsWith(`${err.code}:`) ? err.message : `${err.code}: ${err.message}`
  const cause = err.cause
  if ((err.code === 'DEADLINE_EXCEEDED' || err.code === 'ABORT_ERR') && cause instanceof KafkawireError && !line.includes(cause.message)) {
    line += ` (last error: ${cause.message.startsWith(`${cause.code}:`) ? cause.message : `${cause.code}: ${cause.message}`})`
  }
  return oneLine(line)
}

/** The error with its stack and causes, for --debug. */
export function debugError(err: unknown): string {
  const parts: string[] = []
  let e: unknown = err
  for (let depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (e instanceof Error) {
      parts.push((depth > 0 ? 'caused by: ' : '') + (e.stack ?? `${e.name}: ${e.message}`))
      if (e instanceof KafkawireError && Object.keys(e.context).length > 0) parts.push(`  context: ${oneLine(json(e.context))}`)
      e = e.cause
    } else {
      parts.push(`caused by: ${String(e)}`)
      break
    }
  }
  return parts.join('\n')
}

export function bytes(n: number): string {
  if (n < 1000) return `${n} B`
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`
  return `${(n / 1e9).toFixed(2)} GB`
}
