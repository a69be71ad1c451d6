/**
 * The error model shared by every layer. Every error kafkawire throws is a
 * KafkawireError: it has a stable `code` (the Kafka error name for broker
 * errors, a PROTOCOL_* / CLIENT_* identifier otherwise), says whether a retry
 * can succeed, and carries the context it happened in.
 */

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
