import { after, describe, test } from 'node:test'
import { execFileSync } from 'node:child_process'
import assert from 'node:assert/strict'
import * as zlib from 'node:zlib'
import fc from 'fast-check'
import * as lz4napi from 'lz4-napi'
import * as snappyLib from 'snappy'
import { ProtocolError } from '../src/protocol/errors.js'
import {
  CompressionCodec,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  LZ4_KAFKA_FRAME_HEADER,
  XERIAL_BLOCK_SIZE,
  XERIAL_MAGIC,
  compress,
  decompress,
  xxhash32,
} from '../src/protocol/compression/index.js'
import { setCodecModuleForTesting } from '../src/protocol/compression/load.js'
import { lz4BlockBound, lz4CompressBlock, lz4WasmAvailable } from '../src/protocol/compression/lz4-wasm.js'
import { setZstdImplementationForTesting, zstdBound } from '../src/protocol/compression/zstd.js'
import { noise } from './support/bytes.js'

const CODECS = [CompressionCodec.None, CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4, CompressionCodec.Zstd] as const
const NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd']

async function rejectsWith(p: Promise<unknown>, code: string, codecName?: string): Promise<ProtocolError> {
  let caught: unknown
  try {
    await p
  } catch (e) {
    caught = e
  }
  assert.ok(caught instanceof ProtocolError, `expected a ProtocolError ${code}, got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`)
  assert.equal(caught.code, code, caught.message)
  if (codecName !== undefined) {
    assert.equal(caught.context.codec, codecName)
    assert.ok(caught.message.startsWith(`${codecName}:`), caught.message)
  }
  return caught
}

/** Compressible text-like bytes. */
function text(n: number): Buffer {
  const words = ['kafka ', 'record ', 'batch ', 'offset ', 'topic ', 'partition ']
  const parts: string[] = []
  let len = 0
  for (let i = 0; len < n; i++) {
    const w = words[(i * 7) % words.length]!
    parts.push(w)
    len += w.length
  }
  return Buffer.from(parts.join('')).subarray(0, n)
}

describe('round trips', () => {
  for (const codec of CODECS) {
    test(`${NAMES[codec]}: random data (property)`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), fc.boolean(), async (bytes, compressible) => {
          const data = compressible ? Buffer.concat([Buffer.from(bytes), text(bytes.length)]) : Buffer.from(bytes)
          const back = await decompress(codec, await compress(codec, data))
          assert.ok(back.equals(data))
        }),
        { numRuns: 60 },
      )
    })

    test(`${NAMES[codec]}: empty input and inputs across block and sync/async thresholds`, async () => {
      for (const data of [Buffer.alloc(0), text(XERIAL_BLOCK_SIZE), text(65536), text(65537), noise(70_000), text(300_000), noise(600_000, 7)]) {
        const back = await decompress(codec, await compress(codec, data))
        assert.equal(back.length, data.length)
        assert.ok(back.equals(data), `${data.length} bytes`)
      }
    })
  }

  test('gzip and zstd accept a level', async () => {
    const data = text(100_000)
    for (const level of [1, 9]) assert.ok((await decompress(CompressionCodec.Gzip, await compress(CompressionCodec.Gzip, data, level))).equals(data))
    for (const level of [1, 19]) assert.ok((await decompress(CompressionCodec.Zstd, await compress(CompressionCodec.Zstd, data, level))).equals(data))
  })
})

describe('wire formats', () => {
  test('lz4 writes the frame Kafka writes: 04 22 4D 18 60 40 82, 64 KiB blocks, raw incompressible blocks, zero end mark', async () => {
    assert.equal(LZ4_KAFKA_FRAME_HEADER.toString('hex'), '04224d18604082')
    const data = Buffer.concat([text(65_536), noise(65_536), text(4000)])
    const frame = await compress(CompressionCodec.Lz4, data)
    assert.equal(frame.subarray(0, 7).toString('hex'), '04224d18604082')
    assert.equal(frame.readUInt32LE(frame.length - 4), 0)
    // Walk the blocks: sizes <= 64 KiB, and the noise block is stored raw.
    let o = 7
    const blocks: Array<{ size: number; raw: boolean }> = []
    for (;;) {
      const word = frame.readUInt32LE(o)
      o += 4
      if (word === 0) break
      const size = word & 0x7fffffff
      blocks.push({ size, raw: word >>> 31 === 1 })
      o += size
    }
    assert.equal(o, frame.length)
    assert.equal(blocks.length, 3)
    assert.equal(blocks[0]!.raw, false)
    assert.ok(blocks.every((b) => b.size <= 65536))
    assert.ok(blocks.some((b) => b.raw && b.size === 65536), 'incompressible 64 KiB block stored raw')
  })

  test('snappy writes xerial framing: magic, version 1, compatible 1, 32 KiB chunks', async () => {
    const data = text(3 * XERIAL_BLOCK_SIZE + 5)
    const out = await compress(CompressionCodec.Snappy, data)
    assert.ok(out.subarray(0, 8).equals(XERIAL_MAGIC))
    assert.equal(out.subarray(8, 16).toString('hex'), '0000000100000001')
    let o = 16
    const sizes: number[] = []
    while (o < out.length) {
      const n = out.readInt32BE(o)
      const raw = snappyLib.uncompressSync(out.subarray(o + 4, o + 4 + n), { asBuffer: true }) as Buffer
      sizes.push(raw.length)
      o += 4 + n
    }
    assert.deepEqual(sizes, [XERIAL_BLOCK_SIZE, XERIAL_BLOCK_SIZE, XERIAL_BLOCK_SIZE, 5])
  })

  test('gzip and zstd outputs carry their magic numbers', async () => {
    assert.equal((await compress(CompressionCodec.Gzip, text(10))).subarray(0, 2).toString('hex'), '1f8b')
    assert.equal((await compress(CompressionCodec.Zstd, text(10))).subarray(0, 4).toString('hex'), '28b52ffd')
  })

  test('xxhash32 known answers', () => {
    assert.equal(xxhash32(Buffer.alloc(0)), 0x02cc5d05)
    assert.equal(xxhash32(Buffer.from('a')), 0x550d7456)
    assert.equal(xxhash32(Buffer.from('abc')), 0x32d153ff)
    assert.equal(xxhash32(Buffer.from('Nobody inspects the spammish repetition')), 0xe2293b2f)
  })
})

describe('our LZ4 block compressor (WebAssembly)', () => {
  /** Decodes one raw LZ4 block with lz4-napi (independent of our code): it wants a 4-byte LE size prefix. */
  const decodeBlock = (block: Buffer, size: number): Buffer => {
    const prefixed = Buffer.alloc(block.length + 4)
    prefixed.writeUInt32LE(size, 0)
    block.copy(prefixed, 4)
    return size === 0 ? Buffer.alloc(0) : lz4napi.uncompressSync(prefixed)
  }
  // Inputs for every path: no matches, short and long matches, overlapping
  // matches (runs), long literal runs, and matches close to the block's end.
  const inputArb = fc.oneof(
    fc.uint8Array({ maxLength: 66_000 }),
    fc.tuple(fc.integer({ min: 1, max: 26 }), fc.integer({ min: 0, max: 65_536 }), fc.integer()).map(([alphabet, n, seed]) => {
      const b = Buffer.alloc(n)
      let x = seed >>> 0
      for (let i = 0; i < n; i++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0
        b[i] = 65 + ((x >>> 16) % alphabet)
      }
      return b
    }),
    fc.array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 300 })), { maxLength: 60 }).map((parts) =>
      Buffer.concat(parts.flatMap(([p, times]) => Array.from({ length: times }, () => p))),
    ),
  )

  /**
   * The end-of-block rules of the LZ4 block format, which the reference
   * decoder (liblz4, under librdkafka) enforces even where lz4_flex and
   * lz4-java are lenient: no match starts within the last 12 bytes of the
   * block, the last 5 bytes are literals, and the block ends with a
   * literals-only sequence.
   */
  const checkBlockRules = (block: Buffer, n: number): void => {
    let i = 0
    let out = 0
    for (;;) {
      const token = block[i++]!
      let lit = token >>> 4
      if (lit === 15) for (let b = 255; b === 255; lit += b) b = block[i++]!
      i += lit
      out += lit
      if (i === block.length) break // the last sequence: literals only
      let len = token & 15
      i += 2
      if (len === 15) for (let b = 255; b === 255; len += b) b = block[i++]!
      assert.ok(out <= n - 12, `a match starts at ${out} of ${n}, within the last 12 bytes`)
      out += len + 4
      assert.ok(out <= n - 5, `a match ends at ${out} of ${n}, within the last 5 bytes`)
    }
    assert.equal(out, n)
  }

  test('it loads (WebAssembly is there on every supported Node)', () => {
    assert.equal(lz4WasmAvailable(), true)
  })

  test('without WebAssembly (node --jitless) frames are compressed by lz4-napi instead', () => {
    const at = (path: string): string => new URL(`../src/protocol/compression/${path}`, import.meta.url).href
    const script = `
      const { compress, decompress, CompressionCodec } = await import('${at('index.ts')}')
      const { lz4WasmAvailable } = await import('${at('lz4-wasm.ts')}')
      const data = Buffer.from('hello hello hello world '.repeat(3000))
      const back = await decompress(CompressionCodec.Lz4, await compress(CompressionCodec.Lz4, data))
      console.log(JSON.stringify({ wasm: lz4WasmAvailable(), ok: back.equals(data) }))`
    const out = execFileSync(process.execPath, ['--jitless', '--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      cwd: new URL('..', import.meta.url), // where tsx resolves
    })
    assert.deepEqual(JSON.parse(out.trim().split('\n').pop()!), { wasm: false, ok: true })
  })

  test('any block of up to 64 KiB decodes back to its input with lz4-napi, within LZ4_COMPRESSBOUND (property)', () => {
    fc.assert(
      fc.property(inputArb, fc.integer({ min: 0, max: 64 }), (input, at) => {
        const src = Buffer.from(input).subarray(0, 65_536)
        // Compressed from inside a larger buffer, into the middle of another, as the frame writer does.
        const host = Buffer.concat([Buffer.alloc(at, 7), src, Buffer.alloc(9, 7)])
        const dst = Buffer.alloc(lz4BlockBound(src.length) + 10, 0xee)
        const end = lz4CompressBlock(host, at, at + src.length, dst, 3)
        assert.ok(end - 3 <= lz4BlockBound(src.length))
        assert.equal(dst[end], 0xee, 'nothing written past the block')
        assert.equal(dst[2], 0xee, 'nothing written before it')
        assert.ok(decodeBlock(dst.subarray(3, end), src.length).equals(src))
        checkBlockRules(dst.subarray(3, end), src.length)
      }),
      { numRuns: 300 },
    )
  })

  test('it compresses what it should: text shrinks, a run becomes a few bytes, noise stays within the bound; more than 64 KiB is refused', () => {
    const dst = Buffer.alloc(lz4BlockBound(65_536))
    const t = text(65_536)
    assert.ok(lz4CompressBlock(t, 0, t.length, dst, 0) < t.length / 2)
    const run = Buffer.alloc(65_536, 0x61)
    assert.ok(lz4CompressBlock(run, 0, run.length, dst, 0) < 300)
    const n = noise(65_536)
    assert.ok(lz4CompressBlock(n, 0, n.length, dst, 0) <= lz4BlockBound(65_536))
    assert.throws(() => lz4CompressBlock(Buffer.alloc(65_537), 0, 65_537, Buffer.alloc(70_000), 0), RangeError)
  })

  test('frames below 256 KiB (ours, on the event loop) and above (lz4-napi, threadpool) decode with our decoder and lz4-napi\'s frame decoder', async () => {
    for (const n of [0, 1, 12, 13, 100, 65_535, 65_536, 65_537, 200_000, 262_143, 262_144, 300_000]) {
      const data = Buffer.concat([text(Math.ceil(n / 2)), noise(Math.floor(n / 2))])
      const frame = await compress(CompressionCodec.Lz4, data)
      assert.ok((await decompress(CompressionCodec.Lz4, frame)).equals(data), `${n} bytes`)
      assert.ok(Buffer.from(lz4napi.decompressFrameSync(frame)).equals(data), `${n} bytes, lz4-napi's frame decoder`)
    }
  })
})

describe('decoding what other writers produce', () => {
  test('lz4: frames from lz4_flex with block and content checksums and 256 KiB-4 MiB blocks', async () => {
    const data = text(700_000)
    const frame = lz4napi.compressFrameSync(data, { contentChecksum: true, blockChecksums: true })
    assert.notEqual(frame[5]! & 0x70, 0x40, 'not a 64 KiB frame')
    assert.ok((await decompress(CompressionCodec.Lz4, frame)).equals(data))
  })

  test('lz4: decompressing leaves the frame byte for byte as it was (block size fields are lent to lz4-napi and put back)', async () => {
    for (const size of [1000, 100_000, 200_000]) {
      const data = text(size)
      const frame = await compress(CompressionCodec.Lz4, data)
      const before = Buffer.from(frame)
      assert.ok((await decompress(CompressionCodec.Lz4, frame)).equals(data))
      assert.ok(frame.equals(before), `${size} B: the frame is unchanged`)
      // A failing block leaves it unchanged too.
      const bad = Buffer.from(frame)
      bad[LZ4_KAFKA_FRAME_HEADER.length + 4] = 0xff
      bad[LZ4_KAFKA_FRAME_HEADER.length + 5] = 0xff
      const badBefore = Buffer.from(bad)
      await decompress(CompressionCodec.Lz4, bad).catch(() => undefined)
      assert.ok(bad.equals(badBefore), `${size} B: a corrupt frame is unchanged`)
    }
  })

  test('lz4: a wrong content or block checksum is PROTOCOL_COMPRESSION', async () => {
    const data = text(1000)
    const withContent = Buffer.from(lz4napi.compressFrameSync(data, { contentChecksum: true }))
    withContent[withContent.length - 1]! ^= 1
    await rejectsWith(decompress(CompressionCodec.Lz4, withContent), 'PROTOCOL_COMPRESSION', 'lz4')
    const withBlock = Buffer.from(lz4napi.compressFrameSync(data, { blockChecksums: true }))
    withBlock[withBlock.length - 5]! ^= 1 // last byte of the block checksum, before the end mark
    await rejectsWith(decompress(CompressionCodec.Lz4, withBlock), 'PROTOCOL_COMPRESSION', 'lz4')
  })

  test('lz4: the KAFKA-3160 header checksum (over the magic too) is accepted only for legacy messages', async () => {
    const data = text(5000)
    const frame = Buffer.from(await compress(CompressionCodec.Lz4, data))
    frame[6] = (xxhash32(frame, 0, 6) >>> 8) & 0xff
    assert.notEqual(frame[6], 0x82)
    assert.ok((await decompress(CompressionCodec.Lz4, frame, { lz4LegacyHeaderChecksum: true })).equals(data))
    await rejectsWith(decompress(CompressionCodec.Lz4, frame), 'PROTOCOL_COMPRESSION', 'lz4')
  })

  test('snappy: a raw block (no xerial framing) and concatenated xerial streams', async () => {
    const data = text(50_000)
    assert.ok((await decompress(CompressionCodec.Snappy, snappyLib.compressSync(data))).equals(data))
    const a = await compress(CompressionCodec.Snappy, data.subarray(0, 20_000))
    const b = await compress(CompressionCodec.Snappy, data.subarray(20_000))
    assert.ok((await decompress(CompressionCodec.Snappy, Buffer.concat([a, b]))).equals(data))
  })

  test('gzip: concatenated members', async () => {
    const data = text(10_000)
    const two = Buffer.concat([zlib.gzipSync(data.subarray(0, 3000)), zlib.gzipSync(data.subarray(3000))])
    assert.ok((await decompress(CompressionCodec.Gzip, two)).equals(data))
  })

  test('zstd: skippable frames and several frames', async () => {
    const data = text(20_000)
    const skippable = Buffer.alloc(8 + 5)
    skippable.writeUInt32LE(0x184d2a5a, 0)
    skippable.writeUInt32LE(5, 4)
    const f1 = await compress(CompressionCodec.Zstd, data.subarray(0, 7000))
    const f2 = await compress(CompressionCodec.Zstd, data.subarray(7000))
    assert.ok((await decompress(CompressionCodec.Zstd, Buffer.concat([skippable, f1, f2]))).equals(data))
  })
})

/** A zstd frame without content size: FHD 0, window descriptor (8 MiB), then the given blocks. */
function zstdFrame(blocks: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58]), ...blocks])
}

function zstdRle(size: number, byte: number, last: boolean): Buffer {
  const h = (size << 3) | (1 << 1) | (last ? 1 : 0)
  return Buffer.from([h & 0xff, (h >>> 8) & 0xff, (h >>> 16) & 0xff, byte])
}

describe('decompression ceiling (maxBytes)', () => {
  test('the default ceiling is 64 MiB', () => {
    assert.equal(DEFAULT_MAX_DECOMPRESSED_BYTES, 64 * 1024 * 1024)
  })

  test('every codec: output above maxBytes is PROTOCOL_DECOMPRESSED_TOO_LARGE, output at maxBytes is fine', async () => {
    const data = text(200_000)
    for (const codec of CODECS) {
      const c = await compress(codec, data)
      await rejectsWith(decompress(codec, c, { maxBytes: data.length - 1 }), 'PROTOCOL_DECOMPRESSED_TOO_LARGE', NAMES[codec])
      // lz4 and zstd bound compressed blocks by their maximum size, so give them that headroom.
      const roomy = codec === CompressionCodec.Lz4 ? 4 * 65536 : codec === CompressionCodec.Zstd ? 2 * 131072 : data.length
      assert.equal((await decompress(codec, c, { maxBytes: roomy })).length, data.length)
    }
  })

  test('gzip bomb: zlib stops at the ceiling (65 MiB of zeros against the default 64 MiB)', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(65 * 1024 * 1024), { level: 9 })
    assert.ok(bomb.length < 100_000)
    await rejectsWith(decompress(CompressionCodec.Gzip, bomb), 'PROTOCOL_DECOMPRESSED_TOO_LARGE', 'gzip')
  })

  test('snappy: a raw block whose preamble claims 4 GiB is refused before decompression', async () => {
    const lie = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x61])
    await rejectsWith(decompress(CompressionCodec.Snappy, lie), 'PROTOCOL_DECOMPRESSED_TOO_LARGE', 'snappy')
  })

  test('snappy: xerial chunks whose preambles add up past the ceiling are refused up front', async () => {
    const chunk = snappyLib.compressSync(Buffer.alloc(32 * 1024))
    const parts = [(await compress(CompressionCodec.Snappy, Buffer.alloc(0)))]
    for (let i = 0; i < 40; i++) {
      const len = Buffer.alloc(4)
      len.writeInt32BE(chunk.length)
      parts.push(len, chunk)
    }
    await rejectsWith(decompress(CompressionCodec.Snappy, Buffer.concat(parts), { maxBytes: 1024 * 1024 }), 'PROTOCOL_DECOMPRESSED_TOO_LARGE', 'snappy')
    assert.equal((await decompress(CompressionCodec.Snappy, Buffer.concat(parts), { maxBytes: 40 * 32 * 1024 })).length, 40 * 32 * 1024)
  })

  test('lz4: a frame of many highly compressed blocks stops at the ceiling', async () => {
    const block = (await compress(CompressionCodec.Lz4, Buffer.alloc(65536))).subarray(7, -4) // one [size][block]
    assert.ok(block.length < 400)
    const frame = Buffer.concat([LZ4_KAFKA_FRAME_HEADER, ...Array.from({ length: 64 }, () => block), Buffer.alloc(4)])
    await rejectsWith(decompress(CompressionCodec.Lz4, frame, { maxBytes: 1024 * 1024 + 100 }), 'PROTOCOL_DECOMPRESSED_TOO_LARGE', 'lz4')
    assert.equal((await decompress(CompressionCodec.Lz4, frame, { maxBytes: 4 * 1024 * 1024 })).length, 4 * 1024 * 1024)
  })

  test('lz4: a content size field above the ceiling is refused up front', async () => {
    const h = Buffer.alloc(15)
    h.writeUInt32LE(0x184d2204, 0)
    h[4] = 0x68 // version 1, independent blocks, content size present
    h[5] = 0x40
    h.writeUInt32LE(0, 6)
    h.writeUInt32LE(1, 10) // content size 2^32
    h[14] = (xxhash32(h, 4, 14) >>> 8) & 0xff
    await rejectsWith(decompress(CompressionCodec.Lz4, Buffer.concat([h, Buffer.alloc(4)])), 'PROTOCOL_DECOMPRESSED_TOO_LARGE', 'lz4')
  })

  test('zstd: the block walk predicts RLE output exactly, and a legitimate RLE frame decodes', async () => {
    const frame = zstdFrame([zstdRle(1000, 0x61, false), zstdRle(24, 0x62, true)])
    assert.equal(zstdBound(frame).bound, 1024)
    const out = await decompress(CompressionCodec.Zstd, frame)
    assert.equal(out.toString(), 'a'.repeat(1000) + 'b'.repeat(24))
  })

  test('zstd: an RLE bomb (600 x 128 KiB from 2.4 KB) is refused without decompressing', async () => {
    const blocks = Array.from({ length: 600 }, (_, i) => zstdRle(128 * 1024, 0, i === 599))
    const bomb = zstdFrame(blocks)
    assert.ok(bomb.length < 3000)
    await rejectsWith(decompress(CompressionCodec.Zstd, bomb), 'PROTOCOL_DECOMPRESSED_TOO_LARGE', 'zstd')
  })

  test('zstd: a frame content size above the ceiling is refused', async () => {
    const frame = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x80, 0x58]), Buffer.from([0, 0, 0, 0x10]), zstdRle(10, 0, true)])
    await rejectsWith(decompress(CompressionCodec.Zstd, frame), 'PROTOCOL_DECOMPRESSED_TOO_LARGE', 'zstd')
  })
})

describe('corrupt input is PROTOCOL_COMPRESSION, never a raw library error', () => {
  const garbage = Buffer.from('this is not compressed data at all, really')

  for (const codec of [CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4, CompressionCodec.Zstd]) {
    const name = NAMES[codec]!
    test(`${name}: garbage, truncation, empty input`, async () => {
      await rejectsWith(decompress(codec, garbage), 'PROTOCOL_COMPRESSION', name)
      const good = await compress(codec, text(50_000))
      await rejectsWith(decompress(codec, good.subarray(0, good.length >> 1)), 'PROTOCOL_COMPRESSION', name)
      if (codec !== CompressionCodec.Snappy) await rejectsWith(decompress(codec, Buffer.alloc(0)), 'PROTOCOL_COMPRESSION', name)
    })

    test(`${name}: any corruption of a valid payload yields the data, or a typed error (property)`, async () => {
      const data = text(5000)
      const good = await compress(codec, data)
      await fc.assert(
        fc.asyncProperty(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), fc.nat(good.length), async (at, xor, cut) => {
          const bad = Buffer.from(good)
          bad[at]! ^= xor
          for (const input of [bad, bad.subarray(0, cut)]) {
            try {
              await decompress(codec, input, { maxBytes: 1 << 20 })
            } catch (e) {
              assert.ok(e instanceof ProtocolError, `${name}: ${String(e)}`)
              assert.ok(['PROTOCOL_COMPRESSION', 'PROTOCOL_DECOMPRESSED_TOO_LARGE'].includes(e.code), e.code)
            }
          }
        }),
        { numRuns: 150 },
      )
    })
  }

  test('snappy: a corrupt raw block is PROTOCOL_COMPRESSION', async () => {
    await rejectsWith(decompress(CompressionCodec.Snappy, Buffer.from([0x0a, 0xff, 0xff, 0xff])), 'PROTOCOL_COMPRESSION', 'snappy')
    await rejectsWith(decompress(CompressionCodec.Snappy, Buffer.alloc(0)), 'PROTOCOL_COMPRESSION', 'snappy')
  })

  test('an unknown codec id is PROTOCOL_COMPRESSION', async () => {
    await rejectsWith(decompress(5, garbage), 'PROTOCOL_COMPRESSION')
    await rejectsWith(compress(7, garbage), 'PROTOCOL_COMPRESSION')
  })
})

describe('optional codec packages', () => {
  after(() => {
    setCodecModuleForTesting('snappy', null)
    setCodecModuleForTesting('lz4', null)
    setCodecModuleForTesting('zstd', null)
    setZstdImplementationForTesting('auto')
  })

  const cases = [
    ['snappy', CompressionCodec.Snappy, 'snappy'],
    ['lz4', CompressionCodec.Lz4, 'lz4-napi'],
    ['zstd', CompressionCodec.Zstd, '@mongodb-js/zstd'],
  ] as const

  for (const [name, codec, pkg] of cases) {
    // Where node:zlib has zstd the package is not needed (spec/compression-zstd.test.ts); here it is.
    test(`a missing ${pkg} is PROTOCOL_CODEC_UNAVAILABLE naming the package`, async () => {
      if (name === 'zstd') setZstdImplementationForTesting('package')
      const payload = await compress(codec, text(100))
      setCodecModuleForTesting(name, 'kafkawire-test-no-such-package')
      try {
        for (const p of [compress(codec, text(100)), decompress(codec, payload)]) {
          const e = await rejectsWith(p, 'PROTOCOL_CODEC_UNAVAILABLE')
          assert.ok(e.message.includes(`npm install ${pkg}`), e.message)
          assert.equal(e.context.package, pkg)
        }
      } finally {
        setCodecModuleForTesting(name, null)
      }
      assert.ok((await decompress(codec, payload)).equals(text(100)), 'restored')
      setZstdImplementationForTesting('auto')
    })
  }
})

test('a zstd frame declaring more than its blocks can hold is refused before decompressing', async () => {
  const { decompress, CompressionCodec } = await import('../src/protocol/compression/index.js')
  // Frame header: single segment, 4-byte content size 60 MiB; one raw last block of 1 byte.
  const frame = Buffer.concat([
    Buffer.from([0x28, 0xb5, 0x2f, 0xfd]),
    Buffer.from([0xa0]), // FCS flag 2 (4 bytes), single segment
    Buffer.from([0x00, 0x00, 0xc0, 0x03]), // 62914560
    Buffer.from([0x09, 0x00, 0x00]), // raw block, last, size 1
    Buffer.from([0x41]),
  ])
  const before = process.memoryUsage().arrayBuffers
  await assert.rejects(decompress(CompressionCodec.Zstd, frame), (e: unknown) => (e as { code?: string }).code === 'PROTOCOL_COMPRESSION')
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024, 'no allocation of the declared size')
})
