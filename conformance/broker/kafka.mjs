// Apache Kafka assembled from Maven Central jars, and running its Java tools.
//
// Jars live outside the repo, in ${KAFKAWIRE_CACHE:-~/.cache/kafkawire}/kafka/<version>/libs,
// and are reused once present. pom.xml (beside this file) decides what goes in there.
import { spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

// Every supported release with the library versions its own distribution ships,
// so the classpath matches what a Kafka tarball would run.
export const VERSIONS = {
  '4.3.1': { line: 4, scala: '2.13.18', log4j2: '2.25.4' },
  '3.9.1': { line: 3, scala: '2.13.15' },
}
const ALIASES = { '4': '4.3.1', '4.3': '4.3.1', '3': '3.9.1', '3.9': '3.9.1' }

export class BrokerError extends Error {}

/** '4', '3.9', '4.3.1', 'apache-4.3.1' -> a key of VERSIONS. */
export function resolveVersion(v = '4') {
  const s = String(v).replace(/^apache-/, '')
  const version = VERSIONS[s] ? s : ALIASES[s]
  if (!version) throw new BrokerError(`unknown Kafka version "${v}" (known: ${Object.keys(VERSIONS).join(', ')}, or 4, 3.9)`)
  return version
}

export function cacheDir() {
  return process.env.KAFKAWIRE_CACHE || join(homedir(), '.cache', 'kafkawire')
}

export function libsDir(version) {
  return join(cacheDir(), 'kafka', resolveVersion(version), 'libs')
}

export function javaBin() {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java'
}

/** JVM flags that point the logging backend of this Kafka line at our config. */
export function loggingArgs(version, role) {
  const { line } = VERSIONS[resolveVersion(version)]
  if (line >= 4) return [`-Dlog4j2.configurationFile=${join(here, 'logging', `${role}-log4j2.xml`)}`]
  return [`-Dlog4j.configuration=file:${join(here, 'logging', `${role}-log4j.properties`)}`]
}

/** Runs a command, collecting output. Resolves with the exit status; rejects only if it cannot start. */
export function exec(cmd, args, { input, timeoutMs = 0, env, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: env ? { ...process.env, ...env } : process.env, cwd, stdio: ['pipe', 'pipe', 'pipe'] })
    const out = []
    const err = []
    let timedOut = false
    const timer = timeoutMs > 0 ? setTimeout(() => { timedOut = true; child.kill('SIGKILL') }, timeoutMs) : null
    child.stdout.on('data', (b) => out.push(b))
    child.stderr.on('data', (b) => err.push(b))
    child.on('error', (e) => {
      if (timer) clearTimeout(timer)
      reject(new BrokerError(`cannot run ${cmd}: ${e.message}`))
    })
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer)
      resolve({ code, signal, timedOut, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() })
    })
    // A tool that exits before reading its stdin must not crash us with EPIPE.
    child.stdin.on('error', () => {})
    if (input && typeof input.pipe === 'function') input.pipe(child.stdin)
    else child.stdin.end(input ?? '')
  })
}

const SLF4J_BINDINGS = /^(log4j-slf4j2?-impl|slf4j-reload4j|slf4j-log4j12|slf4j-simple|slf4j-nop|slf4j-jdk14|logback-classic)-\d/

/** Throws unless the jar set has one SLF4J 1.x API and exactly one binding; without that Kafka logs nothing. */
function checkLogging(version, dir) {
  const jars = readdirSync(dir)
  const apis = jars.filter((j) => /^slf4j-api-\d/.test(j))
  const bindings = jars.filter((j) => SLF4J_BINDINGS.test(j))
  if (apis.length !== 1 || !/^slf4j-api-1\./.test(apis[0])) {
    throw new BrokerError(`Kafka ${version}: expected one slf4j-api 1.x jar, found ${apis.join(', ') || 'none'}`)
  }
  if (bindings.length !== 1) {
    throw new BrokerError(`Kafka ${version}: expected one SLF4J binding, found ${bindings.join(', ') || 'none'}`)
  }
  return jars
}

const fetching = new Map()

/**
 * Makes sure the jars of `version` are in the cache; downloads them with Maven when absent.
 * Resolves with { version, libs, jars, downloaded, seconds }.
 */
export function fetchKafka(version = '4', { log = defaultLog } = {}) {
  const v = resolveVersion(version)
  if (!fetching.has(v)) {
    const p = assemble(v, log)
    fetching.set(v, p)
    p.catch(() => fetching.delete(v))
  }
  return fetching.get(v)
}

async function assemble(version, log) {
  const started = Date.now()
  const libs = libsDir(version)
  if (existsSync(libs)) {
    return { version, libs, jars: checkLogging(version, libs).length, downloaded: false, seconds: 0 }
  }
  const { line, scala, log4j2 } = VERSIONS[version]
  const home = dirname(libs)
  mkdirSync(home, { recursive: true })
  // Maven writes target/ next to the POM; keep that in the cache, not in the repo.
  const pom = join(home, 'pom.xml')
  copyFileSync(join(here, 'pom.xml'), pom)
  // Copy into a private folder and rename at the end, so a half-done download is never mistaken for a cache hit.
  const partial = `${libs}.partial-${process.pid}`
  rmSync(partial, { recursive: true, force: true })
  log(`broker: assembling Kafka ${version} from Maven Central into ${libs}`)
  const args = ['-B', '-q', '-ntp', '-f', pom, `-Dkafka.version=${version}`, `-Dkafka.line=${line}`,
    `-Dscala.version=${scala}`, `-Dlibs.dir=${partial}`, 'dependency:copy-dependencies']
  if (log4j2) args.splice(-1, 0, `-Dlog4j2.version=${log4j2}`)
  const r = await exec('mvn', args, { cwd: home, timeoutMs: 600_000 })
  if (r.code !== 0) {
    rmSync(partial, { recursive: true, force: true })
    const output = (r.stdout + r.stderr).trim().split('\n').slice(-30).join('\n')
    throw new BrokerError(`Kafka ${version}: mvn dependency:copy-dependencies failed (exit ${r.code ?? r.signal})\n${output}`)
  }
  let jars
  try {
    jars = checkLogging(version, partial)
  } catch (e) {
    rmSync(partial, { recursive: true, force: true })
    throw e
  }
  try {
    renameSync(partial, libs)
  } catch (e) {
    // Another process finished the same download first; its copy is as good as ours.
    rmSync(partial, { recursive: true, force: true })
    if (!existsSync(libs)) throw e
  }
  const seconds = (Date.now() - started) / 1000
  const mb = jars.reduce((n, j) => n + statSync(join(libs, j)).size, 0) / 1e6
  log(`broker: Kafka ${version}: ${jars.length} jars, ${mb.toFixed(0)} MB in ${seconds.toFixed(1)} s`)
  return { version, libs, jars: jars.length, downloaded: true, seconds }
}

// Perf tools need the full JIT; the admin tools only need to start fast.
const PERF_TOOL = /(Performance|EndToEndLatency)$/
const QUICK_JVM = ['-Xmx256m', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC']
const PERF_JVM = ['-Xms256m', '-Xmx512m']

/**
 * Runs a Kafka Java tool class (e.g. org.apache.kafka.tools.ProducerPerformance, kafka.admin.ConfigCommand)
 * on the classpath of `version`. Resolves with { code, signal, timedOut, stdout, stderr } whatever the exit status.
 */
export async function runKafkaTool(version, mainClass, args = [], opts = {}) {
  const v = resolveVersion(version)
  const { libs } = await fetchKafka(v, opts)
  const jvm = opts.jvmArgs ?? (PERF_TOOL.test(mainClass) ? PERF_JVM : QUICK_JVM)
  return exec(javaBin(), [...jvm, ...loggingArgs(v, 'tools'), '-cp', join(libs, '*'), mainClass, ...args], {
    input: opts.input,
    timeoutMs: opts.timeoutMs ?? 300_000,
    env: opts.env,
    cwd: opts.cwd,
  })
}

export function defaultLog(line) {
  process.stderr.write(`${line}\n`)
}
