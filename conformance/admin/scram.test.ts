// Admin: SCRAM users (KIP-554). A user created with alterUserScramCredentials then authenticates
// over SASL_PLAINTEXT with the new password, which proves the client-side salted password (Hi()).
import assert from 'node:assert/strict'
import { createHash, createHmac } from 'node:crypto'
import { after, describe, test } from 'node:test'
import type { ScramMechanism } from '../../src/client/admin/index.js'
import { randomSalt, saltedPassword } from '../../src/client/admin/scram.js'
import { AuthenticationError } from '../../src/client/errors.js'
import { codeOf, env, eventually, needs, newAdmin, uniqueName } from './support.js'

const saslBrokers = env.KAFKA_SASL_BROKERS

/** Authenticates with SCRAM over the SASL listener and asks for the cluster: resolves when that worked. */
async function login(mechanism: ScramMechanism, username: string, password: string): Promise<void> {
  const a = newAdmin({ brokers: saslBrokers!, sasl: { mechanism, username, password } })
  try {
    const c = await a.describeCluster({ timeoutMs: 10_000 })
    assert.ok(c.brokers.length > 0)
  } finally {
    await a.close()
  }
}

describe('admin SCRAM credentials', needs('scram'), () => {
  const admin = newAdmin()
  const user = uniqueName('scram')
  const password = `pw-${uniqueName('secret')}`

  after(async () => {
    try {
      for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) {
        const res = await admin.alterUserScramCredentials({ deletions: [{ user, mechanism }] })
        // Gone already when the test got that far.
        for (const r of res) if (r.error !== null && r.error.code !== 'RESOURCE_NOT_FOUND') throw r.error
      }
    } finally {
      await admin.close()
    }
  })

  test('the salted password is RFC 5802 Hi(): it reproduces the client proof of RFC 7677 section 3', async () => {
    const salted = await saltedPassword('SCRAM-SHA-256', 'pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096)
    const clientKey = createHmac('sha256', salted).update('Client Key').digest()
    const storedKey = createHash('sha256').update(clientKey).digest()
    const nonce = 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0'
    const authMessage = `n=user,r=rOprNGfwEbeRWgbNEkqO,r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=${nonce}`
    const signature = createHmac('sha256', storedKey).update(authMessage).digest()
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!))
    assert.equal(proof.toString('base64'), 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=')
    // The salt is the reference client's: a random 130-bit number in base 36.
    assert.match(randomSalt().toString('utf8'), /^[0-9a-z]{1,26}$/)
  })

  test('alterUserScramCredentials then describe; the user authenticates with the new password, and not with another', needs('sasl-same-cluster'), async () => {
    // The broker takes one alteration per user and request: a second is DUPLICATE_RESOURCE.
    const twice = await admin.alterUserScramCredentials({
      upsertions: [
        { user, mechanism: 'SCRAM-SHA-256', iterations: 4096, password },
        { user, mechanism: 'SCRAM-SHA-512', iterations: 8192, password },
      ],
    })
    assert.deepEqual(twice.map((r) => [r.user, codeOf(r)]), [[user, 'DUPLICATE_RESOURCE']])
    for (const [mechanism, iterations] of [['SCRAM-SHA-256', 4096], ['SCRAM-SHA-512', 8192]] as const) {
      const res = await admin.alterUserScramCredentials({ upsertions: [{ user, mechanism, iterations, password }] })
      assert.deepEqual(res.map((r) => [r.user, codeOf(r)]), [[user, 'none']])
    }

    const [d] = await admin.describeUserScramCredentials([user])
    assert.equal(d!.user, user)
    assert.ok(d!.error === null)
    if (d!.error === null) {
      assert.deepEqual(
        d!.credentials.map((c) => `${c.mechanism}/${c.iterations}`).sort(),
        ['SCRAM-SHA-256/4096', 'SCRAM-SHA-512/8192'],
      )
    }
    const everyone = await admin.describeUserScramCredentials()
    assert.ok(everyone.some((u) => u.user === user))

    // The broker learns new credentials through the metadata log: allow it a moment.
    await eventually(() => login('SCRAM-SHA-256', user, password), 10_000, 300)
    await login('SCRAM-SHA-512', user, password)
    await assert.rejects(login('SCRAM-SHA-512', user, `${password}-wrong`), (e: unknown) => e instanceof AuthenticationError)
  })

  test('deleting a mechanism stops it working; unknown users and too few iterations fail per user', needs('sasl-same-cluster'), async () => {
    const res = await admin.alterUserScramCredentials({ deletions: [{ user, mechanism: 'SCRAM-SHA-256' }] })
    assert.deepEqual(res.map(codeOf), ['none'])
    await eventually(() => assert.rejects(login('SCRAM-SHA-256', user, password), (e: unknown) => e instanceof AuthenticationError), 10_000, 300)
    await login('SCRAM-SHA-512', user, password)

    const nobody = uniqueName('nobody')
    const [u] = await admin.describeUserScramCredentials([nobody])
    assert.deepEqual([u!.user, codeOf(u!)], [nobody, 'RESOURCE_NOT_FOUND'])
    const weak = await admin.alterUserScramCredentials({
      upsertions: [{ user: nobody, mechanism: 'SCRAM-SHA-256', iterations: 1000, password }],
      deletions: [{ user: uniqueName('ghost'), mechanism: 'SCRAM-SHA-512' }],
    })
    assert.deepEqual(weak.map(codeOf), ['UNACCEPTABLE_CREDENTIAL', 'RESOURCE_NOT_FOUND'])
  })
})
