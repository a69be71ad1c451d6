import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Recycler } from '../../src/client/recycler.js'

describe('Recycler', () => {
  test('a block handed back serves the next request of a similar size', () => {
    const r = new Recycler(1024, 4)
    const a = r.take(3000)
    assert.equal(a.length, 3000)
    assert.equal(a.buffer.byteLength, 3072, 'blocks are whole granules')
    r.give(a)
    assert.equal(r.freeBlocks, 1)
    const b = r.take(2500)
    assert.equal(b.length, 2500)
    assert.equal(b.buffer, a.buffer)
    assert.equal(r.freeBlocks, 0)
  })

  test('below one granule it is plain Buffer memory, never recycled', () => {
    const r = new Recycler(1024, 4)
    const small = r.take(100)
    assert.equal(small.length, 100)
    r.give(small)
    assert.equal(r.freeBlocks, 0)
  })

  test('buffers it did not allocate are ignored, so Node\'s shared pool is never handed out twice', () => {
    const r = new Recycler(1024, 4)
    r.give(Buffer.allocUnsafe(4096))
    r.give(Buffer.allocUnsafe(10))
    r.give(new Uint8Array(2048))
    assert.equal(r.freeBlocks, 0)
  })

  test('a block handed back twice is kept once: two users never share it', () => {
    const r = new Recycler(1024, 4)
    const a = r.take(2048)
    r.give(a)
    r.give(a.subarray(0, 10))
    assert.equal(r.freeBlocks, 1)
    const x = r.take(2048)
    const y = r.take(2048)
    assert.notEqual(x.buffer, y.buffer)
  })

  test('at most maxFree blocks are kept', () => {
    const r = new Recycler(1024, 2)
    const blocks = [r.take(1024), r.take(1024), r.take(1024)]
    for (const b of blocks) r.give(b)
    assert.equal(r.freeBlocks, 2)
  })

  test('a free block is not spent on a need of less than half its size', () => {
    const r = new Recycler(1024, 4)
    const big = r.take(8192)
    r.give(big)
    const small = r.take(1500)
    assert.notEqual(small.buffer, big.buffer)
    assert.equal(r.freeBlocks, 1)
    assert.equal(r.take(5000).buffer, big.buffer)
  })
})
