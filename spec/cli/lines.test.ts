import assert from 'node:assert/strict'
import { test } from 'node:test'
import { splitLines } from '../../src/cli/lines.js'

async function lines(chunks: Array<string | Buffer>): Promise<string[]> {
  const out: string[] = []
  for await (const batch of splitLines(chunks)) for (const l of batch) out.push(l.toString('utf8'))
  return out
}

test('splits on LF and CRLF, keeps empty lines, counts a last line without newline', async () => {
  assert.deepEqual(await lines(['a\nb\r\n\nc']), ['a', 'b', '', 'c'])
  assert.deepEqual(await lines(['a\n']), ['a'])
  assert.deepEqual(await lines(['\n']), [''])
  assert.deepEqual(await lines([]), [])
  assert.deepEqual(await lines(['']), [])
  // A lone CR inside a line is data.
  assert.deepEqual(await lines(['a\rb\n']), ['a\rb'])
})

test('lines spanning chunks, including a CRLF split between chunks', async () => {
  assert.deepEqual(await lines(['ab', 'cd\nef', '', 'g\r', '\nh', 'i']), ['abcd', 'efg', 'hi'])
  assert.deepEqual(await lines(['x', 'y', 'z']), ['xyz'])
  const split = 'one\ntwo\r\nthree\n'
  for (let i = 0; i <= split.length; i++) assert.deepEqual(await lines([split.slice(0, i), split.slice(i)]), ['one', 'two', 'three'], `split at ${i}`)
})

test('bytes pass through undecoded, and onChunk sees every byte read', async () => {
  const bin = Buffer.from([0xff, 0xfe, 0x00, 0x0a, 0xc3])
  let read = 0
  const out: Buffer[] = []
  for await (const batch of splitLines([bin, Buffer.from([0x28, 0x0a])], (n) => (read += n))) out.push(...batch)
  assert.deepEqual(out, [Buffer.from([0xff, 0xfe, 0x00]), Buffer.from([0xc3, 0x28])])
  assert.equal(read, 7)
})
