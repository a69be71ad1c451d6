// How many records a partition holds, measured the way every implementation gets right: the high watermark
// of a Fetch that reads nothing. (Not ListOffsets latest: Tansu 0.6 answers it with the base offset of the
// last batch + 1; conformance/support/target.ts, 'list-offsets-latest'.)
import { Cluster } from '../../src/client/cluster.js'
import { BrokerError } from '../../src/protocol/errors.js'
import { fetch as fetchApi } from '../../src/protocol/messages/fetch.js'

/** The high watermark of partitions 0..partitions-1 of `topic`, each from its leader (through `on`, left open, if a Cluster). */
export async function highWatermarks(on: string | string[] | Cluster, topic: string, partitions: number): Promise<bigint[]> {
  const cluster = on instanceof Cluster ? on : new Cluster({ brokers: on, clientId: 'kafkawire-conformance' })
  try {
    const [info] = await cluster.topicsMetadata([topic])
    return await Promise.all(
      Array.from({ length: partitions }, async (_, partition) => {
        const res = await cluster.send(info!.partitions[partition]!.leader, fetchApi, () => ({
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: 1,
          isolationLevel: 0,
          topics: [{ topic, topicId: info!.topicId, partitions: [{ partition, fetchOffset: 0n, partitionMaxBytes: 1 }] }],
          forgottenTopicsData: [],
          rackId: '',
        }))
        const p = res.responses[0]!.partitions[0]!
        if (p.errorCode !== 0) throw new BrokerError(p.errorCode, { topic, partition, apiName: 'Fetch' })
        return p.highWatermark
      }),
    )
  } finally {
    if (cluster !== on) await cluster.close()
  }
}
