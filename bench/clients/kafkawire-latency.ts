/**
 * kafkawire latency harness (consume.ts runs it; see README.md).
 *
 * One process with a producer and a consumer (as the Java EndToEndLatency
 * tool has), on a fresh topic read from offset 0 with assign() (no group).
 * Every value carries, in its first 8 bytes, the time of its send() call
 * (process.hrtime, CLOCK_MONOTONIC, in ms as a float64).
 *
 * mode 'rate': the producer sends `rate` records/s for `seconds` (each 1 ms
 *   timer tick sends the records due by then, in one send() call), with the
 *   producer's and consumer's default settings (lingerMs 5, maxWaitMs 500,
 *   minBytes 1), acks=all, idempotent. Measured per record, records sent in
 *   the first `warmupSeconds` left out:
 *     end-to-end = time the consumer hands the record to eachBatch - send() time
 *     ack        = time send() resolves - send() time
 * mode 'roundtrip': what EndToEndLatency measures, one record at a time:
 *   send() one record, wait for its acknowledgement, then for the consumer
 *   to hand it over; next record. lingerMs 0 and maxWaitMs 0 as that tool sets.
 */
import { performance } from 'node:perf_hooks'
import { Consumer, Producer } from '../../src/index.js'
import { fail, payloads } from '../lib/child.js'

interface LatencyJob {
  mode: 'rate' | 'roundtrip'
  brokers: string[]
  topic: string
  partitions: number
  recordSize: number
  rate: number
  seconds: number
  warmupSeconds: number
  records: number
}

const now = (): number => Number(process.hrtime.bigint()) / 1e6

function percentiles(xs: Float64Array): Record<string, number> {
  const s = Float64Array.from(xs).sort()
  const at = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!
  let sum = 0
  for (const x of s) sum += x
  return { count: s.length, avg: sum / s.length, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: s[s.length - 1]! }
}

async function main(j: LatencyJob): Promise<void> {
  const roundtrip = j.mode === 'roundtrip'
  const producer = new Producer({ brokers: j.brokers, clientId: 'bench-latency', acks: 'all', idempotent: true, ...(roundtrip ? { lingerMs: 0 } : {}) })
  const consumer = new Consumer({ brokers: j.brokers, clientId: 'bench-latency', autoOffsetReset: 'earliest', ...(roundtrip ? { maxWaitMs: 0 } : {}) })
  await producer.connect()
  consumer.assign(Array.from({ length: j.partitions }, (_, partition) => ({ topic: j.topic, partition })))
  const values = payloads(j.recordSize)
  const e2e: number[] = []
  const ack: number[] = []
  let received = 0
  let onReceive: (() => void) | null = null
  let measureFrom = Infinity
  const running = consumer.run({
    eachBatch: ({ batch }) => {
      const t = now()
      for (const m of batch.messages) {
        const sentAt = m.value!.readDoubleLE(0)
        if (sentAt >= measureFrom) e2e.push(t - sentAt)
      }
      received += batch.messages.length
      onReceive?.()
    },
  })
  running.catch(fail)
  // Warm the connection and the consumer's positions: one record, received.
  await producer.send({ topic: j.topic, messages: [{ value: Buffer.alloc(j.recordSize) }] })
  while (received < 1) await new Promise<void>((r) => (onReceive = r))
  let sent = 1
  const cpu0 = process.cpuUsage()
  const wall0 = performance.now()
  if (roundtrip) {
    measureFrom = 0
    for (let i = 0; i < j.records; i++) {
      const v = Buffer.from(values[i & 4095]!)
      const t0 = now()
      v.writeDoubleLE(t0, 0)
      await producer.send({ topic: j.topic, messages: [{ value: v }] })
      ack.push(now() - t0)
      sent++
      while (received < sent) await new Promise<void>((r) => (onReceive = r))
    }
  } else {
    const t0 = now()
    measureFrom = t0 + j.warmupSeconds * 1000
    const end = t0 + j.seconds * 1000
    let due = 0
    let inflight = 0
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const t = now()
        const target = Math.min(Math.floor(((t - t0) * j.rate) / 1000), Math.floor(j.seconds * j.rate))
        const n = target - due
        if (n > 0) {
          due = target
          const messages = new Array(n)
          for (let k = 0; k < n; k++) {
            const v = Buffer.from(values[(sent + k) & 4095]!)
            v.writeDoubleLE(t, 0)
            messages[k] = { value: v }
          }
          sent += n
          inflight++
          producer.send({ topic: j.topic, messages }).then(
            () => {
              inflight--
              if (t >= measureFrom) {
                const a = now() - t
                for (let k = 0; k < n; k++) ack.push(a)
              }
            },
            fail,
          )
        }
        if (t >= end && inflight === 0) {
          clearInterval(timer)
          resolve()
        }
      }, 1)
    })
    const deadline = now() + 10_000
    while (received < sent && now() < deadline) await new Promise<void>((r) => setTimeout(r, 5))
  }
  const wall = (performance.now() - wall0) / 1000
  const cpu = process.cpuUsage(cpu0)
  await consumer.close()
  await producer.close()
  process.stdout.write(
    `@@RESULT ${JSON.stringify({
      mode: j.mode,
      sent: sent - 1,
      received: received - 1,
      seconds: wall,
      cpuUsPerRecord: (cpu.user + cpu.system) / (sent - 1),
      e2e: percentiles(Float64Array.from(e2e)),
      ack: percentiles(Float64Array.from(ack)),
      config: roundtrip
        ? { acks: 'all', idempotent: true, lingerMs: 0, maxWaitMs: 0, partitions: j.partitions, api: 'send() awaited, then wait for eachBatch' }
        : { acks: 'all', idempotent: true, lingerMs: 5, maxWaitMs: 500, minBytes: 1, partitions: j.partitions, rate: j.rate, seconds: j.seconds, warmupSeconds: j.warmupSeconds, api: 'send() per 1 ms tick; run({ eachBatch })' },
    })}\n`,
  )
}

main(JSON.parse(process.argv[2]!) as LatencyJob).then(() => process.exit(0), fail)
