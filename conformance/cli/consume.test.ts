// `kafkawire consume` against KAFKA_BROKERS: records written by the library come back exactly, group
// offsets match what was printed, read_committed hides aborted transactions, and the command ends cleanly
// on -n, SIGINT/SIGTERM and a closed stdout.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { Producer, type ProducerMessage } from '../../src/index.js'
import { requires } from '../support/target.js'
import { assertOneLineError, brokers, cli, ensureBuilt, MAIN, root, unique, withAdmin } from './helpers.js'

const created: string[] = []
const groups: string[] = []

before(() => ensureBuilt())
after(async () => {
  await withAdmin(async (a) => {
    if (groups.length > 0) await a.deleteGroups(groups)
    if (created.length > 0) await a.deleteTopics(created)
  })
})

async function topic(prefix: string, partitions: number): Promise<string> {
  const name = unique(prefix)
  const [r] = await withAdmin((a) => a.createTopics([{ name, partitions, replicationFactor: 1 }]))
  assert.equal(r!.error, null)
  created.push(name)
  return name
}

function group(prefix: string): string {
  const g = unique(prefix)
  groups.push(g)
  return g
}

interface Line {
  topic: string
  partition: number
  offset: string
  timestamp: number
  key: string | null
  value: string | null
  headers: Array<{ key: string; value: string | null }>
}

/** Runs `kafkawire consume` with --brokers, asserts exit 0 and nothing on stderr, parses the JSON lines. */
async function consumeJson(args: string[]): Promise<Line[]> {
  const r = await cli(['--brokers', brokers(), 'consume', '--format', 'json', ...args])
  assert.equal(r.code, 0, `consume ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  assert.equal(r.stderr, '')
  assert.ok(r.stdout === '' || r.stdout.endsWith('\n'))
  return r.stdout === '' ? [] : r.stdout.slice(0, -1).split('\n').map((l) => JSON.parse(l) as Line)
}

function byPartition(lines: Line[]): Map<number, Line[]> {
  const m = new Map<number, Line[]>()
  for (const l of lines) m.set(l.partition, [...(m.get(l.partition) ?? []), l])
  return m
}

async function committed(groupId: string, name: string, partitions: number): Promise<Array<bigint | null>> {
  const rows = await withAdmin((a) => a.listConsumerGroupOffsets(groupId, { topics: [name] }))
  return Array.from({ length: partitions }, (_, p) => {
    const r = rows.find((x) => x.partition === p)
    if (r === undefined) return null
    assert.equal(r.error, null, `committed offset of ${name}-${p}`)
    return r.error === null ? r.offset : null
  })
}

async function assertLeft(groupId: string): Promise<void> {
  const [d] = await withAdmin((a) => a.describeGroups([groupId]))
  assert.equal(d!.error, null)
  assert.equal(d!.error === null && d!.state.toLowerCase(), 'empty', `${groupId} has no members after consume exits`)
}

async function produce(name: string, messages: ProducerMessage[]): Promise<Array<{ partition: number; offset: bigint }>> {
  const p = new Producer({ brokers: brokers(), allowAutoTopicCreation: false })
  try {
    return await p.send({ topic: name, messages })
  } finally {
    await p.close()
  }
}

test('--from-beginning -n N --format json: exactly the records produced, in per-partition order', requires('fetch-mid-batch'), async () => {
  const P = 3
  const name = await topic('cli-consume-exact', P)
  const ts = Date.now() - 60_000
  const messages: ProducerMessage[] = [
    { key: 'k1', value: 'plain', partition: 0, timestamp: ts },
    { key: null, value: 'no key', partition: 0, timestamp: ts + 1, headers: [{ key: 'h', value: 'x' }] },
    { key: 'dup', value: 'héllo ✓', partition: 1, timestamp: ts + 2, headers: [{ key: 'trace', value: 'a' }, { key: 'trace', value: 'b' }, { key: 'empty', value: null }, { key: 'trace', value: '' }] },
    { key: 'gone', value: null, partition: 1, timestamp: ts + 3 },
    { key: 'bytes', value: Buffer.from([0x61, 0xff, 0xfe, 0x62]), partition: 2, timestamp: ts + 4 },
    { key: 'empty', value: '', partition: 2, timestamp: ts + 5 },
    { key: 'k1', value: 'second for k1', partition: 0, timestamp: ts + 6 },
  ]
  const meta = await produce(name, messages)
  const expected = new Map<number, Line[]>()
  const utf8 = (v: unknown): string | null => (v === null || v === undefined ? null : Buffer.from(v as string | Buffer).toString('utf8'))
  messages.forEach((m, i) => {
    const headers = Array.isArray(m.headers) ? m.headers.map((h) => ({ key: h.key, value: utf8(h.value) })) : []
    const line: Line = { topic: name, partition: meta[i]!.partition, offset: String(meta[i]!.offset), timestamp: m.timestamp!, key: utf8(m.key), value: utf8(m.value), headers }
    expected.set(line.partition, [...(expected.get(line.partition) ?? []), line])
  })

  const lines = await consumeJson(['-t', name, '--from-beginning', '-n', String(messages.length)])
  assert.equal(lines.length, messages.length)
  assert.deepEqual(byPartition(lines), expected)
  const dup = lines.find((l) => l.key === 'dup')!
  assert.deepEqual(dup.headers.map((h) => h.key), ['trace', 'trace', 'empty', 'trace'], 'duplicate header keys kept, in order')
  assert.equal(lines.find((l) => l.key === 'gone')!.value, null, 'a tombstone has a null value')
  assert.equal(lines.find((l) => l.key === 'bytes')!.value, 'a\uFFFD\uFFFDb', 'invalid UTF-8 as U+FFFD')

  // Text: the values, a tombstone as an empty line; -p and --offset pick where to start.
  const text = await cli(['--brokers', brokers(), 'consume', '-t', name, '-p', String(meta[2]!.partition), '--from-beginning', '-n', '2'])
  assert.equal(text.code, 0, text.stderr)
  assert.equal(text.stdout, 'héllo ✓\n\n')
  const fromOffset = await cli(['--brokers', brokers(), 'consume', '-t', name, '-p', '0', '--offset', '2', '-n', '1'])
  assert.equal(fromOffset.code, 0, fromOffset.stderr)
  assert.equal(fromOffset.stdout, 'second for k1\n')
  assert.equal((await consumeJson(['-t', name, '-p', '2', '--offset', '1', '-n', '1']))[0]!.key, 'empty')
})

test('-g: the committed offsets are what was printed; the next run continues there; the group is left', requires('classic-groups', 'fetch-mid-batch'), async () => {
  const P = 3
  const PER = 10
  const name = await topic('cli-consume-group', P)
  await produce(
    name,
    Array.from({ length: P * PER }, (_, i) => ({ key: null, value: `v${i % P}-${Math.floor(i / P)}`, partition: i % P })),
  )
  const g = group('cli-consume')
  const first = await consumeJson(['-t', name, '-g', g, '--from-beginning', '-n', '12'])
  assert.equal(first.length, 12)
  const counts = Array.from({ length: P }, (_, p) => first.filter((l) => l.partition === p).length)
  for (const [p, ls] of byPartition(first)) {
    assert.deepEqual(
      ls.map((l) => [l.offset, l.value]),
      ls.map((_, i) => [String(i), `v${p}-${i}`]),
      `partition ${p} from its start, in order`,
    )
  }
  // A partition nothing was printed from commits where --from-beginning put it (0), as the Java consumer
  // commits its position; null only if the group closed before that partition's reset was answered.
  const after = await committed(g, name, P)
  assert.deepEqual(
    after.map((c, p) => (counts[p] === 0 && c === null ? 0n : c)),
    counts.map((c) => BigInt(c)),
  )
  await assertLeft(g)

  // Committed offsets win over --from-beginning, which only places partitions without one (here a
  // partition nothing was printed from, if any): the rest, nothing twice.
  const rest = await consumeJson(['-t', name, '-g', g, '--from-beginning', '-n', String(P * PER - 12)])
  const seen = [...first, ...rest].map((l) => `${l.partition}@${l.offset}`).sort()
  assert.deepEqual(seen, Array.from({ length: P * PER }, (_, i) => `${i % P}@${Math.floor(i / P)}`).sort())
  assert.deepEqual(await committed(g, name, P), new Array(P).fill(BigInt(PER)))
  await assertLeft(g)
})

test('--isolation read_committed hides the records of an aborted transaction', requires('transactions'), async () => {
  const name = await topic('cli-consume-txn', 1)
  const p = new Producer({ brokers: brokers(), transactionalId: unique('cli-consume-txn') })
  try {
    await p.initTransactions()
    for (const [values, commit] of [
      [['c1', 'c2'], true],
      [['a1', 'a2', 'a3'], false],
      [['c3'], true],
    ] as const) {
      p.beginTransaction()
      await p.send({ topic: name, messages: values.map((value) => ({ value, partition: 0 })) })
      if (commit) await p.commitTransaction()
      else await p.abortTransaction()
    }
  } finally {
    await p.close()
  }
  const committedOnly = await consumeJson(['-t', name, '--from-beginning', '-n', '3', '--isolation', 'read_committed'])
  assert.deepEqual(
    committedOnly.map((l) => l.value),
    ['c1', 'c2', 'c3'],
  )
  const everything = await consumeJson(['-t', name, '--from-beginning', '-n', '6', '--isolation', 'read_uncommitted'])
  assert.deepEqual(
    everything.map((l) => l.value),
    ['c1', 'c2', 'a1', 'a2', 'a3', 'c3'],
  )
})

/** A topic with more output than a pipe holds, so a closed stdout is noticed at a write. */
async function bigTopic(): Promise<{ name: string; count: number }> {
  const name = await topic('cli-consume-big', 1)
  const count = 20_000
  const input = Array.from({ length: count }, (_, i) => `record ${String(i).padStart(6, '0')} ${'x'.repeat(60)}`).join('\n')
  const r = await cli(['--brokers', brokers(), 'produce', '-t', name], { input })
  assert.equal(r.code, 0, r.stderr)
  return { name, count }
}

let bigTopicP: Promise<{ name: string; count: number }> | null = null
const big = (): Promise<{ name: string; count: number }> => (bigTopicP ??= bigTopic())

test('`| head -n 3`: exit 0, the first three lines, no stack trace; in a group the group is left', requires('classic-groups'), async () => {
  const { name, count } = await big()
  const g = group('cli-consume-head')
  const script = `set -o pipefail; "$NODE" "$MAIN" --brokers "$BROKERS" consume -t "$TOPIC" -g "$GROUP" --from-beginning 2>"$ERR_FILE" | head -n 3; echo "status $?"; cat "$ERR_FILE"`
  const dir = mkdtempSync(join(tmpdir(), 'kafkawire-cli-'))
  const errFile = join(dir, 'stderr')
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('bash', ['-c', script], {
      cwd: root,
      env: { ...process.env, NODE: process.execPath, MAIN, BROKERS: brokers(), TOPIC: name, GROUP: g, ERR_FILE: errFile },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let s = ''
    child.stdout.on('data', (b: Buffer) => (s += b.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('close', () => {
      clearTimeout(timer)
      resolve(s)
    })
  })
  rmSync(dir, { recursive: true, force: true })
  assert.equal(out, 'record 000000 ' + 'x'.repeat(60) + '\nrecord 000001 ' + 'x'.repeat(60) + '\nrecord 000002 ' + 'x'.repeat(60) + '\nstatus 0\n', 'exit 0 and nothing on stderr')
  await assertLeft(g)
  const [c] = await committed(g, name, 1)
  // One write holds the whole first batch: when the pipe closes in the middle of it, the write fails and
  // nothing counts as printed, so the commit is the start (0, or none if the reset was never answered).
  assert.ok(c === null || c === 0n || (c >= 3n && c <= BigInt(count)), `committed ${c}: the start, or what was written before the pipe closed`)
})

/** Starts `kafkawire consume`, sends `signal` once `lines` lines arrived (0: after `waitMs`), and collects everything. */
function interrupted(args: string[], signal: NodeJS.Signals, o: { lines: number; waitMs?: number }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, '--brokers', brokers(), 'consume', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    let sent = false
    const send = (): void => {
      if (!sent) child.kill(signal)
      sent = true
    }
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString()
      if (o.lines > 0 && out.split('\n').length > o.lines) send()
    })
    child.stderr.on('data', (b: Buffer) => (err += b.toString()))
    const wait = o.lines === 0 ? setTimeout(send, o.waitMs ?? 2000) : undefined
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('close', (code, sig) => {
      clearTimeout(timer)
      clearTimeout(wait)
      if (sig !== null) reject(new Error(`consume was killed (${sig}); stderr: ${err}`))
      else resolve({ code, stdout: out, stderr: err })
    })
  })
}

test('SIGINT: exit 0; the group committed exactly the lines printed and was left', requires('classic-groups'), async () => {
  const { name, count } = await big()
  const g = group('cli-consume-sigint')
  const r = await interrupted(['-t', name, '-g', g, '--from-beginning'], 'SIGINT', { lines: 100 })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stderr, '')
  const printed = r.stdout.split('\n').length - 1
  assert.ok(printed >= 100 && printed <= count, `${printed} lines`)
  assert.ok(r.stdout.endsWith('\n'), 'whole lines only')
  assert.deepEqual(await committed(g, name, 1), [BigInt(printed)])
  await assertLeft(g)
})

test('SIGTERM while waiting for records (no group): exit 0, nothing printed', async () => {
  const { name } = await big()
  const r = await interrupted(['-t', name], 'SIGTERM', { lines: 0, waitMs: 2000 })
  assert.deepEqual(r, { code: 0, stdout: '', stderr: '' })
})

test('a missing topic or partition: exit 1, one line', async () => {
  const missing = unique('cli-consume-missing')
  assertOneLineError(await cli(['--brokers', brokers(), 'consume', '-t', missing, '-n', '1']), 1, /UNKNOWN_TOPIC_OR_PARTITION/)
  const { name } = await big()
  assertOneLineError(await cli(['--brokers', brokers(), 'consume', '-t', name, '-p', '4', '-n', '1']), 1, /UNKNOWN_TOPIC_OR_PARTITION: partition 4 does not exist; .* has 1 partition\(s\)/)
})
