/**
 * Fuzz targets for the decompressors, one per codec: `decompress.gzip`,
 * `decompress.snappy`, `decompress.lz4`, `decompress.zstd`. The input's
 * "version" is 0, except for lz4 where 1 means "legacy message set" (the
 * pre-0.10 frame header checksum is accepted, KAFKA-3160).
 *
 * Seeds are what our compressor writes for a spread of payloads (empty, tiny,
 * random, repetitive, multi-block, and one larger than the ceiling), plus the
 * framings other writers produce: raw snappy blocks and concatenated xerial
 * streams, gzip members with optional header fields and concatenated members,
 * LZ4 frames with every optional field and block size, zstd multi-frame data
 * with skippable frames.
 *
 * Round trip: decompress(compress(decompress(x))) must equal decompress(x).
 * And where the data declares its decompressed size (zstd frame content
 * sizes; the other codecs' decoders check theirs themselves), a successful
 * decompression must produce exactly that many bytes (RFC 8878 3.1.1.1.4).
 * The LZ4 frame layer is ours, so it is also checked against an independent
 * frame decoder (lz4-napi's, from lz4_flex): what ours accepts, the reference
 * must decode to the same bytes. Not the other way round: ours is stricter
 * on purpose (no dependent blocks, content size verified, end mark
 * required), and the reference knows nothing of the pre-0.10 header
 * checksum, so legacy inputs (version 1) are not compared. One leniency of
 * ours is Java's too: a block size word of 0x80000000 ends the frame
 * (Lz4BlockInputStream), where the reference reads an empty stored block;
 * such an end mark is rewritten to 0 before the reference sees the frame.
 */
import { CompressionCodec, compress, decompress, xxhash32 } from '../../src/protocol/compression/index.js'
import { zstdBound } from '../../src/protocol/compression/zstd.js'
import { KafkawireError } from '../../src/protocol/errors.js'
import type { Rng } from '../mutate.js'
import { firstDifference, type FuzzInput, type Target } from '../oracle.js'

/** Ceiling given to every decompression; seeds include a payload above it. */
const MAX_BYTES = 256 * 1024

function payloads(rng: Rng): Buffer[] {
  const lines = Array.from({ length: 4000 }, (_, i) => `record-${i % 37} value=${(i * 7) % 101}\n`).join('')
  return [
    Buffer.alloc(0),
    Buffer.from('hello kafka'),
    rng.bytes(1000),
    Buffer.from('value '.repeat(2000)),
    Buffer.from(lines), // ~100 KiB: several snappy (32 KiB) and lz4 (64 KiB) blocks
    Buffer.alloc(MAX_BYTES + 4096), // above the ceiling
  ]
}

/** Why a codec cannot be used here (its optional package is not installed), or null. */
export async function codecMissing(codec: CompressionCodec): Promise<string | null> {
  try {
    await compress(codec, Buffer.from('probe'))
    return null
  } catch (err) {
    if (err instanceof KafkawireError && err.code === 'PROTOCOL_CODEC_UNAVAILABLE') return err.message
    throw err
  }
}

// ---------------------------------------------------------------------------
// Framings beyond what our compressor writes

/** gzip member with FEXTRA, FNAME and FCOMMENT header fields (RFC 1952) around the same deflate data. */
export function gzipWithHeaderFields(member: Buffer): Buffer {
  const header = Buffer.from(member.subarray(0, 10))
  header[3] = 0x04 | 0x08 | 0x10
  // XLEN 5: one subfield, id "AB", length 1, one data byte.
  const extra = Buffer.from([5, 0, 0x41, 0x42, 1, 0, 0x7a])
  return Buffer.concat([header, extra, Buffer.from('name.txt\0comment\0'), member.subarray(10)])
}

/** An LZ4 frame with the given options; blocks are compressed with lz4-napi, or stored. */
export async function lz4Frame(
  data: Buffer,
  o: { bsv: 4 | 5 | 6 | 7; blockChecksum: boolean; contentSize: boolean; contentChecksum: boolean; store: boolean },
): Promise<Buffer> {
  const lz4 = await loadLz4Reference()
  if (lz4 === null) throw new Error('lz4-napi is not installed')
  const blockMax = 1 << (2 * o.bsv + 8)
  const flg = 0x40 | 0x20 | (o.blockChecksum ? 0x10 : 0) | (o.contentSize ? 0x08 : 0) | (o.contentChecksum ? 0x04 : 0)
  const descriptor = [0x04, 0x22, 0x4d, 0x18, flg, o.bsv << 4]
  if (o.contentSize) {
    const size = Buffer.alloc(8)
    size.writeBigUInt64LE(BigInt(data.length))
    descriptor.push(...size)
  }
  const header = Buffer.from(descriptor)
  const parts: Buffer[] = [header, Buffer.from([(xxhash32(header, 4, header.length) >>> 8) & 0xff])]
  for (let at = 0; at < data.length; at += blockMax) {
    const raw = data.subarray(at, at + blockMax)
    const packed = lz4.compressSync(raw).subarray(4) // lz4-napi prefixes the raw size
    const stored = o.store || packed.length >= raw.length
    const body = stored ? raw : packed
    const size = Buffer.alloc(4)
    size.writeUInt32LE((body.length | (stored ? 0x80000000 : 0)) >>> 0)
    parts.push(size, body)
    if (o.blockChecksum) {
      const sum = Buffer.alloc(4)
      sum.writeUInt32LE(xxhash32(body))
      parts.push(sum)
    }
  }
  parts.push(Buffer.alloc(4)) // end mark
  if (o.contentChecksum) {
    const sum = Buffer.alloc(4)
    sum.writeUInt32LE(xxhash32(data))
    parts.push(sum)
  }
  return Buffer.concat(parts)
}

/** Recomputes an LZ4 frame's header checksum byte (as the legacy writer did for version 1), so mutants reach the blocks. */
function repairLz4(input: Buffer, version: number): Buffer {
  if (input.length < 7 || input.readUInt32LE(0) !== 0x184d2204) return input
  const out = Buffer.from(input)
  const end = (out[4]! & 0x08) !== 0 ? 14 : 6
  if (out.length <= end) return out
  out[end] = (xxhash32(out, version === 1 ? 0 : 4, end) >>> 8) & 0xff
  return out
}

// ---------------------------------------------------------------------------

async function seedsFor(codec: CompressionCodec, rng: Rng): Promise<FuzzInput[]> {
  const out: FuzzInput[] = []
  const data = payloads(rng)
  const add = (b: Buffer, version = 0) => out.push({ version, data: b })
  for (const d of data) add(await compress(codec, d))
  const small = data[3]!
  switch (codec) {
    case CompressionCodec.Gzip: {
      const member = await compress(codec, small, 9)
      add(await compress(codec, data[2]!, 1))
      add(gzipWithHeaderFields(member))
      add(Buffer.concat([member, await compress(codec, data[1]!)]))
      break
    }
    case CompressionCodec.Snappy: {
      const snappy = (await import('snappy')) as unknown as { compressSync(b: Buffer): Buffer }
      for (const d of data.slice(1, 4)) add(snappy.compressSync(d)) // raw block, no xerial framing
      add(Buffer.concat([await compress(codec, data[1]!), await compress(codec, small)])) // concatenated streams
      break
    }
    case CompressionCodec.Lz4: {
      for (const bsv of [4, 5, 6, 7] as const) {
        for (const d of [data[1]!, small, data[4]!]) {
          const frame = await lz4Frame(d, {
            bsv,
            blockChecksum: rng.chance(0.5),
            contentSize: rng.chance(0.5),
            contentChecksum: rng.chance(0.5),
            store: rng.chance(0.2),
          })
          add(frame, 0)
          add(repairLz4(frame, 1), 1)
        }
      }
      break
    }
    case CompressionCodec.Zstd: {
      const a = await compress(codec, small, 1)
      const b = await compress(codec, data[2]!, 19)
      const skippable = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0]), Buffer.from('abc')])
      add(Buffer.concat([a, b]))
      add(Buffer.concat([skippable, a]))
      add(Buffer.concat([a, skippable]))
      break
    }
  }
  return out
}

interface Lz4Reference {
  decompressFrameSync(data: Buffer): Buffer
  compressSync(data: Buffer): Buffer
}

let lz4Reference: Promise<Lz4Reference | null> | undefined
/** lz4-napi, or null where the optional package is not installed (stored-only frames still decode then). */
function loadLz4Reference(): Promise<Lz4Reference | null> {
  lz4Reference ??= import('lz4-napi').then(
    (m) => m as unknown as Lz4Reference,
    () => null,
  )
  return lz4Reference
}

/** The frame with a 0x80000000 end mark (see the header comment) rewritten to 0; `frame` decoded fine here. */
function canonicalEndMark(frame: Buffer): Buffer {
  const flg = frame[4]!
  let o = 6 + ((flg & 0x08) !== 0 ? 8 : 0) + 1
  while (o + 4 <= frame.length) {
    const word = frame.readUInt32LE(o)
    const size = word & 0x7fffffff
    if (size === 0) {
      if (word === 0) return frame
      const out = Buffer.from(frame)
      out.writeUInt32LE(0, o)
      return out
    }
    o += 4 + size + ((flg & 0x10) !== 0 ? 4 : 0)
  }
  return frame
}

/**
 * The checks beyond the common oracle (see the header comment). A
 * disagreement is thrown as a plain Error, which the oracle counts as a bug.
 */
async function crossCheck(codec: CompressionCodec, version: number, data: Buffer, out: Buffer): Promise<Buffer> {
  if (codec === CompressionCodec.Zstd) {
    const { declared } = zstdBound(data)
    if (declared >= 0 && declared !== out.length) throw new Error(`zstd frames declare ${declared} content bytes, decompress returned ${out.length}`)
  }
  const lz4 = codec === CompressionCodec.Lz4 && version === 0 ? await loadLz4Reference() : null
  if (lz4 !== null) {
    let reference: Buffer
    try {
      reference = lz4.decompressFrameSync(canonicalEndMark(data))
    } catch (err) {
      throw new Error(`lz4 frame accepted here, refused by the reference decoder: ${(err as Error).message}`)
    }
    const diff = firstDifference(out, reference, '')
    if (diff !== null) throw new Error(`lz4 frame decodes differently here and in the reference decoder: ${diff.detail}`)
  }
  return out
}

function decompressTarget(name: string, codec: CompressionCodec): Target {
  const opts = (version: number) => ({ maxBytes: MAX_BYTES, lz4LegacyHeaderChecksum: version === 1 })
  return {
    name: `decompress.${name}`,
    versions: codec === CompressionCodec.Lz4 ? [0, 1] : [0],
    unavailable: () => codecMissing(codec),
    decode: async (data, version) => crossCheck(codec, version, data, await decompress(codec, data, opts(version))),
    encode: (value) => compress(codec, value as Buffer),
    seeds: (rng) => seedsFor(codec, rng),
    ...(codec === CompressionCodec.Lz4 ? { repair: repairLz4 } : {}),
    allocationAllowance: 4 * MAX_BYTES,
  }
}

export function compressionTargets(): Target[] {
  return [
    decompressTarget('gzip', CompressionCodec.Gzip),
    decompressTarget('snappy', CompressionCodec.Snappy),
    decompressTarget('lz4', CompressionCodec.Lz4),
    decompressTarget('zstd', CompressionCodec.Zstd),
  ]
}
