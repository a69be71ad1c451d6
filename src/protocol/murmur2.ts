/**
 * Murmur2 as implemented by the Java client's
 * `org.apache.kafka.common.utils.Utils.murmur2(byte[])` (seed 0x9747b28c,
 * little-endian 4-byte blocks, tail mixed in as 3/2/1 bytes), which the
 * default partitioner uses for keyed records. Returns the signed int32 the
 * Java method returns; all arithmetic stays in int32 via Math.imul and `| 0`.
 */
import { KafkawireError } from './errors.js'

const SEED = 0x9747b28c
const M = 0x5bd1e995
const R = 24

export function murmur2(data: Uint8Array): number {
  const length = data.length
  let h = (SEED ^ length) | 0
  const length4 = length >>> 2
  for (let i = 0; i < length4; i++) {
    const i4 = i << 2
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24)
    k = Math.imul(k, M)
    k ^= k >>> R
    k = Math.imul(k, M)
    h = Math.imul(h, M)
    h ^= k
  }
  // Java's switch on (length % 4) falls through from case 3 to case 1.
  const tail = length & ~3
  const rest = length & 3
  if (rest === 3) h ^= data[tail + 2]! << 16
  if (rest >= 2) h ^= data[tail + 1]! << 8
  if (rest >= 1) {
    h ^= data[tail]!
    h = Math.imul(h, M)
  }
  h ^= h >>> 13
  h = Math.imul(h, M)
  h ^= h >>> 15
  return h | 0
}

/**
 * Java's `Utils.toPositive`: clears the sign bit instead of taking Math.abs,
 * so Integer.MIN_VALUE maps to 0 rather than staying negative.
 */
export function toPositive(n: number): number {
  return n & 0x7fffffff
}

/**
 * The partition the Java client's default partitioner picks for a record
 * with a non-null key (BuiltInPartitioner.partitionForKey):
 * `toPositive(murmur2(key)) % numPartitions`.
 */
export function partitionForKey(key: Uint8Array, numPartitions: number): number {
  if (!Number.isInteger(numPartitions) || numPartitions <= 0) {
    throw new KafkawireError('CLIENT_INVALID_ARGUMENT', `numPartitions must be a positive integer, got ${numPartitions}`)
  }
  return toPositive(murmur2(key)) % numPartitions
}
