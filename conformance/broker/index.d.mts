// Types of index.mjs, for the TypeScript conformance tests.

export type KafkaVersion = '4.3.1' | '3.9.1'
/** Kafka implementations the tooling can start: Apache Kafka, franz-go's kfake, Tansu. */
export type Impl = 'apache' | 'kfake' | 'tansu'
/** A version or an alias: '4' and '4.3' mean 4.3.1, '3' and '3.9' mean 3.9.1; 'apache-' prefixes are accepted. */
export type KafkaVersionSpec = KafkaVersion | '4' | '4.3' | '3' | '3.9' | `apache-${KafkaVersion}`
export type NodeSignal = 'KILL' | 'STOP' | 'CONT' | 'TERM'
export type Log = (line: string) => void

export class BrokerError extends Error {}

export const VERSIONS: Record<KafkaVersion, { line: 3 | 4; scala: string; log4j2?: string }>
export const DEFAULT_NAME: string
export const DEFAULT_PORT_BASE: number
export const HOST: '127.0.0.1'
export const SASL_MECHANISMS: readonly ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']
/** PLAIN users; SCRAM-SHA-256 and SCRAM-SHA-512 know alice only. */
export const USERS: { readonly alice: string; readonly admin: string }

/** What tests read from the environment. The SASL/SSL entries exist for one-node clusters only. */
export interface ClusterEnv {
  KAFKA_BROKERS: string
  /** Apache Kafka only. */
  KAFKA_VERSION?: KafkaVersion
  KAFKA_IMPL: Impl
  /** kfake and Tansu: the module or crate version. */
  KAFKA_IMPL_VERSION?: string
  KAFKAWIRE_CLUSTER: string
  /** 'separate' when the SASL listener belongs to another cluster (kfake): no shared topics or credentials. */
  KAFKA_SASL_CLUSTER?: 'separate'
  KAFKA_SASL_BROKERS?: string
  KAFKA_SSL_BROKERS?: string
  KAFKA_SASL_SSL_BROKERS?: string
  /** PEM of the CA that signed the broker certificate (SAN DNS:localhost, IP:127.0.0.1). */
  KAFKA_CA?: string
  /** The same CA as a PKCS12 trust store, for Java clients. */
  KAFKA_TRUSTSTORE?: string
  KAFKA_TRUSTSTORE_PASSWORD?: string
  KAFKA_SASL_USERNAME?: string
  KAFKA_SASL_PASSWORD?: string
  KAFKA_SASL_MECHANISM?: string
  /** Comma-separated list of every mechanism the user can authenticate with. */
  KAFKA_SASL_MECHANISMS?: string
}

export interface ClusterNode {
  id: number
  host: string
  /** PLAINTEXT port */
  port: number
  pid: number | null
  state: 'running' | 'paused' | 'down'
}

export interface Cluster extends ClusterEnv {
  env: ClusterEnv
  name: string
  impl: Impl
  /** Kafka version for apache, module or crate version otherwise. */
  implVersion: string
  /** null for kfake and Tansu */
  kafka: KafkaVersion | null
  nodes: ClusterNode[]
  logsDir: string
  stateDir: string
}

export interface ClusterStatus extends Cluster {
  state: 'running' | 'degraded' | 'down'
  owner: number | null
  settings: { impl: Impl; kafka?: KafkaVersion; nodes: 1 | 3; portBase: number; features: string[]; configs: string[] }
}

export interface StartOptions {
  /** default 'apache'. kfake: brokers at portBase+0..2 and a SASL cluster at portBase+5; tansu: one node at portBase. */
  impl?: Impl
  /** apache only */
  kafka?: KafkaVersionSpec
  nodes?: 1 | 3
  /** one node: +0 PLAINTEXT, +1 CONTROLLER, +2 SASL_PLAINTEXT, +3 SSL, +4 SASL_SSL; three: node N at +(N-1)*10 */
  portBase?: number
  name?: string
  /** kfake: start the SASL cluster beside it (default true) */
  sasl?: boolean
  /** apache only: StorageTool format -f k=v, e.g. 'transaction.version=0' */
  features?: string[]
  /** server properties k=v, replacing defaults; 'k=' removes a default */
  configs?: string[]
  /** pid whose death marks the cluster as stale; defaults to $KAFKAWIRE_OWNER */
  owner?: number
  log?: Log
}

export interface FetchResult {
  version: KafkaVersion
  libs: string
  jars: number
  downloaded: boolean
  seconds: number
}

export interface ToolResult {
  code: number | null
  signal: NodeJS.Signals | null
  timedOut: boolean
  stdout: string
  stderr: string
}

export interface ToolOptions {
  input?: string | Buffer | NodeJS.ReadableStream
  /** default 300 000; the tool is SIGKILLed after it */
  timeoutMs?: number
  /** replaces the default heap/JIT flags */
  jvmArgs?: string[]
  env?: Record<string, string>
  cwd?: string
  log?: Log
}

export function resolveVersion(v?: KafkaVersionSpec | string): KafkaVersion
export function cacheDir(): string
export function libsDir(version: KafkaVersionSpec): string
export function stateRoot(): string
export function fetchKafka(version?: KafkaVersionSpec, opts?: { log?: Log }): Promise<FetchResult>
export function runKafkaTool(version: KafkaVersionSpec, mainClass: string, args?: string[], opts?: ToolOptions): Promise<ToolResult>

export function startCluster(opts?: StartOptions): Promise<Cluster>
/** Resolves false when no cluster of that name exists. */
export function stopCluster(name?: string, opts?: { keepLogs?: boolean }): Promise<boolean>
export function clusterStatus(name?: string): ClusterStatus | null
export function listClusters(): string[]
/** apache only: kfake serves all brokers from one process, Tansu keeps its data in memory. */
export function killNode(name: string, id: number, signal?: NodeSignal): Promise<Cluster>
export function restartNode(name: string, id: number, opts?: { log?: Log }): Promise<Cluster>

export const IMPLS: readonly Impl[]
export function resolveImpl(impl?: string): Impl
export function kfakeVersion(): string
/** <cache>/kfake/<hash of the launcher's sources>/kfake-launcher */
export function kfakeBinary(): string
export function ensureKfake(opts: { log: Log }): Promise<{ binary: string; built: boolean; seconds: number }>
/** $KAFKAWIRE_TANSU, else <cache>/tansu/bin/tansu */
export function tansuBinary(): string
export function tansuBuildCommand(): string
/** null when the Tansu binary is present, else a one-line reason */
export function tansuMissing(): string | null
export function buildTansu(opts: { log: Log }): Promise<{ binary: string; built: boolean; seconds: number }>

export function javaClientProperties(
  cluster: ClusterEnv,
  opts?: { protocol?: 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL'; mechanism?: string; username?: string; password?: string },
): string

/** Name, port base and version for a test's own 3-node cluster (from the orchestrator's environment). */
export function threeNodeOptions(): { name: string; portBase: number; kafka: KafkaVersionSpec; nodes: 3 }
