/**
 * Reuses large memory blocks (Produce requests, encoded record batches)
 * instead of allocating fresh ones for every request. Each fresh block is
 * new external memory for V8, which counts it towards its next garbage
 * collection and faults its pages in; at hundreds of MB/s that showed up as
 * ~10% of a producer's CPU.
 *
 * Only blocks this recycler allocated come back into use (a WeakSet of its
 * ArrayBuffers), each at most once (a block handed back twice is kept
 * once), and the free list is bounded, so it never holds more than
 * `maxFree` blocks. Whoever hands a block back promises nothing reads or
 * writes it any more: for a request, after the socket's write callback.
 */
export class Recycler {
  readonly #free: ArrayBuffer[] = []
  readonly #mine = new WeakSet<ArrayBuffer>()
  readonly #granule: number
  readonly #maxFree: number

  /** Blocks are multiples of `granule` bytes, so one block serves many nearby sizes. */
  constructor(granule = 64 * 1024, maxFree = 16) {
    this.#granule = granule
    this.#maxFree = maxFree
  }

  get freeBlocks(): number {
    return this.#free.length
  }

  /**
   * A Buffer of exactly `n` bytes (uninitialized) over a reused or new
   * block. Below one granule it is plain Buffer memory (small requests and
   * batches gain nothing, and a big block held by a small batch in flight
   * would waste it); a free block is reused for at most twice its need.
   */
  take(n: number): Buffer {
    if (n < this.#granule) return Buffer.allocUnsafe(n)
    const free = this.#free
    for (let i = free.length - 1; i >= 0; i--) {
      const ab = free[i]!
      if (ab.byteLength >= n && ab.byteLength <= 2 * n) {
        free[i] = free[free.length - 1]!
        free.pop()
        return Buffer.from(ab, 0, n)
      }
    }
    // allocUnsafeSlow: a block of its own, never a slice of Node's shared pool.
    const block = Buffer.allocUnsafeSlow(Math.ceil(n / this.#granule) * this.#granule)
    this.#mine.add(block.buffer)
    return block.subarray(0, n)
  }

  /** Hands back the block under `b` (a Buffer from take()); anything else is ignored. */
  give(b: Uint8Array): void {
    const ab = b.buffer as ArrayBuffer
    if (!this.#mine.has(ab)) return
    const free = this.#free
    if (free.length >= this.#maxFree || free.includes(ab)) return
    free.push(ab)
  }
}
