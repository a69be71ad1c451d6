import assert from 'node:assert/strict'
import { PassThrough, Readable } from 'node:stream'
import { test } from 'node:test'
import { clientConfig, UsageError } from '../../src/cli/options.js'
import { COMMANDS, run } from '../../src/cli/run.js'

async function cli(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  stdout.on('data', (b: Buffer) => (out += b.toString()))
  stderr.on('data', (b: Buffer) => (err += b.toString()))
  const code = await run(argv, { stdin: Readable.from([]), stdout, stderr, env })
  return { code, stdout: out, stderr: err }
}

test('usage errors: exit 2, one line on stderr naming the command and its --help, nothing on stdout', async () => {
  const cases: Array<[string[], string]> = [
    [[], "kafkawire: no command given (see 'kafkawire --help')"],
    [['topicz'], `kafkawire: unknown command "topicz" (see 'kafkawire --help')`],
    [['groups'], "kafkawire: groups: missing or unknown command; one of: list, describe, delete, reset-offsets (see 'kafkawire groups --help')"],
    [['topics', 'list', '--nope'], "kafkawire: topics list: Unknown option '--nope' (see 'kafkawire topics list --help')"],
    [['topics', 'list', 'extra'], `kafkawire: topics list: unexpected argument "extra" (see 'kafkawire topics list --help')`],
    [['topics', 'create', 'x', '--partitions', '0'], "kafkawire: topics create: --partitions must be between 1 and 2147483647, got 0 (see 'kafkawire topics create --help')"],
    [['topics', 'alter-config', 'x'], "kafkawire: topics alter-config: give at least one --set or --delete (see 'kafkawire topics alter-config --help')"],
    [['topics', 'alter-config', 'x', '--set', 'novalue'], `kafkawire: topics alter-config: --set expects KEY=VALUE, got "novalue" (see 'kafkawire topics alter-config --help')`],
    [['groups', 'reset-offsets', 'g', '--to-latest'], "kafkawire: groups reset-offsets: give --topic (repeatable) or --all-topics (see 'kafkawire groups reset-offsets --help')"],
    [['groups', 'reset-offsets', 'g', '--topic', 't:x', '--to-latest'], `kafkawire: groups reset-offsets: --topic partition must be a whole number, got "x" (see 'kafkawire groups reset-offsets --help')`],
    [['cluster', '--timeout=-1'], `kafkawire: cluster: --timeout must be a positive number of seconds, got "-1" (see 'kafkawire cluster --help')`],
    [['cluster', '--cert', 'c.pem'], "kafkawire: cluster: --cert and --key go together (see 'kafkawire cluster --help')"],
  ]
  for (const [argv, line] of cases) {
    const r = await cli(argv)
    assert.deepEqual(r, { code: 2, stdout: '', stderr: `${line}\n` }, argv.join(' '))
  }
  // parseArgs' own messages span lines; they are joined into one.
  const ambiguous = await cli(['cluster', '--timeout', '-1'])
  assert.equal(ambiguous.code, 2)
  assert.match(ambiguous.stderr, /^kafkawire: cluster: Option '--timeout' argument is ambiguous\. .* \(see 'kafkawire cluster --help'\)\n$/)
})

test('--help anywhere on the line, for every command; --version', async () => {
  const main = await cli(['--help'])
  assert.equal(main.code, 0)
  assert.match(main.stdout, /^Usage: kafkawire COMMAND/)
  for (const c of COMMANDS) {
    const words = c.path.join(' ')
    assert.ok(main.stdout.includes(`  ${words} `), `main help lists ${words}`)
    for (const argv of [[...c.path, '--help'], ['--help', ...c.path], [...c.path, '-h', '--brokers', 'x:1']]) {
      const r = await cli(argv)
      assert.equal(r.code, 0)
      assert.ok(r.stdout.startsWith(`Usage: kafkawire ${words}`), argv.join(' '))
      assert.equal(r.stderr, '')
    }
  }
  const group = await cli(['topics', '--help'])
  assert.match(group.stdout, /^Usage: kafkawire topics COMMAND/)
  const version = await cli(['--version'])
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/)
})

test('a failure that is not a usage error: exit 1 with the typed error on one line', async () => {
  const r = await cli(['cluster', '--ca', '/nonexistent/ca.pem'])
  assert.deepEqual(r, { code: 1, stdout: '', stderr: 'kafkawire: INVALID_CONFIG: cannot read --ca /nonexistent/ca.pem: ENOENT\n' })
})

test('clientConfig: brokers from the option, $KAFKA_BROKERS or the default; TLS implied by its options', () => {
  const warn: string[] = []
  const w = (l: string): void => void warn.push(l)
  assert.equal(clientConfig({}, {}, w).brokers, '127.0.0.1:9092')
  assert.equal(clientConfig({}, { KAFKA_BROKERS: 'k:1' }, w).brokers, 'k:1')
  assert.equal(clientConfig({ brokers: 'b:2' }, { KAFKA_BROKERS: 'k:1' }, w).brokers, 'b:2')
  assert.equal(clientConfig({}, {}, w).tls, undefined)
  assert.deepEqual(clientConfig({ tls: true }, {}, w).tls, {})
  assert.deepEqual(clientConfig({ servername: 'kafka.example' }, {}, w).tls, { servername: 'kafka.example' })
  assert.equal(warn.length, 0)
  assert.deepEqual(clientConfig({ insecure: true }, {}, w).tls, { rejectUnauthorized: false })
  assert.equal(warn.length, 1)
  assert.match(warn[0]!, /^warning: --insecure/)
  const c = clientConfig({ timeout: '2.5', 'client-id': 'me' }, {}, w)
  assert.equal(c.defaultTimeoutMs, 2500)
  assert.equal(c.clientId, 'me')
})

test('clientConfig: --ca is read from the file', async () => {
  const CA_PEM = '-----BEGIN CERTIFICATE-----\nnot parsed here\n-----END CERTIFICATE-----\n'
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs')
  const { join } = await import('node:path')
  const { tmpdir } = await import('node:os')
  const dir = mkdtempSync(join(tmpdir(), 'kafkawire-spec-'))
  try {
    writeFileSync(join(dir, 'ca.pem'), CA_PEM)
    const tls = clientConfig({ ca: join(dir, 'ca.pem') }, {}, () => undefined).tls as { ca: Buffer }
    assert.equal(tls.ca.toString(), CA_PEM)
  } finally {
    rmSync(dir, { recursive: true })
  }
})

test('clientConfig: SASL needs mechanism, user and password; the password may come from $KAFKA_SASL_PASSWORD', () => {
  const none = (): void => undefined
  assert.deepEqual(clientConfig({ 'sasl-mechanism': 'scram-sha-256', 'sasl-username': 'u' }, { KAFKA_SASL_PASSWORD: 'p' }, none).sasl, { mechanism: 'SCRAM-SHA-256', username: 'u', password: 'p' })
  assert.deepEqual(clientConfig({ 'sasl-mechanism': 'PLAIN', 'sasl-username': 'u', 'sasl-password': 'flag' }, { KAFKA_SASL_PASSWORD: 'env' }, none).sasl, { mechanism: 'PLAIN', username: 'u', password: 'flag' })
  // Without a mechanism, $KAFKA_SASL_PASSWORD alone does not turn SASL on.
  assert.equal(clientConfig({}, { KAFKA_SASL_PASSWORD: 'p' }, none).sasl, undefined)
  const usage = (v: Record<string, string>, env: NodeJS.ProcessEnv, re: RegExp): void => assert.throws(() => clientConfig(v, env, none), (e: unknown) => e instanceof UsageError && re.test(e.message))
  usage({ 'sasl-mechanism': 'PLAIN', 'sasl-username': 'u' }, {}, /needs a password/)
  usage({ 'sasl-mechanism': 'PLAIN' }, { KAFKA_SASL_PASSWORD: 'p' }, /needs --sasl-username/)
  usage({ 'sasl-username': 'u' }, {}, /need --sasl-mechanism/)
  usage({ 'sasl-mechanism': 'OAUTHBEARER', 'sasl-username': 'u' }, { KAFKA_SASL_PASSWORD: 'p' }, /OAUTHBEARER needs a token provider/)
  usage({ 'sasl-mechanism': 'KERBEROS', 'sasl-username': 'u' }, { KAFKA_SASL_PASSWORD: 'p' }, /must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512/)
})
