import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import { inspect } from 'node:util'
import fc from 'fast-check'
import { Cluster } from '../../src/client/cluster.js'
import type { Connection } from '../../src/client/connection.js'
import { AuthenticationError, ConnectionError } from '../../src/client/errors.js'
import { oauthBearerMechanism } from '../../src/client/sasl/oauthbearer.js'
import { plainMechanism } from '../../src/client/sasl/plain.js'
import { scramMechanism } from '../../src/client/sasl/scram.js'
import type { SaslOptions } from '../../src/client/sasl/index.js'
import { metadata } from '../../src/protocol/messages/metadata.js'
import { produce } from '../../src/protocol/messages/produce.js'
import { saslHandshake } from '../../src/protocol/messages/sasl-handshake.js'
import { connectionTo, eventually, mockBroker, rejection, settlesWithin, sleep } from '../support/client.js'
import type { MockBroker, SaslServer, SaslServerOptions } from '../support/mock-broker.js'

const bytes = (s: string): Buffer => Buffer.from(s, 'utf8')

async function saslBroker(t: TestContext, o: Partial<SaslServerOptions> = {}): Promise<{ broker: MockBroker; server: SaslServer }> {
  const broker = await mockBroker(t)
  const server = broker.requireSasl({ mechanisms: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'], users: { alice: 'alice-secret' }, ...o })
  return { broker, server }
}

/** Connects, then proves the session works with a Metadata request. */
async function connectAndAsk(conn: Connection, broker: MockBroker): Promise<void> {
  await conn.connect()
  const res = await conn.send(metadata, { topics: [] })
  assert.deepEqual(res.brokers.map((b) => b.port), [broker.port])
}

describe('SCRAM (RFC 5802, RFC 7677)', () => {
  // RFC 7677 section 3.
  const vector = {
    clientNonce: 'rOprNGfwEbeRWgbNEkqO',
    serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
    clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
  }

  test('the RFC 7677 SCRAM-SHA-256 test vector gives the exact client proof and accepts the server signature', async () => {
    const exchange = scramMechanism({ mechanism: 'SCRAM-SHA-256', username: 'user', password: 'pencil' }, vector.clientNonce).start()
    assert.equal((await exchange.next(null))!.toString(), `n,,n=user,r=${vector.clientNonce}`)
    assert.equal((await exchange.next(bytes(vector.serverFirst)))!.toString(), vector.clientFinal)
    assert.doesNotThrow(() => exchange.finish!(bytes(vector.serverFinal)))
    assert.equal(await exchange.next(bytes(vector.serverFinal)), null)
  })

  test('any altered server signature is refused', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 31 }), fc.integer({ min: 1, max: 255 }), async (at, flip) => {
        const exchange = scramMechanism({ mechanism: 'SCRAM-SHA-256', username: 'user', password: 'pencil' }, vector.clientNonce).start()
        await exchange.next(null)
        await exchange.next(bytes(vector.serverFirst))
        const sig = Buffer.from(vector.serverFinal.slice(2), 'base64')
        sig[at]! ^= flip
        assert.throws(() => exchange.finish!(bytes(`v=${sig.toString('base64')}`)), /server signature does not verify/)
      }),
      { numRuns: 20 },
    )
  })

  test('user names with , and = are escaped (RFC 5802 5.1)', async () => {
    const exchange = scramMechanism({ mechanism: 'SCRAM-SHA-512', username: 'a,b=c', password: 'x' }, 'nonce').start()
    assert.equal((await exchange.next(null))!.toString(), 'n,,n=a=2Cb=3Dc,r=nonce')
  })

  test('KIP-86 extensions go after the nonce in the client-first message', async () => {
    const exchange = scramMechanism({ mechanism: 'SCRAM-SHA-256', username: 'tok', password: 'hmac', extensions: { tokenauth: 'true' } }, 'nonce').start()
    assert.equal((await exchange.next(null))!.toString(), 'n,,n=tok,r=nonce,tokenauth=true')
  })

  for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) {
    test(`${mechanism} authenticates against a broker that checks the proof, and requests work afterwards`, async (t) => {
      const { broker, server } = await saslBroker(t)
      const conn = connectionTo(t, broker, { sasl: { mechanism, username: 'alice', password: 'alice-secret' } })
      await connectAndAsk(conn, broker)
      assert.equal(server.authentications.length, 1)
      assert.match(server.messages[0]!, /^n,,n=alice,r=[A-Za-z0-9+/=]{20,}$/)
      assert.deepEqual(server.violations, [])
    })
  }

  const refusals: Array<[string, Partial<SaslServerOptions['scram']>, Partial<{ maxIterations: number }>, RegExp]> = [
    ['a server signature that does not verify', { badServerSignature: true }, {}, /server signature does not verify/],
    ['a server nonce that does not extend ours', { serverNonce: () => 'someone-elses-nonce' }, {}, /server nonce does not extend the client nonce/],
    ['a server nonce equal to ours', { serverNonce: (c) => c }, {}, /server nonce does not extend the client nonce/],
    ['fewer than 4096 iterations', { iterations: 4095 }, {}, /asked for 4095 iterations; at least 4096 are required/],
    ['more iterations than the default cap', { iterations: 100_001 }, {}, /asked for 100001 iterations, more than the configured maximum 100000/],
    ['more iterations than a configured cap', { iterations: 8192 }, { maxIterations: 5000 }, /asked for 8192 iterations, more than the configured maximum 5000/],
  ]
  for (const [what, scram, client, message] of refusals) {
    test(`${what} fails with AuthenticationError`, async (t) => {
      const { broker } = await saslBroker(t, { scram })
      const conn = connectionTo(t, broker, { sasl: { mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'alice-secret', ...client } })
      const err = await rejection(conn.connect(), 'connect')
      assert.ok(err instanceof AuthenticationError, `${err.name}: ${err.message}`)
      assert.equal(err.retriable, false)
      assert.match(err.message, message)
      assert.match(err.message, /SCRAM-SHA-256/)
      assert.equal(conn.state, 'closed')
    })
  }

  test('a wrong password fails with AuthenticationError carrying the broker message', async (t) => {
    const { broker } = await saslBroker(t)
    const conn = connectionTo(t, broker, { sasl: { mechanism: 'SCRAM-SHA-512', username: 'alice', password: 'wrong' } })
    const err = await rejection(conn.connect(), 'connect')
    assert.ok(err instanceof AuthenticationError)
    assert.match(err.message, /SASL SCRAM-SHA-512 authentication with 127\.0\.0\.1:\d+ failed: .*invalid credentials/)
  })
})

describe('PLAIN (RFC 4616)', () => {
  test('sends authzid NUL user NUL password and authenticates', async (t) => {
    const { broker, server } = await saslBroker(t)
    const conn = connectionTo(t, broker, { sasl: { mechanism: 'PLAIN', username: 'alice', password: 'alice-secret' } })
    await connectAndAsk(conn, broker)
    assert.deepEqual(server.messages, ['\0alice\0alice-secret'])
  })

  test('an authorization id goes first', async () => {
    const exchange = plainMechanism({ mechanism: 'PLAIN', username: 'alice', password: 'pw', authorizationId: 'bob' }).start()
    assert.equal((await exchange.next(null))!.toString(), 'bob\0alice\0pw')
    assert.equal(await exchange.next(Buffer.alloc(0)), null)
  })

  test('a wrong password fails with AuthenticationError and the broker message, without hanging', async (t) => {
    const { broker } = await saslBroker(t)
    const conn = connectionTo(t, broker, { sasl: { mechanism: 'PLAIN', username: 'alice', password: 'wrong' } })
    const err = await rejection(conn.connect(), 'connect', 3000)
    assert.ok(err instanceof AuthenticationError)
    assert.match(err.message, /SASL PLAIN authentication with 127\.0\.0\.1:\d+ failed: Authentication failed: Invalid username or password/)
  })

  test('a mechanism the broker does not enable fails with AuthenticationError listing the enabled ones', async (t) => {
    const { broker } = await saslBroker(t, { mechanisms: ['SCRAM-SHA-512'] })
    const conn = connectionTo(t, broker, { sasl: { mechanism: 'PLAIN', username: 'alice', password: 'alice-secret' } })
    const err = await rejection(conn.connect(), 'connect')
    assert.ok(err instanceof AuthenticationError)
    assert.match(err.message, /does not enable SASL mechanism PLAIN; it enables: SCRAM-SHA-512/)
  })
})

describe('OAUTHBEARER (RFC 7628, KIP-255, KIP-342)', () => {
  test('the client message is gs2 header, auth=Bearer token and the extensions, separated by 0x01', async () => {
    const exchange = oauthBearerMechanism({
      mechanism: 'OAUTHBEARER',
      token: () => ({ value: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.', extensions: { logicalCluster: 'lkc-1', traceId: 'a b' } }),
    }).start()
    const msg = (await exchange.next(null))!.toString()
    assert.equal(msg, 'n,,\x01auth=Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.\x01logicalCluster=lkc-1\x01traceId=a b\x01\x01')
    assert.equal(await exchange.next(Buffer.alloc(0)), null)
  })

  test('without extensions the message ends right after the token', async () => {
    const exchange = oauthBearerMechanism({ mechanism: 'OAUTHBEARER', token: async () => ({ value: 'tok' }) }).start()
    assert.equal((await exchange.next(null))!.toString(), 'n,,\x01auth=Bearer tok\x01\x01')
  })

  test('authenticates with a broker, asking the provider for a token on every authentication', async (t) => {
    const { broker, server } = await saslBroker(t, { sessionLifetimeMs: 400 })
    let calls = 0
    const conn = connectionTo(t, broker, { sasl: { mechanism: 'OAUTHBEARER', token: () => ({ value: `token-${++calls}` }) } })
    await connectAndAsk(conn, broker)
    await eventually(() => server.authentications.length >= 2, 'a re-authentication')
    assert.deepEqual(server.messages.slice(0, 2), ['n,,\x01auth=Bearer token-1\x01\x01', 'n,,\x01auth=Bearer token-2\x01\x01'])
  })

  test('a refusal (error JSON challenge) is answered with 0x01 and fails with AuthenticationError', async (t) => {
    const { broker, server } = await saslBroker(t, { oauth: () => '{"status":"invalid_token"}' })
    const conn = connectionTo(t, broker, { sasl: { mechanism: 'OAUTHBEARER', token: () => ({ value: 'expired' }) } })
    const err = await rejection(conn.connect(), 'connect')
    assert.ok(err instanceof AuthenticationError)
    assert.match(err.message, /OAUTHBEARER authentication with .* failed: Authentication failed: invalid token/)
    assert.deepEqual(server.messages, ['n,,\x01auth=Bearer expired\x01\x01', '\x01'])
  })

  const badExtensions: Array<[string, Record<string, string>]> = [
    ['an extension named auth', { auth: 'x' }],
    ['an extension name with a dash', { 'bad-key': 'x' }],
    ['an extension value with a control character', { key: 'a\x01b' }],
  ]
  for (const [what, extensions] of badExtensions) {
    test(`${what} is refused with AuthenticationError before anything is sent`, async (t) => {
      const { broker, server } = await saslBroker(t)
      const conn = connectionTo(t, broker, { sasl: { mechanism: 'OAUTHBEARER', token: () => ({ value: 'tok', extensions }) } })
      const err = await rejection(conn.connect(), 'connect')
      assert.ok(err instanceof AuthenticationError, `${err.name}: ${err.message}`)
      assert.match(err.message, /SASL extension/)
      assert.deepEqual(server.messages, [])
    })
  }

  test('a provider that returns no token fails with AuthenticationError', async (t) => {
    const { broker } = await saslBroker(t)
    const conn = connectionTo(t, broker, { sasl: { mechanism: 'OAUTHBEARER', token: () => ({ value: '' }) } })
    const err = await rejection(conn.connect(), 'connect')
    assert.ok(err instanceof AuthenticationError, `${err.name}: ${err.message}`)
    assert.match(err.message, /token provider returned no token/)
  })
})

describe('credentials stay secret', () => {
  const password = 'Zebra-Crossing-9f3c-SECRET'
  const token = 'eyJ.SECRET-TOKEN-7d1e.sig'

  /** Everything a user could print: messages, causes, contexts, inspect output. */
  function printed(...things: unknown[]): string {
    return things.map((x) => `${String(x)}\n${inspect(x, { depth: Infinity, showHidden: true })}\n${JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`).join('\n')
  }

  test('no error, log line or inspect output of a Connection or Cluster contains the password or token', async (t) => {
    const logs: string[] = []
    const log = (level: string, message: string, extra?: Record<string, unknown>): void => {
      logs.push(`${level} ${message} ${JSON.stringify(extra)}`)
    }
    const seen: unknown[] = []
    const configs: SaslOptions[] = [
      { mechanism: 'PLAIN', username: 'alice', password },
      { mechanism: 'SCRAM-SHA-256', username: 'alice', password },
      { mechanism: 'SCRAM-SHA-512', username: 'alice', password },
      { mechanism: 'OAUTHBEARER', token: () => ({ value: token }) },
    ]
    // Wrong credentials, refused ones, a bad server signature, an unreachable broker, a timeout.
    const { broker } = await saslBroker(t, { oauth: () => '{"status":"invalid_token"}' })
    const { broker: badSig } = await saslBroker(t, { users: { alice: password }, scram: { badServerSignature: true } })
    const { broker: silent } = await saslBroker(t)
    silent.on(saslHandshake, () => null)
    const down = await mockBroker(t)
    await down.stop()
    for (const sasl of configs) {
      for (const [b, extra] of [[broker, {}], [badSig, {}], [silent, { connectTimeoutMs: 200 }], [down, {}]] as const) {
        const conn = connectionTo(t, b, { sasl, log, ...extra })
        seen.push(conn)
        const outcome = await settlesWithin(5000, conn.connect(), `connect with ${sasl.mechanism}`)
        seen.push(outcome, conn, conn.closeError)
        conn.destroy()
      }
      const cluster = new Cluster({ brokers: [broker.address], sasl, log, defaultTimeoutMs: 500, retryBackoff: { initialMs: 10, maxMs: 20 } })
      t.after(() => cluster.destroy())
      seen.push(cluster, await rejection(cluster.connect(), `cluster connect with ${sasl.mechanism}`))
    }
    const failures = seen.flatMap((x) => ((x as PromiseSettledResult<unknown>)?.status === 'rejected' ? [(x as PromiseRejectedResult).reason] : x instanceof Error ? [x] : []))
    assert.ok(failures.filter((x) => x instanceof AuthenticationError).length >= 8, 'the scenarios produce authentication failures')
    assert.ok(failures.some((x) => x instanceof ConnectionError), 'and connection failures')
    const text = printed(...seen) + logs.join('\n')
    assert.ok(text.length > 1000)
    assert.equal(text.includes(password), false, 'the password leaked')
    assert.equal(text.includes(token), false, 'the token leaked')
    assert.equal(text.includes('SECRET'), false)
  })
})

describe('requests sent while connecting', () => {
  test('wait for the SASL exchange to finish instead of reaching the broker unauthenticated', async (t) => {
    const { broker, server } = await saslBroker(t)
    const conn = connectionTo(t, broker, { sasl: { mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'alice-secret' } })
    const states: string[] = []
    const connecting = conn.connect()
    // One request per setup state the connection passes through.
    const early: Array<Promise<unknown>> = []
    while (conn.state !== 'ready' && conn.state !== 'closed') {
      if (!states.includes(conn.state)) {
        states.push(conn.state)
        early.push(conn.send(metadata, { topics: [] }))
      }
      await new Promise((r) => setImmediate(r))
    }
    await connecting
    assert.ok(states.includes('authenticating'), `states seen: ${states.join(', ')}`)
    const results = await Promise.all(early)
    assert.equal(results.length, states.length)
    assert.deepEqual(server.violations, [])
    assert.equal(conn.state, 'ready')
  })

  test('fail with the connect error when connecting fails', async (t) => {
    const { broker } = await saslBroker(t)
    const conn = connectionTo(t, broker, { sasl: { mechanism: 'PLAIN', username: 'alice', password: 'wrong' } })
    const connecting = conn.connect()
    const early = conn.send(metadata, { topics: [] })
    const err = await rejection(early, 'a request sent while connecting')
    assert.ok(err instanceof AuthenticationError)
    assert.equal(await rejection(connecting, 'connect'), err)
  })
})

describe('re-authentication (KIP-368)', () => {
  test('a session is re-authenticated before its lifetime runs out while requests keep flowing', async (t) => {
    const { broker, server } = await saslBroker(t, { sessionLifetimeMs: 1000 })
    broker.on(metadata, (req) => ({ brokers: [], topics: [{ errorCode: 0, name: req.body.topics[0].name, partitions: [] }] }))
    const conn = connectionTo(t, broker, { sasl: { mechanism: 'SCRAM-SHA-512', username: 'alice', password: 'alice-secret' } })
    await conn.connect()
    const results: Array<Promise<void>> = []
    const started = Date.now()
    let i = 0
    // About 2.4 lifetimes of steady traffic, a few requests in flight at a time.
    while (Date.now() - started < 2400) {
      for (let k = 0; k < 3; k++) {
        const name = `t-${i++}`
        results.push(conn.send(metadata, { topics: [{ name }] }).then((res) => assert.equal(res.topics[0]!.name, name)))
      }
      await sleep(5)
    }
    const settled = await settlesWithin(10_000, Promise.allSettled(results), 'the requests')
    const outcomes = (settled as PromiseFulfilledResult<PromiseSettledResult<void>[]>).value
    const failed = outcomes.filter((o) => o.status === 'rejected')
    assert.deepEqual(failed, [], 'no request fails across re-authentications')
    assert.ok(outcomes.length > 100, `${outcomes.length} requests`)
    assert.deepEqual(server.violations, [], 'no request reached the broker unauthenticated or after its session expired')
    assert.equal(broker.connections.length, 1, 'all on one connection')
    const reauths = server.authentications.filter((a) => a.reauth)
    assert.ok(reauths.length >= 2, `${reauths.length} re-authentications`)
    assert.equal(conn.state, 'ready')
  })

  test('requests sent while re-authenticating are held, then sent once it succeeds', async (t) => {
    const { broker, server } = await saslBroker(t, { sessionLifetimeMs: 300 })
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    broker.on(saslHandshake, async (req) => {
      if (req.connection.state.sasl === 'authenticated') await gate
      return server.handshake(req)
    })
    const conn = connectionTo(t, broker, { sasl: { mechanism: 'PLAIN', username: 'alice', password: 'alice-secret' } })
    await conn.connect()
    await eventually(() => conn.state === 'reauthenticating', 'the re-authentication starting')
    const held = conn.send(metadata, { topics: [] })
    await sleep(50)
    assert.equal(broker.requestsOf(metadata).length, 0, 'held while re-authenticating')
    release()
    const res = await settlesWithin(3000, held, 'the held request')
    assert.equal(res.status, 'fulfilled')
    assert.deepEqual(server.violations, [])
  })

  test('close() during a re-authentication waits for it and for the held requests, then closes', async (t) => {
    const { broker, server } = await saslBroker(t, { sessionLifetimeMs: 300 })
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    broker.on(saslHandshake, async (req) => {
      if (req.connection.state.sasl === 'authenticated') await gate
      return server.handshake(req)
    })
    const conn = connectionTo(t, broker, { sasl: { mechanism: 'PLAIN', username: 'alice', password: 'alice-secret' } })
    await conn.connect()
    await eventually(() => conn.state === 'reauthenticating', 'the re-authentication starting')
    const held = conn.send(metadata, { topics: [] })
    const closing = conn.close()
    release()
    const res = await settlesWithin(3000, held, 'the held request')
    assert.equal(res.status, 'fulfilled', `held request: ${String((res as PromiseRejectedResult).reason)}`)
    await settlesWithin(3000, closing, 'close()')
    assert.equal(conn.state, 'closed')
    assert.deepEqual(server.violations, [])
  })

  test('a request without a response held during re-authentication fails when the connection is lost', async (t) => {
    const { broker, server } = await saslBroker(t, { sessionLifetimeMs: 300 })
    broker.on(saslHandshake, (req) => (req.connection.state.sasl === 'authenticated' ? null : server.handshake(req)))
    const conn = connectionTo(t, broker, { sasl: { mechanism: 'PLAIN', username: 'alice', password: 'alice-secret' } })
    await conn.connect()
    await eventually(() => conn.state === 'reauthenticating', 'the re-authentication starting')
    const fireAndForget = conn.send(produce, { acks: 0, timeoutMs: 1000, topicData: [] }, { expectResponse: false })
    broker.connections[0]!.destroy()
    const err = await rejection(fireAndForget, 'an acks=0 request that was never written')
    assert.ok(err instanceof ConnectionError, `${err.name}: ${err.message}`)
    assert.equal(broker.requestsOf(produce).length, 0)
  })

  test('a failed re-authentication closes the connection with AuthenticationError and fails held requests', async (t) => {
    let allowed = true
    const { broker } = await saslBroker(t, { sessionLifetimeMs: 300, oauth: (m) => (m.includes('revoked') ? '{"status":"invalid_token"}' : null) })
    const conn = connectionTo(t, broker, { sasl: { mechanism: 'OAUTHBEARER', token: () => ({ value: allowed ? 'good' : 'revoked' }) } })
    await conn.connect()
    allowed = false
    await settlesWithin(3000, conn.closed, 'the connection closing')
    assert.ok(conn.closeError instanceof AuthenticationError, String(conn.closeError))
    const err = await rejection(conn.send(metadata, { topics: [] }), 'a request on the closed connection')
    assert.ok(err instanceof AuthenticationError)
  })
})
