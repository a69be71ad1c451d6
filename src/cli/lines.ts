/**
 * Splitting a byte stream into lines without decoding it: values are sent as
 * the bytes they are, whatever their encoding.
 */

const LF = 0x0a
const CR = 0x0d

function chomp(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, line.length - 1) : line
}

/**
 * Yields the lines of each chunk as it arrives (one array per chunk, to keep
 * the per-line cost low), without their "\n" or "\r\n". A last line without
 * a newline counts; an empty input has no lines. Reading is pulled by the
 * consumer, so a slow consumer slows the reads (back-pressure).
 *
 * Each line is a view into the chunk it came from (a copy only when it spans
 * chunks); `onChunk` reports the raw bytes read, for progress.
 */
export async function* splitLines(source: AsyncIterable<Buffer | string> | Iterable<Buffer | string>, onChunk?: (bytes: number) => void): AsyncGenerator<Buffer[]> {
  let partial: Buffer[] = []
  for await (const c of source) {
    const chunk = typeof c === 'string' ? Buffer.from(c, 'utf8') : c
    onChunk?.(chunk.length)
    const lines: Buffer[] = []
    let start = 0
    for (let nl = chunk.indexOf(LF); nl >= 0; nl = chunk.indexOf(LF, start)) {
      const piece = chunk.subarray(start, nl)
      if (partial.length > 0) {
        partial.push(piece)
        lines.push(chomp(Buffer.concat(partial)))
        partial = []
      } else lines.push(chomp(piece))
      start = nl + 1
    }
    if (start < chunk.length) partial.push(chunk.subarray(start))
    if (lines.length > 0) yield lines
  }
  if (partial.length > 0) yield [chomp(Buffer.concat(partial))]
}
