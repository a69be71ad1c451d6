/**
 * Golden vectors against the reference serializer (the Apache Kafka Java
 * client's own generated message classes and record-batch builders).
 *
 *   node --import tsx conformance/golden/run.ts --kafka 4.3.1 [--kafka 3.9.1] [--seed N] [--runs 30] [--frames 5] [--downgrades 5] [--show 5]
 *
 * Needs java/javac 17+ and mvn on PATH; jars and compiled classes are cached
 * outside the repository (see reference.ts). Exits non-zero on any mismatch.
 *
 * Per Kafka version the run ends with
 *   golden[<v>]: <pairs> api-versions, <cases> cases, <n> mismatches
 *   golden[<v>] batches: <cases> cases, <n> mismatches
 *   not in <v>: <what our codec knows that the reference lacks>
 *   not in kafkawire: <what the reference knows that we lack, among our APIs>
 *
 * "api-versions" counts the (API, version, direction) pairs compared, direction
 * being request or response, plus one (message, version) pair per version of
 * the standalone messages RequestHeader, ResponseHeader,
 * ConsumerProtocolSubscription and ConsumerProtocolAssignment.
 * "cases" counts the values compared both ways (reference -> ours and ours ->
 * reference), each whole request/response frame counting as one more case, and
 * each newer-version value encoded at an older version (see messages.ts) too.
 */
import { parseArgs } from 'node:util'
import { apiSchemas, consumerProtocolAssignment, consumerProtocolSubscription, requestHeader, responseHeader } from '../../src/protocol/messages/index.js'
import type { MessageSchema } from '../../src/protocol/schema.js'
import { checkBatches } from './batches.js'
import { checkPair, type Pair, type PairOptions } from './messages.js'
import { Reference } from './reference.js'
import { printMismatches, Tally } from './report.js'

const { values: args } = parseArgs({
  options: {
    kafka: { type: 'string', multiple: true },
    seed: { type: 'string' },
    runs: { type: 'string', default: '30' },
    frames: { type: 'string', default: '5' },
    downgrades: { type: 'string', default: '5' },
    /** How many mismatches to print in full. */
    show: { type: 'string', default: '5' },
  },
})

if (!args.kafka?.length) {
  console.error('usage: node --import tsx conformance/golden/run.ts --kafka 4.3.1|3.9.1 [--seed N] [--runs N] [--frames N]')
  process.exit(2)
}

interface RefVersions {
  apis: Array<{ apiKey: bigint; name: string; min: bigint; max: bigint }>
  messages: Array<{ name: string; min: bigint; max: bigint }>
}

function versionsOf(m: MessageSchema): number[] {
  const out: number[] = []
  for (let v = m.versions.min; v <= m.versions.max; v++) if (m.versions.has(v)) out.push(v)
  return out
}

/** "Produce v0-2" style: consecutive versions joined into ranges. */
function ranges(name: string, vs: number[]): string {
  const parts: string[] = []
  for (let i = 0; i < vs.length; ) {
    let j = i
    while (j + 1 < vs.length && vs[j + 1] === vs[j]! + 1) j++
    parts.push(i === j ? `${vs[i]}` : `${vs[i]}-${vs[j]}`)
    i = j + 1
  }
  return `${name} v${parts.join(',')}`
}

function plan(ref: RefVersions): { pairs: Pair[]; refLacks: string[]; weLack: string[] } {
  const pairs: Pair[] = []
  const refLacks: string[] = []
  const weLack: string[] = []
  const compare = (name: string, ours: number[], min: number, max: number, add: (v: number, top: number) => void): void => {
    const both = ours.filter((v) => v >= min && v <= max)
    for (const v of both) add(v, both[both.length - 1]!)
    const missing = ours.filter((v) => v < min || v > max)
    if (missing.length) refLacks.push(ranges(name, missing))
    const extra: number[] = []
    for (let v = min; v <= max; v++) if (!ours.includes(v)) extra.push(v)
    if (extra.length) weLack.push(ranges(name, extra))
  }
  for (const api of apiSchemas) {
    const r = ref.apis.find((x) => Number(x.apiKey) === api.apiKey)
    // A removed API stays in the reference's enum with an empty range (max < min).
    const [min, max] = r ? [Number(r.min), Number(r.max)] : [0, -1]
    compare(api.name, versionsOf(api.request), min, max, (v, top) => {
      pairs.push({ label: `${api.name} v${v} request`, schema: api.request, version: v, api, dir: 'request', top })
      pairs.push({ label: `${api.name} v${v} response`, schema: api.response, version: v, api, dir: 'response', top })
    })
  }
  for (const m of [requestHeader, responseHeader, consumerProtocolSubscription, consumerProtocolAssignment]) {
    const r = ref.messages.find((x) => x.name === m.name)
    const [min, max] = r ? [Number(r.min), Number(r.max)] : [0, -1]
    compare(m.name, versionsOf(m), min, max, (v, top) => pairs.push({ label: `${m.name} v${v}`, schema: m, version: v, dir: 'message', top }))
  }
  return { pairs, refLacks, weLack }
}

async function runVersion(version: string, seed: number): Promise<boolean> {
  const log = (s: string): void => console.log(s)
  const started = Date.now()
  const ref = Reference.start(version, log)
  const messages = new Tally()
  const batches = new Tally()
  let pairs: Pair[]
  let refLacks: string[]
  let weLack: string[]
  let tMessages = 0
  try {
    ;({ pairs, refLacks, weLack } = plan((await ref.one({ op: 'versions' })) as unknown as RefVersions))
    const tReady = Date.now()
    const options: PairOptions = { runs: Number(args.runs), frames: Number(args.frames), downgrades: Number(args.downgrades), seed }
    // A few pairs in flight: the JVM works on one while Node prepares the next.
    const inflight: Array<Promise<void>> = []
    for (const p of pairs) {
      inflight.push(checkPair(ref, p, options, messages))
      if (inflight.length >= 4) await inflight.shift()
    }
    await Promise.all(inflight)
    tMessages = Date.now()
    await checkBatches(ref, seed, batches)
    log(
      `golden[${version}]: seed ${seed}; reference ready in ${((tReady - started) / 1000).toFixed(1)} s, ` +
        `messages ${((tMessages - tReady) / 1000).toFixed(1)} s, batches ${((Date.now() - tMessages) / 1000).toFixed(1)} s`,
    )
  } finally {
    await ref.close()
  }
  printMismatches(`golden[${version}]`, messages.mismatches, Number(args.show))
  printMismatches(`golden[${version}] batches`, batches.mismatches, Number(args.show))
  log(`golden[${version}]: ${pairs.length} api-versions, ${messages.cases} cases, ${messages.mismatches.length} mismatches`)
  log(`golden[${version}] batches: ${batches.cases} cases, ${batches.mismatches.length} mismatches`)
  log(`not in ${version}: ${refLacks.length ? refLacks.join(', ') : 'none'}`)
  log(`not in kafkawire (known to ${version}, among our APIs): ${weLack.length ? weLack.join(', ') : 'none'}`)
  return messages.mismatches.length === 0 && batches.mismatches.length === 0
}

const seed = args.seed !== undefined ? Number(args.seed) : Date.now() % 2 ** 31
let ok = true
for (const v of args.kafka) {
  try {
    if (!(await runVersion(v, seed))) ok = false
  } catch (e) {
    console.log(`golden[${v}]: FAILED to run: ${(e as Error).stack ?? String(e)}`)
    ok = false
  }
}
process.exitCode = ok ? 0 : 1
