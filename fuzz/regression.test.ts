/**
 * Replays every input kept under fuzz/corpus/ through the fuzz oracle. Each
 * failing input the fuzzer ever found stays there, minimised, after its bug
 * is fixed; seeds marked "kind": "seed" must also decode successfully.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync } from 'node:fs'
import { basename } from 'node:path'
import { CORPUS_DIR, loadCorpus } from './corpus.js'
import { check, installAllocationMeter, installStrayCatcher } from './oracle.js'
import { allTargets, getTarget } from './targets/index.js'

installAllocationMeter()
installStrayCatcher()

// Other test files run in parallel with this one, so allow more time per
// input than a campaign does; a real hang or blow-up is far beyond this.
const BUDGET_MS = 1000

test('every corpus directory names a fuzz target', () => {
  const names = new Set(allTargets().map((t) => t.name))
  const dirs = existsSync(CORPUS_DIR) ? readdirSync(CORPUS_DIR) : []
  for (const d of dirs) assert.ok(names.has(d), `fuzz/corpus/${d} matches no target (renamed?)`)
})

for (const entry of loadCorpus()) {
  const { sidecar } = entry
  test(`${sidecar.target} ${basename(entry.file)} (${sidecar.kind}, v${sidecar.version})`, async () => {
    const target = getTarget(sidecar.target)
    const verdict = await check(target, entry, { budgetMs: BUDGET_MS })
    if (verdict.status === 'failure') {
      assert.fail(`${verdict.failure.signature}\n${verdict.failure.message}\n(found as: ${sidecar.signature ?? sidecar.kind})`)
    }
    // Without an optional codec package, a typed refusal is the right answer
    // even for a valid input; with it, seeds must decode.
    const missing = (await target.unavailable?.()) ?? null
    if (sidecar.kind === 'seed' && missing === null) assert.equal(verdict.status, 'ok', `seed no longer decodes: ${verdict.key}`)
  })
}
