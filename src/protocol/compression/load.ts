/**
 * Lazy loading of the optional native codec packages. Nothing is imported
 * until a batch with that codec is first encoded or decoded, so users who
 * never see snappy/lz4/zstd data do not need those packages installed. A
 * missing (or unloadable) package becomes PROTOCOL_CODEC_UNAVAILABLE naming
 * the npm package to install.
 */
import { ProtocolError } from '../errors.js'
import type { CompressionCodecName } from './codec.js'

export interface Lz4Module {
  compress(data: Uint8Array): Promise<Buffer>
  compressSync(data: Buffer): Buffer
  uncompress(data: Uint8Array): Promise<Buffer>
  uncompressSync(data: Uint8Array): Buffer
}

export interface SnappyModule {
  compress(data: Uint8Array, opts: { copyOutputData: true }): Promise<Buffer>
  compressSync(data: Uint8Array, opts: { copyOutputData: true }): Buffer
  uncompress(data: Uint8Array, opts: { asBuffer: true; copyOutputData: true }): Promise<string | Buffer>
  uncompressSync(data: Uint8Array, opts: { asBuffer: true; copyOutputData: true }): string | Buffer
}

export interface ZstdModule {
  compress(data: Buffer, level?: number): Promise<Buffer>
  decompress(data: Buffer): Promise<Buffer>
}

type Loaded = { lz4: Lz4Module; snappy: SnappyModule; zstd: ZstdModule }
type OptionalCodec = keyof Loaded

/** The npm package each optional codec needs (package.json optionalDependencies). */
export const CODEC_PACKAGES: Record<OptionalCodec, string> = {
  lz4: 'lz4-napi',
  snappy: 'snappy',
  zstd: '@mongodb-js/zstd',
}

const specifiers: Record<OptionalCodec, string> = { ...CODEC_PACKAGES }
const cache = new Map<OptionalCodec, Promise<unknown>>()
const ready = new Map<OptionalCodec, unknown>()

export function unavailable(codec: CompressionCodecName, pkg: string, cause: unknown): ProtocolError {
  const why = cause instanceof Error ? cause.message : String(cause)
  return new ProtocolError(
    'PROTOCOL_CODEC_UNAVAILABLE',
    `${codec} compression needs the optional package "${pkg}", which could not be loaded (${why}); install it with: npm install ${pkg}`,
    { codec, package: pkg },
    cause,
  )
}

async function importModule(codec: OptionalCodec): Promise<unknown> {
  const spec = specifiers[codec]
  try {
    const ns = (await import(spec)) as { default?: unknown }
    // The codec packages are CommonJS: the namespace's default export is
    // module.exports.
    const mod = (ns.default ?? ns) as Record<string, unknown>
    const required = codec === 'zstd' ? ['compress', 'decompress'] : ['compress', 'compressSync', 'uncompress', 'uncompressSync']
    for (const fn of required) {
      if (typeof mod[fn] !== 'function') throw new Error(`package "${spec}" does not export ${fn}()`)
    }
    ready.set(codec, mod)
    return mod
  } catch (e) {
    throw unavailable(codec, CODEC_PACKAGES[codec], e)
  }
}

/** Loads (once) the package for an optional codec. */
export function loadCodec<K extends OptionalCodec>(codec: K): Promise<Loaded[K]> {
  let p = cache.get(codec)
  if (p === undefined) {
    p = importModule(codec)
    cache.set(codec, p)
  }
  return p as Promise<Loaded[K]>
}

/** The codec package if it has already been loaded, for synchronous fast paths. */
export function loadedCodec<K extends OptionalCodec>(codec: K): Loaded[K] | undefined {
  return ready.get(codec) as Loaded[K] | undefined
}

/**
 * Test hook: points a codec at another module specifier (e.g. one that does
 * not exist, to exercise PROTOCOL_CODEC_UNAVAILABLE) and forgets any loaded
 * module. Pass null to restore the real package. Not part of the public API.
 */
export function setCodecModuleForTesting(codec: OptionalCodec, specifier: string | null): void {
  specifiers[codec] = specifier ?? CODEC_PACKAGES[codec]
  cache.delete(codec)
  ready.delete(codec)
}
