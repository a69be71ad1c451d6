/**
 * Producer metrics: counters and a latency distribution, read as a
 * snapshot. Updating them is a few additions per batch, never per record.
 */
import type { KafkawireError } from '../protocol/errors.js'

export interface ProducerMetricsSnapshot {
  recordsSent: number
  bytesSent: number
  recordsFailed: number
  recordsRetried: number
  batchesSent: number
  averageBatchRecords: number
  averageBatchBytes: number
  /** From send() to acknowledgement, per batch, in ms. */
  latencyAvgMs: number
  latencyMaxMs: number
  latencyP99Ms: number
  requestsInFlight: number
  bufferUsedBytes: number
  bufferLimitBytes: number
  circuitBreakerTrips: number
  lastError: { code: string; message: string; at: number } | null
}

/** A ring of recent samples; percentiles are computed on snapshot. */
class Reservoir {
  readonly #samples: Float64Array
  #count = 0

  constructor(size: number) {
    this.#samples = new Float64Array(size)
  }

  add(v: number): void {
    this.#samples[this.#count % this.#samples.length] = v
    this.#count++
  }

  percentile(p: number): number {
    const n = Math.min(this.#count, this.#samples.length)
    if (n === 0) return 0
    const sorted = Array.from(this.#samples.subarray(0, n)).sort((a, b) => a - b)
    return sorted[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)]!
  }
}

export class ProducerMetrics {
  recordsSent = 0
  bytesSent = 0
  recordsFailed = 0
  recordsRetried = 0
  batchesSent = 0
  #batchRecords = 0
  #batchBytes = 0
  #latencySum = 0
  #latencyMax = 0
  readonly #latency = new Reservoir(4096)
  circuitBreakerTrips = 0
  lastError: { code: string; message: string; at: number } | null = null
  #requestLatencySum = 0
  #requests = 0

  batchDone(records: number, bytes: number, latencyMs: number): void {
    this.recordsSent += records
    this.batchesSent++
    this.#batchRecords += records
    this.#batchBytes += bytes
    this.#latencySum += latencyMs
    if (latencyMs > this.#latencyMax) this.#latencyMax = latencyMs
    this.#latency.add(latencyMs)
  }

  requestSent(bytes: number): void {
    this.bytesSent += bytes
  }

  requestLatency(ms: number): void {
    this.#requestLatencySum += ms
    this.#requests++
  }

  retried(records: number): void {
    this.recordsRetried += records
  }

  failed(records: number, err: KafkawireError): void {
    this.recordsFailed += records
    this.lastError = { code: err.code, message: err.message, at: Date.now() }
  }

  snapshot(extra: { requestsInFlight: number; bufferUsedBytes: number; bufferLimitBytes: number }): ProducerMetricsSnapshot {
    const b = this.batchesSent
    return {
      recordsSent: this.recordsSent,
      bytesSent: this.bytesSent,
      recordsFailed: this.recordsFailed,
      recordsRetried: this.recordsRetried,
      batchesSent: b,
      averageBatchRecords: b === 0 ? 0 : this.#batchRecords / b,
      averageBatchBytes: b === 0 ? 0 : this.#batchBytes / b,
      latencyAvgMs: b === 0 ? 0 : this.#latencySum / b,
      latencyMaxMs: this.#latencyMax,
      latencyP99Ms: this.#latency.percentile(99),
      requestsInFlight: extra.requestsInFlight,
      bufferUsedBytes: extra.bufferUsedBytes,
      bufferLimitBytes: extra.bufferLimitBytes,
      circuitBreakerTrips: this.circuitBreakerTrips,
      lastError: this.lastError,
    }
  }
}
