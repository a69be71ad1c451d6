// KRaft clusters of real Apache Kafka on 127.0.0.1: format, start, wait, kill, restart, stop; and clusters of
// other Kafka implementations (kfake, Tansu: impls.mjs), kept in the same state files so that stop, status and
// env work alike for every implementation.
//
// Port scheme (P = port base, default 9092):
//   one node:    P PLAINTEXT, P+1 CONTROLLER, P+2 SASL_PLAINTEXT, P+3 SSL, P+4 SASL_SSL
//   three nodes: node N at P+(N-1)*10 PLAINTEXT and P+(N-1)*10+1 CONTROLLER (PLAINTEXT only)
//
// Each cluster has a name and a state dir ${KAFKAWIRE_STATE_DIR:-<cache>/clusters}/<name> holding
// state.json, the rendered server properties and the data dirs. Broker logs go to a temp folder.
import { spawn, execFileSync } from 'node:child_process'
import {
  closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, renameSync,
  rmSync, statSync, writeFileSync,
} from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  BrokerError, VERSIONS, cacheDir, defaultLog, exec, fetchKafka, javaBin, loggingArgs, resolveVersion, runKafkaTool,
} from './kafka.mjs'
import { answersApiVersions, brokerIds } from './probe.mjs'
import {
  ensureKfake, ensureKfakeTls, kfakeMembers, kfakeVersion, resolveImpl, tansuBinary, tansuMembers, tansuMissing, tansuVersion,
} from './impls.mjs'

export const HOST = '127.0.0.1'
export const DEFAULT_NAME = 'default'
export const DEFAULT_PORT_BASE = 9092
export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']
export const USERS = { alice: 'alice-secret', admin: 'admin-secret' } // PLAIN; SCRAM has alice only
const TLS_PASSWORD = 'kafkawire' // protects throwaway test keys only
const REAUTH_MS = 15_000 // short, so KIP-368 re-authentication happens within a test run
const BROKER_JVM = [
  '-Xms512m', '-Xmx1g', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:InitiatingHeapOccupancyPercent=35',
  '-XX:+ExplicitGCInvokesConcurrent', '-Djava.awt.headless=true',
]
const SIGNALS = ['KILL', 'STOP', 'CONT', 'TERM']

export function stateRoot() {
  return process.env.KAFKAWIRE_STATE_DIR || join(cacheDir(), 'clusters')
}

/** A cluster's state folder, emptied, and a new temp folder for its logs. */
function freshDirs(name) {
  const stateDir = clusterDir(name)
  rmSync(stateDir, { recursive: true, force: true })
  mkdirSync(stateDir, { recursive: true })
  return { stateDir, logsDir: mkdtempSync(join(tmpdir(), `kafkawire-${name}-`)) }
}

function clusterDir(name) {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new BrokerError(`invalid cluster name "${name}"`)
  return join(stateRoot(), name)
}

// ---------- processes ----------

/** 'running' | 'paused' (SIGSTOP) | 'down'. Zombies count as down: they no longer serve anything. */
function processState(pid, config) {
  if (!pid) return 'down'
  if (!existsSync('/proc/self')) return signalable(pid) ? 'running' : 'down' // no procfs (macOS): best effort
  try {
    // The pid must still be our broker: after a crash the number can be reused by anything.
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(config)) return 'down'
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const s = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return s === 'Z' || s === 'X' ? 'down' : s === 'T' ? 'paused' : 'running'
  } catch {
    return 'down'
  }
}

function signalable(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const alive = (m) => processState(m.pid, m.config) !== 'down'

function signal(m, sig) {
  try {
    process.kill(m.pid, sig)
  } catch {
    // already gone
  }
}

async function waitDown(members, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  while (members.some(alive)) {
    if (Date.now() > deadline) return false
    await sleep(100)
  }
  return true
}

/** SIGTERM everything at once (a lone last KRaft voter hangs in controlled shutdown), SIGKILL stragglers. */
async function terminate(members, timeoutMs = 30_000) {
  const live = members.filter(alive)
  for (const m of live) {
    signal(m, 'SIGCONT') // a paused JVM would sit on the SIGTERM
    signal(m, 'SIGTERM')
  }
  if (await waitDown(live, timeoutMs)) return
  for (const m of live) signal(m, 'SIGKILL')
  if (!(await waitDown(live, 10_000))) {
    throw new BrokerError(`pids ${live.filter(alive).map((m) => m.pid).join(', ')} survive SIGKILL`)
  }
}

// ---------- ports ----------

function portOwner(port) {
  try {
    const out = execFileSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    const pid = /pid=(\d+)/.exec(out)
    return pid ? ` by pid ${pid[1]}` : ''
  } catch {
    return ''
  }
}

function checkPortFree(port) {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', (e) => {
      if (e.code === 'EADDRINUSE') reject(new BrokerError(`broker: port ${port} in use${portOwner(port)}`))
      else reject(new BrokerError(`broker: cannot bind ${HOST}:${port}: ${e.message}`))
    })
    server.listen(port, HOST, () => server.close(() => resolve()))
  })
}

// ---------- state ----------

function readState(name) {
  const file = join(clusterDir(name), 'state.json')
  if (!existsSync(file)) return null
  return JSON.parse(readFileSync(file, 'utf8'))
}

function writeState(state) {
  const file = join(state.stateDir, 'state.json')
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`)
  renameSync(`${file}.tmp`, file)
}

export function listClusters() {
  if (!existsSync(stateRoot())) return []
  return readdirSync(stateRoot()).filter((n) => existsSync(join(stateRoot(), n, 'state.json'))).sort()
}

function settingsOf({ impl = 'apache', kafka, nodes, portBase, features, configs }) {
  return JSON.stringify({ impl, kafka, nodes, portBase, features, configs })
}

function describeSettings(s) {
  const extra = [...s.features.map((f) => `--feature ${f}`), ...s.configs.map((c) => `--config ${c}`)]
  const what = (s.impl ?? 'apache') === 'apache' ? `Kafka ${s.kafka}` : `${s.impl} ${s.implVersion ?? ''}`.trim()
  return [what, `${s.nodes} node${s.nodes > 1 ? 's' : ''}`, `port base ${s.portBase}`, ...extra].join(', ')
}

// ---------- configuration ----------

function members(nodes, portBase) {
  if (nodes === 1) {
    return [{ id: 1, port: portBase, controller: portBase + 1, sasl: portBase + 2, ssl: portBase + 3, saslSsl: portBase + 4 }]
  }
  return Array.from({ length: nodes }, (_, i) => ({ id: i + 1, port: portBase + i * 10, controller: portBase + i * 10 + 1 }))
}

function serverProperties(version, node, all, dataDir, tls, configs) {
  const { line } = VERSIONS[version]
  const single = all.length === 1
  const rf = single ? 1 : 3
  const minIsr = single ? 1 : 2
  const p = new Map()
  const set = (k, v) => p.set(k, String(v))

  set('process.roles', 'broker,controller')
  set('node.id', node.id)
  // Static voters: identical on 3.9 and 4.x, and no directory ids to hand around for three nodes.
  set('controller.quorum.voters', all.map((m) => `${m.id}@${HOST}:${m.controller}`).join(','))
  set('controller.listener.names', 'CONTROLLER')
  const listeners = [['PLAINTEXT', node.port], ['CONTROLLER', node.controller]]
  if (single) listeners.push(['SASL_PLAINTEXT', node.sasl], ['SSL', node.ssl], ['SASL_SSL', node.saslSsl])
  set('listeners', listeners.map(([l, port]) => `${l}://${HOST}:${port}`).join(','))
  set('advertised.listeners', listeners.filter(([l]) => l !== 'CONTROLLER').map(([l, port]) => `${l}://${HOST}:${port}`).join(','))
  set('listener.security.protocol.map', listeners.map(([l]) => `${l}:${l === 'CONTROLLER' ? 'PLAINTEXT' : l}`).join(','))
  // Inter-broker traffic stays unauthenticated, so the SASL listeners need no broker-side credentials.
  set('inter.broker.listener.name', 'PLAINTEXT')
  set('log.dirs', dataDir)

  if (single) {
    set('sasl.enabled.mechanisms', SASL_MECHANISMS.join(','))
    const plainUsers = Object.entries(USERS).map(([u, pw]) => `user_${u}="${pw}"`).join(' ')
    for (const l of ['sasl_plaintext', 'sasl_ssl']) {
      // The broker only reads JAAS settings prefixed with listener and mechanism.
      set(`listener.name.${l}.plain.sasl.jaas.config`, `org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`)
      set(`listener.name.${l}.scram-sha-256.sasl.jaas.config`, 'org.apache.kafka.common.security.scram.ScramLoginModule required;')
      set(`listener.name.${l}.scram-sha-512.sasl.jaas.config`, 'org.apache.kafka.common.security.scram.ScramLoginModule required;')
      set(`listener.name.${l}.connections.max.reauth.ms`, REAUTH_MS)
    }
    set('ssl.keystore.type', 'PKCS12')
    set('ssl.keystore.location', tls.keystore)
    set('ssl.keystore.password', TLS_PASSWORD)
    set('ssl.key.password', TLS_PASSWORD)
    set('ssl.client.auth', 'none')
  }

  // two cores: Kafka's defaults assume a server
  set('num.network.threads', 2)
  set('num.io.threads', single ? 4 : 2)
  set('background.threads', single ? 4 : 2)
  set('num.recovery.threads.per.data.dir', 1)
  set('num.replica.fetchers', 1)
  set('log.cleaner.threads', 1)
  set('log.cleaner.dedupe.buffer.size', 16 * 1024 * 1024)

  set('auto.create.topics.enable', true)
  set('num.partitions', single ? 1 : 3)
  set('default.replication.factor', rf)
  set('min.insync.replicas', minIsr)
  set('offsets.topic.replication.factor', rf)
  set('offsets.topic.num.partitions', 4)
  set('transaction.state.log.replication.factor', rf)
  set('transaction.state.log.min.isr', minIsr)
  set('transaction.state.log.num.partitions', 4)
  if (line >= 4) {
    set('share.coordinator.state.topic.replication.factor', rf)
    set('share.coordinator.state.topic.min.isr', minIsr)
  }

  // groups: no join delay, short sessions allowed; KIP-848 knobs must keep min <= value <= max
  set('group.initial.rebalance.delay.ms', 0)
  set('group.min.session.timeout.ms', 1000)
  set('group.consumer.min.session.timeout.ms', 3000)
  set('group.consumer.session.timeout.ms', 10_000)
  set('group.consumer.min.heartbeat.interval.ms', 500)
  set('group.consumer.heartbeat.interval.ms', 1000)

  // transactions and idempotence: expiry observable within a test
  set('transactional.id.expiration.ms', 60_000)
  set('transaction.remove.expired.transaction.cleanup.interval.ms', 5000)
  set('transaction.abort.timed.out.transaction.cleanup.interval.ms', 1000)
  set('producer.id.expiration.ms', 60_000)
  set('producer.id.expiration.check.interval.ms', 5000)

  if (!single) {
    // a SIGKILLed node is fenced after ~4 s instead of 9 s
    set('broker.heartbeat.interval.ms', 1000)
    set('broker.session.timeout.ms', 4000)
    set('unclean.leader.election.enable', false)
    set('leader.imbalance.check.interval.seconds', 10)
  }

  // --config k=v replaces a default; --config k= removes it
  for (const c of configs) {
    const [k, v] = splitPair(c, '--config')
    if (v === '') p.delete(k)
    else p.set(k, v)
  }
  const escape = (s) => s.replace(/\\/g, '\\\\')
  return `# generated by conformance/broker for node ${node.id}\n${[...p].map(([k, v]) => `${k}=${escape(v)}`).join('\n')}\n`
}

function splitPair(s, flag) {
  const i = s.indexOf('=')
  if (i <= 0) throw new BrokerError(`${flag} expects key=value, got "${s}"`)
  return [s.slice(0, i), s.slice(i + 1)]
}

// ---------- TLS ----------

/**
 * A CA plus a broker key pair it signed (SAN DNS:localhost, IP:127.0.0.1), generated with keytool once per
 * cache and shared by every cluster: ~4 s of keytool runs is too much to pay on each start.
 */
async function ensureTls(log) {
  const dir = join(cacheDir(), 'tls')
  const files = { ca: join(dir, 'ca.pem'), keystore: join(dir, 'broker.p12'), truststore: join(dir, 'truststore.p12') }
  const complete = () => Object.values(files).every((f) => existsSync(f))
  if (complete()) return files
  log('broker: generating a test CA and broker certificate with keytool')
  mkdirSync(cacheDir(), { recursive: true })
  const work = mkdtempSync(join(cacheDir(), 'tls.partial-'))
  const pw = ['-storepass', TLS_PASSWORD, '-keypass', TLS_PASSWORD]
  const keytool = async (...args) => {
    const r = await exec('keytool', [...args, '-noprompt'], { cwd: work })
    if (r.code !== 0) throw new BrokerError(`keytool ${args[0]} failed: ${(r.stdout + r.stderr).trim()}`)
  }
  const genkey = (alias, store, dname, ...ext) => keytool('-genkeypair', '-alias', alias, '-dname', dname, '-keyalg', 'RSA',
    '-keysize', '2048', '-validity', '3650', '-storetype', 'PKCS12', '-keystore', store, ...pw, ...ext)
  try {
    await Promise.all([
      genkey('ca', 'ca.p12', 'CN=kafkawire test CA', '-ext', 'bc:c', '-ext', 'KU=keyCertSign,cRLSign'),
      genkey('broker', 'broker.p12', 'CN=localhost'),
    ])
    await Promise.all([
      keytool('-exportcert', '-rfc', '-alias', 'ca', '-keystore', 'ca.p12', ...pw, '-file', 'ca.pem'),
      keytool('-certreq', '-alias', 'broker', '-keystore', 'broker.p12', ...pw, '-file', 'broker.csr'),
    ])
    await keytool('-gencert', '-rfc', '-alias', 'ca', '-keystore', 'ca.p12', ...pw, '-infile', 'broker.csr',
      '-outfile', 'broker.pem', '-validity', '3650', '-ext', 'SAN=DNS:localhost,IP:127.0.0.1',
      '-ext', 'KU=digitalSignature,keyEncipherment', '-ext', 'EKU=serverAuth')
    await Promise.all([
      keytool('-importcert', '-alias', 'ca', '-file', 'ca.pem', '-keystore', 'broker.p12', ...pw),
      keytool('-importcert', '-alias', 'ca', '-file', 'ca.pem', '-keystore', 'truststore.p12', '-storetype', 'PKCS12', ...pw),
    ])
    // replaces the self-signed entry with the chain broker <- CA
    await keytool('-importcert', '-alias', 'broker', '-file', 'broker.pem', '-keystore', 'broker.p12', ...pw)
    // Another process may have finished first; clusters may already use its material, so keep that.
    if (!complete()) {
      rmSync(dir, { recursive: true, force: true })
      renameSync(work, dir)
    }
  } catch (e) {
    if (!complete()) throw e
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  return files
}

// ---------- logs and failures ----------

function tail(file, lines = 40) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

function failure(message, state, member) {
  const parts = [`broker: ${message}`, `  logs: ${state.logsDir}`]
  if (member) parts.push(`  last lines of ${member.log}:`, tail(member.log).replace(/^/gm, '    '))
  return new BrokerError(parts.join('\n'))
}

function logSize(file) {
  try {
    return statSync(file).size
  } catch {
    return 0
  }
}

function logContains(file, text, from) {
  const size = logSize(file)
  if (size <= from) return false
  const fd = openSync(file, 'r')
  try {
    const buf = Buffer.alloc(size - from)
    readSync(fd, buf, 0, buf.length, from)
    return buf.includes(text)
  } finally {
    closeSync(fd)
  }
}

// ---------- launching ----------

function launch(state, m) {
  const { libs } = state
  const fd = openSync(m.log, 'a')
  try {
    const child = spawn(
      javaBin(),
      [...BROKER_JVM, ...loggingArgs(state.kafka, 'broker'), '-cp', join(libs, '*'), 'kafka.Kafka', m.config],
      // own session: a Ctrl-C in the terminal must not take the brokers down behind the orchestrator's back
      { detached: true, stdio: ['ignore', fd, fd] },
    )
    child.on('error', () => {}) // reported below through the missing pid
    child.unref()
    if (!child.pid) throw failure(`cannot start ${javaBin()} for node ${m.id}`, state)
    m.pid = child.pid
  } finally {
    closeSync(fd)
  }
}

/** Waits for "Kafka Server started" after `from` in the log, then for a Metadata answer satisfying `ready`. */
async function waitServing(state, m, from, ready, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  let started = false
  let last = ''
  for (;;) {
    if (!alive(m)) throw failure(`node ${m.id} (pid ${m.pid}) exited during startup`, state, m)
    if (!started) started = logContains(m.log, 'Kafka Server started', from)
    if (started) {
      try {
        const ids = await brokerIds(HOST, m.port)
        if (ready(ids)) return
        last = `; it sees brokers [${ids.join(', ')}]`
      } catch (e) {
        last = `; ${e.message}`
      }
    }
    if (Date.now() > deadline) {
      throw failure(`node ${m.id} not serving after ${timeoutMs / 1000} s${started ? '' : ' (no "Kafka Server started")'}${last}`, state, m)
    }
    await sleep(200)
  }
}

// ---------- public API ----------

function envOf(state) {
  const ms = state.members
  if ((state.impl ?? 'apache') !== 'apache') return otherEnvOf(state)
  const env = {
    KAFKA_BROKERS: ms.map((m) => `${HOST}:${m.port}`).join(','),
    KAFKA_VERSION: state.kafka,
    KAFKA_IMPL: 'apache',
    KAFKAWIRE_CLUSTER: state.name,
  }
  if (ms.length === 1) {
    Object.assign(env, {
      KAFKA_SASL_BROKERS: `${HOST}:${ms[0].sasl}`,
      KAFKA_SSL_BROKERS: `${HOST}:${ms[0].ssl}`,
      KAFKA_SASL_SSL_BROKERS: `${HOST}:${ms[0].saslSsl}`,
      KAFKA_CA: state.tls.ca,
      KAFKA_TRUSTSTORE: state.tls.truststore,
      KAFKA_TRUSTSTORE_PASSWORD: TLS_PASSWORD,
      KAFKA_SASL_USERNAME: 'alice',
      KAFKA_SASL_PASSWORD: USERS.alice,
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_MECHANISMS: SASL_MECHANISMS.join(','),
    })
  }
  return env
}

function describe(state) {
  const env = envOf(state)
  const impl = state.impl ?? 'apache'
  // kfake serves every broker from one process (node ids from 0); the SASL cluster beside it is no node of this one.
  const nodes = impl === 'kfake'
    ? state.members[0].ports.map((port, i) => ({ id: i, host: HOST, port, pid: state.members[0].pid, state: processState(state.members[0].pid, state.members[0].config) }))
    : state.members.map((m) => ({ id: m.id, host: HOST, port: m.port, pid: m.pid, state: processState(m.pid, m.config) }))
  return {
    ...env,
    env,
    name: state.name,
    impl,
    implVersion: state.implVersion ?? state.kafka,
    kafka: state.kafka ?? null,
    nodes,
    logsDir: state.logsDir,
    stateDir: state.stateDir,
  }
}

function normalize(opts) {
  const impl = resolveImpl(opts.impl)
  const nodes = Number(opts.nodes ?? (impl === 'kfake' ? 3 : 1))
  if (nodes !== 1 && nodes !== 3) throw new BrokerError(`--nodes must be 1 or 3, got ${opts.nodes}`)
  if (impl === 'tansu' && nodes !== 1) throw new BrokerError('tansu: one node only (its in-memory storage is per process)')
  const portBase = Number(opts.portBase ?? DEFAULT_PORT_BASE)
  if (!Number.isInteger(portBase) || portBase < 1024 || portBase > 65500) throw new BrokerError(`invalid port base ${opts.portBase}`)
  const features = [...(opts.features ?? [])]
  const configs = [...(opts.configs ?? [])]
  for (const f of features) splitPair(f, '--feature')
  for (const c of configs) splitPair(c, '--config')
  if (impl !== 'apache') {
    if (opts.kafka !== undefined) throw new BrokerError(`--kafka is for --impl apache, not ${impl}`)
    if (features.length || configs.length) throw new BrokerError(`--feature and --config are for --impl apache, not ${impl}`)
    return { name: opts.name ?? DEFAULT_NAME, impl, nodes, portBase, features, configs }
  }
  return { name: opts.name ?? DEFAULT_NAME, impl, kafka: resolveVersion(opts.kafka ?? '4'), nodes, portBase, features, configs }
}

/**
 * Starts a cluster and resolves once every node serves requests. Idempotent: a cluster already running
 * with the same settings is returned as is; different settings are an error.
 */
export async function startCluster(opts = {}) {
  const log = opts.log ?? defaultLog
  const s = normalize(opts)
  const started = Date.now()
  const existing = readState(s.name)
  if (existing) {
    const live = existing.members.filter(alive)
    if (live.length === existing.members.length && settingsOf(existing) === settingsOf(s)) return describe(existing)
    if (live.length > 0) {
      const why = settingsOf(existing) === settingsOf(s)
        ? `is partly down (node ${existing.members.filter((m) => !alive(m)).map((m) => m.id).join(', ')})`
        : `is running with different settings (${describeSettings(existing)})`
      throw new BrokerError(`broker: cluster ${s.name} ${why}; stop it first: npm run broker -- stop --name ${s.name}`)
    }
    await removeCluster(existing, false) // leftover of a crash or reboot
  }
  if (s.impl !== 'apache') return startOther(s, opts, log, started)

  const { libs } = await fetchKafka(s.kafka, { log })
  const layout = members(s.nodes, s.portBase)
  for (const m of layout) {
    for (const port of [m.port, m.controller, m.sasl, m.ssl, m.saslSsl].filter(Boolean)) await checkPortFree(port)
  }
  const tls = s.nodes === 1 ? await ensureTls(log) : null

  const { stateDir, logsDir } = freshDirs(s.name)
  const state = {
    ...s,
    libs,
    stateDir,
    logsDir,
    tls,
    // Kafka's Uuid is 16 random bytes in base64url; a leading '-' would read as a CLI flag.
    clusterId: randomBytes(16).toString('base64url').replace(/^-/, 'A'),
    owner: opts.owner ?? (process.env.KAFKAWIRE_OWNER ? Number(process.env.KAFKAWIRE_OWNER) : null),
    createdAt: new Date().toISOString(),
    members: layout.map((m) => ({
      ...m,
      pid: null,
      config: join(stateDir, `node-${m.id}.properties`),
      data: join(stateDir, `data-${m.id}`),
      log: join(logsDir, `node-${m.id}.log`),
    })),
  }
  writeState(state)

  try {
    await Promise.all(state.members.map(async (m) => {
      writeFileSync(m.config, serverProperties(s.kafka, m, state.members, m.data, tls, s.configs))
      const args = ['format', '-t', state.clusterId, '-c', m.config, ...s.features.flatMap((f) => ['-f', f])]
      // SCRAM credentials live in the metadata log; writing them at format time needs no running broker.
      if (tls) for (const mech of ['SCRAM-SHA-256', 'SCRAM-SHA-512']) args.push('-S', `${mech}=[name=alice,password=${USERS.alice}]`)
      const r = await runKafkaTool(s.kafka, 'kafka.tools.StorageTool', args, { log })
      writeFileSync(m.log, `${r.stdout}${r.stderr}`)
      if (r.code !== 0) throw failure(`formatting node ${m.id} failed (exit ${r.code ?? r.signal})`, state, m)
    }))
    for (const m of state.members) launch(state, m)
    writeState(state)
    const all = state.members.map((m) => m.id)
    await Promise.all(state.members.map((m) => waitServing(state, m, 0, (ids) => all.every((id) => ids.includes(id)), s.nodes === 1 ? 90_000 : 180_000)))
  } catch (e) {
    await terminate(state.members, 5000)
    rmSync(stateDir, { recursive: true, force: true })
    throw e
  }
  const secs = ((Date.now() - started) / 1000).toFixed(1)
  log(`broker: cluster ${s.name} ready in ${secs} s (${describeSettings(s)}); logs in ${logsDir}`)
  return describe(state)
}

async function removeCluster(state, keepLogs) {
  await terminate(state.members)
  rmSync(state.stateDir, { recursive: true, force: true })
  if (!keepLogs) rmSync(state.logsDir, { recursive: true, force: true })
}

/** Stops every node (data is removed). Resolves false when there was no such cluster. */
export async function stopCluster(name = DEFAULT_NAME, { keepLogs = false } = {}) {
  const state = readState(name)
  if (!state) return false
  await removeCluster(state, keepLogs)
  return true
}

export function clusterStatus(name = DEFAULT_NAME) {
  const state = readState(name)
  if (!state) return null
  const d = describe(state)
  const up = d.nodes.filter((n) => n.state !== 'down').length
  return { ...d, state: up === d.nodes.length ? 'running' : up === 0 ? 'down' : 'degraded', owner: state.owner, settings: JSON.parse(settingsOf(state)) }
}

function memberOf(state, name, id) {
  if (!state) throw new BrokerError(`broker: no cluster named ${name}`)
  const m = state.members.find((x) => x.id === Number(id))
  if (!m) throw new BrokerError(`broker: cluster ${name} has no node ${id} (nodes: ${state.members.map((x) => x.id).join(', ')})`)
  return m
}

function apacheOnly(state, name, what) {
  if (state && (state.impl ?? 'apache') !== 'apache') {
    throw new BrokerError(`broker: ${what} needs an Apache Kafka cluster; ${name} is ${state.impl}${state.impl === 'kfake' ? ' (one process serves every broker)' : ' (in-memory storage: a restart loses everything)'}`)
  }
}

/** Sends KILL, STOP, CONT or TERM to one node; KILL and TERM wait until the process is gone. */
export async function killNode(name, id, sig = 'KILL') {
  const s = String(sig).toUpperCase().replace(/^SIG/, '')
  if (!SIGNALS.includes(s)) throw new BrokerError(`broker: signal must be one of ${SIGNALS.join(', ')}, got ${sig}`)
  const state = readState(name)
  apacheOnly(state, name, 'killing one node')
  const m = memberOf(state, name, id)
  if (!alive(m)) throw new BrokerError(`broker: node ${m.id} of ${name} is not running`)
  if (s === 'TERM') signal(m, 'SIGCONT')
  signal(m, `SIG${s}`)
  if ((s === 'KILL' || s === 'TERM') && !(await waitDown([m], s === 'KILL' ? 10_000 : 60_000))) {
    throw new BrokerError(`broker: node ${m.id} (pid ${m.pid}) still running after SIG${s}`)
  }
  return describe(state)
}

/** Starts one node again (stopping it first if it still runs) and waits until it serves. Data is kept. */
export async function restartNode(name, id, { log = defaultLog } = {}) {
  const state = readState(name)
  apacheOnly(state, name, 'restarting one node')
  const m = memberOf(state, name, id)
  const started = Date.now()
  await terminate([m])
  const from = logSize(m.log)
  launch(state, m)
  writeState(state)
  await waitServing(state, m, from, (ids) => ids.includes(m.id), 180_000)
  log(`broker: node ${m.id} of ${name} serving again after ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return describe(state)
}

/** Java client properties for the cluster's secure listeners (for runKafkaTool's --command-config and friends). */
export function javaClientProperties(cluster, { protocol = 'PLAINTEXT', mechanism = 'PLAIN', username = 'alice', password = USERS.alice } = {}) {
  const lines = [`security.protocol=${protocol}`]
  if (protocol.startsWith('SASL_')) {
    const module = mechanism === 'PLAIN' ? 'org.apache.kafka.common.security.plain.PlainLoginModule' : 'org.apache.kafka.common.security.scram.ScramLoginModule'
    lines.push(`sasl.mechanism=${mechanism}`, `sasl.jaas.config=${module} required username="${username}" password="${password}";`)
  }
  if (protocol.endsWith('SSL')) {
    lines.push('ssl.truststore.type=PKCS12', `ssl.truststore.location=${cluster.KAFKA_TRUSTSTORE}`, `ssl.truststore.password=${cluster.KAFKA_TRUSTSTORE_PASSWORD}`)
  }
  return `${lines.join('\n')}\n`
}

// ---------- other implementations (impls.mjs) ----------

function otherEnvOf(state) {
  const [main] = state.members
  const role = (r) => state.members.find((m) => m.role === r)
  const list = (m) => m.ports.map((p) => `${HOST}:${p}`).join(',')
  const sasl = role('sasl')
  const env = {
    KAFKA_BROKERS: main.ports.map((p) => `${HOST}:${p}`).join(','),
    KAFKA_IMPL: state.impl,
    KAFKA_IMPL_VERSION: state.implVersion,
    KAFKAWIRE_CLUSTER: state.name,
  }
  if (role('ssl')) {
    // kfake enables TLS for a whole cluster too: like the SASL listener, another cluster.
    Object.assign(env, { KAFKA_SSL_BROKERS: list(role('ssl')), KAFKA_SASL_SSL_BROKERS: list(role('sasl-ssl')), KAFKA_CA: join(state.tlsDir, 'ca.pem') })
  }
  if (sasl) {
    Object.assign(env, {
      KAFKA_SASL_BROKERS: list(sasl),
      // kfake enables SASL for a whole cluster: the SASL listener is a second cluster, which does not share
      // topics, groups or credentials with KAFKA_BROKERS.
      KAFKA_SASL_CLUSTER: 'separate',
      KAFKA_SASL_USERNAME: 'alice',
      KAFKA_SASL_PASSWORD: USERS.alice,
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_MECHANISMS: SASL_MECHANISMS.join(','),
    })
  }
  return env
}

function launchOther(state, m) {
  const fd = openSync(m.log, 'a')
  try {
    const child = spawn(state.binary, m.args, { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, NO_COLOR: '1' } })
    child.on('error', () => {})
    child.unref()
    if (!child.pid) throw failure(`cannot start ${state.binary}`, state)
    m.pid = child.pid
  } finally {
    closeSync(fd)
  }
}

/** Waits for the readiness line in the log, then for a Metadata answer on every port of the member. */
async function waitOther(state, m, readyLine, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  let last = ''
  let logged = false
  for (;;) {
    if (!alive(m)) throw failure(`${state.impl} (pid ${m.pid}) exited during startup`, state, m)
    logged ||= logContains(m.log, readyLine, 0)
    if (logged) {
      try {
        for (const port of m.ports) {
          if (m.role === 'sasl') {
            // Metadata needs authentication there
            if (!(await answersApiVersions(HOST, port))) throw new Error(`${port} answers ApiVersions with an error`)
            continue
          }
          if (m.role.endsWith('ssl')) continue // the launcher connected before it printed "ready"
          const ids = await brokerIds(HOST, port)
          if (ids.length === 0) throw new Error(`${port} lists no brokers`)
        }
        return
      } catch (e) {
        last = `; ${e.message}`
      }
    }
    if (Date.now() > deadline) throw failure(`${state.impl} not serving after ${timeoutMs / 1000} s${logged ? '' : ` (no "${readyLine}")`}${last}`, state, m)
    await sleep(100)
  }
}

async function startOther(s, opts, log, started) {
  let binary
  let implVersion
  let layout
  let readyLine
  let tlsDir = null
  if (s.impl === 'kfake') {
    binary = (await ensureKfake({ log })).binary
    implVersion = kfakeVersion()
    if (opts.sasl !== false) tlsDir = await ensureKfakeTls(binary)
    layout = kfakeMembers(s.nodes, s.portBase, opts.sasl !== false, tlsDir)
    readyLine = 'ready '
  } else {
    const why = tansuMissing()
    if (why) throw new BrokerError(`broker: ${why}`)
    binary = tansuBinary()
    implVersion = await tansuVersion()
    layout = tansuMembers(s.portBase)
    readyLine = 'ready in'
  }
  for (const m of layout) for (const port of m.ports) await checkPortFree(port)
  const { stateDir, logsDir } = freshDirs(s.name)
  const state = {
    ...s,
    implVersion,
    binary,
    tlsDir,
    stateDir,
    logsDir,
    owner: opts.owner ?? (process.env.KAFKAWIRE_OWNER ? Number(process.env.KAFKAWIRE_OWNER) : null),
    createdAt: new Date().toISOString(),
    members: layout.map((m) => ({ ...m, pid: null, config: m.marker, log: join(logsDir, `${s.impl}-${m.role}.log`) })),
  }
  writeState(state)
  try {
    for (const m of state.members) launchOther(state, m)
    writeState(state)
    await Promise.all(state.members.map((m) => waitOther(state, m, readyLine, 60_000)))
  } catch (e) {
    await terminate(state.members, 5000)
    rmSync(stateDir, { recursive: true, force: true })
    throw e
  }
  log(`broker: cluster ${s.name} ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${describeSettings(state)}); logs in ${logsDir}`)
  return describe(state)
}
