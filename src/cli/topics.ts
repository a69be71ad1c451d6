/**
 * kafkawire topics list|describe|create|delete|alter-config
 */
import { Admin } from '../client/admin/index.js'
import type { AlterConfigOp, TopicDescriptionData } from '../client/admin/index.js'
import type { Command, Context } from './command.js'
import { errorJson, table } from './format.js'
import { flag, int, keyValue, list, str, UsageError } from './options.js'
import type { KafkawireError } from '../protocol/errors.js'

export async function withAdmin<T>(c: Context, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Admin(c.client())
  try {
    return await fn(admin)
  } finally {
    await admin.close()
  }
}

const listTopics: Command = {
  path: ['topics', 'list'],
  summary: 'list topics',
  usage: '[--internal]',
  options: { internal: { type: 'boolean', help: 'include internal topics (__consumer_offsets, ...)' } },
  args: { min: 0, max: 0, name: '' },
  async run(c) {
    const internal = flag(c.values, 'internal')
    const topics = await withAdmin(c, (a) => a.listTopics({ includeInternal: internal }))
    c.print(
      () =>
        table(
          internal ? ['TOPIC', 'PARTITIONS', 'TOPIC-ID', 'INTERNAL'] : ['TOPIC', 'PARTITIONS', 'TOPIC-ID'],
          topics.map((t) => (internal ? [t.name, t.partitions, t.topicId, t.isInternal ? 'yes' : 'no'] : [t.name, t.partitions, t.topicId])),
        ),
      () => ({ topics: topics.map((t) => ({ name: t.name, topicId: t.topicId, partitions: t.partitions, internal: t.isInternal })) }),
    )
  },
}

interface DescribedTopic extends TopicDescriptionData {
  name: string
  /** Topic-level overrides (DescribeConfigs source dynamic-topic); null values are sensitive. */
  configs: Record<string, string | null>
}

const describeTopics: Command = {
  path: ['topics', 'describe'],
  summary: 'show partitions, replicas and config overrides of topics (default: all)',
  usage: '[NAME...]',
  options: {},
  args: { min: 0, max: Infinity, name: 'NAME' },
  async run(c) {
    const topics = await withAdmin(c, async (admin) => {
      const names = c.args.length > 0 ? c.args : (await admin.listTopics()).map((t) => t.name)
      if (names.length === 0) return []
      const [descriptions, configs] = await Promise.all([admin.describeTopics(names), admin.describeConfigs(names.map((name) => ({ type: 'topic' as const, name })))])
      return descriptions.map((d, i): DescribedTopic => {
        if (d.error !== null) throw d.error
        const cfg = configs[i]!
        if (cfg.error !== null) throw cfg.error
        const overrides: Record<string, string | null> = {}
        for (const e of cfg.configs) if (e.source === 'dynamic-topic') overrides[e.name] = e.isSensitive ? null : e.value
        const { error: _, ...data } = d
        return { ...data, configs: overrides }
      })
    })
    c.print(
      () => topics.map(describeText).join('\n'),
      () => ({
        topics: topics.map((t) => ({
          name: t.name,
          topicId: t.topicId,
          internal: t.isInternal,
          replicationFactor: replicationFactor(t),
          configs: t.configs,
          partitions: t.partitions.map((p) => ({ partition: p.partition, leader: p.leader, leaderEpoch: p.leaderEpoch, replicas: p.replicas, isr: p.isr, offlineReplicas: p.offlineReplicas })),
        })),
      }),
    )
  },
}

function replicationFactor(t: TopicDescriptionData): number {
  return t.partitions[0]?.replicas.length ?? 0
}

function describeText(t: DescribedTopic): string {
  const configs = Object.entries(t.configs).map(([k, v]) => `${k}=${v ?? '(sensitive)'}`)
  return (
    `Topic: ${t.name}  TopicId: ${t.topicId}  Partitions: ${t.partitions.length}  ReplicationFactor: ${replicationFactor(t)}${t.isInternal ? '  (internal)' : ''}\n` +
    `Configs: ${configs.length > 0 ? configs.join(', ') : '(broker defaults)'}\n` +
    table(
      ['PARTITION', 'LEADER', 'EPOCH', 'REPLICAS', 'ISR', 'OFFLINE'],
      t.partitions.map((p) => [p.partition, p.leader, p.leaderEpoch, p.replicas.join(','), p.isr.join(','), p.offlineReplicas.join(',') || '-']),
    )
  )
}

const createTopic: Command = {
  path: ['topics', 'create'],
  summary: 'create a topic',
  usage: 'NAME [--partitions N] [--replication-factor R] [--config KEY=VALUE]...',
  description: "Partitions and replication factor default to the broker's num.partitions and default.replication.factor.",
  options: {
    partitions: { type: 'string', arg: 'N', help: 'number of partitions' },
    'replication-factor': { type: 'string', arg: 'R', help: 'replicas of each partition' },
    config: { type: 'string', multiple: true, arg: 'KEY=VALUE', help: 'a topic config, e.g. retention.ms=86400000 (repeatable)' },
  },
  args: { min: 1, max: 1, name: 'NAME' },
  async run(c) {
    const name = c.args[0]!
    const p = str(c.values, 'partitions')
    const rf = str(c.values, 'replication-factor')
    const partitions = p === undefined ? undefined : int(p, '--partitions', 1, 2 ** 31 - 1)
    const replicationFactor = rf === undefined ? undefined : int(rf, '--replication-factor', 1, 32767)
    const configs = Object.fromEntries(list(c.values, 'config').map((kv) => keyValue(kv, '--config')))
    const [r] = await withAdmin(c, (a) =>
      a.createTopics([{ name, ...(partitions !== undefined ? { partitions } : {}), ...(replicationFactor !== undefined ? { replicationFactor } : {}), configs }]),
    )
    if (r!.error !== null) throw r!.error
    // Before CreateTopics v5 the broker does not echo the counts.
    const created = { name, topicId: r!.topicId, partitions: r!.partitions >= 0 ? r!.partitions : (partitions ?? null), replicationFactor: r!.replicationFactor >= 0 ? r!.replicationFactor : (replicationFactor ?? null) }
    c.print(
      () => `Created topic ${name} (${created.partitions ?? '?'} partitions, replication factor ${created.replicationFactor ?? '?'}, id ${created.topicId}).\n`,
      () => created,
    )
  },
}

const deleteTopics: Command = {
  path: ['topics', 'delete'],
  summary: 'delete topics and all their records',
  usage: 'NAME...',
  options: {},
  args: { min: 1, max: Infinity, name: 'NAME' },
  async run(c) {
    const results = await withAdmin(c, (a) => a.deleteTopics(c.args))
    c.print(
      () => results.filter((r) => r.error === null).map((r) => `Deleted topic ${r.name}.\n`).join(''),
      () => ({ topics: results.map((r) => (r.error === null ? { name: r.name, deleted: true } : { name: r.name, deleted: false, error: errorJson(r.error) })) }),
    )
    return reportFailures(c, results)
  },
}

const alterConfig: Command = {
  path: ['topics', 'alter-config'],
  summary: "set or remove a topic's config overrides",
  usage: 'NAME [--set KEY=VALUE]... [--delete KEY]...',
  description: 'A deleted override falls back to the broker default.',
  options: {
    set: { type: 'string', multiple: true, arg: 'KEY=VALUE', help: 'set a config (repeatable)' },
    delete: { type: 'string', multiple: true, arg: 'KEY', help: 'remove an override (repeatable)' },
  },
  args: { min: 1, max: 1, name: 'NAME' },
  async run(c) {
    const name = c.args[0]!
    const set = list(c.values, 'set').map((kv) => keyValue(kv, '--set'))
    const del = list(c.values, 'delete')
    if (set.length === 0 && del.length === 0) throw new UsageError('give at least one --set or --delete')
    const ops: AlterConfigOp[] = [...set.map(([k, v]): AlterConfigOp => ({ name: k, op: 'set', value: v })), ...del.map((k): AlterConfigOp => ({ name: k, op: 'delete' }))]
    const [r] = await withAdmin(c, (a) => a.incrementalAlterConfigs([{ type: 'topic', name, ops }]))
    if (r!.error !== null) throw r!.error
    c.print(
      () => `Altered configs of topic ${name}:${set.length > 0 ? ` set ${set.map(([k, v]) => `${k}=${v}`).join(', ')}` : ''}${set.length > 0 && del.length > 0 ? ';' : ''}${del.length > 0 ? ` deleted ${del.join(', ')}` : ''}.\n`,
      () => ({ topic: name, set: Object.fromEntries(set), deleted: del }),
    )
  },
}

/** Prints one line per failed item and returns the exit status. */
export function reportFailures(c: Context, items: ReadonlyArray<{ error: KafkawireError | null }>): number {
  let failed = 0
  for (const it of items) {
    if (it.error === null) continue
    failed++
    c.fail(it.error)
  }
  return failed > 0 ? 1 : 0
}

export const topicCommands: Command[] = [listTopics, describeTopics, createTopic, deleteTopics, alterConfig]
