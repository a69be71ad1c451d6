/**
 * The fuzz machinery itself: the oracle flags each kind of failure and lets
 * typed errors through, the minimiser shrinks to what matters, and mutation
 * is reproducible from its seed.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { ProtocolError } from '../src/protocol/errors.js'
import { minimise } from './minimise.js'
import { Rng, findLengthFields, mutate } from './mutate.js'
import { check, firstDifference, installAllocationMeter, installStrayCatcher, type Target, type Verdict } from './oracle.js'

installAllocationMeter()
installStrayCatcher()

/** A decoder with one planted bug per first byte. */
const planted: Target = {
  name: 'planted',
  versions: [0],
  seeds: () => [],
  decode(data) {
    switch (data[0]) {
      case 1:
        throw new RangeError('index out of range')
      case 2:
        return Buffer.allocUnsafe(data.readUInt32BE(1))
      case 3: {
        const until = performance.now() + 120
        while (performance.now() < until);
        return { n: 0 }
      }
      case 4:
        return Promise.reject(new TypeError('async bug'))
      default:
        throw new ProtocolError('PROTOCOL_INVALID_VALUE', 'not a planted bug')
    }
  },
}

/** Decodes one byte, but writes back values above 9 as 0. */
const lossy: Target = {
  name: 'lossy',
  versions: [0],
  seeds: () => [],
  decode: (data) => ({ n: data[0] ?? 0 }),
  encode: (v) => Buffer.from([(v as { n: number }).n > 9 ? 0 : (v as { n: number }).n]),
}

async function verdictOf(bytes: number[], t = planted): Promise<Verdict> {
  return check(t, { version: 0, data: Buffer.from(bytes) }, { budgetMs: 60 })
}

function kindOf(v: Verdict): string {
  return v.status === 'failure' ? v.failure.kind : v.status
}

describe('oracle', () => {
  test('a typed error is a rejection, not a failure', async () => {
    assert.equal(kindOf(await verdictOf([0])), 'rejected')
  })
  test('any other exception is a crash, sync or async', async () => {
    assert.equal(kindOf(await verdictOf([1])), 'crash')
    assert.equal(kindOf(await verdictOf([4])), 'crash')
  })
  test('a Buffer allocation out of proportion to the input is refused and flagged', async () => {
    assert.equal(kindOf(await verdictOf([2, 0x7f, 0xff, 0xff, 0xff])), 'memory')
    assert.equal(kindOf(await verdictOf([2, 0, 0, 1, 0])), 'ok')
  })
  test('a decode over the time budget is flagged', async () => {
    assert.equal(kindOf(await verdictOf([3])), 'slow')
  })
  test('a value that changes across a round trip is flagged', async () => {
    assert.equal(kindOf(await verdictOf([4], lossy)), 'ok')
    assert.equal(kindOf(await verdictOf([10], lossy)), 'roundtrip')
  })
  test('differences are reported by path, with array indices folded', () => {
    assert.equal(firstDifference({ a: [{ b: 1n }, { b: 2n }] }, { a: [{ b: 1n }, { b: 3n }] }, '')?.path, '.a[].b')
    assert.equal(firstDifference({ x: Buffer.from([1]), y: NaN }, { x: Buffer.from([1]), y: NaN }, ''), null)
  })
})

describe('minimiser', () => {
  test('keeps only the bytes the failure needs', async () => {
    const input = Buffer.from('....A........B....')
    const small = await minimise(input, async (d) => d.includes(0x41) && d.indexOf(0x42) > d.indexOf(0x41), { maxTests: 10_000, deadline: Infinity })
    assert.equal(small.toString('latin1'), 'AB')
  })
})

describe('mutation', () => {
  test('is reproducible from its seed', () => {
    const run = (seed: number) => {
      const rng = new Rng(seed)
      const base = Buffer.from('0001000000050a0b0c0d0e', 'hex')
      const ctx = { rng, maxLength: 64, other: () => base }
      return Array.from({ length: 50 }, () => mutate(base, ctx).toString('hex'))
    }
    assert.deepStrictEqual(run(7), run(7))
    assert.notDeepStrictEqual(run(7), run(8))
  })
  test('finds int16, int32 and varint length prefixes', () => {
    // int16 string length 3, then "abc"; int32 bytes length 2, then 2 bytes; compact length 2+1, then 2 bytes.
    const data = Buffer.from('0003616263' + '000000020102' + '030102', 'hex')
    const fields = findLengthFields(data).map((f) => `${f.pos}:${f.width}:${f.value}`)
    assert.ok(fields.includes('0:2:3'))
    assert.ok(fields.includes('5:4:2'))
    assert.ok(fields.includes('11:uvarint:2'))
  })
})
