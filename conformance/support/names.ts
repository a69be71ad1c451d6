// The names conformance tests give what they create (topics, groups, transactional ids, users), so that a run
// against a user's cluster touches nothing else and conformance/support/cleanup.ts finds all of it.
import { randomBytes } from 'node:crypto'

/** Every name a conformance test creates starts with one of these. */
export const TEST_PREFIXES = ['kw-test-'] as const

export function isTestName(name: string): boolean {
  return TEST_PREFIXES.some((p) => name.startsWith(p))
}

/** kw-test-<what>-<8 hex>: unique per call, recognisable as a test's. */
export function testName(what: string): string {
  return `kw-test-${what}-${randomBytes(4).toString('hex')}`
}
