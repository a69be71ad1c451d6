// Records produced by kafkawire read back byte for byte: every codec, every
// partitioner, keys, headers (repeated keys, null values), tombstones, null
// and empty keys, explicit timestamps, acks 0, 1 and all.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Cluster } from '../../src/client/cluster.js'
import { Producer } from '../../src/producer/index.js'
import type { CompressionName, PartitionerSpec, ProducerMessage } from '../../src/producer/index.js'
import { partitionForKey } from '../../src/producer/partitioner.js'
import { CompressionCodec } from '../../src/protocol/compression/index.js'
import { brokers, createTopic, deleteTopic, noBrokers, plumbing, topicName } from '../support/kafka.js'
import { readPartition, type ReadRecord } from '../support/read-partition.js'

const PARTITIONS = 3
const CODECS: Array<[CompressionName, CompressionCodec]> = [
  ['none', CompressionCodec.None],
  ['gzip', CompressionCodec.Gzip],
  ['snappy', CompressionCodec.Snappy],
  ['lz4', CompressionCodec.Lz4],
  ['zstd', CompressionCodec.Zstd],
]
const PARTITIONERS: Array<[string, PartitionerSpec | undefined]> = [
  ['default', undefined],
  ['round-robin', 'round-robin'],
  ['murmur2', 'murmur2'],
  ['custom', (i) => (i.key === null ? PARTITIONS - 1 : i.key.length % i.partitionCount)],
]

const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i))

/** The records of one run; a leading "id" header tells them apart (values may be null). */
function records(run: string): Array<ProducerMessage<Buffer | string | null, Buffer | string | null>> {
  const base = 1_700_000_000_000
  const big = Buffer.alloc(120_000)
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 7)) & 0xff
  const out: Array<ProducerMessage<Buffer | string | null, Buffer | string | null>> = [
    { key: 'plain', value: 'a value' },
    { key: null, value: 'no key' },
    { key: Buffer.alloc(0), value: Buffer.alloc(0) },
    { key: 'tombstone', value: null },
    { key: allBytes, value: Buffer.concat([allBytes, allBytes]) },
    { key: 'headers', value: 'h', headers: [{ key: 'dup', value: 'one' }, { key: 'dup', value: 'two' }, { key: 'nil', value: null }, { key: 'ünï©ødé', value: allBytes }, { key: '', value: '' }] },
    { key: 'map headers', value: 'm', headers: { a: ['1', null, '3'], b: Buffer.from([0, 255]) } },
    { key: 'timestamp', value: 't', timestamp: base },
    { key: 'old timestamp', value: 't0', timestamp: 0 },
    { key: 'big', value: big },
    { key: '日本語のキー', value: 'unicode key' },
  ]
  for (let i = 0; i < 30; i++) out.push({ key: i % 3 === 0 ? null : `k${i}`, value: `v${i}`.repeat(i) })
  return out.map((m, i) => {
    const id = { key: 'id', value: `${run}/${i}` }
    const rest = m.headers === undefined ? [] : Array.isArray(m.headers) ? m.headers : Object.entries(m.headers).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => ({ key: k, value: x })))
    return { ...m, headers: [id, ...rest] }
  })
}

const buf = (v: Buffer | string | null | undefined): Buffer | null => (v === null || v === undefined ? null : Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8'))

function idOf(r: ReadRecord): string {
  return r.headers[0]!.value!.toString()
}

describe('round trip', { skip: noBrokers }, () => {
  let cluster: Cluster
  const topics = new Map<CompressionName, string>()

  before(async () => {
    cluster = await plumbing()
    for (const [name] of CODECS) {
      const t = topicName(`rt-${name}`)
      topics.set(name, t)
      await createTopic(cluster, t, { partitions: PARTITIONS })
    }
  })

  after(async () => {
    await deleteTopic(cluster, ...topics.values())
    await cluster.close()
  })

  for (const [codec, codecId] of CODECS) {
    test(`${codec}: every partitioner; keys, values, headers and timestamps come back byte for byte, where the producer said`, async () => {
      const topic = topics.get(codec)!
      const sent = new Map<string, { message: ProducerMessage<Buffer | string | null, Buffer | string | null>; partition: number; offset: bigint; partitioner: string }>()
      for (const [pname, spec] of PARTITIONERS) {
        const producer = new Producer({ brokers, compression: codec, ...(spec !== undefined ? { partitioner: spec } : {}), lingerMs: 5 })
        try {
          const msgs = records(`${codec}-${pname}`)
          // Half in one call, the rest one by one: several batches and requests.
          const half = Math.floor(msgs.length / 2)
          const metas = await producer.send({ topic, messages: msgs.slice(0, half) })
          metas.push(...(await Promise.all(msgs.slice(half).map((m) => producer.send({ topic, messages: [m] }).then(([x]) => x!)))))
          msgs.forEach((m, i) => {
            const id = (m.headers as ReadonlyArray<{ value: string }>)[0]!.value
            sent.set(id, { message: m, partition: metas[i]!.partition, offset: metas[i]!.offset, partitioner: pname })
          })
        } finally {
          await producer.close()
        }
      }
      const read = new Map<string, ReadRecord & { partition: number }>()
      for (let p = 0; p < PARTITIONS; p++) {
        for (const r of (await readPartition(cluster, topic, p)).records) {
          assert.ok(!read.has(idOf(r)), `record ${idOf(r)} is in the log twice`)
          read.set(idOf(r), { ...r, partition: p })
        }
      }
      assert.equal(read.size, sent.size, 'every record was read back')
      const roundRobin: number[] = []
      for (const [id, s] of sent) {
        const r = read.get(id)
        assert.ok(r, `record ${id} was not found`)
        const m = s.message
        assert.equal(r.partition, s.partition, `${id}: the partition the producer reported`)
        assert.equal(r.offset, s.offset, `${id}: the offset the producer reported`)
        assert.deepEqual(r.key, buf(m.key), `${id}: key`)
        assert.deepEqual(r.value, buf(m.value), `${id}: value`)
        assert.deepEqual(
          r.headers.map((h) => [h.key, h.value]),
          (m.headers as Array<{ key: string; value: Buffer | string | null }>).map((h) => [h.key, buf(h.value)]),
          `${id}: headers, in order, repeated keys and null values kept`,
        )
        if (m.timestamp !== undefined) assert.equal(r.timestamp, m.timestamp, `${id}: timestamp`)
        else assert.ok(Math.abs(r.timestamp - Date.now()) < 600_000, `${id}: CreateTime set by the producer`)
        assert.equal(r.compression, codecId, `${id}: written with ${codec}`)
        const key = buf(m.key)
        if (key !== null && (s.partitioner === 'default' || s.partitioner === 'murmur2')) {
          assert.equal(r.partition, partitionForKey(key, PARTITIONS), `${id}: keyed records go to murmur2(key)`)
        }
        if (s.partitioner === 'custom') assert.equal(r.partition, key === null ? PARTITIONS - 1 : key.length % PARTITIONS)
        if (s.partitioner === 'round-robin') roundRobin.push(r.partition)
        assert.ok(r.producerId >= 0n && r.sequence >= 0, `${id}: idempotent by default`)
      }
      const counts = [0, 0, 0]
      for (const p of roundRobin) counts[p]!++
      assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `round-robin spreads evenly: ${counts}`)
    })
  }
})

describe('acks', { skip: noBrokers }, () => {
  let cluster: Cluster
  const topic = topicName('acks')

  before(async () => {
    cluster = await plumbing()
    await createTopic(cluster, topic, { partitions: 1 })
  })

  after(async () => {
    await deleteTopic(cluster, topic)
    await cluster.close()
  })

  for (const acks of [0, 1, 'all'] as const) {
    test(`acks ${acks}: every record is written once, in order`, async () => {
      const producer = new Producer({ brokers, acks, ...(acks === 'all' ? {} : { idempotent: false }), batchSize: 2000 })
      const before = (await readPartition(cluster, topic, 0)).highWatermark
      const n = 300
      try {
        const res = await Promise.all(Array.from({ length: n }, (_, i) => producer.send({ topic, messages: [{ value: `${acks}-${i}` }] })))
        if (acks === 0) assert.ok(res.every(([m]) => m!.offset === -1n), 'no offsets without answers')
        else assert.deepEqual(res.map(([m]) => m!.offset), Array.from({ length: n }, (_, i) => before + BigInt(i)))
      } finally {
        await producer.close()
      }
      let mine: ReadRecord[] = []
      const deadline = Date.now() + 10_000
      while (mine.length < n && Date.now() < deadline) {
        mine = (await readPartition(cluster, topic, 0)).records.filter((r) => r.value!.toString().startsWith(`${acks}-`))
        if (mine.length < n) await new Promise((r) => setTimeout(r, 100))
      }
      assert.deepEqual(mine.map((r) => r.value!.toString()), Array.from({ length: n }, (_, i) => `${acks}-${i}`))
      assert.ok(mine.every((r) => (acks === 'all' ? r.producerId >= 0n : r.producerId === -1n)))
    })
  }
})
