#!/usr/bin/env node
// Conformance orchestrator, called by scripts/test.mjs (npm test). See conformance/README.md.
//
//   node conformance/run.mjs [FILTER...]     FILTER: run only test files whose path contains one of them
//
// KAFKA_BROKERS set: run the conformance tests once against that cluster, start nothing, and remove every
// topic, group and transaction of this run afterwards (conformance/support/cleanup.ts).
// Otherwise, for each target of KAFKAWIRE_TARGETS (default apache-4.3.1,kfake,apache-3.9.1,tansu; two at a
// time, KAFKAWIRE_PARALLEL): golden vectors (Apache targets), then a cluster of that implementation on its own
// ports, the tests against it, and stop it whatever happened. Tansu runs when its cached build is present;
// otherwise one line says why not.
//
// Every target ends with one line:
//   conformance[kfake]: 212 passed, 0 failed, 9 unsupported (KIP-890 transactions V2, ...)
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  clusterStatus, fetchKafka, listClusters, resolveVersion, startCluster, stopCluster, tansuMissing,
} from './broker/index.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const env = process.env
const portBase = Number(env.KAFKAWIRE_PORT_BASE || 19100)
const stepTimeoutMs = Number(env.KAFKAWIRE_STEP_TIMEOUT_S || 900) * 1000
const DEFAULT_TARGETS = 'apache-4.3.1,kfake,apache-3.9.1,tansu' // a light target beside each Apache one
const filters = process.argv.slice(2)
// Set by scripts/test.mjs when it runs a subset again on another Node: named in each summary line.
const runNote = env.KAFKAWIRE_RUN_NOTE ? ` on ${env.KAFKAWIRE_RUN_NOTE}` : ''
const reporter = join(root, 'conformance/support/reporter.mjs')
const work = mkdtempSync(join(tmpdir(), 'kafkawire-conformance-'))

function testFiles(dir) {
  const out = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (name === 'node_modules') continue
    if (statSync(p).isDirectory()) out.push(...testFiles(p))
    else if (name.endsWith('.test.ts')) out.push(relative(root, p))
  }
  return out.sort().filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
}

const children = new Set()
let interrupted = null
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    // Let the children wind down and fall through to the cleanup below; a second signal is final.
    if (interrupted) process.exit(130)
    interrupted = sig
    console.error(`\nconformance: ${sig}, stopping`)
    for (const c of children) c.kill(sig)
  })
}

/**
 * Where a target's output goes: straight to stdout when targets run one at a time, else into a buffer
 * printed in one piece when the target is done (so parallel targets do not interleave their logs).
 */
function output(buffered) {
  const chunks = []
  const write = (text) => (buffered ? chunks.push(text) : process.stdout.write(text))
  return { buffered, chunks, log: (line = '') => write(`${line}\n`), write, flush: () => process.stdout.write(chunks.splice(0).join('')) }
}
const direct = output(false)

/** Runs node with args; resolves { ok, secs, why }. */
function step(out, title, args, stepEnv) {
  const started = Date.now()
  out.log(`\n--- ${title}`)
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, env: stepEnv, stdio: out.buffered ? ['ignore', 'pipe', 'pipe'] : 'inherit' })
    children.add(child)
    if (out.buffered) {
      child.stdout.on('data', (b) => out.write(b.toString()))
      child.stderr.on('data', (b) => out.write(b.toString()))
    }
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGTERM')
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref()
    }, stepTimeoutMs)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      children.delete(child)
      const secs = (Date.now() - started) / 1000
      const why = timedOut ? `timed out after ${stepTimeoutMs / 1000} s` : code === 0 ? '' : `exit ${code ?? signal}`
      resolve({ ok: code === 0 && !timedOut, secs, why })
    })
  })
}

const fmt = (r) => `${r.ok ? 'ok' : `FAILED (${r.why})`} ${r.secs.toFixed(1)} s`

/** The test files under node:test, counted by conformance/support/reporter.mjs. Resolves { ok, secs, why, report }. */
async function runTests(out, label, stepEnv, files = testFiles(join(root, 'conformance'))) {
  const json = join(work, `${label.replace(/[^\w.-]/g, '_')}.json`)
  rmSync(json, { force: true })
  const r = await step(out, `${label}: conformance tests (${files.length} file${files.length === 1 ? '' : 's'})`, [
    '--import', 'tsx', '--test', '--test-concurrency=1',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    `--test-reporter=${reporter}`, `--test-reporter-destination=${json}`,
    ...files,
  ], stepEnv)
  let report = null
  try {
    report = JSON.parse(readFileSync(json, 'utf8'))
  } catch {
    // no report: the run was killed or crashed before the reporter finished
  }
  return { ...r, report }
}

/** conformance[<label>]: N passed, N failed, N unsupported (features...)[, N skipped (reasons...)] */
function summaryLine(label, r, extra = []) {
  if (!r.report) return `conformance[${label}${runNote}]: FAILED, no test report (${r.why || 'the test runner wrote none'})${extra.map((e) => `; ${e}`).join('')}`
  const { passed, failed, unsupported, skipped, todo } = r.report
  const distinct = (xs) => [...new Set(xs)]
  const parts = [`${passed} passed`, `${failed} failed`, `${unsupported.length} unsupported`]
  let line = `conformance[${label}${runNote}]: ${parts.join(', ')}`
  if (unsupported.length) line += ` (${distinct(unsupported.map((u) => u.feature)).join(', ')})`
  if (skipped.length) line += `, ${skipped.length} skipped (${distinct(skipped.map((s) => s.reason)).join('; ')})`
  if (todo) line += `, ${todo} todo`
  // node:test failed without a failing test in the report (e.g. a file that crashed at import): say so
  if (!r.ok && failed === 0) line += `; test run FAILED (${r.why})`
  return line + extra.map((e) => `; ${e}`).join('')
}

/** What the summary line abbreviates: every unsupported and skipped test, and every failure. */
function details(out, label, r) {
  if (!r.report) return
  const { unsupported, skipped, failures } = r.report
  if (unsupported.length) {
    out.log(`\nconformance[${label}] unsupported:`)
    for (const u of unsupported) out.log(`  ${u.file}: ${u.suite ? 'suite ' : ''}"${u.test}": ${u.feature}${u.why ? ` — ${u.why}` : ''}`)
  }
  if (skipped.length) {
    out.log(`\nconformance[${label}] skipped (not a missing feature: check these):`)
    for (const s of skipped) out.log(`  ${s.file}: "${s.test}": ${s.reason}`)
  }
  if (failures.length) {
    out.log(`\nconformance[${label}] failed:`)
    for (const f of failures) out.log(`  ${f.file}: "${f.test}": ${f.error}`)
  }
}

/**
 * Stops every cluster this process owns (whose name starts with `prefix`: one target's), including 3-node
 * clusters tests started and did not stop.
 */
async function stopOwned(prefix = '', out = direct) {
  for (const name of listClusters()) {
    const status = clusterStatus(name)
    if (status?.owner === process.pid && name.startsWith(prefix)) {
      try {
        await stopCluster(name, { keepLogs: true })
        out.log(`conformance: stopped leftover cluster ${name}; its logs are in ${status.logsDir}`)
      } catch (e) {
        out.log(`conformance: cannot stop ${name}: ${e.message}`)
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

/** { impl, version } of a target name: apache-<version>, kfake, tansu. */
function parseTarget(target) {
  const m = /^apache-(.+)$/.exec(target)
  if (m) return { impl: 'apache', version: resolveVersion(m[1]) }
  if (target === 'kfake' || target === 'tansu') return { impl: target, version: null }
  throw new Error(`unknown target "${target}" (known: apache-<version>, kfake, tansu)`)
}

// Variables describing a cluster: a managed run sets them from the cluster it started, never inherits them.
const CLUSTER_VARS = /^(KAFKA_|KAFKAWIRE_CLUSTER$|KAFKAWIRE_MANAGED$)/

async function runTarget(target, index, out) {
  const { impl, version } = parseTarget(target)
  if (impl === 'tansu') {
    const why = tansuMissing()
    if (why) return { target, ok: true, line: `conformance[tansu]: not run: ${why}`, summary: 'not run' }
  }
  const base = portBase + index * 100
  const name = `conformance-${target}-${base}`
  const parts = []
  const extra = []
  let ok = true
  const baseEnv = Object.fromEntries(Object.entries(env).filter(([k]) => !CLUSTER_VARS.test(k)))
  Object.assign(baseEnv, {
    KAFKAWIRE_TARGET: target,
    KAFKAWIRE_OWNER: String(process.pid),
    // a test's own 3-node (Apache) cluster: nodes at base+50, +60, +70
    KAFKAWIRE_CLUSTER_3NODE: `conformance-${target}-3node-${base}`,
    KAFKAWIRE_BROKER_PORT_BASE_3NODE: String(base + 50),
  })

  if (impl === 'apache') {
    const { libs } = await fetchKafka(version)
    const golden = join(root, 'conformance/golden/run.ts')
    if (existsSync(golden) && !interrupted && filters.length === 0) {
      const r = await step(out, `${target}: golden vectors`, ['--import', 'tsx', golden, '--kafka', version],
        { ...baseEnv, KAFKA_VERSION: version, KAFKAWIRE_KAFKA_LIBS: libs })
      parts.push(`golden ${fmt(r)}`)
      extra.push(`golden vectors ${r.ok ? 'ok' : 'FAILED'}`)
      ok &&= r.ok
    }
  }
  if (interrupted) return { target, ok: false, summary: `interrupted by ${interrupted}` }

  const existing = clusterStatus(name)
  if (existing) {
    if (existing.owner && existing.owner !== process.pid && ownerAlive(existing.owner)) {
      parts.push(`broker FAILED: cluster ${name} belongs to running process ${existing.owner} (another npm test?); set KAFKAWIRE_PORT_BASE to run side by side`)
      return { target, ok: false, summary: parts.join(', ') }
    }
    out.log(`conformance: removing stale cluster ${name}`) // its run died without cleaning up
    await stopCluster(name)
  }

  // Tansu gets a fresh broker for each test file: a panic in Tansu poisons the lock around its in-memory
  // storage, and every later request of the run would fail with it. The panic is reported with the file.
  const files = testFiles(join(root, 'conformance'))
  const batches = impl === 'tansu' ? files.map((f) => [f]) : [files]
  const reports = []
  const panics = []
  let startSecs = 0
  let testSecs = 0
  for (const batch of batches) {
    if (interrupted) break
    let cluster
    const t = Date.now()
    try {
      cluster = await startCluster({ impl, ...(version ? { kafka: version } : {}), portBase: base, name, owner: process.pid, log: batches.length > 1 ? () => undefined : (l) => out.log(l) })
      startSecs += (Date.now() - t) / 1000
    } catch (e) {
      out.log(e.message)
      parts.push('broker start FAILED')
      return { target, ok: false, summary: parts.join(', '), line: `conformance[${target}]: FAILED, the ${impl} cluster did not start` }
    }
    let r
    try {
      r = await runTests(out, batches.length > 1 ? `${target}: ${batch[0]}` : target, { ...baseEnv, ...cluster.env, KAFKAWIRE_MANAGED: '1' }, batch)
      testSecs += r.secs
      reports.push(r)
      ok &&= r.ok
      if (impl === 'tansu') {
        const panic = panicOf(join(cluster.logsDir, 'tansu-main.log'))
        if (panic) panics.push(`${batch[0]}: ${panic}`)
      }
    } finally {
      try {
        await stopCluster(name, { keepLogs: !ok })
      } catch (e) {
        ok = false
        parts.push(`broker stop FAILED: ${e.message}`)
      }
      await stopOwned(`conformance-${target}-`, out)
      if (!ok && !parts.some((x) => x.startsWith('broker logs kept'))) parts.push(`broker logs kept in ${cluster.logsDir}`)
    }
  }
  const r = merge(reports)
  parts.push(`broker start ${startSecs.toFixed(1)} s${batches.length > 1 ? ` (${batches.length} times)` : ''}`, `tests ${fmt({ ...r, secs: testSecs })}`)
  details(out, target, r)
  if (panics.length) {
    out.log(`\nconformance[${target}] the broker panicked (a fresh one served the next file):`)
    for (const p of panics) out.log(`  ${p}`)
  }
  const line = summaryLine(target, r, extra)
  out.log(`\n${line}`)
  return { target, ok, summary: parts.join(', '), line }
}

/** The first panic message in a Tansu log, or null. */
function panicOf(log) {
  try {
    const text = readFileSync(log, 'utf8').replace(/\x1b\[[0-9;]*m/g, '')
    const m = /panicked at ([^\n]+)\n([^\n]*)/.exec(text)
    return m ? `${m[2].trim()} (${m[1].replace(/^.*\/(tansu-[^/]+\/src\/)/, '$1')})` : null
  } catch {
    return null
  }
}

/** One report from the reports of several runs of node:test. */
function merge(reports) {
  if (reports.length === 1) return reports[0]
  const ok = reports.length > 0 && reports.every((r) => r.ok)
  const failed = reports.filter((r) => !r.ok)
  const out = { ok, secs: reports.reduce((n, r) => n + r.secs, 0), why: failed.map((r) => r.why).filter(Boolean)[0] ?? '', report: { passed: 0, failed: 0, unsupported: [], skipped: [], todo: 0, failures: [] } }
  for (const r of reports) {
    if (!r.report) {
      out.report.failed++
      out.report.failures.push({ file: '?', test: '(test runner)', error: r.why || 'no test report' })
      continue
    }
    out.report.passed += r.report.passed
    out.report.failed += r.report.failed
    out.report.todo += r.report.todo
    out.report.unsupported.push(...r.report.unsupported)
    out.report.skipped.push(...r.report.skipped)
    out.report.failures.push(...r.report.failures)
  }
  return out
}

/** Against an external cluster: the tests, then the removal of everything this run created. */
async function runExternal() {
  const label = env.KAFKA_IMPL || 'external'
  const stepEnv = { ...env, KAFKAWIRE_OWNER: String(process.pid) }
  const cleanup = join(root, 'conformance/support/cleanup.ts')
  const before = join(work, 'before.json')
  const snap = await step(direct, `${label}: what exists before the run`, ['--import', 'tsx', cleanup, '--snapshot', before], stepEnv)
  if (!snap.ok) {
    const line = `conformance[${label}]: FAILED, cannot list the cluster's topics and groups (${snap.why}); nothing was run`
    console.log(`\n${line}`)
    return { target: `external ${env.KAFKA_BROKERS}`, ok: false, summary: 'snapshot failed', line }
  }
  let r
  let cleaned
  try {
    r = await runTests(direct, label, stepEnv)
  } finally {
    // also after a failure or an interrupt: nothing of this run stays on the user's cluster
    cleaned = await step(direct, `${label}: removing this run's topics, groups and transactions`, ['--import', 'tsx', cleanup, '--since', before], stepEnv)
  }
  details(direct, label, r)
  const line = summaryLine(label, r, [`cleanup ${cleaned.ok ? 'ok' : `FAILED (${cleaned.why})`}`])
  console.log(`\n${line}`)
  return { target: `external ${env.KAFKA_BROKERS}`, ok: r.ok && cleaned.ok, summary: `tests ${fmt(r)}, cleanup ${fmt(cleaned)}`, line }
}

async function main() {
  const results = []
  if (env.KAFKA_BROKERS) {
    results.push(await runExternal())
  } else {
    const targets = (env.KAFKAWIRE_TARGETS || DEFAULT_TARGETS).split(',').map((s) => s.trim()).filter(Boolean)
    // Targets run `parallel` at a time (KAFKAWIRE_PARALLEL, default 2: the tests mostly wait on brokers and
    // JVM tools); each has its own ports and clusters. Their logs are printed one target at a time.
    const parallel = Math.max(1, Number(env.KAFKAWIRE_PARALLEL || 2))
    const queue = [...targets.entries()]
    const worker = async () => {
      for (let next = queue.shift(); next !== undefined && !interrupted; next = queue.shift()) {
        const [i, target] = next
        const out = output(parallel > 1 && targets.length > 1)
        const started = Date.now()
        let r
        try {
          r = await runTarget(target, i, out)
        } catch (e) {
          r = { target, ok: false, summary: `FAILED: ${e.message}`, line: `conformance[${target}]: FAILED: ${e.message}` }
          out.log(e.stack)
        }
        r.secs = (Date.now() - started) / 1000
        r.index = i
        results.push(r)
        if (out.buffered) {
          process.stdout.write(`\n===== ${target} (${r.secs.toFixed(0)} s)\n`)
          out.flush()
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(parallel, targets.length) }, worker))
    results.sort((a, b) => a.index - b.index)
  }
  await stopOwned()
  rmSync(work, { recursive: true, force: true })
  console.log('')
  for (const r of results) {
    if (r.summary !== 'not run') console.log(`conformance ${r.target}: ${r.ok ? 'ok' : 'FAILED'} (${r.summary}${r.secs ? `, ${r.secs.toFixed(0)} s in all` : ''})`)
  }
  for (const r of results) if (r.line) console.log(r.line)
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
