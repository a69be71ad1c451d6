/** Every fuzz target, by name. */
import type { Target } from '../oracle.js'
import { compressionTargets } from './compression.js'
import { messageTargets } from './messages.js'
import { recordTargets } from './records.js'

let all: Target[] | undefined

export function allTargets(): Target[] {
  all ??= [...messageTargets(), ...recordTargets(), ...compressionTargets()]
  return all
}

export function getTarget(name: string): Target {
  const t = allTargets().find((x) => x.name === name)
  if (t === undefined) throw new Error(`no fuzz target named ${JSON.stringify(name)}`)
  return t
}
