// Admin: configs. incrementalAlterConfigs (set, append, subtract, delete) and describeConfigs
// (topic, broker and broker-logger resources, synonyms, documentation, per-resource errors).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { ResourceConfigs } from '../../src/client/admin/index.js'
import { BrokerError } from '../../src/protocol/errors.js'
import { codeOf, createTopics, deleteTopicsQuietly, eventually, needs, newAdmin, uniqueName } from './support.js'

function config(r: ResourceConfigs | undefined, name: string) {
  assert.ok(r !== undefined && r.error === null, r?.error?.message ?? 'no result')
  return r.configs.find((c) => c.name === name)
}

describe('admin configs', needs('describe-configs', 'alter-configs'), () => {
  const admin = newAdmin()
  const topic = uniqueName('configs')
  const missing = uniqueName('missing')
  let brokerId = ''

  before(async () => {
    await createTopics(admin, [{ name: topic, partitions: 1 }])
    brokerId = String((await admin.describeCluster()).brokers[0]!.nodeId)
  })

  after(async () => {
    try {
      await deleteTopicsQuietly(admin, [topic])
    } finally {
      await admin.close()
    }
  })

  test('describeConfigs returns the value set by incrementalAlterConfigs, as a dynamic topic config', needs('config-sources'), async () => {
    const res = await admin.incrementalAlterConfigs([{ type: 'topic', name: topic, ops: [{ name: 'retention.ms', op: 'set', value: '7200000' }, { name: 'max.message.bytes', op: 'set', value: '65536' }] }])
    assert.deepEqual(res.map(codeOf), ['none'])
    // KRaft: the broker applies the committed change a moment after the controller answered.
    const [d] = await eventually(async () => {
      const r = await admin.describeConfigs([{ type: 'topic', name: topic }])
      assert.equal(config(r[0], 'max.message.bytes')?.value, '65536')
      return r
    })
    const retention = config(d, 'retention.ms')
    assert.equal(retention?.value, '7200000')
    assert.equal(retention?.source, 'dynamic-topic')
    assert.equal(retention?.isDefault, false)
    assert.equal(config(d, 'max.message.bytes')?.value, '65536')
    // Everything else is still there, e.g. a default.
    assert.equal(config(d, 'segment.bytes')?.isDefault, true)
  })

  test('append and subtract edit list configs; delete restores the default', needs('alter-config-lists'), async () => {
    const set = await admin.incrementalAlterConfigs([{ type: 'topic', name: topic, ops: [{ name: 'cleanup.policy', op: 'append', value: 'compact' }] }])
    assert.deepEqual(set.map(codeOf), ['none'])
    const policy = async () => config((await admin.describeConfigs([{ type: 'topic', name: topic, keys: ['cleanup.policy'] }]))[0], 'cleanup.policy')?.value?.split(',').sort()
    await eventually(async () => assert.deepEqual(await policy(), ['compact', 'delete']))
    const sub = await admin.incrementalAlterConfigs([{ type: 'topic', name: topic, ops: [{ name: 'cleanup.policy', op: 'subtract', value: 'delete' }] }])
    assert.deepEqual(sub.map(codeOf), ['none'])
    await eventually(async () => assert.deepEqual(await policy(), ['compact']))
    const del = await admin.incrementalAlterConfigs([{ type: 'topic', name: topic, ops: [{ name: 'cleanup.policy', op: 'delete' }, { name: 'retention.ms', op: 'delete' }] }])
    assert.deepEqual(del.map(codeOf), ['none'])
    await eventually(async () => {
      const [d] = await admin.describeConfigs([{ type: 'topic', name: topic, keys: ['cleanup.policy', 'retention.ms'] }])
      assert.equal(d!.error, null)
      if (d!.error === null) assert.deepEqual(d!.configs.map((c) => [c.name, c.source]).sort(), [['cleanup.policy', 'default'], ['retention.ms', 'default']])
    })
  })

  test('validateOnly checks without changing; a bad value fails on its resource only', needs('config-validation'), async () => {
    const other = { type: 'topic' as const, name: topic, ops: [{ name: 'retention.ms', op: 'set' as const, value: '1000' }] }
    const res = await admin.incrementalAlterConfigs([other, { type: 'topic', name: missing, ops: [{ name: 'retention.ms', op: 'set', value: '1' }] }], { validateOnly: true })
    assert.deepEqual(res.map(codeOf), ['none', 'UNKNOWN_TOPIC_OR_PARTITION'])
    const [d] = await admin.describeConfigs([{ type: 'topic', name: topic, keys: ['retention.ms'] }])
    assert.notEqual(config(d, 'retention.ms')?.value, '1000')
    const bad = await admin.incrementalAlterConfigs([{ type: 'topic', name: topic, ops: [{ name: 'retention.ms', op: 'set', value: 'soon' }] }])
    assert.equal(codeOf(bad[0]!), 'INVALID_CONFIG')
  })

  test('describeConfigs: only the keys asked for, with synonyms and documentation', needs('config-details'), async () => {
    const [d] = await admin.describeConfigs([{ type: 'topic', name: topic, keys: ['min.insync.replicas'] }], { includeSynonyms: true, includeDocumentation: true })
    assert.equal(d!.error, null)
    if (d!.error !== null) return
    assert.deepEqual(d!.configs.map((c) => c.name), ['min.insync.replicas'])
    const c = d!.configs[0]!
    assert.equal(c.type, 'int')
    assert.ok(c.documentation !== null && c.documentation.length > 20)
    // The broker-level setting the topic inherits shows as a synonym.
    assert.ok(c.synonyms.some((s) => s.name === 'min.insync.replicas'), JSON.stringify(c.synonyms))
  })

  test('broker configs come from that broker; broker loggers are listed', needs('config-details'), async () => {
    const [b, l] = await admin.describeConfigs([
      { type: 'broker', name: brokerId, keys: ['log.dirs', 'num.partitions'] },
      { type: 'broker-logger', name: brokerId },
    ])
    const dirs = config(b, 'log.dirs')
    assert.ok(dirs?.value?.includes('data-'), `log.dirs = ${dirs?.value}`)
    assert.equal(dirs?.source, 'static-broker')
    assert.equal(config(b, 'num.partitions')?.value, '1')
    assert.ok(l!.error === null && l!.configs.length > 0)
    if (l!.error === null) assert.ok(l!.configs.some((c) => c.name === 'root' || c.name.startsWith('kafka')), 'loggers')
  })

  test('per-resource errors: a missing topic next to an existing one', needs('config-errors'), async () => {
    const res = await admin.describeConfigs([{ type: 'topic', name: missing }, { type: 'topic', name: topic, keys: ['retention.ms'] }])
    assert.deepEqual(res.map(codeOf), ['UNKNOWN_TOPIC_OR_PARTITION', 'none'])
    const e = res[0]!.error
    assert.ok(e instanceof BrokerError)
    assert.equal(e.context.topic, missing)
  })
})
