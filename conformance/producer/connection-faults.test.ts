// Idempotent produce while a proxy cuts the client's connections at random
// moments (resets and closes, after a request went through, instead of an
// answer, after a random lifetime): every acknowledged record is in the log
// exactly once, each partition in send order.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Cluster } from '../../src/client/cluster.js'
import { Producer } from '../../src/producer/index.js'
import { FaultProxy } from '../support/fault-proxy.js'
import { brokers, createTopic, deleteTopic, noBrokers, plumbing, topicName } from '../support/kafka.js'
import { readPartition } from '../support/read-partition.js'

const PARTITIONS = 3
let cluster: Cluster
let proxy: FaultProxy
const topic = topicName('cuts')

before(async () => {
  if (noBrokers) return
  cluster = await plumbing()
  await createTopic(cluster, topic, { partitions: PARTITIONS })
  // One listener in front of every address the client may dial: the bootstrap list and the advertised brokers.
  proxy = await FaultProxy.start([...brokers, ...cluster.brokers.map((b) => `${b.host}:${b.port}`)])
})

after(async () => {
  if (noBrokers) return
  await proxy.close()
  await deleteTopic(cluster, topic)
  await cluster.close()
})

/** Producer settings for a connection that keeps being cut: small batches, short timeouts and backoffs. */
const throughCuts = {
  batchSize: 2048,
  lingerMs: 2,
  requestTimeoutMs: 5000,
  deliveryTimeoutMs: 90_000,
  retryBackoff: { initialMs: 20, maxMs: 500 },
  reconnectBackoff: { initialMs: 10, maxMs: 200 },
}

/**
 * `senders` concurrent loops for `ms`, each send 1-10 records to one partition, with short pauses, while the
 * proxy cuts connections at random. Values are numbered in send-call order per partition.
 */
async function streamThroughCuts(
  producer: Producer,
  o: { senders: number; ms: number; prefix: string; keyed: boolean },
): Promise<{ sent: string[][]; acked: string[][]; failures: unknown[] }> {
  const sent: string[][] = Array.from({ length: PARTITIONS }, () => [])
  const acked: string[][] = Array.from({ length: PARTITIONS }, () => [])
  const failures: unknown[] = []
  proxy.chaos({ afterRequest: 0.03, beforeResponse: 0.03, lifetimeMs: [200, 1000] })
  try {
    await producer.connect()
    let n = 0
    const until = Date.now() + o.ms
    await Promise.all(
      Array.from({ length: o.senders }, async (_, w) => {
        for (let c = 0; Date.now() < until; c++) {
          await new Promise((r) => setTimeout(r, (w * 13 + c * 7) % 20))
          const partition = (w + c) % PARTITIONS
          const messages = Array.from({ length: 1 + ((w * 7 + c) % 10) }, () => {
            const value = `${o.prefix}${partition}:${String(n++).padStart(6, '0')}`
            sent[partition]!.push(value)
            return o.keyed ? { value, partition, key: `w${w}` } : { value, partition }
          })
          try {
            const metas = await producer.send({ topic, messages })
            metas.forEach((m, i) => {
              assert.equal(m.partition, partition)
              acked[partition]!.push(messages[i]!.value)
            })
          } catch (err) {
            failures.push(err)
          }
        }
      }),
    )
  } finally {
    proxy.chaos(null)
    await producer.close()
  }
  return { sent, acked, failures }
}

test('idempotent produce through connections cut at random: every acknowledged record once, in order', { skip: noBrokers }, async (t) => {
  const producer = new Producer({ brokers, socketFactory: proxy.socketFactory, ...throughCuts })
  // 25 senders for about 6 s.
  const { sent, acked, failures } = await streamThroughCuts(producer, { senders: 25, ms: 6000, prefix: '', keyed: true })
  assert.deepEqual(failures, [], 'every send succeeds despite the cuts')
  t.diagnostic(`${acked.flat().length} records acknowledged; connections ${proxy.connections}, cut ${JSON.stringify(proxy.cuts)}; records retried ${producer.metrics().recordsRetried}`)
  assert.ok(proxy.totalCuts >= 10, `the proxy cut ${proxy.totalCuts} connection(s)`)
  for (let p = 0; p < PARTITIONS; p++) {
    const log = (await readPartition(cluster, topic, p)).records.map((r) => r.value!.toString())
    assert.equal(new Set(log).size, log.length, `partition ${p}: no duplicates`)
    // Appends happen in send-call order per partition; values were numbered in that order.
    assert.deepEqual(log, [...sent[p]!].sort(), `partition ${p}: in send order`)
    assert.deepEqual([...acked[p]!].sort(), [...log].sort(), `partition ${p}: exactly the acknowledged records`)
  }
})

test('without idempotence (acks=1) the same cuts may duplicate records but never lose an acknowledged one', { skip: noBrokers }, async (t) => {
  const producer = new Producer({ brokers, acks: 1, idempotent: false, socketFactory: proxy.socketFactory, ...throughCuts })
  const { acked, failures } = await streamThroughCuts(producer, { senders: 10, ms: 3000, prefix: 'plain-', keyed: false })
  assert.deepEqual(failures, [], 'every send succeeds despite the cuts')
  let duplicates = 0
  for (let p = 0; p < PARTITIONS; p++) {
    const log = (await readPartition(cluster, topic, p)).records.map((r) => r.value!.toString()).filter((v) => v.startsWith('plain-'))
    const inLog = new Set(log)
    duplicates += log.length - inLog.size
    for (const v of acked[p]!) assert.ok(inLog.has(v), `partition ${p}: acknowledged record ${v} was lost`)
    // One batch per partition on the wire: retries never reorder, they can only repeat.
    const firsts = log.filter((v, i) => log.indexOf(v) === i)
    assert.deepEqual(firsts, [...firsts].sort(), `partition ${p}: first occurrences in send order`)
  }
  t.diagnostic(`${acked.flat().length} records acknowledged, ${duplicates} duplicate(s) in the log; cut ${proxy.totalCuts} connection(s) in all`)
})
