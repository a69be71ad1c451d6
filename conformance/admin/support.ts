// Shared by the admin conformance tests: the cluster from the environment, unique names, cleanup,
// and records written by the Java tools (ProducerPerformance) of the broker's own Kafka version.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { runKafkaTool, type KafkaVersionSpec } from '../broker/index.mjs'
import { Admin } from '../../src/client/admin/index.js'
import type { ClientConfig } from '../../src/client/index.js'
import { KafkawireError } from '../../src/protocol/errors.js'
import { requires, type FeatureName } from '../support/target.js'

export const env = process.env
export const brokers = env.KAFKA_BROKERS ?? ''
export const kafkaVersion = (env.KAFKA_VERSION ?? '4.3.1') as KafkaVersionSpec
export const managed = env.KAFKAWIRE_MANAGED === '1'
export const noBrokers = !brokers && 'KAFKA_BROKERS not set'

/** test()/describe() options: skipped without a cluster, or as "unsupported by <impl>" when it lacks a feature (conformance/support/target.ts). */
export function needs(...features: FeatureName[]): { skip?: string } {
  return noBrokers ? { skip: noBrokers } : requires(...features)
}

export function newAdmin(config: Partial<ClientConfig> = {}): Admin {
  return new Admin({ brokers, clientId: 'kafkawire-admin-conformance', ...config })
}

/** kw-test-<what>-<random>: unique per run, recognisable as ours. */
export function uniqueName(what: string): string {
  return `kw-test-${what}-${randomBytes(4).toString('hex')}`
}

/** The error code of an item (or 'none'), for assertions that show what came back. */
export function codeOf(x: { error: KafkawireError | null }): string {
  return x.error === null ? 'none' : x.error.code
}

export function assertOk<T extends { error: KafkawireError | null }>(items: T[], what: string): void {
  for (const it of items) assert.equal(it.error, null, `${what}: ${it.error?.message}`)
}

/** Polls until check() returns without throwing, or rethrows its last error after timeoutMs. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 15_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await check()
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((r) => setTimeout(r, intervalMs))
    }
  }
}

/**
 * Creates topics and waits until every broker's metadata has them with leaders: after
 * CreateTopics answers, the broker's metadata cache may take a moment to catch up (KRaft).
 */
export async function createTopics(admin: Admin, topics: Array<{ name: string; partitions?: number; configs?: Record<string, string> }>): Promise<void> {
  const res = await admin.createTopics(topics)
  assertOk(res, 'createTopics')
  await eventually(async () => {
    const d = await admin.describeTopics(topics.map((t) => t.name))
    for (const t of d) {
      assert.equal(t.error, null, `${t.name} not visible yet`)
      if (t.error === null) assert.ok(t.partitions.every((p) => p.leader >= 0), `${t.name} has partitions without a leader`)
    }
  })
}

/** Deletes topics, ignoring those already gone: for after() hooks, which run even when a test failed. */
export async function deleteTopicsQuietly(admin: Admin, names: string[]): Promise<void> {
  if (names.length === 0) return
  const res = await admin.deleteTopics(names)
  for (const r of res) if (r.error !== null && r.error.code !== 'UNKNOWN_TOPIC_OR_PARTITION') throw r.error
}

export async function deleteGroupsQuietly(admin: Admin, ids: string[]): Promise<void> {
  if (ids.length === 0) return
  const res = await admin.deleteGroups(ids)
  for (const r of res) if (r.error !== null && r.error.code !== 'GROUP_ID_NOT_FOUND') throw r.error
}

/**
 * Writes `records` records of 10 bytes with the reference producer (idempotent by default since
 * Kafka 3.0; transactional with a transactional id). The default partitioner may put every
 * record in one partition: give it one-partition topics, or a partitioner in `props`.
 */
export async function produce(topic: string, records: number, o: { transactionalId?: string; props?: string[] } = {}): Promise<void> {
  const args = [
    '--topic', topic,
    '--num-records', String(records),
    '--record-size', '10',
    '--throughput', '-1',
    '--producer-props', `bootstrap.servers=${brokers}`, 'acks=all', 'linger.ms=0', ...(o.props ?? []),
  ]
  if (o.transactionalId !== undefined) args.push('--transactional-id', o.transactionalId, '--transaction-duration-ms', '60000')
  const r = await runKafkaTool(kafkaVersion, 'org.apache.kafka.tools.ProducerPerformance', args, { timeoutMs: 120_000 })
  assert.equal(r.code, 0, `ProducerPerformance failed:\n${r.stdout}\n${r.stderr}`)
  assert.match(r.stdout, new RegExp(`^${records} records sent`, 'm'), r.stdout)
}
