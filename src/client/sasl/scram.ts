/**
 * SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677; KIP-84), without
 * channel binding. The client checks what a man in the middle could abuse:
 * the server nonce must extend ours, the iteration count must be at least
 * 4096 (RFC 7677) and below a cap (a huge count is a denial of service on the
 * client), and the server signature must prove the server knows the key.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'
import type { SaslMechanism } from './index.js'

const pbkdf2Async = promisify(pbkdf2)

export interface ScramOptions {
  mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512'
  username: string
  password: string
  /** Refuse servers asking for more PBKDF2 iterations than this. Default 100 000. */
  maxIterations?: number
  /** Extensions (KIP-86 tokenauth=true for delegation tokens). */
  extensions?: Record<string, string>
}

export const SCRAM_MIN_ITERATIONS = 4096
const DEFAULT_MAX_ITERATIONS = 100_000

/** RFC 5802 5.1: ',' and '=' in names are escaped as =2C and =3D. */
function saslName(s: string): string {
  return s.replace(/=/g, '=3D').replace(/,/g, '=2C')
}

function parseAttributes(msg: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const part of msg.split(',')) {
    const i = part.indexOf('=')
    if (i !== 1) throw new Error(`malformed SCRAM message attribute ${JSON.stringify(part.slice(0, 16))}`)
    out.set(part[0]!, part.slice(2))
  }
  return out
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length)
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!
  return out
}

export function scramMechanism(o: ScramOptions, nonceForTest?: string): SaslMechanism {
  const { username, password, mechanism } = o
  const hash = mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512'
  const keyLength = mechanism === 'SCRAM-SHA-256' ? 32 : 64
  const maxIterations = o.maxIterations ?? DEFAULT_MAX_ITERATIONS
  const ext = Object.entries(o.extensions ?? {})
    .map(([k, v]) => `,${k}=${v}`)
    .join('')
  return {
    name: mechanism,
    start() {
      const clientNonce = nonceForTest ?? randomBytes(24).toString('base64')
      const clientFirstBare = `n=${saslName(username)},r=${clientNonce}${ext}`
      let step = 0
      let serverSignature: Buffer | null = null
      return {
        async next(challenge) {
          if (step === 0) {
            step = 1
            return Buffer.from(`n,,${clientFirstBare}`, 'utf8')
          }
          if (step === 1) {
            step = 2
            const serverFirst = challenge!.toString('utf8')
            const attrs = parseAttributes(serverFirst)
            if (attrs.has('e')) throw new Error(`server error: ${attrs.get('e')}`)
            const nonce = attrs.get('r')
            const salt = attrs.get('s')
            const iterations = Number(attrs.get('i'))
            if (nonce === undefined || salt === undefined || !attrs.has('i')) throw new Error('server-first-message lacks r, s or i')
            if (!nonce.startsWith(clientNonce) || nonce.length === clientNonce.length) {
              throw new Error('server nonce does not extend the client nonce')
            }
            if (!Number.isInteger(iterations) || iterations < SCRAM_MIN_ITERATIONS) {
              throw new Error(`server asked for ${attrs.get('i')} iterations; at least ${SCRAM_MIN_ITERATIONS} are required`)
            }
            if (iterations > maxIterations) {
              throw new Error(`server asked for ${iterations} iterations, more than the configured maximum ${maxIterations}`)
            }
            const saltedPassword = await pbkdf2Async(Buffer.from(password, 'utf8'), Buffer.from(salt, 'base64'), iterations, keyLength, hash)
            const clientKey = createHmac(hash, saltedPassword).update('Client Key').digest()
            const storedKey = createHash(hash).update(clientKey).digest()
            const clientFinalWithoutProof = `c=biws,r=${nonce}`
            const authMessage = `${clientFirstBare},${serverFirst},${clientFinalWithoutProof}`
            const clientSignature = createHmac(hash, storedKey).update(authMessage).digest()
            const proof = xor(clientKey, clientSignature)
            const serverKey = createHmac(hash, saltedPassword).update('Server Key').digest()
            serverSignature = createHmac(hash, serverKey).update(authMessage).digest()
            return Buffer.from(`${clientFinalWithoutProof},p=${proof.toString('base64')}`, 'utf8')
          }
          return null
        },
        finish(last) {
          if (serverSignature === null) throw new Error('SCRAM exchange ended early')
          const attrs = parseAttributes(last.toString('utf8'))
          if (attrs.has('e')) throw new Error(`server error: ${attrs.get('e')}`)
          const v = attrs.get('v')
          if (v === undefined) throw new Error('server-final-message lacks the server signature')
          const got = Buffer.from(v, 'base64')
          if (got.length !== serverSignature.length || !timingSafeEqual(got, serverSignature)) {
            throw new Error('server signature does not verify: the server does not know the credentials')
          }
        },
      }
    },
  }
}
