/**
 * Helpers shared by the producer's unit tests.
 */
import type { TestContext } from 'node:test'
import { Producer, PRODUCER_INTERNALS, type ProducerInternals } from '../../../src/producer/producer.js'
import type { ProducerOptions } from '../../../src/producer/config.js'
import { KafkawireError } from '../../../src/protocol/errors.js'
import { FakeKafka, type FakeKafkaOptions } from './fake-kafka.js'

/** A fake cluster, closed when the test ends. */
export async function fakeKafka(t: TestContext, o: FakeKafkaOptions = {}): Promise<FakeKafka> {
  const k = await FakeKafka.start(o)
  t.after(() => k.close())
  return k
}

/**
 * A producer on the fake cluster with fast retries, closed (or destroyed)
 * when the test ends. Options override the test defaults.
 */
export function producerOn(t: TestContext, kafka: FakeKafka, options: Partial<ProducerOptions> = {}): Producer {
  const p = new Producer({
    brokers: kafka.bootstrap,
    clientId: 'kafkawire-producer-test',
    retryBackoff: { initialMs: 5, maxMs: 50 },
    reconnectBackoff: { initialMs: 5, maxMs: 50 },
    lingerMs: 0,
    allowAutoTopicCreation: false,
    maxBlockMs: 5000,
    ...options,
  })
  t.after(() => p.close({ timeoutMs: 200 }).catch(() => undefined))
  return p
}

export function internals(p: Producer): ProducerInternals {
  return p[PRODUCER_INTERNALS]
}

/** Settles a promise into its value or KafkawireError, failing on anything else. */
export async function outcome<T>(p: Promise<T>): Promise<T | KafkawireError> {
  try {
    return await p
  } catch (err) {
    if (err instanceof KafkawireError) return err
    throw err
  }
}

export const text = (b: Buffer | null): string | null => (b === null ? null : b.toString('utf8'))

/** A deterministic pseudo-random generator (mulberry32), so failing runs can be replayed from their seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
