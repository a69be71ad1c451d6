/**
 * Record compression codecs (Kafka attribute ids 0-4). `compress` and
 * `decompress` are async because the large-input paths run on the libuv
 * threadpool; small inputs take synchronous fast paths internally.
 *
 * Every failure is a ProtocolError: PROTOCOL_COMPRESSION for corrupt input
 * (with the codec name in the message and context), PROTOCOL_DECOMPRESSED_TOO_LARGE
 * when the output would exceed the ceiling (checked before or during
 * decompression, see each codec), PROTOCOL_CODEC_UNAVAILABLE when the optional
 * package for snappy / lz4 / zstd is not installed.
 */
import { ProtocolError } from '../errors.js'
import {
  CompressionCodec,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  codecName,
  type DecompressOptions,
} from './codec.js'
import { gzipCompress, gzipDecompress } from './gzip.js'
import { lz4Compress, lz4Decompress } from './lz4.js'
import { snappyCompress, snappyDecompress } from './snappy.js'
import { zstdCompress, zstdDecompress } from './zstd.js'

export {
  CompressionCodec,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  codecName,
  isCompressionCodec,
  type CompressionCodecName,
  type DecompressOptions,
} from './codec.js'
export { CODEC_PACKAGES } from './load.js'
export { LZ4_KAFKA_FRAME_HEADER } from './lz4.js'
export { XERIAL_MAGIC, XERIAL_BLOCK_SIZE } from './snappy.js'
export { xxhash32 } from './xxhash32.js'

function unknownCodec(codec: number): ProtocolError {
  return new ProtocolError('PROTOCOL_COMPRESSION', `unknown compression codec id ${codec}`, { codec: codecName(codec) })
}

/**
 * Compresses data with a codec. `level` is passed to gzip (1-9) and zstd;
 * snappy has no levels, and lz4 ignores it (the block compressor has only
 * its fast mode, which is what Kafka uses at the default level).
 */
export async function compress(codec: CompressionCodec | number, data: Buffer, level?: number): Promise<Buffer> {
  switch (codec) {
    case CompressionCodec.None:
      return data
    case CompressionCodec.Gzip:
      return gzipCompress(data, level)
    case CompressionCodec.Snappy:
      return snappyCompress(data)
    case CompressionCodec.Lz4:
      return lz4Compress(data)
    case CompressionCodec.Zstd:
      return zstdCompress(data, level)
    default:
      throw unknownCodec(codec)
  }
}

/** Decompresses data, refusing to produce more than `opts.maxBytes` bytes. */
export async function decompress(codec: CompressionCodec | number, data: Buffer, opts: DecompressOptions = {}): Promise<Buffer> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES
  if (!(maxBytes >= 0)) {
    throw new ProtocolError('PROTOCOL_INVALID_VALUE', `maxBytes must be a non-negative number, got ${maxBytes}`)
  }
  switch (codec) {
    case CompressionCodec.None:
      if (data.length > maxBytes) throw new ProtocolError('PROTOCOL_DECOMPRESSED_TOO_LARGE', `none: ${data.length} bytes exceed the ceiling of ${maxBytes}`, { codec: 'none', maxBytes })
      return data
    case CompressionCodec.Gzip:
      return gzipDecompress(data, maxBytes)
    case CompressionCodec.Snappy:
      return snappyDecompress(data, maxBytes)
    case CompressionCodec.Lz4:
      return lz4Decompress(data, maxBytes, opts.lz4LegacyHeaderChecksum === true)
    case CompressionCodec.Zstd:
      return zstdDecompress(data, maxBytes)
    default:
      throw unknownCodec(codec)
  }
}
