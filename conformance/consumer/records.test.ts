// What the consumer reads back: records the Java client wrote with every compression codec, field for field
// (keys, null keys, values, headers with null values, timestamps, offsets); and legacy message sets (magic 0
// and 1, plain and compressed wrappers) that a 3.x broker serves to old fetch versions, read through the
// consumer.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Cluster } from '../../src/client/cluster.js'
import { Consumer, type ConsumerMessage } from '../../src/consumer/consumer.js'
import { Producer } from '../../src/producer/index.js'
import { fetch as fetchApi } from '../../src/protocol/messages/fetch.js'
import { decodeRecordBatches } from '../../src/protocol/records/index.js'
import { FakeKafka } from '../../spec/consumer/support/fake-kafka.js'
import { brokers, createTopic, deleteTopic, noBrokers, plumbing, topicName } from '../support/kafka.js'
import { unsupportedReason } from '../support/target.js'
import { runJava, until } from './support.js'

let cluster: Cluster
const topics: string[] = []
const skipAll = noBrokers

before(async () => {
  if (skipAll) return
  cluster = await plumbing()
})

after(async () => {
  if (skipAll) return
  await deleteTopic(cluster, ...topics)
  await cluster.close()
})

/** Reads every record of the given partitions from offset 0 until `count` per partition. */
async function readAll(bootstrap: string | string[], topic: string, partitions: number, count: number): Promise<Array<ConsumerMessage>> {
  const c = new Consumer({ brokers: bootstrap, clientId: 'kafkawire-records-conformance', maxWaitMs: 100 })
  const tps = Array.from({ length: partitions }, (_, partition) => ({ topic, partition }))
  c.assign(tps)
  for (const tp of tps) c.seek(tp, 0n)
  const got: ConsumerMessage[] = []
  const run = c.run({ eachMessage: ({ message }) => void got.push(message) })
  try {
    await until(`${partitions * count} records read`, () => got.length >= partitions * count || undefined, 60_000)
  } finally {
    await c.close()
    await run
  }
  return got
}

/** KwJavaClient.value(). */
function javaValue(prefix: string, i: number): string {
  let s = `${prefix}-${i}-`
  for (let k = 0; k < (i * 37) % 700; k++) s += String.fromCharCode(97 + ((k + i) % 26))
  return s
}

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd']
const COUNT = 300

describe('records written by the Java client', { skip: skipAll || (unsupportedReason('java-tools') ?? false) }, () => {
  test('every codec (none, gzip, snappy, lz4, zstd) reads back exactly: offsets, keys, null keys, values, headers, timestamps', async (t) => {
    const topic = topicName('java-codecs')
    topics.push(topic)
    await createTopic(cluster, topic, { partitions: CODECS.length })
    await runJava(['produce', brokers.join(','), topic, CODECS.join(','), String(COUNT)])
    const got = await readAll(brokers, topic, CODECS.length, COUNT)
    assert.equal(got.length, CODECS.length * COUNT)
    CODECS.forEach((codec, p) => {
      const records = got.filter((m) => m.partition === p)
      assert.deepEqual(records.map((m) => m.offset), Array.from({ length: COUNT }, (_, i) => BigInt(i)), `${codec}: offsets 0..${COUNT - 1} in order`)
      records.forEach((m, i) => {
        const what = `${codec} record ${i}`
        assert.equal(m.key === null ? null : m.key.toString(), i % 7 === 0 ? null : `k${i}`, what)
        assert.equal(m.value!.toString(), javaValue(codec, i), what)
        assert.equal(m.timestamp, 1_700_000_000_000 + i, what)
        assert.deepEqual(
          m.headers.map((h) => [h.key, h.value === null ? null : h.value.toString()]),
          i % 3 === 0 ? [['h', `x${i}`], ['nul', null]] : [],
          what,
        )
      })
    })
    t.diagnostic(`${CODECS.length * COUNT} records in ${CODECS.length} codecs`)
  })
})

/** Raw Fetch of a partition from `offset` at one version: the record data as the broker sent it. */
async function rawFetch(topic: string, version: number, offset = 0n): Promise<Buffer> {
  const info = (await cluster.topicsMetadata([topic]))[0]!
  const res = await cluster.send(
    info.partitions[0]!.leader,
    fetchApi,
    {
      replicaId: -1,
      maxWaitMs: 100,
      minBytes: 1,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic, topicId: info.topicId, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [],
      rackId: '',
    },
    { version },
  )
  const p = res.responses[0]!.partitions[0]!
  assert.equal(p.errorCode, 0, `Fetch v${version}: error ${p.errorCode}`)
  return p.records ?? Buffer.alloc(0)
}

/**
 * The whole partition at one fetch version, as complete batches (or legacy messages): a down-converted
 * answer may end with a cut message (its size is estimated from the stored batches, and the first batch
 * is always whole), after which the next fetch starts.
 */
async function rawFetchAll(topic: string, version: number, end: bigint): Promise<Buffer> {
  const parts: Buffer[] = []
  for (let offset = 0n; offset < end; ) {
    const data = await rawFetch(topic, version, offset)
    const d = await decodeRecordBatches(data)
    assert.ok(d.batches.length > 0, `Fetch v${version} at ${offset}: no complete batch`)
    parts.push(data.subarray(0, d.bytesConsumed))
    offset = d.batches[d.batches.length - 1]!.lastOffset + 1n
  }
  return Buffer.concat(parts)
}

describe('legacy message formats (magic 0 and 1)', { skip: skipAll || (unsupportedReason('legacy-fetch') ?? false) }, () => {
  test('message sets a 3.x broker down-converts for Fetch v0-v3 (plain and compressed wrappers) are read by the consumer record for record', async (t) => {
    // The topic asks for the 0.10.2 format; a broker since 3.0 stores v2 batches anyway (KIP-724) and only
    // down-converts when an old fetch version asks.
    const topic = topicName('legacy')
    topics.push(topic)
    await createTopic(cluster, topic, { partitions: 1, configs: { 'message.format.version': '0.10.2' } })
    const written: Array<{ key: string; value: string; timestamp: number }> = []
    // Legacy formats know none, gzip, snappy and lz4 (zstd needs v2); one batch per codec.
    for (const [k, compression] of (['none', 'gzip', 'snappy', 'lz4'] as const).entries()) {
      const p = new Producer({ brokers, compression, lingerMs: 5 })
      const messages = Array.from({ length: 6 }, (_, i) => ({ key: `k-${compression}-${i}`, value: `v-${compression}-${i}-${'x'.repeat(i * 40)}`, timestamp: 1_700_000_000_000 + k * 100 + i }))
      await p.send({ topic, messages })
      await p.close()
      written.push(...messages)
    }
    const stored = await decodeRecordBatches(await rawFetch(topic, 4))
    t.diagnostic(`stored with message.format.version=0.10.2: magic ${[...new Set(stored.batches.map((b) => b.magic))].join(',')}`)
    assert.deepEqual([...new Set(stored.batches.map((b) => b.magic))], [2], 'the broker stores v2 batches: message.format.version is ignored since 3.0 (KIP-724)')

    for (const [version, magic] of [[1, 0], [3, 1]] as const) {
      const data = await rawFetchAll(topic, version, BigInt(written.length))
      const decoded = await decodeRecordBatches(data)
      assert.deepEqual([...new Set(decoded.batches.map((b) => b.magic))], [magic], `Fetch v${version} answers with magic ${magic}`)
      const codecs = [...new Set(decoded.batches.map((b) => b.compression))].sort()
      assert.deepEqual(codecs, [0, 1, 2, 3], `Fetch v${version}: plain messages and gzip, snappy, lz4 wrappers`)
      // Serve exactly those bytes to a consumer, as a broker would for a log of legacy messages.
      const fake = await FakeKafka.start()
      try {
        fake.createTopic('legacy', 1)
        fake.appendRaw('legacy', 0, data.subarray(0, decoded.bytesConsumed), 0n, BigInt(written.length - 1))
        const got = await readAll(fake.bootstrap, 'legacy', 1, written.length)
        assert.deepEqual(got.map((m) => m.offset), written.map((_, i) => BigInt(i)), `magic ${magic}: every offset, in order`)
        got.forEach((m, i) => {
          assert.equal(m.key!.toString(), written[i]!.key)
          assert.equal(m.value!.toString(), written[i]!.value)
          // Magic 0 has no timestamps; magic 1 carries the producer's.
          assert.equal(m.timestamp, magic === 0 ? -1 : written[i]!.timestamp, `magic ${magic} record ${i}: timestamp`)
          assert.equal(m.leaderEpoch, -1)
        })
      } finally {
        await fake.close()
      }
    }
  })
})
