#!/usr/bin/env node
// Writes src/protocol/messages/*.ts, our declaration of each API, from the
// official Kafka message definitions. Development tool only: its output is
// committed, and nothing at run time or in CI reads the JSON files.
//
//   node scripts/gen-messages.mjs --old ../shared/kafka-protocol/messages --new /path/to/common/message
//
// --old is the 4.0-era snapshot (it still carries versions that Kafka 4.x
// removed, which 3.x brokers speak); --new is the message folder of a newer
// kafka-clients jar (the reference implementation), which adds the versions
// released since. For every version the generated declaration must lay out
// exactly the fields of the definition that owns that version; the script
// checks this before writing anything.
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
)
const OLD = args.old
const NEW = args.new
const OUT = args.out ?? 'src/protocol/messages'
if (!OLD || !NEW) {
  console.error('usage: gen-messages.mjs --old DIR --new DIR [--out DIR]')
  process.exit(2)
}

// The API keys a client, an admin tool or a consumer group uses.
const REQUIRED = [
  0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 28, 29, 30, 31, 32, 33, 35, 36, 37,
  42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 60, 61, 65, 66, 68, 69, 71, 72, 75,
]
const EMBEDDED = ['ConsumerProtocolSubscription', 'ConsumerProtocolAssignment', 'RequestHeader', 'ResponseHeader']

function load(dir, name) {
  const p = join(dir, `${name}.json`)
  if (!existsSync(p)) return null
  return JSON.parse(readFileSync(p, 'utf8').replace(/^\s*\/\/.*$/gm, ''))
}

function indexByKey(dir) {
  const m = new Map()
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('Request.json')) continue
    const j = load(dir, f.slice(0, -5))
    if (j.apiKey !== undefined) m.set(j.apiKey, j.name.slice(0, -'Request'.length))
  }
  return m
}

// ---- version sets as sorted integer arrays --------------------------------
const CAP = 64
function parse(spec) {
  if (spec === undefined || spec === 'none' || spec === '') return []
  const out = []
  for (const part of String(spec).split(',')) {
    let m
    if ((m = /^(\d+)\+$/.exec(part))) for (let v = +m[1]; v < CAP; v++) out.push(v)
    else if ((m = /^(\d+)-(\d+)$/.exec(part))) for (let v = +m[1]; v <= +m[2]; v++) out.push(v)
    else if (/^\d+$/.test(part)) out.push(+part)
    else throw new Error(`bad version spec ${spec}`)
  }
  return out
}
const inter = (a, b) => a.filter((v) => b.includes(v))
const union = (a, b) => [...new Set([...a, ...b])].sort((x, y) => x - y)
function spec(vs, max) {
  vs = vs.filter((v) => v <= max)
  if (vs.length === 0) return 'none'
  const ranges = []
  let lo = vs[0]
  let prev = vs[0]
  for (const v of [...vs.slice(1), Infinity]) {
    if (v === prev + 1) {
      prev = v
      continue
    }
    ranges.push(prev === max ? `${lo}+` : lo === prev ? `${lo}` : `${lo}-${prev}`)
    lo = prev = v
  }
  return ranges.join(',')
}

const camel = (n) => n[0].toLowerCase() + n.slice(1)

// ---- normalised field trees -------------------------------------------------
// A field: { name, type: prim | 'array' | 'struct', elem, fields, versions[], nullable[], tagged[], tag, default, ignorable, flexible[] | null, structName }
function norm(fields, common, ownerValid) {
  return (fields ?? []).map((f) => {
    let t = f.type
    const isArray = t.startsWith('[]')
    if (isArray) t = t.slice(2)
    const isStruct = /^[A-Z]/.test(t)
    let sub = null
    if (isStruct) {
      const src = f.fields ?? common.get(t)?.fields
      if (!src) throw new Error(`struct ${t} has no fields`)
      sub = norm(src, common, ownerValid)
    }
    return {
      name: camel(f.name),
      kind: isArray ? 'array' : isStruct ? 'struct' : t,
      elem: isArray ? (isStruct ? 'struct' : t) : null,
      structName: isStruct ? t : null,
      common: isStruct && !f.fields,
      fields: sub,
      versions: inter(parse(f.versions), ownerValid),
      nullable: inter(parse(f.nullableVersions), ownerValid),
      tagged: inter(parse(f.taggedVersions), ownerValid),
      tag: f.tag,
      default: f.default,
      ignorable: !!f.ignorable,
      flexible: f.flexibleVersions === undefined ? null : parse(f.flexibleVersions),
    }
  })
}

/** Merges old and new trees: versions in `fromOld` come from the old tree, the rest from the new. */
function merge(oldF, newF, fromOld, fromNew) {
  const out = []
  const byName = new Map(oldF.map((f) => [f.name, f]))
  const used = new Set()
  // Walk the new order, pulling in old-only fields where they sat in the old order.
  const oldOrder = oldF.map((f) => f.name)
  const emitOldOnlyBefore = (name) => {
    for (const n of oldOrder) {
      if (n === name) break
      if (!used.has(n) && !newF.some((f) => f.name === n)) {
        used.add(n)
        out.push(restrict(byName.get(n), fromOld))
      }
    }
  }
  for (const nf of newF) {
    emitOldOnlyBefore(nf.name)
    const of = byName.get(nf.name)
    if (!of) {
      out.push(restrict(nf, fromNew))
      continue
    }
    used.add(nf.name)
    if (of.kind !== nf.kind || of.elem !== nf.elem) throw new Error(`type change for ${nf.name}`)
    const tagO = inter(of.tagged, fromOld).length ? of.tag : undefined
    const tagN = inter(nf.tagged, fromNew).length ? nf.tag : undefined
    if (tagO !== undefined && tagN !== undefined && tagO !== tagN) throw new Error(`tag change for ${nf.name}`)
    const dO = inter(of.versions, fromOld).length ? of.default : undefined
    const dN = inter(nf.versions, fromNew).length ? nf.default : undefined
    if (dO !== undefined && dN !== undefined && String(dO) !== String(dN)) throw new Error(`default change for ${nf.name}: ${dO} vs ${dN}`)
    out.push({
      ...nf,
      versions: union(inter(of.versions, fromOld), inter(nf.versions, fromNew)),
      nullable: union(inter(of.nullable, fromOld), inter(nf.nullable, fromNew)),
      tagged: union(inter(of.tagged, fromOld), inter(nf.tagged, fromNew)),
      tag: tagN ?? tagO,
      default: dN ?? dO ?? nf.default,
      ignorable: nf.ignorable || of.ignorable,
      fields: nf.fields ? merge(of.fields, nf.fields, fromOld, fromNew) : null,
    })
  }
  emitOldOnlyBefore(null)
  return out
}

function restrict(f, vs) {
  return {
    ...f,
    versions: inter(f.versions, vs),
    nullable: inter(f.nullable, vs),
    tagged: inter(f.tagged, vs),
    fields: f.fields ? f.fields.map((c) => restrict(c, vs)) : null,
  }
}

/** The wire layout of a tree at one version: what the golden check compares. */
function layout(fields, v, flexible) {
  const out = []
  for (const f of fields) {
    if (!f.versions.includes(v)) continue
    const compact = f.flexible ? f.flexible.includes(v) : flexible
    const sub = f.fields ? layout(f.fields, v, flexible) : null
    out.push([f.name, f.kind, f.elem, f.nullable.includes(v), f.tagged.includes(v) ? f.tag : null, compact, sub, String(f.default ?? '')])
  }
  return out
}

// ---- emit -------------------------------------------------------------------
function defaultLiteral(f) {
  const d = f.default
  if (d === undefined) return undefined
  const s = String(d)
  if (s === 'null') return 'null'
  switch (f.kind) {
    case 'int8':
    case 'int16':
    case 'int32':
    case 'uint16':
    case 'uint32':
    case 'float64': {
      const n = Number(s)
      return n === 0 ? undefined : String(n)
    }
    case 'int64':
      return BigInt(s) === 0n ? undefined : `${BigInt(s)}n`
    case 'bool':
      return s.toLowerCase() === 'true' ? 'true' : undefined
    case 'string':
      return s === '' ? undefined : JSON.stringify(s)
    default:
      throw new Error(`unsupported default ${s} for ${f.kind} ${f.name}`)
  }
}

function emitFields(fields, max, indent, commonNames) {
  const pad = ' '.repeat(indent)
  const lines = []
  for (const f of fields) {
    if (f.versions.length === 0) continue
    const opts = []
    if (f.nullable.length) opts.push(`nullable: '${spec(f.nullable, max)}'`)
    if (f.tagged.length) opts.push(`tagged: '${spec(f.tagged, max)}'`, `tag: ${f.tag}`)
    const d = defaultLiteral(f)
    if (d !== undefined) opts.push(`default: ${d}`)
    if (f.ignorable) opts.push('ignorable: true')
    if (f.flexible) opts.push(`flexible: '${spec(f.flexible, max)}'`)
    const o = opts.length ? `, { ${opts.join(', ')} }` : ''
    const v = `'${spec(f.versions, max)}'`
    let body
    if (f.kind === 'array' && f.elem !== 'struct') body = `f.array(${v}, '${f.elem}'${o})`
    else if (f.kind === 'array' || f.kind === 'struct') {
      const ctor = f.kind === 'array' ? 'array' : 'struct'
      const ref = f.common && commonNames.has(f.structName) ? commonNames.get(f.structName) : null
      if (ref) body = `f.${ctor}(${v}, ${ref}${o})`
      else body = `f.${ctor}(${v}, {\n${emitFields(f.fields, max, indent + 2, commonNames)}${pad}}${o})`
    } else body = `f.${f.kind}(${v}${o})`
    lines.push(`${pad}${f.name}: ${body},\n`)
  }
  return lines.join('')
}

const kebab = (n) => n.replace(/([a-z0-9])([A-Z])/g, '$1-$2').replace(/([A-Z])([A-Z][a-z])/g, '$1-$2').toLowerCase()

function mergedMessage(name) {
  const o = load(OLD, name)
  const n = load(NEW, name)
  const ov = o ? parse(o.validVersions) : []
  const nv = n ? parse(n.validVersions) : []
  const all = union(ov, nv)
  const fromNew = nv
  const fromOld = ov.filter((v) => !nv.includes(v))
  const commonO = new Map((o?.commonStructs ?? []).map((c) => [c.name, c]))
  const commonN = new Map((n?.commonStructs ?? []).map((c) => [c.name, c]))
  const fo = o ? norm(o.fields, commonO, ov) : []
  const fn = n ? norm(n.fields, commonN, nv) : []
  const fields = merge(fo, fn, fromOld, fromNew)
  const flexO = o ? inter(parse(o.flexibleVersions), ov) : []
  const flexN = n ? inter(parse(n.flexibleVersions), nv) : []
  const flexible = union(inter(flexO, fromOld), inter(flexN, fromNew))
  // Check: each version lays out exactly as the definition that owns it.
  for (const v of all) {
    const ownerFields = nv.includes(v) ? fn : fo
    const want = JSON.stringify(layout(ownerFields, v, flexible.includes(v)))
    const got = JSON.stringify(layout(fields, v, flexible.includes(v)))
    if (want !== got) throw new Error(`${name} v${v}: merged layout differs from the reference\n${want}\n${got}`)
    // The versions in both definitions must agree with each other too.
    if (o && n && ov.includes(v) && nv.includes(v)) {
      const a = JSON.stringify(layout(fo, v, flexO.includes(v)))
      const b = JSON.stringify(layout(fn, v, flexN.includes(v)))
      if (a !== b) console.warn(`note: ${name} v${v} differs between the two definition sets; using the newer`)
    }
  }
  const unstable = n?.latestVersionUnstable ? Math.max(...nv) : -1
  return { name, all, flexible, fields, unstable, max: Math.max(...all), commons: [...commonN.keys(), ...commonO.keys()] }
}

/** Hoists common structs used by reference into consts (one declaration each). */
function hoist(msgs) {
  const consts = new Map()
  const decls = []
  const visit = (fields, max) => {
    for (const f of fields) {
      if (!f.fields) continue
      if (f.common && !consts.has(f.structName)) {
        const id = f.structName
        consts.set(f.structName, id)
        visit(f.fields, max)
        decls.push(`const ${id} = struct({\n${emitFields(f.fields, max, 2, consts)}})\n`)
      } else visit(f.fields, max)
    }
  }
  for (const m of msgs) visit(m.fields, m.max)
  return { consts, decls }
}

const keys = indexByKey(NEW)
for (const [k, v] of indexByKey(OLD)) if (!keys.has(k)) keys.set(k, v)

const header = `// Generated by scripts/gen-messages.mjs from the Kafka message definitions
// (the 4.0-era snapshot for removed versions, kafka-clients 4.3.1 for the rest).
// Each version's layout was checked against the definition that owns it.
`
const registry = []
for (const key of REQUIRED) {
  const base = keys.get(key)
  if (!base) throw new Error(`no definition for api key ${key}`)
  const req = mergedMessage(`${base}Request`)
  const res = mergedMessage(`${base}Response`)
  if (JSON.stringify(req.all) !== JSON.stringify(res.all)) throw new Error(`${base}: request/response versions differ`)
  if (JSON.stringify(req.flexible) !== JSON.stringify(res.flexible)) throw new Error(`${base}: flexible versions differ`)
  const max = req.max
  if (req.all.length !== max - req.all[0] + 1) throw new Error(`${base}: versions are not contiguous`)
  const { consts, decls } = hoist([req, res])
  const id = camel(base)
  const file = kebab(base)
  const unstable = Math.max(req.unstable, res.unstable)
  const src = `${header}import { api, f${decls.length ? ', struct' : ''}, type RequestOf, type ResponseOf } from '../schema.js'

${decls.join('\n')}${decls.length ? '\n' : ''}export const ${id} = api({
  apiKey: ${key},
  name: '${base}',
  versions: '${req.all.length === 1 ? req.all[0] : `${req.all[0]}-${max}`}',
  flexible: '${spec(req.flexible, max)}',${unstable >= 0 ? `\n  unstableFrom: ${unstable},` : ''}
  request: {
${emitFields(req.fields, max, 4, consts)}  },
  response: {
${emitFields(res.fields, max, 4, consts)}  },
})

export type ${base}Request = RequestOf<typeof ${id}>
export type ${base}Response = ResponseOf<typeof ${id}>
`
  writeFileSync(join(OUT, `${file}.ts`), src)
  registry.push({ key, id, file, base })
}

for (const name of EMBEDDED) {
  const m = mergedMessage(name)
  const max = m.max
  const { consts, decls } = hoist([m])
  const id = camel(name)
  const range = m.all.length === 1 ? `${m.all[0]}` : `${m.all[0]}-${max}`
  const src = `${header}import { message, f${decls.length ? ', struct' : ''}, type ValueOf } from '../schema.js'

${decls.join('\n')}${decls.length ? '\n' : ''}export const ${id} = message('${name}', '${range}', '${spec(m.flexible, max)}', {
${emitFields(m.fields, max, 2, consts)}})

export type ${name} = ValueOf<typeof ${id}>
`
  writeFileSync(join(OUT, `${kebab(name)}.ts`), src)
}

const index = `${header}import type { ApiSchema } from '../schema.js'
${registry.map((r) => `import { ${r.id} } from './${r.file}.js'`).join('\n')}

${registry.map((r) => `export { ${r.id}, type ${r.base}Request, type ${r.base}Response } from './${r.file}.js'`).join('\n')}
${EMBEDDED.map((n) => `export { ${camel(n)}, type ${n} } from './${kebab(n)}.js'`).join('\n')}

/** Every API declaration, by API key. */
export const apiSchemas: ReadonlyArray<ApiSchema> = [
${registry.map((r) => `  ${r.id},`).join('\n')}
]
`
writeFileSync(join(OUT, 'index.ts'), index)
console.log(`wrote ${registry.length} APIs and ${EMBEDDED.length} embedded messages to ${OUT}`)
