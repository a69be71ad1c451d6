/**
 * Fuzz targets for the message codec: every API's request and response body
 * decoder (one target per API and direction, inputs spread over all of its
 * versions), the request and response headers, whole request and response
 * frames, and the consumer-protocol structures embedded in group messages.
 *
 * Seeds are encodings of values drawn from the schema arbitraries, plus the
 * all-defaults value, plus (in flexible versions) values carrying unknown
 * tagged fields.
 */
import fc from 'fast-check'
import {
  decodeRequest,
  decodeRequestBody,
  decodeResponse,
  decodeResponseBody,
  encodeRequest,
  encodeRequestBody,
  encodeResponse,
  encodeResponseBody,
  type DecodedRequest,
} from '../../src/protocol/api.js'
import { codecFor } from '../../src/protocol/compiler.js'
import { ProtocolError } from '../../src/protocol/errors.js'
import {
  apiSchemas,
  consumerProtocolAssignment,
  consumerProtocolSubscription,
  requestHeader,
  responseHeader,
} from '../../src/protocol/messages/index.js'
import { Reader } from '../../src/protocol/reader.js'
import type { ApiSchema, MessageSchema } from '../../src/protocol/schema.js'
import { Writer } from '../../src/protocol/writer.js'
import { structArbitrary } from '../../spec/support/arbitrary.js'
import type { Rng } from '../mutate.js'
import type { FuzzInput, Target } from '../oracle.js'

/** Seeds drawn per version; enough variety to splice from, few enough to start fast. */
const SEEDS_PER_VERSION = 6

export function versionsOf(m: MessageSchema): number[] {
  const out: number[] = []
  for (let v = m.versions.min; v <= m.versions.max; v++) if (m.versions.has(v)) out.push(v)
  return out
}

function sample(m: MessageSchema, version: number, rng: Rng, n: number): Record<string, unknown>[] {
  return fc.sample(structArbitrary(m, version, { maxArray: 3, maxString: 10, maxBytes: 16 }), { numRuns: n, seed: rng.u32() | 0 })
}

/**
 * Unknown tagged fields come back from a re-encode sorted by tag (the encoder
 * writes tagged fields in tag order, as KIP-482 requires), so order is not
 * part of the value. Sorts them, stably, everywhere in a decoded value.
 */
export function sortUnknownTags(v: unknown): unknown {
  if (Array.isArray(v)) {
    for (const e of v) sortUnknownTags(e)
  } else if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) {
    const o = v as Record<string, unknown>
    for (const k of Object.keys(o)) {
      if (k === '_unknownTaggedFields' && Array.isArray(o[k])) (o[k] as Array<{ tag: number }>).sort((x, y) => x.tag - y.tag)
      else sortUnknownTags(o[k])
    }
  }
  return v
}

/**
 * Invalid UTF-8 decodes to U+FFFD, three bytes each when encoded again, so a
 * long enough string of invalid bytes decodes fine and then exceeds the
 * 32767-byte string limit on the way back (Java behaves the same). Inputs at
 * the default --max-length cannot get there; longer ones can.
 */
function encodeMayRefuse(err: unknown, value: unknown): boolean {
  return (
    err instanceof ProtocolError &&
    err.code === 'PROTOCOL_INVALID_VALUE' &&
    /string of \d+ bytes exceeds/.test(err.message) &&
    JSON.stringify(value, (_, x) => (typeof x === 'bigint' ? String(x) : x)).includes('\ufffd')
  )
}

/** Adds a couple of unknown tagged fields to the top level of a flexible message value. */
function withUnknownTags(value: Record<string, unknown>, rng: Rng): Record<string, unknown> {
  return {
    ...value,
    _unknownTaggedFields: [
      { tag: 90 + rng.below(10), data: rng.bytes(rng.below(6)) },
      { tag: 100 + rng.below(1000), data: rng.bytes(rng.below(3)) },
    ],
  }
}

function bodySeeds(m: MessageSchema, encode: (v: number, value: object) => Buffer, rng: Rng): FuzzInput[] {
  const out: FuzzInput[] = []
  for (const v of versionsOf(m)) {
    const values: Record<string, unknown>[] = [{}, ...sample(m, v, rng, SEEDS_PER_VERSION)]
    if (m.flexible.has(v)) values.push(withUnknownTags(values[values.length - 1]!, rng))
    for (const value of values) out.push({ version: v, data: Buffer.from(encode(v, value)) })
  }
  return out
}

function apiBodyTarget(a: ApiSchema, direction: 'request' | 'response'): Target {
  const m = direction === 'request' ? a.request : a.response
  const decode = direction === 'request' ? decodeRequestBody : decodeResponseBody
  const encode = direction === 'request' ? encodeRequestBody : encodeResponseBody
  return {
    name: `${a.name}.${direction}`,
    versions: versionsOf(m),
    decode: (data, version) => decode(a.apiKey, version, data),
    encode: (value, version) => encode(a.apiKey, version, value as object),
    normalise: sortUnknownTags,
    encodeMayRefuse,
    seeds: (rng) => bodySeeds(m, (v, value) => encode(a.apiKey, v, value), rng),
  }
}

/**
 * A bare struct codec (headers, consumer protocol). These are read from the
 * front of a larger buffer in practice, so trailing bytes are not an error.
 */
function structTarget(name: string, m: MessageSchema, flexibleFrom: (v: number) => boolean): Target {
  const codec = (v: number) => codecFor(m, v, flexibleFrom(v), name)
  const encode = (value: unknown, v: number) => {
    const w = new Writer(64)
    codec(v).encode(w, value)
    return Buffer.from(w.finish())
  }
  return {
    name,
    versions: versionsOf(m),
    decode: (data, version) => codec(version).decode(new Reader(data)),
    encode,
    normalise: sortUnknownTags,
    encodeMayRefuse,
    seeds: (rng) => {
      const out: FuzzInput[] = []
      for (const v of versionsOf(m)) {
        for (const value of [{}, ...sample(m, v, rng, SEEDS_PER_VERSION)]) out.push({ version: v, data: encode(value, v) })
      }
      return out
    },
  }
}

/**
 * Whole request frames, [size][header][body], decoded by decodeRequest, which
 * takes the API and version from the header: mutations that change those
 * bytes send the body to another decoder.
 */
function requestFrameTarget(): Target {
  return {
    name: 'RequestFrame',
    versions: [0],
    decode: (data) => decodeRequest(data, { sizePrefix: true }),
    encode: (value) => {
      const { header, body } = value as DecodedRequest
      return encodeRequest(header.apiKey, header.apiVersion, header.correlationId, header.clientId, body as object)
    },
    // encodeRequest takes no header tagged fields (it is a test-tool API), so
    // unknown tagged fields in a flexible request header are dropped on the
    // way back; that is a limit of the encoder's interface, not of the codec.
    encodeMayRefuse,
    normalise: (v) => {
      const { header, body } = v as DecodedRequest
      const { _unknownTaggedFields: _, ...rest } = header
      return { header: rest, body: sortUnknownTags(body) }
    },
    seeds: (rng) => {
      const out: FuzzInput[] = []
      for (const a of apiSchemas) {
        for (const v of [a.minVersion, a.maxVersion, a.minVersion + rng.below(a.maxVersion - a.minVersion + 1)]) {
          const [value] = sample(a.request, v, rng, 1)
          const clientId = rng.chance(0.2) ? null : rng.chance(0.5) ? 'kafkawire' : ''
          out.push({ version: 0, data: Buffer.from(encodeRequest(a.apiKey, v, rng.u32() | 0, clientId, value!)) })
        }
      }
      return out
    },
  }
}

/**
 * Whole response frames. A response does not say which API it answers, so the
 * fuzz input carries it: [int16 apiKey][int16 version][size][header][body].
 */
function responseFrameTarget(): Target {
  return {
    name: 'ResponseFrame',
    versions: [0],
    decode: (data) => {
      const r = new Reader(data)
      const apiKey = r.int16()
      const version = r.int16()
      const { correlationId, body } = decodeResponse(apiKey, version, data.subarray(4), { sizePrefix: true })
      return { apiKey, version, correlationId, body }
    },
    encode: (value) => {
      const { apiKey, version, correlationId, body } = value as { apiKey: number; version: number; correlationId: number; body: object }
      const prefix = Buffer.alloc(4)
      prefix.writeInt16BE(apiKey, 0)
      prefix.writeInt16BE(version, 2)
      return Buffer.concat([prefix, encodeResponse(apiKey, version, correlationId, body)])
    },
    normalise: sortUnknownTags,
    encodeMayRefuse,
    seeds: (rng) => {
      const out: FuzzInput[] = []
      for (const a of apiSchemas) {
        for (const v of [a.minVersion, a.maxVersion, a.minVersion + rng.below(a.maxVersion - a.minVersion + 1)]) {
          const [value] = sample(a.response, v, rng, 1)
          const prefix = Buffer.alloc(4)
          prefix.writeInt16BE(a.apiKey, 0)
          prefix.writeInt16BE(v, 2)
          out.push({ version: 0, data: Buffer.concat([prefix, encodeResponse(a.apiKey, v, rng.u32() | 0, value!)]) })
        }
      }
      return out
    },
  }
}

export function messageTargets(): Target[] {
  return [
    ...apiSchemas.flatMap((a) => [apiBodyTarget(a, 'request'), apiBodyTarget(a, 'response')]),
    structTarget('RequestHeader', requestHeader, (v) => v >= 2),
    structTarget('ResponseHeader', responseHeader, (v) => v >= 1),
    requestFrameTarget(),
    responseFrameTarget(),
    structTarget('ConsumerProtocolSubscription', consumerProtocolSubscription, () => false),
    structTarget('ConsumerProtocolAssignment', consumerProtocolAssignment, () => false),
  ]
}
