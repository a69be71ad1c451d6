/**
 * Zstandard (attribute id 4, KIP-110; v2 batches only) through the optional
 * `@mongodb-js/zstd` package, whose calls run on the libuv threadpool.
 *
 * The package has no streaming or output-limit API, so before handing it the
 * data we walk the frame structure (RFC 8878 section 3.1) — frame headers and
 * the 3-byte block headers, without decoding any block — and compute a hard
 * upper bound of the output: raw and RLE blocks state their decompressed size,
 * and a compressed block can produce at most Block_Maximum_Size =
 * min(Window_Size, 128 KiB) bytes (libzstd rejects blocks that exceed it).
 * If the frame content size is present it must also fit. Only when the bound
 * is within the ceiling is the data decompressed, so a bomb (e.g. thousands
 * of 4-byte RLE blocks of 128 KiB each) is refused before any allocation.
 *
 * Residual limit: the bound counts every compressed block at its 128 KiB
 * maximum, so a legitimate payload whose blocks are mostly far smaller than
 * 128 KiB can be refused when its bound (not its real size) crosses the
 * ceiling. Encoders emit full 128 KiB blocks except the last, so this only
 * bites within ~128 KiB per block of the ceiling; raise maxBytes if needed.
 */
import { corrupt, messageOf, tooLarge } from './codec.js'
import { CODEC_PACKAGES, loadCodec, unavailable } from './load.js'

const FRAME_MAGIC = 0xfd2fb528
const BLOCK_SIZE_MAX = 128 * 1024

interface Bound {
  /** Upper bound of the decompressed size. */
  bound: number
  /** Sum of the declared frame content sizes, when every frame declares one. */
  declared: number
  /** False when a frame declares more content than its blocks can hold. */
  honest: boolean
}

/** Walks the frames and block headers; throws PROTOCOL_COMPRESSION on malformed structure. */
export function zstdBound(data: Buffer): Bound {
  const n = data.length
  let o = 0
  let bound = 0
  let declared = 0
  let honest = true
  let frames = 0
  if (n === 0) throw corrupt('zstd', 'empty input')
  while (o < n) {
    if (o + 4 > n) throw corrupt('zstd', `truncated frame magic at offset ${o}`)
    const magic = data.readUInt32LE(o)
    if ((magic & 0xfffffff0) >>> 0 === 0x184d2a50) {
      // Skippable frame: magic, 4-byte size, user data.
      if (o + 8 > n) throw corrupt('zstd', 'truncated skippable frame header')
      const size = data.readUInt32LE(o + 4)
      if (o + 8 + size > n) throw corrupt('zstd', 'skippable frame runs past the end of the data')
      o += 8 + size
      continue
    }
    if (magic !== FRAME_MAGIC) throw corrupt('zstd', `bad frame magic 0x${magic.toString(16)} at offset ${o}`)
    o += 4
    if (o >= n) throw corrupt('zstd', 'truncated frame header')
    const fhd = data[o++]!
    const fcsFlag = fhd >>> 6
    const singleSegment = (fhd & 0x20) !== 0
    if ((fhd & 0x08) !== 0) throw corrupt('zstd', 'reserved frame header bit is set')
    const checksum = (fhd & 0x04) !== 0
    const didSize = [0, 1, 2, 4][fhd & 3]!
    const fcsSize = fcsFlag === 0 ? (singleSegment ? 1 : 0) : [0, 2, 4, 8][fcsFlag]!
    let windowSize = 0
    if (!singleSegment) {
      if (o >= n) throw corrupt('zstd', 'truncated window descriptor')
      const wd = data[o++]!
      const windowLog = 10 + (wd >>> 3)
      const windowBase = 2 ** windowLog
      windowSize = windowBase + (windowBase / 8) * (wd & 7)
    }
    o += didSize
    if (o + fcsSize > n) throw corrupt('zstd', 'truncated frame header')
    let fcs = -1
    if (fcsSize === 1) fcs = data[o]!
    else if (fcsSize === 2) fcs = data.readUInt16LE(o) + 256
    else if (fcsSize === 4) fcs = data.readUInt32LE(o)
    else if (fcsSize === 8) {
      const hi = data.readUInt32LE(o + 4)
      fcs = hi >= 0x200000 ? Number.MAX_SAFE_INTEGER : hi * 0x100000000 + data.readUInt32LE(o)
    }
    o += fcsSize
    if (singleSegment) windowSize = fcs
    if (fcs >= 0 && declared >= 0) declared += fcs
    else declared = -1
    const blockMax = Math.min(windowSize, BLOCK_SIZE_MAX)
    let frameBound = 0
    for (;;) {
      if (o + 3 > n) throw corrupt('zstd', `truncated block header at offset ${o}`)
      const h = data[o]! | (data[o + 1]! << 8) | (data[o + 2]! << 16)
      o += 3
      const last = (h & 1) !== 0
      const type = (h >>> 1) & 3
      const size = h >>> 3
      if (type === 0) {
        // Raw block: size bytes stored as is.
        if (o + size > n) throw corrupt('zstd', 'raw block runs past the end of the data')
        frameBound += size
        o += size
      } else if (type === 1) {
        // RLE block: one byte repeated size times.
        if (o + 1 > n) throw corrupt('zstd', 'truncated RLE block')
        frameBound += size
        o += 1
      } else if (type === 2) {
        if (size > blockMax) throw corrupt('zstd', `compressed block of ${size} bytes exceeds the block maximum ${blockMax}`)
        if (o + size > n) throw corrupt('zstd', 'compressed block runs past the end of the data')
        frameBound += blockMax
        o += size
      } else {
        throw corrupt('zstd', 'reserved block type')
      }
      if (last) break
    }
    if (checksum) {
      if (o + 4 > n) throw corrupt('zstd', 'truncated content checksum')
      o += 4
    }
    if (fcs > frameBound) honest = false
    // A declared content size caps the frame too (a mismatch is checked after decompression).
    bound += fcs >= 0 ? Math.min(fcs, frameBound) : frameBound
    frames++
  }
  if (frames === 0) throw corrupt('zstd', 'no zstd frame in the data')
  return { bound, declared, honest }
}

export async function zstdCompress(data: Buffer, level?: number): Promise<Buffer> {
  const zstd = await loadCodec('zstd')
  // The 1.2.2 wrapper forwards only the data (level 3, Kafka's default);
  // the native binding beneath it takes the level.
  if (level !== undefined) {
    const binding = await loadZstdBinding()
    return binding.compress(data, level)
  }
  return zstd.compress(data)
}

interface ZstdBinding {
  compress(data: Buffer, level: number): Promise<Buffer>
}

let bindingPromise: Promise<ZstdBinding> | undefined
function loadZstdBinding(): Promise<ZstdBinding> {
  bindingPromise ??= (async () => {
    try {
      const ns = (await import(`${CODEC_PACKAGES.zstd}/bindings.js`)) as { default?: ZstdBinding }
      const binding = (ns.default ?? ns) as ZstdBinding
      if (typeof binding.compress !== 'function') throw new Error('native binding has no compress()')
      return binding
    } catch (e) {
      throw unavailable('zstd', CODEC_PACKAGES.zstd, e)
    }
  })()
  return bindingPromise
}

export async function zstdDecompress(data: Buffer, maxBytes: number): Promise<Buffer> {
  const { bound, declared, honest } = zstdBound(data)
  if (declared > maxBytes) throw tooLarge('zstd', declared, maxBytes)
  // The blocks bound what a frame can produce, so a larger declared size is
  // never honest; refusing it here spares the library an allocation of the
  // declared size for a few corrupt bytes.
  if (!honest) throw corrupt('zstd', `a frame declares more content than its blocks can hold (${declared} declared, at most ${bound})`)
  if (bound > maxBytes) throw tooLarge('zstd', `up to ${bound}`, maxBytes)
  const zstd = await loadCodec('zstd')
  let out: Buffer
  try {
    out = await zstd.decompress(data)
  } catch (e) {
    throw corrupt('zstd', messageOf(e), e)
  }
  if (out.length > maxBytes) throw tooLarge('zstd', out.length, maxBytes)
  // The declared size is exact (RFC 8878 3.1.1.1.4), but the package returns
  // an empty result for a frame that declares over 8 KiB and holds nothing.
  if (declared >= 0 && out.length !== declared) throw corrupt('zstd', `frames declare ${declared} content bytes but hold ${out.length}`)
  return out
}
