// SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) over SASL_PLAINTEXT and SASL_SSL, TLS verification, and
// KIP-368 re-authentication, against the real broker. A listener or credential the cluster does not
// offer is reported as "unsupported: <reason>", never skipped silently.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Cluster } from '../../src/client/cluster.js'
import type { Connection } from '../../src/client/connection.js'
import { AuthenticationError } from '../../src/client/errors.js'
import { authenticate } from '../../src/client/sasl/index.js'
import type { TlsOptions } from '../../src/client/connection.js'
import { ProtocolError } from '../../src/protocol/errors.js'
import { metadata } from '../../src/protocol/messages/metadata.js'
import { Producer } from '../../src/producer/index.js'
import { makePki } from '../../spec/support/tls.js'
import { createTopic, deleteTopic, topicName } from '../support/kafka.js'
import { readPartition } from '../support/read-partition.js'
import { impl, requires, unsupportedReason } from '../support/target.js'
import {
  ca, connection, credentials, env, listener, mechanisms, missing, rejection, settlesWithin, sleep, unsupported,
  type Address, type ScramOrPlain,
} from './support.js'

const ALL: ScramOrPlain[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']

/** Metadata over the connection; the broker describes itself with the listener we came in on. */
async function assertMetadataWorks(conn: Connection, at: Address): Promise<void> {
  const res = await conn.send(metadata, { topics: [] })
  assert.ok(res.brokers.length >= 1, 'the cluster lists its brokers')
  assert.ok(
    res.brokers.some((b) => b.port === at.port),
    `the brokers are advertised on the listener we used (${at.port}): ${res.brokers.map((b) => `${b.host}:${b.port}`).join(', ')}`,
  )
  assert.equal(typeof res.clusterId, 'string')
}

const saslListeners = [
  { name: 'SASL_PLAINTEXT', variable: 'KAFKA_SASL_BROKERS', tls: false },
  { name: 'SASL_SSL', variable: 'KAFKA_SASL_SSL_BROKERS', tls: true },
] as const

for (const l of saslListeners) {
  describe(`SASL over ${l.name}`, () => {
    const at = listener(l.variable)
    const why = unsupportedReason(l.tls ? 'sasl-ssl' : 'sasl')
    for (const mechanism of ALL) {
      if (why !== null || at === null) {
        unsupported(`${mechanism} over ${l.name}`, why ?? `${l.variable} is empty`)
        continue
      }
      if (!mechanisms().includes(mechanism)) {
        unsupported(`${mechanism} over ${l.name}`, `${mechanism} credentials — the configured user has none (KAFKA_SASL_MECHANISMS=${env.KAFKA_SASL_MECHANISMS ?? env.KAFKA_SASL_MECHANISM ?? ''})`)
        continue
      }
      const tls: TlsOptions | undefined = l.tls ? { ca: ca()! } : undefined

      test(`${mechanism}: authenticates, then a Metadata request works`, async (t) => {
        const conn = connection(t, at, { sasl: credentials(mechanism), ...(tls ? { tls } : {}) })
        await conn.connect()
        assert.equal(conn.state, 'ready')
        await assertMetadataWorks(conn, at)
      })

      test(`${mechanism}: a wrong password fails with AuthenticationError and a clear message, without hanging`, async (t) => {
        const conn = connection(t, at, { sasl: credentials(mechanism, 'definitely-not-the-password'), ...(tls ? { tls } : {}) })
        const err = await rejection(conn.connect(), `${mechanism} with a wrong password`, 15_000)
        assert.ok(err instanceof AuthenticationError, `${err.name}: ${err.message}`)
        assert.equal(err.retriable, false)
        assert.match(err.message, new RegExp(`^SASL ${mechanism} authentication with ${at.host.replace(/\./g, '\\.')}:${at.port} failed: .*(invalid|failed)`, 'i'))
        assert.equal(err.message.includes('definitely-not-the-password'), false)
        assert.equal(conn.state, 'closed')
      })
    }

    if (why === null && at !== null && mechanisms().length > 0) {
      test('a client with a wrong password fails at once, not after retrying until its deadline', async (t) => {
        const cluster = new Cluster({
          brokers: [`${at.host}:${at.port}`],
          sasl: credentials(mechanisms()[0]!, 'wrong'),
          ...(l.tls ? { tls: { ca: ca()! } } : {}),
          defaultTimeoutMs: 60_000,
        })
        t.after(() => cluster.destroy())
        const err = await rejection(cluster.connect(), 'Cluster.connect with a wrong password', 15_000)
        assert.ok(err instanceof AuthenticationError, `${err.name}: ${err.message}`)
      })
    }
  })
}

describe('TLS', () => {
  const at = listener('KAFKA_SSL_BROKERS')
  const why = unsupportedReason('tls')
  if (why !== null || at === null) {
    unsupported('TLS verification', why ?? 'KAFKA_SSL_BROKERS is empty')
    return
  }

  test('connects with the cluster CA and serves Metadata', async (t) => {
    const conn = connection(t, at, { tls: { ca: ca()! } })
    await conn.connect()
    await assertMetadataWorks(conn, at)
  })

  test('a broker certificate from a CA we do not trust is refused with AuthenticationError', async (t) => {
    const stranger = makePki('kafkawire conformance stranger CA')
    const conn = connection(t, at, { tls: { ca: stranger.ca } })
    const err = await rejection(conn.connect(), 'TLS with an untrusted CA')
    assert.ok(err instanceof AuthenticationError, `${err.name}: ${err.message}`)
    assert.equal(err.retriable, false)
    assert.match(err.message, /TLS handshake with .* failed: .*(certificate|verify)/i)
  })

  test("the broker's self-made chain is refused against Node's default root store", async (t) => {
    const conn = connection(t, at, { tls: {} })
    const err = await rejection(conn.connect(), 'TLS with the default roots')
    assert.ok(err instanceof AuthenticationError, `${err.name}: ${err.message}`)
  })

  test('a certificate that does not name the host is refused with AuthenticationError', async (t) => {
    const conn = connection(t, at, { tls: { ca: ca()!, servername: 'wrong.example' } })
    const err = await rejection(conn.connect(), 'TLS with a mismatching server name')
    assert.ok(err instanceof AuthenticationError, `${err.name}: ${err.message}`)
    assert.match(err.message, /wrong\.example/)
    assert.match(err.message, /altnames/)
  })

  test('a plaintext client on the SSL listener fails at once with a hint, not with a retriable error', requires('tls-alert'), async (t) => {
    const conn = connection(t, at)
    const err = await rejection(conn.connect(), 'plaintext to the SSL listener')
    assert.ok(err instanceof ProtocolError, `${err.name}: ${err.message}`)
    assert.equal(err.retriable, false)
    assert.match(err.message, /the broker answered with TLS: is this an SSL listener\?/)
  })

  test('Produce requests above 64 KiB (written from reused memory) go through TLS intact, every codec', async (t) => {
    const tls = { ca: ca()! }
    const cluster = new Cluster({ brokers: [`${at.host}:${at.port}`], tls })
    t.after(() => cluster.destroy())
    const topic = topicName('tls-large')
    await createTopic(cluster, topic, { partitions: 3 })
    t.after(() => deleteTopic(cluster, topic))
    const expected: string[][] = [[], [], []]
    for (const compression of ['none', 'lz4', 'zstd'] as const) {
      // ~200 KB batches, three partitions to a request: every request is well above the 64 KiB
      // from which request buffers are recycled after the TLS socket's write callback.
      const producer = new Producer({ brokers: [`${at.host}:${at.port}`], tls, compression, batchSize: 200_000, lingerMs: 20 })
      t.after(() => producer.close().catch(() => undefined))
      const sends = []
      for (let i = 0; i < 20; i++) {
        const messages = []
        for (let j = 0; j < 300; j++) {
          const value = `${compression}:${i}.${j}:`.padEnd(200 + ((i * 31 + j * 17) % 900), String.fromCharCode(97 + ((i + j) % 26)))
          expected[j % 3]!.push(value)
          messages.push({ value, partition: j % 3 })
        }
        sends.push(producer.send({ topic, messages }))
      }
      await Promise.all(sends)
      await producer.close()
    }
    for (let p = 0; p < 3; p++) {
      const { records } = await readPartition(cluster, topic, p, { atLeast: BigInt(expected[p]!.length) })
      assert.deepEqual(records.map((r) => r.value?.toString()), expected[p], `partition ${p}`)
    }
  })

  test('a client whose CA does not match fails at once, not after retrying until its deadline', async (t) => {
    const stranger = makePki('kafkawire conformance stranger CA')
    const cluster = new Cluster({ brokers: [`${at.host}:${at.port}`], tls: { ca: stranger.ca }, defaultTimeoutMs: 60_000 })
    t.after(() => cluster.destroy())
    const err = await rejection(cluster.connect(), 'Cluster.connect with an untrusted CA', 15_000)
    assert.ok(err instanceof AuthenticationError, `${err.name}: ${err.message}`)
  })
})

describe('re-authentication (KIP-368)', () => {
  // SCRAM on the plaintext SASL listener and PLAIN over SASL_SSL, side by side through the same lifetimes.
  // (whichever of the two listeners the cluster has).
  const plans = [
    { variable: 'KAFKA_SASL_BROKERS' as const, mechanism: mechanisms().find((m) => m.startsWith('SCRAM')) ?? mechanisms()[0]!, tls: false },
    { variable: 'KAFKA_SASL_SSL_BROKERS' as const, mechanism: mechanisms().includes('PLAIN') ? 'PLAIN' : mechanisms()[0]!, tls: true },
  ].filter((p) => missing(p.variable, ...(p.tls ? ['KAFKA_CA'] : [])) === null)
  const why = plans.length === 0 ? unsupportedReason('sasl') ?? unsupportedReason('sasl-ssl') : unsupportedReason('sasl')
  if (why !== null || mechanisms().length === 0) {
    unsupported('re-authentication on busy connections', why ?? 'SASL mechanism — none configured (KAFKA_SASL_MECHANISM)')
    return
  }

  test('busy SASL connections re-authenticate before their session expires, across two lifetimes, and no request fails', async (t) => {
    // The lifetime the broker grants (connections.max.reauth.ms), read from a SaslAuthenticate answer.
    const probeAt = listener(plans[0]!.variable)!
    const probe = connection(t, probeAt, plans[0]!.tls ? { tls: { ca: ca()! } } : {})
    await probe.connect()
    const session = await authenticate(probe, credentials(plans[0]!.mechanism), 10_000)
    probe.destroy()
    const lifetime = session.sessionLifetimeMs
    t.diagnostic(`session lifetime ${lifetime} ms`)
    if (lifetime <= 0 || lifetime > 30_000) {
      // Not a failure of the client: the broker asks for no re-authentication, or too rarely to wait for.
      assert.ok(!env.KAFKAWIRE_MANAGED, 'managed clusters set connections.max.reauth.ms on their SASL listeners')
      t.skip(`unsupported by ${impl}: KIP-368 re-authentication — the broker's connections.max.reauth.ms is ${lifetime <= 0 ? 'unset' : `${lifetime} ms`}; needs 1-30 s`)
      return
    }

    const runs = plans.map(async (plan) => {
      const at = listener(plan.variable)!
      const transitions: string[] = []
      const conn = connection(t, at, {
        sasl: credentials(plan.mechanism),
        ...(plan.tls ? { tls: { ca: ca()! } } : {}),
        requestTimeoutMs: 10_000,
        log: (_level, message) => {
          const m = /^connection (\w+) -> (\w+)$/.exec(message)
          if (m) transitions.push(m[2]!)
        },
      })
      await conn.connect()
      const reauths = (): number => transitions.filter((s) => s === 'reauthenticating').length
      let ok = 0
      const failures: string[] = []
      const started = Date.now()
      // Four requests in flight at all times for more than two whole lifetimes (without re-authentication
      // the broker would close the connection after one), and at least two re-authentications.
      const worker = async (): Promise<void> => {
        while (Date.now() - started < 3 * lifetime + 10_000) {
          if (reauths() >= 2 && transitions.at(-1) === 'ready' && Date.now() - started > 2 * lifetime + 1000) return
          try {
            await assertMetadataWorks(conn, at)
            ok++
          } catch (err) {
            failures.push(String(err))
            if (conn.state === 'closed') return
          }
          await sleep(10)
        }
      }
      await Promise.all([worker(), worker(), worker(), worker()])
      return { plan, conn, ok, failures, reauths: reauths(), transitions, secs: (Date.now() - started) / 1000 }
    })
    const results = await Promise.all(runs)
    for (const r of results) {
      const what = `${r.plan.mechanism} on ${r.plan.variable}`
      t.diagnostic(`${what}: ${r.ok} requests over ${r.secs.toFixed(1)} s, ${r.reauths} re-authentications`)
      assert.deepEqual(r.failures, [], `${what}: no request fails`)
      assert.ok(r.reauths >= 2, `${what}: ${r.reauths} re-authentications (transitions ${r.transitions.join(' ')})`)
      assert.ok(r.ok > 50, `${what}: ${r.ok} requests`)
      assert.equal(r.conn.state, 'ready', `${what}: the connection survived (${String(r.conn.closeError)})`)
      assert.equal(r.conn.closeError, null)
      assert.equal(
        r.transitions.filter((s) => s === 'closed').length,
        0,
        `${what}: one connection throughout`,
      )
    }
    const settled = await settlesWithin(5000, Promise.all(results.map((r) => r.conn.close())), 'closing')
    assert.equal(settled.status, 'fulfilled')
  })
})
