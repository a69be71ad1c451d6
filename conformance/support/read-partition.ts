/**
 * Reads a whole partition back with raw Fetch requests (there is no consumer
 * yet): from offset 0 to the high watermark (read_uncommitted) or to the last
 * stable offset (read_committed). With read_committed, records of aborted
 * transactions are dropped using each response's abortedTransactions list, as
 * the reference consumer does (CompletedFetch): a transactional batch is
 * skipped when its producer has an aborted transaction that started at or
 * before the batch, until that producer's ABORT marker. Control batches are
 * never returned.
 */
import type { Cluster } from '../../src/client/cluster.js'
import { BrokerError } from '../../src/protocol/errors.js'
import { fetch } from '../../src/protocol/messages/fetch.js'
import { decodeRecordBatches } from '../../src/protocol/records/index.js'

export type IsolationLevel = 'read_uncommitted' | 'read_committed'

export interface ReadRecord {
  offset: bigint
  key: Buffer | null
  value: Buffer | null
  headers: Array<{ key: string; value: Buffer | null }>
  timestamp: number
  producerId: bigint
  producerEpoch: number
  /** The record's sequence (base sequence + offset delta), -1 without idempotence. */
  sequence: number
  transactional: boolean
  /** Compression codec id of the batch the record came in. */
  compression: number
}

export interface PartitionContents {
  records: ReadRecord[]
  highWatermark: bigint
  lastStableOffset: bigint
  /** Control batches seen (commit / abort markers), in offset order. */
  markers: Array<{ offset: bigint; type: string; producerId: bigint }>
}

const MAX_BYTES = 16 * 1024 * 1024

export async function readPartition(
  cluster: Cluster,
  topic: string,
  partition: number,
  o: {
    isolation?: IsolationLevel
    timeoutMs?: number
    /**
     * Read on until the end reaches at least this offset. A leader elected a moment ago (a preferred leader
     * taking its partitions back after a restart) answers with its own high watermark, which can lag what
     * the previous leader had acknowledged until its followers fetch again; reading "to the high
     * watermark" then ends early. Tests that know how many records were acknowledged say so here.
     */
    atLeast?: bigint
  } = {},
): Promise<PartitionContents> {
  const committed = o.isolation === 'read_committed'
  const deadline = Date.now() + (o.timeoutMs ?? 30_000)
  const out: PartitionContents = { records: [], highWatermark: -1n, lastStableOffset: -1n, markers: [] }
  const pendingAborts: Array<{ producerId: bigint; firstOffset: bigint }> = []
  const seenAborts = new Set<string>()
  const aborted = new Set<bigint>()
  let offset = 0n
  let end = -1n
  for (;;) {
    if (Date.now() > deadline) throw new Error(`reading ${topic}-${partition} did not finish; at offset ${offset} of ${end}`)
    let info = cluster.topic(topic)
    if (info === undefined || info.partitions[partition] === undefined || info.partitions[partition]!.leader < 0) {
      await cluster.refreshMetadata([topic])
      info = cluster.topic(topic)
    }
    const leader = info?.partitions[partition]?.leader ?? -1
    if (info === undefined || leader < 0) {
      await new Promise((r) => setTimeout(r, 100))
      continue
    }
    const topicInfo = info
    let res
    try {
      res = await cluster.send(
        leader,
        fetch,
        (version) => ({
          replicaId: -1,
          maxWaitMs: 100,
          minBytes: 1,
          maxBytes: MAX_BYTES,
          isolationLevel: committed ? 1 : 0,
          sessionId: 0,
          sessionEpoch: -1,
          topics: [
            {
              ...(version >= 13 ? { topicId: topicInfo.topicId } : { topic }),
              partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: MAX_BYTES }],
            },
          ],
          forgottenTopicsData: [],
          rackId: '',
        }),
        { channel: 'fetch' },
      )
    } catch (err) {
      await cluster.refreshMetadata([topic]).catch(() => undefined)
      await new Promise((r) => setTimeout(r, 100))
      if (err instanceof Error && Date.now() < deadline) continue
      throw err
    }
    const p = res.responses[0]?.partitions[0]
    if (p === undefined) throw new Error(`no answer for ${topic}-${partition}`)
    if (p.errorCode !== 0) {
      const e = new BrokerError(p.errorCode, { topic, partition, apiName: 'Fetch' })
      if (!e.retriable) throw e
      await cluster.refreshMetadata([topic]).catch(() => undefined)
      await new Promise((r) => setTimeout(r, 100))
      continue
    }
    out.highWatermark = p.highWatermark
    out.lastStableOffset = p.lastStableOffset
    end = committed ? p.lastStableOffset : p.highWatermark
    for (const a of p.abortedTransactions ?? []) {
      const k = `${a.producerId}:${a.firstOffset}`
      if (seenAborts.has(k)) continue
      seenAborts.add(k)
      pendingAborts.push({ producerId: a.producerId, firstOffset: a.firstOffset })
      pendingAborts.sort((x, y) => (x.firstOffset < y.firstOffset ? -1 : x.firstOffset > y.firstOffset ? 1 : 0))
    }
    const before = offset
    const data = p.records ?? Buffer.alloc(0)
    const { batches } = await decodeRecordBatches(data)
    for (const b of batches) {
      if (b.lastOffset < offset) continue
      if (committed && b.producerId >= 0n) {
        while (pendingAborts.length > 0 && pendingAborts[0]!.firstOffset <= b.lastOffset) aborted.add(pendingAborts.shift()!.producerId)
      }
      if (b.isControl) {
        const type = b.control?.type ?? 'UNKNOWN'
        out.markers.push({ offset: b.baseOffset, type, producerId: b.producerId })
        if (type === 'ABORT') aborted.delete(b.producerId)
        offset = b.lastOffset + 1n
        continue
      }
      const skip = committed && b.isTransactional && aborted.has(b.producerId)
      if (!skip) {
        for (const r of b.records) {
          if (r.offset < offset) continue
          out.records.push({
            offset: r.offset,
            key: r.key === null ? null : Buffer.from(r.key),
            value: r.value === null ? null : Buffer.from(r.value),
            headers: r.headers.map((h) => ({ key: h.key, value: h.value === null ? null : Buffer.from(h.value) })),
            timestamp: r.timestamp,
            producerId: b.producerId,
            producerEpoch: b.producerEpoch,
            sequence: b.baseSequence < 0 ? -1 : (b.baseSequence + Number(r.offset - b.baseOffset)) % 0x80000000,
            transactional: b.isTransactional,
            compression: b.compression,
          })
        }
      }
      offset = b.lastOffset + 1n
    }
    if (offset >= end && (o.atLeast === undefined || offset >= o.atLeast)) return out
    if (offset === before) {
      // No progress (nothing below the end was returned yet): ask again shortly rather than spin.
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}
