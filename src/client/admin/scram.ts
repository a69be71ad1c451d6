/**
 * SCRAM credentials (KIP-554). The password never leaves the client: it
 * sends the salt and the salted password, computed as the reference admin
 * client does (Hi() of RFC 5802, which is PBKDF2 with the mechanism's HMAC
 * and the hash's output length).
 */
import { pbkdf2, randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { BrokerError } from '../../protocol/errors.js'
import { alterUserScramCredentials as alterApi } from '../../protocol/messages/alter-user-scram-credentials.js'
import { describeUserScramCredentials as describeApi } from '../../protocol/messages/describe-user-scram-credentials.js'
import { brokerStep, type AdminContext, type Op, type Step } from './context.js'
import type { Outcome } from './types.js'

const pbkdf2Async = promisify(pbkdf2)

export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-512'
const MECHANISMS: Record<ScramMechanism, { code: number; hash: string; bytes: number }> = {
  'SCRAM-SHA-256': { code: 1, hash: 'sha256', bytes: 32 },
  'SCRAM-SHA-512': { code: 2, hash: 'sha512', bytes: 64 },
}

function mechanismName(code: number): ScramMechanism | 'unknown' {
  return code === 1 ? 'SCRAM-SHA-256' : code === 2 ? 'SCRAM-SHA-512' : 'unknown'
}

/**
 * The reference client's salt: a random 130-bit integer in base 36, as
 * UTF-8 bytes (UserScramCredentialUpsertion.generateRandomSalt).
 */
export function randomSalt(): Buffer {
  const b = randomBytes(17)
  b[0]! &= 0x03 // 136 random bits down to 130
  return Buffer.from(BigInt(`0x${b.toString('hex')}`).toString(36), 'utf8')
}

/** SaltedPassword := Hi(Normalize(password), salt, i) (RFC 5802 section 3). */
export function saltedPassword(mechanism: ScramMechanism, password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  const m = MECHANISMS[mechanism]
  return pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, m.bytes, m.hash)
}

export type UserScramCredentials = Outcome<{ user: string }, { credentials: Array<{ mechanism: ScramMechanism | 'unknown'; iterations: number }> }>

/**
 * The SCRAM mechanisms and iteration counts of the given users (default:
 * every user that has credentials). An unknown user reports
 * RESOURCE_NOT_FOUND; a request-level error is thrown.
 */
export async function describeUserScramCredentials(ctx: AdminContext, op: Op, users: string[] | null): Promise<UserScramCredentials[]> {
  return ctx.retry(op, async () => {
    const { res } = await ctx.send('any', describeApi, () => ({ users: users === null ? null : users.map((name) => ({ name })) }), op)
    if (res.errorCode !== 0) throw new BrokerError(res.errorCode, { apiName: 'DescribeUserScramCredentials' }, res.errorMessage)
    return res.results.map((r) =>
      r.errorCode === 0
        ? { user: r.user, error: null, credentials: r.credentialInfos.map((c) => ({ mechanism: mechanismName(c.mechanism), iterations: c.iterations })) }
        : { user: r.user, error: new BrokerError(r.errorCode, { apiName: 'DescribeUserScramCredentials', user: r.user }, r.errorMessage) },
    )
  })
}

export interface ScramUpsertion {
  user: string
  mechanism: ScramMechanism
  /** At least 4096 (the broker rejects fewer), at most 16384 by default. */
  iterations: number
  password: string
}

export interface ScramDeletion {
  user: string
  mechanism: ScramMechanism
}

export type AlteredUser = Outcome<{ user: string }, object>

/** Adds, replaces or removes SCRAM credentials; results per user. */
export async function alterUserScramCredentials(ctx: AdminContext, op: Op, upsertions: ScramUpsertion[], deletions: ScramDeletion[]): Promise<AlteredUser[]> {
  // Salt once: a retry must send the same credential.
  const salted = await Promise.all(
    upsertions.map(async (u) => {
      const salt = randomSalt()
      return { name: u.user, mechanism: MECHANISMS[u.mechanism].code, iterations: u.iterations, salt, saltedPassword: await saltedPassword(u.mechanism, u.password, salt, u.iterations) }
    }),
  )
  const users = [...new Set([...upsertions.map((u) => u.user), ...deletions.map((d) => d.user)])]
  const settled = await ctx.settle<object>(users, op, async (pending, attempt) => {
    const node = await ctx.controller(op, attempt > 0)
    const want = new Set(pending)
    const { res } = await ctx.send(
      node,
      alterApi,
      () => ({
        deletions: deletions.filter((d) => want.has(d.user)).map((d) => ({ name: d.user, mechanism: MECHANISMS[d.mechanism].code })),
        upsertions: salted.filter((u) => want.has(u.name)),
      }),
      op,
    )
    const steps = new Map<string, Step<object>>()
    for (const r of res.results) {
      steps.set(r.user, r.errorCode === 0 ? { ok: {} } : brokerStep(r.errorCode, { apiName: 'AlterUserScramCredentials', user: r.user }, r.errorMessage, r.errorCode === 41 /* NOT_CONTROLLER */))
    }
    return steps
  })
  return users.map((user) => {
    const s = settled.get(user)!
    return 'ok' in s ? { user, error: null } : { user, error: s.fail }
  })
}
