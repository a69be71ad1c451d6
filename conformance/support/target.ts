// What the cluster under test can do, and how a conformance test declares what it needs.
//
//   import { requires } from '../support/target.js'
//
//   test('commits a transaction', requires('transactions'), async () => { ... })     // one test
//   describe('KIP-848 groups', requires('kip848'), () => { ... })                    // a whole suite
//   test('...', async (t) => { if (!requires(t, 'quotas')) return; ... })            // decided inside
//
// A feature the cluster lacks marks the test (or suite) as skipped with the reason
// "unsupported by <impl>: <feature>"; conformance/run.mjs lists and counts those, apart from passes and
// failures, in the summary line of each implementation. Nothing is skipped silently: a skip reason that
// does not start with "unsupported by" is reported too, and an unknown feature name, or a cluster whose
// capabilities cannot be read, fails the test file.
//
// Capabilities come from the cluster itself (ApiVersions and finalized features of every broker, read
// once per test file at import), from the environment (listeners, credentials, whether run.mjs started
// the cluster) and, for the few gaps ApiVersions does not show, from the implementation's name
// (KAFKA_IMPL), each with the behaviour written next to it.
import type { TestContext } from 'node:test'
import { Cluster } from '../../src/client/cluster.js'
import type { VersionRange } from '../../src/client/versions.js'
import { apiSchema } from '../../src/protocol/api.js'

const env = process.env

/** apache, kfake, tansu, or what KAFKA_IMPL says (e.g. redpanda); 'external' for a cluster that does not say. */
export const impl: string = env.KAFKA_IMPL || 'external'
export const managed = env.KAFKAWIRE_MANAGED === '1'

export interface Capabilities {
  /** Per API key, the versions every broker supports (the intersection of their ranges). */
  apis: Map<number, VersionRange>
  /** Per finalized feature, the lowest level among the brokers (absent: 0). */
  features: Map<string, number>
  brokers: number
}

async function probe(brokers: string): Promise<Capabilities> {
  const cluster = new Cluster({ brokers, clientId: 'kafkawire-conformance-probe', defaultTimeoutMs: 30_000, connectTimeoutMs: 15_000 })
  try {
    await cluster.connect()
    const apis = new Map<number, VersionRange>()
    const features = new Map<string, number>()
    const nodes = cluster.brokers
    for (const [i, b] of nodes.entries()) {
      const v = (await cluster.connectionTo(b.nodeId)).versions
      const keys = new Set(v.apiKeys)
      for (const k of i === 0 ? keys : [...apis.keys()]) {
        const r = v.get(k)
        const prev = apis.get(k)
        if (r === undefined) apis.delete(k)
        else apis.set(k, prev === undefined ? r : { minVersion: Math.max(prev.minVersion, r.minVersion), maxVersion: Math.min(prev.maxVersion, r.maxVersion) })
      }
      for (const name of FEATURE_FLAGS) {
        const level = v.featureLevel(name)
        features.set(name, i === 0 ? level : Math.min(features.get(name) ?? 0, level))
      }
    }
    return { apis, features, brokers: nodes.length }
  } catch (err) {
    throw new Error(`conformance: cannot read the capabilities of ${brokers} (ApiVersions of every broker): ${(err as Error).message}`, { cause: err })
  } finally {
    cluster.destroy()
  }
}

const FEATURE_FLAGS = ['metadata.version', 'transaction.version', 'group.version', 'share.version', 'kraft.version']

/** Null without KAFKA_BROKERS. Read at import: a cluster that cannot be reached fails the test file. */
export const capabilities: Capabilities | null = env.KAFKA_BROKERS ? await probe(env.KAFKA_BROKERS) : null

// ---------- the feature table ----------

type Api = number | [apiKey: number, minVersion: number]

interface Feature {
  /** How the summary line names it. */
  label: string
  /** APIs (at least that version) every broker must offer. */
  apis?: Api[]
  /** Finalized feature levels (KIP-584) the cluster must report. */
  finalized?: Record<string, number>
  /** Environment variables that must be set (listeners, credentials). */
  env?: string[]
  /** Only a cluster conformance/run.mjs started (the test reconfigures, kills or starts clusters). */
  managed?: boolean
  /** Only these implementations can do it (the test starts its own Apache Kafka cluster). */
  onlyImpls?: string[]
  /**
   * Gaps that ApiVersions does not show: the implementation advertises the API but does not behave as
   * Apache Kafka does. Each entry names the behaviour.
   */
  lacking?: Record<string, string>
  /** Other features this one implies. */
  needs?: string[]
  /** A last check on the capabilities (after apis and finalized passed): why it is missing, or null. */
  check?: (c: Capabilities) => string | null
}

const TXN_APIS: Api[] = [22, 24, 25, 26, 28]

/** A check that the broker still serves API `apiKey` from version `version` (or earlier) on. */
function startsBy(apiKey: number, name: string, version: number): (c: Capabilities) => string | null {
  return (c) => {
    const min = c.apis.get(apiKey)!.minVersion
    return min <= version ? null : `${name} starts at v${min}`
  }
}

export const FEATURES = {
  // ---- producer ----
  idempotence: { label: 'idempotent producer (InitProducerId)', apis: [22] },
  transactions: { label: 'transactions', apis: TXN_APIS },
  'transactions-v2': {
    label: 'KIP-890 transactions V2',
    needs: ['transactions'],
    apis: [[26, 5], [24, 5]],
    finalized: { 'transaction.version': 2 },
  },
  'max-message-bytes': {
    label: "the topic's max.message.bytes enforced",
    apis: [0],
    // Tansu 0.6.0 takes a batch of any size.
    lacking: { tansu: 'accepts batches larger than max.message.bytes' },
  },
  'txn-fencing': {
    label: 'PRODUCER_FENCED for the EndTxn of a fenced producer',
    needs: ['transactions'],
    // kfake (TV2, EndTxn v5) takes the EndTxn of a producer fenced by a newer InitProducerId, one epoch
    // behind, for a retry of the abort the fencing made, and answers INVALID_TXN_STATE: the zombie fails
    // with that fatal error instead of ProducerFencedError.
    lacking: { kfake: 'answers INVALID_TXN_STATE (it takes the fenced EndTxn for a retry of the abort the fencing made)' },
  },
  'legacy-formats': {
    // Produce v0-v2 carry message format v0/v1. Apache Kafka 4 removed them (KIP-896; it still advertises
    // Produce v0, which src/client/versions.ts corrects), kfake never had them.
    label: 'legacy message formats (Produce v0-v2)',
    apis: [0],
    // Tansu 0.6.0 advertises Produce v0-v2, but decodes every record set as a v2 batch: magic 0/1 fail
    // their CRC and it closes the connection.
    lacking: { tansu: 'advertises Produce v0-v2 but reads every record set as a v2 batch and closes the connection' },
    check: startsBy(0, 'Produce', 2),
  },
  'legacy-fetch': {
    // Fetch v0-v3 answer with message formats v0/v1: the broker down-converts the v2 batches it stores
    // (the only way a 3.x broker still serves legacy message sets, message.format.version being ignored
    // since 3.0, KIP-724). Apache Kafka 4 removed them (KIP-896).
    label: 'Fetch v0-v3 (legacy message formats, down-converted)',
    apis: [1],
    // Tansu 0.6.0 advertises Fetch v0-v3 but answers them with the v2 batches it stores (magic 2).
    lacking: { tansu: 'advertises Fetch v0-v3 but answers with v2 batches, not down-converted message sets' },
    check: startsBy(1, 'Fetch', 0),
  },
  'list-offsets-v0': {
    label: 'ListOffsets v0',
    apis: [2],
    check: startsBy(2, 'ListOffsets', 0),
    // Tansu 0.6.0 answers ListOffsets v0 without the OldStyleOffsets array: the response ends early.
    lacking: { tansu: 'answers v0 without its OldStyleOffsets array' },
  },
  'list-offsets-by-time': {
    label: 'ListOffsets by timestamp (no offset after the last record)',
    apis: [[2, 1]],
    lacking: { tansu: 'answers an offset for a timestamp after the last record' },
  },
  'list-offsets-latest': {
    label: 'ListOffsets latest (the log end offset)',
    apis: [2],
    // Tansu 0.6.0 answers the base offset of the last batch plus one: after batches of three records at
    // offsets 0, 3 and 6 it says 7, not 9. Fetch reports the right high watermark.
    lacking: { tansu: 'answers the base offset of the last batch + 1' },
  },
  'config-sources': {
    label: 'config sources (which configs are set on the topic)',
    apis: [32],
    // Tansu 0.6.0 describes every topic config, set or not, with source DEFAULT_CONFIG.
    lacking: { tansu: 'reports every topic config as DEFAULT_CONFIG, the ones set on the topic included' },
  },
  'offset-metadata': {
    label: 'the metadata of committed offsets kept',
    apis: [8, 9],
    lacking: { tansu: 'drops it' },
  },
  'group-states': {
    label: "Apache Kafka's group states (Empty; Dead or GROUP_ID_NOT_FOUND for unknown groups)",
    apis: [15, 16],
    // Tansu 0.6.0: ListGroups shows a group known only by its committed offsets as "Unknown", and
    // DescribeGroups answers for any unknown or deleted group id with an existing group in state "Empty".
    lacking: { tansu: "describes unknown and deleted groups as Empty, lists offsets-only groups as Unknown" },
  },
  // ---- consumer ----
  'classic-groups': { label: 'classic consumer groups', apis: [10, 11, 12, 13, 14, 8, 9] },
  'static-rejoin': {
    label: 'a static member rejoining a stable group without a rebalance (KIP-345)',
    needs: ['classic-groups'],
    // Apache Kafka hands a static member that rejoins with the same protocols its previous assignment and
    // keeps the generation. kfake does so only when the JoinGroup metadata is byte for byte the one the
    // member last sent; a restarted consumer's subscription carries other owned partitions and generation
    // (consumer protocol v1+, as the Java client's does), so kfake rebalances the whole group.
    lacking: { kfake: 'rebalances unless the rejoin carries byte-identical subscription metadata (owned partitions, generation)' },
  },
  'classic-rebalance': {
    label: 'classic group rebalances with several dynamic members (JoinGroup waits for every member)',
    needs: ['classic-groups'],
    // Tansu 0.6.0 answers every JoinGroup at once (a follower's after a 3 s pause) instead of holding it until
    // every member has joined. A follower whose subscription metadata changed (its owned partitions and
    // generation, which the consumer protocol v1+ carries and which change with every generation; the Java
    // client's do too) starts a new generation with each JoinGroup (member_metadata="update"), and its
    // SyncGroup, arriving before the leader's, gets REBALANCE_IN_PROGRESS: the follower rejoins forever. And
    // only Heartbeat keeps a session (not JoinGroup or SyncGroup, nor a Heartbeat of an older generation): a
    // member rejoining for longer than the session timeout is dropped ("missed heartbeat") and re-added as new,
    // without UNKNOWN_MEMBER_ID, while the leader hands its partitions to others. Three of our members or three
    // Java 4.3.1 members (cooperative-sticky) never balance 6 partitions, and end with a partition owned twice.
    lacking: {
      tansu: "answers JoinGroup without waiting for the group: a follower's rejoin with changed subscription metadata starts a new generation and its SyncGroup fails, so followers rejoin forever; members rejoining past the session timeout are dropped silently",
    },
  },
  kip848: { label: 'KIP-848 consumer groups', apis: [68], finalized: { 'group.version': 1 } },
  'kip848-describe': { label: 'KIP-848 ConsumerGroupDescribe', needs: ['kip848'], apis: [69] },
  'fetch-sessions': { label: 'fetch sessions (KIP-227)', apis: [[1, 7]] },
  'fetch-mid-batch': {
    label: 'Fetch from an offset inside a record batch',
    apis: [1],
    // Tansu 0.6.0 answers a Fetch at an offset inside a batch from the next batch on: the rest of that batch
    // is skipped (fetch at 1 with batches 0-2 and 3-5 gives 3-5), and inside the last batch nothing comes
    // back although the high watermark is past it. The Java client reads the same way and would skip or
    // wait too; a consumer that starts at a batch boundary (the beginning, or offsets committed after
    // whole batches) is not affected.
    lacking: { tansu: 'answers from the next batch on (the rest of the batch is skipped; nothing inside the last batch)' },
  },
  'leader-epoch-validation': { label: 'OffsetForLeaderEpoch (KIP-320 validation)', apis: [[23, 3]] },
  // ---- admin ----
  'describe-cluster': { label: 'DescribeCluster', apis: [60] },
  'describe-configs': { label: 'DescribeConfigs', apis: [32] },
  'alter-configs': { label: 'IncrementalAlterConfigs', apis: [44] },
  'alter-config-lists': {
    label: 'IncrementalAlterConfigs APPEND and SUBTRACT',
    needs: ['alter-configs'],
    // A panic in Tansu poisons the lock around its in-memory storage: every later request fails too, so
    // these must never be sent to it.
    lacking: {
      tansu: 'panics on APPEND and SUBTRACT (todo!), which breaks the broker for every later request',
      kfake: 'appends to the value set on the topic, not to the default it replaces',
    },
  },
  'config-validation': {
    label: 'config and quota values validated (INVALID_CONFIG, INVALID_REQUEST)',
    lacking: { kfake: 'accepts any config or quota value', tansu: 'accepts any config value, for topics that do not exist too' },
  },
  'config-errors': {
    label: 'UNKNOWN_TOPIC_OR_PARTITION for the configs of a topic that does not exist',
    apis: [32],
    lacking: { tansu: 'describes it with no configs and no error' },
  },
  'authorized-operations': {
    label: 'authorized operations (KIP-430)',
    lacking: { tansu: 'reports none' },
  },
  'config-details': {
    label: "config synonyms, documentation and sources, broker log.dirs and loggers, as Apache Kafka reports them",
    apis: [32],
    lacking: {
      kfake: 'reports no synonyms, documentation, log.dirs or broker loggers, and CreateTopics configs with source UNKNOWN',
      tansu: 'reports every topic config as DEFAULT_CONFIG and no broker configs',
    },
  },
  'create-partitions': { label: 'CreatePartitions', apis: [37] },
  'delete-records': {
    label: 'DeleteRecords',
    apis: [21],
    lacking: { tansu: 'advertises DeleteRecords v0-2 but panics (todo!), which breaks the broker for every later request' },
  },
  'delete-groups': { label: 'DeleteGroups', apis: [42] },
  'offset-delete': { label: 'OffsetDelete', apis: [47] },
  'describe-topic-partitions': { label: 'DescribeTopicPartitions (KIP-966)', apis: [75] },
  'log-dirs': { label: 'DescribeLogDirs', apis: [35] },
  'log-dir-sizes': {
    label: 'DescribeLogDirs volume sizes (TotalBytes >= UsableBytes)',
    needs: ['log-dirs'],
    lacking: { kfake: 'reports the bytes of its data as TotalBytes, less than UsableBytes' },
  },
  'elect-leaders': { label: 'ElectLeaders', apis: [43] },
  'election-not-needed': {
    label: 'ELECTION_NOT_NEEDED where the preferred leader leads',
    needs: ['elect-leaders'],
    lacking: { kfake: 'answers success' },
  },
  reassignments: { label: 'partition reassignments', apis: [45, 46] },
  'reassignment-validation': {
    label: 'reassignments to brokers that do not exist refused',
    needs: ['reassignments'],
    lacking: { kfake: 'accepts them' },
  },
  'describe-producers': { label: 'DescribeProducers', apis: [61] },
  'idempotent-producer-state': {
    label: 'DescribeProducers lists idempotent producers',
    needs: ['describe-producers'],
    lacking: { kfake: 'lists transactional producers only' },
  },
  'txn-states': {
    label: 'transaction states as Apache Kafka names them (CompleteCommit after a commit)',
    needs: ['describe-transactions'],
    lacking: { kfake: 'a completed transaction is Empty' },
  },
  'describe-transactions': { label: 'DescribeTransactions and ListTransactions', needs: ['transactions'], apis: [65, 66] },
  acls: { label: 'ACL APIs', apis: [29, 30, 31] },
  quotas: { label: 'client quotas', apis: [48, 49] },
  scram: { label: 'SCRAM credential APIs', apis: [50, 51] },
  // ---- listeners and credentials ----
  sasl: { label: 'SASL_PLAINTEXT listener', env: ['KAFKA_SASL_BROKERS', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] },
  'sasl-same-cluster': {
    label: 'SASL listener on the same cluster',
    needs: ['sasl'],
    // kfake enables SASL per cluster: its SASL listener is a second cluster (KAFKA_SASL_CLUSTER=separate).
    lacking: env.KAFKA_SASL_CLUSTER === 'separate' ? { [impl]: 'the SASL listener is another cluster' } : {},
  },
  tls: { label: 'TLS listener', env: ['KAFKA_SSL_BROKERS', 'KAFKA_CA'] },
  'tls-alert': {
    label: 'a TLS alert in answer to a plaintext client',
    needs: ['tls'],
    // Go's crypto/tls (kfake) closes the connection on a first record that is not a handshake, without an
    // alert: the client sees a closed connection, not TLS.
    lacking: { kfake: "closes the connection without an alert (Go's crypto/tls)" },
  },
  'sasl-ssl': { label: 'SASL_SSL listener', env: ['KAFKA_SASL_SSL_BROKERS', 'KAFKA_CA', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] },
  // ---- what the harness can do with the cluster ----
  managed: { label: 'a cluster this run started', managed: true },
  'three-nodes': {
    // The test starts, kills and restarts nodes of its own 3-node Apache Kafka cluster (threeNodeOptions()):
    // against another implementation that would test Apache Kafka again.
    label: 'a 3-node cluster with per-node kill and restart',
    managed: true,
    onlyImpls: ['apache'],
  },
  'own-cluster': {
    // The test starts a differently configured Apache Kafka cluster of its own (e.g. with an authorizer).
    label: 'a reconfigured cluster of its own',
    managed: true,
    onlyImpls: ['apache'],
  },
  'java-tools': {
    // ProducerPerformance, ConsoleConsumer and friends of the Apache Kafka release in KAFKA_VERSION (4.3.1 for
    // other implementations): clients only, they work against any implementation that serves their requests.
    label: "Apache Kafka's Java tools",
    needs: ['idempotence'],
  },
} satisfies Record<string, Feature>

export type FeatureName = keyof typeof FEATURES

function apiLabel(key: number): string {
  try {
    return `${apiSchema(key).name} (API ${key})`
  } catch {
    return `API ${key}`
  }
}

/** Why `name` is missing here (a short phrase), or null when the cluster has it. */
function lack(name: string, seen = new Set<string>()): string | null {
  const f = (FEATURES as Record<string, Feature>)[name]
  if (f === undefined) {
    throw new Error(`conformance: unknown feature "${name}" (known: ${Object.keys(FEATURES).join(', ')})`)
  }
  if (seen.has(name)) return null
  seen.add(name)
  for (const n of f.needs ?? []) {
    const why = lack(n, seen)
    if (why !== null) return why
  }
  if (f.managed && !managed) return 'needs a cluster started by conformance/run.mjs (KAFKAWIRE_MANAGED=1)'
  if (f.onlyImpls && !f.onlyImpls.includes(impl)) return `starts its own ${f.onlyImpls.join('/')} cluster`
  const unset = (f.env ?? []).filter((v) => !env[v])
  if (unset.length > 0) return `${unset.join(', ')} not set`
  if (f.lacking?.[impl] !== undefined) return f.lacking[impl]!
  if ((f.apis?.length ?? 0) > 0 || f.finalized) {
    if (capabilities === null) return 'KAFKA_BROKERS not set'
    for (const a of f.apis ?? []) {
      const [key, min] = typeof a === 'number' ? [a, 0] : a
      const r = capabilities.apis.get(key)
      if (r === undefined) return `no ${apiLabel(key)}`
      if (r.maxVersion < min) return `${apiLabel(key)} only up to v${r.maxVersion}, needs v${min}`
    }
    for (const [flag, level] of Object.entries(f.finalized ?? {})) {
      const have = capabilities.features.get(flag) ?? 0
      if (have < level) return `finalized ${flag}=${have}, needs ${level}`
    }
  }
  if (f.check) {
    if (capabilities === null) return 'KAFKA_BROKERS not set'
    return f.check(capabilities)
  }
  return null
}

/** The first missing feature as "unsupported by <impl>: <label> — <why>", or null when all are there. */
export function unsupportedReason(...features: FeatureName[]): string | null {
  for (const name of features) {
    const why = lack(name)
    if (why !== null) return `unsupported by ${impl}: ${(FEATURES as Record<string, Feature>)[name]!.label} — ${why}`
  }
  return null
}

/** Whether the cluster has every feature (no side effects). */
export function has(...features: FeatureName[]): boolean {
  return unsupportedReason(...features) === null
}

/**
 * requires('a', 'b') -> options for test() or describe(): skipped as "unsupported by <impl>: ..." when a
 * feature is missing. requires(t, 'a', 'b') inside a test -> false (and the test marked) when missing.
 */
export function requires(...features: FeatureName[]): { skip?: string }
export function requires(t: TestContext, ...features: FeatureName[]): boolean
export function requires(first: TestContext | FeatureName, ...rest: FeatureName[]): { skip?: string } | boolean {
  if (typeof first === 'string') {
    const why = unsupportedReason(first, ...rest)
    return why === null ? {} : { skip: why }
  }
  const why = unsupportedReason(...rest)
  if (why === null) return true
  first.skip(why)
  return false
}

/** One line for a diagnostic: what the cluster is. */
export function describeTarget(): string {
  const version = env.KAFKA_VERSION ?? env.KAFKA_IMPL_VERSION ?? '?'
  if (capabilities === null) return `${impl} ${version}, KAFKA_BROKERS not set`
  const flags = [...capabilities.features].filter(([, v]) => v > 0).map(([k, v]) => `${k}=${v}`).join(' ')
  return `${impl} ${version}: ${capabilities.brokers} broker(s), ${capabilities.apis.size} APIs${flags ? `, ${flags}` : ''}`
}
