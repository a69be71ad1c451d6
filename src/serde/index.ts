/**
 * Typed serializers (producer) and deserializers (consumer). A serde turns an
 * application value into record bytes and back; null always stays null
 * (tombstones and null keys).
 */
import { KafkawireError } from '../protocol/errors.js'

export interface SerdeContext {
  topic: string
  /** 'key' or 'value': which part of the record is being converted. */
  part: 'key' | 'value'
  headers?: ReadonlyArray<{ key: string; value: Uint8Array | null }>
}

export type SerializerFn<T = unknown> = (value: T, ctx: SerdeContext) => Buffer | null
export type DeserializerFn<T = unknown> = (data: Buffer, ctx: SerdeContext) => T

/** 'raw' passes Buffers through (strings as UTF-8); 'string' is UTF-8; 'json' is JSON in UTF-8. */
export type SerializerSpec<T = unknown> = 'raw' | 'string' | 'json' | SerializerFn<T>
export type DeserializerSpec<T = unknown> = 'raw' | 'string' | 'json' | DeserializerFn<T>

/** A value could not be (de)serialized. Not retriable: the same input fails again. */
export class SerializationError extends KafkawireError {
  constructor(message: string, context: { topic?: string; partition?: number; recordOffset?: bigint; part?: string } = {}, cause?: unknown) {
    super('SERIALIZATION_ERROR', message, { retriable: false, context, cause })
  }
}

function toBuffer(v: unknown, ctx: SerdeContext): Buffer | null {
  if (v === null || v === undefined) return null
  if (Buffer.isBuffer(v)) return v
  if (typeof v === 'string') return Buffer.from(v, 'utf8')
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  throw new SerializationError(
    `${ctx.part} for topic ${ctx.topic} must be a Buffer, a string or null, got ${typeof v}; configure a serializer (e.g. 'json') for other types`,
    { topic: ctx.topic, part: ctx.part },
  )
}

export const serializers = {
  raw: toBuffer as SerializerFn,
  string: ((v: unknown, ctx: SerdeContext) => {
    if (v === null || v === undefined) return null
    if (typeof v !== 'string') throw new SerializationError(`${ctx.part} for topic ${ctx.topic} must be a string, got ${typeof v}`, { topic: ctx.topic, part: ctx.part })
    return Buffer.from(v, 'utf8')
  }) as SerializerFn,
  json: ((v: unknown, ctx: SerdeContext) => {
    if (v === null || v === undefined) return null
    let s: string | undefined
    try {
      s = JSON.stringify(v)
    } catch (err) {
      throw new SerializationError(`${ctx.part} for topic ${ctx.topic} cannot be serialized as JSON: ${(err as Error).message}`, { topic: ctx.topic, part: ctx.part }, err)
    }
    if (s === undefined) throw new SerializationError(`${ctx.part} for topic ${ctx.topic} has no JSON form`, { topic: ctx.topic, part: ctx.part })
    return Buffer.from(s, 'utf8')
  }) as SerializerFn,
}

export const deserializers = {
  raw: ((b: Buffer) => b) as DeserializerFn<Buffer>,
  string: ((b: Buffer) => b.toString('utf8')) as DeserializerFn<string>,
  json: ((b: Buffer, ctx: SerdeContext) => {
    try {
      return JSON.parse(b.toString('utf8')) as unknown
    } catch (err) {
      throw new SerializationError(`${ctx.part} on topic ${ctx.topic} is not valid JSON: ${(err as Error).message}`, { topic: ctx.topic, part: ctx.part }, err)
    }
  }) as DeserializerFn,
}

export function resolveSerializer(spec: SerializerSpec | undefined): SerializerFn {
  if (spec === undefined || spec === 'raw') return serializers.raw
  if (spec === 'string') return serializers.string
  if (spec === 'json') return serializers.json
  if (typeof spec === 'function') return spec as SerializerFn
  throw new TypeError(`unknown serializer ${String(spec)}`)
}

export function resolveDeserializer(spec: DeserializerSpec | undefined): DeserializerFn {
  if (spec === undefined || spec === 'raw') return deserializers.raw
  if (spec === 'string') return deserializers.string
  if (spec === 'json') return deserializers.json
  if (typeof spec === 'function') return spec as DeserializerFn
  throw new TypeError(`unknown deserializer ${String(spec)}`)
}
