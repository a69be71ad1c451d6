// The CLI's TLS and SASL options against KAFKA_SSL_BROKERS, KAFKA_SASL_BROKERS and KAFKA_SASL_SSL_BROKERS
// (each test declares the listener it needs: reported as unsupported where the cluster has none).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { before, test } from 'node:test'
import type { ClientConfig } from '../../src/index.js'
import { requires } from '../support/target.js'
import { assertOneLineError, cli, ensureBuilt, env, unique, withAdmin } from './helpers.js'

before(() => ensureBuilt())

const sasl = env.KAFKA_SASL_BROKERS && env.KAFKA_SASL_USERNAME && env.KAFKA_SASL_PASSWORD && env.KAFKA_SASL_MECHANISM ? env.KAFKA_SASL_BROKERS : null
const ssl = env.KAFKA_SSL_BROKERS && env.KAFKA_CA ? env.KAFKA_SSL_BROKERS : null
const saslSsl = env.KAFKA_SASL_SSL_BROKERS && env.KAFKA_CA && sasl !== null ? env.KAFKA_SASL_SSL_BROKERS : null
const mechanisms = (env.KAFKA_SASL_MECHANISMS || env.KAFKA_SASL_MECHANISM || '').split(',').filter(Boolean)

/** The environment without the password: each test passes it the way it wants to. */
function envWith(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e = { ...env, ...extra }
  if (!('KAFKA_SASL_PASSWORD' in extra)) delete e.KAFKA_SASL_PASSWORD
  return e
}

test('SASL: every mechanism with the password from $KAFKA_SASL_PASSWORD; the password is never printed', requires('sasl'), async () => {
  for (const mechanism of mechanisms) {
    const r = await cli(['--brokers', sasl!, '--sasl-mechanism', mechanism, '--sasl-username', env.KAFKA_SASL_USERNAME!, '--json', '--debug', 'cluster'], {
      env: envWith({ KAFKA_SASL_PASSWORD: env.KAFKA_SASL_PASSWORD! }),
    })
    assert.equal(r.code, 0, `${mechanism}: ${r.stderr}`)
    assert.ok(JSON.parse(r.stdout).brokers.length > 0)
    assert.ok(!r.stdout.includes(env.KAFKA_SASL_PASSWORD!) && !r.stderr.includes(env.KAFKA_SASL_PASSWORD!), `${mechanism}: the password shows in the output`)
  }
  // --sasl-password works too (lower-case mechanism names are accepted).
  const flagged = await cli(['--brokers', sasl!, '--sasl-mechanism', mechanisms[0]!.toLowerCase(), '--sasl-username', env.KAFKA_SASL_USERNAME!, '--sasl-password', env.KAFKA_SASL_PASSWORD!, 'topics', 'list'], { env: envWith() })
  assert.equal(flagged.code, 0, flagged.stderr)
  assert.match(flagged.stdout, /^TOPIC\s+PARTITIONS\s+TOPIC-ID\n/)
})

test('SASL: a wrong password is AUTHENTICATION_FAILED, exit 1, and is not printed', requires('sasl'), async () => {
  const wrong = `wrong-${Math.random().toString(36).slice(2)}`
  for (const debug of [[], ['--debug']]) {
    const r = await cli(['--brokers', sasl!, '--sasl-mechanism', env.KAFKA_SASL_MECHANISM!, '--sasl-username', env.KAFKA_SASL_USERNAME!, ...debug, 'cluster'], { env: envWith({ KAFKA_SASL_PASSWORD: wrong }) })
    if (debug.length === 0) assertOneLineError(r, 1, /AUTHENTICATION_FAILED/)
    else assert.equal(r.code, 1)
    assert.ok(!r.stderr.includes(wrong) && !r.stdout.includes(wrong), 'the password shows in the output')
  }
  const missing = await cli(['--brokers', sasl!, '--sasl-mechanism', env.KAFKA_SASL_MECHANISM!, '--sasl-username', env.KAFKA_SASL_USERNAME!, 'cluster'], { env: envWith() })
  assertOneLineError(missing, 2, /needs a password: set \$KAFKA_SASL_PASSWORD/)
})

test('TLS: --ca verifies the broker; without it, or with another server name, the handshake fails', requires('tls'), async () => {
  const ok = await cli(['--brokers', ssl!, '--ca', env.KAFKA_CA!, '--json', 'cluster'], { env: envWith() })
  assert.equal(ok.code, 0, ok.stderr)
  assert.ok(JSON.parse(ok.stdout).brokers.length > 0)
  assert.equal(ok.stderr, '')

  assertOneLineError(await cli(['--brokers', ssl!, '--tls', '--timeout', '10', 'cluster'], { env: envWith() }), 1, /AUTHENTICATION_FAILED: TLS handshake .* failed: .*certificate/)
  assertOneLineError(await cli(['--brokers', ssl!, '--ca', env.KAFKA_CA!, '--servername', 'not-the-broker.example', '--timeout', '10', 'cluster'], { env: envWith() }), 1, /AUTHENTICATION_FAILED: .*not-the-broker\.example/)

  const insecure = await cli(['--brokers', ssl!, '--insecure', '--json', 'cluster'], { env: envWith() })
  assert.equal(insecure.code, 0, insecure.stderr)
  assert.match(insecure.stderr, /^kafkawire: warning: --insecure: the broker's TLS certificate is not verified/)
  assert.ok(JSON.parse(insecure.stdout).brokers.length > 0)
})

test('SASL over TLS: create a topic and produce to it', requires('sasl-ssl'), async () => {
  const name = unique('cli-sasl-ssl')
  const common = ['--brokers', saslSsl!, '--ca', env.KAFKA_CA!, '--sasl-mechanism', env.KAFKA_SASL_MECHANISM!, '--sasl-username', env.KAFKA_SASL_USERNAME!]
  const e = envWith({ KAFKA_SASL_PASSWORD: env.KAFKA_SASL_PASSWORD! })
  // Checked through the same listener: it may belong to another cluster than KAFKA_BROKERS.
  const config: ClientConfig = {
    brokers: saslSsl!,
    tls: { ca: readFileSync(env.KAFKA_CA!) },
    sasl: { mechanism: env.KAFKA_SASL_MECHANISM as 'PLAIN', username: env.KAFKA_SASL_USERNAME!, password: env.KAFKA_SASL_PASSWORD! },
  }
  try {
    const created = await cli([...common, 'topics', 'create', name, '--partitions', '2', '--json'], { env: e })
    assert.equal(created.code, 0, created.stderr)
    const produced = await cli([...common, 'produce', '-t', name, '--key-separator', ':', '--compression', 'gzip', '--json'], { env: e, input: 'a:1\nb:2\nc:3\n' })
    assert.equal(produced.code, 0, produced.stderr)
    assert.equal(JSON.parse(produced.stdout).records, 3)
    const ends = await withAdmin((a) => a.listOffsets([0, 1].map((partition) => ({ topic: name, partition, spec: 'latest' as const }))), config)
    assert.equal(
      ends.reduce((n, r) => n + (r.error === null ? r.offset! : 0n), 0n),
      3n,
    )
  } finally {
    await withAdmin((a) => a.deleteTopics([name]), config)
  }
})
