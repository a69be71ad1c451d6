/**
 * kafkawire consume: prints records one per line, the value (text) or one
 * JSON object (json). In a group (-g) it commits exactly what it printed;
 * without one it reads every partition (or -p) and commits nothing.
 */
import type { Writable } from 'node:stream'
import { Consumer } from '../consumer/index.js'
import type { ConsumerMessage, TopicPartition } from '../consumer/index.js'
import { BrokerError, KafkawireError } from '../protocol/errors.js'
import type { Command } from './command.js'
import { flag, int, str, UsageError } from './options.js'
import { withAdmin } from './topics.js'

export type OutputFormat = 'text' | 'json'
type Message = ConsumerMessage<Buffer | null, Buffer | null>

const utf8 = (b: Buffer | null): string | null => (b === null ? null : b.toString('utf8'))

/** The value as UTF-8 (invalid sequences become U+FFFD) and a newline; a null value is an empty line. */
export function textLine(m: Message): string {
  return `${m.value === null ? '' : m.value.toString('utf8')}\n`
}

/**
 * One JSON object and a newline. Keys, values and header values are UTF-8
 * strings (U+FFFD for invalid sequences) or null; the offset is a decimal
 * string; headers are an array of { key, value } in record order, so
 * duplicate keys are kept.
 */
export function jsonLine(m: Message): string {
  return (
    JSON.stringify({
      topic: m.topic,
      partition: m.partition,
      offset: m.offset.toString(),
      timestamp: m.timestamp,
      key: utf8(m.key),
      value: utf8(m.value),
      headers: m.headers.map((h) => ({ key: h.key, value: utf8(h.value) })),
    }) + '\n'
  )
}

export interface PrintOptions {
  out: Writable
  format: (m: Message) => string
  /** Stop after this many records; null: until `signal` aborts or the output closes. */
  limit: number | null
  signal: AbortSignal
}

export interface PrintResult {
  printed: number
  /** Stdout was closed by its reader (EPIPE, e.g. `| head`). */
  outputClosed: boolean
}

/** The reader went away: a normal end for a command in a pipeline. */
function isClosedOutput(e: NodeJS.ErrnoException): boolean {
  return e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED'
}

function write(out: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => void out.write(text, (err) => (err ? reject(err) : resolve())))
}

/**
 * Runs the consumer, printing each batch with one write. A record counts as
 * processed (and is committed, in a group) only once its write completed, so
 * what is committed is what was printed. Resolves after `limit` records,
 * when `signal` aborts, or when the output is closed; rejects with the
 * consumer's failure or a write error other than a closed output.
 */
export async function printRecords(consumer: Pick<Consumer, 'run'>, o: PrintOptions): Promise<PrintResult> {
  const stop = new AbortController()
  const onAbort = (): void => stop.abort()
  if (o.signal.aborted) stop.abort()
  o.signal.addEventListener('abort', onAbort, { once: true })
  // Write errors arrive through the write callbacks; without a listener the stream's 'error' event would throw.
  const ignore = (): void => undefined
  o.out.on('error', ignore)
  let printed = 0
  let writeError: NodeJS.ErrnoException | null = null
  try {
    await consumer.run({
      // One partition at a time: lines are never interleaved and the count is exact.
      partitionsConcurrency: 1,
      eachBatchAutoResolve: false,
      signal: stop.signal,
      eachBatch: async ({ batch, resolveOffset }) => {
        const n = o.limit === null ? batch.messages.length : Math.min(batch.messages.length, o.limit - printed)
        if (n <= 0 || stop.signal.aborted) return
        const messages = batch.messages.slice(0, n)
        try {
          await write(o.out, messages.map(o.format).join(''))
        } catch (err) {
          writeError = err as NodeJS.ErrnoException
          stop.abort()
          return
        }
        resolveOffset(messages[n - 1]!.offset)
        printed += n
        if (o.limit !== null && printed >= o.limit) stop.abort()
      },
    })
  } catch (err) {
    // run() rejects with the abort reason when stopped: that is the normal end.
    if (!stop.signal.aborted) throw err
  } finally {
    o.signal.removeEventListener('abort', onAbort)
    o.out.off('error', ignore)
  }
  const we = writeError as NodeJS.ErrnoException | null
  if (we !== null && !isClosedOutput(we)) {
    throw new KafkawireError('OUTPUT_ERROR', `cannot write to stdout: ${we.code ?? we.message} (${printed} records printed before)`, { cause: we })
  }
  return { printed, outputClosed: we !== null }
}

const ISOLATION = ['read_uncommitted', 'read_committed'] as const
const FORMATS: readonly OutputFormat[] = ['text', 'json']

const consume: Command = {
  path: ['consume'],
  summary: 'print records of a topic, one per line',
  usage: '-t TOPIC [-g GROUP] [--from-beginning] [-n COUNT] [--isolation LEVEL] [--format text|json] [-p PARTITION [--offset N]]',
  description:
    'text: the value as UTF-8 (invalid bytes print as U+FFFD), an empty line for a null value (tombstone);\n' +
    'a value containing newlines spans lines. json (or --json): one object per line with topic, partition,\n' +
    'offset (decimal string), timestamp (ms), key, value (UTF-8 strings or null) and headers, an array of\n' +
    '{ "key", "value" } in record order (duplicate keys kept).\n' +
    'With -g the records are read in that group and the offsets of printed records are committed;\n' +
    'without it every partition (or -p) is read and nothing is committed. Where to start: the committed\n' +
    'offset, else the log end, or the log start with --from-beginning.\n' +
    'Stops after COUNT records, on SIGINT or SIGTERM (a second one stops at once), or when stdout is\n' +
    'closed (noticed at the next write), and exits 0; in a group it commits and leaves the group first.',
  options: {
    topic: { type: 'string', short: 't', arg: 'TOPIC', help: 'topic to read (must exist)' },
    group: { type: 'string', short: 'g', arg: 'GROUP', help: 'consumer group; commits what is printed' },
    'from-beginning': { type: 'boolean', help: 'start at the log start where there is no committed offset' },
    count: { type: 'string', short: 'n', arg: 'COUNT', help: 'exit after COUNT records' },
    isolation: { type: 'string', arg: 'LEVEL', help: 'read_uncommitted (default) or read_committed (no aborted or open transactions)' },
    format: { type: 'string', arg: 'FORMAT', help: 'text (default) or json' },
    partition: { type: 'string', short: 'p', arg: 'N', help: 'only partition N (without -g)' },
    offset: { type: 'string', arg: 'N', help: 'start -p PARTITION at offset N' },
  },
  args: { min: 0, max: 0, name: '' },
  async run(c) {
    const topic = str(c.values, 'topic')
    if (topic === undefined || topic === '') throw new UsageError('-t TOPIC is required')
    const groupId = str(c.values, 'group')
    if (groupId === '') throw new UsageError('--group must not be empty')
    const n = str(c.values, 'count')
    const limit = n === undefined ? null : int(n, '--count', 1)
    const isolation = str(c.values, 'isolation') ?? 'read_uncommitted'
    if (!(ISOLATION as readonly string[]).includes(isolation)) throw new UsageError(`--isolation must be read_committed or read_uncommitted, got ${JSON.stringify(isolation)}`)
    const formatArg = str(c.values, 'format')
    if (formatArg !== undefined && !(FORMATS as readonly string[]).includes(formatArg)) throw new UsageError(`--format must be text or json, got ${JSON.stringify(formatArg)}`)
    if (c.json && formatArg === 'text') throw new UsageError('--json and --format text contradict each other')
    const format = c.json ? 'json' : (formatArg as OutputFormat | undefined) ?? 'text'
    const fromBeginning = flag(c.values, 'from-beginning')
    const p = str(c.values, 'partition')
    const partition = p === undefined ? undefined : int(p, '--partition', 0, 2 ** 31 - 1)
    const o = str(c.values, 'offset')
    if (o !== undefined && !/^\d+$/.test(o)) throw new UsageError(`--offset must be a non-negative whole number, got ${JSON.stringify(o)}`)
    const offset = o === undefined ? undefined : BigInt(o)
    if (groupId !== undefined && (partition !== undefined || offset !== undefined)) throw new UsageError('-p and --offset read without a group; drop -g or them')
    if (offset !== undefined && partition === undefined) throw new UsageError('--offset needs -p PARTITION')
    if (offset !== undefined && fromBeginning) throw new UsageError('--offset and --from-beginning contradict each other')
    const config = c.client()

    // A second signal gets the default action (the process ends at once): listeners are `once`.
    const stop = new AbortController()
    const onSignal = (): void => stop.abort()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    try {
      // Check the topic (and partition) first: a typo fails with a clear error instead of waiting.
      const partitions = await withAdmin(c, async (a) => {
        const [d] = await a.describeTopics([topic])
        if (d!.error !== null) throw d!.error
        return d!.partitions.length
      })
      if (partition !== undefined && partition >= partitions) {
        throw new BrokerError(3, { topic, partition }, `partition ${partition} does not exist; ${topic} has ${partitions} partition(s)`)
      }
      if (stop.signal.aborted) return 0

      const consumer = new Consumer({
        ...config,
        ...(groupId !== undefined ? { groupId } : {}),
        autoOffsetReset: fromBeginning ? 'earliest' : 'latest',
        isolationLevel: isolation as (typeof ISOLATION)[number],
      })
      try {
        if (groupId !== undefined) consumer.subscribe([topic])
        else {
          const tps: TopicPartition[] = partition !== undefined ? [{ topic, partition }] : Array.from({ length: partitions }, (_, i) => ({ topic, partition: i }))
          consumer.assign(tps)
          if (offset !== undefined) consumer.seek(tps[0]!, offset)
        }
        await printRecords(consumer, { out: c.io.stdout, format: format === 'json' ? jsonLine : textLine, limit, signal: stop.signal })
      } finally {
        // Commits what was printed (in a group) and leaves the group.
        await consumer.close()
      }
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
    return 0
  },
}

export const consumeCommands: Command[] = [consume]
