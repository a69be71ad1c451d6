import { KafkawireError, type ErrorContext } from '../protocol/errors.js'

/** The connection to a broker failed or was lost. Retriable: a new connection may succeed. */
export class ConnectionError extends KafkawireError {
  constructor(message: string, context: ErrorContext = {}, cause?: unknown) {
    super('CONNECTION_ERROR', message, { retriable: true, context, cause })
  }
}

/** No response arrived within the request timeout. The connection it was sent on is closed. */
export class RequestTimeoutError extends KafkawireError {
  constructor(message: string, context: ErrorContext = {}) {
    super('REQUEST_TIMEOUT', message, { retriable: true, context })
  }
}

/** SASL or TLS authentication failed. Not retriable with the same credentials. */
export class AuthenticationError extends KafkawireError {
  constructor(message: string, context: ErrorContext = {}, cause?: unknown) {
    super('AUTHENTICATION_FAILED', message, { retriable: false, context, cause })
  }
}

/** The operation was cancelled through its AbortSignal. */
export class AbortError extends KafkawireError {
  constructor(message = 'the operation was aborted', context: ErrorContext = {}, cause?: unknown) {
    super('ABORT_ERR', message, { retriable: false, context, cause })
  }
}

/** Neither side supports a version of the API in common, or the broker lacks the API or a feature. */
export class UnsupportedApiError extends KafkawireError {
  constructor(message: string, context: ErrorContext = {}) {
    super('UNSUPPORTED_VERSION', message, { retriable: false, context })
  }
}

/** The client (or connection) was closed before or while the operation ran. */
export class ClosedError extends KafkawireError {
  constructor(message = 'the client is closed', context: ErrorContext = {}) {
    super('CLIENT_CLOSED', message, { retriable: false, context })
  }
}

/** A configuration value is invalid. */
export class ConfigError extends KafkawireError {
  constructor(message: string, context: ErrorContext = {}) {
    super('INVALID_CONFIG', message, { retriable: false, context })
  }
}

/** An overall deadline passed while retrying. `cause` is the last error seen. */
export class DeadlineExceededError extends KafkawireError {
  constructor(message: string, context: ErrorContext = {}, cause?: unknown) {
    super('DEADLINE_EXCEEDED', message, { retriable: false, context, cause })
  }
}

export function abortReason(signal: AbortSignal, context: ErrorContext = {}): KafkawireError {
  const r: unknown = signal.reason
  if (r instanceof KafkawireError) return r
  return new AbortError(r instanceof Error ? r.message : 'the operation was aborted', context, r)
}
