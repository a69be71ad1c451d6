import assert from 'node:assert/strict'
import { createServer, type Socket } from 'node:net'
import { describe, test, type TestContext } from 'node:test'
import fc from 'fast-check'
import { AbortError, ClosedError, ConnectionError, RequestTimeoutError } from '../../src/client/errors.js'
import { encodeResponse } from '../../src/protocol/api.js'
import { ProtocolError } from '../../src/protocol/errors.js'
import { metadata } from '../../src/protocol/messages/metadata.js'
import { produce } from '../../src/protocol/messages/produce.js'
import { structArbitrary, normalize } from '../support/arbitrary.js'
import { connectionTo, eventually, mockBroker, rejection, settlesWithin, sleep } from '../support/client.js'
import { MockBroker, reply, type MockRequest } from '../support/mock-broker.js'

/** A server that accepts TCP connections and never says anything. */
async function silentServer(t: TestContext): Promise<MockBroker> {
  const sockets: Socket[] = []
  const server = createServer((s) => sockets.push(s))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  t.after(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  return { host: '127.0.0.1', port: (server.address() as { port: number }).port } as MockBroker
}

/** A Metadata answer that names the topic the request asked for, so each response is tied to its request. */
function echoTopic(req: MockRequest): object {
  const name = (req.body.topics as Array<{ name: string }>)[0]!.name
  return { brokers: [], topics: [{ errorCode: 0, name, partitions: [] }] }
}

const ask = (name: string) => ({ topics: [{ name }] })
const topicOf = (res: { topics: Array<{ name: string | null }> }): string | null => res.topics[0]!.name

describe('framing', () => {
  test('a response split at arbitrary points, down to single bytes, decodes to what the broker sent', async (t) => {
    const broker = await mockBroker(t)
    let body: Record<string, unknown> = {}
    let chunks: number[] = []
    broker.on(metadata, () => reply({ body, chunks }))
    const probe = connectionTo(t, broker, { inMemory: true })
    await probe.connect()
    const version = probe.pickVersion(metadata)
    probe.destroy()

    await fc.assert(
      fc.asyncProperty(
        structArbitrary(metadata.response, version),
        fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 60 }),
        async (b, sizes) => {
          body = b
          chunks = sizes
          const conn = connectionTo(t, broker, { inMemory: true })
          await conn.connect()
          const res = await conn.send(metadata, { topics: [] })
          assert.deepStrictEqual(res, normalize(metadata.response, version, b))
          conn.destroy()
        },
      ),
      { numRuns: 60 },
    )
    assert.deepEqual(broker.errors, [])
  })

  test('a response delivered one byte per read decodes', async (t) => {
    const broker = await mockBroker(t)
    broker.on(metadata, (req) => reply({ body: echoTopic(req), chunks: 'bytes' }))
    const conn = connectionTo(t, broker, { inMemory: true })
    await conn.connect()
    const res = await conn.send(metadata, ask('one-byte-at-a-time'))
    assert.equal(topicOf(res), 'one-byte-at-a-time')
    assert.equal(conn.state, 'ready')
  })

  test('several responses in one read, cut at arbitrary points across frame boundaries, each reach their request', async (t) => {
    const broker = await mockBroker(t)
    let sizes: number[] = []
    // The first two answers are held back and sent glued to the third, then re-cut.
    broker.on(metadata, (req) => {
      const reqs = req.connection.requests.filter((r) => r.apiKey === metadata.apiKey)
      if (reqs.length < 3) return null
      const raw = Buffer.concat(reqs.map((r) => encodeResponse(r.apiKey, r.apiVersion, r.correlationId, echoTopic(r))))
      return reply({ raw, chunks: sizes })
    })
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 40 }), async (s) => {
        sizes = s
        const conn = connectionTo(t, broker, { inMemory: true })
        await conn.connect()
        const res = await Promise.all(['a', 'b', 'c'].map((n) => conn.send(metadata, ask(n))))
        assert.deepEqual(res.map(topicOf), ['a', 'b', 'c'])
        conn.destroy()
      }),
      { numRuns: 40 },
    )
  })
})

describe('pipelining', () => {
  test('1000 requests in flight on one connection are each matched to their own response', async (t) => {
    const broker = await mockBroker(t)
    const n = 1000
    let arrived!: () => void
    const allArrived = new Promise<void>((r) => (arrived = r))
    // Nothing is answered until every request has arrived: only a pipelining client gets through.
    broker.on(metadata, async (req) => {
      if (broker.requestsOf(metadata).length === n) arrived()
      await allArrived
      return echoTopic(req)
    })
    const conn = connectionTo(t, broker)
    await conn.connect()
    const sent = Array.from({ length: n }, (_, i) => conn.send(metadata, ask(`topic-${i}`)))
    assert.equal(conn.inFlightCount, n)
    const r = await settlesWithin(20_000, Promise.all(sent), '1000 pipelined requests')
    assert.equal(r.status, 'fulfilled')
    const names = (r as PromiseFulfilledResult<Array<{ topics: Array<{ name: string | null }> }>>).value.map(topicOf)
    assert.deepEqual(names, Array.from({ length: n }, (_, i) => `topic-${i}`))
    assert.equal(broker.connections.length, 1)
    assert.equal(conn.inFlightCount, 0)
  })

  test('a response with the wrong correlation id closes the connection and fails every request in flight with a ProtocolError', async (t) => {
    const broker = await mockBroker(t)
    broker.on(metadata, (req) => (topicOf(req.body) === 'first' ? reply({ body: echoTopic(req), correlationId: req.correlationId + 1000 }) : null))
    const conn = connectionTo(t, broker)
    await conn.connect()
    const sent = ['first', 'second', 'third'].map((n) => conn.send(metadata, ask(n)))
    const errors = await Promise.all(sent.map((p, i) => rejection(p, `request ${i}`)))
    for (const err of errors) {
      assert.ok(err instanceof ProtocolError, `${err.name}: ${err.message}`)
      assert.equal(err.retriable, false)
      assert.match(err.message, /correlation id \d+ does not match/)
    }
    assert.equal(conn.state, 'closed')
    assert.ok(conn.closeError instanceof ProtocolError)
    await settlesWithin(2000, broker.connections[0]!.whenClosed(), 'the broker seeing the connection close')
  })

  test('responses sent out of order are detected as a desynchronised stream, never delivered to the wrong request', async (t) => {
    const broker = await mockBroker(t)
    broker.on(metadata, (req) => (topicOf(req.body) === 'slow' ? reply({ body: echoTopic(req), delayMs: 100 }) : reply({ body: echoTopic(req), immediate: true })))
    const conn = connectionTo(t, broker)
    await conn.connect()
    const slow = conn.send(metadata, ask('slow'))
    const fast = conn.send(metadata, ask('fast'))
    for (const p of [slow, fast]) {
      const err = await rejection(p, 'a request answered out of order')
      assert.ok(err instanceof ProtocolError)
      assert.match(err.message, /correlation id/)
    }
    assert.equal(conn.state, 'closed')
  })

  test('a response nobody asked for closes the connection', async (t) => {
    const broker = await mockBroker(t)
    const conn = connectionTo(t, broker)
    await conn.connect()
    broker.connections[0]!.writeRaw(encodeResponse(metadata.apiKey, 1, 77, { brokers: [], topics: [] }))
    await eventually(() => conn.state === 'closed', 'the connection closing')
    assert.ok(conn.closeError instanceof ProtocolError)
    assert.match(conn.closeError.message, /no request in flight/)
  })
})

describe('response size', () => {
  test('a size prefix over maxResponseBytes is refused from the prefix alone, without allocating the frame', async (t) => {
    const broker = await mockBroker(t)
    const prefix = Buffer.alloc(4)
    prefix.writeInt32BE(0x40000000) // 1 GiB, and not one byte of it follows
    broker.on(metadata, (req) => (topicOf(req.body) === 'huge' ? reply({ raw: prefix }) : null))
    const conn = connectionTo(t, broker, { maxResponseBytes: 1 << 20 })
    await conn.connect()
    const allocations: number[] = []
    const { allocUnsafe, allocUnsafeSlow, alloc } = Buffer
    Buffer.allocUnsafe = (n: number) => (allocations.push(n), allocUnsafe(n))
    Buffer.allocUnsafeSlow = (n: number) => (allocations.push(n), allocUnsafeSlow(n))
    Buffer.alloc = ((n: number, ...rest: unknown[]) => (allocations.push(n), (alloc as (...a: unknown[]) => Buffer)(n, ...rest))) as typeof Buffer.alloc
    let errors: Error[]
    try {
      const sent = [conn.send(metadata, ask('huge')), conn.send(metadata, ask('behind it'))]
      errors = await Promise.all(sent.map((p) => rejection(p, 'a request on a connection refusing a huge response')))
    } finally {
      Buffer.allocUnsafe = allocUnsafe
      Buffer.allocUnsafeSlow = allocUnsafeSlow
      Buffer.alloc = alloc
    }
    for (const err of errors) {
      assert.ok(err instanceof ProtocolError)
      assert.equal((err as ProtocolError).code, 'PROTOCOL_INVALID_LENGTH')
      assert.match(err.message, /1073741824 bytes exceeds the 1048576-byte limit \(maxResponseBytes\)/)
    }
    assert.ok(allocations.every((n) => n < 1 << 20), `allocated ${Math.max(...allocations)} bytes`)
    assert.equal(conn.state, 'closed')
  })

  test('a TLS alert where a size prefix should be says the listener speaks TLS', async (t) => {
    const broker = await mockBroker(t)
    broker.on(18, () => reply({ raw: Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32]) }))
    const conn = connectionTo(t, broker)
    const err = await rejection(conn.connect(), 'a plaintext connect to a TLS listener')
    assert.ok(err instanceof ProtocolError)
    assert.match(err.message, /the broker answered with TLS: is this an SSL listener\? \(set the tls option\)/)
  })

  test('a negative size prefix is refused', async (t) => {
    const broker = await mockBroker(t)
    const raw = Buffer.alloc(8)
    raw.writeInt32BE(-5)
    broker.on(metadata, () => reply({ raw }))
    const conn = connectionTo(t, broker)
    await conn.connect()
    const err = await rejection(conn.send(metadata, ask('x')), 'a request answered with a negative size')
    assert.ok(err instanceof ProtocolError)
    assert.match(err.message, /invalid response size -5/)
  })

  test('a connection cut in the middle of a response fails the request with a retriable ConnectionError', async (t) => {
    const broker = await mockBroker(t)
    broker.on(metadata, (req) => reply({ body: echoTopic(req), closeAfterBytes: 9 }))
    const conn = connectionTo(t, broker)
    await conn.connect()
    const err = await rejection(conn.send(metadata, ask('cut')), 'a request whose response was cut')
    assert.ok(err instanceof ConnectionError, `${err.name}: ${err.message}`)
    assert.equal((err as ConnectionError).retriable, true)
    assert.match(err.message, /closed by the broker/)
    assert.equal(conn.state, 'closed')
  })
})

describe('timeouts', () => {
  test('a request past its timeout fails with RequestTimeoutError and closes the connection; the others fail retriably', async (t) => {
    const broker = await mockBroker(t)
    broker.on(metadata, () => null) // never answers
    const conn = connectionTo(t, broker)
    await conn.connect()
    const timed = conn.send(metadata, ask('short'), { timeoutMs: 200 })
    const other = conn.send(metadata, ask('long'), { timeoutMs: 60_000 })
    const err = await rejection(timed, 'the request with a 200 ms timeout')
    assert.ok(err instanceof RequestTimeoutError)
    assert.equal(err.retriable, true)
    assert.match(err.message, /Metadata v\d+ to 127\.0\.0\.1:\d+ timed out/)
    const otherErr = await rejection(other, 'the request behind it')
    assert.ok(otherErr instanceof ConnectionError)
    assert.equal(otherErr.retriable, true)
    assert.match(otherErr.message, /closed after a request timed out/)
    assert.equal(conn.state, 'closed')
    await settlesWithin(2000, broker.connections[0]!.whenClosed(), 'the broker seeing the connection close')
  })

  test('connecting to a broker that accepts TCP but never answers ApiVersions fails within connectTimeoutMs', async (t) => {
    const broker = await mockBroker(t)
    broker.on(18, () => null)
    const conn = connectionTo(t, broker, { connectTimeoutMs: 300 })
    const err = await rejection(conn.connect(), 'connect', 5000)
    assert.ok(err instanceof ConnectionError || err instanceof RequestTimeoutError, `${err.name}: ${err.message}`)
    assert.equal(conn.state, 'closed')
  })

  test('a TLS handshake that never completes fails within connectTimeoutMs instead of hanging', async (t) => {
    const silent = await silentServer(t)
    const conn = connectionTo(t, silent, { tls: true, connectTimeoutMs: 300 })
    const err = await rejection(conn.connect(), 'a TLS connect to a silent server', 5000)
    assert.ok(err instanceof ConnectionError, `${err.name}: ${err.message}`)
    assert.match(err.message, /timed out after 300 ms \(state connecting\)/)
    assert.equal(conn.state, 'closed')
  })

  test('a refused TCP connection fails with a retriable ConnectionError naming the address', async (t) => {
    const broker = await mockBroker(t)
    await broker.stop()
    const conn = connectionTo(t, broker)
    const err = await rejection(conn.connect(), 'connect to a closed port')
    assert.ok(err instanceof ConnectionError)
    assert.equal(err.retriable, true)
    assert.ok(err.message.includes(broker.address), err.message)
  })
})

describe('cancellation', () => {
  test('aborting a connect that is still in the TLS handshake rejects with the abort reason at once', async (t) => {
    const silent = await silentServer(t)
    const conn = connectionTo(t, silent, { tls: true, connectTimeoutMs: 60_000 })
    const ac = new AbortController()
    const connecting = conn.connect(ac.signal)
    await sleep(50)
    ac.abort()
    const err = await rejection(connecting, 'an aborted connect', 2000)
    assert.ok(err instanceof AbortError, `${err.name}: ${err.message}`)
    assert.equal(conn.state, 'closed')
  })

  test('a signal aborted before sending rejects at once and nothing is written', async (t) => {
    const broker = await mockBroker(t)
    broker.on(metadata, echoTopic)
    const conn = connectionTo(t, broker)
    await conn.connect()
    const ac = new AbortController()
    ac.abort()
    const err = await rejection(conn.send(metadata, ask('never'), { signal: ac.signal }), 'an aborted request')
    assert.ok(err instanceof AbortError)
    assert.equal(err.retriable, false)
    const after = await conn.send(metadata, ask('next'))
    assert.equal(topicOf(after), 'next')
    assert.deepEqual(broker.requestsOf(metadata).map((r) => topicOf(r.body)), ['next'])
  })

  test('a signal aborted after sending rejects at once; the late response is dropped and the connection stays usable', async (t) => {
    const broker = await mockBroker(t)
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    // The broker holds the first answer until the test lets it go, after the abort.
    broker.on(metadata, async (req) => {
      if (topicOf(req.body) === 'slow') await gate
      return echoTopic(req)
    })
    const conn = connectionTo(t, broker)
    await conn.connect()
    const ac = new AbortController()
    const slow = conn.send(metadata, ask('slow'), { signal: ac.signal })
    const behind = conn.send(metadata, ask('behind'))
    await eventually(() => broker.requestsOf(metadata).length === 2, 'both requests reaching the broker')
    ac.abort()
    const err = await rejection(slow, 'the aborted request')
    assert.ok(err instanceof AbortError)
    assert.equal(conn.inFlightCount, 2, 'its response is still awaited, to be dropped')
    release()
    assert.equal(topicOf(await behind), 'behind')
    assert.equal(conn.state, 'ready')
    assert.equal(topicOf(await conn.send(metadata, ask('afterwards'))), 'afterwards')
    assert.equal(broker.connections.length, 1)
  })

  test('a request waiting for the connection to be set up can be aborted', async (t) => {
    const silent = await silentServer(t)
    const conn = connectionTo(t, silent, { connectTimeoutMs: 60_000 })
    const connecting = conn.connect()
    connecting.catch(() => undefined)
    await eventually(() => conn.state === 'negotiating', 'negotiation starting')
    const ac = new AbortController()
    const waiting = conn.send(metadata, ask('x'), { signal: ac.signal })
    ac.abort()
    const err = await rejection(waiting, 'an aborted request', 2000)
    assert.ok(err instanceof AbortError)
    assert.equal(conn.state, 'negotiating', 'the connection itself is not affected')
  })

  test('the abort reason is kept when it is a kafkawire error', async (t) => {
    const broker = await mockBroker(t)
    broker.on(metadata, (req) => reply({ body: echoTopic(req), delayMs: 100 }))
    const conn = connectionTo(t, broker)
    await conn.connect()
    const reason = new ClosedError('the consumer is shutting down')
    const p = conn.send(metadata, ask('x'), { signal: AbortSignal.abort(reason) })
    assert.equal(await rejection(p, 'aborted'), reason)
  })
})

describe('requests without a response', () => {
  test('expectResponse: false resolves once written, and the next response goes to the next request', async (t) => {
    const broker = await mockBroker(t)
    broker.on(produce, () => null) // acks=0: the broker does not answer
    broker.on(metadata, echoTopic)
    const conn = connectionTo(t, broker)
    await conn.connect()
    const written = await settlesWithin(2000, conn.send(produce, { acks: 0, timeoutMs: 1000, topicData: [] }, { expectResponse: false }), 'an acks=0 produce')
    assert.deepEqual(written, { status: 'fulfilled', value: undefined })
    assert.equal(conn.inFlightCount, 0)
    assert.equal(topicOf(await conn.send(metadata, ask('after'))), 'after')
    await eventually(() => broker.requestsOf(produce).length === 1, 'the broker receiving the produce')
    assert.equal(broker.requestsOf(produce)[0]!.body.acks, 0)
  })

  test('expectResponse: false on a closed connection rejects', async (t) => {
    const broker = await mockBroker(t)
    const conn = connectionTo(t, broker)
    await conn.connect()
    conn.destroy()
    const err = await rejection(conn.send(produce, { acks: 0, timeoutMs: 1000, topicData: [] }, { expectResponse: false }), 'acks=0 on a closed connection')
    assert.ok(err instanceof ClosedError)
  })
})

describe('closing', () => {
  test('close() lets requests in flight complete, refuses new ones, then closes', async (t) => {
    const broker = await mockBroker(t)
    broker.on(metadata, (req) => reply({ body: echoTopic(req), delayMs: 100 }))
    const conn = connectionTo(t, broker)
    await conn.connect()
    const events: string[] = []
    const sent = ['a', 'b', 'c'].map((n) => conn.send(metadata, ask(n)).then((r) => (events.push(`response ${topicOf(r)}`), r)))
    const closing = conn.close().then(() => events.push('closed'))
    assert.equal(conn.state, 'draining')
    const refused = await rejection(conn.send(metadata, ask('late')), 'a request after close()')
    assert.ok(refused instanceof ClosedError)
    assert.match(refused.message, /draining/)
    await settlesWithin(5000, closing, 'close()')
    assert.deepEqual(events, ['response a', 'response b', 'response c', 'closed'])
    assert.equal(conn.state, 'closed')
    assert.equal(conn.closeError, null)
    await Promise.all(sent)
    await settlesWithin(2000, broker.connections[0]!.whenClosed(), 'the broker seeing the connection close')
  })

  test('destroy() fails every request in flight at once', async (t) => {
    const broker = await mockBroker(t)
    broker.on(metadata, () => null)
    const conn = connectionTo(t, broker)
    await conn.connect()
    const sent = ['a', 'b'].map((n) => conn.send(metadata, ask(n)))
    conn.destroy()
    for (const p of sent) {
      const err = await rejection(p, 'a request on a destroyed connection', 2000)
      assert.ok(err instanceof ClosedError)
      assert.match(err.message, /destroyed/)
    }
    assert.equal(conn.state, 'closed')
    assert.equal(conn.inFlightCount, 0)
  })

  test('an idle connection closes itself after idleTimeoutMs', async (t) => {
    const broker = await mockBroker(t)
    broker.on(metadata, echoTopic)
    const conn = connectionTo(t, broker, { idleTimeoutMs: 200 })
    await conn.connect()
    assert.equal(topicOf(await conn.send(metadata, ask('x'))), 'x')
    await settlesWithin(5000, conn.closed, 'the idle close')
    assert.equal(conn.state, 'closed')
    assert.equal(conn.closeError, null)
    await settlesWithin(2000, broker.connections[0]!.whenClosed(), 'the broker seeing the connection close')
  })

  test('a connection waiting for a slow response is not idle', async (t) => {
    const broker = await mockBroker(t)
    broker.on(metadata, (req) => reply({ body: echoTopic(req), delayMs: 1500 }))
    const conn = connectionTo(t, broker, { idleTimeoutMs: 200 })
    await conn.connect()
    assert.equal(topicOf(await conn.send(metadata, ask('slow'))), 'slow')
    assert.notEqual(conn.state, 'closed')
  })

  test('the state machine goes idle → connecting → negotiating → ready → draining → closed', async (t) => {
    const broker = await mockBroker(t)
    const states: string[] = []
    const conn = connectionTo(t, broker, {
      log: (_level, message) => {
        const m = /^connection (\w+) -> (\w+)$/.exec(message)
        if (m) states.push(m[2]!)
      },
    })
    assert.equal(conn.state, 'idle')
    await conn.connect()
    await conn.close()
    assert.deepEqual(states, ['connecting', 'negotiating', 'ready', 'draining', 'closed'])
  })
})

describe('MockBroker', () => {
  test('answers ApiVersions with the codec ranges and records requests', async (t) => {
    const broker = await MockBroker.start()
    t.after(() => broker.close())
    const conn = connectionTo(t, broker, { clientSoftwareName: 'kafkawire-spec', clientSoftwareVersion: '1.2.3' })
    await conn.connect()
    const [av] = broker.requestsOf(18)
    assert.equal(av!.apiVersion, 4)
    assert.equal(av!.body.clientSoftwareName, 'kafkawire-spec')
    assert.equal(av!.body.clientSoftwareVersion, '1.2.3')
    assert.equal(av!.clientId, 'kafkawire-test')
    assert.deepEqual(conn.versions.get(metadata.apiKey), { minVersion: metadata.minVersion, maxVersion: metadata.maxVersion })
  })
})
