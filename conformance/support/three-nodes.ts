// A three-node Apache Kafka cluster of a test file's own (replication factor 3, min ISR 2) with one topic,
// started before the file's tests and stopped after them whatever happened: for tests that SIGKILL and
// restart the leader of a partition.
import { after, before } from 'node:test'
import type { Cluster } from '../../src/client/cluster.js'
import { killNode, restartNode, startCluster, stopCluster, threeNodeOptions } from '../broker/index.mjs'
import { createTopic, deleteTopic, plumbing, topicName } from './kafka.js'

export interface ThreeNodeTopic {
  /** Bootstrap addresses of the three nodes (set once the cluster is up). */
  brokers: string[]
  /** Plumbing for metadata (leaders, end offsets) on that cluster. */
  cluster: Cluster
  topic: string
  kill(node: number): Promise<void>
  restart(node: number): Promise<void>
}

/** Registers the file's before/after hooks; `skip` (an unsupported reason) makes them do nothing. */
export function threeNodeTopic(what: string, partitions: number, skip: string | false): ThreeNodeTopic {
  const opts = threeNodeOptions()
  const three: ThreeNodeTopic = {
    brokers: [],
    cluster: undefined as unknown as Cluster,
    topic: topicName(what),
    kill: async (node) => {
      await killNode(opts.name, node, 'KILL')
    },
    restart: async (node) => {
      await restartNode(opts.name, node, { log: () => undefined })
    },
  }
  before(async () => {
    if (skip) return
    const c = await startCluster({ ...opts, log: () => undefined })
    three.brokers = c.KAFKA_BROKERS.split(',')
    three.cluster = await plumbing(three.brokers)
    await createTopic(three.cluster, three.topic, { partitions, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } })
  })
  after(async () => {
    if (skip) return
    try {
      await deleteTopic(three.cluster, three.topic)
      await three.cluster.close()
    } finally {
      await stopCluster(opts.name)
    }
  })
  return three
}
