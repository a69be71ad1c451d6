import { KafkawireError, type ErrorContext } from '../protocol/errors.js'

/** Another producer with the same transactional id took over (KIP-98 fencing). Fatal: close this producer. */
export class ProducerFencedError extends KafkawireError {
  constructor(message: string, context: ErrorContext = {}, cause?: unknown) {
    super('PRODUCER_FENCED', message, { retriable: false, context, cause })
  }
}

/**
 * The producer is in a state it cannot leave (fencing, authorization,
 * an unsupported broker); every further call fails with this error.
 */
export class ProducerFatalError extends KafkawireError {
  constructor(message: string, context: ErrorContext = {}, cause?: unknown) {
    super('PRODUCER_FATAL', message, { retriable: false, context, cause })
  }
}

/**
 * The current transaction cannot commit. Call abortTransaction() and start
 * a new one; the producer stays usable. `cause` is what went wrong.
 */
export class TransactionAbortableError extends KafkawireError {
  readonly abortable = true
  constructor(message: string, context: ErrorContext = {}, cause?: unknown) {
    super('TRANSACTION_ABORTABLE', message, { retriable: false, context, cause })
  }
}

/** A call that is not valid in the producer's current transaction state (e.g. send before beginTransaction). */
export class TransactionStateError extends KafkawireError {
  constructor(message: string, context: ErrorContext = {}) {
    super('INVALID_TXN_STATE', message, { retriable: false, context })
  }
}

/** The buffer for unsent records stayed full for longer than maxBlockMs. */
export class BufferExhaustedError extends KafkawireError {
  constructor(message: string, context: ErrorContext = {}) {
    super('BUFFER_EXHAUSTED', message, { retriable: true, context })
  }
}

/** A record that can never be sent: it is larger than a configured or broker limit. */
export class RecordTooLargeError extends KafkawireError {
  constructor(message: string, context: ErrorContext = {}, cause?: unknown) {
    super('RECORD_TOO_LARGE', message, { retriable: false, context, cause })
  }
}

/** A record was not acknowledged within deliveryTimeoutMs. It may or may not have been written. */
export class DeliveryTimeoutError extends KafkawireError {
  constructor(message: string, context: ErrorContext = {}, cause?: unknown) {
    super('DELIVERY_TIMEOUT', message, { retriable: true, context, cause })
  }
}

/** The circuit breaker is open: sends fail fast until the cluster looks healthy again. */
export class CircuitOpenError extends KafkawireError {
  constructor(message: string, context: ErrorContext = {}, cause?: unknown) {
    super('CIRCUIT_OPEN', message, { retriable: true, context, cause })
  }
}

/**
 * Some records of a send() failed. `results` has one entry per record, in
 * the order given: the record's metadata, or the typed error it failed with.
 */
export class ProduceError<R = unknown> extends KafkawireError {
  readonly results: Array<R | KafkawireError>
  readonly errors: KafkawireError[]
  constructor(results: Array<R | KafkawireError>, context: ErrorContext = {}) {
    const errors = results.filter((r): r is KafkawireError => r instanceof KafkawireError)
    const first = errors[0]
    super(
      'PRODUCE_FAILED',
      `${errors.length} of ${results.length} record(s) failed${first ? `; first error: ${first.message}` : ''}`,
      { retriable: errors.every((e) => e.retriable), context, cause: first },
    )
    this.results = results
    this.errors = errors
  }
}
