// Proves the broker tooling: the advertised listeners exist, speak Kafka, and the TLS material is right.
// Needs KAFKA_BROKERS; the SASL/SSL checks run only on a cluster the orchestrator started (KAFKAWIRE_MANAGED=1).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { connect as tcpConnect, type Socket } from 'node:net'
import { test } from 'node:test'
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls'
import { describeTarget, requires } from './support/target.js'

const env = process.env
const TIMEOUT_MS = 10_000

interface Address {
  host: string
  port: number
}

function addresses(list: string | undefined): Address[] {
  return (list ?? '').split(',').filter(Boolean).map((a) => {
    const i = a.lastIndexOf(':')
    return { host: a.slice(0, i), port: Number(a.slice(i + 1)) }
  })
}

function first(list: string | undefined, what: string): Address {
  const [a] = addresses(list)
  assert.ok(a, `${what} is not set`)
  return a
}

/** ApiVersions v0, the one request every broker must answer before anything else (even before SASL). */
function apiVersionsV0(correlationId: number): Buffer {
  const b = Buffer.alloc(14)
  b.writeInt32BE(10, 0) // size of what follows
  b.writeInt16BE(18, 4) // api key: ApiVersions
  b.writeInt16BE(0, 6) // api version
  b.writeInt32BE(correlationId, 8)
  b.writeInt16BE(-1, 12) // client id: null
  return b
}

function readFrame(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0)
    const onData = (chunk: Buffer): void => {
      data = Buffer.concat([data, chunk])
      if (data.length >= 4 && data.length >= 4 + data.readInt32BE(0)) {
        socket.off('data', onData)
        resolve(data.subarray(4, 4 + data.readInt32BE(0)))
      }
    }
    socket.on('data', onData)
    socket.once('error', reject)
    socket.once('close', () => reject(new Error('connection closed before a full response')))
  })
}

/** Sends ApiVersions v0 and checks the answer; closes the socket only after a full exchange. */
async function assertSpeaksKafka(socket: Socket): Promise<void> {
  const response = readFrame(socket)
  socket.write(apiVersionsV0(7))
  const frame = await response
  assert.equal(frame.readInt32BE(0), 7, 'correlation id echoed')
  assert.equal(frame.readInt16BE(4), 0, 'ApiVersions error code')
  assert.ok(frame.readInt32BE(6) > 10, 'the broker lists its APIs')
  socket.end()
}

function withTimeout<T extends Socket>(socket: T, ready: string): Promise<T> {
  return new Promise((resolve, reject) => {
    socket.setTimeout(TIMEOUT_MS, () => {
      socket.destroy()
      reject(new Error(`no ${ready} within ${TIMEOUT_MS} ms`))
    })
    socket.once('error', reject)
    socket.once(ready, () => {
      socket.setTimeout(0)
      resolve(socket)
    })
  })
}

const tcp = (a: Address): Promise<Socket> => withTimeout(tcpConnect(a), 'connect')
const tls = (a: Address, opts: ConnectionOptions): Promise<TLSSocket> =>
  withTimeout(tlsConnect({ host: a.host, port: a.port, ...opts }), 'secureConnect')

test('every address in KAFKA_BROKERS accepts TCP and answers ApiVersions', { skip: !env.KAFKA_BROKERS && 'KAFKA_BROKERS not set' }, async () => {
  for (const a of addresses(env.KAFKA_BROKERS)) await assertSpeaksKafka(await tcp(a))
})

test('a managed cluster listens on 127.0.0.1', requires('managed'), () => {
  for (const list of [env.KAFKA_BROKERS, env.KAFKA_SASL_BROKERS, env.KAFKA_SSL_BROKERS, env.KAFKA_SASL_SSL_BROKERS]) {
    for (const a of addresses(list)) assert.equal(a.host, '127.0.0.1')
  }
})

test('SASL_PLAINTEXT port answers ApiVersions before authentication', requires('managed', 'sasl'), async () => {
  await assertSpeaksKafka(await tcp(first(env.KAFKA_SASL_BROKERS, 'KAFKA_SASL_BROKERS')))
})

for (const [label, list, feature] of [['SSL', 'KAFKA_SSL_BROKERS', 'tls'], ['SASL_SSL', 'KAFKA_SASL_SSL_BROKERS', 'sasl-ssl']] as const) {
  test(`${label} port: TLS with KAFKA_CA is authorized, for 127.0.0.1 and localhost`, requires('managed', feature), async () => {
    const a = first(env[list], list)
    assert.ok(env.KAFKA_CA, 'KAFKA_CA is not set')
    const ca = readFileSync(env.KAFKA_CA)
    for (const servername of [undefined, 'localhost']) {
      const socket = await tls(a, servername ? { ca, servername } : { ca })
      assert.equal(socket.authorized, true, String(socket.authorizationError))
      await assertSpeaksKafka(socket)
    }
  })
}

test('SSL port: a client that does not trust the CA refuses the broker', requires('managed', 'tls'), async () => {
  const a = first(env.KAFKA_SSL_BROKERS, 'KAFKA_SSL_BROKERS')
  await assert.rejects(tls(a, {}), (e: NodeJS.ErrnoException) => {
    assert.match(String(e.code), /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_VERIFY_LEAF_SIGNATURE/)
    return true
  })
})

test('SSL port: a host name outside the certificate is refused', requires('managed', 'tls'), async () => {
  const a = first(env.KAFKA_SSL_BROKERS, 'KAFKA_SSL_BROKERS')
  assert.ok(env.KAFKA_CA, 'KAFKA_CA is not set')
  await assert.rejects(tls(a, { ca: readFileSync(env.KAFKA_CA), servername: 'broker.invalid' }), (e: NodeJS.ErrnoException) => {
    assert.equal(e.code, 'ERR_TLS_CERT_ALTNAME_INVALID')
    return true
  })
})

test('the cluster under test, as its brokers describe themselves', { skip: !env.KAFKA_BROKERS && 'KAFKA_BROKERS not set' }, (t) => {
  // For the log: what the feature declarations of every other test are decided on.
  t.diagnostic(describeTarget())
})
