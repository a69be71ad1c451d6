// A second Node runtime for the test command: the current LTS, whose node:zlib has zstd
// (src/protocol/compression/zstd-zlib.ts), while the oldest supported Node (20) has not.
// `npm test` on a Node without zstd in node:zlib runs the unit tests (and the codec
// conformance tests) again on this one, so both zstd paths are proven on every run.
//
// The binary comes from the npm registry (the node-<platform>-<arch> packages that the
// `node` package installs), kept under ${KAFKAWIRE_CACHE:-~/.cache/kafkawire}/node/<version>.
// KAFKAWIRE_LTS_NODE=/path/to/node uses that binary instead (it must have zstd in node:zlib).
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import * as zlib from 'node:zlib'
import { join } from 'node:path'

export const LTS_NODE_VERSION = '24.21.0'

function hasZstd(node) {
  // The same check as currentNodeHasZstd, asked of another binary.
  const probe = "process.stdout.write(typeof require('node:zlib').zstdCompressSync === 'function' ? 'yes' : 'no')"
  return execFileSync(node, ['-e', probe], { encoding: 'utf8' }) === 'yes'
}

/** Whether the Node running this script has zstd in node:zlib. */
export function currentNodeHasZstd() {
  return typeof zlib.zstdCompressSync === 'function'
}

/** Path of a Node binary with zstd in node:zlib, installed on first use. Throws with the reason when it cannot be had. */
export function ltsNode() {
  const given = process.env.KAFKAWIRE_LTS_NODE
  if (given) {
    if (!hasZstd(given)) throw new Error(`KAFKAWIRE_LTS_NODE=${given} has no zstd in node:zlib (needs Node >= 22.15)`)
    return given
  }
  const platform = { linux: 'linux', darwin: 'darwin' }[process.platform]
  const arch = { x64: 'x64', arm64: 'arm64' }[process.arch]
  if (!platform || !arch) {
    throw new Error(`no prebuilt Node package for ${process.platform}-${process.arch}; set KAFKAWIRE_LTS_NODE to a Node >= 22.15`)
  }
  const pkg = `node-${platform}-${arch}`
  const parent = join(process.env.KAFKAWIRE_CACHE || join(homedir(), '.cache', 'kafkawire'), 'node')
  const dir = join(parent, LTS_NODE_VERSION)
  const bin = join(dir, 'node_modules', pkg, 'bin', 'node')
  if (!existsSync(bin)) {
    // Installed beside the cache entry and renamed into place, so a concurrent run never sees half of it.
    mkdirSync(parent, { recursive: true })
    const partial = mkdtempSync(join(parent, `${LTS_NODE_VERSION}.partial-`))
    console.log(`installing Node ${LTS_NODE_VERSION} (${pkg}) into ${dir}`)
    try {
      execFileSync('npm', ['install', '--prefix', partial, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--loglevel=error', `${pkg}@${LTS_NODE_VERSION}`], {
        stdio: 'inherit',
      })
      if (!existsSync(bin)) {
        rmSync(dir, { recursive: true, force: true }) // an install cut short before this scheme
        renameSync(partial, dir)
      }
    } finally {
      rmSync(partial, { recursive: true, force: true })
    }
  }
  if (!existsSync(bin) || !hasZstd(bin)) throw new Error(`${bin} is missing or has no zstd in node:zlib`)
  return bin
}
