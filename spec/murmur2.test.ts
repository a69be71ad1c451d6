/**
 * murmur2 known answers, computed once with the reference implementation:
 * kafka-clients 4.3.1, org.apache.kafka.common.utils.Utils.murmur2(byte[]) and
 * Utils.toPositive, run from a throwaway Java program against
 * ~/.m2/repository/org/apache/kafka/kafka-clients/4.3.1/kafka-clients-4.3.1.jar.
 * Columns: key bytes (hex), murmur2, toPositive(murmur2), % 3, % 100.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { KafkawireError } from '../src/protocol/errors.js'
import { murmur2, partitionForKey, toPositive } from '../src/protocol/murmur2.js'

const VECTORS: Array<[string, number, number, number, number]> = [
  ['', 275646681, 275646681, 0, 81],
  ['61', -1563381124, 584102524, 1, 24],
  ['6162', 316155434, 316155434, 2, 34],
  ['616263', 479470107, 479470107, 0, 7],
  ['61626364', -1323649548, 823834100, 2, 0],
  ['6162636465', 461995741, 461995741, 1, 41],
  ['68656c6c6f', 2132663229, 2132663229, 0, 29],
  ['6b61666b61', -798503068, 1348980580, 1, 80],
  ['3231', -973932308, 1173551340, 0, 40],
  ['666f6f626172', -790332482, 1357151166, 0, 66],
  ['612d6c6974746c652d6269742d6c6f6e672d737472696e67', -985981536, 1161502112, 2, 12],
  ['612d6c6974746c652d6269742d6c6f6e6765722d737472696e67', -1486304829, 661178819, 2, 19],
  ['6c6b6a683233346c68396669756839307932336f697568736166756a6861646f66323239706872396831396838396838', -58897971, 2088585677, 2, 77],
  ['6b65792d30', 29210041, 29210041, 1, 41],
  ['6b65792d31', 193331640, 193331640, 0, 40],
  ['6b65792d32', 852269702, 852269702, 2, 2],
  ['757365723a3432', -1493546323, 653937325, 1, 25],
  ['c3a974c3a920e2988320f09f9880', -1257150039, 890333609, 2, 9],
  ['ff', -311467685, 1836015963, 0, 63],
  ['fffe', 1717632651, 1717632651, 0, 51],
  ['fffefd', 998637092, 998637092, 2, 92],
  ['fffefdfc', 2136149935, 2136149935, 1, 35],
  ['fffefdfcfb', 524068735, 524068735, 1, 35],
  ['fffefdfcfbfa', -1374838545, 772645103, 2, 3],
  ['fffefdfcfbfaf9', -166236347, 1981247301, 0, 1],
  ['fffefdfcfbfaf9f8', 2069784301, 2069784301, 1, 1],
  ['fffefdfcfbfaf9f8f7', -248068958, 1899414690, 0, 90],
  ['00000000000000000000000000000000', -1795725688, 351757960, 1, 60],
]

/** Bytes 0..255, and 1000 bytes of (i * 31 + 7) & 0xff: longer inputs, every tail length covered above. */
const GENERATED: Array<[string, Buffer, number, number]> = [
  ['bytes 0..255', Buffer.from(Array.from({ length: 256 }, (_, i) => i)), -1948347274, 1],
  ['1000 patterned bytes', Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31 + 7) & 0xff)), -974371678, 1],
]

describe('murmur2 (Java Utils.murmur2)', () => {
  test('matches kafka-clients 4.3.1 on every vector', () => {
    for (const [h, hash, positive, mod3, mod100] of VECTORS) {
      const key = Buffer.from(h, 'hex')
      assert.equal(murmur2(key), hash, h)
      assert.equal(toPositive(murmur2(key)), positive, h)
      assert.equal(partitionForKey(key, 3), mod3, h)
      assert.equal(partitionForKey(key, 100), mod100, h)
    }
    for (const [name, key, hash, mod3] of GENERATED) {
      assert.equal(murmur2(key), hash, name)
      assert.equal(partitionForKey(key, 3), mod3, name)
    }
  })

  test('returns a signed int32, as Java does', () => {
    assert.ok(VECTORS.some(([, hash]) => hash < 0))
    for (const [h] of VECTORS) {
      const v = murmur2(Buffer.from(h, 'hex'))
      assert.equal(v, v | 0)
    }
  })

  test('toPositive clears the sign bit (Integer.MIN_VALUE -> 0, -1 -> 0x7fffffff)', () => {
    assert.equal(toPositive(-2147483648), 0)
    assert.equal(toPositive(-1), 0x7fffffff)
    assert.equal(toPositive(5), 5)
  })

  test('partitionForKey rejects a non-positive partition count', () => {
    for (const n of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => partitionForKey(Buffer.from('k'), n), (e: unknown) => e instanceof KafkawireError && e.code === 'CLIENT_INVALID_ARGUMENT')
    }
  })
})
