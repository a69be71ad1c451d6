import { test } from 'node:test'
import assert from 'node:assert/strict'
import { correctAdvertisedVersions, type VersionRange } from '../../src/client/versions.js'

test('a Kafka 4 broker advertising Produce v0 (KAFKA-18659) is taken to start at v3', () => {
  const apis = new Map<number, VersionRange>([
    [0, { minVersion: 0, maxVersion: 13 }],
    [1, { minVersion: 4, maxVersion: 18 }],
  ])
  correctAdvertisedVersions(apis)
  assert.deepEqual(apis.get(0), { minVersion: 3, maxVersion: 13 })
})

test('a broker that still serves Fetch v0 keeps its advertised Produce range', () => {
  const apis = new Map<number, VersionRange>([
    [0, { minVersion: 0, maxVersion: 11 }],
    [1, { minVersion: 0, maxVersion: 17 }],
  ])
  correctAdvertisedVersions(apis)
  assert.deepEqual(apis.get(0), { minVersion: 0, maxVersion: 11 })
})
