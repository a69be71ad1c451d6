// Admin: offsets. listOffsets (earliest, latest, max-timestamp, by timestamp, read_committed) after
// producing N records with the reference producer, and deleteRecords moving the low watermark.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { BrokerError } from '../../src/protocol/errors.js'
import { codeOf, createTopics, deleteTopicsQuietly, needs, newAdmin, produce, uniqueName } from './support.js'

const N = 50

describe('admin offsets', needs('java-tools'), () => {
  const admin = newAdmin()
  const topic = uniqueName('offsets')
  const empty = uniqueName('empty')
  let before0 = 0
  let after0 = 0

  before(async () => {
    await createTopics(admin, [{ name: topic, partitions: 1 }, { name: empty, partitions: 2 }])
    before0 = Date.now()
    await produce(topic, N)
    after0 = Date.now()
  })

  after(async () => {
    try {
      await deleteTopicsQuietly(admin, [topic, empty])
    } finally {
      await admin.close()
    }
  })

  test('listOffsets after producing N records: earliest 0, latest N, max-timestamp N-1', needs('list-offsets-latest'), async () => {
    const res = await admin.listOffsets([
      { topic, partition: 0, spec: 'earliest' },
      { topic: empty, partition: 0, spec: 'latest' },
      { topic: empty, partition: 1, spec: 'earliest' },
    ])
    assert.deepEqual(res.map(codeOf), ['none', 'none', 'none'])
    assert.deepEqual(
      res.map((r) => (r.error === null ? r.offset : null)),
      [0n, 0n, 0n],
    )
    const [latest] = await admin.listOffsets([{ topic, partition: 0, spec: 'latest' }])
    assert.ok(latest!.error === null && latest!.offset === BigInt(N), `latest ${latest!.error === null ? latest!.offset : latest!.error}`)
    assert.ok(latest!.error === null && latest!.leaderEpoch !== null && latest!.leaderEpoch >= 0)
    const [max] = await admin.listOffsets([{ topic, partition: 0, spec: 'max-timestamp' }])
    assert.equal(max!.error, null)
    if (max!.error === null) {
      // The reference producer stamps each record with the time it was sent: the last has the largest.
      assert.ok(max!.offset !== null && max!.offset >= 0n && max!.offset < BigInt(N))
      assert.ok(max!.timestamp !== null && max!.timestamp >= before0 - 1000 && max!.timestamp <= after0 + 1000, `timestamp ${max!.timestamp}`)
    }
  })

  test('listOffsets by timestamp: before the first record is offset 0, after the last is no offset', needs('list-offsets-by-time'), async () => {
    const res = await admin.listOffsets([
      { topic, partition: 0, spec: { timestamp: before0 - 60_000 } },
      { topic: empty, partition: 0, spec: { timestamp: 0 } },
    ])
    assert.equal(res[0]!.error, null)
    if (res[0]!.error === null) {
      assert.equal(res[0]!.offset, 0n)
      assert.ok(res[0]!.timestamp !== null && res[0]!.timestamp >= before0 - 1000)
    }
    assert.ok(res[1]!.error === null && res[1]!.offset === null && res[1]!.timestamp === null)
    const [future] = await admin.listOffsets([{ topic, partition: 0, spec: { timestamp: after0 + 3_600_000 } }])
    assert.ok(future!.error === null && future!.offset === null)
  })

  test('listOffsets read_committed: no open transactions, so the last stable offset is the end', needs('list-offsets-latest'), async () => {
    const [r] = await admin.listOffsets([{ topic, partition: 0, spec: 'latest' }], { isolationLevel: 'read_committed' })
    assert.ok(r!.error === null && r!.offset === BigInt(N))
  })

  test('listOffsets per-partition errors: a missing partition and a missing topic next to a good one', async () => {
    const missing = uniqueName('missing')
    const res = await admin.listOffsets([
      { topic, partition: 7, spec: 'latest' },
      { topic: missing, partition: 0, spec: 'latest' },
      { topic, partition: 0, spec: 'latest' },
    ])
    assert.deepEqual(res.map(codeOf), ['UNKNOWN_TOPIC_OR_PARTITION', 'UNKNOWN_TOPIC_OR_PARTITION', 'none'])
    const e = res[0]!.error
    assert.ok(e instanceof BrokerError)
    assert.deepEqual([e.context.topic, e.context.partition], [topic, 7])
  })

  test('deleteRecords moves the low watermark; listOffsets earliest follows', needs('delete-records'), async () => {
    const [d] = await admin.deleteRecords([{ topic, partition: 0, offset: 20n }])
    assert.ok(d!.error === null && d!.lowWatermark === 20n, `${d!.error ?? (d as { lowWatermark: bigint }).lowWatermark}`)
    const [e] = await admin.listOffsets([{ topic, partition: 0, spec: 'earliest' }])
    assert.ok(e!.error === null && e!.offset === 20n)
    // Beyond the end is an error for that partition only.
    const res = await admin.deleteRecords([{ topic, partition: 0, offset: BigInt(N + 10) }, { topic: empty, partition: 1, offset: 0n }])
    assert.deepEqual(res.map(codeOf), ['OFFSET_OUT_OF_RANGE', 'none'])
    // -1: up to the high watermark, i.e. everything.
    const [all] = await admin.deleteRecords([{ topic, partition: 0, offset: -1n }])
    assert.ok(all!.error === null && all!.lowWatermark === BigInt(N))
    const [e2] = await admin.listOffsets([{ topic, partition: 0, spec: 'earliest' }])
    assert.ok(e2!.error === null && e2!.offset === BigInt(N))
  })
})
