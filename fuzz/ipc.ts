/** What the campaign runner (fuzz/run.ts) and its workers (fuzz/worker.ts) say to each other. */
import type { Verdict } from './oracle.js'

export interface FuzzJob {
  mode: 'fuzz'
  target: string
  seed: number
  durationMs: number
  budgetMs: number
  maxLength: number
  /** Layout: Int32 [executions, state, length, version], then the input bytes. */
  shared: SharedArrayBuffer
}

export interface CheckRequest {
  id: number
  target: string
  version: number
  data: Uint8Array
  budgetMs: number
}

export type WorkerMessage =
  | { type: 'failure'; version: number; data: Uint8Array; kind: string; signature: string; message: string }
  | { type: 'done'; execs: number; seeds: number; pool: number; outcomes: number }
  | { type: 'verdict'; id: number; verdict: Verdict }
  /** A checker has loaded its modules; its time limits start now. */
  | { type: 'ready' }

export const STATE_SETUP = 0
export const STATE_RUNNING = 1
export const STATE_IDLE = 2
export const SHARED_HEADER = 16

