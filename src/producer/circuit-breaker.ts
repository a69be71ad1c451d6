/**
 * A circuit breaker for sends. States and transitions:
 *
 *   closed ──failureThreshold consecutive failures──▶ open
 *   open ──resetTimeoutMs elapsed──▶ half-open (one trial send is let through)
 *   half-open ──trial succeeds──▶ closed
 *   half-open ──trial fails──▶ open
 *
 * While open, sends fail at once with CircuitOpenError instead of waiting
 * out their delivery timeout against a cluster that is down.
 */
import type { KafkawireError } from '../protocol/errors.js'
import { CircuitOpenError } from './errors.js'

export type CircuitState = 'closed' | 'open' | 'half-open'

export class CircuitBreaker {
  readonly failureThreshold: number
  readonly resetTimeoutMs: number
  #state: CircuitState = 'closed'
  #failures = 0
  #openedAt = 0
  #trialInFlight = false
  #lastError: KafkawireError | null = null
  onTransition: ((from: CircuitState, to: CircuitState) => void) | null = null

  constructor(o: { failureThreshold: number; resetTimeoutMs: number }) {
    this.failureThreshold = o.failureThreshold
    this.resetTimeoutMs = o.resetTimeoutMs
  }

  get state(): CircuitState {
    if (this.#state === 'open' && Date.now() - this.#openedAt >= this.resetTimeoutMs) this.#to('half-open')
    return this.#state
  }

  #to(s: CircuitState): void {
    const from = this.#state
    if (from === s) return
    this.#state = s
    if (s === 'open') this.#openedAt = Date.now()
    if (s !== 'half-open') this.#trialInFlight = false
    this.onTransition?.(from, s)
  }

  /**
   * Called before a send. Throws CircuitOpenError when open; in half-open
   * state lets exactly one trial through. Returns whether this call is the trial.
   */
  admit(): boolean {
    const s = this.state
    if (s === 'closed') return false
    if (s === 'half-open' && !this.#trialInFlight) {
      this.#trialInFlight = true
      return true
    }
    const waitMs = Math.max(0, this.resetTimeoutMs - (Date.now() - this.#openedAt))
    throw new CircuitOpenError(
      `the circuit breaker is ${s}${s === 'open' ? `; retrying in ${waitMs} ms` : ' with a trial send in flight'}${this.#lastError ? ` (last error: ${this.#lastError.message})` : ''}`,
      {},
      this.#lastError ?? undefined,
    )
  }

  success(): void {
    this.#failures = 0
    this.#to('closed')
  }

  failure(err: KafkawireError, trial: boolean): void {
    this.#lastError = err
    if (trial || this.#state === 'half-open') {
      this.#to('open')
      return
    }
    if (++this.#failures >= this.failureThreshold) this.#to('open')
  }
}
