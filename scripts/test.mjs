#!/usr/bin/env node
// The project's test command (README: `npm test`).
//
//   node scripts/test.mjs            typecheck, unit + property + fuzz-regression tests, then conformance
//   node scripts/test.mjs --unit     everything that needs no broker
//   node scripts/test.mjs --conformance
//
// Unit tests live in spec/**/*.test.ts and fuzz/**/*.test.ts; they run on
// node:test through tsx. Conformance is delegated to conformance/run.mjs.
//
// On a Node without zstd in node:zlib (20, the oldest we support), the unit tests,
// the golden vectors and the conformance tests that carry zstd run a second time on
// the current LTS (scripts/lts-node.mjs), where zstd goes through node:zlib instead
// of the optional package: both paths are proven on every run.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync, existsSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { currentNodeHasZstd, LTS_NODE_VERSION, ltsNode } from './lts-node.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const argv = new Set(process.argv.slice(2))
const only = argv.has('--unit') ? 'unit' : argv.has('--conformance') ? 'conformance' : 'all'

function files(dir, suffix) {
  const out = []
  if (!existsSync(dir)) return out
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...files(p, suffix))
    else if (name.endsWith(suffix)) out.push(p)
  }
  return out.sort()
}

function run(title, cmd, args, env = {}) {
  const started = Date.now()
  console.log(`\n=== ${title}`)
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } })
  const secs = ((Date.now() - started) / 1000).toFixed(1)
  if (r.status !== 0) {
    console.error(`=== ${title}: FAILED (${secs} s)`)
    process.exit(r.status ?? 1)
  }
  console.log(`=== ${title}: ok (${secs} s)`)
}

let second = null
if (!currentNodeHasZstd()) {
  try {
    second = ltsNode()
  } catch (e) {
    console.error(`=== Node ${LTS_NODE_VERSION} for the node:zlib zstd tests: ${e instanceof Error ? e.message : e}`)
    process.exit(1)
  }
}

if (only !== 'conformance') {
  run('typecheck', process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit'])
  const unit = [...files(join(root, 'spec'), '.test.ts'), ...files(join(root, 'fuzz'), '.test.ts')].map((p) => relative(root, p))
  const args = ['--import', 'tsx', '--test', '--test-reporter=dot', ...unit]
  run(`unit, property and fuzz-regression tests (${unit.length} files)`, process.execPath, args)
  if (second) run(`unit, property and fuzz-regression tests on Node ${LTS_NODE_VERSION} (zstd through node:zlib)`, second, args)
}

if (only !== 'unit') {
  run('conformance', process.execPath, [join(root, 'conformance/run.mjs')])
  if (second) {
    const golden = ['--import', 'tsx', join(root, 'conformance/golden/run.ts'), '--kafka', '4.3.1', '--kafka', '3.9.1']
    run(`golden vectors on Node ${LTS_NODE_VERSION}`, second, golden)
    // The conformance files that move zstd batches through a broker (round trips, records, CLI, TLS),
    // against one Apache target (or KAFKA_BROKERS, as always).
    const zstdFiles = ['producer/round-trip', 'consumer/records', 'cli/produce', 'client/security']
    run(`conformance on Node ${LTS_NODE_VERSION} (zstd through node:zlib)`, second, [join(root, 'conformance/run.mjs'), ...zstdFiles], {
      KAFKAWIRE_TARGETS: process.env.KAFKAWIRE_TARGETS_LTS_NODE || 'apache-4.3.1',
      KAFKAWIRE_RUN_NOTE: `Node ${LTS_NODE_VERSION}`,
    })
  }
}
