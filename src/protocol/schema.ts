/**
 * The declarative message schema. Each API module declares its request and
 * response once with these builders; the codec compiler, the TypeScript types,
 * the test arbitraries and the `apis` table are all derived from that single
 * declaration.
 *
 * The model follows the Kafka message definition format: every field has the
 * versions it exists in, optional nullable and tagged versions (KIP-482), and a
 * default used when the field is absent from the version on the wire.
 */

/** A set of API versions, from a spec string such as "0+", "3-7", "none", "0-3,5+". */
export class VersionSet {
  readonly ranges: ReadonlyArray<readonly [number, number]>
  readonly spec: string

  constructor(spec: string) {
    this.spec = spec
    const ranges: Array<[number, number]> = []
    const s = spec.trim()
    if (s !== 'none' && s !== '') {
      for (const part of s.split(',')) {
        const p = part.trim()
        let m: RegExpMatchArray | null
        if ((m = /^(\d+)\+$/.exec(p))) ranges.push([Number(m[1]), Infinity])
        else if ((m = /^(\d+)-(\d+)$/.exec(p))) ranges.push([Number(m[1]), Number(m[2])])
        else if ((m = /^(\d+)$/.exec(p))) ranges.push([Number(m[1]), Number(m[1])])
        else throw new Error(`invalid version spec ${JSON.stringify(spec)}`)
      }
    }
    this.ranges = ranges
  }

  has(v: number): boolean {
    for (const [lo, hi] of this.ranges) if (v >= lo && v <= hi) return true
    return false
  }

  get min(): number {
    return this.ranges.length === 0 ? Infinity : Math.min(...this.ranges.map((r) => r[0]))
  }

  get max(): number {
    return this.ranges.length === 0 ? -Infinity : Math.max(...this.ranges.map((r) => r[1]))
  }

  static readonly NONE = new VersionSet('none')
  static readonly ALL = new VersionSet('0+')
}

const versionCache = new Map<string, VersionSet>()
export function versions(spec: string): VersionSet {
  let v = versionCache.get(spec)
  if (v === undefined) versionCache.set(spec, (v = new VersionSet(spec)))
  return v
}

export type PrimitiveKind =
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint16'
  | 'uint32'
  | 'float64'
  | 'bool'
  | 'uuid'
  | 'string'
  | 'bytes'
  | 'records'

export type FieldKind = PrimitiveKind | 'array' | 'struct'

/** A field as the compiler sees it. `T` is the decoded TypeScript type (phantom). */
export interface Field<T = unknown> {
  readonly kind: FieldKind
  readonly versions: VersionSet
  readonly nullable: VersionSet
  readonly tagged: VersionSet
  readonly tag: number
  readonly ignorable: boolean
  /** Per-field override of the message's flexible versions (RequestHeader.clientId). */
  readonly flexible: VersionSet | null
  /** Default for scalars; `null` or undefined (meaning the type default) otherwise. */
  readonly default: unknown
  /** Element type of an array: a primitive kind or a struct. */
  readonly element?: PrimitiveKind | Struct
  /** The struct of a struct field. */
  readonly struct?: Struct
  /** Phantom: never set at runtime. */
  readonly __type?: T
}

export type Fields = Record<string, Field<unknown>>

export interface Struct<F extends Fields = Fields> {
  readonly fields: F
  /** Field names in wire order (declaration order). */
  readonly order: ReadonlyArray<string>
}

export interface UnknownTaggedField {
  tag: number
  data: Buffer
}

/** The decoded value of a struct. */
export type Infer<F extends Fields> = { [K in keyof F]: F[K] extends Field<infer T> ? T : never } & {
  /** Tagged fields this version of the schema does not know; written back on encode. */
  _unknownTaggedFields?: UnknownTaggedField[]
}

/** What an encoder accepts: any field may be left out and takes its default. */
export type Input<T> = T extends Buffer
  ? T
  : T extends Array<infer E>
    ? Array<Input<E>>
    : T extends object
      ? { [K in keyof T]?: Input<T[K]> }
      : T

interface CommonOpts {
  /** Versions in which the field may be null. */
  nullable?: string
  /** Versions in which the field is a tagged field, and its tag. */
  tagged?: string
  tag?: number
  ignorable?: boolean
  flexible?: string
}
interface ScalarOpts<D> extends CommonOpts {
  default?: D
}
type Nullable = { nullable: string }

function field<T>(kind: FieldKind, v: string, opts: CommonOpts & { default?: unknown }, extra: Partial<Field> = {}): Field<T> {
  if ((opts.tagged === undefined) !== (opts.tag === undefined)) {
    throw new Error('a tagged field needs both `tagged` and `tag`')
  }
  return {
    kind,
    versions: versions(v),
    nullable: opts.nullable === undefined ? VersionSet.NONE : versions(opts.nullable),
    tagged: opts.tagged === undefined ? VersionSet.NONE : versions(opts.tagged),
    tag: opts.tag ?? -1,
    ignorable: opts.ignorable ?? false,
    flexible: opts.flexible === undefined ? null : versions(opts.flexible),
    default: opts.default,
    ...extra,
  } as Field<T>
}

export function struct<F extends Fields>(fields: F): Struct<F> {
  return { fields, order: Object.keys(fields) }
}

type ElementType<E> = E extends 'int8' | 'int16' | 'int32' | 'uint16' | 'uint32' | 'float64'
  ? number
  : E extends 'int64'
    ? bigint
    : E extends 'bool'
      ? boolean
      : E extends 'uuid' | 'string'
        ? string
        : E extends 'bytes'
          ? Buffer
          : E extends Fields
            ? Infer<E>
            : E extends Struct<infer F>
              ? Infer<F>
              : never

/** Field builders, named after the Kafka schema types. */
export const f = {
  int8: (v: string, o: ScalarOpts<number> = {}) => field<number>('int8', v, o),
  int16: (v: string, o: ScalarOpts<number> = {}) => field<number>('int16', v, o),
  int32: (v: string, o: ScalarOpts<number> = {}) => field<number>('int32', v, o),
  int64: (v: string, o: ScalarOpts<bigint> = {}) => field<bigint>('int64', v, o),
  uint16: (v: string, o: ScalarOpts<number> = {}) => field<number>('uint16', v, o),
  uint32: (v: string, o: ScalarOpts<number> = {}) => field<number>('uint32', v, o),
  float64: (v: string, o: ScalarOpts<number> = {}) => field<number>('float64', v, o),
  bool: (v: string, o: ScalarOpts<boolean> = {}) => field<boolean>('bool', v, o),
  uuid: (v: string, o: ScalarOpts<string> = {}) => field<string>('uuid', v, o),
  string: (<O extends ScalarOpts<string | null>>(v: string, o?: O) => field('string', v, o ?? {})) as {
    (v: string, o: ScalarOpts<string | null> & Nullable): Field<string | null>
    (v: string, o?: ScalarOpts<string>): Field<string>
  },
  bytes: ((v: string, o: ScalarOpts<null> = {}) => field('bytes', v, o)) as {
    (v: string, o: ScalarOpts<null> & Nullable): Field<Buffer | null>
    (v: string, o?: ScalarOpts<null>): Field<Buffer>
  },
  /** A record batch (or legacy message set), kept as raw bytes by the message codec. */
  records: (v: string, o: ScalarOpts<null> = {}) => field<Buffer | null>('records', v, o),
  array: ((v: string, element: PrimitiveKind | Fields | Struct, o: ScalarOpts<null> = {}) =>
    field('array', v, o, { element: typeof element === 'string' ? element : asStruct(element) })) as {
    <E extends PrimitiveKind | Fields | Struct>(v: string, element: E, o: ScalarOpts<null> & Nullable): Field<Array<ElementType<E>> | null>
    <E extends PrimitiveKind | Fields | Struct>(v: string, element: E, o?: ScalarOpts<null>): Field<Array<ElementType<E>>>
  },
  struct: ((v: string, fields: Fields | Struct, o: ScalarOpts<null> = {}) =>
    field('struct', v, o, { struct: asStruct(fields) })) as {
    <E extends Fields | Struct>(v: string, fields: E, o: ScalarOpts<null> & Nullable): Field<ElementType<E> | null>
    <E extends Fields | Struct>(v: string, fields: E, o?: ScalarOpts<null>): Field<ElementType<E>>
  },
}

function isStruct(x: Fields | Struct): x is Struct {
  return Array.isArray((x as Struct).order) && typeof (x as Struct).fields === 'object'
}

function asStruct(x: Fields | Struct): Struct {
  return isStruct(x) ? x : struct(x)
}

/** A message with its own versions: an API request or response, a header, or an embedded structure. */
export interface MessageSchema<F extends Fields = Fields> extends Struct<F> {
  readonly name: string
  readonly versions: VersionSet
  readonly flexible: VersionSet
}

export function message<F extends Fields>(name: string, v: string, flexible: string, fields: F): MessageSchema<F> {
  return { name, versions: versions(v), flexible: versions(flexible), fields, order: Object.keys(fields) }
}

export interface ApiSchema<Req extends Fields = Fields, Res extends Fields = Fields> {
  readonly apiKey: number
  /** The API's name without the Request/Response suffix, e.g. "Produce". */
  readonly name: string
  readonly minVersion: number
  readonly maxVersion: number
  /** First flexible version (KIP-482), or -1 when the API has none. */
  readonly flexibleFrom: number
  /** Versions the reference implementation marks unstable (not advertised by default). */
  readonly unstableFrom: number
  readonly request: MessageSchema<Req>
  readonly response: MessageSchema<Res>
}

export interface ApiDeclaration<Req extends Fields, Res extends Fields> {
  apiKey: number
  name: string
  versions: string
  flexible: string
  /** First unstable version, when the latest versions are not released yet. */
  unstableFrom?: number
  request: Req
  response: Res
}

export function api<Req extends Fields, Res extends Fields>(d: ApiDeclaration<Req, Res>): ApiSchema<Req, Res> {
  const vs = versions(d.versions)
  const flex = versions(d.flexible)
  return {
    apiKey: d.apiKey,
    name: d.name,
    minVersion: vs.min,
    maxVersion: vs.max,
    flexibleFrom: flex.ranges.length === 0 ? -1 : flex.min,
    unstableFrom: d.unstableFrom ?? -1,
    request: message(`${d.name}Request`, d.versions, d.flexible, d.request),
    response: message(`${d.name}Response`, d.versions, d.flexible, d.response),
  }
}

export type RequestOf<A> = A extends ApiSchema<infer Req, Fields> ? Infer<Req> : never
export type ResponseOf<A> = A extends ApiSchema<Fields, infer Res> ? Infer<Res> : never
export type ValueOf<M> = M extends MessageSchema<infer F> ? Infer<F> : M extends Struct<infer F> ? Infer<F> : never

const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA'
export const EMPTY_BUFFER: Buffer = Buffer.alloc(0)

/**
 * The value a field takes when it is absent from a version, as the reference
 * implementation defines it: the declared default, else 0 / false / "" /
 * empty / the zero uuid; records default to null, structs to their defaults.
 */
export function defaultValue(fd: Field): unknown {
  if (fd.default !== undefined) return fd.default
  switch (fd.kind) {
    case 'int8':
    case 'int16':
    case 'int32':
    case 'uint16':
    case 'uint32':
    case 'float64':
      return 0
    case 'int64':
      return 0n
    case 'bool':
      return false
    case 'uuid':
      return ZERO_UUID
    case 'string':
      return ''
    case 'bytes':
      return EMPTY_BUFFER
    case 'records':
      return null
    case 'array':
      return []
    case 'struct':
      return defaultStruct(fd.struct!)
  }
}

export function defaultStruct(s: Struct): Record<string, unknown> {
  const o: Record<string, unknown> = {}
  for (const name of s.order) o[name] = defaultValue(s.fields[name]!)
  return o
}

/** Whether a value equals the field's default (absent fields and tagged fields are elided when it does). */
export function isDefault(fd: Field, value: unknown): boolean {
  if (value === undefined) return true
  const d = fd.default !== undefined ? fd.default : undefined
  switch (fd.kind) {
    case 'array':
      return d === null ? value === null : Array.isArray(value) && value.length === 0
    case 'struct':
      if (d === null) return value === null
      return value !== null && structIsDefault(fd.struct!, value as Record<string, unknown>)
    case 'bytes':
      return d === null ? value === null : Buffer.isBuffer(value) && value.length === 0
    case 'records':
      return value === null
    case 'float64':
      return Object.is(value, defaultValue(fd))
    default:
      return value === defaultValue(fd)
  }
}

function structIsDefault(s: Struct, v: Record<string, unknown>): boolean {
  for (const name of s.order) if (!isDefault(s.fields[name]!, v[name])) return false
  const unknown = v._unknownTaggedFields as unknown[] | undefined
  return unknown === undefined || unknown.length === 0
}

export const ZERO_UUID_STRING = ZERO_UUID
