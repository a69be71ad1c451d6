/**
 * OAUTHBEARER (RFC 7628; KIP-255, extensions KIP-342). The token comes from a
 * callback, called for every (re-)authentication so a refreshed token is used.
 */
import type { SaslMechanism } from './index.js'

export interface OAuthBearerToken {
  /** The compact token, e.g. a JWT. */
  value: string
  /** SASL extensions sent with the token (KIP-342), e.g. { logicalCluster: 'lkc-1' }. */
  extensions?: Record<string, string>
}

export interface OAuthBearerOptions {
  mechanism: 'OAUTHBEARER'
  /** Returns a current token; called on every authentication and re-authentication. */
  token: () => OAuthBearerToken | Promise<OAuthBearerToken>
}

const KEY = /^[A-Za-z]+$/
// RFC 7628 3.1: value = *(VCHAR / RWS / CTL minus \x01)
const VALUE = /^[\x21-\x7E \t\r\n]*$/

export function oauthBearerMechanism(o: OAuthBearerOptions): SaslMechanism {
  const provider = o.token
  return {
    name: 'OAUTHBEARER',
    start() {
      let step = 0
      return {
        async next(challenge) {
          if (step === 0) {
            step = 1
            const t = await provider()
            if (!t || typeof t.value !== 'string' || t.value === '') throw new Error('the OAUTHBEARER token provider returned no token')
            let ext = ''
            for (const [k, v] of Object.entries(t.extensions ?? {})) {
              if (k === 'auth' || !KEY.test(k)) throw new Error(`invalid SASL extension name ${JSON.stringify(k)}`)
              if (!VALUE.test(v)) throw new Error(`invalid value for SASL extension ${k}`)
              ext += `\x01${k}=${v}`
            }
            return Buffer.from(`n,,\x01auth=Bearer ${t.value}${ext}\x01\x01`, 'utf8')
          }
          // A non-empty challenge after the token is the server's JSON error
          // (RFC 7628 3.2.2); the client answers with a lone %x01 and the
          // server then fails the exchange with its error code.
          if (step === 1 && challenge !== null && challenge.length > 0) {
            step = 2
            return Buffer.from([1])
          }
          return null
        },
      }
    },
  }
}
