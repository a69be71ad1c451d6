/**
 * The fuzz worker. Decoders run here, off the main thread, so that the runner
 * can kill a worker stuck in an endless loop or out of memory and still know
 * which input did it. Two modes:
 *
 *  - fuzz: mutate, check, repeat, for one target until its time is up. Before
 *    each input the worker publishes it in shared memory (the runner's
 *    watchdog reads it back from there if the worker stops making progress).
 *  - check: answer single-input checks from the runner, for minimisation.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { loadCorpus } from './corpus.js'
import { Rng, mutate, type MutationContext } from './mutate.js'
import { check, installAllocationMeter, installStrayCatcher, takeStrays, type FuzzInput, type Target, type Verdict } from './oracle.js'
import { getTarget } from './targets/index.js'
import { SHARED_HEADER, STATE_IDLE, STATE_RUNNING, type CheckRequest, type FuzzJob, type WorkerMessage } from './ipc.js'

/** How many inputs a pool holds; past that, new finds replace random old ones. */
const POOL_LIMIT = 4096
/** Chance that an input is decoded at another version than the one it was made for. */
const VERSION_SWAP = 0.03
/** Chance that a target's repair hook (checksum fix-up) is applied to a mutant. */
const REPAIR = 0.85
/** Chance that a target's structure-aware mutation is tried instead of a byte-level one. */
const INNER = 0.15

const port = parentPort!
installAllocationMeter()
installStrayCatcher()

function post(m: WorkerMessage): void {
  port.postMessage(m)
}

async function fuzz(job: FuzzJob): Promise<void> {
  const deadline = Date.now() + job.durationMs
  const counters = new Int32Array(job.shared, 0, 4)
  const bytes = new Uint8Array(job.shared, SHARED_HEADER)
  const t: Target = getTarget(job.target)
  const rng = new Rng(job.seed)
  const options = { budgetMs: job.budgetMs }

  const seeds: FuzzInput[] = [...(await t.seeds(rng)), ...loadCorpus(t.name).map(({ version, data }) => ({ version, data }))]
  const pool: FuzzInput[] = []
  const byVersion = new Map<number, FuzzInput[]>()
  const addToPool = (input: FuzzInput) => {
    if (pool.length < POOL_LIMIT) pool.push(input)
    else pool[rng.below(pool.length)] = input
    let same = byVersion.get(input.version)
    if (same === undefined) byVersion.set(input.version, (same = []))
    if (same.length < POOL_LIMIT) same.push(input)
    else same[rng.below(same.length)] = input
  }

  const reported = new Set<string>()
  const report = (input: FuzzInput, kind: string, signature: string, message: string) => {
    if (reported.has(signature)) return
    reported.add(signature)
    post({ type: 'failure', version: input.version, data: input.data, kind, signature, message })
  }

  let execs = 0
  const seen = new Set<string>()
  const run = async (input: FuzzInput): Promise<Verdict> => {
    const n = Math.min(input.data.length, bytes.length)
    bytes.set(input.data.subarray(0, n))
    counters[2] = n
    counters[3] = input.version
    counters[1] = STATE_RUNNING
    Atomics.add(counters, 0, 1)
    const verdict = await check(t, input, options)
    counters[1] = STATE_IDLE
    execs++
    // Sync decoders never give the event loop a turn; now and then give it
    // one, so that anything that escaped a decoder surfaces. It is pinned on
    // the current input, and the runner's reproduction step tells whether
    // that is right.
    if ((execs & 1023) === 0) {
      await new Promise((resolve) => setImmediate(resolve))
      for (const err of takeStrays()) {
        const e = err instanceof Error ? err : new Error(String(err))
        report(input, 'crash', `crash: escaped ${e.constructor.name}: ${e.message.replace(/\d+/g, 'N').slice(0, 80)}`, e.stack ?? e.message)
      }
    }
    if (verdict.status === 'failure') report(input, verdict.failure.kind, verdict.failure.signature, verdict.failure.message)
    return verdict
  }

  // Every seed is a valid encoding: it must decode, round trip, and it
  // starts the pool. Seeds that fail are reported like any other input.
  for (const s of seeds) {
    const v = await run(s)
    if (v.status !== 'failure') {
      seen.add(v.key)
      addToPool(s)
    }
  }
  if (pool.length === 0) pool.push({ version: t.versions[0]!, data: Buffer.alloc(0) })

  let parent = pool[0]!
  const ctx: MutationContext = {
    rng,
    maxLength: job.maxLength,
    other: () => {
      const same = byVersion.get(parent.version)
      return (same !== undefined && rng.chance(0.8) ? rng.pick(same) : rng.pick(pool)).data
    },
  }
  while (Date.now() < deadline) {
    parent = rng.pick(pool)
    let version = parent.version
    if (t.versions.length > 1 && rng.chance(VERSION_SWAP)) version = rng.pick(t.versions)
    let data: Buffer | null = null
    if (t.mutateInner !== undefined && rng.chance(INNER)) data = await t.mutateInner(parent.data, rng, (inner) => mutate(inner, ctx))
    data ??= mutate(parent.data, ctx)
    if (t.repair !== undefined && rng.chance(REPAIR)) data = t.repair(data, version)
    const input = { version, data }
    const v = await run(input)
    // Keep mutants that ended somewhere no input has ended before (a new
    // error at a new field, or a successful decode of a new size class): a
    // cheap stand-in for coverage feedback.
    if (v.status !== 'failure' && !seen.has(v.key)) {
      seen.add(v.key)
      addToPool(input)
    }
  }
  post({ type: 'done', execs, seeds: seeds.length, pool: pool.length, outcomes: seen.size })
}

function serveChecks(): void {
  port.on('message', async (req: CheckRequest) => {
    const data = Buffer.from(req.data.buffer, req.data.byteOffset, req.data.byteLength)
    const verdict = await check(getTarget(req.target), { version: req.version, data }, { budgetMs: req.budgetMs })
    post({ type: 'verdict', id: req.id, verdict })
  })
  post({ type: 'ready' })
}

const job = workerData as FuzzJob | { mode: 'check' }
if (job.mode === 'fuzz') await fuzz(job)
else serveChecks()
