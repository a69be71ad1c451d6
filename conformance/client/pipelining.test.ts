// 1000 requests in flight on one connection to a real broker, each answered with what it asked for.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { apiVersions } from '../../src/protocol/messages/api-versions.js'
import { metadata } from '../../src/protocol/messages/metadata.js'
import { connection, env, listener, missing, settlesWithin, unsupported } from './support.js'

const at = listener('KAFKA_BROKERS')
const why = missing('KAFKA_BROKERS')

if (why !== null || at === null) {
  unsupported('1000 pipelined requests', why ?? 'KAFKA_BROKERS is empty')
} else {
  test('1000 requests pipelined on one connection are each matched to their own response', async (t) => {
    const conn = connection(t, at, { requestTimeoutMs: 60_000 })
    await conn.connect()
    const run = randomBytes(4).toString('hex')
    const n = 1000
    // Every third request is ApiVersions, the rest Metadata for a topic of their own that does not
    // exist: each answer is recognisable (its shape, and the topic name the broker echoes back).
    const sent = Array.from({ length: n }, (_, i) =>
      i % 3 === 0
        ? conn.send(apiVersions, { clientSoftwareName: 'kafkawire', clientSoftwareVersion: '0.1.0' }).then((res) => ({ i, kind: 'ApiVersions' as const, res }))
        : conn.send(metadata, { topics: [{ name: `kw-pipeline-${run}-${i}` }], allowAutoTopicCreation: false }).then((res) => ({ i, kind: 'Metadata' as const, res })),
    )
    const inFlightAtPeak = conn.inFlightCount
    const r = await settlesWithin(60_000, Promise.all(sent), `${n} pipelined requests`)
    assert.equal(r.status, 'fulfilled', String((r as PromiseRejectedResult).reason))
    const answers = (r as PromiseFulfilledResult<Awaited<(typeof sent)[number]>[]>).value
    assert.equal(answers.length, n)
    for (const a of answers) {
      if (a.kind === 'ApiVersions') {
        assert.equal(a.res.errorCode, 0)
        assert.ok(a.res.apiKeys.some((k) => k.apiKey === metadata.apiKey), `answer ${a.i} lists Metadata`)
      } else {
        assert.equal(a.res.topics.length, 1)
        assert.equal(a.res.topics[0]!.name, `kw-pipeline-${run}-${a.i}`, `answer ${a.i} is for request ${a.i}`)
        assert.equal(a.res.topics[0]!.errorCode, 3, 'UNKNOWN_TOPIC_OR_PARTITION: no topic was created')
      }
    }
    t.diagnostic(`${inFlightAtPeak} requests in flight at once on Kafka ${env.KAFKA_VERSION ?? '?'}`)
    assert.equal(inFlightAtPeak, n)
    assert.equal(conn.state, 'ready')
    assert.equal(conn.inFlightCount, 0)
  })
}
