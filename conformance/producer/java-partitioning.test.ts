// Keyed records land in the partition the Java client picks: the same keys go
// through the reference's console producer to one topic and through kafkawire
// to another with the same partition count, and each key's partition is compared.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Cluster } from '../../src/client/cluster.js'
import { Producer } from '../../src/producer/index.js'
import { runKafkaTool, type KafkaVersionSpec } from '../broker/index.mjs'
import { brokers, createTopic, deleteTopic, kafkaVersion, noBrokers, plumbing, topicName } from '../support/kafka.js'
import { readPartition } from '../support/read-partition.js'
import { unsupportedReason } from '../support/target.js'

const PARTITIONS = 7
const KEYS = [
  ...Array.from({ length: 150 }, (_, i) => `key-${i}`),
  ...Array.from({ length: 30 }, (_, i) => `user:${(i * 7919).toString(36)}@example.com`),
  'a',
  'é',
  'Ünïcödé ключ 鍵 🔑',
  'x'.repeat(300),
  '0',
  '-1',
  'with spaces in it',
]

let cluster: Cluster
const javaTopic = topicName('java-keys')
const ourTopic = topicName('kw-keys')
const skip = noBrokers || (unsupportedReason('java-tools') ?? false)
// Other implementations than Apache Kafka (KAFKA_VERSION unset): the 4.3.1 console producer, a client that
// works against any broker.
const tools = kafkaVersion === '3.9.1' ? '3.9.1' : '4.3.1'

before(async () => {
  if (skip) return
  cluster = await plumbing()
  await createTopic(cluster, javaTopic, { partitions: PARTITIONS })
  await createTopic(cluster, ourTopic, { partitions: PARTITIONS })
})

after(async () => {
  if (skip) return
  await deleteTopic(cluster, javaTopic, ourTopic)
  await cluster.close()
})

async function partitionsByKey(topic: string): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for (let p = 0; p < PARTITIONS; p++) {
    for (const r of (await readPartition(cluster, topic, p)).records) out.set(r.key!.toString('utf8'), p)
  }
  return out
}

test('every key lands in the same partition as with the Java console producer', { skip }, async () => {
  // The 3.9 line still has the Scala tool; 4.x moved it to org.apache.kafka.tools.
  const mainClass = tools.startsWith('3.') ? 'kafka.tools.ConsoleProducer' : 'org.apache.kafka.tools.ConsoleProducer'
  const input = KEYS.map((k) => `${k}\t${k.length}`).join('\n') + '\n'
  const r = await runKafkaTool(tools as KafkaVersionSpec, mainClass, ['--bootstrap-server', brokers.join(','), '--topic', javaTopic, '--property', 'parse.key=true', '--property', 'key.separator=\t'], {
    input,
    env: { JAVA_TOOL_OPTIONS: '-Dfile.encoding=UTF-8 -Dstdin.encoding=UTF-8' },
    timeoutMs: 120_000,
  })
  assert.equal(r.code, 0, `console producer failed: ${r.stderr.slice(-2000)}`)

  const producer = new Producer({ brokers })
  try {
    await producer.send({ topic: ourTopic, messages: KEYS.map((k) => ({ key: k, value: String(k.length) })) })
  } finally {
    await producer.close()
  }
  const java = await partitionsByKey(javaTopic)
  const ours = await partitionsByKey(ourTopic)
  assert.deepEqual([...java.keys()].sort(), [...KEYS].sort(), 'the console producer wrote every key, as UTF-8')
  const differ = KEYS.filter((k) => java.get(k) !== ours.get(k))
  assert.deepEqual(differ, [], 'keys placed differently from the Java client')
  assert.ok(new Set(java.values()).size === PARTITIONS, 'the keys cover every partition')
})
