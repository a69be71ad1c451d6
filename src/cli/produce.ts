/**
 * kafkawire produce: one record per input line, sent in large batches with
 * several send() calls in flight. Reading is paced by acknowledgements
 * (at most MAX_IN_FLIGHT_BYTES of payload unacknowledged), so memory stays
 * bounded whatever the input size.
 */
import { accessSync, constants, createReadStream, fstatSync, statSync } from 'node:fs'
import type { Readable } from 'node:stream'
import { ConfigError } from '../client/errors.js'
import { Producer } from '../producer/index.js'
import type { Acks, CompressionName, ProducerMessage } from '../producer/index.js'
import { BrokerError, KafkawireError } from '../protocol/errors.js'
import type { Command } from './command.js'
import { describeError } from './format.js'
import { int, keyValue, list, str, timeoutMs, UsageError } from './options.js'
import { splitLines } from './lines.js'
import { Progress } from './progress.js'
import { withAdmin } from './topics.js'

/** Records per send() call, and payload bytes per call. */
const CHUNK_RECORDS = 5000
const CHUNK_BYTES = 1024 * 1024
/** Unacknowledged send() calls and payload bytes before reading pauses. */
const MAX_IN_FLIGHT = 8
const MAX_IN_FLIGHT_BYTES = 8 * 1024 * 1024
/** A partly filled chunk is sent after this long without new input (interactive or slow input). */
const IDLE_FLUSH_MS = 20

const COMPRESSION: readonly CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd']

function acksOf(s: string | undefined): Acks {
  if (s === undefined || s === 'all' || s === '-1') return 'all'
  if (s === '0' || s === '1') return Number(s) as 0 | 1
  throw new UsageError(`--acks must be 0, 1 or all, got ${JSON.stringify(s)}`)
}

function headersOf(items: string[]): Array<{ key: string; value: Buffer }> {
  return items.flatMap((s) =>
    s
      .split(',')
      .filter((kv) => kv !== '')
      .map((kv) => {
        const [k, v] = keyValue(kv, '--headers')
        return { key: k, value: Buffer.from(v, 'utf8') }
      }),
  )
}

/** The input's size in bytes when it is a regular file (also stdin redirected from one), for the progress bar. */
function sizeOf(file: string | undefined, stdin: { fd?: number }): number | null {
  try {
    const st = file !== undefined ? statSync(file) : typeof stdin.fd === 'number' ? fstatSync(stdin.fd) : null
    return st !== null && st.isFile() ? st.size : null
  } catch {
    return null
  }
}

export interface PumpLimits {
  chunkRecords: number
  chunkBytes: number
  maxInFlight: number
  maxInFlightBytes: number
  idleFlushMs: number
}

export const DEFAULT_LIMITS: PumpLimits = {
  chunkRecords: CHUNK_RECORDS,
  chunkBytes: CHUNK_BYTES,
  maxInFlight: MAX_IN_FLIGHT,
  maxInFlightBytes: MAX_IN_FLIGHT_BYTES,
  idleFlushMs: IDLE_FLUSH_MS,
}

export interface PumpResult {
  /** Lines read (and parsed). */
  lines: number
  /** Records acknowledged, and their input bytes. */
  records: number
  bytes: number
  /** The first failure (input, parse or send); null when everything was acknowledged. */
  error: unknown
}

/**
 * Reads lines from `input` and sends them as records, `limits.chunkRecords`
 * (or `chunkBytes`) per send() call, with up to `maxInFlight` calls and
 * `maxInFlightBytes` of input unacknowledged. Reading waits while those are
 * reached, so memory stays bounded however large the input. Stops at the
 * first failure, after the calls in flight have settled.
 */
export async function pump(
  input: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
  o: {
    parse: (line: Buffer, lineNo: number) => ProducerMessage
    send: (messages: ProducerMessage[]) => Promise<unknown>
    onRead?: (bytes: number) => void
    onAcknowledged?: (records: number, bytes: number) => void
    limits?: PumpLimits
  },
): Promise<PumpResult> {
  const limits = o.limits ?? DEFAULT_LIMITS
  let lines = 0
  let records = 0
  let acked = 0
  let chunk: ProducerMessage[] = []
  let chunkBytes = 0
  let inFlightBytes = 0
  const inFlight = new Set<Promise<void>>()
  let failure: unknown = null
  let idle: NodeJS.Timeout | null = null

  const send = (): void => {
    if (idle !== null) clearTimeout(idle)
    idle = null
    if (chunk.length === 0 || failure !== null) return
    const messages = chunk
    const size = chunkBytes
    chunk = []
    chunkBytes = 0
    inFlightBytes += size
    const done: Promise<void> = o
      .send(messages)
      .then(
        () => {
          records += messages.length
          acked += size
          o.onAcknowledged?.(messages.length, size)
        },
        (err: unknown) => {
          failure ??= err
        },
      )
      .finally(() => {
        inFlightBytes -= size
        inFlight.delete(done)
      })
    inFlight.add(done)
  }

  try {
    for await (const batch of splitLines(input, o.onRead)) {
      for (const line of batch) {
        let message: ProducerMessage
        try {
          message = o.parse(line, ++lines)
        } catch (err) {
          // The lines before a bad one are still sent, as kafka-console-producer does.
          send()
          throw err
        }
        chunk.push(message)
        chunkBytes += line.length
        if (chunk.length >= limits.chunkRecords || chunkBytes >= limits.chunkBytes) {
          send()
          // Back-pressure: no more reading (or sending) until enough is acknowledged.
          while (failure === null && (inFlight.size >= limits.maxInFlight || inFlightBytes >= limits.maxInFlightBytes)) await Promise.race(inFlight)
          if (failure !== null) break
        }
      }
      if (failure !== null) break
      // Interactive or slow input: send what there is when no more arrives soon.
      if (chunk.length > 0 && idle === null) idle = setTimeout(send, limits.idleFlushMs)
    }
    send()
  } catch (err) {
    failure ??= err
  } finally {
    if (idle !== null) clearTimeout(idle)
  }
  while (inFlight.size > 0) await Promise.all(inFlight)
  return { lines, records, bytes: acked, error: failure }
}

const produce: Command = {
  path: ['produce'],
  summary: 'send one record per line of stdin or a file',
  usage: '-t TOPIC [--file FILE] [--key-separator SEP] [--headers K=V,...] [-p PARTITION] [--compression C] [--acks 0|1|all]',
  description:
    'Values (and keys) are the bytes of each line, without the line ending ("\\n" or "\\r\\n").\n' +
    'Without --key-separator records have no key; with it, every line must contain the separator.\n' +
    'Keyed records go to the partition murmur2(key) selects, as with the Java client.',
  options: {
    topic: { type: 'string', short: 't', arg: 'TOPIC', help: 'topic to write to (must exist)' },
    file: { type: 'string', arg: 'FILE', help: 'read records from FILE instead of stdin' },
    'key-separator': { type: 'string', arg: 'SEP', help: 'split each line into key and value at the first SEP' },
    headers: { type: 'string', multiple: true, arg: 'K=V,...', help: 'headers added to every record' },
    partition: { type: 'string', short: 'p', arg: 'N', help: 'write every record to partition N' },
    compression: { type: 'string', arg: 'C', help: 'none (default), gzip, snappy, lz4 or zstd' },
    acks: { type: 'string', arg: 'ACKS', help: 'all (default; idempotent), 1 or 0' },
  },
  args: { min: 0, max: 0, name: '' },
  async run(c) {
    const topic = str(c.values, 'topic')
    if (topic === undefined || topic === '') throw new UsageError('-t TOPIC is required')
    const p = str(c.values, 'partition')
    const partition = p === undefined ? undefined : int(p, '--partition', 0, 2 ** 31 - 1)
    const sepArg = str(c.values, 'key-separator')
    if (sepArg === '') throw new UsageError('--key-separator must not be empty')
    const sep = sepArg === undefined ? null : Buffer.from(sepArg, 'utf8')
    const headers = headersOf(list(c.values, 'headers'))
    const compression = (str(c.values, 'compression') ?? 'none') as CompressionName
    if (!COMPRESSION.includes(compression)) throw new UsageError(`--compression must be one of ${COMPRESSION.join(', ')}, got ${JSON.stringify(compression)}`)
    const acks = acksOf(str(c.values, 'acks'))
    const file = str(c.values, 'file')
    const config = c.client()
    const timeout = timeoutMs(c.values)
    if (file !== undefined) {
      try {
        accessSync(file, constants.R_OK)
      } catch (err) {
        throw new ConfigError(`cannot read --file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
      }
    }

    // Check the topic (and partition) first: a typo fails now, with a clear error, instead of
    // auto-creating a topic or waiting for metadata that never comes.
    const partitions = await withAdmin(c, async (a) => {
      const [d] = await a.describeTopics([topic])
      if (d!.error !== null) throw d!.error
      return d!.partitions.length
    })
    if (partition !== undefined && partition >= partitions) {
      throw new BrokerError(3, { topic, partition }, `partition ${partition} does not exist; ${topic} has ${partitions} partition(s)`)
    }

    const input: Readable = file !== undefined ? createReadStream(file, { highWaterMark: 1024 * 1024 }) : c.io.stdin
    const total = sizeOf(file, c.io.stdin)
    const progress = Progress.wanted(c.io.stderr, total) ? new Progress(c.io.stderr, total) : null
    const producer = new Producer({
      ...config,
      acks,
      // Idempotence needs acks=all; with 0 or 1 the user chose speed over it.
      idempotent: acks === 'all',
      compression,
      allowAutoTopicCreation: false,
      batchSize: 256 * 1024,
      lingerMs: 10,
      bufferMemory: 2 * MAX_IN_FLIGHT_BYTES + 8 * CHUNK_BYTES,
      maxBlockMs: timeout,
    })

    const started = process.hrtime.bigint()
    let result: PumpResult
    try {
      result = await pump(input, {
        parse(line, lineNo) {
          let key: Buffer | null = null
          let value = line
          if (sep !== null) {
            const i = line.indexOf(sep)
            if (i < 0) throw new KafkawireError('INVALID_INPUT', `line ${lineNo} has no key separator ${JSON.stringify(sepArg)}`, { context: { topic } })
            key = line.subarray(0, i)
            value = line.subarray(i + sep.length)
          }
          return partition !== undefined ? { key, value, headers, partition } : { key, value, headers }
        },
        send: (messages) => producer.send({ topic, messages }),
        onRead: (n) => progress?.read(n),
        onAcknowledged: (n, size) => progress?.acknowledged(n, size),
      })
    } finally {
      progress?.stop()
    }
    await producer.close({ timeoutMs: result.error === null ? 30_000 : 5_000 })
    const { records, bytes: payload, error } = result
    if (error !== null) {
      // One line that says what failed and how far it got.
      const e = error instanceof KafkawireError ? error : new KafkawireError('UNEXPECTED', describeError(error), { cause: error })
      throw new KafkawireError(e.code, `${describeError(e).replace(/^[A-Z_0-9]+: /, '')} (${records} records acknowledged before the failure)`, { cause: e, context: e.context })
    }

    const secs = Number(process.hrtime.bigint() - started) / 1e9
    const perSec = secs > 0 ? records / secs : 0
    const mbPerSec = secs > 0 ? payload / 1e6 / secs : 0
    c.print(
      () => `${records} records in ${secs.toFixed(2)} s (${Math.round(perSec)} records/s, ${mbPerSec.toFixed(2)} MB/s)\n`,
      () => ({ topic, records, bytes: payload, seconds: Number(secs.toFixed(3)), recordsPerSecond: Math.round(perSec), megabytesPerSecond: Number(mbPerSec.toFixed(3)) }),
    )
  },
}

export const produceCommands: Command[] = [produce]
