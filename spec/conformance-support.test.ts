// The conformance harness's own pieces: the feature declarations (conformance/support/target.ts) and the
// reporter that counts passes, failures and unsupported tests for run.mjs (conformance/support/reporter.mjs).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'

// target.ts reads the cluster at import when KAFKA_BROKERS is set: these tests are about the table and the
// environment only, so import it without one.
delete process.env.KAFKA_BROKERS
process.env.KAFKA_IMPL = 'kfake'
process.env.KAFKA_SASL_CLUSTER = 'separate'
process.env.KAFKA_SASL_BROKERS = '127.0.0.1:1'
process.env.KAFKA_SASL_USERNAME = 'alice'
process.env.KAFKA_SASL_PASSWORD = 'secret'
delete process.env.KAFKA_SSL_BROKERS
delete process.env.KAFKAWIRE_MANAGED
const target = await import('../conformance/support/target.js')
// @ts-expect-error a plain ESM module without types
const { default: reporter } = (await import('../conformance/support/reporter.mjs')) as { default: (source: AsyncIterable<unknown>) => AsyncGenerator<string> }

describe('feature declarations', () => {
  test('an environment feature: present when its variables are set, else "unsupported by <impl>: <label> — <why>"', () => {
    assert.deepEqual(target.requires('sasl'), {})
    assert.deepEqual(target.requires('tls'), { skip: 'unsupported by kfake: TLS listener — KAFKA_SSL_BROKERS, KAFKA_CA not set' })
    assert.equal(target.has('sasl'), true)
  })

  test('a gap of the implementation that ApiVersions does not show, with its behaviour', () => {
    assert.equal(target.unsupportedReason('sasl-same-cluster'), 'unsupported by kfake: SASL listener on the same cluster — the SASL listener is another cluster')
  })

  test('features that need a managed cluster or an Apache Kafka of their own', () => {
    assert.match(target.unsupportedReason('three-nodes') ?? '', /^unsupported by kfake: a 3-node cluster .* — needs a cluster started by conformance\/run\.mjs/)
  })

  test('API features without a cluster to read: unsupported, saying why', () => {
    assert.equal(target.unsupportedReason('transactions'), 'unsupported by kfake: transactions — KAFKA_BROKERS not set')
  })

  test('the first missing feature is the one reported', () => {
    assert.match(target.unsupportedReason('sasl', 'tls', 'transactions') ?? '', /TLS listener/)
  })

  test('inside a test: requires(t, ...) marks the test skipped with the reason and returns false', () => {
    const skipped: string[] = []
    const t = { skip: (why: string) => skipped.push(why) } as unknown as Parameters<typeof target.requires>[0]
    assert.equal(target.requires(t as never, 'sasl'), true)
    assert.equal(target.requires(t as never, 'tls'), false)
    assert.deepEqual(skipped, ['unsupported by kfake: TLS listener — KAFKA_SSL_BROKERS, KAFKA_CA not set'])
  })

  test('an unknown feature is an error, not a skip', () => {
    assert.throws(() => target.requires('no-such-feature' as never), /unknown feature "no-such-feature"/)
  })
})

describe('the conformance reporter', () => {
  async function report(events: Array<{ type: string; data: Record<string, unknown> }>) {
    async function* source() {
      yield* events
    }
    let out = ''
    for await (const chunk of reporter(source())) out += chunk
    return JSON.parse(out) as { passed: number; failed: number; unsupported: Array<{ test: string; impl: string; feature: string; why: string; suite: boolean }>; skipped: Array<{ test: string; reason: string }>; failures: Array<{ test: string; error: string }> }
  }
  const file = `${process.cwd()}/conformance/x.test.ts`

  test('counts tests, not suites; unsupported and other skips apart; a suite only when it fails on its own', async () => {
    const r = await report([
      { type: 'test:pass', data: { name: 'a', file, details: {} } },
      { type: 'test:pass', data: { name: 'b', file, skip: 'unsupported by tansu: transactions — no EndTxn (API 26)', details: {} } },
      { type: 'test:pass', data: { name: 'kip848 suite', file, skip: 'unsupported by tansu: KIP-848 consumer groups — no ConsumerGroupHeartbeat (API 68)', details: { type: 'suite' } } },
      { type: 'test:pass', data: { name: 'c', file, skip: 'KAFKA_BROKERS not set', details: {} } },
      { type: 'test:fail', data: { name: 'd', file, details: { error: { failureType: 'testCodeFailure', message: 'boom\nmore' } } } },
      { type: 'test:fail', data: { name: 'suite of d', file, details: { type: 'suite', error: { failureType: 'subtestsFailed', message: '1 subtest failed' } } } },
      { type: 'test:fail', data: { name: 'suite with a hook', file, details: { type: 'suite', error: { failureType: 'hookFailed', message: 'failed running before hook' } } } },
      { type: 'test:pass', data: { name: 'a suite', file, details: { type: 'suite' } } },
      { type: 'test:diagnostic', data: { message: 'x' } },
    ])
    assert.equal(r.passed, 1)
    assert.equal(r.failed, 2)
    assert.deepEqual(r.failures.map((f) => [f.test, f.error]), [['d', 'boom'], ['suite with a hook', 'failed running before hook']])
    assert.deepEqual(r.unsupported.map((u) => [u.test, u.impl, u.feature, u.why, u.suite]), [
      ['b', 'tansu', 'transactions', 'no EndTxn (API 26)', false],
      ['kip848 suite', 'tansu', 'KIP-848 consumer groups', 'no ConsumerGroupHeartbeat (API 68)', true],
    ])
    assert.deepEqual(r.skipped.map((s) => [s.test, s.reason]), [['c', 'KAFKA_BROKERS not set']])
  })
})
