import { KafkawireError, type ErrorContext } from '../protocol/errors.js'

/** No committed offset and autoOffsetReset is 'none' (or the offset is out of range). */
export class NoOffsetError extends KafkawireError {
  constructor(message: string, context: ErrorContext = {}) {
    super('NO_OFFSET_FOR_PARTITION', message, { retriable: false, context })
  }
}

/** The partition's log was truncated below our position (KIP-320), e.g. after an unclean leader election. */
export class LogTruncationError extends KafkawireError {
  readonly position: bigint
  readonly divergentOffset: bigint
  constructor(message: string, context: ErrorContext, position: bigint, divergentOffset: bigint) {
    super('LOG_TRUNCATION', message, { retriable: false, context })
    this.position = position
    this.divergentOffset = divergentOffset
  }
}

/** Offsets could not be committed because the member no longer owns the partitions (a rebalance happened). */
export class CommitFailedError extends KafkawireError {
  constructor(message: string, context: ErrorContext = {}, cause?: unknown) {
    super('COMMIT_FAILED', message, { retriable: false, context, cause })
  }
}

/** The group member cannot continue (fenced static member, group full, inconsistent protocols). */
export class GroupMembershipError extends KafkawireError {
  constructor(code: string, message: string, context: ErrorContext = {}, cause?: unknown) {
    super(code, message, { retriable: false, context, cause })
  }
}
