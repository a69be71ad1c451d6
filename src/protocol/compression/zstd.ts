/**
 * Zstandard (attribute id 4, KIP-110; v2 batches only). Where node:zlib has
 * zstd (Node >= 22.15) it does the work (zstd-zlib.ts: small inputs through a
 * reused context, synchronously; large ones on the threadpool); on older
 * Nodes, the optional `@mongodb-js/zstd` package, whose calls run on the
 * threadpool. Frames are compressed at level 3 unless told otherwise, as
 * Kafka's producer does (KIP-390).
 *
 * Before decompressing we walk the frame structure (RFC 8878 section 3.1) —
 * frame headers and the 3-byte block headers, without decoding any block —
 * and compute a hard upper bound of the output: raw and RLE blocks state
 * their decompressed size, and a compressed block can produce at most
 * Block_Maximum_Size = min(Window_Size, 128 KiB) bytes (libzstd rejects
 * blocks that exceed it). If the frame content size is present it must also
 * fit. Only when the bound is within the ceiling is the data decompressed, so
 * a bomb (e.g. thousands of 4-byte RLE blocks of 128 KiB each) is refused
 * before any allocation. (The package has no output limit at all; node:zlib
 * is given maxOutputLength as well.) The walk also proves every frame is
 * complete, which libzstd's streaming decoder under node:zlib would not
 * report for input cut at a block boundary.
 *
 * Residual limit: the bound counts every compressed block at its 128 KiB
 * maximum, so a legitimate payload whose blocks are mostly far smaller than
 * 128 KiB can be refused when its bound (not its real size) crosses the
 * ceiling. Encoders emit full 128 KiB blocks except the last, so this only
 * bites within ~128 KiB per block of the ceiling; raise maxBytes if needed.
 */
import { ProtocolError } from '../errors.js'
import { allocate, concatKnown, corrupt, messageOf, tooLarge, type BlockSource } from './codec.js'
import { CODEC_PACKAGES, loadCodec, unavailable } from './load.js'
import {
  compressOptions,
  nodeCompressAsync,
  nodeDecompressAsync,
  nodeZstd,
  ZSTD_DEFAULT_LEVEL,
  zstdCompressBound,
  zstdCompressReused,
  zstdContextState,
} from './zstd-zlib.js'

const FRAME_MAGIC = 0xfd2fb528
const BLOCK_SIZE_MAX = 128 * 1024

interface Bound {
  /** Upper bound of the decompressed size. */
  bound: number
  /** Sum of the declared frame content sizes, when every frame declares one. */
  declared: number
  /** False when a frame declares more content than its blocks can hold. */
  honest: boolean
  /** Where each data frame starts and ends (skippable frames left out): [start0, end0, start1, end1, ...]. */
  frames: number[]
}

/** Walks the frames and block headers; throws PROTOCOL_COMPRESSION on malformed structure. */
export function zstdBound(data: Buffer): Bound {
  const n = data.length
  let o = 0
  let bound = 0
  let declared = 0
  let honest = true
  const frames: number[] = []
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
    const start = o
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
    frames.push(start, o)
  }
  if (frames.length === 0) throw corrupt('zstd', 'no zstd frame in the data')
  return { bound, declared, honest, frames }
}


/**
 * Below these sizes (input to compress; bound of the output to decompress)
 * node:zlib works synchronously, as the threadpool round trip costs more
 * than it spares for batch-sized data. Measured on random letters (the
 * benchmark's records), Node 24.21, per KiB of input: compression through
 * the reused context 0.62-0.66 us wall / 0.62-0.76 us CPU, against the
 * package's 1.1-1.7 / 1.2-1.9 and node:zlib's threadpool call 1.4 / 1.5 (with
 * one output chunk; 3.7 / 2.9 with its default 16 KiB chunks) at 64 and 340
 * KiB; decompression 0.6-0.7 / 0.7-0.85 against the package's 1.3 / 1.35. So
 * a batch up to the default max.request.size (1 MiB) holds the event loop
 * ~0.6 ms at most and compresses at half the CPU; larger inputs go to the
 * threadpool.
 */
const SYNC_COMPRESS_BELOW = 1024 * 1024
const SYNC_DECOMPRESS_BOUND = 1024 * 1024

/** Which implementation zstd calls use: node:zlib where it has zstd, else the package. Tests force one. */
type Implementation = 'auto' | 'zlib' | 'package'
let implementation: Implementation = 'auto'

/** Test hook: 'zlib' (needs a Node with zstd in node:zlib), 'package', or back to 'auto'. */
export function setZstdImplementationForTesting(impl: Implementation): void {
  if (impl === 'zlib' && nodeZstd === undefined) throw new Error(`node:zlib has no zstd on Node ${process.version}`)
  implementation = impl
}

/** Whether zstd works without the optional package on this Node (node:zlib has it). */
export function zstdBuiltIn(): boolean {
  return nodeZstd !== undefined
}

function useZlib(): boolean {
  return implementation === 'zlib' || (implementation === 'auto' && nodeZstd !== undefined)
}

function compressionFailed(e: unknown): ProtocolError {
  return new ProtocolError('PROTOCOL_COMPRESSION', `zstd: compression failed: ${messageOf(e)}`, { codec: 'zstd' }, e)
}

/**
 * Compresses `data` into one zstd frame. With `headroom`, the frame starts
 * that many bytes into the result (left unwritten, for the record batch
 * header), and `memory` supplies the result buffer.
 */
export async function zstdCompress(data: Buffer, level = ZSTD_DEFAULT_LEVEL, headroom = 0, memory?: BlockSource): Promise<Buffer> {
  let frame: Buffer
  if (useZlib()) {
    const zs = nodeZstd!
    const sync = data.length < SYNC_COMPRESS_BELOW
    if (sync && zstdContextState() !== 'retired') {
      const end = headroom + zstdCompressBound(data.length) + 16
      const out = allocate(memory, end)
      const n = zstdCompressReused(zs, data, level, out, headroom, end)
      if (n >= 0) return out.subarray(0, headroom + n)
      memory?.give(out)
    }
    try {
      frame = sync ? zs.zstdCompressSync(data, compressOptions(data.length, level)) : await nodeCompressAsync(zs, data, level)
    } catch (e) {
      throw compressionFailed(e)
    }
  } else {
    frame = await packageCompress(data, level)
  }
  if (headroom === 0 && memory === undefined) return frame
  const out = allocate(memory, headroom + frame.length)
  out.set(frame, headroom)
  return out
}

async function packageCompress(data: Buffer, level: number): Promise<Buffer> {
  const zstd = await loadCodec('zstd')
  // The 1.2.2 wrapper forwards only the data (level 3, Kafka's default);
  // the native binding beneath it takes the level.
  if (level !== ZSTD_DEFAULT_LEVEL) {
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
  const { bound, declared, honest, frames } = zstdBound(data)
  if (declared > maxBytes) throw tooLarge('zstd', declared, maxBytes)
  // The blocks bound what a frame can produce, so a larger declared size is
  // never honest; refusing it here spares the library an allocation of the
  // declared size for a few corrupt bytes.
  if (!honest) throw corrupt('zstd', `a frame declares more content than its blocks can hold (${declared} declared, at most ${bound})`)
  if (bound > maxBytes) throw tooLarge('zstd', `up to ${bound}`, maxBytes)
  const out = useZlib() ? await zlibDecompress(data, frames, bound, declared, maxBytes) : await packageDecompress(data)
  if (out.length > maxBytes) throw tooLarge('zstd', out.length, maxBytes)
  // The declared size is exact (RFC 8878 3.1.1.1.4), but the package returns
  // an empty result for a frame that declares over 8 KiB and holds nothing.
  if (declared >= 0 && out.length !== declared) throw corrupt('zstd', `frames declare ${declared} content bytes but hold ${out.length}`)
  return out
}

async function packageDecompress(data: Buffer): Promise<Buffer> {
  const zstd = await loadCodec('zstd')
  try {
    return await zstd.decompress(data)
  } catch (e) {
    throw corrupt('zstd', messageOf(e), e)
  }
}

async function zlibDecompress(data: Buffer, frames: number[], bound: number, declared: number, maxBytes: number): Promise<Buffer> {
  const zs = nodeZstd!
  // node:zlib's decoder stops after the first frame and drops the rest of its
  // input without a word, so each frame is handed over on its own.
  if (frames.length === 2) return zlibDecompressFrame(zs, data.subarray(frames[0], frames[1]), bound, declared, maxBytes)
  const parts: Buffer[] = []
  let total = 0
  for (let i = 0; i < frames.length; i += 2) {
    const part = await zlibDecompressFrame(zs, data.subarray(frames[i], frames[i + 1]), bound, -1, maxBytes - total)
    parts.push(part)
    total += part.length
  }
  return concatKnown(parts, total)
}

async function zlibDecompressFrame(zs: NonNullable<typeof nodeZstd>, frame: Buffer, bound: number, declared: number, maxBytes: number): Promise<Buffer> {
  // One output chunk of the declared size when the frame declares it (ours
  // and most one-shot encoders do), so nothing is concatenated; Java's
  // streaming writer declares none, and its batches rarely exceed a block or two.
  const chunkSize = Math.max(64, (declared >= 0 ? declared : Math.min(bound, 256 * 1024)) + 64)
  const opts = { maxOutputLength: Math.max(1, maxBytes), chunkSize }
  try {
    const out = bound <= SYNC_DECOMPRESS_BOUND ? zs.zstdDecompressSync(frame, opts) : await nodeDecompressAsync(zs, frame, opts)
    // A frame without its size may fill a small part of that chunk; records
    // decoded from it would keep the whole chunk alive, so keep what it holds.
    return out.buffer.byteLength > 2 * out.length + 4096 ? Buffer.from(out) : out
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge('zstd', `over ${maxBytes}`, maxBytes)
    throw corrupt('zstd', messageOf(e), e)
  }
}
