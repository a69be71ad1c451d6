/**
 * The reference serializer: Golden.java + Batches.java compiled against the
 * kafka-clients jar of one Kafka release and run as one long-lived JVM.
 *
 * Everything downloaded or compiled lives outside the repository, in
 * `${KAFKAWIRE_CACHE:-~/.cache/kafkawire}/golden/<version>/`:
 *   pom.xml    written here; Maven copies its dependency closure into libs/
 *   libs/      kafka-clients, jackson, slf4j-api, zstd-jni, lz4-java, snappy-java
 *   src/       the Java sources as compiled (see `sources` for the 3.x rewrite)
 *   classes/   javac output, rebuilt whenever the sources or the version change
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse, stringify, type Json, type JsonInput } from './json.js'

const here = dirname(fileURLToPath(import.meta.url))
const JAVA_SOURCES = ['Golden.java', 'Batches.java']

/**
 * jackson-databind is compileOnly in kafka-clients, so its POM does not bring
 * it; use the version each release's own broker ships (its kafka_2.13 POM).
 */
const JACKSON: Record<string, string> = { '3.9.1': '2.16.2', '4.3.1': '2.21.2' }

export function cacheDir(version: string): string {
  const root = process.env.KAFKAWIRE_CACHE ?? join(homedir(), '.cache', 'kafkawire')
  return join(root, 'golden', version)
}

function pom(version: string): string {
  const jackson = JACKSON[version]
  if (jackson === undefined) throw new Error(`no pinned jackson version for Kafka ${version}; pinned: ${Object.keys(JACKSON).join(', ')}`)
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by kafkawire conformance/golden/reference.ts. Resolves the classpath of the
     golden-vector reference: kafka-clients ${version} (its POM brings slf4j-api, zstd-jni,
     lz4-java and snappy-java) plus jackson-databind for the generated JsonConverters. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.kafkawire.conformance</groupId>
  <artifactId>golden-reference</artifactId>
  <version>${version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-clients</artifactId><version>${version}</version></dependency>
    <dependency><groupId>com.fasterxml.jackson.core</groupId><artifactId>jackson-databind</artifactId><version>${jackson}</version></dependency>
  </dependencies>
</project>
`
}

function sha(...parts: string[]): string {
  const h = createHash('sha256')
  for (const p of parts) h.update(p).update('\0')
  return h.digest('hex')
}

function run(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' })
  if (r.error) throw new Error(`${cmd} could not start: ${r.error.message}`)
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`)
}

/** Downloads the jars (once per POM content) and returns the libs folder. */
function resolveJars(dir: string, version: string, log: (s: string) => void): string {
  const text = pom(version)
  const libs = join(dir, 'libs')
  const stamp = join(libs, '.pom-sha256')
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === sha(text)) return libs
  log(`golden[${version}]: resolving kafka-clients ${version} from Maven Central into ${libs}`)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'pom.xml'), text)
  rmSync(libs, { recursive: true, force: true })
  run('mvn', ['-q', '-B', '-f', join(dir, 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${libs}`], dir)
  writeFileSync(stamp, sha(text))
  return libs
}

/**
 * The Java sources for this jar. Batches.java imports the record classes from
 * org.apache.kafka.common.record.internal, where Kafka 4.3 moved them; for an
 * older jar (no such package) those imports are rewritten to the old package.
 */
function sources(libs: string): Map<string, string> {
  const jar = readdirSync(libs).find((f) => /^kafka-clients-.*\.jar$/.test(f))
  if (jar === undefined) throw new Error(`no kafka-clients jar in ${libs}`)
  // A jar's central directory stores entry names uncompressed.
  const internal = readFileSync(join(libs, jar)).includes('org/apache/kafka/common/record/internal/MemoryRecords.class')
  const out = new Map<string, string>()
  for (const name of JAVA_SOURCES) {
    let src = readFileSync(join(here, name), 'utf8')
    if (!internal) src = src.replaceAll('org.apache.kafka.common.record.internal.', 'org.apache.kafka.common.record.')
    out.set(name, src)
  }
  return out
}

/** Compiles the sources unless classes/ was built from exactly these. */
function compile(dir: string, libs: string, version: string, log: (s: string) => void): string {
  const src = sources(libs)
  const classes = join(dir, 'classes')
  const stamp = join(classes, '.sources-sha256')
  const digest = sha(version, ...[...src].flat())
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) return classes
  log(`golden[${version}]: compiling ${JAVA_SOURCES.join(', ')} against kafka-clients ${version}`)
  const srcDir = join(dir, 'src')
  rmSync(srcDir, { recursive: true, force: true })
  rmSync(classes, { recursive: true, force: true })
  mkdirSync(srcDir, { recursive: true })
  mkdirSync(classes, { recursive: true })
  for (const [name, text] of src) writeFileSync(join(srcDir, name), text)
  run('javac', ['-encoding', 'UTF-8', '-Xlint:-options', '-cp', join(libs, '*'), '-d', classes, ...JAVA_SOURCES.map((n) => join(srcDir, n))], dir)
  writeFileSync(stamp, digest)
  return classes
}

/** A running reference JVM. `call` sends a batch of ops and resolves with their results, in order. */
export class Reference {
  private readonly proc: ChildProcessWithoutNullStreams
  private readonly pending: Array<{ id: number; resolve: (r: Json[]) => void; reject: (e: Error) => void }> = []
  private nextId = 1
  private buffered = ''
  private stderr = ''
  private dead: Error | null = null

  private constructor(
    readonly version: string,
    classpath: string,
  ) {
    // SerialGC: a single-threaded collector suits a 2-core machine shared with Node.
    this.proc = spawn('java', ['-XX:+UseSerialGC', '-cp', classpath, 'Golden'], { stdio: ['pipe', 'pipe', 'pipe'] })
    this.proc.stdout.setEncoding('utf8')
    this.proc.stdout.on('data', (chunk: string) => this.onData(chunk))
    this.proc.stderr.setEncoding('utf8')
    this.proc.stderr.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-20000)
    })
    this.proc.on('error', (e) => this.fail(e))
    this.proc.on('exit', (code, signal) => this.fail(new Error(`reference JVM exited (code ${code}, signal ${signal})\n${this.stderr}`)))
    this.proc.stdin.on('error', (e) => this.fail(e))
  }

  static start(version: string, log: (s: string) => void): Reference {
    const dir = cacheDir(version)
    const libs = resolveJars(dir, version, log)
    const classes = compile(dir, libs, version, log)
    return new Reference(version, [classes, join(libs, '*')].join(delimiter))
  }

  call(ops: JsonInput[]): Promise<Json[]> {
    if (this.dead) return Promise.reject(this.dead)
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.push({ id, resolve, reject })
      this.proc.stdin.write(stringify({ id: BigInt(id), ops }) + '\n')
    })
  }

  async one(op: JsonInput): Promise<Json> {
    return (await this.call([op]))[0]!
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.dead ??= new Error('reference closed')
      if (this.proc.exitCode !== null) return resolve()
      this.proc.once('exit', () => resolve())
      this.proc.stdin.end()
    })
  }

  private onData(chunk: string): void {
    this.buffered += chunk
    let nl: number
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl)
      this.buffered = this.buffered.slice(nl + 1)
      const next = this.pending.shift()
      if (next === undefined) return this.fail(new Error(`unexpected output from the reference: ${line.slice(0, 200)}`))
      const reply = parse(line) as { id: bigint; results: Json[] }
      if (Number(reply.id) !== next.id) return this.fail(new Error(`reference answered ${reply.id}, expected ${next.id}`))
      next.resolve(reply.results)
    }
  }

  private fail(e: Error): void {
    if (this.dead === null) this.dead = e
    for (const p of this.pending.splice(0)) p.reject(e)
  }
}
