/**
 * Types shared by the admin operations, and the readable names of the
 * protocol's enumerations (ACL resource types, operations, config sources)
 * with their wire numbers.
 */
import type { KafkawireError } from '../../protocol/errors.js'

/** Every admin method takes these. */
export interface OperationOptions {
  /** Overall deadline, retries included. Default: the client's defaultTimeoutMs (60 s). */
  timeoutMs?: number
  signal?: AbortSignal
}

/**
 * One item of a result: `error` is null and the data fields are present, or
 * `error` says what went wrong with this item (typically a BrokerError whose
 * `code` is the Kafka error name and whose context names the resource).
 * `if (r.error === null)` narrows to the data.
 */
export type Outcome<Key, Data> = (Key & Data & { error: null }) | (Key & { error: KafkawireError })

export interface TopicPartition {
  topic: string
  partition: number
}

/** A failure of one broker in an operation that asks every broker (listGroups, listTransactions, describeLogDirs). */
export interface BrokerFailure {
  nodeId: number
  error: KafkawireError
}

// ---- ACL enumerations (org.apache.kafka.common.resource / .acl) ------------------------

export type ResourceType = 'topic' | 'group' | 'cluster' | 'transactional-id' | 'delegation-token' | 'user'
export type PatternType = 'literal' | 'prefixed'
export type AclOperation =
  | 'all'
  | 'read'
  | 'write'
  | 'create'
  | 'delete'
  | 'alter'
  | 'describe'
  | 'cluster-action'
  | 'describe-configs'
  | 'alter-configs'
  | 'idempotent-write'
  | 'create-tokens'
  | 'describe-tokens'
  | 'two-phase-commit'
export type AclPermission = 'allow' | 'deny'

/** Wire codes; 0 is UNKNOWN and 1 is ANY in each enumeration. */
export const RESOURCE_TYPES: Record<ResourceType | 'any', number> = {
  any: 1,
  topic: 2,
  group: 3,
  cluster: 4,
  'transactional-id': 5,
  'delegation-token': 6,
  user: 7,
}
export const PATTERN_TYPES: Record<PatternType | 'any' | 'match', number> = { any: 1, match: 2, literal: 3, prefixed: 4 }
export const ACL_OPERATIONS: Record<AclOperation | 'any', number> = {
  any: 1,
  all: 2,
  read: 3,
  write: 4,
  create: 5,
  delete: 6,
  alter: 7,
  describe: 8,
  'cluster-action': 9,
  'describe-configs': 10,
  'alter-configs': 11,
  'idempotent-write': 12,
  'create-tokens': 13,
  'describe-tokens': 14,
  'two-phase-commit': 15, // KIP-939
}
export const ACL_PERMISSIONS: Record<AclPermission | 'any', number> = { any: 1, deny: 2, allow: 3 }

/** The readable name of a wire code, or 'unknown' for a code this client does not know. */
export function nameOf<N extends string>(table: Record<N, number>, code: number): N | 'unknown' {
  for (const [name, c] of Object.entries(table) as Array<[N, number]>) if (c === code) return name
  return 'unknown'
}

const AUTHORIZED_OPERATIONS_OMITTED = -2147483648

/**
 * Decodes an authorized-operations bit field (KIP-430): bit n set means
 * operation code n is allowed. UNKNOWN, ANY and ALL are never reported, as in
 * the reference client. Null when the broker omitted the field.
 */
export function authorizedOperations(bits: number): AclOperation[] | null {
  if (bits === AUTHORIZED_OPERATIONS_OMITTED) return null
  const out: AclOperation[] = []
  for (let code = 3; code < 32; code++) {
    if ((bits & (1 << code)) === 0) continue
    const name = nameOf(ACL_OPERATIONS, code)
    if (name !== 'unknown' && name !== 'any' && name !== 'all') out.push(name)
  }
  return out
}

// ---- configs (org.apache.kafka.common.config.ConfigResource, DescribeConfigsResponse) ---

export type ConfigResourceType = 'topic' | 'broker' | 'broker-logger' | 'client-metrics' | 'group'
export const CONFIG_RESOURCE_TYPES: Record<ConfigResourceType, number> = {
  topic: 2,
  broker: 4,
  'broker-logger': 8,
  'client-metrics': 16, // KIP-714
  group: 32, // KIP-848
}

export type ConfigSource =
  | 'unknown'
  | 'dynamic-topic'
  | 'dynamic-broker'
  | 'dynamic-default-broker'
  | 'static-broker'
  | 'default'
  | 'dynamic-broker-logger'
  | 'client-metrics'
  | 'group'
const CONFIG_SOURCES: ConfigSource[] = [
  'unknown',
  'dynamic-topic',
  'dynamic-broker',
  'dynamic-default-broker',
  'static-broker',
  'default',
  'dynamic-broker-logger',
  'client-metrics',
  'group',
]
export function configSource(code: number): ConfigSource {
  return CONFIG_SOURCES[code] ?? 'unknown'
}

export type ConfigType = 'unknown' | 'boolean' | 'string' | 'int' | 'short' | 'long' | 'double' | 'list' | 'class' | 'password'
const CONFIG_TYPES: ConfigType[] = ['unknown', 'boolean', 'string', 'int', 'short', 'long', 'double', 'list', 'class', 'password']
export function configType(code: number): ConfigType {
  return CONFIG_TYPES[code] ?? 'unknown'
}

export interface ConfigSynonym {
  name: string
  value: string | null
  source: ConfigSource
}

export interface ConfigEntry {
  name: string
  /** Null for sensitive values, and for values that are not set. */
  value: string | null
  readOnly: boolean
  isSensitive: boolean
  isDefault: boolean
  source: ConfigSource
  /** With includeSynonyms: where else the value is defined, highest precedence first. */
  synonyms: ConfigSynonym[]
  /** DescribeConfigs v3+ (KIP-569); null otherwise. */
  type: ConfigType | null
  /** With includeDocumentation (v3+); null otherwise. */
  documentation: string | null
}
