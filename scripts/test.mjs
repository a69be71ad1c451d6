#!/usr/bin/env node
// The project's test command (README: `npm test`).
//
//   node scripts/test.mjs            typecheck, unit + property + fuzz-regression tests, then conformance
//   node scripts/test.mjs --unit     everything that needs no broker
//   node scripts/test.mjs --conformance
//
// Unit tests live in spec/**/*.test.ts and fuzz/**/*.test.ts; they run on
// node:test through tsx. Conformance is delegated to conformance/run.mjs.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync, existsSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

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

if (only !== 'conformance') {
  run('typecheck', process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit'])
  const unit = [...files(join(root, 'spec'), '.test.ts'), ...files(join(root, 'fuzz'), '.test.ts')].map((p) => relative(root, p))
  run(`unit, property and fuzz-regression tests (${unit.length} files)`, process.execPath, [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=dot',
    ...unit,
  ])
}

if (only !== 'unit') {
  run('conformance', process.execPath, [join(root, 'conformance/run.mjs')])
}
