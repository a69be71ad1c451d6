/**
 * The orchestrator side of the client benchmarks (produce.ts, consume.ts):
 * the dedicated broker, topics, running each client in its own process, CPU
 * accounting, medians and the report.
 */
import { spawn, spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Admin } from '../../src/index.js'
import { pkgVersion, type Job, type Result } from './child.js'

/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any

export const here = join(dirname(fileURLToPath(import.meta.url)), '..')
const requireBench = createRequire(join(here, 'package.json'))

type Tooling = typeof import('../../conformance/broker/index.mjs')
export const tooling = (await import(new URL('../../conformance/broker/index.mjs', import.meta.url).href)) as Tooling

export const env = (name: string, dflt: string): string => process.env[name] ?? dflt
export const envNum = (name: string, dflt: number): number => Number(process.env[name] ?? dflt)
export const envList = (name: string, dflt: string): string[] => env(name, dflt).split(',').map((s) => s.trim()).filter(Boolean)

export function log(line: string): void {
  process.stderr.write(`${line}\n`)
}

export function checkNode(): void {
  if (Number(process.versions.node.split('.')[0]) < 22) {
    console.error(`@platformatic/kafka needs Node >= 22.22; this is ${process.version}. Run through npm: npm --prefix bench run <benchmark>`)
    process.exit(1)
  }
}

// ---- broker -----------------------------------------------------------------------------

export interface Broker {
  brokers: string[]
  kafka: string
  describe: string
  stop(): Promise<void>
}

/**
 * BENCH_BROKERS set: use that cluster. Otherwise start (or reuse) a dedicated
 * one-node Kafka with the project's tooling, name BENCH_CLUSTER
 * (bench-kafkawire), port base BENCH_PORT_BASE (38000), and stop it at the
 * end unless BENCH_KEEP_BROKER=1.
 */
export async function broker(): Promise<Broker> {
  const given = process.env.BENCH_BROKERS
  if (given) return { brokers: given.split(','), kafka: env('BENCH_KAFKA_VERSION', '4.3.1'), describe: `external cluster ${given}`, stop: async () => {} }
  const name = env('BENCH_CLUSTER', 'bench-kafkawire')
  const portBase = envNum('BENCH_PORT_BASE', 38000)
  const kafka = env('BENCH_KAFKA', '4.3.1')
  log(`starting a dedicated broker: cluster ${name}, Kafka ${kafka}, port base ${portBase}...`)
  const c = await tooling.startCluster({ name, portBase, kafka: kafka as Any, log })
  const keep = process.env.BENCH_KEEP_BROKER === '1'
  return {
    brokers: c.KAFKA_BROKERS.split(','),
    kafka: c.kafka ?? kafka,
    describe: `one node (project tooling: cluster ${name}, port base ${portBase}, KRaft broker+controller, 2 network / 4 io threads)`,
    stop: async () => {
      if (!keep) await tooling.stopCluster(name)
    },
  }
}

export class Topics {
  readonly #admin: Admin
  constructor(brokers: string[]) {
    this.#admin = new Admin({ brokers, clientId: 'bench-admin' })
  }

  async create(name: string, partitions: number): Promise<void> {
    const [r] = await this.#admin.createTopics([{ name, partitions, replicationFactor: 1 }])
    if (r?.error) throw r.error
    // Wait until every partition has a leader the metadata shows.
    for (let i = 0; i < 100; i++) {
      const d = await this.#admin.describeTopics([name]).catch(() => null)
      const t = (d as Any)?.[0]
      if (t && !t.error && t.partitions?.length === partitions && t.partitions.every((p: Any) => p.leader >= 0)) return
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`topic ${name} has no leaders after 10 s`)
  }

  async delete(name: string): Promise<void> {
    await this.#admin.deleteTopics([name]).catch(() => undefined)
  }

  async close(): Promise<void> {
    await this.#admin.close()
  }
}

// ---- CPU of child processes --------------------------------------------------------------

const TICK_US = 1e6 / 100 // sysconf(_SC_CLK_TCK) is 100 on Linux x86-64

/**
 * User + system CPU (µs) of this process's terminated and waited-for
 * children (/proc/self/stat cutime + cstime): the whole child, every thread,
 * startup included. Read before and after a child runs; children run one at
 * a time, so the difference is that child's CPU.
 */
export function childrenCpuUs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields after "(comm)": index 0 is field 3 (state); cutime is field 16, cstime 17
  return (Number(f[13]) + Number(f[14])) * TICK_US
}

// ---- running clients ---------------------------------------------------------------------

export interface Run extends Result {
  client: string
  /** CPU µs of the whole client process (startup, connection, teardown included), from cutime/cstime. */
  processCpuUs: number
  loadavg: number
}

function exec(cmd: string, args: string[], timeoutMs: number, env?: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: here, stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) })
    const out: Buffer[] = []
    const err: Buffer[] = []
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() })
    })
  })
}

/** Extra node flags for the client processes, e.g. BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=../.tmp/prof'. */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)

/** Runs clients/<client>.ts in a child Node process (the same Node as this one) and returns its result. */
export async function runNodeClient(client: string, job: Job, timeoutMs = 600_000): Promise<Run> {
  // "kafkawire@/path/to/src/index.ts" runs the kafkawire driver on another copy of the sources (A/B runs).
  const [script, src] = client.split('@') as [string, string | undefined]
  const load = os.loadavg()[0]!
  const cpu0 = childrenCpuUs()
  const r = await exec(process.execPath, [...NODE_ARGS, '--import', 'tsx', join('clients', `${script}.ts`), JSON.stringify(job)], timeoutMs, src ? { BENCH_KAFKAWIRE_SRC: src } : undefined)
  const processCpuUs = childrenCpuUs() - cpu0
  const line = r.stdout.split('\n').find((l) => l.startsWith('@@RESULT '))
  if (r.code !== 0 || line === undefined) {
    throw new Error(`${client} failed (exit ${r.code}):\n${r.stderr.slice(-3000)}${r.stdout.slice(-1000)}`)
  }
  const res = JSON.parse(line.slice('@@RESULT '.length)) as Result
  return { ...res, client, processCpuUs, loadavg: load }
}

/** Runs a Kafka Java tool through the project's tooling; its JVM's CPU (all threads) comes from cutime/cstime. */
export async function runJavaTool(mainClass: string, args: string[], kafka: string, timeoutMs = 600_000): Promise<{ stdout: string; stderr: string; cpuUs: number; loadavg: number }> {
  const load = os.loadavg()[0]!
  const cpu0 = childrenCpuUs()
  const r = await tooling.runKafkaTool(kafka as Any, mainClass, args, { timeoutMs })
  const cpuUs = childrenCpuUs() - cpu0
  if (r.code !== 0) throw new Error(`${mainClass} failed (exit ${r.code}${r.timedOut ? ', timed out' : ''}):\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-2000)}`)
  return { stdout: r.stdout, stderr: r.stderr, cpuUs, loadavg: load }
}

// ---- statistics and report ------------------------------------------------------------------

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export interface Row {
  client: string
  runs: number
  recordsPerSec: number
  mbPerSec: number
  cpuUsPerRecord: number
  /** min..max of records/s over the runs */
  rateRange: [number, number]
  cpuRange: [number, number]
  errors: number
}

export function summarize(client: string, runs: Run[]): Row {
  const rates = runs.map((r) => r.records / r.seconds)
  const mbs = runs.map((r) => r.bytes / r.seconds / 1e6)
  const cpus = runs.map((r) => (r.cpuUserUs + r.cpuSystemUs) / r.records)
  return {
    client,
    runs: runs.length,
    recordsPerSec: median(rates),
    mbPerSec: median(mbs),
    cpuUsPerRecord: median(cpus),
    rateRange: [Math.min(...rates), Math.max(...rates)],
    cpuRange: [Math.min(...cpus), Math.max(...cpus)],
    errors: runs.reduce((n, r) => n + r.errors, 0),
  }
}

export const fmtRate = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0))

/** The report's list of each client's configuration, as its driver reported it (runs keyed "<workload>\0<client>"). */
export function configurations(all: Map<string, Run[]>): string[] {
  const out = ['Client configurations as the drivers reported them:', '']
  const seen = new Set<string>()
  for (const [key, runs] of all) {
    const client = key.split('\0')[1]!
    if (seen.has(client)) continue
    seen.add(client)
    out.push(`- ${client}: \`${JSON.stringify(runs[0]!.config)}\``)
  }
  return out
}

export function table(rows: Row[]): string {
  const lines = ['| client | records/s | MB/s | CPU µs/record | records/s range | CPU range | runs |', '|---|---:|---:|---:|---|---|---:|']
  for (const r of rows) {
    lines.push(
      `| ${r.client} | ${fmtRate(r.recordsPerSec)} | ${r.mbPerSec.toFixed(1)} | ${r.cpuUsPerRecord.toFixed(2)} | ${fmtRate(r.rateRange[0])}-${fmtRate(r.rateRange[1])} | ${r.cpuRange[0].toFixed(2)}-${r.cpuRange[1].toFixed(2)} | ${r.runs}${r.errors ? ` (${r.errors} failed records)` : ''} |`,
    )
  }
  return lines.join('\n')
}

export function versions(): Record<string, string> {
  const v = pkgVersion
  let librdkafka = '?'
  try {
    librdkafka = (requireBench('node-rdkafka') as Any).librdkafkaVersion
  } catch {
    // not built
  }
  return {
    node: process.version,
    kafkawire: `${(JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')) as { version: string }).version} (${kafkawireSource()})`,
    '@platformatic/kafka': v('@platformatic/kafka'),
    kafkajs: v('kafkajs'),
    'node-rdkafka': `${v('node-rdkafka')} (librdkafka ${librdkafka})`,
  }
}

/** Which kafkawire sources the drivers run: BENCH_KAFKAWIRE_SRC (a snapshot) or ../src, with the commit. */
function kafkawireSource(): string {
  const git = (args: string[]): string => {
    const r = spawnSync('git', args, { cwd: here, encoding: 'utf8' })
    return r.status === 0 ? r.stdout.trim() : '?'
  }
  const src = process.env.BENCH_KAFKAWIRE_SRC
  const head = git(['rev-parse', '--short', 'HEAD'])
  if (src) return `sources from ${src}; repository HEAD ${head}`
  const dirty = git(['status', '--porcelain', '--', '../src']) !== ''
  return `src/ at ${head}${dirty ? ' with uncommitted changes' : ''}`
}

export async function javaVersion(): Promise<string> {
  const r = await new Promise<string>((resolve) => {
    const c = spawn(process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java', ['-version'], { stdio: ['ignore', 'ignore', 'pipe'] })
    let s = ''
    c.stderr.on('data', (b: Buffer) => (s += b.toString()))
    c.on('close', () => resolve(s))
    c.on('error', () => resolve('java: not found'))
  })
  return r.split('\n')[0]!.trim()
}

export function machine(): string {
  const cpus = os.cpus()
  return `${cpus[0]?.model ?? '?'}, ${cpus.length} vCPUs, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}`
}

export const loadavg = (): string => os.loadavg().map((x) => x.toFixed(2)).join(' ')
