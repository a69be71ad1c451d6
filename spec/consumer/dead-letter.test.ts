// Records that fail to deserialize: the application's onDeserializationError hook sees them with their
// raw bytes, the dead-letter topic receives them unchanged with kafkawire-dlq-* headers saying why and from
// where, and the consumer moves past them only once they are handled — never past records not yet processed.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { ConsumerMessage } from '../../src/consumer/consumer.js'
import type { SendRequest } from '../../src/producer/producer.js'
import { SerializationError } from '../../src/serde/index.js'
import { consumerOn, eventually, fakeKafka } from './support/helpers.js'
import type { FakeKafka } from './support/fake-kafka.js'

/** A producer stand-in that records what is sent to the dead-letter topic. */
function recordingProducer(o: { fail?: boolean } = {}) {
  const sent: SendRequest[] = []
  return {
    sent,
    closed: false,
    async send(req: SendRequest | readonly SendRequest[]) {
      if (o.fail) throw new Error('dead-letter topic unavailable')
      sent.push(...(Array.isArray(req) ? req : [req as SendRequest]))
      return []
    },
    async close() {
      this.closed = true
    },
  }
}

function mixedRecords(kafka: FakeKafka): void {
  kafka.createTopic('orders', 1)
  kafka.append('orders', 0, [
    { key: Buffer.from('k0'), value: Buffer.from('{"n":0}') },
    { key: Buffer.from('k1'), value: Buffer.from('{"n":1'), headers: [{ key: 'trace', value: Buffer.from('abc') }] },
    { key: Buffer.from('k2'), value: Buffer.from('{"n":2}') },
  ])
}

describe('records that fail to deserialize', () => {
  test('go to the hook and to the dead-letter topic unchanged, with headers naming the reason and the origin; consumption continues past them', async (t) => {
    const kafka = await fakeKafka(t)
    mixedRecords(kafka)
    const dlq = recordingProducer()
    const hooked: Array<{ error: SerializationError; record: ConsumerMessage }> = []
    const c = consumerOn<Buffer | null, { n: number }>(t, kafka, {
      groupId: 'g',
      autoOffsetReset: 'earliest',
      commitStrategy: 'manual',
      deserializers: { value: 'json' },
      onDeserializationError: (error, record) => void hooked.push({ error, record }),
      deadLetter: { topic: 'orders-dlq', producer: dlq },
    })
    c.subscribe('orders')
    const values: number[] = []
    const run = c.run({ eachMessage: ({ message }) => void values.push(message.value!.n) })
    await eventually(() => assert.deepEqual(values, [0, 2]))

    assert.equal(hooked.length, 1)
    assert.ok(hooked[0]!.error instanceof SerializationError, 'the hook gets a SerializationError')
    assert.equal(hooked[0]!.error.context.recordOffset, 1n)
    assert.deepEqual(hooked[0]!.record.value, Buffer.from('{"n":1'), 'the hook gets the raw bytes')

    assert.equal(dlq.sent.length, 1)
    const sent = dlq.sent[0]!
    assert.equal(sent.topic, 'orders-dlq')
    const m = sent.messages[0]!
    assert.deepEqual(m.key, Buffer.from('k1'))
    assert.deepEqual(m.value, Buffer.from('{"n":1'), 'bytes unchanged')
    const headers = m.headers as Array<{ key: string; value: string | Buffer | null }>
    assert.deepEqual(headers[0], { key: 'trace', value: Buffer.from('abc') }, 'the original headers come first')
    const h = Object.fromEntries(headers.slice(1).map((x) => [x.key, String(x.value)]))
    assert.match(h['kafkawire-dlq-reason']!, /^SERIALIZATION_ERROR: value on topic orders is not valid JSON/)
    assert.equal(h['kafkawire-dlq-topic'], 'orders')
    assert.equal(h['kafkawire-dlq-partition'], '0')
    assert.equal(h['kafkawire-dlq-offset'], '1')
    assert.ok(!Number.isNaN(Date.parse(h['kafkawire-dlq-time']!)), `an ISO time, got ${h['kafkawire-dlq-time']}`)
    assert.deepEqual(Object.keys(h).sort(), ['kafkawire-dlq-offset', 'kafkawire-dlq-partition', 'kafkawire-dlq-reason', 'kafkawire-dlq-time', 'kafkawire-dlq-topic'])

    await eventually(async () => {
      await c.commit()
      assert.equal(kafka.committed('g', 'orders', 0), 3n)
    })
    assert.equal(c.metrics().deadLettered, 1)
    await c.close()
    await run
    assert.equal(dlq.closed, false, 'a producer the application passed in stays open')
  })

  test('without a hook or dead-letter topic, the run fails at the record and nothing past it is committed', async (t) => {
    const kafka = await fakeKafka(t)
    mixedRecords(kafka)
    const c = consumerOn<Buffer | null, unknown>(t, kafka, { groupId: 'g', autoOffsetReset: 'earliest', deserializers: { value: 'json' } })
    c.subscribe('orders')
    await assert.rejects(c.run({ eachMessage: () => undefined }), (e: Error) => e instanceof SerializationError && (e as SerializationError).context.recordOffset === 1n)
    await c.close()
    assert.equal(kafka.committed('g', 'orders', 0), 1n)
  })

  test('when the dead-letter write fails, the consumer does not move past the record', async (t) => {
    const kafka = await fakeKafka(t)
    mixedRecords(kafka)
    const c = consumerOn<Buffer | null, unknown>(t, kafka, { groupId: 'g', autoOffsetReset: 'earliest', deserializers: { value: 'json' }, deadLetter: { topic: 'dlq', producer: recordingProducer({ fail: true }) } })
    c.subscribe('orders')
    await assert.rejects(c.run({ eachMessage: () => undefined }), /dead-letter topic unavailable/)
    await c.close()
    assert.equal(kafka.committed('g', 'orders', 0), 1n)
  })

  test('eachBatch: a bad record in the middle of a batch does not count the batch processed before the handler did', async (t) => {
    const kafka = await fakeKafka(t)
    mixedRecords(kafka)
    const dlq = recordingProducer()
    const c = consumerOn<Buffer | null, unknown>(t, kafka, { groupId: 'g', autoOffsetReset: 'earliest', autoCommitIntervalMs: 20, deserializers: { value: 'json' }, deadLetter: { topic: 'dlq', producer: dlq } })
    c.subscribe('orders')
    let batches = 0
    await assert.rejects(
      c.run({
        eachBatch: async ({ batch }) => {
          batches++
          assert.deepEqual(batch.messages.map((x) => x.offset), [0n, 2n], 'the bad record is not in the batch')
          await new Promise((r) => setTimeout(r, 100)) // auto-commits happen meanwhile
          throw new Error('handler failed')
        },
      }),
      /handler failed/,
    )
    await c.close()
    assert.equal(batches, 1)
    assert.equal(dlq.sent.length, 1)
    assert.ok(kafka.committed('g', 'orders', 0) <= 0n, `committed ${kafka.committed('g', 'orders', 0)}: nothing of the failed batch`)
  })
})
