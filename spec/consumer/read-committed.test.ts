// read_committed: records of aborted transactions never reach the application, control batches (the
// transaction markers) never do under either isolation level, and the position still moves past all of
// them. Batches are built with the records encoder; the fetch responses follow the broker's rules (records
// up to the last stable offset, aborted transactions overlapping the fetched range).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { Consumer } from '../../src/consumer/consumer.js'
import { chunksFromBatches, type FetchedChunk } from '../../src/consumer/fetcher.js'
import { CompressionCodec } from '../../src/protocol/compression/codec.js'
import { decodeRecordBatches, decodeRecordBatchesSync, encodeEndTxnMarker, encodeRecordBatch, encodeRecordBatchSync } from '../../src/protocol/records/index.js'
import { consumeUntil, consumerOn, eventually, fakeKafka, texts } from './support/helpers.js'

interface LogBatch {
  bytes: Buffer
  baseOffset: bigint
  lastOffset: bigint
}

class Log {
  readonly batches: LogBatch[] = []
  end = 0n
  readonly open = new Map<bigint, bigint>()
  readonly aborted: Array<{ producerId: bigint; firstOffset: bigint; lastOffset: bigint }> = []
  /** Offset -> what a read_committed reader should see (true) or not (false) for data records. */
  readonly visible = new Map<bigint, boolean>()
  readonly pending = new Map<bigint, bigint[]>()

  data(producerId: bigint, n: number, transactional: boolean): void {
    const bytes = encodeRecordBatchSync(
      { baseOffset: this.end, compression: CompressionCodec.None, producerId, producerEpoch: producerId >= 0n ? 0 : -1, baseSequence: producerId >= 0n ? 0 : -1, isTransactional: transactional },
      Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`p${producerId}@${this.end + BigInt(i)}`), timestamp: 1_700_000_000_000 })),
    )
    const offsets = Array.from({ length: n }, (_, i) => this.end + BigInt(i))
    this.batches.push({ bytes, baseOffset: this.end, lastOffset: this.end + BigInt(n) - 1n })
    if (transactional) {
      if (!this.open.has(producerId)) this.open.set(producerId, this.end)
      this.pending.set(producerId, [...(this.pending.get(producerId) ?? []), ...offsets])
    } else for (const o of offsets) this.visible.set(o, true)
    this.end += BigInt(n)
  }

  end_(producerId: bigint, type: 'COMMIT' | 'ABORT'): void {
    const first = this.open.get(producerId)
    if (first === undefined) return
    this.batches.push({ bytes: encodeEndTxnMarker({ type, producerId, producerEpoch: 0, coordinatorEpoch: 0, timestamp: 1_700_000_000_000, baseOffset: this.end }), baseOffset: this.end, lastOffset: this.end })
    if (type === 'ABORT') this.aborted.push({ producerId, firstOffset: first, lastOffset: this.end })
    for (const o of this.pending.get(producerId) ?? []) this.visible.set(o, type === 'COMMIT')
    this.pending.delete(producerId)
    this.open.delete(producerId)
    this.end += 1n
  }

  /** A fetch response from `fetchOffset` with at most `maxBatches` batches, as the broker builds it. */
  fetch(fetchOffset: bigint, maxBatches: number): { batches: ReturnType<typeof decodeRecordBatchesSync>['batches']; aborted: Array<{ producerId: bigint; firstOffset: bigint }> } {
    const out = this.batches.filter((b) => b.lastOffset >= fetchOffset).slice(0, maxBatches)
    const last = out.length > 0 ? out[out.length - 1]!.lastOffset : fetchOffset
    const aborted = this.aborted.filter((a) => a.lastOffset >= fetchOffset && a.firstOffset <= last).map((a) => ({ producerId: a.producerId, firstOffset: a.firstOffset }))
    return { batches: decodeRecordBatchesSync(Buffer.concat(out.map((b) => b.bytes))).batches, aborted }
  }
}

/** Reads the whole log from `start` in fetches of `sizes` batches; returns the offsets handed out and the chunks. */
function readAll(log: Log, start: bigint, readCommitted: boolean, sizes: number[]): { offsets: bigint[]; chunks: FetchedChunk[] } {
  let position = start
  const offsets: bigint[] = []
  const chunks: FetchedChunk[] = []
  for (let i = 0; position < log.end; i++) {
    const res = log.fetch(position, sizes[i % sizes.length]!)
    const r = chunksFromBatches(res.batches, { topic: 't', partition: 0, fetchOffset: position, generation: 1, readCommitted, abortedTransactions: readCommitted ? res.aborted : null })
    for (const c of r.chunks) {
      chunks.push(c)
      for (const rec of c.records) offsets.push(rec.offset)
    }
    assert.ok(r.nextFetchOffset > position, 'every response moves the position')
    position = r.nextFetchOffset
  }
  assert.equal(position, log.end, 'the position ends at the log end, past the last marker')
  return { offsets, chunks }
}

describe('filtering fetched batches', () => {
  test('an aborted transaction between committed data is dropped; its ABORT and COMMIT markers never surface', () => {
    const log = new Log()
    log.data(-1n, 2, false) // 0-1
    log.data(7n, 3, true) // 2-4 aborted
    log.end_(7n, 'ABORT') // 5
    log.data(8n, 2, true) // 6-7 committed
    log.end_(8n, 'COMMIT') // 8
    log.data(-1n, 1, false) // 9
    assert.deepEqual(readAll(log, 0n, true, [100]).offsets, [0n, 1n, 6n, 7n, 9n])
    assert.deepEqual(readAll(log, 0n, false, [100]).offsets, [0n, 1n, 2n, 3n, 4n, 6n, 7n, 9n], 'read_uncommitted sees aborted data, not markers')
  })

  test('interleaved transactions of two producers: only the aborted producer’s batches are dropped, up to its marker', () => {
    const log = new Log()
    log.data(1n, 1, true) // 0 (p1, aborted)
    log.data(2n, 1, true) // 1 (p2, committed)
    log.data(1n, 1, true) // 2 (p1)
    log.end_(1n, 'ABORT') // 3
    log.data(2n, 1, true) // 4 (p2)
    log.data(1n, 1, true) // 5 (p1, a new transaction, committed)
    log.end_(2n, 'COMMIT') // 6
    log.end_(1n, 'COMMIT') // 7
    assert.deepEqual(readAll(log, 0n, true, [100]).offsets, [1n, 4n, 5n])
    assert.deepEqual(readAll(log, 0n, true, [1]).offsets, [1n, 4n, 5n], 'one batch per fetch: the aborted list of each response suffices')
  })

  test('a fetch starting inside an aborted transaction still drops the rest of it', () => {
    const log = new Log()
    log.data(3n, 2, true) // 0-1
    log.data(3n, 2, true) // 2-3
    log.end_(3n, 'ABORT') // 4
    log.data(-1n, 1, false) // 5
    assert.deepEqual(readAll(log, 2n, true, [100]).offsets, [5n])
  })

  test('a batch holding only control or aborted records still yields an (empty) chunk, so the position passes it', () => {
    const log = new Log()
    log.data(4n, 2, true)
    log.end_(4n, 'ABORT')
    const { chunks } = readAll(log, 0n, true, [100])
    assert.deepEqual(chunks.map((c) => [c.records.length, c.nextOffset]), [[0, 2n], [0, 3n]])
  })

  test('records before the fetch offset inside a compressed batch are skipped', async () => {
    const bytes = await encodeRecordBatch({ baseOffset: 10n, compression: CompressionCodec.Gzip }, Array.from({ length: 5 }, (_, i) => ({ key: null, value: Buffer.from(`v${i}`), timestamp: 1 })))
    const { batches } = await decodeRecordBatches(bytes)
    const r = chunksFromBatches(batches, { topic: 't', partition: 0, fetchOffset: 12n, generation: 0, readCommitted: false, abortedTransactions: null })
    assert.deepEqual(r.chunks[0]!.records.map((x) => x.offset), [12n, 13n, 14n])
    assert.equal(r.nextFetchOffset, 15n)
  })

  test('property: any interleaving of transactional producers, read in fetches of any size from any offset, shows exactly the committed and non-transactional records', () => {
    const event = fc.oneof(
      fc.record({ kind: fc.constant('data' as const), producer: fc.integer({ min: 0, max: 3 }), n: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ kind: fc.constant('end' as const), producer: fc.integer({ min: 1, max: 3 }), commit: fc.boolean() }),
    )
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 40 }), fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }), fc.nat(), (events, finalCommit, sizes, startSeed) => {
        const log = new Log()
        for (const e of events) {
          if (e.kind === 'data') {
            // producer 0 writes without transactions (as a plain or idempotent producer would)
            log.data(e.producer === 0 ? -1n : BigInt(e.producer), e.n, e.producer !== 0)
          } else log.end_(BigInt(e.producer), e.commit ? 'COMMIT' : 'ABORT')
        }
        // Close what is open so everything is below the last stable offset.
        for (const p of [1n, 2n, 3n]) log.end_(p, finalCommit[Number(p) - 1] ? 'COMMIT' : 'ABORT')
        if (log.end === 0n) return
        const start = BigInt(startSeed) % log.end
        const expectCommitted = [...log.visible].filter(([o, v]) => v && o >= start).map(([o]) => o).sort((a, b) => (a < b ? -1 : 1))
        const expectAll = [...log.visible.keys()].filter((o) => o >= start).sort((a, b) => (a < b ? -1 : 1))
        assert.deepEqual(readAll(log, start, true, sizes).offsets, expectCommitted)
        assert.deepEqual(readAll(log, start, false, sizes).offsets, expectAll)
      }),
      { numRuns: 1000 },
    )
  })
})

describe('read_committed through a consumer', () => {
  test('read_committed stops at the last stable offset, skips aborted transactions, and commits past the markers; read_uncommitted sees everything', async (t) => {
    const kafka = await fakeKafka(t)
    kafka.createTopic('txn', 1)
    kafka.appendValues('txn', 0, ['plain-0'])
    kafka.appendValues('txn', 0, ['aborted-1', 'aborted-2'], { producerId: 10n, transactional: true })
    kafka.endTransaction('txn', 0, 10n, 'ABORT')
    kafka.appendValues('txn', 0, ['committed-4'], { producerId: 11n, transactional: true })
    kafka.endTransaction('txn', 0, 11n, 'COMMIT') // 5
    kafka.appendValues('txn', 0, ['open-6'], { producerId: 12n, transactional: true }) // open: the LSO is 6

    const committedReader = consumerOn(t, kafka, { groupId: 'rc', isolationLevel: 'read_committed', autoOffsetReset: 'earliest', commitStrategy: 'manual' })
    committedReader.subscribe(['txn'])
    const seen = await consumeUntil(committedReader, (all) => all.length >= 2)
    assert.deepEqual(texts(seen), ['plain-0', 'committed-4'])
    // The COMMIT marker at 5 is processed too once the run passes it: the commit reaches the LSO.
    await eventually(async () => {
      await committedReader.commit()
      assert.equal(kafka.committed('rc', 'txn', 0), 6n)
    })
    assert.equal(committedReader.lag()[0]!.endOffset, 6n, 'lag is measured to the last stable offset')

    const all = consumerOn(t, kafka, { groupId: 'ru', autoOffsetReset: 'earliest' })
    all.subscribe(['txn'])
    assert.deepEqual(texts(await consumeUntil(all, (x) => x.length >= 5)), ['plain-0', 'aborted-1', 'aborted-2', 'committed-4', 'open-6'])
  })

  test('a consumer that processed everything commits the log end even when the log ends with a transaction marker', async (t) => {
    const kafka = await fakeKafka(t)
    kafka.createTopic('txn', 1)
    kafka.appendValues('txn', 0, ['a', 'b'], { producerId: 3n, transactional: true })
    kafka.endTransaction('txn', 0, 3n, 'COMMIT') // 2
    const c = consumerOn(t, kafka, { groupId: 'g', isolationLevel: 'read_committed', autoOffsetReset: 'earliest', commitStrategy: 'checkpoint' })
    c.subscribe(['txn'])
    const done = new Promise<void>((resolve, reject) => {
      let n = 0
      c.run({
        eachMessage: async () => {
          if (++n === 2) resolve()
        },
      }).catch(reject)
    })
    await done
    await eventually(async () => {
      await c.checkpoint()
      assert.equal(kafka.committed('g', 'txn', 0), 3n)
    })
  })
})

export type { Consumer }
