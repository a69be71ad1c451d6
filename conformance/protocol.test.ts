// The wire codec against a live broker, one connection and explicit versions, no client logic in between:
// ApiVersions at every version the broker accepts; Metadata; CreateTopics; Produce in each codec at the
// oldest and newest Produce versions both sides support; Fetch back at the oldest and newest Fetch versions;
// ListOffsets. Each check compares content.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Cluster } from '../src/client/cluster.js'
import type { Connection } from '../src/client/connection.js'
import { CompressionCodec, codecName } from '../src/protocol/compression/index.js'
import { apiVersions, createTopics, deleteTopics, fetch, listOffsets, metadata, produce } from '../src/protocol/messages/index.js'
import { decodeRecordBatches, encodeLegacyMessageSet, encodeRecordBatch, type RecordInput } from '../src/protocol/records/index.js'
import { testName } from './support/names.js'
import { has, requires } from './support/target.js'

const brokers = process.env.KAFKA_BROKERS
if (!brokers) throw new Error('protocol.test.ts needs KAFKA_BROKERS (conformance/run.mjs sets it)')

// A cluster of several brokers (kfake's three, any user's cluster): `conn` goes to the controller, which
// CreateTopics and DeleteTopics need where brokers do not forward them (kfake; Kafka before KIP-590), and
// Produce, Fetch and ListOffsets go to the partition's leader (`leaderOf`).
let cluster: Cluster
let conn: Connection
const topics: string[] = []

before(async () => {
  cluster = new Cluster({ brokers, clientId: 'kafkawire-protocol-conformance', requestTimeoutMs: 30_000 })
  await cluster.connect()
  conn = await cluster.connectionTo(cluster.controllerId >= 0 ? cluster.controllerId : cluster.brokers[0]!.nodeId)
})

function leaderOf(md: { partitions: Array<{ partitionIndex: number; leaderId: number }> }): Promise<Connection> {
  return cluster.connectionTo(md.partitions.find((p) => p.partitionIndex === 0)!.leaderId)
}

after(async () => {
  if (topics.length > 0) {
    const v = conn.pickVersion(deleteTopics)
    const body = v >= 6 ? { topics: topics.map((name) => ({ name })), timeoutMs: 30_000 } : { topicNames: topics, timeoutMs: 30_000 }
    await conn.send(deleteTopics, body, { version: v }).catch(() => undefined)
  }
  await cluster.close()
})

/** The versions both our codec and the broker accept for an API. */
function range(api: { apiKey: number; minVersion: number; maxVersion: number; unstableFrom: number }): [number, number] {
  const b = conn.versions.get(api.apiKey)
  assert.ok(b !== undefined, `the broker does not advertise API ${api.apiKey}`)
  const max = Math.min(b.maxVersion, api.unstableFrom >= 0 ? api.unstableFrom - 1 : api.maxVersion)
  return [Math.max(b.minVersion, api.minVersion), max]
}

describe('ApiVersions', () => {
  test('answers at every version the broker accepts, listing itself and the core APIs', async () => {
    const [lo, hi] = range(apiVersions)
    for (let v = lo; v <= hi; v++) {
      const res = await conn.send(apiVersions, { clientSoftwareName: 'kafkawire', clientSoftwareVersion: '0.1.0' }, { version: v })
      assert.equal(res.errorCode, 0, `ApiVersions v${v}`)
      const byKey = new Map(res.apiKeys.map((k) => [k.apiKey, k]))
      const own = byKey.get(18)
      assert.ok(own !== undefined && own.minVersion <= v && own.maxVersion >= v, `ApiVersions v${v} lists ApiVersions covering v${v}`)
      for (const key of [0, 1, 2, 3]) {
        const k = byKey.get(key)
        assert.ok(k !== undefined && k.minVersion <= k.maxVersion, `ApiVersions v${v} lists API ${key} with a valid range`)
      }
    }
  })
})

describe('Metadata and CreateTopics', () => {
  test('Metadata at the oldest and newest versions names the brokers', async () => {
    const [lo, hi] = range(metadata)
    for (const v of new Set([lo, hi])) {
      // v0 has no null topic list (empty means all) and no allowAutoTopicCreation (it is always on).
      const res = await conn.send(metadata, v === 0 ? { topics: [] } : v < 4 ? { topics: null } : { topics: null, allowAutoTopicCreation: false }, { version: v })
      assert.ok(res.brokers.length >= 1, `Metadata v${v} lists brokers`)
      for (const b of res.brokers) {
        assert.ok(b.nodeId >= 0 && b.host.length > 0 && b.port > 0 && b.port < 65536, `Metadata v${v} broker ${JSON.stringify(b)}`)
      }
      if (v >= 2) assert.ok(typeof res.clusterId === 'string' && res.clusterId.length > 0, `Metadata v${v} has a cluster id`)
    }
  })

  test('CreateTopics at the newest version creates a topic Metadata then describes', async () => {
    const name = testName('protocol-create')
    topics.push(name)
    const [, v] = range(createTopics)
    const res = await conn.send(createTopics, { topics: [{ name, numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 30_000 }, { version: v })
    assert.equal(res.topics.length, 1)
    assert.equal(res.topics[0]!.errorCode, 0, res.topics[0]!.errorMessage ?? '')
    if (v >= 5) assert.equal(res.topics[0]!.numPartitions, 2)
    const [, mv] = range(metadata)
    const md = await waitForTopic(name, mv)
    assert.equal(md.partitions.length, 2)
    if (mv >= 10) assert.notEqual(md.topicId, 'AAAAAAAAAAAAAAAAAAAAAA', 'a topic id')
  })
})

async function waitForTopic(name: string, version: number) {
  for (let i = 0; i < 100; i++) {
    const res = await conn.send(metadata, { topics: [{ name }], allowAutoTopicCreation: false }, { version })
    const t = res.topics.find((x) => x.name === name)
    if (t && t.errorCode === 0 && t.partitions.length > 0 && t.partitions.every((p) => p.leaderId >= 0)) return t
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`topic ${name} did not get leaders`)
}

/** Magic 2 batches from Produce v3; before that a client sends magic 0 (v0-v1) or magic 1 (v2). */
function magicFor(produceVersion: number): 0 | 1 | 2 {
  return produceVersion >= 3 ? 2 : produceVersion === 2 ? 1 : 0
}

function recordsFor(magic: number, tag: string): RecordInput[] {
  const now = Date.now()
  return [
    { key: Buffer.from(`${tag}-k1`), value: Buffer.from(`${tag}-v1 ${'x'.repeat(300)}`), timestamp: now, headers: magic === 2 ? [{ key: 'h', value: Buffer.from('1') }, { key: 'h', value: null }] : [] },
    { key: null, value: Buffer.from(`${tag}-v2`), timestamp: now + 1, headers: [] },
    { key: Buffer.from(`${tag}-k3`), value: null, timestamp: now + 2, headers: [] },
  ]
}

describe('Produce, Fetch and ListOffsets in every codec', () => {
  const legacy = has('legacy-formats')
  // The codec tests cover magic 0/1 through the oldest versions where the cluster has them; where it does
  // not, this records it.
  if (!legacy) test('magic 0/1 message sets through Produce v0-v2 and Fetch v0-v3', requires('legacy-formats'), () => undefined)
  if (!has('list-offsets-v0')) test('ListOffsets v0 (offsets as a list)', requires('list-offsets-v0'), () => undefined)
  const endOffsets = has('list-offsets-latest')
  if (!endOffsets) test('ListOffsets latest after batches of several records', requires('list-offsets-latest'), () => undefined)
  const codecs = [CompressionCodec.None, CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4, CompressionCodec.Zstd]
  for (const codec of codecs) {
    test(`${codecName(codec)}: produced at the oldest and newest Produce versions, read back at the oldest and newest Fetch versions`, async () => {
      const name = testName(`protocol-${codecName(codec)}`)
      topics.push(name)
      const [, cv] = range(createTopics)
      const created = await conn.send(createTopics, { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 30_000 }, { version: cv })
      assert.equal(created.topics[0]!.errorCode, 0)
      const [, mv] = range(metadata)
      const md = await waitForTopic(name, mv)
      const leader = await leaderOf(md)

      let [plo, phi] = range(produce)
      // zstd exists from Produce v7 (KIP-110).
      if (codec === CompressionCodec.Zstd) plo = Math.max(plo, 7)
      // A cluster without magic 0/1 (declared below) is tested from the oldest version with magic 2 batches.
      if (!legacy) plo = Math.max(plo, 3)
      const sent: Array<{ version: number; magic: number; records: RecordInput[]; baseOffset: bigint }> = []
      let next = 0n
      for (const v of new Set([plo, phi])) {
        const magic = magicFor(v)
        const records = recordsFor(magic, `p${v}`)
        const batch = magic === 2 ? await encodeRecordBatch({ compression: codec }, records) : await encodeLegacyMessageSet({ magic, compression: codec }, records)
        const res = await leader.send(
          produce,
          {
            transactionalId: null,
            acks: -1,
            timeoutMs: 30_000,
            topicData: [{ ...(v >= 13 ? { topicId: md.topicId } : { name }), partitionData: [{ index: 0, records: batch }] }],
          },
          { version: v },
        )
        const p = res.responses[0]!.partitionResponses[0]!
        assert.equal(p.errorCode, 0, `Produce v${v} (magic ${magic}, ${codecName(codec)}): ${p.errorMessage ?? ''}`)
        assert.equal(p.baseOffset, next, `Produce v${v} base offset`)
        sent.push({ version: v, magic, records, baseOffset: next })
        next += BigInt(records.length)
      }

      let [flo, fhi] = range(fetch)
      // zstd batches cannot be converted down to the formats of Fetch v0-v9 (KIP-110).
      if (codec === CompressionCodec.Zstd) flo = Math.max(flo, 10)
      if (!legacy) flo = Math.max(flo, 4)
      for (const fv of new Set([flo, fhi])) {
        // Before Fetch v4 the broker converts batches down to magic 0/1 lazily and keeps the response at the
        // original size (KIP-283): the larger converted messages arrive cut short, and the client fetches
        // again from the next offset. So read until the high watermark.
        const got: Array<{ offset: bigint; key: Buffer | null; value: Buffer | null; timestamp: number; headers: ReadonlyArray<{ key: string; value: Buffer | null }> }> = []
        for (let round = 0; BigInt(got.length) < next && round < 20; round++) {
          const res = await leader.send(
            fetch,
            {
              replicaId: -1,
              maxWaitMs: 0,
              minBytes: 1,
              maxBytes: 1 << 20,
              isolationLevel: 0,
              sessionId: 0,
              sessionEpoch: -1,
              topics: [{ ...(fv >= 13 ? { topicId: md.topicId } : { topic: name }), partitions: [{ partition: 0, fetchOffset: BigInt(got.length), partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1n, lastFetchedEpoch: -1 }] }],
              forgottenTopicsData: [],
              rackId: '',
            },
            { version: fv },
          )
          const p = res.responses[0]!.partitions[0]!
          assert.equal(p.errorCode, 0, `Fetch v${fv}`)
          assert.equal(p.highWatermark, next, `Fetch v${fv} high watermark`)
          const { batches } = await decodeRecordBatches(p.records!)
          for (const b of batches) for (const r of b.records) if (r.offset === BigInt(got.length)) got.push(r)
        }
        assert.equal(got.length, Number(next), `Fetch v${fv} returns every record`)
        for (const s of sent) {
          s.records.forEach((r, i) => {
            const g = got[Number(s.baseOffset) + i]!
            const where = `Fetch v${fv}, record ${i} of Produce v${s.version}`
            assert.equal(g.offset, s.baseOffset + BigInt(i), `${where}: offset`)
            assert.deepEqual(g.key, r.key, `${where}: key`)
            assert.deepEqual(g.value, r.value, `${where}: value`)
            // Before Fetch v4 the broker converts down to magic 0/1: headers do not exist there.
            if (fv >= 4) assert.deepEqual(g.headers.map((h) => [h.key, h.value]), (r.headers ?? []).map((h) => [h.key, h.value === null ? null : Buffer.from(h.value)]), `${where}: headers`)
            // Magic 0 carries no timestamp; the broker stores -1 for those records.
            if (fv >= 4 && s.magic > 0) assert.equal(g.timestamp, r.timestamp, `${where}: timestamp`)
          })
        }
      }

      let [llo, lhi] = range(listOffsets)
      if (!has('list-offsets-v0')) llo = Math.max(llo, 1)
      for (const lv of new Set([llo, lhi])) {
        for (const [ts, expected] of [
          [-2n, 0n],
          ...(endOffsets ? [[-1n, next] as const] : []),
        ] as const) {
          const res = await leader.send(
            listOffsets,
            { replicaId: -1, isolationLevel: 0, topics: [{ name, partitions: [{ partitionIndex: 0, timestamp: ts, currentLeaderEpoch: -1, maxNumOffsets: 1 }] }], timeoutMs: 30_000 },
            { version: lv },
          )
          const p = res.topics[0]!.partitions[0]!
          assert.equal(p.errorCode, 0, `ListOffsets v${lv}`)
          const offset = lv === 0 ? p.oldStyleOffsets[0] : p.offset
          assert.equal(offset, expected, `ListOffsets v${lv} ${ts === -2n ? 'earliest' : 'latest'}`)
        }
      }
    })
  }
})
