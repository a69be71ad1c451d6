/**
 * What the two hand-assembled WebAssembly modules (crc32c.ts, compression/
 * lz4-wasm.ts) share: LEB128 integers, module sections, and instantiating a
 * module where WebAssembly exists (not under node --jitless, where callers
 * fall back to JS or the native package).
 */

export function uleb(v: number): number[] {
  const out: number[] = []
  do {
    let b = v & 0x7f
    v >>>= 7
    if (v !== 0) b |= 0x80
    out.push(b)
  } while (v !== 0)
  return out
}

export function sleb(v: number): number[] {
  const out: number[] = []
  for (;;) {
    const b = v & 0x7f
    v >>= 7
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b)
      return out
    }
    out.push(b | 0x80)
  }
}

/** A module section: id, byte length, contents. */
export function section(id: number, bytes: number[]): number[] {
  return [id, ...uleb(bytes.length), ...bytes]
}

/** An export or import name. */
export function wasmName(s: string): number[] {
  return [s.length, ...Array.from(s, (ch) => ch.charCodeAt(0))]
}

/** The module header: magic and version 1. */
export const WASM_HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]

/** The slice of the WebAssembly global we use (the project's lib settings do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object) => { exports: unknown }
}

/** The module's exports, or null where WebAssembly is unavailable or the module is refused. */
export function instantiateWasm(bytes: Uint8Array): Record<string, unknown> | null {
  try {
    const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly
    if (WA === undefined) return null
    return new WA.Instance(new WA.Module(bytes)).exports as Record<string, unknown>
  } catch {
    return null
  }
}
