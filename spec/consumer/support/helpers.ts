/**
 * Helpers shared by the consumer's unit tests.
 */
import type { TestContext } from 'node:test'
import { Consumer, type ConsumerMessage, type ConsumerOptions } from '../../../src/consumer/consumer.js'
import { FakeKafka } from './fake-kafka.js'

const clients = new WeakMap<FakeKafka, Array<{ close(): Promise<void> }>>()

/** A fake cluster, closed when the test ends, after the consumers made on it with consumerOn. */
export async function fakeKafka(t: TestContext): Promise<FakeKafka> {
  const k = await FakeKafka.start()
  clients.set(k, [])
  t.after(async () => {
    await Promise.all(clients.get(k)!.map((c) => c.close().catch(() => undefined)))
    await k.close()
  })
  return k
}

/** A consumer on the fake cluster with fast retries and short waits, closed when the test ends. */
export function consumerOn<K = Buffer | null, V = Buffer | null>(t: TestContext, kafka: FakeKafka, options: Partial<ConsumerOptions<K, V>> = {}): Consumer<K, V> {
  const c = new Consumer<K, V>({
    brokers: kafka.bootstrap,
    clientId: 'kafkawire-consumer-test',
    retryBackoff: { initialMs: 5, maxMs: 50 },
    reconnectBackoff: { initialMs: 5, maxMs: 50 },
    maxWaitMs: 50,
    sessionTimeoutMs: 3000,
    heartbeatIntervalMs: 200,
    defaultTimeoutMs: 5000,
    ...options,
  })
  clients.get(kafka)!.push(c)
  void t
  return c
}

/**
 * Runs the consumer with eachMessage collecting every message, and resolves
 * with them once `done(messages)` holds (the run continues afterwards).
 */
export function consumeUntil<K, V>(c: Consumer<K, V>, done: (all: Array<ConsumerMessage<K, V>>) => boolean, ms = 8000): Promise<Array<ConsumerMessage<K, V>>> {
  const all: Array<ConsumerMessage<K, V>> = []
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${all.length} message(s) within ${ms} ms`)), ms)
    c.run({
      eachMessage: ({ message }) => {
        all.push(message)
        if (done(all)) {
          clearTimeout(timer)
          resolve(all)
        }
      },
    }).catch((err: unknown) => {
      clearTimeout(timer)
      reject(err as Error)
    })
  })
}

export const texts = (list: Array<ConsumerMessage<unknown, unknown>>): string[] => list.map((m) => (m.value as Buffer).toString())

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Retries `check` until it passes or `ms` elapse (then its last error is thrown). */
export async function eventually<T>(check: () => T | Promise<T>, ms = 5000, every = 25): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      return await check()
    } catch (err) {
      if (Date.now() > deadline) throw err
      await sleep(every)
    }
  }
}
