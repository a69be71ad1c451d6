import assert from 'node:assert/strict'
import { connect as tcpConnect } from 'node:net'
import { describe, test, type TestContext } from 'node:test'
import { inspect } from 'node:util'
import { Cluster, type ClusterOptions } from '../../src/client/cluster.js'
import { AuthenticationError, ClosedError, ConnectionError, DeadlineExceededError } from '../../src/client/errors.js'
import { BrokerError, throwIfError } from '../../src/protocol/errors.js'
import { findCoordinator } from '../../src/protocol/messages/find-coordinator.js'
import { heartbeat } from '../../src/protocol/messages/heartbeat.js'
import { metadata } from '../../src/protocol/messages/metadata.js'
import { eventually, rejection, settlesWithin, sleep } from '../support/client.js'
import { MockBroker, reply, type MockRequest } from '../support/mock-broker.js'

async function mockCluster(t: TestContext, n: number): Promise<MockBroker[]> {
  const brokers = await MockBroker.cluster(n)
  t.after(() => Promise.all(brokers.map((b) => b.close())))
  return brokers
}

function clusterOf(t: TestContext, bootstrap: MockBroker[], options: Partial<ClusterOptions> = {}): Cluster {
  const c = new Cluster({
    brokers: bootstrap.map((b) => b.address),
    clientId: 'kafkawire-test',
    retryBackoff: { initialMs: 20, maxMs: 100 },
    reconnectBackoff: { initialMs: 20, maxMs: 100 },
    ...options,
  })
  t.after(() => c.destroy())
  return c
}

const topic = (name: string, leader = 1) => ({ name, partitions: [{ partition: 0, leader }] })

describe('bootstrap and metadata', () => {
  test('connect() loads brokers, cluster id and controller from a bootstrap broker', async (t) => {
    const brokers = await mockCluster(t, 3)
    for (const b of brokers) b.controllerId = 2
    const cluster = clusterOf(t, [brokers[0]!])
    await cluster.connect()
    assert.deepEqual(
      cluster.brokers.map((b) => [b.nodeId, b.port]),
      brokers.map((b) => [b.nodeId, b.port]),
    )
    assert.equal(cluster.clusterId, 'mock-cluster')
    assert.equal(cluster.controllerId, 2)
    assert.deepEqual(brokers[0]!.requestsOf(metadata)[0]!.body.topics, [], 'connect asks for no topics')
  })

  test('concurrent refreshes for topics already being fetched share one Metadata request', async (t) => {
    const [broker] = await mockCluster(t, 1)
    broker!.topics = [topic('orders')]
    const cluster = clusterOf(t, [broker!])
    await cluster.connect()
    broker!.on(metadata, (req) => reply({ body: broker!.metadataResponse(req) as object, delayMs: 100 }))
    const before = broker!.requestsOf(metadata).length
    await Promise.all(Array.from({ length: 10 }, () => cluster.refreshMetadata()))
    assert.equal(broker!.requestsOf(metadata).length - before, 1)
  })

  test('topics asked for while a refresh runs are fetched by one more refresh, and every caller waits for its own topics', async (t) => {
    const [broker] = await mockCluster(t, 1)
    broker!.topics = [topic('a'), topic('b'), topic('c')]
    const cluster = clusterOf(t, [broker!])
    await cluster.connect()
    broker!.on(metadata, (req) => reply({ body: broker!.metadataResponse(req) as object, delayMs: 100 }))
    const before = broker!.requestsOf(metadata).length
    const running = cluster.refreshMetadata()
    const seen = await Promise.all([
      running,
      ...['a', 'b', 'c'].map((name) => cluster.refreshMetadata([name]).then(() => cluster.topic(name)?.name)),
    ])
    assert.deepEqual(seen.slice(1), ['a', 'b', 'c'])
    const requests = broker!.requestsOf(metadata).slice(before)
    assert.equal(requests.length, 2, 'the first refresh, then one for every topic added meanwhile')
    assert.deepEqual(requests[1]!.body.topics.map((x: { name: string }) => x.name).sort(), ['a', 'b', 'c'])
  })

  test('topicsMetadata waits for a leader, refreshing until the partition has one', async (t) => {
    const [broker] = await mockCluster(t, 1)
    broker!.topics = [topic('fresh', -1)]
    setTimeout(() => (broker!.topics = [topic('fresh', 1)]), 150)
    const cluster = clusterOf(t, [broker!])
    await cluster.connect()
    const [info] = await cluster.topicsMetadata(['fresh'], { timeoutMs: 5000 })
    assert.equal(info!.partitions[0]!.leader, 1)
    assert.ok(broker!.requestsOf(metadata).length >= 3)
  })
})

describe('connections to brokers', () => {
  test('reconnecting to a broker that is down backs off exponentially up to the ceiling', async (t) => {
    const brokers = await mockCluster(t, 2)
    const attempts: number[] = []
    const cluster = clusterOf(t, [brokers[0]!], {
      reconnectBackoff: { initialMs: 100, maxMs: 400, jitter: 0 },
      socketFactory: ({ host, port }) => {
        if (port === brokers[1]!.port) attempts.push(Date.now())
        return tcpConnect({ host, port })
      },
    })
    await cluster.connect()
    await brokers[1]!.stop()
    const started = Date.now()
    let failures = 0
    // A caller hammering the broker: each call fails, but sockets are only opened after the backoff.
    while (Date.now() - started < 1300) {
      const err = await rejection(cluster.connectionTo(2), 'connect to a stopped broker')
      assert.ok(err instanceof ConnectionError)
      failures++
    }
    const gaps = attempts.slice(1).map((at, i) => at - attempts[i]!)
    assert.ok(attempts.length >= 3 && attempts.length <= 6, `${attempts.length} attempts in 1.3 s: gaps ${gaps.join(', ')}`)
    gaps.forEach((gap, i) => assert.ok(gap >= 0.9 * Math.min(400, 100 * 2 ** i), `gap ${i} was ${gap} ms`))

    // Back up: the next attempt succeeds and the backoff starts over.
    await brokers[1]!.listen()
    const conn = await settlesWithin(2000, cluster.connectionTo(2), 'reconnect')
    assert.equal(conn.status, 'fulfilled')
    assert.equal((conn as PromiseFulfilledResult<{ port: number }>).value.port, brokers[1]!.port)
  })

  test('every caller waiting on a reconnect shares one connection attempt', async (t) => {
    const brokers = await mockCluster(t, 2)
    const cluster = clusterOf(t, [brokers[0]!])
    await cluster.connect()
    const conns = await Promise.all(Array.from({ length: 20 }, () => cluster.connectionTo(2)))
    assert.equal(new Set(conns).size, 1)
    assert.equal(brokers[1]!.connections.length, 1)
  })

  test('a connection that completes after its broker left the metadata is not leaked past close()', async (t) => {
    const brokers = await mockCluster(t, 2)
    const cluster = clusterOf(t, [brokers[0]!])
    await cluster.connect()
    await cluster.connectionTo(1) // the refresh below goes through it
    // Broker 2 answers ApiVersions slowly; meanwhile the metadata stops listing it.
    brokers[1]!.on(18, (req) => reply({ body: brokers[1]!.apiVersionsResponse(req) as object, delayMs: 300 }))
    const connecting = cluster.connectionTo(2)
    connecting.catch(() => undefined)
    await eventually(() => brokers[1]!.connections.length === 1, 'the connection attempt')
    for (const b of brokers) b.peers = [brokers[0]!]
    await cluster.refreshMetadata()
    assert.deepEqual(cluster.brokers.map((b) => b.nodeId), [1])
    const err = await rejection(connecting, 'the connection to the departed broker', 3000)
    assert.ok(err instanceof ConnectionError && err.retriable, String(err))
    assert.match(err.message, /broker 2 left the cluster metadata while connecting/)
    await cluster.close()
    await settlesWithin(2000, brokers[1]!.connections[0]!.whenClosed(), 'the departed broker seeing its connection closed')
  })

  test('when every known broker is down the client re-bootstraps from the bootstrap list', async (t) => {
    // The bootstrap address is a broker (think load balancer) that the metadata does not list.
    const [bootstrap] = await mockCluster(t, 1)
    const members = await mockCluster(t, 2)
    bootstrap!.peers = members
    for (const m of members) m.peers = members
    const cluster = clusterOf(t, [bootstrap!])
    await cluster.connect()
    await cluster.refreshMetadata()
    const viaMembers = members.reduce((n, m) => n + m.requestsOf(metadata).length, 0)
    assert.equal(viaMembers, 1, 'once the members are known, metadata comes from them')
    const fromBootstrap = bootstrap!.requestsOf(metadata).length

    await Promise.all(members.map((m) => m.stop()))
    const r = await settlesWithin(5000, cluster.refreshMetadata(), 'a refresh with every known broker down')
    assert.equal(r.status, 'fulfilled', String((r as PromiseRejectedResult).reason))
    assert.equal(bootstrap!.requestsOf(metadata).length, fromBootstrap + 1, 'the refresh went to the bootstrap address')
  })

  test('with nothing reachable at all, a refresh fails with DeadlineExceededError naming the last connection error', async (t) => {
    const [broker] = await mockCluster(t, 1)
    const cluster = clusterOf(t, [broker!], { defaultTimeoutMs: 400 })
    await cluster.connect()
    await broker!.stop()
    const err = await rejection(cluster.refreshMetadata(), 'a refresh with nothing up')
    assert.ok(err instanceof DeadlineExceededError, `${err.name}: ${err.message}`)
    assert.match(err.message, /metadata refresh did not succeed before its deadline; last error: .*no broker is reachable/)
    assert.ok(err.cause instanceof ConnectionError)
  })

  test('an authentication failure is not retried until the deadline', async (t) => {
    const [broker] = await mockCluster(t, 1)
    broker!.requireSasl({ mechanisms: ['PLAIN'], users: { alice: 'right' } })
    const cluster = clusterOf(t, [broker!], { sasl: { mechanism: 'PLAIN', username: 'alice', password: 'wrong' }, defaultTimeoutMs: 30_000 })
    const err = await rejection(cluster.connect(), 'connect with a wrong password', 3000)
    assert.ok(err instanceof AuthenticationError)
    assert.equal(broker!.requestsOf(17).length, 1, 'one attempt')
  })
})

describe('coordinators', () => {
  function findCoordinatorAnswers(brokers: MockBroker[], coordinatorIds: number[]): void {
    let calls = 0
    for (const b of brokers) {
      b.on(findCoordinator, (req: MockRequest) => {
        const node = brokers.find((x) => x.nodeId === coordinatorIds[Math.min(calls++, coordinatorIds.length - 1)])!
        return req.apiVersion >= 4
          ? { coordinators: req.body.coordinatorKeys.map((key: string) => ({ key, nodeId: node.nodeId, host: node.host, port: node.port, errorCode: 0 })) }
          : { errorCode: 0, nodeId: node.nodeId, host: node.host, port: node.port }
      })
    }
  }

  test('NOT_COORDINATOR invalidates the cached coordinator; the retry looks it up again and reaches the new one', async (t) => {
    const brokers = await mockCluster(t, 2)
    findCoordinatorAnswers(brokers, [1, 2])
    brokers[0]!.on(heartbeat, () => ({ errorCode: 16 })) // NOT_COORDINATOR
    brokers[1]!.on(heartbeat, () => ({ errorCode: 0 }))
    const cluster = clusterOf(t, [brokers[0]!])
    await cluster.connect()
    const send = () =>
      cluster.sendToCoordinator('group', 'payments', heartbeat, () => ({ groupId: 'payments', generationId: 3, memberId: 'm-1' }), (res) => throwIfError(res.errorCode))
    const res = await send()
    assert.equal(res.errorCode, 0)
    assert.equal(brokers[0]!.requestsOf(heartbeat).length, 1)
    assert.equal(brokers[1]!.requestsOf(heartbeat).length, 1)
    assert.equal(brokers[1]!.requestsOf(heartbeat)[0]!.body.groupId, 'payments')
    const lookups = () => brokers.reduce((n, b) => n + b.requestsOf(findCoordinator).length, 0)
    assert.equal(lookups(), 2)
    // The new coordinator is cached now.
    await send()
    assert.equal(lookups(), 2)
    assert.equal(brokers[1]!.requestsOf(heartbeat).length, 2)
  })

  test('without retries the NOT_COORDINATOR error reaches the caller, and the next call looks the coordinator up again', async (t) => {
    const brokers = await mockCluster(t, 2)
    findCoordinatorAnswers(brokers, [1, 2])
    brokers[0]!.on(heartbeat, () => ({ errorCode: 16 }))
    brokers[1]!.on(heartbeat, () => ({ errorCode: 0 }))
    const cluster = clusterOf(t, [brokers[0]!])
    await cluster.connect()
    const send = () =>
      cluster.sendToCoordinator('group', 'g', heartbeat, () => ({ groupId: 'g', generationId: 1, memberId: 'm' }), (res) => throwIfError(res.errorCode), { retry: false })
    const err = await rejection(send(), 'a heartbeat to the old coordinator')
    assert.ok(err instanceof BrokerError)
    assert.equal(err.code, 'NOT_COORDINATOR')
    assert.equal((await send()).errorCode, 0)
    assert.equal(await cluster.coordinator('group', 'g'), 2)
  })

  test('concurrent lookups of one coordinator share one FindCoordinator request', async (t) => {
    const brokers = await mockCluster(t, 2)
    findCoordinatorAnswers(brokers, [2])
    const cluster = clusterOf(t, [brokers[0]!])
    await cluster.connect()
    const ids = await Promise.all(Array.from({ length: 10 }, () => cluster.coordinator('transaction', 'tx-1')))
    assert.deepEqual(new Set(ids), new Set([2]))
    assert.equal(brokers.reduce((n, b) => n + b.requestsOf(findCoordinator).length, 0), 1)
    const [req] = brokers.flatMap((b) => b.requestsOf(findCoordinator))
    assert.equal(req!.body.keyType, 1)
  })
})

describe('closing', () => {
  test('close() lets requests finish, closes every connection, and later calls fail with ClosedError', async (t) => {
    const brokers = await mockCluster(t, 2)
    brokers[1]!.on(heartbeat, () => reply({ body: { errorCode: 0 }, delayMs: 100 }))
    const cluster = clusterOf(t, [brokers[0]!])
    await cluster.connect()
    await cluster.connectionTo(2)
    const inFlight = cluster.send(2, heartbeat, { groupId: 'g', generationId: 1, memberId: 'm' })
    await sleep(20)
    await cluster.close()
    assert.equal((await inFlight).errorCode, 0)
    assert.equal(cluster.connections.length, 0)
    for (const b of brokers) for (const c of b.connections) await settlesWithin(2000, c.whenClosed(), 'broker-side close')
    const err = await rejection(cluster.refreshMetadata(), 'a refresh after close')
    assert.ok(err instanceof ClosedError)
  })

  test('inspect shows addresses and counts, nothing else', async (t) => {
    const [broker] = await mockCluster(t, 1)
    const cluster = clusterOf(t, [broker!], { sasl: { mechanism: 'PLAIN', username: 'alice', password: 'hunter2' } })
    assert.equal(inspect(cluster), `Cluster { ${broker!.address}, 0 broker(s), 0 topic(s) }`)
  })
})

describe('metadata refresh deadlines (each caller its own)', () => {
  test('a refresh waited on by two callers honours each caller\'s timeout, and one giving up does not fail the other', async () => {
    // A broker that accepts TCP but never answers Metadata keeps the shared refresh running.
    const { createServer } = await import('node:net')
    const sockets: import('node:net').Socket[] = []
    const server = createServer((s) => sockets.push(s))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as import('node:net').AddressInfo).port
    const { Cluster } = await import('../../src/client/cluster.js')
    const c = new Cluster({ brokers: [`127.0.0.1:${port}`], connectTimeoutMs: 60_000, defaultTimeoutMs: 60_000 })
    try {
      const started = Date.now()
      const shortWait = c.refreshMetadata(['a'], { timeoutMs: 300 })
      const ac = new AbortController()
      const aborted = c.refreshMetadata(['a'], { signal: ac.signal })
      const longWait = c.refreshMetadata(['a'], { timeoutMs: 1500 })
      setTimeout(() => ac.abort(), 100)
      await assert.rejects(aborted, (e: unknown) => (e as { code?: string }).code === 'ABORT_ERR')
      await assert.rejects(shortWait, (e: unknown) => (e as { code?: string }).code === 'DEADLINE_EXCEEDED')
      assert.ok(Date.now() - started < 1200, 'the short caller gave up at its own timeout, not the refresh\'s 60 s')
      await assert.rejects(longWait, (e: unknown) => (e as { code?: string }).code === 'DEADLINE_EXCEEDED')
      assert.ok(Date.now() - started >= 1400, 'the abort of another caller did not end this wait early')
    } finally {
      c.destroy()
      for (const s of sockets) s.destroy()
      server.close()
    }
  })
})
