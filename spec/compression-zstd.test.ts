// zstd's two implementations: node:zlib (Node >= 22.15, with one reused
// context per level for small inputs) and the optional @mongodb-js/zstd
// package (every Node). `npm test` runs this file on a Node without zstd in
// node:zlib (the package alone) and again on Node 24 (both, and frames
// crossing between them): scripts/test.mjs.
import { after, afterEach, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ProtocolError } from '../src/protocol/errors.js'
import { CompressionCodec, compress, decompress } from '../src/protocol/compression/index.js'
import type { BlockSource } from '../src/protocol/compression/codec.js'
import { setCodecModuleForTesting } from '../src/protocol/compression/load.js'
import { setZstdImplementationForTesting, zstdBound, zstdBuiltIn, zstdCompress } from '../src/protocol/compression/zstd.js'
import { levelParams, nodeZstd, resetZstdContextsForTesting, zstdCompressBound, zstdCompressReused, zstdContextState } from '../src/protocol/compression/zstd-zlib.js'
import { noise } from './support/bytes.js'

type Impl = 'zlib' | 'package'
const IMPLS: Impl[] = zstdBuiltIn() ? ['zlib', 'package'] : ['package']

afterEach(() => {
  setZstdImplementationForTesting('auto')
  setCodecModuleForTesting('zstd', null)
})
after(() => resetZstdContextsForTesting())

function text(n: number, seed = 0): Buffer {
  const words = ['kafka ', 'record ', 'batch ', 'offset ', 'topic ', 'partition ', 'leader ', 'epoch ']
  const b = Buffer.allocUnsafe(n)
  let o = 0
  for (let i = seed; o < n; i++) o += b.write(words[(i * 7 + (i >> 3)) % words.length]!, o)
  return b
}

async function zstdWith(impl: Impl, data: Buffer, level?: number): Promise<Buffer> {
  setZstdImplementationForTesting(impl)
  try {
    return await compress(CompressionCodec.Zstd, data, level)
  } finally {
    setZstdImplementationForTesting('auto')
  }
}

async function unzstdWith(impl: Impl, frame: Buffer, maxBytes?: number): Promise<Buffer> {
  setZstdImplementationForTesting(impl)
  try {
    return await decompress(CompressionCodec.Zstd, frame, maxBytes === undefined ? {} : { maxBytes })
  } finally {
    setZstdImplementationForTesting('auto')
  }
}

/** The frame header's single-segment flag and content size (RFC 8878 3.1.1.1). */
function frameHeader(frame: Buffer): { singleSegment: boolean; contentSize: number } {
  assert.equal(frame.readUInt32LE(0), 0xfd2fb528)
  const fhd = frame[4]!
  const singleSegment = (fhd & 0x20) !== 0
  const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fhd >>> 6]!
  const at = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][fhd & 3]!
  let contentSize = -1
  if (fcsBytes === 1) contentSize = frame[at]!
  else if (fcsBytes === 2) contentSize = frame.readUInt16LE(at) + 256
  else if (fcsBytes === 4) contentSize = frame.readUInt32LE(at)
  return { singleSegment, contentSize }
}

// Up to and past 1 MiB, where node:zlib moves compression to the threadpool (zstd.ts).
const SIZES = [0, 1, 1000, 65_536, 65_537, 300_000, 1_100_000]
const ZLIB_FRAME_OF_TEXT_600_5 =
  'KLUv/WBYAYUDAGQDb2Zmc2V0IGJhdGNoIHJlY29yZGthZmthIGVwb2NoIGxlYWRlciBwYXJ0aXRpb24gdG9waWMgFgB+zHCEA8ABAYK7dUCAAIgDAi0EP5NAICGIBA4sCQGzoWhuCCCAA/oBAjggEBAccYAF4bwiShg='

for (const impl of IMPLS) {
  describe(`zstd through ${impl === 'zlib' ? 'node:zlib' : '@mongodb-js/zstd'}`, () => {
    test('round trips text and noise of every size, at the default level and at 1, 9 and -5', async () => {
      for (const level of [undefined, 1, 9, -5]) {
        for (const n of SIZES) {
          for (const data of [text(n), noise(n, n + 3)]) {
            const frame = await zstdWith(impl, data, level)
            const back = await unzstdWith(impl, frame)
            assert.ok(back.equals(data), `${n} bytes at level ${level}`)
          }
        }
      }
    })

    test('frames written by the other implementation decode identically (property)', async () => {
      const other: Impl = impl === 'zlib' ? 'package' : 'zlib'
      if (!IMPLS.includes(other)) {
        // Only the package on this Node: it must read what the reused node:zlib context writes
        // (single segment, exact content size); this frame of text(600, 5) came from Node 24.21.
        const frame = Buffer.from(ZLIB_FRAME_OF_TEXT_600_5, 'base64')
        assert.deepEqual(frameHeader(frame), { singleSegment: true, contentSize: 600 })
        assert.ok((await unzstdWith('package', frame)).equals(text(600, 5)))
        return
      }
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 5000 }), fc.integer({ min: 0, max: 40 }), fc.constantFrom(1, 3, 9), async (bytes, repeat, level) => {
          const data = Buffer.concat([Buffer.from(bytes), text(repeat * 100, bytes.length)])
          const frame = await zstdWith(other, data, level)
          assert.ok((await unzstdWith(impl, frame)).equals(data))
        }),
        { numRuns: 150 },
      )
    })

    test('several frames and skippable frames decode to the concatenation of their contents', async () => {
      const skippable = Buffer.alloc(8 + 5)
      skippable.writeUInt32LE(0x184d2a5a, 0)
      skippable.writeUInt32LE(5, 4)
      const parts = [text(7000), noise(3000), text(20_000, 9)]
      const frames = await Promise.all(parts.map((p) => zstdWith(impl, p)))
      const expected = Buffer.concat(parts)
      for (const layout of [
        [skippable, frames[0]!, frames[1]!, frames[2]!],
        [frames[0]!, skippable, frames[1]!, frames[2]!, skippable],
        [frames[0]!, frames[1]!, frames[2]!],
      ]) {
        assert.ok((await unzstdWith(impl, Buffer.concat(layout))).equals(expected))
      }
    })

    test('the ceiling holds across several frames', async () => {
      const frames = Buffer.concat([await zstdWith(impl, text(40_000)), await zstdWith(impl, text(40_000, 3))])
      // Frames that declare their size are held to it; others to what their blocks can hold (zstd.ts).
      const { bound } = zstdBound(frames)
      assert.equal(bound, impl === 'zlib' ? 80_000 : 2 * 128 * 1024)
      assert.equal((await unzstdWith(impl, frames, bound)).length, 80_000)
      await assert.rejects(unzstdWith(impl, frames, 79_999), (e: unknown) => e instanceof ProtocolError && e.code === 'PROTOCOL_DECOMPRESSED_TOO_LARGE')
    })

    test('damaged frames fail as PROTOCOL_COMPRESSION or PROTOCOL_DECOMPRESSED_TOO_LARGE, never otherwise (property)', async () => {
      const frames = [await zstdWith(impl, text(30_000)), await zstdWith(impl, noise(2000)), await zstdWith(impl, text(200))]
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: frames.length - 1 }),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
          fc.option(fc.nat(), { nil: undefined }),
          async (which, edits, cut) => {
            const frame = Buffer.from(frames[which]!)
            for (const [at, byte] of edits) frame[at % frame.length] = byte
            const input = cut === undefined ? frame : frame.subarray(0, cut % frame.length)
            try {
              const out = await unzstdWith(impl, input, 1 << 20)
              assert.ok(Buffer.isBuffer(out) && out.length <= 1 << 20)
            } catch (e) {
              assert.ok(e instanceof ProtocolError, String(e))
              assert.ok(e.code === 'PROTOCOL_COMPRESSION' || e.code === 'PROTOCOL_DECOMPRESSED_TOO_LARGE', e.code)
            }
          },
        ),
        { numRuns: 300 },
      )
    })
  })
}

if (nodeZstd === undefined) {
  describe('zstd on a Node without zstd in node:zlib', () => {
    test('the package does the work, and a missing package is PROTOCOL_CODEC_UNAVAILABLE', async () => {
      assert.equal(zstdBuiltIn(), false)
      assert.throws(() => setZstdImplementationForTesting('zlib'), /node:zlib has no zstd/)
      const frame = await compress(CompressionCodec.Zstd, text(500))
      setCodecModuleForTesting('zstd', 'kafkawire-test-no-such-package')
      await assert.rejects(compress(CompressionCodec.Zstd, text(500)), (e: unknown) => e instanceof ProtocolError && e.code === 'PROTOCOL_CODEC_UNAVAILABLE')
      await assert.rejects(decompress(CompressionCodec.Zstd, frame), (e: unknown) => e instanceof ProtocolError && e.code === 'PROTOCOL_CODEC_UNAVAILABLE')
    })
  })
} else {
  const zs = nodeZstd
  describe('zstd through node:zlib: the reused compression context', () => {
    afterEach(() => resetZstdContextsForTesting())

    test('frames are single-segment and declare their exact content size, as one-shot libzstd writes them', async () => {
      for (const n of [1, 255, 256, 1000, 65_536, 200_000]) {
        const frame = await zstdCompress(text(n, n))
        assert.deepEqual(frameHeader(frame), { singleSegment: true, contentSize: n }, `${n} bytes`)
      }
      assert.equal(zstdContextState(), 'usable')
    })

    test('a long run of frames at interleaved levels through the same contexts each decode to their input (property)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.integer({ min: 0, max: 70_000 }), fc.integer({ min: 0, max: 1000 }), fc.constantFrom(undefined, 1, 3, 7)), { minLength: 1, maxLength: 12 }),
          async (jobs) => {
            for (const [n, seed, level] of jobs) {
              const data = seed % 3 === 0 ? noise(n, seed + 1) : text(n, seed)
              const frame = await zstdCompress(data, level)
              assert.equal(frameHeader(frame).contentSize, n)
              assert.ok((await unzstdWith('package', frame)).equals(data))
            }
          },
        ),
        { numRuns: 60 },
      )
      assert.equal(zstdContextState(), 'usable')
    })

    test('writes the frame after the headroom, into memory from the given source, leaving the headroom alone', async () => {
      const taken: Buffer[] = []
      const given: Uint8Array[] = []
      const memory: BlockSource = {
        take(n) {
          const b = Buffer.alloc(n, 0xa5)
          taken.push(b)
          return b
        },
        give(b) {
          given.push(b)
        },
      }
      const data = text(50_000)
      const out = await zstdCompress(data, 3, 61, memory)
      assert.equal(taken.length, 1)
      assert.equal(out.buffer, taken[0]!.buffer, 'the result is the memory that was taken')
      assert.ok(out.subarray(0, 61).every((x) => x === 0xa5), 'headroom untouched')
      assert.ok((await unzstdWith('zlib', out.subarray(61))).equals(data))
      assert.equal(given.length, 0)
    })

    test('a frame that cannot be finished retires the shortcut; compression carries on through the public calls', async () => {
      const data = noise(4000)
      const tooSmall = Buffer.alloc(100)
      assert.equal(zstdCompressReused(zs, data, 3, tooSmall, 0, tooSmall.length), -1)
      assert.equal(zstdContextState(), 'retired')
      const taken: Buffer[] = []
      const given: Uint8Array[] = []
      const memory: BlockSource = {
        take: (n) => {
          const b = Buffer.alloc(n)
          taken.push(b)
          return b
        },
        give: (b) => void given.push(b),
      }
      for (const n of [0, 10, 70_000]) {
        const frame = await zstdCompress(text(n), 3, 5, memory)
        assert.ok((await unzstdWith('zlib', frame.subarray(5))).equals(text(n)))
      }
      // Once retired, nothing is taken for the shortcut: one block per frame, none handed back.
      assert.equal(taken.length, 3)
      assert.equal(given.length, 0)
      assert.equal(zstdContextState(), 'retired')
    })

    test('room of exactly the compression bound is enough for incompressible input', () => {
      for (const n of [0, 1, 100, 65_536, 131_072, 200_000]) {
        const data = noise(n, n)
        const out = Buffer.allocUnsafe(zstdCompressBound(n) + 16)
        const len = zstdCompressReused(zs, data, 3, out, 16, out.length)
        assert.ok(len > 0 && len <= zstdCompressBound(n), `${n} bytes: frame of ${len}`)
        assert.ok(zs.zstdDecompressSync(out.subarray(16, 16 + len)).equals(data))
      }
      assert.equal(zstdContextState(), 'usable')
    })

    test('a level libzstd clamps or refuses gives the same answer as the public call', async () => {
      for (const level of [22, 30, -200_000]) {
        let publicResult: Buffer | Error
        try {
          publicResult = zs.zstdCompressSync(text(3000), { params: levelParams(level) })
        } catch (e) {
          publicResult = e as Error
        }
        if (publicResult instanceof Error) {
          await assert.rejects(zstdCompress(text(3000), level), (e: unknown) => e instanceof ProtocolError && e.code === 'PROTOCOL_COMPRESSION')
        } else {
          const frame = await zstdCompress(text(3000), level)
          assert.ok((await unzstdWith('zlib', frame)).equals(text(3000)))
        }
      }
    })

    test('a frame that does not declare its size decodes into memory of about its size', async () => {
      // The package writes frames without a content size, as Java's streaming writer does.
      for (const n of [100, 10_000, 100_000]) {
        const frame = await zstdWith('package', text(n, 7))
        assert.equal(frameHeader(frame).contentSize, -1)
        const out = await unzstdWith('zlib', frame)
        assert.ok(out.equals(text(n, 7)))
        // Small results share Node's Buffer pool (8 KiB on Node 20, 64 KiB on 24).
        assert.ok(out.buffer.byteLength <= Math.max(Buffer.poolSize, 2 * n), `${n} bytes held in ${out.buffer.byteLength}`)
      }
    })

    test('without @mongodb-js/zstd, zstd still compresses and decompresses', async () => {
      setCodecModuleForTesting('zstd', 'kafkawire-test-no-such-package')
      for (const n of [10, 70_000, 400_000, 1_200_000]) {
        const data = text(n)
        assert.ok((await decompress(CompressionCodec.Zstd, await compress(CompressionCodec.Zstd, data))).equals(data))
      }
    })
  })
}
