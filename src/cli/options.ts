/**
 * Command-line options shared by every command, and the parsers for option
 * values. A bad option is a UsageError (exit 2); a failure talking to Kafka
 * is a KafkawireError (exit 1).
 */
import { readFileSync } from 'node:fs'
import type { ClientConfig, TlsOptions } from '../client/index.js'
import { ConfigError } from '../client/errors.js'
import type { SaslOptions } from '../client/sasl/index.js'

/** The command line is wrong: printed with a pointer to --help, exit status 2. */
export class UsageError extends Error {
  override get name(): string {
    return 'UsageError'
  }
}

export interface OptionSpec {
  type: 'string' | 'boolean'
  short?: string
  multiple?: boolean
  /** Shown in --help: the value's placeholder (string options) and what the option does. */
  arg?: string
  help: string
}

export type Values = Record<string, string | boolean | string[] | undefined>

export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  brokers: { type: 'string', short: 'b', arg: 'HOST:PORT,...', help: 'bootstrap brokers (default: $KAFKA_BROKERS or 127.0.0.1:9092)' },
  'client-id': { type: 'string', arg: 'ID', help: 'client id sent to the brokers (default: kafkawire-cli)' },
  tls: { type: 'boolean', help: 'connect with TLS (implied by --ca, --cert, --key, --servername, --insecure)' },
  ca: { type: 'string', arg: 'FILE', help: 'PEM file of the CA(s) to trust instead of the system roots' },
  cert: { type: 'string', arg: 'FILE', help: 'PEM client certificate, for mutual TLS' },
  key: { type: 'string', arg: 'FILE', help: "PEM private key of --cert (passphrase: $KAFKA_TLS_KEY_PASSWORD)" },
  servername: { type: 'string', arg: 'NAME', help: 'server name for SNI and certificate verification' },
  insecure: { type: 'boolean', help: "do not verify the broker's certificate (testing only)" },
  'sasl-mechanism': { type: 'string', arg: 'MECH', help: 'PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512' },
  'sasl-username': { type: 'string', arg: 'USER', help: 'SASL user name' },
  'sasl-password': { type: 'string', arg: 'PASS', help: 'SASL password (better: $KAFKA_SASL_PASSWORD, kept out of shell history)' },
  timeout: { type: 'string', arg: 'SECONDS', help: 'give up on an operation after this long (default 30)' },
  json: { type: 'boolean', help: 'print one JSON document on stdout instead of tables' },
  debug: { type: 'boolean', help: 'print client diagnostics and stack traces on stderr' },
  help: { type: 'boolean', short: 'h', help: 'show help' },
}

export function str(v: Values, name: string): string | undefined {
  const x = v[name]
  return typeof x === 'string' ? x : undefined
}

export function list(v: Values, name: string): string[] {
  const x = v[name]
  return Array.isArray(x) ? x : typeof x === 'string' ? [x] : []
}

export function flag(v: Values, name: string): boolean {
  return v[name] === true
}

/** A whole number in [min, max], or a UsageError naming the option. */
export function int(value: string, option: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^-?\d+$/.test(value)) throw new UsageError(`${option} must be a whole number, got ${JSON.stringify(value)}`)
  const n = Number(value)
  if (n < min || n > max) throw new UsageError(`${option} must be between ${min} and ${max}, got ${value}`)
  return n
}

/** "k=v" split at the first "=" (values may contain "="); the key must not be empty. */
export function keyValue(item: string, option: string): [string, string] {
  const i = item.indexOf('=')
  if (i <= 0) throw new UsageError(`${option} expects KEY=VALUE, got ${JSON.stringify(item)}`)
  return [item.slice(0, i), item.slice(i + 1)]
}

const MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const

function readPem(file: string, option: string): Buffer {
  try {
    return readFileSync(file)
  } catch (err) {
    throw new ConfigError(`cannot read ${option} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

/** The operation deadline in ms from --timeout (seconds). */
export function timeoutMs(v: Values): number {
  const t = str(v, 'timeout')
  if (t === undefined) return 30_000
  const secs = Number(t)
  if (t.trim() === '' || !Number.isFinite(secs) || secs <= 0) throw new UsageError(`--timeout must be a positive number of seconds, got ${JSON.stringify(t)}`)
  return Math.ceil(secs * 1000)
}

/**
 * The client configuration the common options describe. `warn` receives
 * warnings for the user (e.g. --insecure). Credentials go into the config
 * only; nothing here prints them.
 */
export function clientConfig(v: Values, env: NodeJS.ProcessEnv, warn: (line: string) => void, log?: ClientConfig['log']): ClientConfig {
  const brokers = str(v, 'brokers') ?? (env.KAFKA_BROKERS || '127.0.0.1:9092')
  const ca = str(v, 'ca')
  const cert = str(v, 'cert')
  const key = str(v, 'key')
  const servername = str(v, 'servername')
  const insecure = flag(v, 'insecure')
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--cert and --key go together')

  let tls: TlsOptions | undefined
  if (flag(v, 'tls') || ca !== undefined || cert !== undefined || servername !== undefined || insecure) {
    tls = {}
    if (ca !== undefined) tls.ca = readPem(ca, '--ca')
    if (cert !== undefined && key !== undefined) {
      tls.cert = readPem(cert, '--cert')
      tls.key = readPem(key, '--key')
      if (env.KAFKA_TLS_KEY_PASSWORD) tls.passphrase = env.KAFKA_TLS_KEY_PASSWORD
    }
    if (servername !== undefined) tls.servername = servername
    if (insecure) {
      tls.rejectUnauthorized = false
      warn("warning: --insecure: the broker's TLS certificate is not verified; anyone on the network path can impersonate it")
    }
  }

  let sasl: SaslOptions | undefined
  const mechanism = str(v, 'sasl-mechanism')
  const username = str(v, 'sasl-username')
  // The environment variable keeps the password out of shell history and `ps`.
  const password = str(v, 'sasl-password') ?? env.KAFKA_SASL_PASSWORD
  if (mechanism !== undefined) {
    const m = mechanism.toUpperCase()
    if (m === 'OAUTHBEARER') throw new UsageError('OAUTHBEARER needs a token provider; use it through the library (sasl: { mechanism: "OAUTHBEARER", token })')
    if (!(MECHANISMS as readonly string[]).includes(m)) throw new UsageError(`--sasl-mechanism must be one of ${MECHANISMS.join(', ')}, got ${JSON.stringify(mechanism)}`)
    if (username === undefined) throw new UsageError('--sasl-mechanism needs --sasl-username')
    if (password === undefined) throw new UsageError('--sasl-mechanism needs a password: set $KAFKA_SASL_PASSWORD or pass --sasl-password')
    sasl = { mechanism: m as (typeof MECHANISMS)[number], username, password }
  } else if (username !== undefined || str(v, 'sasl-password') !== undefined) {
    throw new UsageError('--sasl-username and --sasl-password need --sasl-mechanism')
  }

  const timeout = timeoutMs(v)
  return {
    brokers,
    clientId: str(v, 'client-id') ?? 'kafkawire-cli',
    ...(tls ? { tls } : {}),
    ...(sasl ? { sasl } : {}),
    defaultTimeoutMs: timeout,
    connectTimeoutMs: Math.min(10_000, timeout),
    ...(log ? { log } : {}),
  }
}
