// Shared by the client-layer conformance tests: the listeners and credentials from the environment
// (conformance/README.md), and the "unsupported" report for a listener the cluster does not offer.
import { readFileSync } from 'node:fs'
import { test, type TestContext } from 'node:test'
import { Connection, type ConnectionOptions } from '../../src/client/connection.js'
import type { SaslOptions } from '../../src/client/sasl/index.js'
import { rejection as unitRejection } from '../../spec/support/client.js'
import { impl } from '../support/target.js'

export const env = process.env
export const managed = env.KAFKAWIRE_MANAGED === '1'
export const kafkaVersion = env.KAFKA_VERSION ?? 'unknown'

export interface Address {
  host: string
  port: number
}

export function addresses(list: string | undefined): Address[] {
  return (list ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((a) => {
      const i = a.lastIndexOf(':')
      return { host: a.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(a.slice(i + 1)) }
    })
}

/** The first address of a listener, or null when its variable is unset. */
export function listener(name: 'KAFKA_BROKERS' | 'KAFKA_SASL_BROKERS' | 'KAFKA_SSL_BROKERS' | 'KAFKA_SASL_SSL_BROKERS'): Address | null {
  return addresses(env[name])[0] ?? null
}

/** KAFKA_CA is a PEM file (run.mjs) or, for convenience, the PEM text itself. */
export function ca(): string | null {
  const v = env.KAFKA_CA
  if (!v) return null
  return v.includes('-----BEGIN') ? v : readFileSync(v, 'utf8')
}

export type ScramOrPlain = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'

/** Mechanisms the configured user can use: KAFKA_SASL_MECHANISMS, else KAFKA_SASL_MECHANISM. */
export function mechanisms(): ScramOrPlain[] {
  const list = env.KAFKA_SASL_MECHANISMS ?? env.KAFKA_SASL_MECHANISM ?? ''
  return list.split(',').map((s) => s.trim()).filter(Boolean) as ScramOrPlain[]
}

export function credentials(mechanism: ScramOrPlain, password = env.KAFKA_SASL_PASSWORD ?? ''): SaslOptions {
  return { mechanism, username: env.KAFKA_SASL_USERNAME ?? '', password }
}

/**
 * Why a check cannot run against this cluster, or null when it can. Every variable named must be set.
 */
export function missing(...names: string[]): string | null {
  const absent = names.filter((n) => !env[n])
  return absent.length === 0 ? null : `${absent.join(', ')} ${absent.length === 1 ? 'is' : 'are'} not set (this cluster has no such listener or credentials)`
}

/**
 * A check that cannot run here is reported as unsupported, never skipped silently: a test skipped with the
 * reason "unsupported by <impl>: <reason>", which conformance/run.mjs lists and counts
 * (conformance/support/target.ts).
 */
export function unsupported(name: string, reason: string): void {
  test(name, { skip: reason.startsWith('unsupported by ') ? reason : `unsupported by ${impl}: ${reason}` }, () => undefined)
}

/** A Connection destroyed when the test ends. */
export function connection(t: TestContext, at: Address, o: Partial<ConnectionOptions> = {}): Connection {
  const c = new Connection({ host: at.host, port: at.port, clientId: 'kafkawire-client-conformance', connectTimeoutMs: 15_000, ...o })
  t.after(() => c.destroy())
  return c
}

export { settlesWithin } from '../../spec/support/client.js'

/** The rejection reason of a promise that must reject within `ms` (a real broker gets longer than a mock one). */
export function rejection(p: Promise<unknown>, what: string, ms = 15_000): Promise<Error> {
  return unitRejection(p, what, ms)
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
