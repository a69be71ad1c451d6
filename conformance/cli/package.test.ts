// The built package as users get it: `import ... from 'kafkawire'` (package.json "exports") and the
// `kafkawire` executable ("bin"), run from the build in dist/.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { before, test } from 'node:test'
import { brokers, ensureBuilt, MAIN, root } from './helpers.js'

before(() => ensureBuilt())

test('package.json "bin" points at the built CLI, which starts with a shebang', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin?: Record<string, string> }
  assert.equal(join(root, pkg.bin?.kafkawire ?? ''), MAIN)
  assert.match(readFileSync(MAIN, 'utf8'), /^#!\/usr\/bin\/env node\n/)
})

test("'kafkawire' resolves to the build and exports the public API, which talks to the broker", () => {
  // Package self-reference: resolved through "exports" exactly as for a dependent package.
  const script = `
    import * as k from 'kafkawire'
    const admin = new k.Admin({ brokers: process.env.B })
    const d = await admin.describeCluster()
    await admin.close()
    console.log(JSON.stringify({ keys: Object.keys(k).sort(), brokers: d.brokers.length, url: import.meta.resolve('kafkawire') }))
  `
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, B: brokers() } })
  assert.equal(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout) as { keys: string[]; brokers: number; url: string }
  assert.ok(out.url.endsWith('/dist/src/index.js'), out.url)
  assert.ok(out.brokers > 0)
  for (const name of ['Admin', 'Producer', 'Consumer', 'KafkawireError', 'BrokerError', 'ConnectionError', 'ProduceError', 'serializers', 'deserializers', 'SerializationError']) {
    assert.ok(out.keys.includes(name), `kafkawire exports ${name}`)
  }
  for (const internal of ['Cluster', 'Connection', 'Accumulator', 'Sender', 'AdminContext']) assert.ok(!out.keys.includes(internal), `${internal} is internal`)
})
