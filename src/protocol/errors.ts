/**
 * The error model shared by every layer. Every error kafkawire throws is a
 * KafkawireError: it has a stable `code` (the Kafka error name for broker
 * errors, a PROTOCOL_* / CLIENT_* identifier otherwise), says whether a retry
 * can succeed, and carries the context it happened in.
 */
import { ERROR_TABLE } from './error-codes.js'

export interface ErrorContext {
  broker?: string
  nodeId?: number
  apiKey?: number
  apiName?: string
  apiVersion?: number
  topic?: string
  partition?: number
  groupId?: string
  transactionalId?: string
  /** Field path inside a message, for codec errors. */
  field?: string
  /** Byte offset in the buffer being decoded, for codec errors. */
  offset?: number
  /** A record's offset in its partition. */
  recordOffset?: bigint
  [key: string]: unknown
}

export interface KafkawireErrorOptions {
  retriable?: boolean
  context?: ErrorContext
  cause?: unknown
}

export class KafkawireError extends Error {
  readonly code: string
  readonly retriable: boolean
  readonly context: ErrorContext

  constructor(code: string, message: string, options: KafkawireErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.retriable = options.retriable ?? false
    this.context = options.context ?? {}
  }

  override get name(): string {
    return this.constructor.name
  }
}

/**
 * Bytes that do not form a valid message: truncated frames, lengths larger
 * than the bytes left, bad CRCs, corrupt compressed payloads. Never retriable:
 * the same bytes decode the same way again.
 */
export class ProtocolError extends KafkawireError {
  constructor(code: ProtocolErrorCode, message: string, context: ErrorContext = {}, cause?: unknown) {
    super(code, message, { retriable: false, context, cause })
  }
}

export type ProtocolErrorCode =
  | 'PROTOCOL_TRUNCATED'
  | 'PROTOCOL_INVALID_LENGTH'
  | 'PROTOCOL_INVALID_VALUE'
  | 'PROTOCOL_VARINT_TOO_LONG'
  | 'PROTOCOL_NULL_NOT_ALLOWED'
  | 'PROTOCOL_CRC_MISMATCH'
  | 'PROTOCOL_CORRUPT_RECORD'
  | 'PROTOCOL_COMPRESSION'
  | 'PROTOCOL_DECOMPRESSED_TOO_LARGE'
  | 'PROTOCOL_UNSUPPORTED_VERSION'
  | 'PROTOCOL_UNKNOWN_API'
  | 'PROTOCOL_TRAILING_BYTES'
  | 'PROTOCOL_CODEC_UNAVAILABLE'

/** A field that cannot be written at the version being encoded. */
export class UnsupportedVersionError extends KafkawireError {
  constructor(message: string, context: ErrorContext = {}) {
    super('UNSUPPORTED_VERSION', message, { retriable: false, context })
  }
}

export interface ErrorCodeInfo {
  readonly code: number
  /** The Kafka error name, e.g. NOT_LEADER_OR_FOLLOWER. */
  readonly name: string
  readonly retriable: boolean
  /** The error means the client's metadata (leaders, topics) is stale. */
  readonly refreshMetadata: boolean
  readonly message: string
}

const byCode = new Map<number, ErrorCodeInfo>()
const byName = new Map<string, ErrorCodeInfo>()
for (const [code, name, retriable, refreshMetadata, message] of ERROR_TABLE) {
  const info: ErrorCodeInfo = { code, name, retriable, refreshMetadata, message }
  byCode.set(code, info)
  byName.set(name, info)
}

/** Every Kafka error code except NONE (0), in code order. */
export const errorCodes: ReadonlyArray<ErrorCodeInfo> = [...byCode.values()].sort((a, b) => a.code - b.code)

/** The error code's entry; codes newer than this table map to a synthetic UNKNOWN_<code>. */
export function errorInfo(code: number): ErrorCodeInfo {
  return (
    byCode.get(code) ?? {
      code,
      name: `UNKNOWN_ERROR_CODE_${code}`,
      retriable: false,
      refreshMetadata: false,
      message: `The broker returned error code ${code}, which this client does not know.`,
    }
  )
}

export function errorCodeOf(name: string): number {
  const info = byName.get(name)
  if (info === undefined) throw new TypeError(`unknown Kafka error name ${name}`)
  return info.code
}

/**
 * An error code returned by a broker. `code` is the Kafka error name
 * (NOT_LEADER_OR_FOLLOWER), `errorCode` its number; the broker's own error
 * message, when it sent one, is kept in `serverMessage`.
 */
export class BrokerError extends KafkawireError {
  readonly errorCode: number
  readonly refreshMetadata: boolean
  readonly serverMessage: string | null

  constructor(errorCode: number, context: ErrorContext = {}, serverMessage: string | null = null) {
    const info = errorInfo(errorCode)
    const where = describeContext(context)
    super(info.name, `${info.name}: ${serverMessage || info.message}${where ? ` (${where})` : ''}`, {
      retriable: info.retriable,
      context,
    })
    this.errorCode = errorCode
    this.refreshMetadata = info.refreshMetadata
    this.serverMessage = serverMessage
  }

  /** The Kafka error name; same as `code`. */
  get type(): string {
    return this.code
  }
}

function describeContext(c: ErrorContext): string {
  const parts: string[] = []
  if (c.apiName) parts.push(`${c.apiName}${c.apiVersion !== undefined ? ` v${c.apiVersion}` : ''}`)
  if (c.broker) parts.push(`broker ${c.broker}`)
  if (c.topic !== undefined) parts.push(c.partition !== undefined ? `${c.topic}-${c.partition}` : `topic ${c.topic}`)
  if (c.groupId !== undefined) parts.push(`group ${c.groupId}`)
  if (c.transactionalId !== undefined) parts.push(`transactional id ${c.transactionalId}`)
  return parts.join(', ')
}

/** Throws a BrokerError for a non-zero error code. */
export function throwIfError(errorCode: number, context: ErrorContext = {}, serverMessage: string | null = null): void {
  if (errorCode !== 0) throw new BrokerError(errorCode, context, serverMessage)
}
