/**
 * The kafkawire command line: finds the command, parses its options, runs
 * it, and maps failures to exit statuses: 0 success, 1 the operation failed
 * (one line on stderr: the typed error's code and message), 2 usage error.
 */
import { readFileSync } from 'node:fs'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { parseBrokers } from '../client/cluster.js'
import { clusterCommands } from './cluster.js'
import type { Command, Context, Io } from './command.js'
import { consumeCommands } from './consume.js'
import { debugError, describeError, json } from './format.js'
import { groupCommands } from './groups.js'
import { clientConfig, COMMON_OPTIONS, flag, str, UsageError, type OptionSpec, type Values } from './options.js'
import { produceCommands } from './produce.js'
import { topicCommands } from './topics.js'

export type { Io } from './command.js'

export const COMMANDS: readonly Command[] = [...topicCommands, ...groupCommands, ...clusterCommands, ...produceCommands, ...consumeCommands]

function version(): string {
  // package.json is two levels above src/cli (sources) and three above dist/src/cli (build).
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'kafkawire' && pkg.version) return pkg.version
    } catch {
      // try the next location
    }
  }
  return 'unknown'
}

function optionsConfig(specs: Record<string, OptionSpec>): NonNullable<ParseArgsConfig['options']> {
  const out: NonNullable<ParseArgsConfig['options']> = {}
  for (const [name, s] of Object.entries(specs)) out[name] = { type: s.type, ...(s.short ? { short: s.short } : {}), ...(s.multiple ? { multiple: true } : {}) }
  return out
}

function optionLines(specs: Record<string, OptionSpec>): string {
  const rows = Object.entries(specs).map(([name, s]) => [`${s.short ? `-${s.short}, ` : '    '}--${name}${s.arg ? ` ${s.arg}` : ''}`, s.help] as const)
  const width = Math.max(...rows.map(([l]) => l.length))
  return rows.map(([l, h]) => `  ${l.padEnd(width)}  ${h}\n`).join('')
}

function mainHelp(): string {
  const rows = COMMANDS.map((c) => [c.path.join(' '), c.summary] as const)
  const width = Math.max(...rows.map(([p]) => p.length))
  return (
    'Usage: kafkawire COMMAND [ARGS] [OPTIONS]\n\n' +
    'Commands:\n' +
    rows.map(([p, s]) => `  ${p.padEnd(width)}  ${s}\n`).join('') +
    '\nOptions for every command:\n' +
    optionLines({ ...COMMON_OPTIONS, version: { type: 'boolean', help: 'print the version' } }) +
    "\nRun 'kafkawire COMMAND --help' for a command's options.\n" +
    'Exit status: 0 success, 1 the operation failed, 2 usage error.\n'
  )
}

function commandHelp(c: Command): string {
  return (
    `Usage: kafkawire ${c.path.join(' ')}${c.usage ? ` ${c.usage}` : ''} [OPTIONS]\n\n` +
    `${c.summary[0]!.toUpperCase()}${c.summary.slice(1)}.\n` +
    (c.description ? `${c.description}\n` : '') +
    (Object.keys(c.options).length > 0 ? `\nOptions:\n${optionLines(c.options)}` : '') +
    "\nConnection and output options (see 'kafkawire --help'): --brokers, --client-id, --tls, --ca, --cert, --key,\n" +
    '--servername, --insecure, --sasl-mechanism, --sasl-username, --sasl-password, --timeout, --json, --debug\n'
  )
}

/** Every option of every command, to find the command words wherever the options are. */
function allOptions(): Record<string, OptionSpec> {
  const all: Record<string, OptionSpec> = { ...COMMON_OPTIONS, version: { type: 'boolean', help: '' } }
  for (const c of COMMANDS) {
    for (const [name, s] of Object.entries(c.options)) {
      const prev = all[name]
      all[name] = prev ? { ...prev, multiple: prev.multiple || s.multiple, short: prev.short ?? s.short } : s
    }
  }
  return all
}

function findCommand(words: string[]): { command: Command; used: number } | { group: string } | null {
  for (const c of COMMANDS) if (c.path.every((w, i) => words[i] === w)) return { command: c, used: c.path.length }
  if (words.length > 0 && COMMANDS.some((c) => c.path.length > 1 && c.path[0] === words[0])) return { group: words[0]! }
  return null
}

function groupHelp(group: string): string {
  const cmds = COMMANDS.filter((c) => c.path[0] === group)
  const width = Math.max(...cmds.map((c) => c.path.join(' ').length))
  return `Usage: kafkawire ${group} COMMAND [ARGS] [OPTIONS]\n\nCommands:\n${cmds.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}\n`).join('')}\nRun 'kafkawire ${group} COMMAND --help' for a command's options.\n`
}

/** Runs the command line `argv` (without node and the script); resolves with the exit status. */
export async function run(argv: string[], io: Io): Promise<number> {
  const err = (line: string): void => void io.stderr.write(`kafkawire: ${line}\n`)
  let debug = argv.includes('--debug')
  let where = 'kafkawire'
  try {
    // First pass: find the command words, whatever the order of options and words.
    let first
    try {
      first = parseArgs({ args: argv, options: optionsConfig(allOptions()), strict: false, allowPositionals: true })
    } catch (e) {
      throw new UsageError((e as Error).message)
    }
    const found = findCommand(first.positionals)
    if (found === null || 'group' in found) {
      if (first.values.version === true && first.positionals.length === 0) {
        io.stdout.write(`${version()}\n`)
        return 0
      }
      if (first.values.help === true) {
        io.stdout.write(found === null ? mainHelp() : groupHelp(found.group))
        return 0
      }
      if (found !== null) {
        where = `kafkawire ${found.group}`
        throw new UsageError(`missing or unknown command${first.positionals[1] ? ` ${JSON.stringify(first.positionals[1])}` : ''}; one of: ${COMMANDS.filter((c) => c.path[0] === found.group).map((c) => c.path[1]).join(', ')}`)
      }
      throw new UsageError(first.positionals.length === 0 ? 'no command given' : `unknown command ${JSON.stringify(first.positionals[0])}`)
    }
    const { command, used } = found
    where = `kafkawire ${command.path.join(' ')}`

    // Second pass: exactly this command's options.
    let parsed
    try {
      parsed = parseArgs({ args: argv, options: optionsConfig({ ...COMMON_OPTIONS, ...command.options }), strict: true, allowPositionals: true })
    } catch (e) {
      throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ''))
    }
    const values = parsed.values as Values
    debug = flag(values, 'debug')
    if (flag(values, 'help')) {
      io.stdout.write(commandHelp(command))
      return 0
    }
    const args = parsed.positionals.slice(used)
    if (args.length < command.args.min) throw new UsageError(`missing ${command.args.name}`)
    if (args.length > command.args.max) throw new UsageError(`unexpected argument ${JSON.stringify(args[command.args.max])}`)

    const brokers = str(values, 'brokers')
    if (brokers !== undefined) {
      try {
        parseBrokers(brokers)
      } catch (e) {
        throw new UsageError(`--brokers: ${(e as Error).message}`)
      }
    }
    const asJson = flag(values, 'json')
    const log = debug
      ? (level: string, message: string, extra?: Record<string, unknown>): void => {
          io.stderr.write(`[${level}] ${message}${extra && Object.keys(extra).length > 0 ? ` ${json(extra).replace(/\s*\n\s*/g, ' ').trim()}` : ''}\n`)
        }
      : undefined
    let config: ReturnType<Context['client']> | undefined
    const context: Context = {
      args,
      values,
      io,
      json: asJson,
      client: () => (config ??= clientConfig(values, io.env, err, log)),
      print: (text, doc) => void io.stdout.write(asJson ? json(doc()) : text()),
      warn: err,
      fail: (e) => err(debug ? debugError(e) : describeError(e)),
    }
    return (await command.run(context)) ?? 0
  } catch (e) {
    if (e instanceof UsageError) {
      err(`${where === 'kafkawire' ? '' : `${where.slice('kafkawire '.length)}: `}${e.message.replace(/\s*\n\s*/g, ' ')} (see '${where} --help')`)
      return 2
    }
    err(debug ? debugError(e) : describeError(e))
    return 1
  }
}

