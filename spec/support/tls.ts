/**
 * Throwaway X.509 material for TLS tests. Node cannot issue certificates, so
 * this runs the `openssl` command line (a test dependency, like Java is for
 * the conformance suite); a missing binary fails the test with that reason.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface TestPki {
  /** The CA certificate (PEM). */
  ca: string
  /** A server key and certificate signed by the CA, SAN DNS:localhost, IP:127.0.0.1. */
  key: string
  cert: string
}

function openssl(dir: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer }
    if (e.code === 'ENOENT') throw new Error('the TLS tests need the openssl command line to create throwaway certificates; install openssl')
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString() ?? e.message}`)
  }
}

/** A fresh CA and a server certificate it signed. */
export function makePki(commonName = 'kafkawire throwaway CA'): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'kafkawire-pki-'))
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    openssl(dir, ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', `/CN=${commonName}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
    openssl(dir, ['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'])
    writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
    openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem',
      '-days', '2', '-extfile', 'ext.cnf'])
    const read = (f: string): string => readFileSync(join(dir, f), 'utf8')
    return { ca: read('ca.pem'), key: read('server.key'), cert: read('server.pem') }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
