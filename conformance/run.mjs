#!/usr/bin/env node
// Conformance orchestrator, called by scripts/test.mjs (npm test). See conformance/README.md.
//
// KAFKA_BROKERS set: run the conformance tests once against that cluster, start nothing.
// Otherwise, for each target of KAFKAWIRE_TARGETS (default apache-4.3.1,apache-3.9.1): golden vectors,
// then a single-node cluster of that version on its own ports, the tests against it, and stop it
// whatever happened.
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { clusterStatus, fetchKafka, listClusters, resolveVersion, startCluster, stopCluster } from './broker/index.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const env = process.env
const portBase = Number(env.KAFKAWIRE_PORT_BASE || 19100)
const stepTimeoutMs = Number(env.KAFKAWIRE_STEP_TIMEOUT_S || 900) * 1000

function testFiles(dir) {
  const out = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (name === 'node_modules') continue
    if (statSync(p).isDirectory()) out.push(...testFiles(p))
    else if (name.endsWith('.test.ts')) out.push(relative(root, p))
  }
  return out.sort()
}

let child = null
let interrupted = null
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    // Let the child wind down and fall through to the cleanup below; a second signal is final.
    if (interrupted) process.exit(130)
    interrupted = sig
    console.error(`\nconformance: ${sig}, stopping`)
    child?.kill(sig)
  })
}

/** Runs node with args; resolves { ok, secs, why }. */
function step(title, args, stepEnv) {
  const started = Date.now()
  console.log(`\n--- ${title}`)
  return new Promise((resolve) => {
    child = spawn(process.execPath, args, { cwd: root, env: stepEnv, stdio: 'inherit' })
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGTERM')
      setTimeout(() => child?.kill('SIGKILL'), 10_000).unref()
    }, stepTimeoutMs)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      child = null
      const secs = (Date.now() - started) / 1000
      const why = timedOut ? `timed out after ${stepTimeoutMs / 1000} s` : code === 0 ? '' : `exit ${code ?? signal}`
      resolve({ ok: code === 0 && !timedOut, secs, why })
    })
  })
}

const fmt = (r) => `${r.ok ? 'ok' : `FAILED (${r.why})`} ${r.secs.toFixed(1)} s`

async function runTests(stepEnv) {
  const files = testFiles(join(root, 'conformance'))
  return step(`conformance tests (${files.length} files)`, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], stepEnv)
}

/** Stops every cluster this process owns, including 3-node clusters tests started and did not stop. */
async function stopOwned() {
  for (const name of listClusters()) {
    const status = clusterStatus(name)
    if (status?.owner === process.pid) {
      try {
        await stopCluster(name, { keepLogs: true })
        console.log(`conformance: stopped leftover cluster ${name}; its logs are in ${status.logsDir}`)
      } catch (e) {
        console.error(`conformance: cannot stop ${name}: ${e.message}`)
      }
    }
  }
}

function ownerAlive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function runTarget(target, index) {
  const m = /^apache-(.+)$/.exec(target)
  if (!m) return { target, ok: false, summary: `unknown target (known: apache-<version>)` }
  const version = resolveVersion(m[1])
  const base = portBase + index * 100
  const name = `conformance-${target}-${base}`
  const parts = []
  let ok = true
  const baseEnv = {
    ...env,
    KAFKAWIRE_TARGET: target,
    KAFKAWIRE_OWNER: String(process.pid),
    // a test's own 3-node cluster: nodes at base+50, +60, +70
    KAFKAWIRE_CLUSTER_3NODE: `conformance-${target}-3node-${base}`,
    KAFKAWIRE_BROKER_PORT_BASE_3NODE: String(base + 50),
  }

  const { libs } = await fetchKafka(version)
  const golden = join(root, 'conformance/golden/run.ts')
  if (existsSync(golden) && !interrupted) {
    const r = await step(`${target}: golden vectors`, ['--import', 'tsx', golden, '--kafka', version],
      { ...baseEnv, KAFKA_VERSION: version, KAFKAWIRE_KAFKA_LIBS: libs })
    parts.push(`golden ${fmt(r)}`)
    ok &&= r.ok
  }
  if (interrupted) return { target, ok: false, summary: `interrupted by ${interrupted}` }

  const existing = clusterStatus(name)
  if (existing) {
    if (existing.owner && existing.owner !== process.pid && ownerAlive(existing.owner)) {
      parts.push(`broker FAILED: cluster ${name} belongs to running process ${existing.owner} (another npm test?); set KAFKAWIRE_PORT_BASE to run side by side`)
      return { target, ok: false, summary: parts.join(', ') }
    }
    console.log(`conformance: removing stale cluster ${name}`) // its run died without cleaning up
    await stopCluster(name)
  }
  let cluster
  const t = Date.now()
  try {
    cluster = await startCluster({ kafka: version, nodes: 1, portBase: base, name, owner: process.pid })
    parts.push(`broker start ${((Date.now() - t) / 1000).toFixed(1)} s`)
  } catch (e) {
    console.error(e.message)
    parts.push('broker start FAILED')
    return { target, ok: false, summary: parts.join(', ') }
  }
  try {
    const r = await runTests({ ...baseEnv, ...cluster.env, KAFKAWIRE_MANAGED: '1' })
    parts.push(`tests ${fmt(r)}`)
    ok &&= r.ok
  } finally {
    try {
      await stopCluster(name, { keepLogs: !ok })
    } catch (e) {
      ok = false
      parts.push(`broker stop FAILED: ${e.message}`)
    }
    await stopOwned()
    if (!ok) parts.push(`broker logs kept in ${cluster.logsDir}`)
  }
  return { target, ok, summary: parts.join(', ') }
}

async function main() {
  const results = []
  if (env.KAFKA_BROKERS) {
    // An external cluster: the caller's environment describes it, nothing to start or stop.
    const r = await runTests({ ...env, KAFKAWIRE_OWNER: String(process.pid) })
    results.push({ target: `external ${env.KAFKA_BROKERS}`, ok: r.ok, summary: `tests ${fmt(r)}` })
  } else {
    const targets = (env.KAFKAWIRE_TARGETS || 'apache-4.3.1,apache-3.9.1').split(',').map((s) => s.trim()).filter(Boolean)
    for (const [i, target] of targets.entries()) {
      try {
        results.push(await runTarget(target, i))
      } catch (e) {
        results.push({ target, ok: false, summary: `FAILED: ${e.message}` })
      }
      if (interrupted) break
    }
  }
  await stopOwned()
  console.log('')
  for (const r of results) console.log(`conformance ${r.target}: ${r.ok ? 'ok' : 'FAILED'} (${r.summary})`)
  return results.length > 0 && results.every((r) => r.ok) && !interrupted ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  async (e) => {
    console.error(e.stack)
    await stopOwned()
    process.exit(1)
  },
)
