/**
 * Producer benchmark (issue #5 item 10): kafkawire vs @platformatic/kafka,
 * KafkaJS 2.2.4, node-rdkafka and the Java client's ProducerPerformance,
 * side by side against the same dedicated local broker.
 *
 *   npm --prefix bench install && npm --prefix bench run produce
 *
 * Workloads: 1,000,000 records of 100 B and 200,000 of 1 KiB; acks=all,
 * idempotent; uncompressed, lz4, zstd. Every run gets a fresh topic with
 * BENCH_PARTITIONS (3) partitions, deleted afterwards. Each client runs in its
 * own process (see lib/child.ts for what is measured); runs are interleaved
 * (run 1 of every client and workload, then run 2, ...) and the table shows
 * medians. See README.md.
 *
 * Env: BENCH_RUNS (5), BENCH_CLIENTS (kafkawire,platformatic,kafkajs,rdkafka,java),
 * BENCH_WORKLOADS (100B,1KiB), BENCH_CODECS (none,lz4,zstd), BENCH_SCALE (1: multiplies
 * record counts), BENCH_PARTITIONS (3), BENCH_BATCH_SIZE (65536), BENCH_LINGER_MS (5),
 * BENCH_CHUNK (1000), BENCH_WINDOW (64), BENCH_WARMUP (1: the reference tool, unmeasured, writes
 * many small requests and every workload once at the start, then before each workload's turn in
 * every run that workload once; N: N times per turn; 0: no warm-up), BENCH_BROKERS (use that cluster instead of
 * starting one), BENCH_PORT_BASE (38000), BENCH_KEEP_BROKER=1, BENCH_OUT (JSON file).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Codec, ProduceJob } from './lib/child.js'
import {
  broker, checkNode, configurations, envList, envNum, fmtRate, here, javaVersion, loadavg, log, machine, runJavaTool, runNodeClient, summarize, table, Topics, versions,
  type Run,
} from './lib/runner.js'

checkNode()

// Five, not three: on this shared 2-vCPU machine a single slow round (every
// client's CPU per record up, e.g. platformatic 3.7 -> 8.1 µs at 1 KiB)
// moved medians of three by a third.
const RUNS = envNum('BENCH_RUNS', 5)
const SCALE = envNum('BENCH_SCALE', 1)
const PARTITIONS = envNum('BENCH_PARTITIONS', 3)
const BATCH = envNum('BENCH_BATCH_SIZE', 65536)
const LINGER = envNum('BENCH_LINGER_MS', 5)
const CHUNK = envNum('BENCH_CHUNK', 1000)
const WINDOW = envNum('BENCH_WINDOW', 64)
const MAX_IN_FLIGHT = 5
const WARMUP = Math.max(0, Math.floor(envNum('BENCH_WARMUP', 1)))
const REQUEST_WARMUP_RECORDS = 400_000
const CLIENTS = envList('BENCH_CLIENTS', 'kafkawire,platformatic,kafkajs,rdkafka,java')
const SIZES: Record<string, { size: number; records: number }> = { '100B': { size: 100, records: 1_000_000 }, '1KiB': { size: 1024, records: 200_000 } }
const WORKLOADS = envList('BENCH_WORKLOADS', '100B,1KiB').flatMap((w) => {
  const s = SIZES[w]
  if (!s) throw new Error(`unknown workload ${w} (100B, 1KiB)`)
  return envList('BENCH_CODECS', 'none,lz4,zstd').map((codec) => ({ id: `${w}-${codec}`, label: `${Math.round(s.records * SCALE).toLocaleString('en-US')} x ${w}, ${codec}`, size: s.size, records: Math.round(s.records * SCALE), codec: codec as Codec }))
})

const JAVA_LABEL = 'Java ProducerPerformance'

function javaProps(brokers: string[], codec: Codec): string[] {
  return [
    `bootstrap.servers=${brokers.join(',')}`,
    'acks=all',
    'enable.idempotence=true',
    `compression.type=${codec}`,
    `batch.size=${BATCH}`,
    `linger.ms=${LINGER}`,
    `max.in.flight.requests.per.connection=${MAX_IN_FLIGHT}`,
  ]
}

/** ProducerPerformance's summary: "N records sent, R records/sec (M MB/sec), ..." */
function parseJavaProducer(stdout: string): { records: number; rate: number } {
  const lines = stdout.split('\n').filter((l) => / records sent, /.test(l))
  const last = lines[lines.length - 1]
  const m = last?.match(/^(\d+) records sent, ([\d.]+) records\/sec/)
  if (!m) throw new Error(`cannot read ProducerPerformance output:\n${stdout.slice(-2000)}`)
  return { records: Number(m[1]), rate: Number(m[2]) }
}

const PRODUCER_PERFORMANCE = 'org.apache.kafka.tools.ProducerPerformance'

/** ProducerPerformance's arguments: `records` records of `size` bytes, as fast as it can, with `props`. */
function javaArgs(topic: string, records: number, size: number, props: string[]): string[] {
  return ['--topic', topic, '--num-records', String(records), '--record-size', String(size), '--throughput', '-1', '--command-property', ...props]
}

async function runJava(brokers: string[], kafka: string, topic: string, w: (typeof WORKLOADS)[number]): Promise<Run> {
  const props = javaProps(brokers, w.codec)
  // The JVM's CPU for the same command with one record (JVM start, class
  // loading, connection, producer id, close) is subtracted from the run's.
  const base = await runJavaTool(PRODUCER_PERFORMANCE, javaArgs(topic, 1, w.size, props), kafka)
  const r = await runJavaTool(PRODUCER_PERFORMANCE, javaArgs(topic, w.records, w.size, props), kafka)
  const { records, rate } = parseJavaProducer(r.stdout)
  const seconds = records / rate
  const cpu = Math.max(0, r.cpuUs - base.cpuUs)
  return {
    client: JAVA_LABEL,
    records,
    bytes: records * w.size,
    seconds,
    cpuUserUs: cpu,
    cpuSystemUs: 0,
    errors: w.records - records,
    config: { props: javaProps(['…'], w.codec).slice(1).join(' '), jvm: '-Xms256m -Xmx512m (project tooling)' },
    processCpuUs: r.cpuUs,
    loadavg: r.loadavg,
    note: `JVM CPU ${(r.cpuUs / 1e6).toFixed(2)} s minus ${(base.cpuUs / 1e6).toFixed(2)} s for the 1-record run`,
  }
}

/**
 * The reference tool writes `records` records of `size` bytes with `props` to
 * a scratch topic, unmeasured (no CPU baseline run, unlike runJava).
 */
async function warmUp(kafka: string, topics: Topics, topic: string, label: string, records: number, size: number, props: string[]): Promise<void> {
  await topics.create(topic, PARTITIONS)
  try {
    await runJavaTool(PRODUCER_PERFORMANCE, javaArgs(topic, records, size, props), kafka)
  } finally {
    await topics.delete(topic)
  }
  log(`broker warm-up: ${label} (not measured)`)
}

/** warmUp with workload `w`, as the clients write it. */
function warmUpWorkload(brokers: string[], kafka: string, topics: Topics, topic: string, w: (typeof WORKLOADS)[number]): Promise<void> {
  return warmUp(kafka, topics, topic, w.label, w.records, w.size, javaProps(brokers, w.codec))
}

const LABELS: Record<string, string> = { kafkawire: 'kafkawire', platformatic: '@platformatic/kafka', kafkajs: 'KafkaJS', rdkafka: 'node-rdkafka', java: JAVA_LABEL }

async function main(): Promise<void> {
  const b = await broker()
  const topics = new Topics(b.brokers)
  const started = new Date()
  const loadStart = loadavg()
  const all = new Map<string, Run[]>()
  const stamp = Date.now().toString(36)
  try {
    log(`producer benchmark: ${CLIENTS.join(', ')}; ${WORKLOADS.map((w) => w.label).join('; ')}; ${RUNS} run(s) each; load ${loadStart}`)
    if (WARMUP) {
      // HotSpot compiles a method with C2 only after thousands of calls, and
      // a timed run with 64 KiB batches sends a few thousand requests: on a
      // fresh broker the compiler thread still took ~0.5 s of CPU in each of
      // the first several timed runs, busy with the per-request methods
      // (network processor, request parsing, log append and validation).
      // Many small requests first.
      const small = [`bootstrap.servers=${b.brokers.join(',')}`, 'acks=all', 'enable.idempotence=true', 'batch.size=2048', 'linger.ms=0', `max.in.flight.requests.per.connection=${MAX_IN_FLIGHT}`]
      await warmUp(b.kafka, topics, `bench-warmup-${stamp}-requests`, `${REQUEST_WARMUP_RECORDS.toLocaleString('en-US')} x 100B in 2 KiB batches`, REQUEST_WARMUP_RECORDS, 100, small)
      // Then the per-byte paths of every workload (codecs, record sizes).
      for (const w of WORKLOADS) await warmUpWorkload(b.brokers, b.kafka, topics, `bench-warmup-${stamp}-first-${w.id}`, w)
    }
    for (let run = 0; run < RUNS; run++) {
      for (const w of WORKLOADS) {
        // The broker's JVM keeps compiling whenever the workload changes: the
        // client timed first after a change (and first of all on a fresh
        // broker) ran up to 2x slower than the same client later. So before
        // every workload's turn the reference tool writes it, unmeasured, and
        // every timed run follows a run of its own workload.
        for (let k = 0; k < WARMUP; k++) await warmUpWorkload(b.brokers, b.kafka, topics, `bench-warmup-${stamp}-${run}-${w.id}-${k}`, w)
        // Rotate the order each run so no client always follows the same one.
        const order = CLIENTS.map((_, i) => CLIENTS[(i + run) % CLIENTS.length]!)
        for (const [ci, client] of order.entries()) {
          const topic = `bench-p-${stamp}-${run}-${w.id}-${ci}-${client.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 60)}`
          await topics.create(topic, PARTITIONS)
          let r: Run
          try {
            if (client === 'java') r = await runJava(b.brokers, b.kafka, topic, w)
            else {
              const job: ProduceJob = { role: 'produce', brokers: b.brokers, topic, records: w.records, recordSize: w.size, compression: w.codec, batchSize: BATCH, lingerMs: LINGER, maxInFlight: MAX_IN_FLIGHT, chunk: CHUNK, window: WINDOW }
              r = await runNodeClient(client, job)
              r.client = LABELS[client] ?? client
            }
          } finally {
            await topics.delete(topic)
          }
          const key = `${w.id}\0${r.client}`
          all.set(key, [...(all.get(key) ?? []), r])
          log(`run ${run + 1}/${RUNS} ${w.label} ${r.client}: ${fmtRate(r.records / r.seconds)} records/s, ${((r.cpuUserUs + r.cpuSystemUs) / r.records).toFixed(2)} µs CPU/record${r.errors ? `, ${r.errors} FAILED` : ''} (load ${r.loadavg.toFixed(2)})`)
        }
      }
    }
  } finally {
    await topics.close()
    await b.stop()
  }

  const out: string[] = []
  const v = versions()
  out.push(`## Producer benchmark, ${started.toISOString()}`)
  out.push('')
  out.push(`- machine: ${machine()}; load average (1/5/15 min) at start ${loadStart}, at end ${loadavg()}`)
  out.push(`- broker: Apache Kafka ${b.kafka}, ${b.describe}; topics with ${PARTITIONS} partitions, replication factor 1, a fresh topic per run`)
  out.push(`- ${Object.entries(v).map(([k, x]) => `${k} ${x}`).join(', ')}, ${await javaVersion()}`)
  out.push(`- every client: acks=all, idempotent, null keys, the same ${'value'} bytes for every record; batch size ${BATCH} B and linger ${LINGER} ms where the client has them (kafkawire, node-rdkafka, Java), at most ${MAX_IN_FLIGHT} requests in flight per connection (platformatic: 1, forced by its idempotent mode)`)
  out.push(`- broker warm-up (unmeasured, Java ProducerPerformance): ${WARMUP ? `${REQUEST_WARMUP_RECORDS.toLocaleString('en-US')} x 100B in 2 KiB batches and every workload once at the start, then before each workload's turn in every run that workload ${WARMUP === 1 ? 'once' : `${WARMUP} times`}` : 'none (BENCH_WARMUP=0)'}`)
  out.push(`- promise-based clients (kafkawire, platformatic, KafkaJS): send() calls of ${CHUNK} records, at most ${WINDOW} unresolved at a time`)
  out.push(`- records/s and CPU: median of ${RUNS} run(s); MB/s = value bytes / 10^6 / s; CPU = user+system of the client process during the run (Node: process.cpuUsage(); Java: JVM CPU from /proc minus a 1-record run)`)
  out.push('')
  const targets: string[] = ['| workload | kafkawire / platformatic (>= 1.5x) | kafkawire / KafkaJS (>= 3x) | kafkawire CPU vs node-rdkafka (<=) | kafkawire / Java |', '|---|---:|---:|---:|---:|']
  for (const w of WORKLOADS) {
    const rows = CLIENTS.map((c) => LABELS[c] ?? c).filter((c) => all.has(`${w.id}\0${c}`)).map((c) => summarize(c, all.get(`${w.id}\0${c}`)!))
    out.push(`### ${w.label}`)
    out.push('')
    out.push(table(rows))
    out.push('')
    const get = (c: string) => rows.find((r) => r.client === c)
    const kw = get('kafkawire')
    if (kw) {
      const ratio = (c: string): string => {
        const p = get(c)
        return p ? `${(kw.recordsPerSec / p.recordsPerSec).toFixed(2)}x` : '-'
      }
      const rd = get('node-rdkafka')
      targets.push(`| ${w.label} | ${ratio('@platformatic/kafka')} | ${ratio('KafkaJS')} | ${rd ? `${kw.cpuUsPerRecord.toFixed(2)} vs ${rd.cpuUsPerRecord.toFixed(2)} µs ${kw.cpuUsPerRecord <= rd.cpuUsPerRecord ? '(met)' : '(NOT met)'}` : '-'} | ${ratio(JAVA_LABEL)} |`)
    }
  }
  out.push('### Targets')
  out.push('')
  out.push(targets.join('\n'))
  out.push('')
  out.push(...configurations(all))
  const text = out.join('\n')
  process.stdout.write(`\n${text}\n`)
  const file = process.env.BENCH_OUT ?? join(here, '..', '.tmp', `bench-produce-${started.toISOString().replace(/[:.]/g, '-')}.json`)
  mkdirSync(join(file, '..'), { recursive: true })
  writeFileSync(file, JSON.stringify({ started, loadStart, loadEnd: loadavg(), versions: v, runs: Object.fromEntries(all), report: text }, null, 1))
  log(`raw results: ${file}`)
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
