/**
 * The quick start: `npm run demo`.
 *
 * Produces a stream of records with a progress bar, consumes them in a group
 * of two consumers, and prints throughput and end-to-end latency. Without
 * KAFKA_BROKERS it starts a local Apache Kafka broker first (assembled from
 * Maven Central jars on the first run) and stops it at the end.
 *
 *   DEMO_RECORDS=500000 DEMO_RECORD_BYTES=100 DEMO_PARTITIONS=6 npm run demo
 */
import { performance } from 'node:perf_hooks'
import { Admin, Consumer, Producer } from '../src/index.js'

const RECORDS = Number(process.env.DEMO_RECORDS ?? 200_000)
const RECORD_BYTES = Math.max(16, Number(process.env.DEMO_RECORD_BYTES ?? 100))
const PARTITIONS = Number(process.env.DEMO_PARTITIONS ?? 6)
const CHUNK = 1000
const IN_FLIGHT = 16

const err = process.stderr
const tty = err.isTTY === true

function progress(label: string, done: number, total: number, startedMs: number): void {
  const frac = total === 0 ? 1 : done / total
  const secs = (performance.now() - startedMs) / 1000
  const rate = secs > 0 ? Math.round(done / secs) : 0
  if (tty) {
    const width = 30
    const filled = Math.round(frac * width)
    err.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${done.toLocaleString()} records, ${rate.toLocaleString()}/s `)
    if (done === total) err.write('\n')
  } else if (done === total || done % (CHUNK * 50) === 0) {
    err.write(`${label}: ${done.toLocaleString()}/${total.toLocaleString()} records (${rate.toLocaleString()}/s)\n`)
  }
}

/** Rejects after `ms` unless `p` settles first; the timer never keeps the process alive. */
function within<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer!: NodeJS.Timeout
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms)
    timer.unref()
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

async function startLocalBroker(): Promise<{ brokers: string; stop: () => Promise<void> }> {
  // The broker tooling is plain ESM JavaScript in conformance/broker.
  const tooling = (await import(new URL('../conformance/broker/index.mjs', import.meta.url).href)) as typeof import('../conformance/broker/index.mjs')
  const name = 'kafkawire-demo'
  err.write('KAFKA_BROKERS is not set: starting a local Apache Kafka 4.3.1 broker (the first run downloads it from Maven Central)...\n')
  const fetched = await tooling.fetchKafka('4')
  if (fetched.downloaded) err.write(`assembled Kafka ${fetched.version} from ${fetched.jars} jars in ${fetched.seconds.toFixed(1)} s\n`)
  await tooling.stopCluster(name)
  const cluster = await tooling.startCluster({ kafka: '4', name, portBase: Number(process.env.DEMO_PORT_BASE ?? 19900) })
  err.write(`broker ready at ${cluster.KAFKA_BROKERS}\n`)
  return {
    brokers: cluster.KAFKA_BROKERS,
    stop: async () => {
      await tooling.stopCluster(name)
    },
  }
}

async function main(): Promise<void> {
  let brokers = process.env.KAFKA_BROKERS
  let stopBroker: (() => Promise<void>) | null = null
  if (!brokers) {
    const local = await startLocalBroker()
    brokers = local.brokers
    stopBroker = local.stop
  }
  const config = { brokers: brokers.split(','), clientId: 'kafkawire-demo' }
  const run = Date.now().toString(36)
  const topic = `kafkawire-demo-${run}`
  const groupId = `kafkawire-demo-${run}`

  const admin = new Admin(config)
  const producer = new Producer({ ...config, compression: 'lz4' })
  const consumers = [0, 1].map(() => new Consumer({ ...config, groupId, autoOffsetReset: 'earliest' }))
  try {
    const [created] = await admin.createTopics([{ name: topic, partitions: PARTITIONS, replicationFactor: 1 }])
    if (created?.error) throw created.error
    err.write(`topic ${topic}: ${PARTITIONS} partitions; ${RECORDS.toLocaleString()} records of ${RECORD_BYTES} bytes\n`)

    // Consumers first, so end-to-end latency measures the live stream.
    const latencies = new Float64Array(RECORDS)
    const perConsumer = [0, 0]
    let received = 0
    let firstReceiveMs = 0
    let lastReceiveMs = 0
    let allReceived!: () => void
    const done = new Promise<void>((resolve) => (allReceived = resolve))
    let assigned = 0
    let allAssigned!: () => void
    const ready = new Promise<void>((resolve) => (allAssigned = resolve))
    const runs = consumers.map((c, i) => {
      c.on('assigned', (tps: unknown[]) => {
        assigned += tps.length
        if (assigned >= PARTITIONS) allAssigned()
      })
      c.on('revoked', (tps: unknown[]) => (assigned -= tps.length))
      c.subscribe([topic])
      return c.run({
        eachBatch: async ({ batch }) => {
          const now = performance.now()
          if (firstReceiveMs === 0) firstReceiveMs = now
          for (const m of batch.messages) {
            // The producer stamped each value with its send time (same process, same clock).
            latencies[received++] = now - m.value!.readDoubleBE(0)
          }
          perConsumer[i]! += batch.messages.length
          lastReceiveMs = now
          progress('consume', received, RECORDS, firstReceiveMs)
          if (received >= RECORDS) allReceived()
        },
      })
    })
    await within(ready, 60_000, 'the consumers did not get their partitions within 60 s')

    const payload = Buffer.alloc(RECORD_BYTES, 'kafkawire ')
    const produceStart = performance.now()
    const sends = new Set<Promise<unknown>>()
    let sent = 0
    for (let base = 0; base < RECORDS; base += CHUNK) {
      const n = Math.min(CHUNK, RECORDS - base)
      const messages = new Array(n)
      for (let j = 0; j < n; j++) {
        const value = Buffer.from(payload)
        value.writeDoubleBE(performance.now(), 0)
        messages[j] = { key: `key-${(base + j) % 1000}`, value }
      }
      const p = producer.send({ topic, messages }).then(() => {
        sent += n
        progress('produce', sent, RECORDS, produceStart)
      })
      sends.add(p)
      void p.finally(() => sends.delete(p))
      if (sends.size >= IN_FLIGHT) await Promise.race(sends)
    }
    await Promise.all(sends)
    const produceSecs = (performance.now() - produceStart) / 1000
    await within(done, 120_000, `only ${received} of ${RECORDS} records arrived within 120 s`)
    const consumeSecs = (lastReceiveMs - firstReceiveMs) / 1000

    const sorted = latencies.subarray(0, received).sort()
    const mb = (RECORDS * RECORD_BYTES) / 1e6
    const out = process.stdout
    out.write('\n')
    out.write(`produced ${RECORDS.toLocaleString()} records in ${produceSecs.toFixed(2)} s: ${Math.round(RECORDS / produceSecs).toLocaleString()} records/s, ${(mb / produceSecs).toFixed(1)} MB/s (acks=all, idempotent, lz4)\n`)
    out.write(`consumed ${received.toLocaleString()} records in ${consumeSecs.toFixed(2)} s by a group of 2: ${Math.round(received / Math.max(consumeSecs, 1e-3)).toLocaleString()} records/s (consumer 1: ${perConsumer[0]!.toLocaleString()}, consumer 2: ${perConsumer[1]!.toLocaleString()})\n`)
    out.write(`end-to-end latency: p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms, max ${percentile(sorted, 100).toFixed(1)} ms\n`)

    await Promise.all(consumers.map((c) => c.close()))
    await Promise.all(runs)
    await admin.deleteTopics([topic]).catch(() => undefined)
  } finally {
    await Promise.allSettled([...consumers.map((c) => c.close()), producer.close(), admin.close()])
    if (stopBroker) await stopBroker()
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`\ndemo failed: ${e instanceof Error ? `${(e as { code?: string }).code ? `${(e as { code?: string }).code}: ` : ''}${e.message}` : String(e)}\n`)
  process.exit(1)
})
