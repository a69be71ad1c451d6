#!/usr/bin/env node
/**
 * The `kafkawire` executable (package.json "bin").
 */
import { run } from './run.js'

// `kafkawire topics list | head` closes stdout early: that is not an error.
// A command that streams (consume) listens too and finishes cleanly itself
// (commits, leaves its group); the others end here.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e
  if (process.stdout.listenerCount('error') === 1) process.exit(process.exitCode ?? 0)
})

const code = await run(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env })
// Exit once stdout is flushed, rather than waiting for timers or sockets a
// failed operation may have left behind.
process.stdout.write('', () => process.exit(code))
