import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConnectionError, DeadlineExceededError } from '../../src/client/errors.js'
import { debugError, describeError, json, table } from '../../src/cli/format.js'
import { BrokerError, KafkawireError } from '../../src/protocol/errors.js'

test('table: columns as wide as their widest cell, two spaces apart, no trailing spaces; null prints as -', () => {
  assert.equal(
    table(
      ['NAME', 'N', 'ID'],
      [
        ['a', 10, 'x'],
        ['longer-name', 2n, null],
      ],
    ),
    'NAME         N   ID\n' + 'a            10  x\n' + 'longer-name  2   -\n',
  )
  assert.equal(table(['ONLY'], []), 'ONLY\n')
})

test('json: bigints as decimal strings, beyond 2^53 without loss', () => {
  const doc = JSON.parse(json({ offset: 9007199254740993n, list: [1n, null], n: 1 })) as Record<string, unknown>
  assert.deepEqual(doc, { offset: '9007199254740993', list: ['1', null], n: 1 })
})

test('describeError: one line with the code, never doubled; deadline errors name their cause', () => {
  assert.equal(describeError(new BrokerError(3, { topic: 't' })), 'UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition. (topic t)')
  assert.equal(describeError(new KafkawireError('INVALID_INPUT', 'line 3\nhas no separator')), 'INVALID_INPUT: line 3 has no separator')
  const cause = new ConnectionError('cannot connect to h:1: connect ECONNREFUSED')
  assert.equal(
    describeError(new DeadlineExceededError('listTopics did not complete within 5 ms', {}, cause)),
    'DEADLINE_EXCEEDED: listTopics did not complete within 5 ms (last error: CONNECTION_ERROR: cannot connect to h:1: connect ECONNREFUSED)',
  )
  assert.equal(describeError(new Error('plain')), 'plain')
  assert.ok(!describeError(new BrokerError(3)).includes('\n'))
})

test('debugError: the stack, the context and the causes', () => {
  const e = new KafkawireError('X', 'outer', { context: { topic: 't' }, cause: new Error('inner') })
  const s = debugError(e)
  assert.match(s, /^KafkawireError: outer\n\s+at /)
  assert.match(s, /context: \{ "topic": "t" \}/)
  assert.match(s, /caused by: Error: inner/)
})
