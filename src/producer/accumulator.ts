/**
 * The record accumulator: one queue of batches per partition, and the memory
 * budget for records not yet acknowledged. send() waits for memory when the
 * budget is used up (up to maxBlockMs), so a producer faster than the
 * cluster keeps bounded memory instead of buffering without limit.
 */
import type { RecordInput } from '../protocol/records/index.js'
import { ProducerBatch, sequenceAfter, type SendCall } from './batch.js'
import { BufferExhaustedError } from './errors.js'
import type { PartitionSequences } from './transaction-manager.js'

export class PartitionQueue {
  readonly topic: string
  readonly partition: number
  /** Oldest first. Batches queued for a retry are kept ahead of new ones, in sequence order. */
  readonly batches: ProducerBatch[] = []
  /** Requests on the wire for this partition (bounded for ordering). */
  onWire = 0
  sequences: PartitionSequences | null = null
  /** The last answer said our metadata is stale: wait for the refresh before sending again. */
  awaitingMetadata = false

  constructor(topic: string, partition: number) {
    this.topic = topic
    this.partition = partition
  }

  get head(): ProducerBatch | undefined {
    return this.batches[0]
  }

  /** The open batch new records go into, if any. */
  get open(): ProducerBatch | undefined {
    const last = this.batches[this.batches.length - 1]
    return last !== undefined && last.state === 'open' ? last : undefined
  }

  /**
   * Puts a batch back for a retry. With sequences it goes after retries with
   * a lower sequence and before every batch never sent; without (no
   * idempotence, one batch on the wire per partition) it goes first.
   */
  requeue(b: ProducerBatch): void {
    b.state = 'closed'
    const a = this.batches
    if (!b.hasSequence) {
      a.unshift(b)
      return
    }
    let i = 0
    // Wrap-aware: after int32 max the next sequence is 0, and it still comes later.
    while (i < a.length && a[i]!.sent && a[i]!.hasSequence && !sequenceAfter(a[i]!.baseSequence, b.baseSequence)) i++
    a.splice(i, 0, b)
  }

  remove(b: ProducerBatch): void {
    const i = this.batches.indexOf(b)
    if (i >= 0) this.batches.splice(i, 1)
  }
}

interface Waiter {
  bytes: number
  resolve: () => void
  reject: (e: Error) => void
  timer: NodeJS.Timeout
}

/** The memory budget for buffered records, with FIFO waiters. */
export class BufferPool {
  readonly limit: number
  used = 0
  readonly #waiters: Waiter[] = []

  constructor(limit: number) {
    this.limit = limit
  }

  get waiting(): number {
    return this.#waiters.length
  }

  /** Reserves `bytes`, waiting up to `maxBlockMs` for room. */
  reserve(bytes: number, maxBlockMs: number): Promise<void> | null {
    if (bytes > this.limit) {
      return Promise.reject(new BufferExhaustedError(`the records need ${bytes} bytes, more than the whole buffer (bufferMemory ${this.limit}); send fewer records at once or raise bufferMemory`))
    }
    if (this.#waiters.length === 0 && this.used + bytes <= this.limit) {
      this.used += bytes
      return null
    }
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        bytes,
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.#waiters.indexOf(w)
          if (i >= 0) this.#waiters.splice(i, 1)
          reject(new BufferExhaustedError(`no buffer memory for ${bytes} bytes within maxBlockMs (${maxBlockMs} ms): ${this.used} of ${this.limit} bytes are waiting to be sent`))
          this.#wake()
        }, maxBlockMs),
      }
      this.#waiters.push(w)
    })
  }

  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes)
    this.#wake()
  }

  #wake(): void {
    while (this.#waiters.length > 0) {
      const w = this.#waiters[0]!
      if (this.used + w.bytes > this.limit) return
      this.#waiters.shift()
      clearTimeout(w.timer)
      this.used += w.bytes
      w.resolve()
    }
  }

  failAll(err: Error): void {
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer)
      w.reject(err)
    }
  }
}

export class Accumulator {
  readonly #queues = new Map<string, PartitionQueue[]>()
  readonly batchSize: number
  /** Batches not yet acknowledged or failed. */
  readonly incomplete = new Set<ProducerBatch>()

  constructor(batchSize: number) {
    this.batchSize = batchSize
  }

  queue(topic: string, partition: number): PartitionQueue {
    let qs = this.#queues.get(topic)
    if (qs === undefined) this.#queues.set(topic, (qs = []))
    let q = qs[partition]
    if (q === undefined) qs[partition] = q = new PartitionQueue(topic, partition)
    return q
  }

  *queues(): IterableIterator<PartitionQueue> {
    for (const qs of this.#queues.values()) for (const q of qs) if (q !== undefined) yield q
  }

  /**
   * Appends a record to the partition's open batch, opening a new one when
   * the record does not fit. Returns the batch when it just became full.
   */
  append(q: PartitionQueue, record: RecordInput, call: SendCall, index: number, now: number, reserved: number): ProducerBatch | null {
    let b = q.open
    let size = b?.sizeWith(record) ?? -1
    if (b !== undefined && b.sizeBytes + size > this.batchSize && b.recordCount > 0) {
      b.state = 'closed'
      b = undefined
    }
    if (b === undefined) {
      b = new ProducerBatch(q.topic, q.partition, now)
      q.batches.push(b)
      this.incomplete.add(b)
      size = b.sizeWith(record)
    }
    b.append(record, size, call, index)
    b.reserved += reserved
    if (b.sizeBytes >= this.batchSize) {
      b.state = 'closed'
      return b
    }
    return null
  }

  complete(b: ProducerBatch): void {
    this.incomplete.delete(b)
  }

  get size(): number {
    return this.incomplete.size
  }
}
