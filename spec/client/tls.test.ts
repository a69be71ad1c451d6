import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Cluster } from '../../src/client/cluster.js'
import { AuthenticationError } from '../../src/client/errors.js'
import { metadata } from '../../src/protocol/messages/metadata.js'
import { connectionTo, mockBroker, rejection } from '../support/client.js'
import { makePki } from '../support/tls.js'

describe('TLS', () => {
  const pki = makePki()
  const stranger = makePki('some other CA')

  test('connects when the broker certificate chains to the given CA, and requests work', async (t) => {
    const broker = await mockBroker(t, { tls: pki })
    const conn = connectionTo(t, broker, { tls: { ca: pki.ca } })
    await conn.connect()
    const res = await conn.send(metadata, { topics: [] })
    assert.deepEqual(res.brokers.map((b) => b.port), [broker.port])
  })

  test('the certificate is checked against the host name when connecting by name', async (t) => {
    const broker = await mockBroker(t, { tls: pki })
    const conn = connectionTo(t, broker, { host: 'localhost', tls: { ca: pki.ca } })
    await conn.connect()
    assert.equal(conn.state, 'ready')
  })

  test('a certificate from an untrusted CA is refused with a non-retriable AuthenticationError', async (t) => {
    const broker = await mockBroker(t, { tls: pki })
    const conn = connectionTo(t, broker, { tls: { ca: stranger.ca } })
    const err = await rejection(conn.connect(), 'connect with the wrong CA')
    assert.ok(err instanceof AuthenticationError, `${err.name}: ${err.message}`)
    assert.equal(err.retriable, false)
    assert.match(err.message, /TLS handshake with 127\.0\.0\.1:\d+ failed: .*certificate/)
    assert.equal(broker.requests.length, 0, 'nothing is sent over an unverified connection')
  })

  test('a certificate for another name is refused with AuthenticationError', async (t) => {
    const broker = await mockBroker(t, { tls: pki })
    const conn = connectionTo(t, broker, { tls: { ca: pki.ca, servername: 'wrong.example' } })
    const err = await rejection(conn.connect(), 'connect with the wrong server name')
    assert.ok(err instanceof AuthenticationError, `${err.name}: ${err.message}`)
    assert.match(err.message, /wrong\.example/)
    assert.equal(broker.requests.length, 0)
  })

  test('a cluster whose brokers fail verification fails at once instead of retrying until its deadline', async (t) => {
    const broker = await mockBroker(t, { tls: pki })
    const cluster = new Cluster({ brokers: [broker.address], tls: { ca: stranger.ca }, defaultTimeoutMs: 30_000 })
    t.after(() => cluster.destroy())
    const err = await rejection(cluster.connect(), 'cluster connect with the wrong CA', 3000)
    assert.ok(err instanceof AuthenticationError, `${err.name}: ${err.message}`)
  })
})
