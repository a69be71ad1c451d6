/**
 * The regression corpus: fuzz/corpus/<target>/<hash>.bin holds the input
 * bytes, <hash>.json the target, version and what went wrong when it was
 * found. Failing inputs land here minimised; a few hand-picked valid inputs
 * may sit beside them as seeds ("kind": "seed"). Every file is replayed by
 * fuzz/regression.test.ts and fed to the fuzzer as a starting point.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FuzzInput } from './oracle.js'

export const CORPUS_DIR = fileURLToPath(new URL('./corpus/', import.meta.url))

export interface Sidecar {
  target: string
  version: number
  /** "seed" for a hand-picked valid input, else the failure kind it reproduced. */
  kind: string
  /** The failure's signature and message when found; empty for seeds. */
  signature?: string
  error?: string
  /** Size of the input before minimisation. */
  originalLength?: number
  /** The campaign seed that found it. */
  campaignSeed?: number
  /** For seeds: what the input is and why it is worth keeping. */
  note?: string
}

export interface CorpusEntry extends FuzzInput {
  file: string
  sidecar: Sidecar
}

/** A short content hash naming an input (version included: the same bytes at two versions are two cases). */
export function inputHash(input: FuzzInput): string {
  return createHash('sha256').update(`${input.version}:`).update(input.data).digest('hex').slice(0, 12)
}

/** Writes an input and its sidecar; returns the .bin path. Existing files are left as they are. */
export function saveCorpusEntry(input: FuzzInput, sidecar: Sidecar): string {
  const dir = join(CORPUS_DIR, sidecar.target)
  mkdirSync(dir, { recursive: true })
  const base = join(dir, inputHash(input))
  if (!existsSync(`${base}.bin`)) {
    writeFileSync(`${base}.bin`, input.data)
    writeFileSync(`${base}.json`, JSON.stringify(sidecar, null, 2) + '\n')
  }
  return `${base}.bin`
}

/** Every corpus entry, optionally of one target only. */
export function loadCorpus(target?: string): CorpusEntry[] {
  if (!existsSync(CORPUS_DIR)) return []
  const out: CorpusEntry[] = []
  const targets = target === undefined ? readdirSync(CORPUS_DIR).sort() : [target]
  for (const t of targets) {
    const dir = join(CORPUS_DIR, t)
    if (!existsSync(dir)) continue
    for (const name of readdirSync(dir).sort()) {
      if (!name.endsWith('.bin')) continue
      const file = join(dir, name)
      const sidecarFile = file.replace(/\.bin$/, '.json')
      if (!existsSync(sidecarFile)) throw new Error(`${file} has no sidecar ${sidecarFile}`)
      const sidecar = JSON.parse(readFileSync(sidecarFile, 'utf8')) as Sidecar
      out.push({ file, sidecar, version: sidecar.version, data: readFileSync(file) })
    }
  }
  return out
}
