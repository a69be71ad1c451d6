import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import { pump, type PumpLimits } from '../../src/cli/produce.js'
import { KafkawireError } from '../../src/protocol/errors.js'
import type { ProducerMessage } from '../../src/producer/index.js'

const LIMITS: PumpLimits = { chunkRecords: 100, chunkBytes: 1 << 20, maxInFlight: 3, maxInFlightBytes: 1 << 20, idleFlushMs: 5 }
const value = (line: Buffer): ProducerMessage => ({ value: line })

/** An endless input of numbered lines, counting the bytes it produced. */
function endless(): { stream: Readable; produced: () => number } {
  let n = 0
  let bytes = 0
  const stream = new Readable({
    highWaterMark: 16 * 1024,
    read() {
      let s = ''
      for (let i = 0; i < 500; i++) s += `line ${n++}\n`
      bytes += s.length
      this.push(s)
    },
  })
  return { stream, produced: () => bytes }
}

test('reading stops while the sends in flight are at the limit, and resumes as they complete', async () => {
  const { stream, produced } = endless()
  const pending: Array<() => void> = []
  const sent: ProducerMessage[][] = []
  const done = pump(stream, {
    parse: value,
    send: (messages) => {
      sent.push(messages)
      return new Promise<void>((resolve) => pending.push(resolve))
    },
    limits: LIMITS,
  })
  await new Promise((r) => setTimeout(r, 100))
  // Three calls of 100 records in flight; what was read beyond them is one read's worth plus the stream's buffer.
  assert.equal(sent.length, 3)
  const stalled = produced()
  assert.ok(stalled < 64 * 1024, `read ${stalled} bytes with every send blocked`)
  await new Promise((r) => setTimeout(r, 100))
  assert.equal(produced(), stalled, 'nothing more is read while blocked')

  pending.shift()!()
  await new Promise((r) => setTimeout(r, 50))
  assert.ok(sent.length > 3, 'an acknowledgement lets reading go on')
  assert.ok(sent.every((m) => m.length === 100))

  // End the input: everything read is sent, then pump resolves.
  stream.destroy()
  const interval = setInterval(() => {
    while (pending.length > 0) pending.shift()!()
  }, 5)
  const r = await done
  clearInterval(interval)
  assert.equal(r.error !== null, true, 'a destroyed input is reported')
  assert.equal(r.records, sent.reduce((n, m) => n + m.length, 0))
})

test('chunks by records and bytes, sends the tail, and counts what was acknowledged', async () => {
  const input = Array.from({ length: 250 }, (_, i) => `${i}`).join('\n')
  const sizes: number[] = []
  const r = await pump([input], { parse: value, send: async (m) => void sizes.push(m.length), limits: LIMITS })
  assert.deepEqual(sizes, [100, 100, 50])
  assert.deepEqual(r, { lines: 250, records: 250, bytes: Buffer.byteLength(input) - 249, error: null })

  const bySize: number[] = []
  await pump(['x'.repeat(600) + '\n' + 'y'.repeat(600) + '\n' + 'z\n'], { parse: value, send: async (m) => void bySize.push(m.length), limits: { ...LIMITS, chunkBytes: 1000 } })
  assert.deepEqual(bySize, [2, 1])
})

test('a bad line: the lines before it are sent, nothing after it is read', async () => {
  const sent: string[] = []
  const r = await pump(['a\nb\nBAD\nc\n'], {
    parse: (line, n) => {
      if (line.toString() === 'BAD') throw new KafkawireError('INVALID_INPUT', `line ${n}`)
      return { value: line }
    },
    send: async (m) => void sent.push(...m.map((x) => String(x.value))),
    limits: LIMITS,
  })
  assert.deepEqual(sent, ['a', 'b'])
  assert.equal(r.records, 2)
  assert.equal(r.lines, 3)
  assert.ok(r.error instanceof KafkawireError && r.error.message === 'line 3')
})

test('a failed send stops reading; the sends in flight settle first', async () => {
  let calls = 0
  const settled: number[] = []
  const r = await pump([Array.from({ length: 1000 }, (_, i) => `${i}`).join('\n')], {
    parse: value,
    send: async () => {
      const k = ++calls
      await new Promise((res) => setTimeout(res, 10))
      settled.push(k)
      if (k === 2) throw new KafkawireError('PRODUCE_FAILED', 'boom')
    },
    limits: LIMITS,
  })
  assert.ok(r.error instanceof KafkawireError && r.error.code === 'PRODUCE_FAILED')
  assert.ok(calls < 10, `stopped early (${calls} calls)`)
  assert.equal(settled.length, calls, 'every call settled before pump returned')
  assert.equal(r.records, (calls - 1) * 100)
})

test('slow input: a partial chunk is sent after idleFlushMs without waiting for more', async () => {
  const sent: number[] = []
  const stream = new Readable({ read() {} })
  const done = pump(stream, { parse: value, send: async (m) => void sent.push(m.length), limits: LIMITS })
  stream.push('one\ntwo\n')
  await new Promise((r) => setTimeout(r, 50))
  assert.deepEqual(sent, [2])
  stream.push('three\n')
  stream.push(null)
  const r = await done
  assert.deepEqual(sent, [2, 1])
  assert.equal(r.records, 3)
})
