// The CLI's topics and cluster commands, its error reporting and usage errors, against KAFKA_BROKERS.
// Runs `node dist/src/cli/main.js` (built by ensureBuilt when stale; see helpers.ts).
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { assertOneLineError, brokers, cli, cliJson, ensureBuilt, unique, withAdmin } from './helpers.js'
import { requires } from '../support/target.js'

before(() => ensureBuilt())

const ZERO_ID = 'AAAAAAAAAAAAAAAAAAAAAA'

async function describeOne(name: string): Promise<any> {
  const doc = await cliJson<{ topics: any[] }>(['topics', 'describe', name])
  assert.equal(doc.topics.length, 1)
  return doc.topics[0]
}

test('topics create, describe, alter-config, list and delete', requires('config-sources'), async () => {
  const name = unique('cli-topics')
  const created = await cliJson(['topics', 'create', name, '--partitions', '5', '--replication-factor', '1', '--config', 'retention.ms=3600000'])
  assert.equal(created.name, name)
  assert.equal(created.partitions, 5)
  assert.equal(created.replicationFactor, 1)
  assert.match(created.topicId, /^[A-Za-z0-9_-]{22}$/)
  assert.notEqual(created.topicId, ZERO_ID)

  const d = await describeOne(name)
  assert.equal(d.name, name)
  assert.equal(d.topicId, created.topicId)
  assert.equal(d.internal, false)
  assert.equal(d.replicationFactor, 1)
  assert.deepEqual(
    d.partitions.map((p: any) => p.partition),
    [0, 1, 2, 3, 4],
  )
  for (const p of d.partitions) {
    assert.equal(p.replicas.length, 1)
    assert.deepEqual(p.isr, p.replicas)
    assert.equal(p.leader, p.replicas[0])
  }
  assert.deepEqual(d.configs, { 'retention.ms': '3600000' })

  const altered = await cliJson(['topics', 'alter-config', name, '--set', 'retention.ms=7200000', '--set', 'cleanup.policy=compact', '--set', 'min.cleanable.dirty.ratio=0.2'])
  assert.deepEqual(altered, { topic: name, set: { 'retention.ms': '7200000', 'cleanup.policy': 'compact', 'min.cleanable.dirty.ratio': '0.2' }, deleted: [] })
  assert.deepEqual((await describeOne(name)).configs, { 'retention.ms': '7200000', 'cleanup.policy': 'compact', 'min.cleanable.dirty.ratio': '0.2' })

  await cliJson(['topics', 'alter-config', name, '--delete', 'retention.ms', '--delete', 'min.cleanable.dirty.ratio'])
  // Read back through the library too: the override is gone, the broker default applies again.
  const [cfg] = await withAdmin((a) => a.describeConfigs([{ type: 'topic', name, keys: ['retention.ms', 'cleanup.policy'] }]))
  assert.equal(cfg!.error, null)
  const entries = cfg!.error === null ? new Map(cfg!.configs.map((e) => [e.name, e])) : new Map()
  assert.equal(entries.get('cleanup.policy')?.value, 'compact')
  assert.equal(entries.get('cleanup.policy')?.source, 'dynamic-topic')
  assert.notEqual(entries.get('retention.ms')?.source, 'dynamic-topic')
  assert.deepEqual((await describeOne(name)).configs, { 'cleanup.policy': 'compact' })

  const listed = await cliJson<{ topics: any[] }>(['topics', 'list'])
  assert.deepEqual(
    listed.topics.find((t) => t.name === name),
    { name, topicId: created.topicId, partitions: 5, internal: false },
  )
  assert.ok(!listed.topics.some((t) => t.name === '__consumer_offsets'), 'internal topics only with --internal')

  // Human output: aligned tables with headers.
  const human = await cli(['--brokers', brokers(), 'topics', 'list'])
  assert.equal(human.code, 0)
  const lines = human.stdout.trimEnd().split('\n')
  assert.match(lines[0]!, /^TOPIC\s+PARTITIONS\s+TOPIC-ID$/)
  const row = lines.find((l) => l.startsWith(`${name} `))
  assert.ok(row, `no row for ${name} in:\n${human.stdout}`)
  assert.match(row!.slice(lines[0]!.indexOf('PARTITIONS')), new RegExp(`^5 +${created.topicId}$`), 'columns are aligned with their headers')
  const humanDescribe = await cli(['--brokers', brokers(), 'topics', 'describe', name])
  assert.equal(humanDescribe.code, 0)
  assert.match(humanDescribe.stdout, new RegExp(`^Topic: ${name}  TopicId: ${created.topicId}  Partitions: 5  ReplicationFactor: 1\\nConfigs: cleanup.policy=compact\\nPARTITION  LEADER`))

  const deleted = await cliJson(['topics', 'delete', name])
  assert.deepEqual(deleted, { topics: [{ name, deleted: true }] })
  const after = await cliJson<{ topics: any[] }>(['topics', 'list'])
  assert.ok(!after.topics.some((t) => t.name === name), `${name} is still listed after delete`)
})

test('topics create without counts uses the broker defaults', async () => {
  const name = unique('cli-defaults')
  const created = await cliJson(['topics', 'create', name])
  try {
    assert.ok(created.partitions >= 1)
    assert.equal((await describeOne(name)).partitions.length, created.partitions)
  } finally {
    await withAdmin((a) => a.deleteTopics([name]))
  }
})

test('cluster shows the broker of KAFKA_BROKERS', async () => {
  const d = await cliJson(['cluster'])
  assert.equal(typeof d.clusterId, 'string')
  assert.ok(d.clusterId.length > 0)
  const bootstrap = brokers().split(',').map((s) => s.trim())
  assert.ok(
    d.brokers.some((b: any) => bootstrap.includes(`${b.host}:${b.port}`)),
    `none of ${JSON.stringify(d.brokers)} is a bootstrap broker ${bootstrap.join(',')}`,
  )
  const lib = await withAdmin((a) => a.describeCluster())
  assert.equal(d.clusterId, lib.clusterId)
  assert.deepEqual(
    d.brokers.map((b: any) => b.nodeId),
    lib.brokers.map((b) => b.nodeId),
  )
  const human = await cli(['--brokers', brokers(), 'cluster'])
  assert.equal(human.code, 0)
  assert.match(human.stdout, new RegExp(`^Cluster: ${d.clusterId}  Controller: \\S+\\nNODE\\s+HOST\\s+PORT\\s+RACK\\n`))
})

test('an unknown topic fails with exit 1 and one line naming the error', async () => {
  const name = unique('cli-missing')
  const r = await cli(['--brokers', brokers(), 'topics', 'describe', name])
  assertOneLineError(r, 1, new RegExp(`UNKNOWN_TOPIC_OR_PARTITION: .*${name}`))
  assert.equal(r.stdout, '')
  const json = await cli(['--brokers', brokers(), '--json', 'topics', 'describe', name])
  assertOneLineError(json, 1, /UNKNOWN_TOPIC_OR_PARTITION/)
  assert.equal(json.stdout, '', 'no partial document on failure')

  // --debug adds the stack trace.
  const debug = await cli(['--brokers', brokers(), 'topics', 'describe', name, '--debug'])
  assert.equal(debug.code, 1)
  assert.match(debug.stderr, /UNKNOWN_TOPIC_OR_PARTITION/)
  assert.match(debug.stderr, /\n\s+at /)
})

test('creating an existing topic and deleting a missing one fail with their broker errors', async () => {
  const name = unique('cli-dup')
  await cliJson(['topics', 'create', name, '--partitions', '1'])
  try {
    assertOneLineError(await cli(['--brokers', brokers(), 'topics', 'create', name, '--partitions', '1']), 1, /TOPIC_ALREADY_EXISTS/)
  } finally {
    await withAdmin((a) => a.deleteTopics([name]))
  }
  const missing = unique('cli-nothere')
  const r = await cli(['--brokers', brokers(), '--json', 'topics', 'delete', missing])
  assertOneLineError(r, 1, /UNKNOWN_TOPIC_OR_PARTITION/)
  assert.equal(JSON.parse(r.stdout).topics[0].error.code, 'UNKNOWN_TOPIC_OR_PARTITION')
})

test('an unreachable broker fails with exit 1 within --timeout', async () => {
  const started = Date.now()
  // Port 1 on the loopback: nothing listens there.
  const r = await cli(['--brokers', '127.0.0.1:1', '--timeout', '2', 'cluster'])
  assertOneLineError(r, 1, /DEADLINE_EXCEEDED.*ECONNREFUSED/)
  assert.ok(Date.now() - started < 20_000)
})

test('usage errors exit 2 with one line and a pointer to --help', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['topics', 'list', '--bogus'], /Unknown option '--bogus'/],
    [['topics', 'create', 'x', '--partitions', 'many'], /--partitions must be a whole number/],
    [['topics', 'create'], /missing NAME/],
    [['topics', 'frobnicate'], /unknown command "frobnicate"/],
    [['nonsense'], /unknown command "nonsense"/],
    [[], /no command given/],
    [['cluster', '--brokers', 'no-port'], /invalid broker address/],
    [['cluster', '--sasl-mechanism', 'PLAIN'], /--sasl-mechanism needs --sasl-username/],
    [['cluster', '--sasl-mechanism', 'GSSAPI', '--sasl-username', 'u'], /--sasl-mechanism must be one of/],
    [['groups', 'reset-offsets', 'g', '--topic', 't'], /exactly one of --to-earliest/],
    [['groups', 'reset-offsets', 'g', '--topic', 't', '--to-earliest', '--to-latest'], /exactly one of/],
    [['groups', 'reset-offsets', 'g', '--topic', 't', '--to-datetime', 'yesterday'], /--to-datetime must be an ISO 8601/],
    [['produce'], /-t TOPIC is required/],
    [['produce', '-t', 'x', '--compression', 'brotli'], /--compression must be one of/],
    [['produce', '-t', 'x', '--acks', '2'], /--acks must be 0, 1 or all/],
  ]
  for (const [args, pattern] of cases) {
    const r = await cli(['--brokers', brokers(), ...args], { env: { ...process.env, KAFKA_SASL_PASSWORD: 'x' } })
    assertOneLineError(r, 2, pattern)
    assert.match(r.stderr, /see 'kafkawire[^']*--help'/)
    assert.equal(r.stdout, '')
  }
})

test('--help per command, and --version', async () => {
  const main = await cli(['--help'])
  assert.equal(main.code, 0)
  for (const cmd of ['topics list', 'topics describe', 'topics create', 'topics delete', 'topics alter-config', 'groups list', 'groups describe', 'groups delete', 'groups reset-offsets', 'cluster', 'produce']) {
    assert.match(main.stdout, new RegExp(`\\n  ${cmd} `), `main help lists ${cmd}`)
    const r = await cli([...cmd.split(' '), '--help'])
    assert.equal(r.code, 0)
    assert.match(r.stdout, new RegExp(`^Usage: kafkawire ${cmd}`))
  }
  const create = await cli(['topics', 'create', '--help'])
  assert.match(create.stdout, /--replication-factor R/)
  const version = await cli(['--version'])
  assert.equal(version.code, 0)
  assert.match(version.stdout, /^\d+\.\d+\.\d+/)
})
