/**
 * LZ4 (attribute id 3): the LZ4 *frame* format
 * (https://github.com/lz4/lz4/blob/dev/doc/lz4_Frame_format.md) exactly as
 * Kafka's own frame writer produces it
 * (org.apache.kafka.common.compress.Lz4BlockOutputStream): magic 0x184D2204,
 * FLG 0x60 (version 01, independent blocks, no block checksum, no content
 * size, no content checksum), BD 0x40 (64 KiB maximum block size), the header
 * checksum byte, then blocks of at most 64 KiB — each stored raw with the
 * high bit of its size set when compression would not shrink it — and a zero
 * end mark. The frame layer is ours; raw LZ4 blocks are compressed and
 * decompressed by the optional `lz4-napi` package.
 *
 * Decoding follows Lz4BlockInputStream: it rejects dependent blocks, the
 * DictID bit and other reserved bits, accepts block sizes 64 KiB .. 4 MiB,
 * skips a content size field, and verifies block and content checksums when
 * the flags ask for them. For legacy magic 0/1 message sets it also accepts
 * the header checksum Kafka < 0.10 wrote over the magic number as well
 * (KAFKA-3160).
 */
import { allocate, concatKnown, corrupt, messageOf, tooLarge, type BlockSource } from './codec.js'
import { loadCodec, type Lz4Module } from './load.js'
import { lz4BlockBound, lz4CompressBlock, lz4WasmAvailable } from './lz4-wasm.js'
import { xxhash32 } from './xxhash32.js'

const MAGIC = 0x184d2204
const FLG_KAFKA = 0x60
const BD_64KB = 0x40
const BLOCK_SIZE = 64 * 1024
const INCOMPRESSIBLE = 0x80000000

/**
 * Below these sizes frames are (de)compressed synchronously, compression by
 * our WebAssembly block compressor (lz4-wasm.ts; lz4-napi's compressSync
 * where WebAssembly is unavailable): a 256 KiB frame holds the event loop
 * for 0.02-0.12 ms (0.06-0.46 us/KiB, incompressible to JSON-like data),
 * while a threadpool round trip doubled the CPU per KiB for 64 KiB batches
 * (0.60 against 0.30 us/KiB measured with lz4-napi); larger frames go to
 * lz4-napi on the threadpool, their blocks in parallel.
 */
const SYNC_COMPRESS_BELOW = 256 * 1024
const SYNC_DECOMPRESS_BELOW = 256 * 1024

/** The frame header Kafka writes, checksum included: 04 22 4D 18 60 40 82. */
export const LZ4_KAFKA_FRAME_HEADER: Buffer = (() => {
  const h = Buffer.alloc(7)
  h.writeUInt32LE(MAGIC, 0)
  h[4] = FLG_KAFKA
  h[5] = BD_64KB
  h[6] = (xxhash32(h, 4, 6) >>> 8) & 0xff
  return h
})()

/**
 * Compresses `data` into one Kafka LZ4 frame. With `headroom`, the frame
 * starts that many bytes into the result (left unwritten, for the record
 * batch header), and `memory` supplies the result buffer.
 */
export async function lz4Compress(data: Buffer, headroom = 0, memory?: BlockSource): Promise<Buffer> {
  const lz4 = await loadCodec('lz4')
  const n = data.length
  const sync = n < SYNC_COMPRESS_BELOW
  if (sync && lz4WasmAvailable()) return compressFrameHere(data, headroom, memory)
  const blocks: Buffer[] = []
  const pending: Promise<Buffer>[] = []
  for (let o = 0; o < n; o += BLOCK_SIZE) {
    const block = data.subarray(o, Math.min(n, o + BLOCK_SIZE))
    if (sync) blocks.push(lz4.compressSync(block))
    else pending.push(lz4.compress(block))
  }
  const compressed = sync ? blocks : await Promise.all(pending)
  // lz4-napi returns [uncompressed size, 4 bytes LE][raw LZ4 block].
  let total = headroom + LZ4_KAFKA_FRAME_HEADER.length + 4
  for (let i = 0; i < compressed.length; i++) {
    const raw = Math.min(BLOCK_SIZE, n - i * BLOCK_SIZE)
    const c = compressed[i]!.length - 4
    total += 4 + (c >= raw ? raw : c)
  }
  const out = allocate(memory, total)
  LZ4_KAFKA_FRAME_HEADER.copy(out, headroom)
  let o = headroom + LZ4_KAFKA_FRAME_HEADER.length
  for (let i = 0; i < compressed.length; i++) {
    const start = i * BLOCK_SIZE
    const c = compressed[i]!
    o = putBlock(out, o, data, start, Math.min(n, start + BLOCK_SIZE), c, 4, c.length - 4)
  }
  out.writeUInt32LE(0, o) // end mark
  return out
}

/**
 * Writes one frame block at `o`: its compressed form (`clen` bytes of `c`
 * from `cAt`) when that is smaller than data[start, end), otherwise the
 * bytes as they are, flagged incompressible, as Lz4BlockOutputStream does.
 * Returns the offset after the block.
 */
function putBlock(out: Buffer, o: number, data: Buffer, start: number, end: number, c: Buffer, cAt: number, clen: number): number {
  const raw = end - start
  if (clen >= raw) {
    out.writeUInt32LE((raw | INCOMPRESSIBLE) >>> 0, o)
    data.copy(out, o + 4, start, end)
    return o + 4 + raw
  }
  out.writeUInt32LE(clen, o)
  c.copy(out, o + 4, cAt, cAt + clen)
  return o + 4 + clen
}

/** Where a block is compressed before it is known to be worth keeping. */
let blockScratch: Buffer | null = null

/**
 * The synchronous path: each block compressed by our WebAssembly block
 * compressor (lz4-wasm.ts), the frame written straight into the result.
 * The result is allocated for the worst case (every block stored raw) and
 * returned as a view of the bytes written; without `memory` the frame is
 * copied out when that view would hold on to much unused space.
 */
function compressFrameHere(data: Buffer, headroom: number, memory: BlockSource | undefined): Buffer {
  const n = data.length
  const bound = headroom + LZ4_KAFKA_FRAME_HEADER.length + 4 * Math.ceil(n / BLOCK_SIZE) + n + 4
  const out = allocate(memory, bound)
  const scratch = (blockScratch ??= Buffer.allocUnsafeSlow(lz4BlockBound(BLOCK_SIZE)))
  LZ4_KAFKA_FRAME_HEADER.copy(out, headroom)
  let o = headroom + LZ4_KAFKA_FRAME_HEADER.length
  for (let start = 0; start < n; start += BLOCK_SIZE) {
    const end = Math.min(n, start + BLOCK_SIZE)
    o = putBlock(out, o, data, start, end, scratch, 0, lz4CompressBlock(data, start, end, scratch, 0))
  }
  out.writeUInt32LE(0, o) // end mark
  o += 4
  if (memory === undefined && o < bound - 4096) return Buffer.from(out.subarray(0, o))
  return out.subarray(0, o)
}

interface Block {
  start: number
  size: number
  compressed: boolean
}

interface Frame {
  blockMax: number
  /** The content checksum after the end mark, or -1 when the frame has none. */
  contentChecksum: number
  blocks: Block[]
  /** Upper bound of the decompressed size, known before decompressing. */
  bound: number
  contentSize: number
}

/** Parses the frame structure without decompressing anything. */
function parseFrame(data: Buffer, legacyHeaderChecksum: boolean): Frame {
  const n = data.length
  if (n < 7) throw corrupt('lz4', `frame of ${n} bytes is shorter than the 7-byte header`)
  if (data.readUInt32LE(0) !== MAGIC) {
    throw corrupt('lz4', `bad frame magic 0x${data.readUInt32LE(0).toString(16)}, expected 0x184d2204`)
  }
  const flg = data[4]!
  const bd = data[5]!
  if (flg >>> 6 !== 1) throw corrupt('lz4', `unsupported frame version ${flg >>> 6}`)
  if ((flg & 0x20) === 0) throw corrupt('lz4', 'dependent blocks are not supported (Kafka writes independent blocks)')
  if ((flg & 0x03) !== 0) throw corrupt('lz4', 'reserved FLG bits (or DictID) are set')
  if ((bd & 0x8f) !== 0) throw corrupt('lz4', 'reserved BD bits are set')
  const bsv = (bd >>> 4) & 7
  if (bsv < 4) throw corrupt('lz4', `invalid block maximum size code ${bsv}`)
  const blockMax = 1 << (2 * bsv + 8)
  const blockChecksum = (flg & 0x10) !== 0
  const hasContentSize = (flg & 0x08) !== 0
  const hasContentChecksum = (flg & 0x04) !== 0
  let o = 6
  let contentSize = -1
  if (hasContentSize) {
    if (n < o + 9) throw corrupt('lz4', 'truncated frame descriptor (content size)')
    const hi = data.readUInt32LE(o + 4)
    contentSize = hi >= 0x200000 ? Number.MAX_SAFE_INTEGER : hi * 0x100000000 + data.readUInt32LE(o)
    o += 8
  }
  const hc = data[o]!
  const good = (xxhash32(data, 4, o) >>> 8) & 0xff
  if (hc !== good) {
    const broken = (xxhash32(data, 0, o) >>> 8) & 0xff
    if (!legacyHeaderChecksum || hc !== broken) {
      throw corrupt('lz4', `frame header checksum 0x${hc.toString(16)} does not match 0x${good.toString(16)}`)
    }
  }
  o += 1
  const blocks: Block[] = []
  let bound = 0
  for (;;) {
    if (o + 4 > n) throw corrupt('lz4', `frame truncated at offset ${o}: no end mark`)
    const word = data.readUInt32LE(o)
    o += 4
    const size = word & 0x7fffffff
    // Like Lz4BlockInputStream, a zero size (with or without the high bit)
    // is the end mark.
    if (size === 0) break
    if (size > blockMax) throw corrupt('lz4', `block of ${size} bytes exceeds the frame's maximum block size ${blockMax}`)
    if (o + size > n) throw corrupt('lz4', `block of ${size} bytes at offset ${o} runs past the end of the frame`)
    const compressed = (word & INCOMPRESSIBLE) === 0
    blocks.push({ start: o, size, compressed })
    bound += compressed ? blockMax : size
    o += size
    if (blockChecksum) {
      if (o + 4 > n) throw corrupt('lz4', 'truncated block checksum')
      const want = data.readUInt32LE(o)
      const got = xxhash32(data, o - size, o)
      if (want !== got) throw corrupt('lz4', `block checksum mismatch at offset ${o - size}`)
      o += 4
    }
  }
  let contentChecksum = -1
  if (hasContentChecksum) {
    if (o + 4 > n) throw corrupt('lz4', 'truncated content checksum')
    contentChecksum = data.readUInt32LE(o)
    o += 4
  }
  // Like the Java reader we stop at the end mark; bytes after it are ignored.
  return { blockMax, contentChecksum, blocks, bound, contentSize }
}

function withSizePrefix(data: Buffer, b: Block, capacity: number): Buffer {
  // lz4-napi's uncompress() takes lz4_flex's "size prepended" layout; the
  // prefix is the output capacity, and the result is truncated to the bytes
  // actually produced. Giving the frame's maximum block size (or what is left
  // of the ceiling, whichever is smaller) bounds what it can allocate.
  const buf = Buffer.allocUnsafe(4 + b.size)
  buf.writeUInt32LE(capacity, 0)
  data.copy(buf, 4, b.start, b.start + b.size)
  return buf
}

function isOutputTooSmall(e: unknown): boolean {
  return /too small/i.test(messageOf(e))
}

async function decompressBlock(lz4: Lz4Module, data: Buffer, b: Block, capacity: number, sync: boolean): Promise<Buffer> {
  if (!b.compressed) return data.subarray(b.start, b.start + b.size)
  if (sync) return uncompressInPlace(lz4, data, b, capacity)
  return lz4.uncompress(withSizePrefix(data, b, capacity))
}

/**
 * The synchronous path lends the block's own 4-byte size field, just before it in the frame, to
 * lz4-napi as its size prefix and puts it back before returning: no copy of the block and no
 * allocation besides the output (a fetch of 64 KiB batches otherwise copies every one of them once
 * more). Nothing else can observe the frame meanwhile; the threadpool path copies instead.
 */
function uncompressInPlace(lz4: Lz4Module, data: Buffer, b: Block, capacity: number): Buffer {
  const at = b.start - 4
  const saved = data.readUInt32LE(at)
  data.writeUInt32LE(capacity, at)
  try {
    return lz4.uncompressSync(data.subarray(at, b.start + b.size))
  } finally {
    data.writeUInt32LE(saved, at)
  }
}

export async function lz4Decompress(data: Buffer, maxBytes: number, legacyHeaderChecksum: boolean): Promise<Buffer> {
  const frame = parseFrame(data, legacyHeaderChecksum)
  if (frame.contentSize > maxBytes) throw tooLarge('lz4', frame.contentSize, maxBytes)
  const { blocks, blockMax } = frame
  let out: Buffer
  let total = 0
  if (blocks.length === 0) {
    out = Buffer.alloc(0)
  } else {
    const needsCodec = blocks.some((b) => b.compressed)
    const lz4 = needsCodec ? await loadCodec('lz4') : (undefined as unknown as Lz4Module)
    const parts: Buffer[] = []
    try {
      if (frame.bound <= maxBytes) {
        // Every block fits even at its maximum size: decompress them all,
        // in parallel on the threadpool when the frame is large.
        const sync = data.length < SYNC_DECOMPRESS_BELOW
        if (sync) {
          for (const b of blocks) parts.push(await decompressBlock(lz4, data, b, blockMax, true))
        } else {
          parts.push(...(await Promise.all(blocks.map((b) => decompressBlock(lz4, data, b, blockMax, false)))))
        }
        for (const p of parts) total += p.length
      } else {
        // The structural bound exceeds the ceiling: decompress block by block
        // and never give a block more output room than the ceiling has left.
        for (const b of blocks) {
          const left = maxBytes - total
          if (!b.compressed && b.size > left) throw tooLarge('lz4', `> ${maxBytes}`, maxBytes)
          const capacity = Math.min(blockMax, left)
          let p: Buffer
          try {
            p = await decompressBlock(lz4, data, b, capacity, false)
          } catch (e) {
            if (capacity < blockMax && isOutputTooSmall(e)) throw tooLarge('lz4', `> ${maxBytes}`, maxBytes)
            throw e
          }
          parts.push(p)
          total += p.length
        }
      }
    } catch (e) {
      if ((e as { code?: unknown }).code === 'PROTOCOL_DECOMPRESSED_TOO_LARGE') throw e
      throw corrupt('lz4', messageOf(e), e)
    }
    if (total > maxBytes) throw tooLarge('lz4', total, maxBytes)
    out = concatKnown(parts, total)
  }
  if (frame.contentSize >= 0 && frame.contentSize !== out.length) {
    throw corrupt('lz4', `frame declares ${frame.contentSize} content bytes but holds ${out.length}`)
  }
  if (frame.contentChecksum >= 0 && xxhash32(out) !== frame.contentChecksum) {
    throw corrupt('lz4', 'content checksum mismatch')
  }
  return out
}
