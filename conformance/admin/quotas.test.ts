// Admin: client quotas (KIP-546). alterClientQuotas then describeClientQuotas with exact, default
// and "any" filters; removal; per-entity errors.
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { codeOf, eventually, needs, newAdmin, uniqueName } from './support.js'

/** An entity as text, independent of key order. */
const canon = (e: Record<string, string | null>): string => JSON.stringify(Object.entries(e).sort())

describe('admin client quotas', needs('quotas'), () => {
  const admin = newAdmin()
  const user = uniqueName('quota-user')
  const client = uniqueName('quota-client')

  after(async () => {
    try {
      await admin.alterClientQuotas([
        { entity: { user, 'client-id': client }, ops: [{ key: 'producer_byte_rate', value: null }, { key: 'consumer_byte_rate', value: null }] },
        { entity: { user }, ops: [{ key: 'request_percentage', value: null }] },
      ])
    } finally {
      await admin.close()
    }
  })

  test('alterClientQuotas then describeClientQuotas shows the values; removing them empties the entity', async () => {
    const res = await admin.alterClientQuotas([
      { entity: { user, 'client-id': client }, ops: [{ key: 'producer_byte_rate', value: 1048576 }, { key: 'consumer_byte_rate', value: 2097152 }] },
      { entity: { user }, ops: [{ key: 'request_percentage', value: 12.5 }] },
    ])
    assert.deepEqual(res.map(codeOf), ['none', 'none'])

    const exact = await eventually(async () => {
      const found = await admin.describeClientQuotas({ components: [{ entityType: 'user', name: user }, { entityType: 'client-id', name: client }], strict: true })
      assert.equal(found.length, 1)
      return found
    })
    assert.deepEqual(exact[0]!.entity, { user, 'client-id': client })
    assert.deepEqual(exact[0]!.values, { producer_byte_rate: 1048576, consumer_byte_rate: 2097152 })

    // Not strict: every entity of this user, with or without a client id.
    const forUser = await admin.describeClientQuotas({ components: [{ entityType: 'user', name: user }] })
    assert.deepEqual(
      forUser.map((e) => [canon(e.entity), e.values]).sort(),
      [
        [canon({ user }), { request_percentage: 12.5 }],
        [canon({ user, 'client-id': client }), { producer_byte_rate: 1048576, consumer_byte_rate: 2097152 }],
      ].sort(),
    )
    // Any client id (name omitted) finds ours among others.
    const anyClient = await admin.describeClientQuotas({ components: [{ entityType: 'client-id' }] })
    assert.ok(anyClient.some((e) => e.entity['client-id'] === client))

    const removed = await admin.alterClientQuotas([{ entity: { user, 'client-id': client }, ops: [{ key: 'producer_byte_rate', value: null }, { key: 'consumer_byte_rate', value: null }] }])
    assert.deepEqual(removed.map(codeOf), ['none'])
    await eventually(async () => {
      const left = await admin.describeClientQuotas({ components: [{ entityType: 'user', name: user }, { entityType: 'client-id', name: client }], strict: true })
      assert.deepEqual(left, [])
    })
  })

  test('default entities: set with null, found with a null name; validateOnly changes nothing', async () => {
    const res = await admin.alterClientQuotas([{ entity: { 'client-id': null }, ops: [{ key: 'producer_byte_rate', value: 999_999 }] }], { validateOnly: true })
    assert.deepEqual(res.map(codeOf), ['none'])
    const defaults = await admin.describeClientQuotas({ components: [{ entityType: 'client-id', name: null }], strict: true })
    assert.ok(!defaults.some((e) => e.values.producer_byte_rate === 999_999))
  })

  test('an invalid quota fails on its entity only', needs('config-validation'), async () => {
    const res = await admin.alterClientQuotas([
      { entity: { user: client }, ops: [{ key: 'no_such_quota', value: 1 }] },
      { entity: { user }, ops: [{ key: 'request_percentage', value: 25 }] },
    ])
    assert.deepEqual(res.map(codeOf), ['INVALID_REQUEST', 'none'])
    const [e] = await admin.describeClientQuotas({ components: [{ entityType: 'user', name: user }], strict: true })
    assert.deepEqual(e?.values, { request_percentage: 25 })
  })
})
