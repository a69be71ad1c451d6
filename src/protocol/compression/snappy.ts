/**
 * Snappy (attribute id 2). The Java client writes snappy-java's
 * SnappyOutputStream framing ("xerial" framing): an 8-byte magic
 * 82 53 4E 41 50 50 59 00, int32 version 1, int32 minimum compatible version
 * 1, then chunks of [int32 big-endian length][raw snappy block], each block
 * compressing at most 32 KiB of input (snappy-java's default block size).
 * We write exactly that. Decoding accepts the xerial framing (including
 * concatenated streams, which SnappyInputStream also accepts) and, like
 * SnappyInputStream, falls back to a single raw snappy block when the magic
 * is absent (what some non-Java clients write).
 *
 * Raw blocks are (de)compressed by the optional `snappy` package. Every raw
 * block starts with its uncompressed length as a varint, so the total output
 * size is known — and checked against the ceiling — before anything is
 * decompressed.
 */
import { concatKnown, corrupt, messageOf, tooLarge } from './codec.js'
import { loadCodec, type SnappyModule } from './load.js'

export const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00])
const XERIAL_VERSION = 1
const XERIAL_MIN_COMPATIBLE_VERSION = 1
const XERIAL_HEADER_SIZE = 16
/** snappy-java SnappyOutputStream.DEFAULT_BLOCK_SIZE. */
export const XERIAL_BLOCK_SIZE = 32 * 1024
/** The magic's first four bytes read as an int: a chunk length with this value starts a concatenated stream. */
const MAGIC_HEAD = XERIAL_MAGIC.readInt32BE(0)

/** Sync below these sizes (snappy decodes at GB/s; see lz4.ts for the reasoning). */
const SYNC_COMPRESS_BELOW = 64 * 1024
const SYNC_DECOMPRESS_BELOW = 256 * 1024

/**
 * copyOutputData: the package otherwise wraps its Rust-owned output as an
 * external buffer, whose finalizer and external-memory accounting cost more
 * than the copy: 8 vs 87 us to compress 32 KiB, 21 vs 93 us to decompress it
 * (CPU time, Node 24).
 */
const COPY = { copyOutputData: true } as const
const UNCOMPRESS = { asBuffer: true, copyOutputData: true } as const

function xerialHeader(out: Buffer, o: number): number {
  XERIAL_MAGIC.copy(out, o)
  out.writeInt32BE(XERIAL_VERSION, o + 8)
  out.writeInt32BE(XERIAL_MIN_COMPATIBLE_VERSION, o + 12)
  return o + XERIAL_HEADER_SIZE
}

export async function snappyCompress(data: Buffer): Promise<Buffer> {
  const snappy = await loadCodec('snappy')
  const n = data.length
  const sync = n < SYNC_COMPRESS_BELOW
  const chunks: Buffer[] = []
  const pending: Promise<Buffer>[] = []
  for (let o = 0; o < n; o += XERIAL_BLOCK_SIZE) {
    const block = data.subarray(o, Math.min(n, o + XERIAL_BLOCK_SIZE))
    if (sync) chunks.push(snappy.compressSync(block, COPY))
    else pending.push(snappy.compress(block, COPY))
  }
  const compressed = sync ? chunks : await Promise.all(pending)
  let total = XERIAL_HEADER_SIZE
  for (const c of compressed) total += 4 + c.length
  const out = Buffer.allocUnsafe(total)
  let o = xerialHeader(out, 0)
  for (const c of compressed) {
    out.writeInt32BE(c.length, o)
    out.set(c, o + 4)
    o += 4 + c.length
  }
  return out
}

/** The uncompressed length a raw snappy block declares (its varint preamble), or -1 if unreadable. */
function rawLength(data: Buffer, start: number, end: number): number {
  let result = 0
  let mul = 1
  for (let i = start; i < end && i < start + 5; i++) {
    const b = data[i]!
    result += (b & 0x7f) * mul
    if ((b & 0x80) === 0) return result
    mul *= 128
  }
  return -1
}

interface Chunk {
  start: number
  end: number
  length: number
}

function isXerial(data: Buffer): boolean {
  return data.length >= XERIAL_MAGIC.length && data.compare(XERIAL_MAGIC, 0, 8, 0, 8) === 0
}

function parseChunks(data: Buffer): Chunk[] {
  const n = data.length
  const chunks: Chunk[] = []
  if (!isXerial(data)) {
    const length = rawLength(data, 0, n)
    if (length < 0) throw corrupt('snappy', 'raw snappy block has no valid length preamble')
    chunks.push({ start: 0, end: n, length })
    return chunks
  }
  let o = 0
  // A stream header, possibly repeated where streams were concatenated.
  const header = (): void => {
    if (o + XERIAL_HEADER_SIZE > n) throw corrupt('snappy', 'truncated xerial stream header')
    if (data.compare(XERIAL_MAGIC, 0, 8, o, o + 8) !== 0) throw corrupt('snappy', `bad xerial magic at offset ${o}`)
    const compatible = data.readInt32BE(o + 12)
    if (compatible < XERIAL_MIN_COMPATIBLE_VERSION) {
      throw corrupt('snappy', `incompatible xerial stream (minimum compatible version ${compatible})`)
    }
    o += XERIAL_HEADER_SIZE
  }
  header()
  while (o < n) {
    if (o + 4 > n) throw corrupt('snappy', `truncated chunk length at offset ${o}`)
    const size = data.readInt32BE(o)
    if (size === MAGIC_HEAD) {
      header()
      continue
    }
    if (size < 0) throw corrupt('snappy', `negative chunk length ${size} at offset ${o}`)
    o += 4
    if (o + size > n) throw corrupt('snappy', `chunk of ${size} bytes at offset ${o} runs past the end of the data`)
    const length = rawLength(data, o, o + size)
    if (length < 0) throw corrupt('snappy', `chunk at offset ${o} has no valid length preamble`)
    chunks.push({ start: o, end: o + size, length })
    o += size
  }
  return chunks
}

function uncompressChunk(snappy: SnappyModule, data: Buffer, c: Chunk, sync: boolean): Buffer | Promise<string | Buffer> {
  const input = data.subarray(c.start, c.end)
  return sync ? (snappy.uncompressSync(input, UNCOMPRESS) as Buffer) : snappy.uncompress(input, UNCOMPRESS)
}

export async function snappyDecompress(data: Buffer, maxBytes: number): Promise<Buffer> {
  const chunks = parseChunks(data)
  let total = 0
  for (const c of chunks) total += c.length
  if (total > maxBytes) throw tooLarge('snappy', total, maxBytes)
  if (chunks.length === 0) return Buffer.alloc(0)
  const snappy = await loadCodec('snappy')
  let parts: Buffer[]
  try {
    if (data.length < SYNC_DECOMPRESS_BELOW) {
      parts = chunks.map((c) => uncompressChunk(snappy, data, c, true) as Buffer)
    } else {
      parts = (await Promise.all(chunks.map((c) => uncompressChunk(snappy, data, c, false)))) as Buffer[]
    }
  } catch (e) {
    throw corrupt('snappy', messageOf(e), e)
  }
  for (let i = 0; i < parts.length; i++) {
    // The decoder must produce exactly the preamble's length; anything else
    // means a corrupt block (and our size check would be meaningless).
    if (parts[i]!.length !== chunks[i]!.length) {
      throw corrupt('snappy', `block ${i} decompressed to ${parts[i]!.length} bytes, its preamble says ${chunks[i]!.length}`)
    }
  }
  return concatKnown(parts, total)
}
