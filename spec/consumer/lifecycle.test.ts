// Closing: close() finishes in-flight processing and returns promptly, also when the brokers are gone, and
// leaves nothing behind that keeps the process alive.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, test } from 'node:test'
import { consumeUntil, consumerOn, fakeKafka } from './support/helpers.js'

describe('closing', () => {
  test('a process whose consumer closed during a slow handler exits right away (no timer of maxProcessingIntervalMs left behind)', async () => {
    const script = fileURLToPath(new URL('./support/close-and-exit.ts', import.meta.url))
    const started = Date.now()
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        resolve(null)
      }, 30_000)
      child.on('exit', (c) => {
        clearTimeout(timer)
        resolve(c)
      })
    })
    assert.equal(code, 0, `the process did not exit on its own within 30 s (maxProcessingIntervalMs is 60 s):\n${out}`)
    const closedAt = Number(/closed at (\d+)/.exec(out)?.[1])
    assert.ok(closedAt > started, out)
    assert.ok(Date.now() - closedAt < 10_000, `exited ${Date.now() - closedAt} ms after closing`)
  })

  test('close() with the brokers gone returns within its commit deadline, not after the rebalance timeout', async (t) => {
    const kafka = await fakeKafka(t)
    kafka.createTopic('t', 1)
    kafka.appendValues('t', 0, ['a'])
    const c = consumerOn(t, kafka, { groupId: 'g', autoOffsetReset: 'earliest', maxProcessingIntervalMs: 60_000, defaultTimeoutMs: 1000, sessionTimeoutMs: 1000, heartbeatIntervalMs: 100 })
    c.subscribe('t')
    await consumeUntil(c, (all) => all.length === 1)
    await kafka.broker.stop()
    // Let the member notice: its heartbeats fail, it tries to rejoin (a coordinator lookup that would
    // retry for the rebalance timeout).
    await new Promise((r) => setTimeout(r, 2000))
    const started = Date.now()
    await c.close()
    const took = Date.now() - started
    assert.ok(took < 15_000, `close() took ${took} ms`)
  })
})
