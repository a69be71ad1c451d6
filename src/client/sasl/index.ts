/**
 * SASL authentication over the Kafka protocol (KIP-43 SaslHandshake, KIP-152
 * SaslAuthenticate), and re-authentication (KIP-368): the same exchange run
 * again on a live connection before the session lifetime the broker
 * announced runs out.
 *
 * Credentials are held in closures and private fields only; they never appear
 * in errors, logs or util.inspect output.
 */
import { BrokerError } from '../../protocol/errors.js'
import { saslAuthenticate } from '../../protocol/messages/sasl-authenticate.js'
import { saslHandshake } from '../../protocol/messages/sasl-handshake.js'
import type { Connection } from '../connection.js'
import { AuthenticationError, ConnectionError } from '../errors.js'
import { oauthBearerMechanism, type OAuthBearerOptions } from './oauthbearer.js'
import { plainMechanism, type PlainOptions } from './plain.js'
import { scramMechanism, type ScramOptions } from './scram.js'

export type SaslOptions = PlainOptions | ScramOptions | OAuthBearerOptions

export interface SaslSession {
  mechanism: string
  /** Milliseconds the broker keeps the session valid (0: no limit). */
  sessionLifetimeMs: number
  authenticatedAt: number
}

/**
 * One mechanism's exchange: given the server's last challenge (null at the
 * start), returns the next client message, or null when done.
 */
export interface SaslExchange {
  next(challenge: Buffer | null): Promise<Buffer | null>
  /** Checks the final server message (e.g. the SCRAM server signature). */
  finish?(lastChallenge: Buffer): void
}

export interface SaslMechanism {
  readonly name: string
  start(): SaslExchange
}

export function mechanismFor(o: SaslOptions): SaslMechanism {
  switch (o.mechanism) {
    case 'PLAIN':
      return plainMechanism(o)
    case 'SCRAM-SHA-256':
    case 'SCRAM-SHA-512':
      return scramMechanism(o)
    case 'OAUTHBEARER':
      return oauthBearerMechanism(o)
    default:
      throw new AuthenticationError(`unsupported SASL mechanism ${(o as { mechanism: string }).mechanism}`)
  }
}

const SASL_AUTHENTICATION_FAILED = 58
const UNSUPPORTED_SASL_MECHANISM = 33
const ILLEGAL_SASL_STATE = 34

export async function authenticate(conn: Connection, options: SaslOptions, timeoutMs: number): Promise<SaslSession> {
  const mechanism = mechanismFor(options)
  const ctx = { broker: conn.address, ...(conn.nodeId !== undefined ? { nodeId: conn.nodeId } : {}) }
  const handshakeVersion = conn.pickVersion(saslHandshake)
  if (handshakeVersion < 1) {
    // v0 handshakes are followed by raw, unframed SASL tokens (pre KIP-152);
    // every broker since 1.0 supports v1.
    throw new AuthenticationError(`broker ${conn.address} only supports SaslHandshake v0, which this client does not implement`, ctx)
  }
  const hs = await conn.sendInternal(saslHandshake, handshakeVersion, { mechanism: mechanism.name }, timeoutMs)
  if (hs.errorCode === UNSUPPORTED_SASL_MECHANISM) {
    throw new AuthenticationError(
      `broker ${conn.address} does not enable SASL mechanism ${mechanism.name}; it enables: ${hs.mechanisms.join(', ') || 'none'}`,
      ctx,
    )
  }
  if (hs.errorCode !== 0) throw new AuthenticationError(new BrokerError(hs.errorCode, ctx).message, ctx)

  const authVersion = conn.pickVersion(saslAuthenticate)
  const exchange = mechanism.start()
  let challenge: Buffer | null = null
  let lifetime = 0
  for (let round = 0; round < 10; round++) {
    let token: Buffer | null
    try {
      token = await exchange.next(challenge)
    } catch (err) {
      // The mechanism refused the server's message (SCRAM nonce, iteration
      // count, server error) or could not build ours (OAUTHBEARER token or
      // extensions): an authentication failure, not a retriable network one.
      throw new AuthenticationError(`SASL ${mechanism.name} with ${conn.address}: ${(err as Error).message}`, ctx, err)
    }
    if (token === null) break
    let res
    try {
      res = await conn.sendInternal(saslAuthenticate, authVersion, { authBytes: token }, timeoutMs)
    } catch (err) {
      // Deviation tolerated: kfake (franz-go's fake cluster) answers invalid credentials by closing the
      // connection instead of with SASL_AUTHENTICATION_FAILED, as brokers before Kafka 1.0 did. A connection
      // the broker closes in answer to our credentials is an authentication failure: reconnecting would only
      // present the same credentials again. (Test: spec/client/impl-deviations.test.ts.)
      if (err instanceof ConnectionError && conn.closeError?.message.endsWith('was closed by the broker') === true) {
        throw new AuthenticationError(
          `SASL ${mechanism.name} authentication with ${conn.address} failed: the broker closed the connection in answer to the credentials (invalid credentials?)`,
          ctx,
          err,
        )
      }
      throw err
    }
    if (res.errorCode !== 0) {
      const reason = res.errorMessage ?? new BrokerError(res.errorCode).message
      if (res.errorCode === SASL_AUTHENTICATION_FAILED || res.errorCode === ILLEGAL_SASL_STATE) {
        throw new AuthenticationError(`SASL ${mechanism.name} authentication with ${conn.address} failed: ${reason}`, ctx)
      }
      throw new AuthenticationError(`SASL ${mechanism.name} with ${conn.address} failed: ${reason}`, ctx, new BrokerError(res.errorCode, ctx, res.errorMessage))
    }
    challenge = res.authBytes
    lifetime = Number(res.sessionLifetimeMs)
  }
  try {
    if (challenge !== null) exchange.finish?.(challenge)
  } catch (err) {
    throw new AuthenticationError(`SASL ${mechanism.name} with ${conn.address}: ${(err as Error).message}`, ctx, err)
  }
  return { mechanism: mechanism.name, sessionLifetimeMs: lifetime, authenticatedAt: Date.now() }
}
