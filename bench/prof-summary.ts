/**
 * Summarizes a V8 .cpuprofile (node --cpu-prof): self time per function and
 * per file, and inclusive ("total") time per function.
 *
 *   node --import tsx bench/prof-summary.ts <file.cpuprofile> [top=25] [filter substring]
 */
import { readFileSync } from 'node:fs'

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }
  children?: number[]
}
interface Profile {
  nodes: Node[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

const [file, topArg, filter] = process.argv.slice(2)
if (!file) {
  console.error('usage: node --import tsx bench/prof-summary.ts <file.cpuprofile> [top] [filter]')
  process.exit(2)
}
const top = Number(topArg ?? 25)
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(p.nodes.map((n) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

const selfUs = new Map<number, number>()
for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0))
const total = [...selfUs.values()].reduce((a, b) => a + b, 0)

const short = (url: string): string => url.replace(/^file:\/\//, '').replace(/^.*\/(src|node_modules|bench)\//, '$1/')
const label = (n: Node): string => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}:${n.callFrame.columnNumber + 1}`

const selfFn = new Map<string, number>()
const selfFile = new Map<string, number>()
const inclFn = new Map<string, number>()
for (const [id, us] of selfUs) {
  const n = byId.get(id)!
  const l = label(n)
  selfFn.set(l, (selfFn.get(l) ?? 0) + us)
  const f = short(n.callFrame.url) || `(${n.callFrame.functionName})`
  selfFile.set(f, (selfFile.get(f) ?? 0) + us)
  // inclusive: every distinct function on the stack gets the sample once
  const seen = new Set<string>()
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const ll = label(byId.get(cur)!)
    if (seen.has(ll)) continue
    seen.add(ll)
    inclFn.set(ll, (inclFn.get(ll) ?? 0) + us)
  }
}

const pct = (us: number): string => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms`
const show = (title: string, m: Map<string, number>): void => {
  console.log(`\n== ${title}`)
  const rows = [...m].filter(([k]) => !filter || k.includes(filter)).sort((a, b) => b[1] - a[1]).slice(0, top)
  for (const [k, v] of rows) console.log(`${pct(v)}  ${k}`)
}
console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`)
show('self time by function', selfFn)
show('self time by file', selfFile)
show('total (inclusive) time by function', inclFn)
