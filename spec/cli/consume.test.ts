import assert from 'node:assert/strict'
import { PassThrough, Readable, Writable } from 'node:stream'
import { test } from 'node:test'
import { jsonLine, printRecords, textLine } from '../../src/cli/consume.js'
import { run } from '../../src/cli/run.js'
import type { Consumer, ConsumerMessage, RunOptions } from '../../src/consumer/index.js'
import { BrokerError, KafkawireError } from '../../src/protocol/errors.js'

type Message = ConsumerMessage<Buffer | null, Buffer | null>

function msg(partition: number, offset: bigint, value: Buffer | string | null, extra: Partial<Message> = {}): Message {
  return { topic: 't', partition, offset, timestamp: 1700000000000, key: null, value: typeof value === 'string' ? Buffer.from(value) : value, headers: [], leaderEpoch: 0, ...extra }
}

test('textLine: the value as UTF-8, invalid bytes as U+FFFD, a null value as an empty line', () => {
  assert.equal(textLine(msg(0, 0n, 'héllo ✓ 🦀')), 'héllo ✓ 🦀\n')
  assert.equal(textLine(msg(0, 0n, Buffer.from([0x61, 0xff, 0x62, 0xc3]))), 'a\uFFFDb\uFFFD\n')
  assert.equal(textLine(msg(0, 0n, null)), '\n')
  assert.equal(textLine(msg(0, 0n, '')), '\n')
})

test('jsonLine: one line; offset as a decimal string; null where absent; headers in order with duplicates', () => {
  const m = msg(3, 9007199254740993n, Buffer.from([0x7b, 0xfe]), {
    key: Buffer.from('k'),
    timestamp: 1712345678901,
    headers: [
      { key: 'trace', value: Buffer.from('a') },
      { key: 'trace', value: Buffer.from('b') },
      { key: 'empty', value: null },
    ],
  })
  const line = jsonLine(m)
  assert.ok(line.endsWith('}\n') && !line.slice(0, -1).includes('\n'))
  assert.deepEqual(JSON.parse(line), {
    topic: 't',
    partition: 3,
    offset: '9007199254740993',
    timestamp: 1712345678901,
    key: 'k',
    value: '{\uFFFD',
    headers: [
      { key: 'trace', value: 'a' },
      { key: 'trace', value: 'b' },
      { key: 'empty', value: null },
    ],
  })
  assert.deepEqual(JSON.parse(jsonLine(msg(0, 5n, null))), { topic: 't', partition: 0, offset: '5', timestamp: 1700000000000, key: null, value: null, headers: [] })
  // A value with a newline stays on one line.
  assert.equal(jsonLine(msg(0, 0n, 'a\nb')).split('\n').length, 2)
})

/** Hands out the batches in order like Consumer.run with eachBatch, then waits until aborted (more records may come). */
function fakeConsumer(batches: Message[][], o: { fail?: Error; afterBatch?: (i: number) => void } = {}): Pick<Consumer, 'run'> & { resolved: string[] } {
  const resolved: string[] = []
  return {
    resolved,
    async run(opts: RunOptions<Buffer | null, Buffer | null>): Promise<void> {
      assert.equal(opts.partitionsConcurrency, 1)
      assert.equal(opts.eachBatchAutoResolve, false)
      const signal = opts.signal!
      for (const [i, messages] of batches.entries()) {
        if (signal.aborted) break
        const p = messages[0]!.partition
        await opts.eachBatch!({
          batch: { topic: 't', partition: p, messages, highWatermark: 100n, firstOffset: messages[0]!.offset, lastOffset: messages.at(-1)!.offset },
          resolveOffset: (offset) => void resolved.push(`${p}@${offset}`),
          isRunning: () => !signal.aborted,
          isStale: () => false,
        })
        o.afterBatch?.(i)
      }
      if (o.fail) throw o.fail
      if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
      throw signal.reason
    },
  }
}

function sink(): { out: PassThrough; text: () => string; writes: () => number } {
  const out = new PassThrough()
  let text = ''
  let writes = 0
  out.on('data', (b: Buffer) => {
    text += b.toString()
    writes++
  })
  return { out, text: () => text, writes: () => writes }
}

const batches = (): Message[][] => [
  [msg(0, 0n, 'a'), msg(0, 1n, 'b'), msg(0, 2n, 'c')],
  [msg(1, 10n, 'd'), msg(1, 11n, 'e'), msg(1, 12n, 'f')],
  [msg(0, 3n, 'g')],
]

test('printRecords: stops after COUNT records, one write per batch, resolving exactly the printed offsets', async () => {
  const c = fakeConsumer(batches())
  const s = sink()
  const r = await printRecords(c, { out: s.out, format: textLine, limit: 4, signal: new AbortController().signal })
  assert.deepEqual(r, { printed: 4, outputClosed: false })
  assert.equal(s.text(), 'a\nb\nc\nd\n')
  assert.equal(s.writes(), 2)
  assert.deepEqual(c.resolved, ['0@2', '1@10'])
})

test('printRecords: the signal (SIGINT/SIGTERM) ends it; what was printed is resolved', async () => {
  const stop = new AbortController()
  const c = fakeConsumer(batches(), { afterBatch: (i) => i === 1 && stop.abort() })
  const s = sink()
  const r = await printRecords(c, { out: s.out, format: textLine, limit: null, signal: stop.signal })
  assert.deepEqual(r, { printed: 6, outputClosed: false })
  assert.deepEqual(c.resolved, ['0@2', '1@12'])
  // Already aborted: nothing is printed.
  const none = await printRecords(fakeConsumer(batches()), { out: sink().out, format: textLine, limit: null, signal: AbortSignal.abort() })
  assert.deepEqual(none, { printed: 0, outputClosed: false })
})

test('printRecords: a closed stdout ends it cleanly; the batch that could not be written is not resolved', async () => {
  const s = sink()
  const c = fakeConsumer(batches(), { afterBatch: (i) => i === 0 && s.out.destroy() })
  const r = await printRecords(c, { out: s.out, format: jsonLine, limit: null, signal: new AbortController().signal })
  assert.deepEqual(r, { printed: 3, outputClosed: true })
  assert.deepEqual(c.resolved, ['0@2'])
  assert.equal(s.out.listenerCount('error'), 0, 'its error listener is removed')

  // EPIPE as process.stdout reports it: an error event and a failed write.
  const epipe = new Writable({ write: (_c, _e, cb) => cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })) })
  const c2 = fakeConsumer(batches())
  assert.deepEqual(await printRecords(c2, { out: epipe, format: textLine, limit: null, signal: new AbortController().signal }), { printed: 0, outputClosed: true })
  assert.deepEqual(c2.resolved, [])
})

test('printRecords: another write error, and a consumer failure, reject with typed errors', async () => {
  const full = new Writable({ write: (_c, _e, cb) => cb(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })) })
  await assert.rejects(printRecords(fakeConsumer(batches()), { out: full, format: textLine, limit: null, signal: new AbortController().signal }), (e: unknown) => {
    assert.ok(e instanceof KafkawireError)
    assert.equal(e.code, 'OUTPUT_ERROR')
    assert.equal(e.message, 'cannot write to stdout: ENOSPC (0 records printed before)')
    return true
  })
  const denied = new BrokerError(29, { topic: 't' })
  await assert.rejects(printRecords(fakeConsumer(batches().slice(0, 1), { fail: denied }), { out: sink().out, format: textLine, limit: null, signal: new AbortController().signal }), denied)
})

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  stdout.on('data', (b: Buffer) => (out += b.toString()))
  stderr.on('data', (b: Buffer) => (err += b.toString()))
  const code = await run(argv, { stdin: Readable.from([]), stdout, stderr, env: {} })
  return { code, stdout: out, stderr: err }
}

test('consume: usage errors exit 2 before connecting, one line naming the problem', async () => {
  const cases: Array<[string[], string]> = [
    [['consume'], '-t TOPIC is required'],
    [['consume', '-t', 'x', '-n', '0'], '--count must be between 1 and 9007199254740991, got 0'],
    [['consume', '-t', 'x', '-n', 'ten'], '--count must be a whole number, got "ten"'],
    [['consume', '-t', 'x', '-g', ''], '--group must not be empty'],
    [['consume', '-t', 'x', '--isolation', 'serializable'], '--isolation must be read_committed or read_uncommitted, got "serializable"'],
    [['consume', '-t', 'x', '--format', 'xml'], '--format must be text or json, got "xml"'],
    [['consume', '-t', 'x', '--format', 'text', '--json'], '--json and --format text contradict each other'],
    [['consume', '-t', 'x', '-p', 'one'], '--partition must be a whole number, got "one"'],
    [['consume', '-t', 'x', '-p', '0', '--offset=-1'], '--offset must be a non-negative whole number, got "-1"'],
    [['consume', '-t', 'x', '-g', 'g', '-p', '0'], '-p and --offset read without a group; drop -g or them'],
    [['consume', '-t', 'x', '--offset', '5'], '--offset needs -p PARTITION'],
    [['consume', '-t', 'x', '-p', '0', '--offset', '5', '--from-beginning'], '--offset and --from-beginning contradict each other'],
    [['consume', '-t', 'x', 'extra'], 'unexpected argument "extra"'],
  ]
  for (const [argv, message] of cases) {
    const r = await cli(['--brokers', '127.0.0.1:1', ...argv])
    assert.deepEqual(r, { code: 2, stdout: '', stderr: `kafkawire: consume: ${message} (see 'kafkawire consume --help')\n` }, argv.join(' '))
  }
})

test('consume --help documents the formats, the group behaviour and how it stops', async () => {
  const r = await cli(['consume', '--help'])
  assert.equal(r.code, 0)
  assert.match(r.stdout, /^Usage: kafkawire consume -t TOPIC \[-g GROUP\] \[--from-beginning\] \[-n COUNT\]/)
  for (const s of ['U+FFFD', 'empty line for a null value', 'duplicate keys kept', 'nothing is committed', 'SIGINT', '-n, --count COUNT', '-g, --group GROUP', '--isolation LEVEL']) assert.ok(r.stdout.includes(s), s)
})
