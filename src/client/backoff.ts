import { KafkawireError } from '../protocol/errors.js'
import { abortReason, DeadlineExceededError } from './errors.js'

export interface BackoffOptions {
  /** First delay. Default 100 ms (the reference client's retry.backoff.ms). */
  initialMs?: number
  /** Ceiling. Default 1000 ms (retry.backoff.max.ms). */
  maxMs?: number
  multiplier?: number
  /** Relative jitter: the delay is scaled by a random factor in [1 - j, 1 + j]. Default 0.2. */
  jitter?: number
}

/** Exponential backoff with jitter, as the reference client computes it (KIP-580). */
export function backoffDelay(attempt: number, o: BackoffOptions = {}): number {
  const initial = o.initialMs ?? 100
  const max = o.maxMs ?? 1000
  const mult = o.multiplier ?? 2
  const jitter = o.jitter ?? 0.2
  const base = Math.min(max, initial * mult ** Math.max(0, attempt))
  const factor = 1 - jitter + Math.random() * 2 * jitter
  return Math.max(0, Math.round(base * factor))
}

/** Sleeps, waking early (with the abort reason) when the signal fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortReason(signal))
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(t)
      reject(abortReason(signal!))
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

export interface RetryOptions {
  /** Absolute time (Date.now() scale) after which no new attempt starts. */
  deadline: number
  signal?: AbortSignal
  backoff?: BackoffOptions
  /** Decides whether an error is worth another attempt. Default: `err.retriable`. */
  retriable?: (err: unknown) => boolean
  /** Runs before the next attempt, e.g. a metadata refresh. */
  beforeRetry?: (err: unknown, attempt: number) => Promise<void> | void
  /** Names the operation in the deadline error. */
  operation: string
}

export function isRetriable(err: unknown): boolean {
  return err instanceof KafkawireError && err.retriable
}

/**
 * Runs `fn` until it succeeds, a non-retriable error occurs, or the deadline
 * passes; in the last case the error names the operation and carries the last
 * failure as its cause.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  const retriable = o.retriable ?? isRetriable
  for (let attempt = 0; ; attempt++) {
    if (o.signal?.aborted) throw abortReason(o.signal)
    try {
      return await fn(attempt)
    } catch (err) {
      if (!retriable(err)) throw err
      const delay = backoffDelay(attempt, o.backoff)
      if (Date.now() + delay >= o.deadline) {
        const last = err instanceof Error ? err.message : String(err)
        const ctx = err instanceof KafkawireError ? err.context : {}
        throw new DeadlineExceededError(`${o.operation} did not succeed before its deadline; last error: ${last}`, ctx, err)
      }
      await sleep(delay, o.signal)
      await o.beforeRetry?.(err, attempt)
    }
  }
}
