/**
 * Request and response framing for any (apiKey, version): headers, bodies,
 * and the version rules that pick the header version (KIP-482, KIP-511).
 */
import { codecFor } from './compiler.js'
import { ProtocolError } from './errors.js'
import { apiSchemas } from './messages/index.js'
import { requestHeader } from './messages/request-header.js'
import { responseHeader } from './messages/response-header.js'
import { Reader } from './reader.js'
import type { ApiSchema, MessageSchema } from './schema.js'
import { Writer } from './writer.js'

export interface ApiInfo {
  readonly apiKey: number
  readonly name: string
  readonly minVersion: number
  readonly maxVersion: number
  /** First flexible version, or -1. */
  readonly flexibleFrom: number
}

const byKey: Array<ApiSchema | undefined> = []
for (const a of apiSchemas) byKey[a.apiKey] = a

/** Every API this codec speaks, with the full version range of the specification. */
export const apis: ReadonlyArray<ApiInfo> = apiSchemas.map((a) => ({
  apiKey: a.apiKey,
  name: a.name,
  minVersion: a.minVersion,
  maxVersion: a.maxVersion,
  flexibleFrom: a.flexibleFrom,
}))

const API_VERSIONS_KEY = 18
const CONTROLLED_SHUTDOWN_KEY = 7

export function apiSchema(apiKey: number): ApiSchema {
  const a = byKey[apiKey]
  if (a === undefined) throw new ProtocolError('PROTOCOL_UNKNOWN_API', `unknown API key ${apiKey}`, { apiKey })
  return a
}

function checkVersion(a: ApiSchema, version: number): void {
  if (!Number.isInteger(version) || version < a.minVersion || version > a.maxVersion) {
    throw new ProtocolError(
      'PROTOCOL_UNSUPPORTED_VERSION',
      `${a.name} v${version} is outside the versions this codec knows (${a.minVersion}-${a.maxVersion})`,
      { apiKey: a.apiKey, apiName: a.name, apiVersion: version },
    )
  }
}

export function isFlexible(apiKey: number, version: number): boolean {
  const a = apiSchema(apiKey)
  return a.request.flexible.has(version)
}

/** Request header version: 2 for flexible versions, 1 otherwise (0 only for ControlledShutdown v0). */
export function requestHeaderVersion(apiKey: number, version: number): number {
  if (apiKey === CONTROLLED_SHUTDOWN_KEY && version === 0) return 0
  return isFlexible(apiKey, version) ? 2 : 1
}

/**
 * Response header version: 1 for flexible versions, 0 otherwise. ApiVersions
 * always answers with header v0 so that a client that sent a version the
 * broker does not know can still parse the error (KIP-511).
 */
export function responseHeaderVersion(apiKey: number, version: number): number {
  if (apiKey === API_VERSIONS_KEY) return 0
  return isFlexible(apiKey, version) ? 1 : 0
}

export interface RequestHeaderValue {
  apiKey: number
  apiVersion: number
  correlationId: number
  clientId: string | null
  _unknownTaggedFields?: Array<{ tag: number; data: Buffer }>
}

export interface EncodeOptions {
  /** Prefix the frame with its int32 size, as on the wire. Default true. */
  sizePrefix?: boolean
  /** Writer to reuse; its previous content is discarded. */
  writer?: Writer
}

function bodyCodec(schema: MessageSchema, version: number, path: string) {
  return codecFor(schema, version, schema.flexible.has(version), path)
}

function annotate(err: unknown, a: ApiSchema, version: number, what: string): unknown {
  if (err instanceof ProtocolError || (err as { context?: unknown })?.context !== undefined) {
    const e = err as ProtocolError
    e.context.apiKey ??= a.apiKey
    e.context.apiName ??= a.name
    e.context.apiVersion ??= version
    if (!e.message.includes(`${a.name}${what}`)) e.message = `${a.name}${what} v${version}: ${e.message}`
  }
  return err
}

/** Encodes a request: [size] header body. */
export function encodeRequest(
  apiKey: number,
  version: number,
  correlationId: number,
  clientId: string | null,
  body: object,
  options: EncodeOptions = {},
): Buffer {
  const a = apiSchema(apiKey)
  checkVersion(a, version)
  const w = options.writer ? options.writer.reset() : new Writer(512)
  const prefixed = options.sizePrefix !== false
  if (prefixed) w.int32(0)
  const hv = requestHeaderVersion(apiKey, version)
  try {
    codecFor(requestHeader, hv, hv >= 2, 'RequestHeader').encode(w, {
      requestApiKey: apiKey,
      requestApiVersion: version,
      correlationId,
      clientId,
    })
    bodyCodec(a.request, version, `${a.name}Request`).encode(w, body)
  } catch (err) {
    throw annotate(err, a, version, 'Request')
  }
  if (prefixed) w.int32At(0, w.offset - 4)
  return w.finish()
}

/** Encodes a response: [size] header body. For test tools and mock brokers. */
export function encodeResponse(apiKey: number, version: number, correlationId: number, body: object, options: EncodeOptions = {}): Buffer {
  const a = apiSchema(apiKey)
  checkVersion(a, version)
  const w = options.writer ? options.writer.reset() : new Writer(512)
  const prefixed = options.sizePrefix !== false
  if (prefixed) w.int32(0)
  const hv = responseHeaderVersion(apiKey, version)
  try {
    codecFor(responseHeader, hv, hv >= 1, 'ResponseHeader').encode(w, { correlationId })
    bodyCodec(a.response, version, `${a.name}Response`).encode(w, body)
  } catch (err) {
    throw annotate(err, a, version, 'Response')
  }
  if (prefixed) w.int32At(0, w.offset - 4)
  return w.finish()
}

/** Encodes only a request body, without header or size. */
export function encodeRequestBody(apiKey: number, version: number, body: object): Buffer {
  const a = apiSchema(apiKey)
  checkVersion(a, version)
  const w = new Writer(256)
  try {
    bodyCodec(a.request, version, `${a.name}Request`).encode(w, body)
  } catch (err) {
    throw annotate(err, a, version, 'Request')
  }
  return w.finish()
}

/** Encodes only a response body, without header or size. */
export function encodeResponseBody(apiKey: number, version: number, body: object): Buffer {
  const a = apiSchema(apiKey)
  checkVersion(a, version)
  const w = new Writer(256)
  try {
    bodyCodec(a.response, version, `${a.name}Response`).encode(w, body)
  } catch (err) {
    throw annotate(err, a, version, 'Response')
  }
  return w.finish()
}

export interface DecodeOptions {
  /** The input starts with the int32 size prefix. Default false. */
  sizePrefix?: boolean
  /** Fail when bytes remain after the body. Default true. */
  strict?: boolean
}

function frameReader(buf: Buffer, options: DecodeOptions): Reader {
  const r = new Reader(buf)
  if (options.sizePrefix) {
    const size = r.int32()
    if (size < 0 || size > r.remaining) {
      throw new ProtocolError('PROTOCOL_INVALID_LENGTH', `frame size ${size} does not match the ${r.remaining} byte(s) present`, { offset: 0 })
    }
    r.end = 4 + size
  }
  return r
}

function finish(r: Reader, options: DecodeOptions, a: ApiSchema, version: number, what: string): void {
  if (options.strict !== false && r.offset !== r.end) {
    throw new ProtocolError(
      'PROTOCOL_TRAILING_BYTES',
      `${a.name}${what} v${version}: ${r.end - r.offset} unread byte(s) after the body at offset ${r.offset}`,
      { apiKey: a.apiKey, apiName: a.name, apiVersion: version, offset: r.offset },
    )
  }
}

export interface DecodedResponse<T = Record<string, unknown>> {
  correlationId: number
  body: T
}

/** Decodes a response frame (header + body) of a known API and version. */
export function decodeResponse<T = Record<string, unknown>>(apiKey: number, version: number, buf: Buffer, options: DecodeOptions = {}): DecodedResponse<T> {
  const a = apiSchema(apiKey)
  checkVersion(a, version)
  const r = frameReader(buf, options)
  const hv = responseHeaderVersion(apiKey, version)
  try {
    const header = codecFor(responseHeader, hv, hv >= 1, 'ResponseHeader').decode(r) as { correlationId: number }
    const body = bodyCodec(a.response, version, `${a.name}Response`).decode(r) as T
    finish(r, options, a, version, 'Response')
    return { correlationId: header.correlationId, body }
  } catch (err) {
    throw annotate(err, a, version, 'Response')
  }
}

/** Decodes only a response body (after the header has been read by the caller). */
export function decodeResponseBody<T = Record<string, unknown>>(apiKey: number, version: number, r: Reader | Buffer, options: DecodeOptions = {}): T {
  const a = apiSchema(apiKey)
  checkVersion(a, version)
  const reader = Buffer.isBuffer(r) ? new Reader(r) : r
  try {
    const body = bodyCodec(a.response, version, `${a.name}Response`).decode(reader) as T
    finish(reader, options, a, version, 'Response')
    return body
  } catch (err) {
    throw annotate(err, a, version, 'Response')
  }
}

/** Decodes only a request body. */
export function decodeRequestBody<T = Record<string, unknown>>(apiKey: number, version: number, r: Reader | Buffer, options: DecodeOptions = {}): T {
  const a = apiSchema(apiKey)
  checkVersion(a, version)
  const reader = Buffer.isBuffer(r) ? new Reader(r) : r
  try {
    const body = bodyCodec(a.request, version, `${a.name}Request`).decode(reader) as T
    finish(reader, options, a, version, 'Request')
    return body
  } catch (err) {
    throw annotate(err, a, version, 'Request')
  }
}

export interface DecodedRequest<T = Record<string, unknown>> {
  header: RequestHeaderValue
  body: T
}

/** Decodes a request frame; the API and version come from its header. For test tools and mock brokers. */
export function decodeRequest<T = Record<string, unknown>>(buf: Buffer, options: DecodeOptions = {}): DecodedRequest<T> {
  const r = frameReader(buf, options)
  // The header version depends on the API and version, which are the first
  // four bytes of every header version.
  const start = r.offset
  const apiKey = r.int16()
  const version = r.int16()
  r.offset = start
  const a = apiSchema(apiKey)
  checkVersion(a, version)
  const hv = requestHeaderVersion(apiKey, version)
  try {
    const h = codecFor(requestHeader, hv, hv >= 2, 'RequestHeader').decode(r) as {
      requestApiKey: number
      requestApiVersion: number
      correlationId: number
      clientId: string | null
      _unknownTaggedFields?: Array<{ tag: number; data: Buffer }>
    }
    const body = bodyCodec(a.request, version, `${a.name}Request`).decode(r) as T
    finish(r, options, a, version, 'Request')
    const header: RequestHeaderValue = { apiKey, apiVersion: version, correlationId: h.correlationId, clientId: h.clientId }
    if (h._unknownTaggedFields) header._unknownTaggedFields = h._unknownTaggedFields
    return { header, body }
  } catch (err) {
    throw annotate(err, a, version, 'Request')
  }
}

/** Reads the response header of a frame and returns a reader positioned at the body. */
export function readResponseHeader(apiKey: number, version: number, r: Reader): number {
  const hv = responseHeaderVersion(apiKey, version)
  const h = codecFor(responseHeader, hv, hv >= 1, 'ResponseHeader').decode(r) as { correlationId: number }
  return h.correlationId
}
