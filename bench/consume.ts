/**
 * Consumer benchmark (issue #6 item 8): kafkawire vs @platformatic/kafka,
 * KafkaJS 2.2.4, node-rdkafka and the Java client's ConsumerPerformance,
 * consuming the same 1,000,000 records of 100 B (uncompressed and lz4) from
 * the same topics on a dedicated local broker; then end-to-end latency at
 * 5,000 records/s for kafkawire and the Java client's tools.
 *
 *   npm --prefix bench install && npm --prefix bench run consume
 *
 * The topics (BENCH_PARTITIONS, 3 partitions) are filled once by the Java
 * client's ProducerPerformance (acks=all, idempotent, batch.size 64 KiB,
 * linger.ms 5, random upper-case payloads). Every consumer run uses a new
 * group and reads from the earliest offset. See README.md.
 *
 * Env: BENCH_RUNS (3), BENCH_CLIENTS (kafkawire,kafkawire-each,platformatic,platformatic-1m,kafkajs,rdkafka,rdkafka-batch,java),
 * BENCH_CODECS (none,lz4), BENCH_SCALE (1), BENCH_PARTITIONS (3), BENCH_MAX_BYTES (52428800),
 * BENCH_MAX_PARTITION_BYTES (1048576), BENCH_LATENCY (1; 0 skips the latency part),
 * BENCH_THROUGHPUT (1; 0 skips the throughput part), BENCH_LATENCY_RATE (5000),
 * BENCH_LATENCY_SECONDS (30), BENCH_ROUNDTRIPS (10000), BENCH_BROKERS, BENCH_PORT_BASE (38000),
 * BENCH_KEEP_BROKER=1, BENCH_OUT.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ConsumeJob } from './lib/child.js'
import {
  broker, checkNode, configurations, envList, envNum, fmtRate, here, javaVersion, loadavg, log, machine, runJavaTool, runNodeClient, summarize, table, Topics, versions,
  type Run,
} from './lib/runner.js'

checkNode()

const RUNS = envNum('BENCH_RUNS', 3)
const SCALE = envNum('BENCH_SCALE', 1)
const PARTITIONS = envNum('BENCH_PARTITIONS', 3)
const RECORDS = Math.round(1_000_000 * SCALE)
const SIZE = 100
const MAX_BYTES = envNum('BENCH_MAX_BYTES', 52428800)
const MAX_PARTITION_BYTES = envNum('BENCH_MAX_PARTITION_BYTES', 1048576)
const CODECS = envList('BENCH_CODECS', 'none,lz4')
const CLIENTS = envList('BENCH_CLIENTS', 'kafkawire,kafkawire-each,platformatic,platformatic-1m,kafkajs,rdkafka,rdkafka-batch,java')
const LATENCY = envNum('BENCH_LATENCY', 1) !== 0
const THROUGHPUT = envNum('BENCH_THROUGHPUT', 1) !== 0
const RATE = envNum('BENCH_LATENCY_RATE', 5000)
const LAT_SECONDS = envNum('BENCH_LATENCY_SECONDS', 30)
const ROUNDTRIPS = envNum('BENCH_ROUNDTRIPS', 10000)

const JAVA_LABEL = 'Java ConsumerPerformance'
interface Variant {
  script: string
  label: string
  variant?: string
  maxBytes?: number
}
const VARIANTS: Record<string, Variant> = {
  kafkawire: { script: 'kafkawire', label: 'kafkawire (eachBatch)' },
  'kafkawire-each': { script: 'kafkawire', label: 'kafkawire (eachMessage)', variant: 'eachMessage' },
  platformatic: { script: 'platformatic', label: '@platformatic/kafka' },
  'platformatic-1m': { script: 'platformatic', label: '@platformatic/kafka (maxBytes 1 MiB)', maxBytes: 1048576 },
  kafkajs: { script: 'kafkajs', label: 'KafkaJS' },
  rdkafka: { script: 'rdkafka', label: 'node-rdkafka (flowing)' },
  'rdkafka-batch': { script: 'rdkafka', label: 'node-rdkafka (consume(1000))', variant: 'batch:1000' },
  java: { script: 'java', label: JAVA_LABEL },
}

async function fill(brokers: string[], kafka: string, topic: string, codec: string): Promise<void> {
  const r = await runJavaTool('org.apache.kafka.tools.ProducerPerformance', [
    '--topic', topic, '--num-records', String(RECORDS), '--record-size', String(SIZE), '--throughput', '-1',
    '--command-property', `bootstrap.servers=${brokers.join(',')}`, 'acks=all', 'enable.idempotence=true', `compression.type=${codec}`, 'batch.size=65536', 'linger.ms=5',
  ], kafka)
  const last = r.stdout.split('\n').filter((l) => / records sent, /.test(l)).pop()
  log(`filled ${topic}: ${last ?? '?'}`)
}

/** ConsumerPerformance's data line: start.time, end.time, MB, MB.sec, nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec */
function parseJavaConsumer(stdout: string): { records: number; fetchMs: number; rebalanceMs: number } {
  const line = stdout.split('\n').map((l) => l.trim()).filter((l) => /^\d{4}-\d\d-\d\d /.test(l)).pop()
  const f = line?.split(/,\s*/)
  if (!f || f.length < 10) throw new Error(`cannot read ConsumerPerformance output:\n${stdout.slice(-2000)}`)
  return { records: Number(f[4]), rebalanceMs: Number(f[6]), fetchMs: Number(f[7]) }
}

let groupSeq = 0
async function runJava(brokers: string[], kafka: string, topic: string): Promise<Run> {
  const props = [`fetch.max.bytes=${MAX_BYTES}`, `max.partition.fetch.bytes=${MAX_PARTITION_BYTES}`, 'auto.offset.reset=earliest']
  const args = (n: number): string[] => ['--bootstrap-server', brokers.join(','), '--topic', topic, '--num-records', String(n), '--group', `bench-java-${process.pid}-${groupSeq++}`, '--timeout', '60000', '--command-property', ...props]
  // JVM CPU of a 1-record run (JVM start, class loading, group join, first fetch, close) is subtracted.
  const base = await runJavaTool('org.apache.kafka.tools.ConsumerPerformance', args(1), kafka)
  const r = await runJavaTool('org.apache.kafka.tools.ConsumerPerformance', args(RECORDS), kafka)
  const { records, fetchMs, rebalanceMs } = parseJavaConsumer(r.stdout)
  const cpu = Math.max(0, r.cpuUs - base.cpuUs)
  return {
    client: JAVA_LABEL,
    records,
    bytes: records * SIZE,
    seconds: fetchMs / 1000,
    cpuUserUs: cpu,
    cpuSystemUs: 0,
    errors: 0,
    config: { props: props.join(' '), timing: 'fetch.time.ms (total minus group join)', jvm: '-Xms256m -Xmx512m (project tooling)' },
    processCpuUs: r.cpuUs,
    loadavg: r.loadavg,
    note: `rebalance ${rebalanceMs} ms; JVM CPU ${(r.cpuUs / 1e6).toFixed(2)} s minus ${(base.cpuUs / 1e6).toFixed(2)} s for the 1-record run`,
  }
}

// ---- latency ---------------------------------------------------------------------------------

function runLatencyHarness(job: Record<string, unknown>): Promise<Record<string, unknown> & { e2e: Record<string, number>; ack: Record<string, number> }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--import', 'tsx', join('clients', 'kafkawire-latency.ts'), JSON.stringify(job)], { cwd: here, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    c.stdout.on('data', (b: Buffer) => (out += b.toString()))
    c.stderr.on('data', (b: Buffer) => (err += b.toString()))
    c.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('@@RESULT '))
      if (code !== 0 || !line) reject(new Error(`latency harness failed (exit ${code}):\n${err.slice(-3000)}`))
      else resolve(JSON.parse(line.slice(9)))
    })
  })
}

async function latency(brokers: string[], kafka: string, topics: Topics, stamp: string): Promise<string[]> {
  const out: string[] = []
  const f = (x: number | undefined): string => (x === undefined ? '-' : x < 10 ? x.toFixed(2) : x.toFixed(1))
  // kafkawire at RATE records/s, and one at a time.
  const rateTopic = `bench-lat-${stamp}-rate`
  await topics.create(rateTopic, PARTITIONS)
  log(`latency: kafkawire, ${RATE} records/s for ${LAT_SECONDS} s...`)
  const rate = await runLatencyHarness({ mode: 'rate', brokers, topic: rateTopic, partitions: PARTITIONS, recordSize: SIZE, rate: RATE, seconds: LAT_SECONDS, warmupSeconds: 3, records: 0 })
  await topics.delete(rateTopic)
  const rtTopic = `bench-lat-${stamp}-rt`
  await topics.create(rtTopic, 1)
  log(`latency: kafkawire, ${ROUNDTRIPS} round trips...`)
  const rt = await runLatencyHarness({ mode: 'roundtrip', brokers, topic: rtTopic, partitions: 1, recordSize: SIZE, rate: 0, seconds: 0, warmupSeconds: 0, records: ROUNDTRIPS })
  await topics.delete(rtTopic)

  // Java: ProducerPerformance throttled to RATE (send -> acknowledgement), EndToEndLatency (round trips).
  const jTopic = `bench-lat-${stamp}-java`
  await topics.create(jTopic, PARTITIONS)
  log(`latency: Java ProducerPerformance --throughput ${RATE}...`)
  const pp = await runJavaTool('org.apache.kafka.tools.ProducerPerformance', [
    '--topic', jTopic, '--num-records', String(RATE * LAT_SECONDS), '--record-size', String(SIZE), '--throughput', String(RATE), '--warmup-records', String(RATE * 3),
    '--command-property', `bootstrap.servers=${brokers.join(',')}`, 'acks=all', 'enable.idempotence=true', 'linger.ms=5',
  ], kafka)
  await topics.delete(jTopic)
  // The last summary line is the steady state (after the warm-up records).
  const ppLine = pp.stdout.split('\n').filter((l) => / records sent, /.test(l)).pop() ?? ''
  const ppm = ppLine.match(/([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99.9th/)
  const e2eTopic = `bench-lat-${stamp}-e2e`
  await topics.create(e2eTopic, 1)
  log(`latency: Java EndToEndLatency, ${ROUNDTRIPS} round trips...`)
  const ee = await runJavaTool('org.apache.kafka.tools.EndToEndLatency', [brokers.join(','), e2eTopic, String(ROUNDTRIPS), 'all', String(SIZE)], kafka)
  await topics.delete(e2eTopic)
  const eAvg = ee.stdout.match(/Avg latency: ([\d.]+) ms/)
  const ePct = ee.stdout.match(/Percentiles: 50th = (\d+), 99th = (\d+), 99.9th = (\d+)/)

  out.push(`### End-to-end latency (100 B records, acks=all, idempotent; ms)`)
  out.push('')
  out.push('| what is measured | client | p50 | p99 | p99.9 | max | avg |')
  out.push('|---|---|---:|---:|---:|---:|---:|')
  out.push(`| produce -> consume at ${RATE} records/s (${PARTITIONS} partitions, ${LAT_SECONDS} s, first 3 s left out): send() call to the consumer's eachBatch, same process | kafkawire | ${f(rate.e2e.p50)} | ${f(rate.e2e.p99)} | ${f(rate.e2e.p999)} | ${f(rate.e2e.max)} | ${f(rate.e2e.avg)} |`)
  out.push(`| send -> acknowledgement at ${RATE} records/s: send() call to its promise resolving | kafkawire | ${f(rate.ack.p50)} | ${f(rate.ack.p99)} | ${f(rate.ack.p999)} | ${f(rate.ack.max)} | ${f(rate.ack.avg)} |`)
  out.push(`| send -> acknowledgement at ${RATE} records/s: ProducerPerformance --throughput ${RATE} (send() to callback; steady state after ${RATE * 3} warm-up records; whole ms) | Java | ${ppm ? `${ppm[3]} | ${ppm[5]} | ${ppm[6]} | ${ppm[2]} | ${ppm[1]}` : '? | ? | ? | ? | ?'} |`)
  out.push(`| round trip, one record at a time (linger 0, fetch max wait 0, 1 partition, ${ROUNDTRIPS} records): send, await the acknowledgement, then the consumer's delivery | kafkawire | ${f(rt.e2e.p50)} | ${f(rt.e2e.p99)} | ${f(rt.e2e.p999)} | ${f(rt.e2e.max)} | ${f(rt.e2e.avg)} |`)
  out.push(`| the same: EndToEndLatency (send().get(), then poll(); percentiles truncated to whole ms by the tool) | Java | ${ePct ? `${ePct[1]} | ${ePct[2]} | ${ePct[3]} | - | ${eAvg ? Number(eAvg[1]).toFixed(2) : '?'}` : '? | ? | ? | - | ?'} |`)
  out.push('')
  out.push(`kafkawire harness: ${rate.sent} records sent at ${RATE}/s, ${rate.received} received, ${Number(rate.cpuUsPerRecord).toFixed(1)} µs CPU per record (producer and consumer together); round trips: ${rt.sent} records.`)
  out.push(`Java ProducerPerformance summary: \`${ppLine.trim()}\``)
  return out
}

// ---- main ----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const b = await broker()
  const topics = new Topics(b.brokers)
  const started = new Date()
  const loadStart = loadavg()
  const all = new Map<string, Run[]>()
  const stamp = Date.now().toString(36)
  const out: string[] = []
  const v = versions()
  out.push(`## Consumer benchmark, ${started.toISOString()}`)
  out.push('')
  try {
    if (THROUGHPUT) {
      const source: Record<string, string> = {}
      for (const codec of CODECS) {
        const t = `bench-c-${stamp}-${codec}`
        await topics.create(t, PARTITIONS)
        await fill(b.brokers, b.kafka, t, codec)
        source[codec] = t
      }
      log(`consumer benchmark: ${CLIENTS.join(', ')}; ${RECORDS.toLocaleString('en-US')} x ${SIZE} B, ${CODECS.join(', ')}; ${RUNS} run(s) each; load ${loadStart}`)
      for (let run = 0; run < RUNS; run++) {
        for (const codec of CODECS) {
          const order = CLIENTS.map((_, i) => CLIENTS[(i + run) % CLIENTS.length]!)
          for (const client of order) {
            // "kafkawire@/path/to/src/index.ts": the same driver on another copy of the sources (A/B runs).
            const [name, src] = client.split('@') as [string, string | undefined]
            const known = VARIANTS[name]
            if (!known) throw new Error(`unknown client ${client}; one of ${Object.keys(VARIANTS).join(', ')}`)
            const vr: Variant = src ? { ...known, script: `${known.script}@${src}`, label: `${known.label} @${src}` } : known
            let r: Run
            if (vr.script === 'java') r = await runJava(b.brokers, b.kafka, source[codec]!)
            else {
              const job: ConsumeJob = { role: 'consume', brokers: b.brokers, topic: source[codec]!, records: RECORDS, groupId: `bench-${client}-${process.pid}-${groupSeq++}`, maxBytes: vr.maxBytes ?? MAX_BYTES, maxPartitionBytes: MAX_PARTITION_BYTES, ...(vr.variant ? { variant: vr.variant } : {}) }
              r = await runNodeClient(vr.script, job)
            }
            r.client = vr.label
            const key = `${codec}\0${r.client}`
            all.set(key, [...(all.get(key) ?? []), r])
            log(`run ${run + 1}/${RUNS} ${codec} ${r.client}: ${fmtRate(r.records / r.seconds)} records/s, ${((r.cpuUserUs + r.cpuSystemUs) / r.records).toFixed(2)} µs CPU/record (load ${r.loadavg.toFixed(2)})`)
          }
        }
      }
      for (const t of Object.values(source)) await topics.delete(t)
    }
    const loadThroughputEnd = loadavg()
    const lat = LATENCY ? await latency(b.brokers, b.kafka, topics, stamp) : []

    out.push(`- machine: ${machine()}; load average (1/5/15 min) at start ${loadStart}, after the throughput runs ${loadThroughputEnd}, at end ${loadavg()}`)
    out.push(`- broker: Apache Kafka ${b.kafka}, ${b.describe}; topics with ${PARTITIONS} partitions, replication factor 1`)
    out.push(`- ${Object.entries(v).map(([k, x]) => `${k} ${x}`).join(', ')}, ${await javaVersion()}`)
    if (THROUGHPUT) {
      out.push(`- data: ${RECORDS.toLocaleString('en-US')} records of ${SIZE} B (random upper-case letters, null keys) per topic, written once by ProducerPerformance (batch.size 65536, linger.ms 5, acks=all, idempotent) uncompressed and with lz4; every consumer run reads a topic from the earliest offset in a new group`)
      out.push(`- every consumer: fetch max ${MAX_BYTES} B per request, ${MAX_PARTITION_BYTES} B per partition (except the platformatic row marked 1 MiB), auto commit on, its batch API where it has one`)
      out.push(`- records/s and CPU: median of ${RUNS} run(s), from the group assignment to the last record (Java: fetch.time.ms, i.e. without the group join); MB/s = value bytes / 10^6 / s; CPU = user+system of the client process over that time (Node: process.cpuUsage(); Java: JVM CPU from /proc minus a 1-record run)`)
      out.push('')
      const targets: string[] = ['| workload | kafkawire / platformatic, its faster row (>= 1.5x) | kafkawire / KafkaJS (>= 3x) | kafkawire / node-rdkafka, its faster row (>= 1x) | kafkawire / Java |', '|---|---:|---:|---:|---:|']
      for (const codec of CODECS) {
        const label = (c: string): string => {
          const [name, src] = c.split('@') as [string, string | undefined]
          return src ? `${VARIANTS[name]!.label} @${src}` : VARIANTS[name]!.label
        }
        const rows = CLIENTS.map(label).filter((c) => all.has(`${codec}\0${c}`)).map((c) => summarize(c, all.get(`${codec}\0${c}`)!))
        out.push(`### ${RECORDS.toLocaleString('en-US')} x ${SIZE} B, ${codec}`)
        out.push('')
        out.push(table(rows))
        out.push('')
        const get = (c: string) => rows.find((r) => r.client === c)
        const kw = get('kafkawire (eachBatch)')
        if (kw) {
          const best = (...cs: string[]) => cs.map(get).filter((x) => x !== undefined).sort((a, b) => b!.recordsPerSec - a!.recordsPerSec)[0]
          const ratio = (p: ReturnType<typeof get>): string => (p ? `${(kw.recordsPerSec / p.recordsPerSec).toFixed(2)}x` : '-')
          targets.push(`| ${codec} | ${ratio(best('@platformatic/kafka', '@platformatic/kafka (maxBytes 1 MiB)'))} | ${ratio(get('KafkaJS'))} | ${ratio(best('node-rdkafka (flowing)', 'node-rdkafka (consume(1000))'))} | ${ratio(get(JAVA_LABEL))} |`)
        }
      }
      out.push('### Targets (throughput)')
      out.push('')
      out.push(targets.join('\n'))
      out.push('')
      out.push(...configurations(all))
      out.push('')
    }
    out.push(...lat)
  } finally {
    await topics.close()
    await b.stop()
  }
  const text = out.join('\n')
  process.stdout.write(`\n${text}\n`)
  const file = process.env.BENCH_OUT ?? join(here, '..', '.tmp', `bench-consume-${started.toISOString().replace(/[:.]/g, '-')}.json`)
  mkdirSync(join(file, '..'), { recursive: true })
  writeFileSync(file, JSON.stringify({ started, loadStart, loadEnd: loadavg(), versions: v, runs: Object.fromEntries(all), report: text }, null, 1))
  log(`raw results: ${file}`)
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
