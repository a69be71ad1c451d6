/**
 * Run as a child process by lifecycle.test.ts: consumes with a slow handler,
 * closes the consumer while the handler runs (so the revocation waits for
 * it), stops the fake broker, and then does nothing more. The process must
 * exit on its own right away: nothing the consumer started may keep it alive.
 */
import { Consumer } from '../../../src/consumer/consumer.js'
import { FakeKafka } from './fake-kafka.js'

const kafka = await FakeKafka.start()
kafka.createTopic('t', 1)
kafka.appendValues('t', 0, ['a', 'b', 'c'])
const c = new Consumer({
  brokers: kafka.bootstrap,
  groupId: 'g',
  autoOffsetReset: 'earliest',
  maxProcessingIntervalMs: 60_000,
  maxWaitMs: 50,
  retryBackoff: { initialMs: 5, maxMs: 50 },
})
c.subscribe('t')
let started!: () => void
const handlerStarted = new Promise<void>((r) => (started = r))
const run = c.run({
  eachMessage: async () => {
    started()
    await new Promise((r) => setTimeout(r, 300))
  },
})
await handlerStarted
await c.close()
await run
await kafka.close()
process.stdout.write(`closed at ${Date.now()}\n`)
