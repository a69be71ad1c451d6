/**
 * A progress line on stderr for long produce runs: a bar when the input size
 * is known, counters otherwise. Only drawn on a terminal.
 */
import type { Writable } from 'node:stream'
import { bytes } from './format.js'

/** Smaller inputs of known size get no progress line. */
const LARGE_INPUT = 1024 * 1024
/** Runs shorter than this never show one (no flicker). */
const SHOW_AFTER_MS = 500
const REDRAW_MS = 200

export class Progress {
  readonly #out: Writable & { columns?: number }
  readonly #total: number | null
  readonly #started = Date.now()
  readonly #timer: NodeJS.Timeout
  #read = 0
  #records = 0
  #bytes = 0
  #shown = false

  /** `total`: input size in bytes, when known. */
  constructor(out: Writable & { columns?: number }, total: number | null) {
    this.#out = out
    this.#total = total
    this.#timer = setInterval(() => this.#draw(), REDRAW_MS)
    this.#timer.unref()
  }

  /** Whether a progress line is worth drawing: a terminal, and an input that is large or of unknown size. */
  static wanted(out: { isTTY?: boolean }, total: number | null): boolean {
    return out.isTTY === true && (total === null || total >= LARGE_INPUT)
  }

  read(n: number): void {
    this.#read += n
  }

  acknowledged(records: number, payloadBytes: number): void {
    this.#records += records
    this.#bytes += payloadBytes
  }

  #draw(): void {
    const elapsed = (Date.now() - this.#started) / 1000
    if (!this.#shown && elapsed * 1000 < SHOW_AFTER_MS) return
    this.#shown = true
    const rate = elapsed > 0 ? `${bytes(Math.round(this.#bytes / elapsed))}/s` : ''
    const counters = `${this.#records} records  ${bytes(this.#read)} read  ${rate}`
    let line = counters
    if (this.#total !== null && this.#total > 0) {
      const frac = Math.min(1, this.#read / this.#total)
      const width = Math.max(10, Math.min(30, (this.#out.columns || 80) - 60))
      const filled = Math.round(frac * width)
      line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}%  ${counters}`
    }
    this.#out.write(`\r${line}\x1b[K`)
  }

  /** Stops drawing and erases the line. */
  stop(): void {
    clearInterval(this.#timer)
    if (this.#shown) this.#out.write('\r\x1b[K')
  }
}
