/**
 * A producer batch: records bound for one partition, sent together as one
 * record batch. It also remembers which send() call each record came from so
 * the call can resolve with one result per record.
 */
import type { KafkawireError } from '../protocol/errors.js'
import { patchRecordBatch, type RecordHeaderInput, type RecordInput } from '../protocol/records/index.js'
import { varintSize, varlongNumberSize } from '../protocol/writer.js'

/** What send() resolves with, per record. */
export interface RecordMetadata {
  topic: string
  partition: number
  /** The record's offset; -1n with acks=0 or for a duplicate the broker could not place. */
  offset: bigint
  /** CreateTime given or assigned by the producer, or the broker's LogAppendTime. */
  timestamp: number
}

/** One send() call, waiting for the results of its records. */
export class SendCall {
  readonly results: Array<RecordMetadata | KafkawireError | undefined>
  remaining: number
  failed = false
  readonly resolve: (r: Array<RecordMetadata | KafkawireError>) => void

  constructor(count: number, resolve: (r: Array<RecordMetadata | KafkawireError>) => void) {
    this.results = new Array(count)
    this.remaining = count
    this.resolve = resolve
  }

  settle(index: number, r: RecordMetadata | KafkawireError, isError: boolean): void {
    if (this.results[index] !== undefined) return
    this.results[index] = r
    if (isError) this.failed = true
    if (--this.remaining === 0) this.resolve(this.results as Array<RecordMetadata | KafkawireError>)
  }
}

/** v2 record batch header: baseOffset .. recordCount (protocol guide, "Record Batch"). */
export const BATCH_OVERHEAD = 61

/**
 * Exact encoded size of a record (length prefix included) at a given offset
 * delta and timestamp delta, as DefaultRecord.sizeInBytes computes it.
 */
export function recordSize(offsetDelta: number, timestampDelta: number, key: Buffer | null, value: Buffer | null, headers: readonly RecordHeaderInput[] | undefined): number {
  let body = 1 + varlongNumberSize(timestampDelta) + varintSize(offsetDelta)
  body += key === null ? 1 : varintSize(key.length) + key.length
  body += value === null ? 1 : varintSize(value.length) + value.length
  const hs = headers ?? EMPTY
  body += varintSize(hs.length)
  for (let i = 0; i < hs.length; i++) {
    const h = hs[i]!
    const kl = Buffer.byteLength(h.key, 'utf8')
    body += varintSize(kl) + kl
    body += h.value === null ? 1 : varintSize(h.value.length) + h.value.length
  }
  return varintSize(body) + body
}

const EMPTY: readonly RecordHeaderInput[] = []

export type BatchState = 'open' | 'closed' | 'in-flight' | 'done'

export class ProducerBatch {
  readonly topic: string
  readonly partition: number
  readonly createdAt: number
  readonly records: RecordInput[] = []
  readonly calls: SendCall[] = []
  readonly callIndex: number[] = []
  /** Encoded size in bytes (uncompressed), batch header included. */
  sizeBytes = BATCH_OVERHEAD
  /** Memory reserved from the buffer pool for this batch. */
  reserved = 0
  baseTimestamp = -1
  state: BatchState = 'open'
  attempts = 0
  retryAt = 0
  /** Set once the batch has been on the wire: its outcome may then be unknown. */
  sent = false
  producerId = -1n
  producerEpoch = -1
  baseSequence = -1
  isTransactional = false
  /** The encoded batch, kept across retries; stamp() patches it in place. */
  encoded: Buffer | null = null
  lastError: KafkawireError | null = null
  /** Resolves when the batch is acknowledged or failed; flush() waits on it. */
  readonly done: Promise<void>
  #resolveDone!: () => void

  constructor(topic: string, partition: number, now: number) {
    this.topic = topic
    this.partition = partition
    this.createdAt = now
    this.done = new Promise((r) => (this.#resolveDone = r))
  }

  get recordCount(): number {
    return this.records.length
  }

  get hasSequence(): boolean {
    return this.baseSequence >= 0
  }

  /** The size `record` would add, or -1 if it cannot go into this batch (timestamp out of delta range). */
  sizeWith(record: RecordInput): number {
    const tsDelta = this.baseTimestamp < 0 ? 0 : record.timestamp - this.baseTimestamp
    return recordSize(this.records.length, tsDelta, record.key as Buffer | null, record.value as Buffer | null, record.headers)
  }

  append(record: RecordInput, size: number, call: SendCall, index: number): void {
    if (this.baseTimestamp < 0) this.baseTimestamp = record.timestamp
    this.records.push(record)
    this.calls.push(call)
    this.callIndex.push(index)
    this.sizeBytes += size
  }

  /** Stamps idempotence fields, patching an already encoded batch in place (no recompression). */
  stamp(producerId: bigint, producerEpoch: number, baseSequence: number, isTransactional: boolean): void {
    if (this.encoded !== null && (this.producerId !== producerId || this.producerEpoch !== producerEpoch || this.baseSequence !== baseSequence || this.isTransactional !== isTransactional)) {
      patchRecordBatch(this.encoded, { producerId, producerEpoch, baseSequence, isTransactional })
    }
    this.producerId = producerId
    this.producerEpoch = producerEpoch
    this.baseSequence = baseSequence
    this.isTransactional = isTransactional
  }

  /** The sequence of the last record (wrapping at int32 max, DefaultRecordBatch.incrementSequence). */
  get lastSequence(): number {
    return incrementSequence(this.baseSequence, this.records.length - 1)
  }

  complete(baseOffset: bigint, timestamp: number | null): void {
    if (this.state === 'done') return
    this.state = 'done'
    const n = this.records.length
    const known = baseOffset >= 0n
    const base = known && baseOffset <= 9007199254740991n ? Number(baseOffset) : -1
    for (let i = 0; i < n; i++) {
      const offset = !known ? -1n : base >= 0 ? BigInt(base + i) : baseOffset + BigInt(i)
      this.calls[i]!.settle(this.callIndex[i]!, {
        topic: this.topic,
        partition: this.partition,
        offset,
        timestamp: timestamp ?? this.records[i]!.timestamp,
      }, false)
    }
    this.#resolveDone()
  }

  fail(err: KafkawireError): void {
    if (this.state === 'done') return
    this.state = 'done'
    this.lastError = err
    for (let i = 0; i < this.records.length; i++) this.calls[i]!.settle(this.callIndex[i]!, err, true)
    this.#resolveDone()
  }

  /**
   * Splits a batch the broker refused as too large into two halves. The
   * halves share the original sequence range, so batches sent after it keep
   * valid sequences (as RecordAccumulator.splitAndReenqueue does).
   */
  split(now: number): [ProducerBatch, ProducerBatch] {
    const mid = Math.ceil(this.records.length / 2)
    const a = new ProducerBatch(this.topic, this.partition, this.createdAt)
    const b = new ProducerBatch(this.topic, this.partition, this.createdAt)
    for (let i = 0; i < this.records.length; i++) {
      const target = i < mid ? a : b
      const r = this.records[i]!
      target.append(r, target.sizeWith(r), this.calls[i]!, this.callIndex[i]!)
    }
    for (const x of [a, b]) {
      x.state = 'closed'
      x.attempts = this.attempts
      x.retryAt = now
      x.sent = this.sent
    }
    if (this.hasSequence) {
      a.stamp(this.producerId, this.producerEpoch, this.baseSequence, this.isTransactional)
      b.stamp(this.producerId, this.producerEpoch, incrementSequence(this.baseSequence, mid), this.isTransactional)
    }
    a.reserved = Math.ceil(this.reserved / 2)
    b.reserved = this.reserved - a.reserved
    // The original's done promise resolves when both halves are done.
    void Promise.all([a.done, b.done]).then(() => {
      this.state = 'done'
      this.#resolveDone()
    })
    return [a, b]
  }
}

export function incrementSequence(seq: number, delta: number): number {
  return seq > 0x7fffffff - delta ? delta - (0x7fffffff - seq) - 1 : seq + delta
}

/**
 * Whether sequence `a` comes after `b`. Sequences are 31-bit (they wrap from
 * int32 max to 0), so they are compared by their distance modulo 2^31 within
 * half that space (far more than five batches in flight), not by value:
 * 3 comes after 2147483600.
 */
export function sequenceAfter(a: number, b: number): boolean {
  const d = (a - b) & 0x7fffffff
  return d !== 0 && d < 0x40000000
}
