/**
 * What the consumer's conformance tests share: the cluster from the environment, topics, a producer,
 * consumers that record when they processed which record (to check that no record is processed by two
 * members at once), and the reference Java client (KwJavaClient.java, compiled here with javac against
 * the kafka-clients jar of the broker's release).
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { cacheDir, fetchKafka, libsDir, type KafkaVersionSpec } from '../broker/index.mjs'
import type { Cluster } from '../../src/client/cluster.js'
import { Consumer, type ConsumerMessage, type ConsumerOptions } from '../../src/consumer/consumer.js'
import { Producer, type ProducerOptions } from '../../src/producer/index.js'
import { highWatermarks } from '../support/high-watermarks.js'
import { brokers, kafkaVersion } from '../support/kafka.js'

export { brokers, kafkaVersion }

/** The Java client's release: the broker's for Apache Kafka, 4.3.1 (a client that works anywhere) otherwise. */
export const javaVersion: KafkaVersionSpec = kafkaVersion === '3.9.1' ? '3.9.1' : '4.3.1'

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Polls `check` until it returns true (or a value), failing with `what` after `ms`. */
export async function until<T>(what: string, check: () => T | false | undefined | Promise<T | false | undefined>, ms = 30_000, every = 100): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await check()
    if (v !== false && v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`)
    await sleep(every)
  }
}

export function producer(o: Partial<ProducerOptions> = {}): Producer {
  return new Producer({ brokers, clientId: 'kafkawire-consumer-conformance', lingerMs: 2, ...o })
}

/** Writes `count` records "<prefix>-<i>" to each partition (explicit partitions). */
export async function fill(topic: string, partitions: number, count: number, prefix = 'v'): Promise<void> {
  const p = producer()
  try {
    for (let part = 0; part < partitions; part++) {
      await p.send({ topic, messages: Array.from({ length: count }, (_, i) => ({ value: `${prefix}-${part}-${i}`, partition: part })) })
    }
  } finally {
    await p.close()
  }
}

// ---- consumers that record their processing -------------------------------------------------------

export interface Processing {
  member: string
  partition: number
  offset: bigint
  value: string
  t0: number
  t1: number
}

/** Every record processed, by any member (ours or Java), with when. */
export class Journal {
  readonly entries: Processing[] = []
  readonly events: Array<{ member: string; type: 'assigned' | 'revoked' | 'lost'; partitions: number[]; at: number }> = []

  add(p: Processing): void {
    this.entries.push(p)
  }

  /** Processings of the same record by two members whose time intervals overlap. */
  overlaps(): string[] {
    const byRecord = new Map<string, Processing[]>()
    for (const e of this.entries) {
      const k = `${e.partition}@${e.offset}`
      const l = byRecord.get(k)
      if (l === undefined) byRecord.set(k, [e])
      else l.push(e)
    }
    const out: string[] = []
    for (const [k, l] of byRecord) {
      for (let i = 0; i < l.length; i++) {
        for (let j = i + 1; j < l.length; j++) {
          const a = l[i]!
          const b = l[j]!
          if (a.member !== b.member && a.t0 < b.t1 && b.t0 < a.t1) out.push(`${k}: ${a.member} [${a.t0}, ${a.t1}] and ${b.member} [${b.t0}, ${b.t1}]`)
        }
      }
    }
    return out
  }

  /** partition -> sorted distinct offsets processed. */
  offsets(): Map<number, bigint[]> {
    const m = new Map<number, Set<bigint>>()
    for (const e of this.entries) {
      const s = m.get(e.partition) ?? new Set<bigint>()
      s.add(e.offset)
      m.set(e.partition, s)
    }
    return new Map([...m].map(([p, s]) => [p, [...s].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))]))
  }

  /** Records processed more than once, as "p@o xN". */
  duplicates(): string[] {
    const n = new Map<string, number>()
    for (const e of this.entries) n.set(`${e.partition}@${e.offset}`, (n.get(`${e.partition}@${e.offset}`) ?? 0) + 1)
    return [...n].filter(([, c]) => c > 1).map(([k, c]) => `${k} x${c}`)
  }

  count(): number {
    return this.entries.length
  }
}

/** One of our consumers in a group, processing each record for `processMs` and journaling it. */
export class Member {
  readonly consumer: Consumer<Buffer | null, string>
  readonly assignments: number[][] = []
  run: Promise<void> | null = null
  #closed = false

  constructor(
    readonly name: string,
    readonly journal: Journal,
    readonly topic: string,
    options: Partial<ConsumerOptions<Buffer | null, string>>,
    readonly processMs = 2,
  ) {
    this.consumer = new Consumer<Buffer | null, string>({
      brokers,
      clientId: `kafkawire-${name}`,
      autoOffsetReset: 'earliest',
      deserializers: { value: 'string' },
      ...options,
    })
    const record = (type: 'assigned' | 'revoked' | 'lost') => (tps: Array<{ partition: number }>) => {
      const partitions = tps.map((x) => x.partition).sort((a, b) => a - b)
      if (type === 'assigned') this.assignments.push(partitions)
      journal.events.push({ member: name, type, partitions, at: Date.now() })
    }
    this.consumer.on('assigned', record('assigned'))
    this.consumer.on('revoked', record('revoked'))
    this.consumer.on('lost', record('lost'))
  }

  start(handler?: (m: ConsumerMessage<Buffer | null, string>) => Promise<void> | void): this {
    this.consumer.subscribe([this.topic])
    this.run = this.consumer.run({
      eachMessage: async ({ message }) => {
        const t0 = Date.now()
        if (handler) await handler(message)
        else if (this.processMs > 0) await sleep(this.processMs)
        this.journal.add({ member: this.name, partition: message.partition, offset: message.offset, value: message.value ?? '', t0, t1: Date.now() })
      },
    })
    return this
  }

  owned(): number[] {
    return this.consumer.assignment().map((tp) => tp.partition).sort((a, b) => a - b)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.consumer.close()
    await this.run
  }
}

/** Waits until the members' assignments cover `partitions` exactly once. */
export async function balanced(members: Array<{ owned(): number[] }>, partitions: number, ms = 30_000): Promise<void> {
  await until(
    `${members.length} member(s) owning ${partitions} partitions exactly once`,
    () => {
      const all = members.flatMap((m) => m.owned()).sort((a, b) => a - b)
      return all.length === partitions && all.every((p, i) => p === i) && members.every((m) => m.owned().length > 0)
    },
    ms,
  )
}

/** Offsets 0..end-1 of each partition were all processed (ends: the log end offsets). */
export function assertComplete(journal: Journal, ends: bigint[], what: string): void {
  const got = journal.offsets()
  ends.forEach((end, p) => {
    const offsets = got.get(p) ?? []
    const missing: bigint[] = []
    for (let o = 0n, i = 0; o < end; o++) {
      while (i < offsets.length && offsets[i]! < o) i++
      if (offsets[i] !== o) missing.push(o)
    }
    assert.deepEqual(missing.slice(0, 20), [], `${what}: partition ${p} has ${missing.length} offset(s) never processed (of ${end})`)
  })
}

/**
 * Log end offsets of a topic's partitions: the high watermarks of a Fetch that reads nothing
 * (conformance/support/high-watermarks.ts). Not ListOffsets latest: Tansu 0.6 answers it with the base
 * offset of the last batch + 1 ('list-offsets-latest' in conformance/support/target.ts).
 */
export async function endOffsets(cluster: Cluster, topic: string, partitions: number): Promise<bigint[]> {
  return highWatermarks(cluster, topic, partitions)
}

// ---- the Java client ----------------------------------------------------------------------------

const here = fileURLToPath(new URL('.', import.meta.url))
const SOURCE = join(here, 'KwJavaClient.java')

function javaBin(name: 'java' | 'javac'): string {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', name) : name
}

/** Compiles KwJavaClient.java for a release once (cached by source hash); returns the classpath. */
export async function javaClasspath(version: KafkaVersionSpec = javaVersion): Promise<string> {
  await fetchKafka(version, { log: () => undefined })
  const libs = libsDir(version)
  const hash = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 12)
  const dir = join(cacheDir(), 'consumer-java', `${version}-${hash}`)
  if (!existsSync(join(dir, 'KwJavaClient.class'))) {
    const tmp = `${dir}.tmp-${process.pid}`
    mkdirSync(tmp, { recursive: true })
    const r = spawnSync(javaBin('javac'), ['-encoding', 'UTF-8', '-Xlint:-options', '-cp', join(libs, '*'), '-d', tmp, SOURCE], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`javac KwJavaClient.java failed:\n${r.stdout}\n${r.stderr}`)
    rmSync(dir, { recursive: true, force: true })
    renameSync(tmp, dir)
  }
  return `${dir}:${join(libs, '*')}`
}

const JVM = ['-Xmx256m', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC']

/** Runs a KwJavaClient mode to completion; rejects on a non-zero exit. */
export async function runJava(args: string[], timeoutMs = 120_000): Promise<string> {
  const cp = await javaClasspath()
  return new Promise((resolve, reject) => {
    const child = spawn(javaBin('java'), [...JVM, '-cp', cp, 'KwJavaClient', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve(out)
      else reject(new Error(`KwJavaClient ${args[0]} exited with ${code ?? signal}:\n${out}\n${err.slice(-4000)}`))
    })
  })
}

/** A Java consumer group member (KwJavaClient consume) journaling what it processes. */
export class JavaMember {
  readonly assignments: number[][] = []
  #owned: number[] = []
  #child: ChildProcessWithoutNullStreams | null = null
  #exited: Promise<number | null> | null = null
  #stderr = ''
  closed = false

  constructor(
    readonly name: string,
    readonly journal: Journal,
    readonly topic: string,
    readonly groupId: string,
    readonly assignor: string,
  ) {}

  async start(): Promise<this> {
    const cp = await javaClasspath()
    const child = spawn(javaBin('java'), [...JVM, '-cp', cp, 'KwJavaClient', 'consume', brokers.join(','), this.topic, this.groupId, this.assignor])
    this.#child = child
    child.stderr.on('data', (d: Buffer) => (this.#stderr = (this.#stderr + d.toString()).slice(-8000)))
    this.#exited = new Promise((resolve) => child.on('close', (code) => resolve(code)))
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return
      const e = JSON.parse(line) as { e: string; p: number | number[]; o?: number; v?: string; t0?: number; t1?: number; at?: number }
      if (e.e === 'record') {
        this.journal.add({ member: this.name, partition: e.p as number, offset: BigInt(e.o!), value: e.v!, t0: e.t0!, t1: e.t1! })
      } else if (e.e === 'assigned' || e.e === 'revoked' || e.e === 'lost') {
        const ps = e.p as number[]
        if (e.e === 'assigned') {
          this.assignments.push(ps)
          this.#owned = [...new Set([...this.#owned, ...ps])].sort((a, b) => a - b)
        } else this.#owned = this.#owned.filter((p) => !ps.includes(p))
        this.journal.events.push({ member: this.name, type: e.e, partitions: ps, at: e.at! })
      } else if (e.e === 'closed') this.closed = true
    })
    return this
  }

  owned(): number[] {
    return this.#owned
  }

  /** Asks the Java member to close (commit and leave) and waits for it to exit. */
  async close(): Promise<void> {
    const child = this.#child
    if (child === null || this.#exited === null) return
    child.stdin.end('stop\n')
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    const code = await this.#exited
    clearTimeout(timer)
    this.#child = null
    assert.equal(code, 0, `the Java member ${this.name} exited with ${code}:\n${this.#stderr}`)
  }

  /** For after() hooks: gone whatever happens. */
  kill(): void {
    this.#child?.kill('SIGKILL')
  }
}
