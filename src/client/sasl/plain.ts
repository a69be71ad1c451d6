import type { SaslMechanism } from './index.js'

export interface PlainOptions {
  mechanism: 'PLAIN'
  username: string
  password: string
  /** Authorization identity; empty means "same as username". */
  authorizationId?: string
}

/** RFC 4616: one message, authzid NUL authcid NUL password. */
export function plainMechanism(o: PlainOptions): SaslMechanism {
  const { username, password } = o
  const authz = o.authorizationId ?? ''
  return {
    name: 'PLAIN',
    start() {
      let sent = false
      return {
        async next() {
          if (sent) return null
          sent = true
          return Buffer.from(`${authz}\0${username}\0${password}`, 'utf8')
        },
      }
    },
  }
}
