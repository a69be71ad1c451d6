// `kafkawire groups ...` against KAFKA_BROKERS, on a group whose offsets are committed through the admin API.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { requires } from '../support/target.js'
import { assertOneLineError, brokers, cli, cliJson, ensureBuilt, unique, withAdmin } from './helpers.js'

const P = 3
const PER_PARTITION = 100
const topic = unique('cli-groups')
const group = unique('cli-group')

async function committed(): Promise<Array<string | null>> {
  const rows = await withAdmin((a) => a.listConsumerGroupOffsets(group, { topics: [topic] }))
  return rows.map((r) => (r.error === null && r.offset !== null ? String(r.offset) : null))
}

before(async () => {
  ensureBuilt()
  const [r] = await withAdmin((a) => a.createTopics([{ name: topic, partitions: P, replicationFactor: 1 }]))
  assert.equal(r!.error, null)
  for (let p = 0; p < P; p++) {
    const input = Array.from({ length: PER_PARTITION }, (_, i) => `${p}-${i}`).join('\n')
    const res = await cli(['--brokers', brokers(), 'produce', '-t', topic, '-p', String(p)], { input })
    assert.equal(res.code, 0, res.stderr)
  }
  const offsets = Array.from({ length: P }, (_, partition) => ({ topic, partition, offset: BigInt(10 * (partition + 1)) }))
  const results = await withAdmin((a) => a.alterConsumerGroupOffsets(group, offsets))
  assert.ok(results.every((x) => x.error === null), JSON.stringify(results))
})

after(async () => {
  await withAdmin(async (a) => {
    await a.deleteGroups([group])
    await a.deleteTopics([topic])
  })
})

test('groups list and describe show the group, its committed offsets and lag', requires('group-states', 'list-offsets-latest'), async () => {
  const listed = await cliJson<{ groups: any[] }>(['groups', 'list'])
  const g = listed.groups.find((x) => x.groupId === group)
  assert.ok(g, `${group} not in ${JSON.stringify(listed.groups.map((x) => x.groupId))}`)
  assert.equal(g.state, 'Empty')
  assert.equal(typeof g.coordinator, 'number')
  const empty = await cliJson<{ groups: any[] }>(['groups', 'list', '--state', 'Stable'])
  assert.ok(!empty.groups.some((x) => x.groupId === group), '--state filters')

  const d = await cliJson<{ groups: any[] }>(['groups', 'describe', group])
  assert.equal(d.groups.length, 1)
  const desc = d.groups[0]
  assert.equal(desc.groupId, group)
  assert.equal(desc.state, 'Empty')
  assert.equal(desc.type, 'classic')
  assert.deepEqual(desc.members, [])
  assert.deepEqual(
    desc.offsets,
    Array.from({ length: P }, (_, partition) => ({
      topic,
      partition,
      offset: String(10 * (partition + 1)),
      logEndOffset: String(PER_PARTITION),
      lag: String(PER_PARTITION - 10 * (partition + 1)),
      memberId: null,
    })),
  )

  const human = await cli(['--brokers', brokers(), 'groups', 'describe', group])
  assert.equal(human.code, 0)
  assert.match(human.stdout, new RegExp(`^Group: ${group}  State: Empty  Type: classic`))
  assert.match(human.stdout, /\nTOPIC\s+PARTITION\s+COMMITTED\s+LOG-END\s+LAG\s+MEMBER-ID\n/)
  assert.match(human.stdout, new RegExp(`\\n${topic}\\s+0\\s+10\\s+100\\s+90\\s+-\\n`))
})

test('groups reset-offsets: dry run, earliest, latest, offset, datetime', requires('list-offsets-latest'), async () => {
  const dry = await cliJson(['groups', 'reset-offsets', group, '--topic', topic, '--to-earliest', '--dry-run'])
  assert.equal(dry.dryRun, true)
  assert.deepEqual(
    dry.offsets.map((o: any) => [o.partition, o.previousOffset, o.offset]),
    [
      [0, '10', '0'],
      [1, '20', '0'],
      [2, '30', '0'],
    ],
  )
  assert.deepEqual(await committed(), ['10', '20', '30'], 'a dry run commits nothing')

  const latest = await cliJson(['groups', 'reset-offsets', group, '--topic', topic, '--to-latest'])
  assert.equal(latest.dryRun, false)
  assert.deepEqual(await committed(), ['100', '100', '100'])
  assert.deepEqual(
    latest.offsets.map((o: any) => o.offset),
    ['100', '100', '100'],
  )

  // Some partitions only; an offset past the end is clamped to the end.
  await cliJson(['groups', 'reset-offsets', group, '--topic', `${topic}:0,2`, '--to-offset', '42'])
  assert.deepEqual(await committed(), ['42', '100', '42'])
  await cliJson(['groups', 'reset-offsets', group, '--topic', `${topic}:1`, '--to-offset', '5000'])
  assert.deepEqual(await committed(), ['42', '100', '42'])

  await cliJson(['groups', 'reset-offsets', group, '--all-topics', '--to-earliest'])
  assert.deepEqual(await committed(), ['0', '0', '0'])

  // After the last record: the log end. Before the first: the first record.
  await cliJson(['groups', 'reset-offsets', group, '--topic', topic, '--to-datetime', new Date(Date.now() + 3_600_000).toISOString()])
  assert.deepEqual(await committed(), ['100', '100', '100'])
  await cliJson(['groups', 'reset-offsets', group, '--topic', topic, '--to-datetime', '2001-01-01T00:00:00Z'])
  assert.deepEqual(await committed(), ['0', '0', '0'])

  const human = await cli(['--brokers', brokers(), 'groups', 'reset-offsets', group, '--topic', topic, '--to-latest', '--dry-run'])
  assert.equal(human.code, 0)
  assert.match(human.stdout, /^TOPIC\s+PARTITION\s+PREVIOUS\s+NEW-OFFSET\n/)
  assert.match(human.stdout, /Dry run: nothing was committed\.\n$/)
})

test('groups reset-offsets on a missing topic fails with exit 1', async () => {
  const r = await cli(['--brokers', brokers(), 'groups', 'reset-offsets', group, '--topic', unique('cli-no-topic'), '--to-earliest'])
  assertOneLineError(r, 1, /UNKNOWN_TOPIC_OR_PARTITION/)
})

test('groups delete removes the group; describing it then fails', requires('group-states'), async () => {
  const other = unique('cli-group-del')
  const r = await withAdmin((a) => a.alterConsumerGroupOffsets(other, [{ topic, partition: 0, offset: 1n }]))
  assert.equal(r[0]!.error, null)
  const deleted = await cliJson(['groups', 'delete', other])
  assert.deepEqual(deleted, { groups: [{ groupId: other, deleted: true }] })
  const listed = await cliJson<{ groups: any[] }>(['groups', 'list'])
  assert.ok(!listed.groups.some((x) => x.groupId === other))
  assertOneLineError(await cli(['--brokers', brokers(), 'groups', 'describe', other]), 1, /GROUP_ID_NOT_FOUND/)
  assertOneLineError(await cli(['--brokers', brokers(), 'groups', 'delete', other]), 1, /GROUP_ID_NOT_FOUND/)
})
