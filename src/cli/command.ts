/**
 * What a CLI command is, and what it gets when it runs.
 */
import type { Readable, Writable } from 'node:stream'
import type { ClientConfig } from '../client/index.js'
import type { OptionSpec, Values } from './options.js'

export interface Io {
  stdin: Readable & { fd?: number }
  stdout: Writable
  stderr: Writable & { isTTY?: boolean; columns?: number }
  env: NodeJS.ProcessEnv
}

export interface Context {
  /** Positional arguments after the command words. */
  args: string[]
  values: Values
  io: Io
  json: boolean
  /** The client configuration of the common options (reads TLS files, validates SASL options). */
  client(): ClientConfig
  /** Prints the command's result: the JSON document with --json, the text otherwise. */
  print(text: () => string, doc: () => unknown): void
  /** A line on stderr prefixed with "kafkawire: ". */
  warn(line: string): void
  /** Reports an error on stderr: one line, or the stack with --debug. */
  fail(err: unknown): void
}

export interface Command {
  /** The command words, e.g. ['topics', 'create']. */
  path: string[]
  summary: string
  /** After the command words in the usage line, e.g. 'NAME --partitions N'. */
  usage: string
  /** Extra paragraphs for --help. */
  description?: string
  options: Record<string, OptionSpec>
  /** How many positional arguments it takes. */
  args: { min: number; max: number; name: string }
  /** Resolves with the exit status (0 when nothing is returned). */
  run(c: Context): Promise<number | void>
}
