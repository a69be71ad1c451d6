// Kafka implementations other than Apache Kafka, for broker-agnostic conformance runs:
//
//   kfake  franz-go's fake cluster (github.com/twmb/franz-go/pkg/kfake), through the Go launcher in
//          conformance/kfake, built on first use into <cache>/kfake/<hash of its sources>/kfake-launcher.
//          Port base P: brokers at P, P+1, P+2 (PLAINTEXT; --nodes 1 keeps only P) and, unless disabled,
//          one-broker kfake clusters beside it (kfake enables SASL and TLS per cluster): SASL_PLAINTEXT at P+5,
//          SSL at P+6, SASL_SSL at P+7, with a CA and certificate the launcher made (<cache>/kfake-tls).
//   tansu  the Rust broker (crate `tansu`, 0.6.x, built with --features dynostore) with in-memory storage,
//          one node, PLAINTEXT at P. Never built implicitly (that takes ~11 minutes): `fetch --impl tansu`,
//          or point KAFKAWIRE_TANSU at a binary.
//
// Each cluster is one or two processes; cluster.mjs keeps their state like that of Apache clusters.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BrokerError, cacheDir, exec } from './kafka.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const KFAKE_SRC = join(here, '..', 'kfake')
const KFAKE_FILES = ['go.mod', 'go.sum', 'main.go']
export const IMPLS = ['apache', 'kfake', 'tansu']
export const TANSU_CRATE = { name: 'tansu', version: '0.6.0', features: 'dynostore' }
const GO_MIN = [1, 26]

/** 'apache' | 'kfake' | 'tansu'; undefined means apache. */
export function resolveImpl(impl = 'apache') {
  const s = String(impl).toLowerCase()
  if (!IMPLS.includes(s)) throw new BrokerError(`unknown implementation "${impl}" (known: ${IMPLS.join(', ')})`)
  return s
}

// ---------- kfake ----------

/** The pinned kfake module version, from the launcher's go.mod. */
export function kfakeVersion() {
  const m = /github\.com\/twmb\/franz-go\/pkg\/kfake (\S+)/.exec(readFileSync(join(KFAKE_SRC, 'go.mod'), 'utf8'))
  return m ? m[1] : 'unknown'
}

export function kfakeBinary() {
  const h = createHash('sha256')
  for (const f of KFAKE_FILES) h.update(`${f}\0`).update(readFileSync(join(KFAKE_SRC, f))).update('\0')
  return join(cacheDir(), 'kfake', h.digest('hex').slice(0, 16), 'kfake-launcher')
}

const building = new Map()

/** Builds the kfake launcher unless the cache has this version of it. Resolves { binary, built, seconds }. */
export function ensureKfake({ log }) {
  const binary = kfakeBinary()
  if (existsSync(binary)) return Promise.resolve({ binary, built: false, seconds: 0 })
  if (!building.has(binary)) {
    const p = buildKfake(binary, log)
    building.set(binary, p)
    p.catch(() => building.delete(binary))
  }
  return building.get(binary)
}

async function buildKfake(binary, log) {
  const started = Date.now()
  let version
  try {
    version = await exec('go', ['env', 'GOVERSION'])
  } catch {
    throw new BrokerError(`kfake: go not found on PATH (needs Go >= ${GO_MIN.join('.')} to build ${KFAKE_SRC})`)
  }
  const v = /go(\d+)\.(\d+)/.exec(version.stdout)
  if (!v || Number(v[1]) < GO_MIN[0] || (Number(v[1]) === GO_MIN[0] && Number(v[2]) < GO_MIN[1])) {
    throw new BrokerError(`kfake: needs Go >= ${GO_MIN.join('.')}, found ${version.stdout.trim() || 'an unknown version'}`)
  }
  mkdirSync(dirname(binary), { recursive: true })
  const partial = `${binary}.partial-${process.pid}`
  log(`broker: building the kfake launcher (${kfakeVersion()}) into ${binary}`)
  // -trimpath and no VCS stamp: the binary depends on the three source files only.
  const r = await exec('go', ['build', '-trimpath', '-buildvcs=false', '-o', partial, '.'], { cwd: KFAKE_SRC, timeoutMs: 900_000 })
  if (r.code !== 0) {
    rmSync(partial, { force: true })
    throw new BrokerError(`kfake: go build failed (exit ${r.code ?? r.signal})\n${(r.stdout + r.stderr).trim().split('\n').slice(-20).join('\n')}`)
  }
  renameSync(partial, binary) // atomic: a concurrent build of the same sources wrote the same bytes
  const seconds = (Date.now() - started) / 1000
  log(`broker: kfake launcher built in ${seconds.toFixed(1)} s`)
  return { binary, built: true, seconds }
}

/**
 * The processes of a kfake cluster: the main cluster and, unless `secure` is false, the one-broker clusters
 * for the SASL_PLAINTEXT, SSL and SASL_SSL listeners (`tlsDir` from ensureKfakeTls()).
 */
export function kfakeMembers(nodes, portBase, secure = true, tlsDir = null) {
  const ports = Array.from({ length: nodes }, (_, i) => portBase + i)
  const out = [{ id: 1, role: 'main', ports, port: ports[0], args: ['-ports', ports.join(','), '-partitions', '1'] }]
  if (secure) {
    const one = (id, role, port, ...args) => ({ id, role, ports: [port], port, args: ['-ports', String(port), ...args] })
    out.push(one(2, 'sasl', portBase + 5, '-sasl'))
    if (tlsDir) out.push(one(3, 'ssl', portBase + 6, '-tls', tlsDir), one(4, 'sasl-ssl', portBase + 7, '-sasl', '-tls', tlsDir))
  }
  for (const m of out) m.marker = m.ports.join(',') // how /proc/<pid>/cmdline tells our process from a reused pid
  return out
}

/** The CA and broker certificate of kfake's TLS listeners, made by the launcher once per cache. */
export async function ensureKfakeTls(binary) {
  const dir = join(cacheDir(), 'kfake-tls')
  if (['ca.pem', 'cert.pem', 'key.pem'].every((f) => existsSync(join(dir, f)))) return dir
  const partial = `${dir}.partial-${process.pid}`
  rmSync(partial, { recursive: true, force: true })
  const r = await exec(binary, ['-gen-tls', partial])
  if (r.code !== 0) throw new BrokerError(`kfake: cannot make TLS material: ${(r.stdout + r.stderr).trim()}`)
  try {
    renameSync(partial, dir)
  } catch (e) {
    rmSync(partial, { recursive: true, force: true }) // another process made it first
    if (!existsSync(join(dir, 'ca.pem'))) throw e
  }
  return dir
}

// ---------- tansu ----------

export function tansuRoot() {
  return join(cacheDir(), 'tansu')
}

/** Where the Tansu binary is expected: $KAFKAWIRE_TANSU, else <cache>/tansu/bin/tansu. */
export function tansuBinary() {
  return process.env.KAFKAWIRE_TANSU || join(tansuRoot(), 'bin', 'tansu')
}

export function tansuBuildCommand() {
  return `cargo install ${TANSU_CRATE.name} --version ${TANSU_CRATE.version} --features ${TANSU_CRATE.features} --locked --root ${tansuRoot()}`
}

/** Null when the Tansu binary is present, else why not (one line). */
export function tansuMissing() {
  const b = tansuBinary()
  if (existsSync(b)) return null
  return `no Tansu build at ${b} (build it once, ~11 min: npm run broker -- fetch --impl tansu)`
}

export async function tansuVersion() {
  const r = await exec(tansuBinary(), ['--version'])
  return /(\d+\.\d+\.\d+)/.exec(r.stdout)?.[1] ?? 'unknown'
}

/** Builds Tansu with cargo into the cache (minutes). Resolves { binary, built, seconds }. */
export async function buildTansu({ log }) {
  const binary = tansuBinary()
  if (existsSync(binary)) return { binary, built: false, seconds: 0 }
  const started = Date.now()
  log(`broker: building Tansu ${TANSU_CRATE.version} (about 11 minutes on two cores): ${tansuBuildCommand()}`)
  const [cmd, ...args] = tansuBuildCommand().split(' ')
  const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] })
  const code = await new Promise((resolve) => {
    child.on('error', (e) => resolve(e.code === 'ENOENT' ? 'cargo not found on PATH (https://rustup.rs)' : e.message))
    child.on('close', (c, s) => resolve(c ?? s))
  })
  if (code !== 0 || !existsSync(binary)) throw new BrokerError(`tansu: cargo install failed (${code})`)
  const seconds = (Date.now() - started) / 1000
  log(`broker: Tansu built in ${(seconds / 60).toFixed(1)} min`)
  return { binary, built: true, seconds }
}

export function tansuMembers(portBase) {
  const url = `tcp://127.0.0.1:${portBase}`
  return [{
    id: 1,
    role: 'main',
    ports: [portBase],
    port: portBase,
    marker: url,
    args: ['broker', '--listener-url', url, '--advertised-listener-url', url, '--storage-engine', 'memory://tansu/'],
  }]
}
