/**
 * JSON for talking to the reference JVM without losing int64 precision.
 *
 * JSON.parse turns every number into a double (exact only up to 2^53) and
 * Node 20 gives a reviver no access to the source text, so this module has its
 * own small parser: integer literals become bigints, other numbers doubles.
 * The writer prints bigints as plain JSON integers and passes `RawJson` text
 * through untouched (for numbers the reference needs in a particular form).
 */

export type Json = null | boolean | bigint | number | string | Json[] | { [key: string]: Json }

/** Text written verbatim into the output, e.g. "5.0" or "Infinity". */
export class RawJson {
  constructor(readonly text: string) {}
}

export type JsonInput = null | boolean | bigint | number | string | RawJson | JsonInput[] | { [key: string]: JsonInput | undefined }

export function stringify(v: JsonInput): string {
  const out: string[] = []
  write(v, out)
  return out.join('')
}

function write(v: JsonInput, out: string[]): void {
  if (v === null) out.push('null')
  else if (typeof v === 'bigint') out.push(v.toString())
  else if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`cannot write ${v} as JSON`)
    out.push(JSON.stringify(v))
  } else if (typeof v === 'string' || typeof v === 'boolean') out.push(JSON.stringify(v))
  else if (v instanceof RawJson) out.push(v.text)
  else if (Array.isArray(v)) {
    out.push('[')
    v.forEach((e, i) => {
      if (i > 0) out.push(',')
      write(e, out)
    })
    out.push(']')
  } else {
    out.push('{')
    let first = true
    for (const [k, e] of Object.entries(v)) {
      if (e === undefined) continue
      if (!first) out.push(',')
      first = false
      out.push(JSON.stringify(k), ':')
      write(e, out)
    }
    out.push('}')
  }
}

/** Parses one JSON text; integers come back as bigint, other numbers as number. */
export function parse(text: string): Json {
  const p = new Parser(text)
  p.ws()
  const v = p.value()
  p.ws()
  if (p.i !== text.length) p.fail('trailing text')
  return v
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y

class Parser {
  i = 0
  constructor(readonly s: string) {}

  fail(what: string): never {
    throw new SyntaxError(`JSON: ${what} at ${this.i}: ${this.s.slice(this.i, this.i + 40)}`)
  }

  ws(): void {
    const s = this.s
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i)
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.i++
      else break
    }
  }

  value(): Json {
    const c = this.s[this.i]
    if (c === '{') return this.object()
    if (c === '[') return this.array()
    if (c === '"') return this.string()
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number()
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length
        return v
      }
    }
    return this.fail('unexpected token')
  }

  object(): Json {
    const o: { [key: string]: Json } = {}
    this.i++
    this.ws()
    if (this.s[this.i] === '}') {
      this.i++
      return o
    }
    for (;;) {
      this.ws()
      if (this.s[this.i] !== '"') this.fail('expected a key')
      const k = this.string()
      this.ws()
      if (this.s[this.i++] !== ':') this.fail('expected ":"')
      this.ws()
      o[k] = this.value()
      this.ws()
      const c = this.s[this.i++]
      if (c === '}') return o
      if (c !== ',') this.fail('expected "," or "}"')
    }
  }

  array(): Json {
    const a: Json[] = []
    this.i++
    this.ws()
    if (this.s[this.i] === ']') {
      this.i++
      return a
    }
    for (;;) {
      this.ws()
      a.push(this.value())
      this.ws()
      const c = this.s[this.i++]
      if (c === ']') return a
      if (c !== ',') this.fail('expected "," or "]"')
    }
  }

  string(): string {
    const s = this.s
    let i = this.i + 1
    let out = ''
    let start = i
    for (;;) {
      if (i >= s.length) this.fail('unterminated string')
      const c = s.charCodeAt(i)
      if (c === 0x22) break
      if (c === 0x5c) {
        out += s.slice(start, i)
        const e = s[i + 1]
        if (e === 'u') {
          const hex = s.slice(i + 2, i + 6)
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('bad \\u escape')
          out += String.fromCharCode(parseInt(hex, 16)) // surrogate pairs come as two escapes and join up
          i += 6
        } else {
          const m = ESCAPES[e ?? '']
          if (m === undefined) this.fail('bad escape')
          out += m
          i += 2
        }
        start = i
      } else i++
    }
    out += s.slice(start, i)
    this.i = i + 1
    return out
  }

  number(): Json {
    NUMBER.lastIndex = this.i
    const m = NUMBER.exec(this.s)
    if (m === null) return this.fail('bad number')
    this.i += m[0].length
    return m[1] === undefined && m[2] === undefined ? BigInt(m[0]) : Number(m[0])
  }
}

const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }
