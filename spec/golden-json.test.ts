// The lossless JSON used to talk to the golden-vector reference JVM
// (conformance/golden/json.ts): int64 values must cross it exactly.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parse, RawJson, stringify } from '../conformance/golden/json.js'

test('integers parse as exact bigints, other numbers as doubles', () => {
  const text = '{"max":9223372036854775807,"min":-9223372036854775808,"big":9007199254740993,"zero":0,"f":1.5,"e":1e+21,"g":-2.5E-3}'
  assert.deepStrictEqual(parse(text), {
    max: 2n ** 63n - 1n,
    min: -(2n ** 63n),
    big: 2n ** 53n + 1n,
    zero: 0n,
    f: 1.5,
    e: 1e21,
    g: -0.0025,
  })
})

test('strings: escapes and surrogate pairs', () => {
  assert.deepStrictEqual(parse('["a\\"b\\\\c\\/\\n\\t\\u0000\\u00e9", "\\ud83d\\ude00", "😀"]'), ['a"b\\c/\n\t\u0000é', '😀', '😀'])
})

test('nesting, whitespace, literals', () => {
  assert.deepStrictEqual(parse(' { "a" : [ true , false , null , [ ] , { } ] } '), { a: [true, false, null, [], {}] })
})

test('malformed input is refused', () => {
  for (const bad of ['{', '[1,]', '{"a" 1}', '01x', '"\\x"', 'nul', '1 2']) assert.throws(() => parse(bad), SyntaxError, bad)
})

test('stringify writes bigints as plain integers, raw text verbatim, skips undefined', () => {
  const s = stringify({ id: -(2n ** 63n), d: new RawJson('5.0'), inf: new RawJson('-Infinity'), s: 'é"', a: [1, null], u: undefined })
  assert.equal(s, '{"id":-9223372036854775808,"d":5.0,"inf":-Infinity,"s":"é\\"","a":[1,null]}')
  assert.deepStrictEqual(parse(stringify({ v: 2n ** 63n - 1n })), { v: 2n ** 63n - 1n })
  assert.throws(() => stringify(Infinity))
})
