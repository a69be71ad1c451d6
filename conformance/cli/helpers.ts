/**
 * Helpers for the CLI conformance tests: they run the built executable
 * (`node dist/src/cli/main.js`) the way a user would, and check what it did
 * through the library.
 *
 * Build policy: `ensureBuilt()` (called in each file's `before` hook) runs the
 * `npm run build` compiler command when dist/src/cli/main.js is missing or
 * older than any file under src/. After `npm ci` (whose `prepare` builds) dist
 * is fresh and nothing is rebuilt; in a working tree with edits it is rebuilt
 * once. A build that fails fails the hook: the CLI is tested as shipped.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Cluster } from '../../src/client/cluster.js'
import { Admin, type ClientConfig } from '../../src/index.js'
import { fetch as fetchApi } from '../../src/protocol/messages/fetch.js'
import { decodeRecordBatches, type RecordBatch } from '../../src/protocol/records/index.js'
import { highWatermarks as sharedHighWatermarks } from '../support/high-watermarks.js'

export const root = fileURLToPath(new URL('../..', import.meta.url))
export const MAIN = join(root, 'dist/src/cli/main.js')
export const env = process.env

export function brokers(): string {
  assert.ok(env.KAFKA_BROKERS, 'KAFKA_BROKERS is not set')
  return env.KAFKA_BROKERS
}

function newest(dir: string): number {
  let t = 0
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    const st = statSync(p)
    t = Math.max(t, st.isDirectory() ? newest(p) : st.mtimeMs)
  }
  return t
}

export function ensureBuilt(): void {
  const built = existsSync(MAIN) ? statSync(MAIN).mtimeMs : 0
  if (built > newest(join(root, 'src'))) return
  // What `npm run build` runs, without depending on npm being on PATH.
  const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' })
  assert.equal(r.status, 0, `the build (tsc -p tsconfig.build.json) failed:\n${r.stdout}${r.stderr}`)
  assert.ok(existsSync(MAIN), `${MAIN} was not built`)
}

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs the CLI with `args`, feeding `input` on stdin; never rejects on a non-zero exit. */
export function cli(args: string[], o: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: root, env: o.env ?? env, stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const r = { code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }
      if (signal !== null) reject(new Error(`kafkawire ${args.join(' ')} was killed (${signal}); stderr: ${r.stderr}`))
      else resolve(r)
    })
    child.stdin.on('error', () => undefined) // the CLI may exit before reading everything (usage errors)
    child.stdin.end(o.input ?? '')
  })
}

/** Runs the CLI with --json against KAFKA_BROKERS, asserts exit 0, and parses stdout. */
export async function cliJson<T = any>(args: string[], o: { input?: string | Buffer } = {}): Promise<T> {
  const r = await cli(['--brokers', brokers(), '--json', ...args], o)
  assert.equal(r.code, 0, `kafkawire ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

/** Asserts a failure: the exit status, and exactly one line on stderr matching `pattern`, without a stack trace. */
export function assertOneLineError(r: CliResult, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, `expected exit ${code}, got ${r.code}; stderr: ${r.stderr}`)
  const lines = r.stderr.split('\n').filter((l) => l !== '')
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`)
  assert.match(lines[0]!, /^kafkawire: /)
  assert.match(lines[0]!, pattern)
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
}

/** kw-test-<what>-<random>: the prefix every conformance test gives what it creates, so cleanups find it. */
export function unique(what: string): string {
  return `kw-test-${what}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`
}

export async function withAdmin<T>(fn: (a: Admin) => Promise<T>, config: ClientConfig = { brokers: brokers() }): Promise<T> {
  const a = new Admin(config)
  try {
    return await fn(a)
  } finally {
    await a.close()
  }
}

/** Every record batch of a partition, fetched from its leader from offset 0 to the high watermark. */
export async function fetchBatches(topic: string, partition: number): Promise<RecordBatch[]> {
  const cluster = new Cluster({ brokers: brokers() })
  try {
    const [info] = await cluster.topicsMetadata([topic])
    const leader = info!.partitions[partition]!.leader
    const out: RecordBatch[] = []
    let offset = 0n
    for (;;) {
      const res = await cluster.send(leader, fetchApi, () => ({
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 16 * 1024 * 1024,
        isolationLevel: 0,
        topics: [{ topic, topicId: info!.topicId, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 16 * 1024 * 1024 }] }],
        forgottenTopicsData: [],
        rackId: '',
      }))
      const p = res.responses[0]!.partitions[0]!
      assert.equal(p.errorCode, 0, `Fetch ${topic}-${partition} error ${p.errorCode}`)
      if (offset >= p.highWatermark) return out
      const { batches } = await decodeRecordBatches(p.records ?? Buffer.alloc(0))
      const fresh = batches.filter((b) => b.lastOffset >= offset)
      assert.ok(fresh.length > 0, `no progress fetching ${topic}-${partition} at offset ${offset} (high watermark ${p.highWatermark})`)
      out.push(...fresh)
      offset = fresh[fresh.length - 1]!.lastOffset + 1n
    }
  } finally {
    await cluster.close()
  }
}

/** The high watermark of each partition 0..partitions-1 of the cluster under test (conformance/support/high-watermarks.ts). */
export function highWatermarks(topic: string, partitions: number): Promise<bigint[]> {
  return sharedHighWatermarks(brokers(), topic, partitions)
}
