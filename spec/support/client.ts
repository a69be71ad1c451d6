/**
 * Small helpers shared by the client-layer unit tests.
 */
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { Connection, type ConnectionOptions } from '../../src/client/connection.js'
import { MockBroker, type MockBrokerOptions } from './mock-broker.js'

/** A mock broker that is closed when the test ends. */
export async function mockBroker(t: TestContext, options: MockBrokerOptions = {}): Promise<MockBroker> {
  const b = await MockBroker.start(options)
  t.after(() => b.close())
  return b
}

/** A Connection to `broker` (over TCP unless `inMemory`), destroyed when the test ends. */
export function connectionTo(
  t: TestContext,
  broker: MockBroker,
  options: Partial<ConnectionOptions> & { inMemory?: boolean } = {},
): Connection {
  const { inMemory, ...rest } = options
  const c = new Connection({
    host: broker.host,
    port: broker.port,
    clientId: 'kafkawire-test',
    ...(inMemory ? { socketFactory: broker.socketFactory() } : {}),
    ...rest,
  })
  t.after(() => c.destroy())
  return c
}

/** Resolves with the promise's outcome, failing the test if it does not settle within `ms`. */
export async function settlesWithin<T>(ms: number, p: Promise<T>, what: string): Promise<PromiseSettledResult<T>> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([
      p.then(
        (value): PromiseSettledResult<T> => ({ status: 'fulfilled', value }),
        (reason: unknown): PromiseSettledResult<T> => ({ status: 'rejected', reason }),
      ),
      timeout,
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** The rejection reason of a promise that must reject within `ms`. */
export async function rejection(p: Promise<unknown>, what: string, ms = 5000): Promise<Error> {
  const r = await settlesWithin(ms, p, what)
  assert.equal(r.status, 'rejected', `${what} should have failed`)
  const reason = (r as PromiseRejectedResult).reason as unknown
  assert.ok(reason instanceof Error, `${what} should fail with an Error, got ${String(reason)}`)
  return reason
}

/** Polls until `cond` holds, failing after `ms`. */
export async function eventually(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
