// Brokers dying and freezing under a running client, on a 3-node cluster of the test's own (RF 3, min ISR 2):
// a SIGKILLed node is restarted, a SIGSTOPped node continued. Every request must settle within a bound,
// requests to the other brokers keep succeeding, metadata follows the leaders, and the client recovers.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test, type TestContext } from 'node:test'
import { killNode, restartNode, startCluster, stopCluster, threeNodeOptions, type Cluster as BrokerCluster } from '../broker/index.mjs'
import { Cluster } from '../../src/client/cluster.js'
import { RequestTimeoutError } from '../../src/client/errors.js'
import { KafkawireError } from '../../src/protocol/errors.js'
import { metadata } from '../../src/protocol/messages/metadata.js'
import { requires } from '../support/target.js'
import { settlesWithin, sleep, unsupported } from './support.js'

const REQUEST_TIMEOUT = 4000
const CONNECT_TIMEOUT = 4000
/** Connect + reconnect backoff + request, with room to spare: nothing may take longer. */
const SETTLE_BOUND = CONNECT_TIMEOUT + 1000 + REQUEST_TIMEOUT + 5000

interface Outcome {
  node: number
  phase: string
  start: number
  ms: number
  ok: boolean
  error?: unknown
}

/** One request loop per broker: Metadata for the test topic, sent with cluster.send(nodeId, ...). */
class Load {
  readonly outcomes: Outcome[] = []
  phase = 'healthy'
  #stopped = false
  #loops: Array<Promise<void>> = []

  constructor(
    readonly cluster: Cluster,
    readonly topic: string,
  ) {}

  start(nodes: number[]): void {
    this.#loops = nodes.map((n) => this.#loop(n))
  }

  async #loop(node: number): Promise<void> {
    while (!this.#stopped) {
      const start = Date.now()
      const phase = this.phase
      const request = this.cluster.send(node, metadata, { topics: [{ name: this.topic }], allowAutoTopicCreation: false }).then((res) => {
        assert.equal(res.topics[0]?.name, this.topic)
        assert.equal(res.topics[0]?.partitions.length, 3)
      })
      const r = await settlesWithin(SETTLE_BOUND, request, `a request to node ${node}`).catch((hang: unknown) => ({ status: 'hung' as const, reason: hang }))
      const ok = r.status === 'fulfilled'
      this.outcomes.push({ node, phase, start, ms: Date.now() - start, ok, ...(ok ? {} : { error: r.status === 'hung' ? r.reason : r.reason }) })
      await sleep(ok ? 20 : 200)
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true
    await Promise.all(this.#loops)
  }

  of(node: number, phase?: string): Outcome[] {
    return this.outcomes.filter((o) => o.node === node && (phase === undefined || o.phase === phase))
  }

  /** Every request settled in time; none to a healthy broker failed; failures are retriable kafkawire errors. */
  assertSound(healthy: number[], what: string, from = 0): void {
    const outcomes = this.outcomes.slice(from)
    const slowest = Math.max(...outcomes.map((o) => o.ms))
    assert.ok(slowest <= SETTLE_BOUND, `${what}: a request took ${slowest} ms`)
    for (const o of outcomes) {
      if (o.ok) continue
      assert.ok(!healthy.includes(o.node), `${what}: a request to healthy node ${o.node} failed in phase ${o.phase}: ${String(o.error)}`)
      assert.ok(o.error instanceof KafkawireError, `${what}: node ${o.node} failed with ${String(o.error)}`)
      assert.equal(o.error.retriable, true, `${what}: ${o.error.name} ${o.error.message} should be retriable`)
    }
  }
}

async function eventually<T>(what: string, ms: number, check: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      return await check()
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms: ${String(err)}`)
      await sleep(250)
    }
  }
}

const java = spawnSync('java', ['-version'], { stdio: 'ignore' })
if (java.error !== undefined || java.status !== 0) {
  unsupported('broker failures on a 3-node cluster', `this test starts its own 3 brokers and needs java on PATH (${java.error?.message ?? `exit ${java.status}`})`)
} else {
  describe('broker failures on a 3-node cluster', requires('three-nodes'), () => {
    const opts = threeNodeOptions()
    let brokers: BrokerCluster | undefined
    let cluster: Cluster
    let load: Load | undefined
    const topic = `kw-failover-${randomBytes(4).toString('hex')}`

    before(
      async () => {
        const started = Date.now()
        brokers = await startCluster({ ...opts, log: () => undefined })
        process.stderr.write(`# 3-node cluster ${opts.name} (Kafka ${opts.kafka}) up in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
        cluster = new Cluster({
          brokers: brokers.KAFKA_BROKERS,
          clientId: 'kafkawire-failover-conformance',
          requestTimeoutMs: REQUEST_TIMEOUT,
          connectTimeoutMs: CONNECT_TIMEOUT,
          defaultTimeoutMs: 10_000,
        })
        await cluster.connect()
        // Auto-created with the cluster's defaults: 3 partitions, 3 replicas.
        await eventually('the topic with full ISR', 60_000, async () => {
          await cluster.refreshMetadata([topic], { allowAutoTopicCreation: true })
          const info = cluster.topic(topic)
          assert.ok(info && info.partitions.length === 3 && info.partitions.every((p) => p.leader > 0 && p.isr.length === 3))
          // Every node serves the topic before the load starts: KRaft brokers learn it one after the other, and
          // a node still without it would fail the "healthy" phase (seen on 3.9.1 under load).
          for (const node of [1, 2, 3]) {
            const res = await cluster.send(node, metadata, { topics: [{ name: topic }], allowAutoTopicCreation: false })
            assert.equal(res.topics[0]?.partitions.length, 3, `node ${node} knows the topic`)
          }
        })
        load = new Load(cluster, topic)
        load.start([1, 2, 3])
      },
      { timeout: 300_000 },
    )

    after(
      async () => {
        await load?.stop()
        cluster?.destroy()
        // Stops SIGSTOPped nodes too (they get SIGCONT first).
        if (brokers) await stopCluster(opts.name)
      },
      { timeout: 120_000 },
    )

    test('a SIGKILLed broker: requests to it fail fast, the others keep answering, leaders move away, and it serves again after a restart', async (t: TestContext) => {
      const l = load!
      const victim = cluster.topic(topic)!.partitions[0]!.leader
      const healthy = [1, 2, 3].filter((n) => n !== victim)
      const from = l.outcomes.length
      t.diagnostic(`killing node ${victim}, the leader of ${topic}-0`)
      await sleep(1000)

      await killNode(opts.name, victim, 'KILL')
      l.phase = 'killed' // only requests started after the process is gone
      const killedAt = Date.now()
      await eventually('a failed request to the killed node', 15_000, async () => assert.ok(l.of(victim, 'killed').some((o) => !o.ok)))

      // Metadata recovers: the killed broker is fenced and its partitions get new leaders.
      const moved = await eventually('leaders moving off the killed node', 45_000, async () => {
        await cluster.refreshMetadata([topic])
        const parts = cluster.topic(topic)!.partitions
        assert.ok(parts.every((p) => p.leader > 0 && p.leader !== victim), `leaders ${parts.map((p) => p.leader).join(',')}`)
        assert.ok(!cluster.brokers.some((b) => b.nodeId === victim), 'the killed node is no longer listed')
        return parts.map((p) => p.leader)
      })
      t.diagnostic(`leaders ${moved.join(',')} ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`)
      assert.ok(l.of(victim, 'killed').every((o) => !o.ok), 'nothing answered from a dead broker')
      for (const n of healthy) assert.ok(l.of(n, 'killed').filter((o) => o.ok).length > 5, `node ${n} kept answering`)

      l.phase = 'restarting'
      await restartNode(opts.name, victim, { log: () => undefined })
      l.phase = 'restarted'
      await eventually('a request to the restarted node succeeding', 30_000, async () => assert.ok(l.of(victim, 'restarted').some((o) => o.ok)))
      await eventually('the restarted node back in the metadata', 30_000, async () => {
        await cluster.refreshMetadata([topic])
        assert.ok(cluster.brokers.some((b) => b.nodeId === victim))
      })
      l.assertSound(healthy, 'SIGKILL', from)
    })

    test('a SIGSTOPped broker: requests to it time out, the others keep answering, and the client recovers after SIGCONT', async (t: TestContext) => {
      const l = load!
      // Any node that is up and in the metadata.
      const frozen = cluster.brokers.map((b) => b.nodeId).sort((a, b) => b - a)[0]!
      const healthy = [1, 2, 3].filter((n) => n !== frozen)
      await sleep(500)
      const from = l.outcomes.length
      t.diagnostic(`freezing node ${frozen}`)
      await killNode(opts.name, frozen, 'STOP')
      l.phase = 'frozen'
      let resumed = false
      try {
        const timedOut = await eventually('a request to the frozen node timing out', REQUEST_TIMEOUT + CONNECT_TIMEOUT + 10_000, async () => {
          const o = l.of(frozen, 'frozen').find((x) => !x.ok)
          assert.ok(o)
          return o
        })
        assert.ok(
          timedOut.error instanceof RequestTimeoutError || (timedOut.error instanceof KafkawireError && /timed out/.test(timedOut.error.message)),
          `the frozen node's failure is a timeout: ${String(timedOut.error)}`,
        )
        await sleep(1000)
        for (const n of healthy) assert.ok(l.of(n, 'frozen').filter((o) => o.ok).length > 5, `node ${n} kept answering`)
        l.phase = 'resumed'
        await killNode(opts.name, frozen, 'CONT')
        resumed = true
      } finally {
        if (!resumed) await killNode(opts.name, frozen, 'CONT').catch(() => undefined)
      }
      await eventually('a request to the resumed node succeeding', 30_000, async () => assert.ok(l.of(frozen, 'resumed').some((o) => o.ok)))
      await sleep(500)
      await l.stop()
      const outcomes = l.outcomes.slice(from)
      t.diagnostic(`${outcomes.length} requests; to node ${frozen}: ${outcomes.filter((o) => o.node === frozen && !o.ok).length} failed while frozen`)
      l.assertSound(healthy, 'SIGSTOP', from)
    })
  })
}
