/**
 * Fuzz campaigns over every decoder.
 *
 *   npm run fuzz -- --seconds 600                  all targets, time split evenly
 *   npm run fuzz -- --seconds 30 --target Fetch    targets whose name contains "Fetch"
 *   npm run fuzz -- --seconds 60 --seed 1234       reproducible input sequence
 *   npm run fuzz -- --list                         target names
 *
 * Options: --jobs N (targets fuzzed in parallel, default 1), --budget-ms N
 * (per-input time budget, default 250), --max-length N (largest mutant,
 * default 4096), --dry-run (do not write corpus files).
 *
 * Each target runs in a worker thread (fuzz/worker.ts) for its share of the
 * time; a watchdog here kills a worker whose current input makes no progress
 * and records that input as a hang. Every distinct failure (by signature) is
 * then reproduced and minimised in a separate checker worker and written to
 * fuzz/corpus/<target>/. Exits 1 if anything failed.
 */
import { parseArgs } from 'node:util'
import { Worker } from 'node:worker_threads'
import { relative } from 'node:path'
import { saveCorpusEntry } from './corpus.js'
import { minimise } from './minimise.js'
import { hashString } from './mutate.js'
import { DEFAULT_BUDGET_MS, type Verdict } from './oracle.js'
import { allTargets } from './targets/index.js'
import { SHARED_HEADER, STATE_RUNNING, type CheckRequest, type FuzzJob, type WorkerMessage } from './ipc.js'

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    target: { type: 'string', multiple: true },
    seed: { type: 'string' },
    jobs: { type: 'string', default: '1' },
    'budget-ms': { type: 'string', default: String(DEFAULT_BUDGET_MS) },
    'max-length': { type: 'string', default: '4096' },
    'dry-run': { type: 'boolean', default: false },
    list: { type: 'boolean', default: false },
  },
  strict: true,
})

function positive(name: string, s: string | undefined): number {
  const n = Number(s)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${JSON.stringify(s)}`)
  return n
}

const seconds = positive('seconds', args.seconds)
const jobs = Math.floor(positive('jobs', args.jobs))
const budgetMs = positive('budget-ms', args['budget-ms'])
const maxLength = Math.floor(positive('max-length', args['max-length']))
const campaignSeed = args.seed === undefined ? (Date.now() ^ (process.pid << 16)) >>> 0 : Number(args.seed) >>> 0
/** No progress on one input for this long is a hang. Async decodes time out inside the oracle well before. */
const hangMs = Math.max(2000, budgetMs * 8)

const WORKER_URL = new URL('./worker.ts', import.meta.url).href
// Worker threads do not inherit tsx's module hooks on Node 20, so each worker
// registers them itself before loading the TypeScript entry point.
const BOOTSTRAP = `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(WORKER_URL)}) })`

function spawn(data: FuzzJob | { mode: 'check' }): Worker {
  return new Worker(BOOTSTRAP, { eval: true, workerData: data, resourceLimits: { maxOldGenerationSizeMb: 1024 } })
}

interface Found {
  target: string
  version: number
  data: Buffer
  kind: string
  signature: string
  message: string
}

interface TargetReport {
  name: string
  versions: number
  execs: number
  ms: number
  seeds: number
  pool: number
  outcomes: number
  restarts: number
  failures: Map<string, Found>
  saved: string[]
  unreproduced: Found[]
}

function hangSignature(): string {
  return `hang: no progress within ${hangMs} ms`
}

// ---------------------------------------------------------------------------
// Fuzzing one target.

/** Runs one fuzz worker until it finishes, hangs or dies. Returns whether it finished its slice. */
function runWorker(report: TargetReport, durationMs: number, seed: number): Promise<boolean> {
  // Room for the largest input the worker may run: mutants are cut to
  // maxLength, but seeds and re-compressed record mutants can be larger.
  const shared = new SharedArrayBuffer(SHARED_HEADER + Math.max(maxLength, 1 << 20))
  const counters = new Int32Array(shared, 0, 4)
  const bytes = new Uint8Array(shared, SHARED_HEADER)
  const worker = spawn({ mode: 'fuzz', target: report.name, seed, durationMs, budgetMs, maxLength, shared })
  const currentInput = (): { version: number; data: Buffer } | null =>
    counters[1] === STATE_RUNNING ? { version: counters[3]!, data: Buffer.from(bytes.subarray(0, counters[2]!)) } : null

  return new Promise((resolve) => {
    let settled = false
    let lastExecs = -1
    let lastProgress = Date.now()
    const finish = (completed: boolean, stopped?: { kind: string; signature: string; message: string }) => {
      if (settled) return
      settled = true
      clearInterval(watchdog)
      if (!completed) report.execs += Atomics.load(counters, 0)
      const input = currentInput()
      if (stopped !== undefined && input !== null) record(report, { target: report.name, ...input, ...stopped })
      void worker.terminate()
      resolve(completed)
    }
    const watchdog = setInterval(() => {
      const execs = Atomics.load(counters, 0)
      if (execs !== lastExecs) {
        lastExecs = execs
        lastProgress = Date.now()
      } else if (counters[1] === STATE_RUNNING && Date.now() - lastProgress > hangMs) {
        finish(false, { kind: 'hang', signature: hangSignature(), message: `no progress on this input for ${hangMs} ms; worker killed` })
      }
    }, 100)
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'failure') {
        record(report, { target: report.name, version: m.version, data: Buffer.from(m.data), kind: m.kind, signature: m.signature, message: m.message })
      } else if (m.type === 'done') {
        report.execs += m.execs
        report.seeds = m.seeds
        report.pool = m.pool
        report.outcomes = m.outcomes
        finish(true)
      }
    })
    worker.on('error', (err: Error & { code?: string }) => {
      const signature = `worker-died: ${err.code ?? err.constructor.name}`
      finish(false, { kind: 'worker-died', signature, message: err.stack ?? err.message })
    })
    worker.on('exit', (code) => {
      finish(false, { kind: 'worker-died', signature: `worker-died: exit ${code}`, message: `worker exited with code ${code} before finishing` })
    })
  })
}

function isRunaway(kind: string): boolean {
  return kind === 'hang' || kind === 'worker-died'
}

/**
 * Keeps the first input per signature. A runaway input shows as a hang or as
 * the worker running out of memory depending on how fast it allocates, and
 * neither has a stack to tell two apart, so they share one slot.
 */
function record(report: TargetReport, f: Found): void {
  const key = isRunaway(f.kind) ? 'runaway' : f.signature
  if (!report.failures.has(key)) report.failures.set(key, f)
}

async function fuzzTarget(name: string, versions: number, sliceMs: number, checker: Checker): Promise<TargetReport> {
  const report: TargetReport = { name, versions, execs: 0, ms: 0, seeds: 0, pool: 0, outcomes: 0, restarts: 0, failures: new Map(), saved: [], unreproduced: [] }
  const started = Date.now()
  const seed = (campaignSeed ^ hashString(name)) >>> 0
  // A hang or crash kills the worker; the target still gets the rest of its time.
  for (let attempt = 0; ; attempt++) {
    const left = sliceMs - (Date.now() - started)
    if (attempt > 0 && left < 250) break
    const completed = await runWorker(report, Math.max(left, 250), (seed + attempt) >>> 0)
    if (completed) break
    report.restarts++
  }
  report.ms = Date.now() - started
  for (const f of report.failures.values()) await reproduceAndSave(report, f, checker)
  return report
}

// ---------------------------------------------------------------------------
// Reproducing and minimising, in a checker worker that is replaced when an
// input hangs or kills it.

class Checker {
  private worker: Worker | null = null
  /** Resolves once the current worker has loaded; a cold start must not count against an input's time. */
  private ready: Promise<void> = Promise.resolve()
  private nextId = 0
  private pending = new Map<number, (v: Verdict) => void>()

  private start(): Worker {
    const w = spawn({ mode: 'check' })
    let markReady = () => {}
    this.ready = new Promise((resolve) => (markReady = resolve))
    w.on('message', (m: WorkerMessage) => {
      if (m.type === 'ready') markReady()
      if (m.type !== 'verdict') return
      this.pending.get(m.id)?.(m.verdict)
      this.pending.delete(m.id)
    })
    const died = (why: string) => {
      if (this.worker !== w) return
      this.worker = null
      markReady()
      for (const [, resolve] of this.pending) resolve({ status: 'failure', failure: { kind: 'worker-died', signature: why, message: why } })
      this.pending.clear()
    }
    w.on('error', (err: Error & { code?: string }) => died(`worker-died: ${err.code ?? err.constructor.name}`))
    w.on('exit', (code) => died(`worker-died: exit ${code}`))
    this.worker = w
    return w
  }

  async check(target: string, version: number, data: Buffer): Promise<Verdict> {
    const w = this.worker ?? this.start()
    await this.ready
    if (this.worker !== w) return { status: 'failure', failure: { kind: 'worker-died', signature: 'worker-died: during start-up', message: 'checker died while loading' } }
    const id = this.nextId++
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (!this.pending.delete(id)) return
        // Stuck: kill it and start afresh for the next check.
        this.worker = null
        void w.terminate()
        resolve({ status: 'failure', failure: { kind: 'hang', signature: hangSignature(), message: 'check timed out' } })
      }, hangMs)
      this.pending.set(id, (v) => {
        clearTimeout(timer)
        resolve(v)
      })
      const req: CheckRequest = { id, target, version, data, budgetMs }
      w.postMessage(req)
    })
  }

  async close(): Promise<void> {
    await this.worker?.terminate()
    this.worker = null
  }
}

/** Whether a verdict is the failure we are minimising (any runaway matches any runaway, as in `record`). */
function sameFailure(f: Found, v: Verdict): boolean {
  if (v.status !== 'failure') return false
  return isRunaway(f.kind) ? isRunaway(v.failure.kind) : v.failure.signature === f.signature
}

async function reproduceAndSave(report: TargetReport, f: Found, checker: Checker): Promise<void> {
  const fails = async (data: Buffer) => sameFailure(f, await checker.check(f.target, f.version, data))
  if (!(await fails(f.data))) {
    report.unreproduced.push(f)
    return
  }
  const originalLength = f.data.length
  const small = await minimise(f.data, fails, { maxTests: 20000, deadline: performance.now() + (f.kind === 'hang' ? 90_000 : 30_000) })
  f.data = small
  // Describe the failure as the minimised input shows it.
  const final = await checker.check(f.target, f.version, small)
  if (final.status === 'failure') f.message = final.failure.message
  if (args['dry-run']) return
  const file = saveCorpusEntry(
    { version: f.version, data: small },
    {
      target: f.target,
      version: f.version,
      kind: f.kind,
      signature: f.signature,
      error: f.message.split('\n').slice(0, 8).join('\n'),
      originalLength,
      campaignSeed,
    },
  )
  report.saved.push(relative(process.cwd(), file))
}

// ---------------------------------------------------------------------------

function selectTargets() {
  const all = allTargets()
  if (args.target === undefined) return all
  const wanted = args.target.flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean)
  const picked = all.filter((t) => wanted.some((w) => t.name === w || t.name.toLowerCase().includes(w.toLowerCase())))
  if (picked.length === 0) throw new Error(`no target matches ${wanted.join(', ')}; see --list`)
  return picked
}

function pad(s: string | number, n: number, left = false): string {
  const str = String(s)
  return left ? str.padStart(n) : str.padEnd(n)
}

async function main(): Promise<void> {
  if (args.list) {
    for (const t of allTargets()) console.log(`${t.name}  (versions ${t.versions.join(',')})`)
    return
  }
  const candidates = selectTargets()
  const targets = []
  for (const t of candidates) {
    const why = (await t.unavailable?.()) ?? null
    if (why === null) targets.push(t)
    else console.log(`skipping ${t.name}: ${why}`)
  }
  const sliceMs = (seconds * 1000 * jobs) / targets.length
  console.log(
    `fuzzing ${targets.length} target(s) for ${seconds} s with ${jobs} job(s): ${(sliceMs / 1000).toFixed(1)} s each, ` +
      `seed ${campaignSeed}, budget ${budgetMs} ms/input, hang after ${hangMs} ms, inputs up to ${maxLength} bytes`,
  )

  const queue = [...targets]
  const reports: TargetReport[] = []
  const nameWidth = Math.max(...targets.map((t) => t.name.length), 6)
  const line = (r: TargetReport) =>
    `${pad(r.name, nameWidth)} ${pad(r.execs, 10, true)} execs ${pad(Math.round(r.execs / (r.ms / 1000)), 7, true)}/s ` +
    `${pad(r.failures.size, 3, true)} failure(s)  pool ${r.pool} (${r.seeds} seeds, ${r.outcomes} outcomes)` +
    (r.restarts > 0 ? `  ${r.restarts} restart(s)` : '')
  await Promise.all(
    Array.from({ length: Math.min(jobs, targets.length) }, async () => {
      const checker = new Checker()
      for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
        const r = await fuzzTarget(t.name, t.versions.length, sliceMs, checker)
        reports.push(r)
        console.log(line(r))
        for (const f of r.failures.values()) {
          const unrepro = r.unreproduced.includes(f)
          console.log(`    ${f.signature}\n      v${f.version}, ${f.data.length} byte(s)${unrepro ? ', NOT reproducible' : ''}: ${f.data.toString('hex').slice(0, 160)}`)
        }
        for (const s of r.saved) console.log(`    saved ${s}`)
      }
      await checker.close()
    }),
  )

  const execs = reports.reduce((s, r) => s + r.execs, 0)
  const failures = reports.reduce((s, r) => s + r.failures.size, 0)
  console.log(`\n${reports.length} target(s), ${execs} executions, ${failures} distinct failure(s), seed ${campaignSeed}`)
  process.exitCode = failures > 0 ? 1 : 0
}

await main()
