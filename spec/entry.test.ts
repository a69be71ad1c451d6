// The `kafkawire` entry point exports exactly the public surface: adding something here is a decision.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as kafkawire from '../src/index.js'

test('the package entry exports the clients, the assignors, the typed errors and the serde helpers, and nothing internal', () => {
  assert.deepEqual(Object.keys(kafkawire).sort(), [
    'AbortError',
    'Admin',
    'AuthenticationError',
    'BrokerError',
    'BufferExhaustedError',
    'CircuitOpenError',
    'ClosedError',
    'CommitFailedError',
    'ConfigError',
    'ConnectionError',
    'Consumer',
    'DeadlineExceededError',
    'DeliveryTimeoutError',
    'GroupMembershipError',
    'KafkawireError',
    'LogTruncationError',
    'NoOffsetError',
    'ProduceError',
    'Producer',
    'ProducerFatalError',
    'ProducerFencedError',
    'ProtocolError',
    'RecordTooLargeError',
    'RequestTimeoutError',
    'SerializationError',
    'TransactionAbortableError',
    'TransactionStateError',
    'UnsupportedApiError',
    'UnsupportedVersionError',
    'cooperativeStickyAssignor',
    'deserializers',
    'partitionForKey',
    'rangeAssignor',
    'roundRobinAssignor',
    'serializers',
  ])
})

test('every exported error class is a KafkawireError with a stable code', () => {
  const errors = Object.entries(kafkawire).filter(([name]) => name.endsWith('Error') && name !== 'KafkawireError')
  assert.ok(errors.length > 20)
  for (const [name, cls] of errors) {
    assert.ok((cls as { prototype: unknown }).prototype instanceof kafkawire.KafkawireError, `${name} extends KafkawireError`)
  }
  const e = new kafkawire.BrokerError(3, { topic: 't' })
  assert.equal(e.code, 'UNKNOWN_TOPIC_OR_PARTITION')
  assert.equal(e.name, 'BrokerError')
})

test('partitionForKey is the Java client\'s: toPositive(murmur2(key)) % partitions', () => {
  // murmur2 values from Kafka's UtilsTest.testMurmur2.
  const java: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ]
  for (const [key, hash] of java) {
    for (const n of [1, 6, 7, 100, 1000]) assert.equal(kafkawire.partitionForKey(Buffer.from(key), n), (hash & 0x7fffffff) % n, `${key} over ${n}`)
  }
})
