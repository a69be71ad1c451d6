/**
 * kafkawire groups list|describe|delete|reset-offsets
 */
import type { Admin, GroupDescription, ResetTarget, TopicPartition } from '../client/admin/index.js'
import { KafkawireError } from '../protocol/errors.js'
import type { Command } from './command.js'
import { errorJson, table } from './format.js'
import { flag, int, list, str, UsageError, type Values } from './options.js'
import { reportFailures, withAdmin } from './topics.js'

const listGroups: Command = {
  path: ['groups', 'list'],
  summary: 'list consumer groups (and other groups: share, streams, connect)',
  usage: '[--state STATE]...',
  options: { state: { type: 'string', multiple: true, arg: 'STATE', help: 'only groups in this state, e.g. Empty, Stable (repeatable)' } },
  args: { min: 0, max: 0, name: '' },
  async run(c) {
    const states = list(c.values, 'state')
    const r = await withAdmin(c, (a) => a.listGroups(states.length > 0 ? { states } : {}))
    c.print(
      () => table(['GROUP', 'STATE', 'TYPE', 'PROTOCOL-TYPE', 'COORDINATOR'], r.groups.map((g) => [g.groupId, g.state, g.type, g.protocolType || '-', g.coordinator])),
      () => ({ groups: r.groups.map((g) => ({ groupId: g.groupId, state: g.state, type: g.type, protocolType: g.protocolType, coordinator: g.coordinator })) }),
    )
    // A broker that could not answer leaves its groups out: say so, and fail.
    return reportFailures(c, r.errors)
  },
}

interface Member {
  memberId: string
  instanceId: string | null
  clientId: string
  clientHost: string
  assignment: Array<{ topic: string; partitions: number[] }>
}

interface PartitionOffset extends TopicPartition {
  /** The committed offset; null when the group has none for this partition. */
  offset: bigint | null
  logEndOffset: bigint | null
  lag: bigint | null
  memberId: string | null
}

interface DescribedGroup {
  groupId: string
  type: 'classic' | 'consumer'
  state: string
  /** Classic groups: the protocol type ("consumer", "connect", "" for offsets only). */
  protocolType: string | null
  /** The assignor: the classic group's protocol, or the consumer group's server-side assignor. */
  assignor: string
  coordinator: number
  members: Member[]
  offsets: PartitionOffset[]
}

function membersOf(d: Exclude<GroupDescription, { error: KafkawireError }>): Member[] {
  if (d.type === 'consumer') {
    return d.members.map((m) => ({ memberId: m.memberId, instanceId: m.instanceId, clientId: m.clientId, clientHost: m.clientHost, assignment: m.assignment.map((a) => ({ topic: a.topic, partitions: a.partitions })) }))
  }
  return d.members.map((m) => ({
    memberId: m.memberId,
    instanceId: m.groupInstanceId,
    clientId: m.clientId,
    clientHost: m.clientHost,
    assignment: (m.assignment?.assignedPartitions ?? []).map((a) => ({ topic: a.topic, partitions: a.partitions })),
  }))
}

const tp = (topic: string, partition: number): string => `${topic}\u0000${partition}`

async function describeOne(admin: Admin, d: GroupDescription): Promise<DescribedGroup> {
  if (d.error !== null) throw d.error
  const members = membersOf(d)
  const owner = new Map<string, string>()
  for (const m of members) for (const a of m.assignment) for (const p of a.partitions) owner.set(tp(a.topic, p), m.memberId)

  const committed = await admin.listConsumerGroupOffsets(d.groupId)
  const rows = new Map<string, PartitionOffset>()
  for (const o of committed) {
    if (o.error !== null) throw o.error
    rows.set(tp(o.topic, o.partition), { topic: o.topic, partition: o.partition, offset: o.offset, logEndOffset: null, lag: null, memberId: null })
  }
  // Assigned partitions without a commit yet are shown too, as kafka-consumer-groups does.
  for (const m of members) {
    for (const a of m.assignment) for (const p of a.partitions) if (!rows.has(tp(a.topic, p))) rows.set(tp(a.topic, p), { topic: a.topic, partition: p, offset: null, logEndOffset: null, lag: null, memberId: null })
  }
  const offsets = [...rows.values()].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
  if (offsets.length > 0) {
    const ends = await admin.listOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, spec: 'latest' as const })))
    const end = new Map(ends.map((e) => [tp(e.topic, e.partition), e.error === null ? e.offset : null]))
    for (const o of offsets) {
      // A deleted topic has no end offset; its lag is unknown rather than an error.
      o.logEndOffset = end.get(tp(o.topic, o.partition)) ?? null
      o.lag = o.offset !== null && o.logEndOffset !== null ? (o.logEndOffset > o.offset ? o.logEndOffset - o.offset : 0n) : null
      o.memberId = owner.get(tp(o.topic, o.partition)) ?? null
    }
  }
  return d.type === 'consumer'
    ? { groupId: d.groupId, type: 'consumer', state: d.state, protocolType: null, assignor: d.assignor, coordinator: d.coordinator, members, offsets }
    : { groupId: d.groupId, type: 'classic', state: d.state, protocolType: d.protocolType, assignor: d.protocol, coordinator: d.coordinator, members, offsets }
}

function groupText(g: DescribedGroup): string {
  let s = `Group: ${g.groupId}  State: ${g.state}  Type: ${g.type}${g.protocolType !== null ? `  ProtocolType: ${g.protocolType || '-'}` : ''}  Assignor: ${g.assignor || '-'}  Coordinator: ${g.coordinator}  Members: ${g.members.length}\n`
  if (g.members.length > 0) {
    s += table(
      ['MEMBER-ID', 'CLIENT-ID', 'HOST', 'ASSIGNMENT'],
      g.members.map((m) => [m.memberId, m.clientId, m.clientHost, m.assignment.map((a) => `${a.topic}:${a.partitions.join(',')}`).join(' ') || '-']),
    )
  }
  if (g.offsets.length > 0) {
    s += table(
      ['TOPIC', 'PARTITION', 'COMMITTED', 'LOG-END', 'LAG', 'MEMBER-ID'],
      g.offsets.map((o) => [o.topic, o.partition, o.offset, o.logEndOffset, o.lag, o.memberId]),
    )
  } else s += 'No committed offsets.\n'
  return s
}

const describeGroups: Command = {
  path: ['groups', 'describe'],
  summary: 'show members, committed offsets and lag of groups',
  usage: 'GROUP...',
  options: {},
  args: { min: 1, max: Infinity, name: 'GROUP' },
  async run(c) {
    const groups = await withAdmin(c, async (admin) => {
      const ds = await admin.describeGroups(c.args)
      const out: DescribedGroup[] = []
      for (const d of ds) out.push(await describeOne(admin, d))
      return out
    })
    c.print(
      () => groups.map(groupText).join('\n'),
      () => ({ groups }),
    )
  },
}

const deleteGroups: Command = {
  path: ['groups', 'delete'],
  summary: 'delete empty groups and their committed offsets',
  usage: 'GROUP...',
  options: {},
  args: { min: 1, max: Infinity, name: 'GROUP' },
  async run(c) {
    const results = await withAdmin(c, (a) => a.deleteGroups(c.args))
    c.print(
      () => results.filter((r) => r.error === null).map((r) => `Deleted group ${r.groupId}.\n`).join(''),
      () => ({ groups: results.map((r) => (r.error === null ? { groupId: r.groupId, deleted: true } : { groupId: r.groupId, deleted: false, error: errorJson(r.error) })) }),
    )
    return reportFailures(c, results)
  },
}

// ISO 8601 date, optionally with time and zone; without a zone the time is local, as in kafka-consumer-groups.
const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/

function resetTarget(v: Values): ResetTarget {
  const targets: ResetTarget[] = []
  if (flag(v, 'to-earliest')) targets.push('earliest')
  if (flag(v, 'to-latest')) targets.push('latest')
  const offset = str(v, 'to-offset')
  if (offset !== undefined) {
    if (!/^\d+$/.test(offset)) throw new UsageError(`--to-offset must be a non-negative whole number, got ${JSON.stringify(offset)}`)
    targets.push({ offset: BigInt(offset) })
  }
  const when = str(v, 'to-datetime')
  if (when !== undefined) {
    // Date.parse treats a date without time as UTC and a date-time without zone as local time.
    const ms = ISO_DATETIME.test(when) ? Date.parse(when.length === 10 ? `${when}T00:00` : when) : NaN
    if (Number.isNaN(ms)) throw new UsageError(`--to-datetime must be an ISO 8601 date-time such as 2024-05-01T12:00:00Z, got ${JSON.stringify(when)}`)
    targets.push({ timestamp: ms })
  }
  if (targets.length !== 1) throw new UsageError('give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime')
  return targets[0]!
}

/** "orders" (every partition) or "orders:0,2" (those partitions). */
function topicSpec(s: string): string | TopicPartition[] {
  const i = s.indexOf(':')
  if (i < 0) return s
  const topic = s.slice(0, i)
  if (topic === '') throw new UsageError(`--topic expects TOPIC or TOPIC:PARTITION,..., got ${JSON.stringify(s)}`)
  return s
    .slice(i + 1)
    .split(',')
    .map((p) => ({ topic, partition: int(p, '--topic partition', 0, 2 ** 31 - 1) }))
}

const INACTIVE = new Set(['empty', 'dead'])

const resetOffsets: Command = {
  path: ['groups', 'reset-offsets'],
  summary: "move a group's committed offsets",
  usage: 'GROUP (--topic TOPIC[:P,...]... | --all-topics) (--to-earliest | --to-latest | --to-offset N | --to-datetime ISO) [--dry-run]',
  description:
    'The group must have no active members (stop its consumers first). --to-offset is clamped to the\n' +
    'partition\'s earliest..latest range; --to-datetime finds the first record at or after the time (the log end if none).',
  options: {
    topic: { type: 'string', multiple: true, arg: 'TOPIC[:P,...]', help: 'a topic, or some of its partitions (repeatable)' },
    'all-topics': { type: 'boolean', help: 'every topic the group has committed offsets for' },
    'to-earliest': { type: 'boolean', help: 'to the first offset still in the log' },
    'to-latest': { type: 'boolean', help: 'to the log end (skip everything)' },
    'to-offset': { type: 'string', arg: 'N', help: 'to offset N' },
    'to-datetime': { type: 'string', arg: 'ISO', help: 'to the first record at or after this time, e.g. 2024-05-01T12:00:00Z' },
    'dry-run': { type: 'boolean', help: 'show the new offsets without committing them' },
  },
  args: { min: 1, max: 1, name: 'GROUP' },
  async run(c) {
    const groupId = c.args[0]!
    const to = resetTarget(c.values)
    const specs = list(c.values, 'topic').map(topicSpec)
    const all = flag(c.values, 'all-topics')
    if ((specs.length > 0) === all) throw new UsageError('give --topic (repeatable) or --all-topics')
    const dryRun = flag(c.values, 'dry-run')

    const { before, results } = await withAdmin(c, async (admin) => {
      const [d] = await admin.describeGroups([groupId])
      if (d!.error === null && !INACTIVE.has(d!.state.toLowerCase()) && !dryRun) {
        throw new KafkawireError('NON_EMPTY_GROUP', `group ${groupId} is ${d!.state}; offsets can only be reset while it has no active members`, { context: { groupId } })
      }
      // A group that does not exist yet is fine: the reset creates its offsets.
      if (d!.error !== null && d!.error.code !== 'GROUP_ID_NOT_FOUND') throw d!.error
      const committed = await admin.listConsumerGroupOffsets(groupId)
      const topics: Array<string | TopicPartition> = all ? [...new Set(committed.map((o) => o.topic))] : specs.flat()
      if (topics.length === 0) throw new KafkawireError('NO_OFFSETS', `group ${groupId} has no committed offsets; name the topics with --topic`, { context: { groupId } })
      const before = new Map(committed.map((o) => [tp(o.topic, o.partition), o.error === null ? o.offset : null]))
      return { before, results: await admin.resetConsumerGroupOffsets(groupId, { topics, to, dryRun }) }
    })
    c.print(
      () =>
        table(
          ['TOPIC', 'PARTITION', 'PREVIOUS', 'NEW-OFFSET'],
          results.flatMap((r) => (r.error === null ? [[r.topic, r.partition, before.get(tp(r.topic, r.partition)) ?? null, r.offset]] : [])),
        ) + (dryRun ? 'Dry run: nothing was committed.\n' : ''),
      () => ({
        groupId,
        dryRun,
        offsets: results.map((r) =>
          r.error === null
            ? { topic: r.topic, partition: r.partition, previousOffset: before.get(tp(r.topic, r.partition)) ?? null, offset: r.offset }
            : { topic: r.topic, partition: r.partition, error: errorJson(r.error) },
        ),
      }),
    )
    return reportFailures(c, results)
  },
}

export const groupCommands: Command[] = [listGroups, describeGroups, deleteGroups, resetOffsets]
