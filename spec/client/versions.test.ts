import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { UnsupportedApiError } from '../../src/client/errors.js'
import { metadata } from '../../src/protocol/messages/metadata.js'
import { apiVersions } from '../../src/protocol/messages/api-versions.js'
import { heartbeat } from '../../src/protocol/messages/heartbeat.js'
import { connectionTo, mockBroker, rejection } from '../support/client.js'
import { reply } from '../support/mock-broker.js'

describe('ApiVersions negotiation (KIP-35, KIP-511)', () => {
  test('a broker that does not know our ApiVersions version answers v0 + UNSUPPORTED_VERSION; we retry at the version it names', async (t) => {
    const broker = await mockBroker(t)
    broker.apiVersionsMax = 2
    const conn = connectionTo(t, broker)
    await conn.connect()
    assert.deepEqual(broker.requestsOf(apiVersions).map((r) => r.apiVersion), [4, 2])
    assert.equal(conn.versions.negotiatedWith, 2)
    assert.deepEqual(conn.versions.get(apiVersions.apiKey), { minVersion: 0, maxVersion: 2 })
    assert.deepEqual(conn.versions.get(metadata.apiKey), { minVersion: metadata.minVersion, maxVersion: metadata.maxVersion })
    assert.equal(conn.state, 'ready')
  })

  test('for any highest ApiVersions version the broker knows, negotiation lands on it in at most two requests', async (t) => {
    const broker = await mockBroker(t)
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 4 }), async (max) => {
        broker.apiVersionsMax = max
        const before = broker.requestsOf(apiVersions).length
        const conn = connectionTo(t, broker)
        await conn.connect()
        const sent = broker.requestsOf(apiVersions).slice(before).map((r) => r.apiVersion)
        assert.deepEqual(sent, max === 4 ? [4] : [4, max])
        assert.equal(conn.versions.negotiatedWith, max)
        conn.destroy()
      }),
      { numRuns: 15 },
    )
  })

  test('the v0 UNSUPPORTED_VERSION body is read whatever API ranges it carries', async (t) => {
    const broker = await mockBroker(t)
    const range = fc.record({ apiKey: fc.integer({ min: 0, max: 32767 }), minVersion: fc.integer({ min: 0, max: 40 }), maxVersion: fc.integer({ min: 0, max: 40 }) })
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 3 }), fc.array(range, { maxLength: 80 }), async (max, others) => {
        const apiKeys = [...others.filter((k) => k.apiKey !== 18), { apiKey: 18, minVersion: 0, maxVersion: max }]
        broker.on(apiVersions, (req) =>
          req.apiVersion > max ? reply({ version: 0, body: { errorCode: 35, apiKeys } }) : { errorCode: 0, apiKeys: broker.advertised() },
        )
        const conn = connectionTo(t, broker)
        await conn.connect()
        assert.equal(conn.versions.negotiatedWith, max)
        conn.destroy()
      }),
      { numRuns: 40 },
    )
  })

  test('an UNSUPPORTED_VERSION answer that names no ApiVersions range falls back to v0', async (t) => {
    const broker = await mockBroker(t)
    broker.on(apiVersions, (req) =>
      req.apiVersion > 0
        ? reply({ version: 0, body: { errorCode: 35, apiKeys: [] } })
        : { errorCode: 0, apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 0 }, { apiKey: 3, minVersion: 0, maxVersion: 5 }] },
    )
    const conn = connectionTo(t, broker)
    await conn.connect()
    assert.deepEqual(broker.requestsOf(apiVersions).map((r) => r.apiVersion), [4, 0])
    assert.equal(conn.pickVersion(metadata), 5)
  })

  test('finalized feature levels are read from ApiVersions v3+', async (t) => {
    const broker = await mockBroker(t)
    broker.on(apiVersions, () => ({
      errorCode: 0,
      apiKeys: broker.advertised(),
      finalizedFeaturesEpoch: 7n,
      finalizedFeatures: [
        { name: 'transaction.version', minVersionLevel: 0, maxVersionLevel: 2 },
        { name: 'group.version', minVersionLevel: 0, maxVersionLevel: 1 },
      ],
    }))
    const conn = connectionTo(t, broker)
    await conn.connect()
    assert.equal(conn.versions.featureLevel('transaction.version'), 2)
    assert.equal(conn.versions.featureLevel('group.version'), 1)
    assert.equal(conn.versions.featureLevel('share.version'), 0)
  })

  test('client software name and version are sanitised to what KIP-511 allows', async (t) => {
    const broker = await mockBroker(t)
    const conn = connectionTo(t, broker, { clientSoftwareName: '@acme/kafka client', clientSoftwareVersion: '1.0.0+build 7' })
    await conn.connect()
    const [req] = broker.requestsOf(apiVersions)
    assert.equal(req!.body.clientSoftwareName, 'acme-kafka-client')
    assert.equal(req!.body.clientSoftwareVersion, '1.0.0-build-7')
  })
})

describe('version picking', () => {
  test('requests go out at the highest version both sides support', async (t) => {
    const broker = await mockBroker(t)
    broker.versionOverrides.set(metadata.apiKey, { minVersion: 0, maxVersion: 7 })
    const conn = connectionTo(t, broker)
    await conn.connect()
    assert.equal(conn.pickVersion(metadata), 7)
    await conn.send(metadata, { topics: [] })
    assert.deepEqual(broker.requestsOf(metadata).map((r) => r.apiVersion), [7])
  })

  test('for any broker range overlapping ours, the pick is the top of the overlap', async (t) => {
    const broker = await mockBroker(t)
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 }), async (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a]
        broker.versionOverrides.set(metadata.apiKey, { minVersion: lo, maxVersion: hi })
        const conn = connectionTo(t, broker)
        await conn.connect()
        const top = Math.min(hi, metadata.maxVersion)
        if (top >= Math.max(lo, metadata.minVersion)) assert.equal(conn.pickVersion(metadata), top)
        else assert.throws(() => conn.pickVersion(metadata), UnsupportedApiError)
        conn.destroy()
      }),
      { numRuns: 30 },
    )
  })

  test('an API the broker does not offer fails with UnsupportedApiError naming it', async (t) => {
    const broker = await mockBroker(t)
    broker.versionOverrides.set(heartbeat.apiKey, null)
    const conn = connectionTo(t, broker)
    await conn.connect()
    const err = await rejection(conn.send(heartbeat, { groupId: 'g', generationId: 1, memberId: 'm' }), 'a Heartbeat to a broker without it')
    assert.ok(err instanceof UnsupportedApiError)
    assert.equal(err.code, 'UNSUPPORTED_VERSION')
    assert.equal(err.retriable, false)
    assert.match(err.message, /does not support Heartbeat \(API key 12\)/)
    assert.equal(err.context.apiName, 'Heartbeat')
    assert.equal(heartbeat.apiKey, err.context.apiKey)
    assert.equal(conn.state, 'ready', 'an unsupported API does not cost the connection')
  })

  test('disjoint version ranges fail with UnsupportedApiError giving both ranges', async (t) => {
    const broker = await mockBroker(t)
    broker.versionOverrides.set(metadata.apiKey, { minVersion: 50, maxVersion: 60 })
    const conn = connectionTo(t, broker)
    await conn.connect()
    const err = await rejection(conn.send(metadata, { topics: [] }), 'a Metadata with no common version')
    assert.ok(err instanceof UnsupportedApiError)
    assert.match(err.message, new RegExp(`no common version of Metadata: broker 127\\.0\\.0\\.1:\\d+ supports 50-60, this client ${metadata.minVersion}-${metadata.maxVersion}`))
  })
})
