// `kafkawire produce` against KAFKA_BROKERS: what lands where, read back with ListOffsets and Fetch.
import assert from 'node:assert/strict'
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { partitionForKey } from '../../src/index.js'
import { CompressionCodec } from '../../src/protocol/compression/codec.js'
import { assertOneLineError, brokers, cli, cliJson, ensureBuilt, fetchBatches, highWatermarks, unique, withAdmin } from './helpers.js'

const created: string[] = []
const dir = mkdtempSync(join(tmpdir(), 'kafkawire-cli-'))

before(() => ensureBuilt())
after(async () => {
  rmSync(dir, { recursive: true, force: true })
  if (created.length > 0) await withAdmin((a) => a.deleteTopics(created))
})

async function topic(prefix: string, partitions: number): Promise<string> {
  const name = unique(prefix)
  const [r] = await withAdmin((a) => a.createTopics([{ name, partitions, replicationFactor: 1 }]))
  assert.equal(r!.error, null)
  created.push(name)
  return name
}

/**
 * Records per partition, as the high watermarks Fetch reports. (Not ListOffsets latest: Tansu 0.6 answers
 * it with the last batch's base offset + 1; conformance/support/target.ts, 'list-offsets-latest'.)
 */
async function endOffsets(name: string, partitions: number): Promise<bigint[]> {
  return highWatermarks(name, partitions)
}

const RATE_LINE = /^(\d+) records in \d+\.\d\d s \(\d+ records\/s, \d+\.\d\d MB\/s\)\n$/

test('10,000 keyed lines from stdin land on the murmur2 partitions of their keys, in order, with the headers', async () => {
  const N = 10_000
  const P = 6
  const name = await topic('cli-produce-keys', P)
  const input = Array.from({ length: N }, (_, i) => `key-${i}\tvalue-${i}`).join('\n') + '\n'
  const r = await cliJson(['produce', '-t', name, '--key-separator', '\t', '--headers', 'source=cli,run=1'], { input })
  assert.equal(r.topic, name)
  assert.equal(r.records, N)
  assert.equal(r.bytes, Buffer.byteLength(input) - N)
  assert.ok(r.seconds > 0 && r.recordsPerSecond > 0)

  const expected = new Array<number>(P).fill(0)
  for (let i = 0; i < N; i++) expected[partitionForKey(Buffer.from(`key-${i}`), P)]!++
  const ends = await endOffsets(name, P)
  assert.equal(
    ends.reduce((a, b) => a + b, 0n),
    BigInt(N),
  )
  assert.deepEqual(ends, expected.map(BigInt))

  let batches = 0
  for (let p = 0; p < P; p++) {
    let last = -1
    let count = 0
    for (const b of await fetchBatches(name, p)) {
      batches++
      assert.ok(b.producerId >= 0n, 'idempotent by default (acks=all): batches carry a producer id')
      for (const rec of b.records) {
        const key = rec.key!.toString()
        const i = Number(key.slice(4))
        assert.equal(partitionForKey(rec.key!, P), p, `${key} is on partition ${p}`)
        assert.equal(rec.value!.toString(), `value-${i}`)
        assert.deepEqual(
          rec.headers.map((h) => [h.key, h.value?.toString()]),
          [
            ['source', 'cli'],
            ['run', '1'],
          ],
        )
        assert.ok(i > last, `records of partition ${p} keep the input order`)
        last = i
        count++
      }
    }
    assert.equal(count, expected[p])
  }
  assert.ok(batches <= N / 50, `records are sent in large batches (${batches} batches for ${N} records)`)
})

test('every compression codec: the batches on the broker use it and the values round-trip', async () => {
  const codecs = { none: CompressionCodec.None, gzip: CompressionCodec.Gzip, snappy: CompressionCodec.Snappy, lz4: CompressionCodec.Lz4, zstd: CompressionCodec.Zstd }
  const lines = Array.from({ length: 2000 }, (_, i) => `{"id":${i},"text":"the same words again and again, ${i % 10}"}`)
  for (const [codec, id] of Object.entries(codecs)) {
    const name = await topic(`cli-produce-${codec}`, 1)
    const r = await cli(['--brokers', brokers(), 'produce', '-t', name, '--compression', codec], { input: lines.join('\n') })
    assert.equal(r.code, 0, `--compression ${codec}: ${r.stderr}`)
    assert.match(r.stdout, RATE_LINE)
    assert.equal(RATE_LINE.exec(r.stdout)![1], '2000')
    assert.equal(r.stderr, '', 'no progress bar when stderr is not a terminal')
    const batches = await fetchBatches(name, 0)
    assert.ok(batches.length > 0)
    for (const b of batches) assert.equal(b.compression, id, `${codec} batch at offset ${b.baseOffset}`)
    assert.deepEqual(
      batches.flatMap((b) => b.records.map((rec) => rec.value!.toString())),
      lines,
    )
    assert.ok(batches.every((b) => b.records.every((rec) => rec.key === null && rec.headers.length === 0)))
  }
})

test('--file with -p: every line (CRLF, empty, last without newline) goes to that partition', async () => {
  const name = await topic('cli-produce-file', 3)
  const file = join(dir, 'records.txt')
  writeFileSync(file, 'first\r\nsecond\n\nlast')
  const r = await cliJson(['produce', '-t', name, '--file', file, '-p', '2'])
  assert.equal(r.records, 4)
  assert.deepEqual(await endOffsets(name, 3), [0n, 0n, 4n])
  const values = (await fetchBatches(name, 2)).flatMap((b) => b.records.map((rec) => rec.value!.toString()))
  assert.deepEqual(values, ['first', 'second', '', 'last'])
})

test('--acks 1 and --acks 0 send without idempotence', async () => {
  const name = await topic('cli-produce-acks', 2)
  const input = Array.from({ length: 3000 }, (_, i) => `v${i}`).join('\n')
  for (const acks of ['1', '0']) {
    const r = await cli(['--brokers', brokers(), 'produce', '-t', name, '--acks', acks], { input })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(RATE_LINE.exec(r.stdout)?.[1], '3000')
  }
  // acks=0 returns before the broker has written: wait for the log end to catch up.
  let total = 0n
  for (let i = 0; i < 50 && total < 6000n; i++) {
    total = (await endOffsets(name, 2)).reduce((a, b) => a + b, 0n)
    if (total < 6000n) await new Promise((r) => setTimeout(r, 100))
  }
  assert.equal(total, 6000n)
  const batches = [...(await fetchBatches(name, 0)), ...(await fetchBatches(name, 1))]
  assert.ok(batches.every((b) => b.producerId === -1n), 'not idempotent with acks 0 or 1')
})

test('100,000 lines through stdin: counts add up and the rate line is printed', async () => {
  const N = 100_000
  const name = await topic('cli-produce-bulk', 4)
  const input = Buffer.from(Array.from({ length: N }, (_, i) => `k${i % 1000}|${'x'.repeat(80)}${i}`).join('\n') + '\n')
  const r = await cli(['--brokers', brokers(), 'produce', '-t', name, '--key-separator', '|', '--compression', 'lz4'], { input })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(RATE_LINE.exec(r.stdout)?.[1], String(N))
  assert.equal(
    (await endOffsets(name, 4)).reduce((a, b) => a + b, 0n),
    BigInt(N),
  )
})

test('input and topic errors: exit 1, one line, nothing sent past the bad line', async () => {
  const name = await topic('cli-produce-errors', 1)
  const bad = await cli(['--brokers', brokers(), 'produce', '-t', name, '--key-separator', '='], { input: 'a=1\nb=2\nno separator here\nc=3\n' })
  assertOneLineError(bad, 1, /INVALID_INPUT: line 3 has no key separator "=" \(2 records acknowledged before the failure\)/)
  assert.deepEqual(await endOffsets(name, 1), [2n])

  const missing = unique('cli-produce-missing')
  assertOneLineError(await cli(['--brokers', brokers(), 'produce', '-t', missing], { input: 'x\n' }), 1, /UNKNOWN_TOPIC_OR_PARTITION/)
  const [d] = await withAdmin((a) => a.describeTopics([missing]))
  assert.equal(d!.error?.code, 'UNKNOWN_TOPIC_OR_PARTITION', 'produce does not auto-create topics')

  assertOneLineError(await cli(['--brokers', brokers(), 'produce', '-t', name, '-p', '5'], { input: 'x\n' }), 1, /UNKNOWN_TOPIC_OR_PARTITION: partition 5 does not exist/)
  assertOneLineError(await cli(['--brokers', brokers(), 'produce', '-t', name, '--file', join(dir, 'nope.txt')]), 1, /INVALID_CONFIG: cannot read --file .*ENOENT/)
})
