/**
 * Partitioners. The default one is the reference client's built-in
 * partitioner: records with a key go to murmur2(key) mod partitions (so they
 * land where the Java client puts them), records without a key use uniform
 * sticky partitioning (KIP-480, KIP-794): stay on one partition until about
 * a batch worth of bytes was produced to it, then move to another partition,
 * chosen at random among those with a leader.
 */
import { murmur2, toPositive } from '../protocol/murmur2.js'

export interface PartitionerInput {
  topic: string
  key: Buffer | null
  /** Encoded size estimate of the record, for sticky switching. */
  size: number
  partitionCount: number
  /** Partitions that currently have a leader; may be shorter than partitionCount. */
  availablePartitions: readonly number[]
}

/** Returns a partition index. */
export type PartitionerFn = (input: PartitionerInput) => number

export type PartitionerSpec = 'default' | 'round-robin' | 'murmur2' | PartitionerFn

/** murmur2 of the key, as org.apache.kafka.clients.producer.internals.BuiltInPartitioner.partitionForKey. */
export function partitionForKey(key: Buffer, partitionCount: number): number {
  return toPositive(murmur2(key)) % partitionCount
}

interface Sticky {
  partition: number
  bytes: number
}

/** Creates the reference client's default partitioner. `stickyBytes` is the batch size. */
export function defaultPartitioner(stickyBytes: number): PartitionerFn {
  const sticky = new Map<string, Sticky>()
  return (i) => {
    if (i.key !== null) return partitionForKey(i.key, i.partitionCount)
    let s = sticky.get(i.topic)
    if (s === undefined || s.bytes >= stickyBytes || s.partition >= i.partitionCount) {
      const pool = i.availablePartitions.length > 0 ? i.availablePartitions : null
      let next: number
      if (pool === null) next = Math.floor(Math.random() * i.partitionCount)
      else if (pool.length === 1) next = pool[0]!
      else {
        // Pick a different partition than the current one when possible.
        do next = pool[Math.floor(Math.random() * pool.length)]!
        while (s !== undefined && next === s.partition)
      }
      s = { partition: next, bytes: 0 }
      sticky.set(i.topic, s)
    }
    s.bytes += i.size
    return s.partition
  }
}

/** Spreads records over partitions in turn, keys ignored. */
export function roundRobinPartitioner(): PartitionerFn {
  const counters = new Map<string, number>()
  return (i) => {
    const n = counters.get(i.topic) ?? 0
    counters.set(i.topic, n + 1)
    const pool = i.availablePartitions.length > 0 ? i.availablePartitions : null
    return pool === null ? n % i.partitionCount : pool[n % pool.length]!
  }
}

/** murmur2 for keyed records, random for the rest (librdkafka's murmur2_random). */
export function murmur2Partitioner(): PartitionerFn {
  return (i) => (i.key !== null ? partitionForKey(i.key, i.partitionCount) : Math.floor(Math.random() * i.partitionCount))
}

export function resolvePartitioner(spec: PartitionerSpec | undefined, batchSize: number): PartitionerFn {
  if (spec === undefined || spec === 'default') return defaultPartitioner(batchSize)
  if (spec === 'round-robin') return roundRobinPartitioner()
  if (spec === 'murmur2') return murmur2Partitioner()
  if (typeof spec === 'function') return spec
  throw new TypeError(`unknown partitioner ${String(spec)}`)
}
