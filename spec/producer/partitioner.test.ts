import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { murmur2 } from '../../src/protocol/murmur2.js'
import { ProduceError } from '../../src/producer/errors.js'
import {
  defaultPartitioner,
  murmur2Partitioner,
  partitionForKey,
  resolvePartitioner,
  roundRobinPartitioner,
  type PartitionerInput,
} from '../../src/producer/partitioner.js'
import { fakeKafka, outcome, producerOn } from './support/helpers.js'

/**
 * Computed with kafka-clients 4.3.1: Utils.murmur2(key.getBytes(UTF_8)) and
 * BuiltInPartitioner.partitionForKey(key, n) for n = 1, 3, 7, 12, 100. The
 * first six hashes are also UtilsTest.testMurmur2's vectors.
 */
const JAVA_VECTORS: Array<[string, number, number[]]> = [
  ['21', -973932308, [0, 0, 3, 0, 40]],
  ['foobar', -790332482, [0, 0, 0, 6, 66]],
  ['a-little-bit-long-string', -985981536, [0, 2, 1, 8, 12]],
  ['a-little-bit-longer-string', -1486304829, [0, 2, 0, 11, 19]],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971, [0, 2, 3, 5, 77]],
  ['abc', 479470107, [0, 0, 4, 3, 7]],
  ['', 275646681, [0, 0, 2, 9, 81]],
  ['k', -1567496736, [0, 2, 1, 8, 12]],
  ['key-0', 29210041, [0, 1, 0, 1, 41]],
  ['order-42', 501153024, [0, 0, 1, 0, 24]],
  ['héllo wörld', 439213890, [0, 0, 3, 6, 90]],
  ['日本語', 1431860170, [0, 1, 6, 10, 70]],
]
const COUNTS = [1, 3, 7, 12, 100]

const input = (o: Partial<PartitionerInput> & { partitionCount: number }): PartitionerInput => ({
  topic: 't',
  key: null,
  size: 100,
  availablePartitions: Array.from({ length: o.partitionCount }, (_, i) => i),
  ...o,
})

describe('keyed records: murmur2 as the reference client computes it', () => {
  test('murmur2 matches Utils.murmur2 on the reference vectors', () => {
    for (const [key, hash] of JAVA_VECTORS) assert.equal(murmur2(Buffer.from(key, 'utf8')), hash, key)
  })

  test('partitionForKey matches BuiltInPartitioner.partitionForKey for every partition count', () => {
    for (const [key, , partitions] of JAVA_VECTORS) {
      COUNTS.forEach((n, i) => assert.equal(partitionForKey(Buffer.from(key, 'utf8'), n), partitions[i], `${key} over ${n}`))
    }
  })

  test('the default and murmur2 partitioners send keyed records to partitionForKey, whatever is available', () => {
    for (const p of [defaultPartitioner(1000), murmur2Partitioner()]) {
      for (const [key, , partitions] of JAVA_VECTORS) {
        // A keyed record keeps its partition even when that partition has no leader right now.
        assert.equal(p(input({ key: Buffer.from(key), partitionCount: 12, availablePartitions: [0] })), partitions[3])
      }
    }
  })
})

describe('records without a key', () => {
  test('the default partitioner sticks to one partition until a batch worth of bytes went there, then moves', () => {
    const p = defaultPartitioner(1000)
    const picks = Array.from({ length: 30 }, () => p(input({ partitionCount: 6, size: 100 })))
    // 1000 bytes per partition at 100 bytes per record: runs of 10.
    for (let run = 0; run < 3; run++) {
      const slice = picks.slice(run * 10, run * 10 + 10)
      assert.equal(new Set(slice).size, 1, `run ${run} stays on one partition: ${slice}`)
    }
    assert.notEqual(picks[9], picks[10], 'moves after the sticky limit')
    assert.notEqual(picks[19], picks[20])
  })

  test('sticky state is per topic', () => {
    const p = defaultPartitioner(1_000_000)
    const a = p(input({ topic: 'a', partitionCount: 50 }))
    const seen = new Set<number>()
    for (let i = 0; i < 20; i++) seen.add(p(input({ topic: `b${i}`, partitionCount: 50 })))
    for (let i = 0; i < 10; i++) assert.equal(p(input({ topic: 'a', partitionCount: 50 })), a)
    assert.ok(seen.size > 1, 'other topics pick their own partitions')
  })

  test('the default partitioner only picks partitions that have a leader', () => {
    const p = defaultPartitioner(100)
    for (let i = 0; i < 200; i++) assert.ok([2, 5].includes(p(input({ partitionCount: 6, size: 60, availablePartitions: [2, 5] }))))
  })

  test('when the partition count shrinks below the sticky partition, a valid one is picked', () => {
    const p = defaultPartitioner(1_000_000)
    assert.equal(p(input({ partitionCount: 10, availablePartitions: [8] })), 8)
    for (let i = 0; i < 20; i++) assert.ok(p(input({ partitionCount: 5 })) < 5)
  })

  test('murmur2 spreads keyless records at random over all partitions', () => {
    const p = murmur2Partitioner()
    const seen = new Set<number>()
    for (let i = 0; i < 500; i++) seen.add(p(input({ partitionCount: 4 })))
    assert.deepEqual([...seen].sort(), [0, 1, 2, 3])
  })
})

describe('round-robin', () => {
  test('cycles through the partitions in order, keys ignored', () => {
    const p = roundRobinPartitioner()
    const picks = Array.from({ length: 7 }, (_, i) => p(input({ partitionCount: 3, key: Buffer.from(`k${i}`) })))
    assert.deepEqual(picks, [0, 1, 2, 0, 1, 2, 0])
  })

  test('cycles through available partitions only, and counts per topic', () => {
    const p = roundRobinPartitioner()
    assert.deepEqual(
      Array.from({ length: 4 }, () => p(input({ partitionCount: 5, availablePartitions: [1, 3] }))),
      [1, 3, 1, 3],
    )
    assert.equal(p(input({ topic: 'other', partitionCount: 5 })), 0)
  })

  test('resolvePartitioner knows the names and refuses others', () => {
    const fn = () => 0
    assert.equal(resolvePartitioner(fn, 10), fn)
    assert.equal(typeof resolvePartitioner('round-robin', 10), 'function')
    assert.equal(typeof resolvePartitioner(undefined, 10), 'function')
    assert.throws(() => resolvePartitioner('random' as never, 10), /unknown partitioner random/)
  })
})

describe('through the producer', () => {
  test('an explicit partition wins over the partitioner', async (t) => {
    const kafka = await fakeKafka(t, { topics: { orders: 4 } })
    const producer = producerOn(t, kafka, { partitioner: () => 0 })
    const [m] = await producer.send({ topic: 'orders', messages: [{ key: 'k', value: 'v', partition: 3 }] })
    assert.equal(m!.partition, 3)
    assert.deepEqual(kafka.values('orders', 3), ['v'])
  })

  test('an explicit partition that does not exist fails that record only, naming the partition count', async (t) => {
    const kafka = await fakeKafka(t, { topics: { orders: 2 } })
    const producer = producerOn(t, kafka)
    const err = await outcome(producer.send({ topic: 'orders', messages: [{ value: 'ok', partition: 1 }, { value: 'bad', partition: 7 }] }))
    assert.ok(err instanceof ProduceError)
    assert.equal((err.results[0] as { partition: number }).partition, 1)
    assert.match((err.results[1] as Error).message, /partition 7 does not exist; orders has 2 partition\(s\)/)
    assert.deepEqual(kafka.values('orders', 1), ['ok'])
  })

  test('a custom partitioner gets the serialized key, size and partition counts, and its answer is used', async (t) => {
    const kafka = await fakeKafka(t, { topics: { orders: 3 } })
    const seen: PartitionerInput[] = []
    const producer = producerOn(t, kafka, {
      partitioner: (i) => {
        seen.push(i)
        return i.key === null ? 0 : i.key.length % i.partitionCount
      },
    })
    const res = await producer.send({ topic: 'orders', messages: [{ key: 'ab', value: 'x' }, { key: null, value: 'y' }] })
    assert.deepEqual(res.map((r) => r.partition), [2, 0])
    assert.equal(seen[0]!.topic, 'orders')
    assert.deepEqual(seen[0]!.key, Buffer.from('ab'))
    assert.equal(seen[0]!.partitionCount, 3)
    assert.deepEqual(seen[0]!.availablePartitions, [0, 1, 2])
    assert.ok(seen[0]!.size > 0)
  })

  test('a custom partitioner returning a partition that does not exist fails the record with a ConfigError', async (t) => {
    const kafka = await fakeKafka(t, { topics: { orders: 3 } })
    const producer = producerOn(t, kafka, { partitioner: () => 9 })
    const err = await outcome(producer.send({ topic: 'orders', messages: [{ value: 'x' }] }))
    assert.ok(err instanceof ProduceError)
    assert.equal(err.errors[0]!.code, 'INVALID_CONFIG')
    assert.match(err.errors[0]!.message, /returned partition 9 for orders, which has 3/)
  })

  test('keyed records go where the reference client puts them', async (t) => {
    const kafka = await fakeKafka(t, { topics: { orders: 12 } })
    const producer = producerOn(t, kafka)
    const res = await producer.send({ topic: 'orders', messages: JAVA_VECTORS.map(([key]) => ({ key, value: key })) })
    assert.deepEqual(res.map((r) => r.partition), JAVA_VECTORS.map(([, , p]) => p[3]))
  })
})
