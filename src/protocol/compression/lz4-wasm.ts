/**
 * An LZ4 block compressor (https://github.com/lz4/lz4/blob/dev/doc/lz4_Block_format.md)
 * in a small WebAssembly module assembled below, for the frames the
 * producer compresses on the event loop.
 *
 * Why not lz4-napi for those: every call returns a new native buffer that
 * is freed only when V8 next collects, so a producer compressing hundreds of
 * MB grows its malloc heap by tens of MB between collections and faults the
 * pages in again (0.2-0.3 us/KiB in a warm loop, 0.5-1.4 us/KiB plus 0.6-1.5
 * us/record of system time inside a fresh 200,000 x 1 KiB producer run).
 * This module compresses inside its own memory, which never grows.
 *
 * The search is the reference "fast" compressor's with lz4_flex's two
 * choices: a 4096-entry table hashed on 5 bytes (a 4-byte match is verified
 * and accepted) and a step that grows every 32 misses. Any valid block
 * decodes the same in every LZ4 decoder; the block rules for that are kept:
 * the last 5 bytes are literals, and no match starts in the last 12 bytes.
 */
import { instantiateWasm, section, sleb, uleb, WASM_HEADER, wasmName } from '../wasm.js'

/** Memory layout: the hash table, then the input block, then the output. */
const TABLE = 0
/**
 * Above 0xffff: a table slot never written (zero) then points further back
 * than any LZ4 offset reaches, so the distance check rejects it.
 */
const SRC = 65536 + 64
const MAX_BLOCK = 65536
const DST = SRC + MAX_BLOCK + 64
const PAGES = 4

/** Output bytes a block of `n` input bytes can need in the worst case (LZ4_COMPRESSBOUND). */
export function lz4BlockBound(n: number): number {
  return n + Math.floor(n / 255) + 16
}

// Opcodes (WebAssembly core spec, binary format).
const BLOCK = 0x02, LOOP = 0x03, IF = 0x04, ELSE = 0x05, END = 0x0b, BR = 0x0c, BR_IF = 0x0d, CALL = 0x10, VOID = 0x40
const GET = 0x20, SET = 0x21, TEE = 0x22
const LOAD = 0x28, LOAD8 = 0x2d, STORE = 0x36, STORE8 = 0x3a, STORE16 = 0x3b
const CONST = 0x41
const EQ = 0x46, LT_S = 0x48, LT_U = 0x49, GT_U = 0x4b, LE_U = 0x4d, GE_U = 0x4f
const ADD = 0x6a, SUB = 0x6b, MUL = 0x6c, AND = 0x71, OR = 0x72, XOR = 0x73, SHL = 0x74, SHR_U = 0x76
const I32 = 0x7f

const get = (l: number): number[] => [GET, l]
const set = (l: number): number[] => [SET, l]
const tee = (l: number): number[] => [TEE, l]
const i32 = (v: number): number[] => [CONST, ...sleb(v | 0)]
const load = (offset = 0): number[] => [LOAD, 0, ...uleb(offset)] // align 1: addresses are unaligned
const load8 = (offset = 0): number[] => [LOAD8, 0, ...uleb(offset)]
const store = (offset = 0): number[] => [STORE, 0, ...uleb(offset)]
const store8 = (offset = 0): number[] => [STORE8, 0, ...uleb(offset)]
const store16 = (offset = 0): number[] => [STORE16, 0, ...uleb(offset)]
const MEMORY_COPY = [0xfc, 0x0a, 0, 0]
const MEMORY_FILL = [0xfc, 0x0b, 0]

/**
 * Two functions: 0 = writeLength(d, n) -> d (LZ4's 255-byte length
 * continuation), 1 = compress(start, end, dst) -> end of output, over memory.
 */
function assemble(): Uint8Array {
  // writeLength: params d(0), n(1)
  const wl: number[] = []
  wl.push(BLOCK, VOID, LOOP, VOID)
  wl.push(...get(1), ...i32(255), LT_U, BR_IF, 1)
  wl.push(...get(0), ...i32(255), ...store8())
  wl.push(...get(0), ...i32(1), ADD, ...set(0))
  wl.push(...get(1), ...i32(255), SUB, ...set(1))
  wl.push(BR, 0, END, END)
  wl.push(...get(0), ...get(1), ...store8())
  wl.push(...get(0), ...i32(1), ADD, END)
  const wlBody = [0, ...wl] // no locals besides the params

  // compress: params s0(0), e(1), d(2); locals follow.
  const S0 = 0, E = 1, D = 2
  const ANCHOR = 3, IP = 4, MFLIMIT = 5, MATCHLIMIT = 6, FWDIP = 7, FWDH = 8, H = 9, MISSES = 10, MATCH = 11, LIT = 12, TOKEN = 13, P = 14, M = 15
  const LOCALS = 13
  // table address of the 5-byte hash at address in local `at` (plus `plus`)
  const hashAddr = (at: number, plus = 0): number[] => [
    ...get(at), ...load(plus), ...i32(-1640531535), MUL,
    ...get(at), ...load8(plus + 4), ...i32(0x27d4eb2f), MUL,
    XOR, ...i32(20), SHR_U, ...i32(2), SHL,
  ]
  // (ip - match <= 0xffff) & (load32(match) == load32(ip))
  const isMatch = (): number[] => [
    ...get(IP), ...get(MATCH), SUB, ...i32(0xffff), LE_U,
    ...get(MATCH), ...load(), ...get(IP), ...load(), EQ,
    AND,
  ]
  // A sequence's start: the token (its literal length nibble, and the
  // length's continuation bytes) and the literals anchor..upTo; D moves past
  // them and TOKEN keeps the token's address for the match length nibble.
  const literals = (upTo: number): number[] => [
    ...get(upTo), ...get(ANCHOR), SUB, ...set(LIT),
    ...get(D), ...set(TOKEN), ...get(D), ...i32(1), ADD, ...set(D),
    ...get(LIT), ...i32(15), GE_U, IF, VOID,
    ...get(TOKEN), ...i32(0xf0), ...store8(),
    ...get(D), ...get(LIT), ...i32(15), SUB, CALL, 0, ...set(D),
    ELSE,
    ...get(TOKEN), ...get(LIT), ...i32(4), SHL, ...store8(),
    END,
    ...get(D), ...get(ANCHOR), ...get(LIT), ...MEMORY_COPY,
    ...get(D), ...get(LIT), ADD, ...set(D),
  ]
  const c: number[] = []
  c.push(...get(S0), ...set(ANCHOR))
  c.push(BLOCK, VOID) // $last
  c.push(...get(E), ...get(S0), SUB, ...i32(13), LT_S, BR_IF, 0)
  // Clear the table: slot value 0 means "nothing yet" (see SRC).
  c.push(...i32(TABLE), ...i32(0), ...i32(4096 * 4), ...MEMORY_FILL)
  c.push(...get(E), ...i32(12), SUB, ...set(MFLIMIT))
  c.push(...get(E), ...i32(5), SUB, ...set(MATCHLIMIT))
  c.push(...get(S0), ...set(IP))
  c.push(...hashAddr(IP), ...get(IP), ...store())
  c.push(...get(IP), ...i32(1), ADD, ...set(IP))
  c.push(...hashAddr(IP), ...set(FWDH))
  c.push(LOOP, VOID) // $search (depth: last=1 inside)
  c.push(...get(IP), ...set(FWDIP), ...i32(32), ...set(MISSES))
  c.push(BLOCK, VOID) // $found
  c.push(LOOP, VOID) // $find  (labels: find=0, found=1, search=2, last=3)
  c.push(...get(FWDH), ...set(H), ...get(FWDIP), ...set(IP))
  c.push(...get(FWDIP), ...get(MISSES), ...i32(5), SHR_U, ADD, ...set(FWDIP))
  c.push(...get(MISSES), ...i32(1), ADD, ...set(MISSES))
  c.push(...get(FWDIP), ...get(MFLIMIT), GT_U, BR_IF, 3)
  c.push(...get(H), ...load(TABLE), ...set(MATCH))
  c.push(...hashAddr(FWDIP), ...set(FWDH))
  c.push(...get(H), ...get(IP), ...store(TABLE))
  c.push(...isMatch(), BR_IF, 1)
  c.push(BR, 0, END) // end $find
  c.push(END) // end $found
  // Extend the match backwards: (ip > anchor) & (match > s0) & (src[ip-1] == src[match-1])
  c.push(BLOCK, VOID, LOOP, VOID)
  c.push(...get(IP), ...get(ANCHOR), GT_U, ...get(MATCH), ...get(S0), GT_U, AND)
  c.push(...get(IP), ...i32(1), SUB, ...load8(), ...get(MATCH), ...i32(1), SUB, ...load8(), EQ, AND)
  c.push(...i32(1), XOR, BR_IF, 1)
  c.push(...get(IP), ...i32(1), SUB, ...set(IP), ...get(MATCH), ...i32(1), SUB, ...set(MATCH))
  c.push(BR, 0, END, END)
  c.push(LOOP, VOID) // $seq  (labels inside: seq=0, search=1, last=2)
  c.push(...literals(IP))
  // offset, little-endian
  c.push(...get(D), ...get(IP), ...get(MATCH), SUB, ...store16())
  c.push(...get(D), ...i32(2), ADD, ...set(D))
  // extend the match forwards, 4 bytes then 1 byte at a time, up to matchlimit
  c.push(...get(IP), ...i32(4), ADD, ...set(P), ...get(MATCH), ...i32(4), ADD, ...set(M))
  c.push(BLOCK, VOID, LOOP, VOID)
  c.push(...get(P), ...i32(4), ADD, ...get(MATCHLIMIT), GT_U, BR_IF, 1)
  c.push(...get(P), ...load(), ...get(M), ...load(), EQ, ...i32(1), XOR, BR_IF, 1)
  c.push(...get(P), ...i32(4), ADD, ...set(P), ...get(M), ...i32(4), ADD, ...set(M))
  c.push(BR, 0, END, END)
  c.push(BLOCK, VOID, LOOP, VOID)
  c.push(...get(P), ...get(MATCHLIMIT), GE_U, BR_IF, 1)
  c.push(...get(P), ...load8(), ...get(M), ...load8(), EQ, ...i32(1), XOR, BR_IF, 1)
  c.push(...get(P), ...i32(1), ADD, ...set(P), ...get(M), ...i32(1), ADD, ...set(M))
  c.push(BR, 0, END, END)
  // match length beyond the 4 implied bytes (LIT reused)
  c.push(...get(P), ...get(IP), SUB, ...i32(4), SUB, ...set(LIT))
  c.push(...get(LIT), ...i32(15), GE_U, IF, VOID)
  c.push(...get(TOKEN), ...get(TOKEN), ...load8(), ...i32(15), OR, ...store8())
  c.push(...get(D), ...get(LIT), ...i32(15), SUB, CALL, 0, ...set(D))
  c.push(ELSE)
  c.push(...get(TOKEN), ...get(TOKEN), ...load8(), ...get(LIT), OR, ...store8())
  c.push(END)
  c.push(...get(P), ...tee(IP), ...set(ANCHOR))
  c.push(...get(IP), ...get(MFLIMIT), GT_U, BR_IF, 2) // -> $last
  // table[hash(ip - 2)] = ip - 2
  c.push(...get(IP), ...i32(2), SUB, ...set(P))
  c.push(...hashAddr(P), ...get(P), ...store(TABLE))
  // a match right here?
  c.push(...hashAddr(IP), ...set(H))
  c.push(...get(H), ...load(TABLE), ...set(MATCH))
  c.push(...get(H), ...get(IP), ...store(TABLE))
  c.push(...isMatch(), BR_IF, 0) // -> $seq
  c.push(...get(IP), ...i32(1), ADD, ...set(IP))
  c.push(...hashAddr(IP), ...set(FWDH))
  c.push(BR, 1) // -> $search
  c.push(END) // end $seq
  c.push(END) // end $search
  c.push(END) // end $last
  // the last literals
  c.push(...literals(E), ...get(D), END)
  const cBody = [1, LOCALS, I32, ...c]

  return new Uint8Array([
    ...WASM_HEADER,
    // types: 0 = (i32 i32) -> i32, 1 = (i32 i32 i32) -> i32
    ...section(1, [2, 0x60, 2, I32, I32, 1, I32, 0x60, 3, I32, I32, I32, 1, I32]),
    ...section(3, [2, 0, 1]),
    ...section(5, [1, 0, PAGES]),
    ...section(7, [2, ...wasmName('compress'), 0x00, 1, ...wasmName('mem'), 0x02, 0]),
    ...section(10, [2, ...uleb(wlBody.length), ...wlBody, ...uleb(cBody.length), ...cBody]),
  ])
}

interface Compressor {
  fn: (start: number, end: number, dst: number) => number
  mem: Uint8Array
}

let compressor: Compressor | null | undefined

function instantiate(): Compressor | null {
  const exports = instantiateWasm(assemble()) as { compress: Compressor['fn']; mem: { buffer: ArrayBuffer } } | null
  return exports === null ? null : { fn: exports.compress, mem: new Uint8Array(exports.mem.buffer) }
}

/** Whether the WebAssembly compressor is available (it is not under node --jitless). */
export function lz4WasmAvailable(): boolean {
  if (compressor === undefined) compressor = instantiate()
  return compressor !== null
}

/**
 * Compresses src[start, end) (at most 64 KiB) as one LZ4 block into dst
 * from offset `o`, which needs lz4BlockBound(end - start) bytes of room.
 * Returns the offset after the block. Call lz4WasmAvailable() first.
 */
export function lz4CompressBlock(src: Uint8Array, start: number, end: number, dst: Uint8Array, o: number): number {
  const c = compressor!
  const n = end - start
  if (n > MAX_BLOCK) throw new RangeError(`an LZ4 block holds at most ${MAX_BLOCK} bytes, not ${n}`)
  c.mem.set(src.subarray(start, end), SRC)
  const outEnd = c.fn(SRC, SRC + n, DST)
  const len = outEnd - DST
  dst.set(c.mem.subarray(DST, outEnd), o)
  return o + len
}
