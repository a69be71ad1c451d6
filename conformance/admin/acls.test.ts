// Admin: ACLs. The test broker has no authorizer: every ACL call answers SECURITY_DISABLED, which
// is asserted as the typed error of each resource. On a managed run the ACL round trip (create,
// describe with filters, delete) also runs against a cluster of our own with StandardAuthorizer.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { startCluster, stopCluster, threeNodeOptions } from '../broker/index.mjs'
import type { Acl, AclBinding, Admin } from '../../src/client/admin/index.js'
import { BrokerError } from '../../src/protocol/errors.js'
import { impl } from '../support/target.js'
import { codeOf, eventually, kafkaVersion, managed, needs, newAdmin, uniqueName } from './support.js'

const key = (a: Acl | AclBinding): string =>
  [a.resourceType, a.resourceName, a.patternType ?? 'literal', a.principal, a.host, a.operation, a.permission].join(' ')

describe('admin ACLs on the test broker', needs('acls'), () => {
  const admin = newAdmin()
  after(() => admin.close())

  test('without an authorizer: describeAcls throws SECURITY_DISABLED; create and delete report it per ACL and per filter', async () => {
    let authorizer = true
    try {
      await admin.describeAcls({})
    } catch (e) {
      assert.ok(e instanceof BrokerError, String(e))
      assert.equal(e.code, 'SECURITY_DISABLED')
      assert.equal(e.context.apiName, 'DescribeAcls')
      authorizer = false
    }
    // The Apache brokers run.mjs starts have no authorizer; other clusters may have one (then the next suite's checks apply to them).
    if (managed && impl === 'apache') assert.equal(authorizer, false)
    if (authorizer) return
    const principal = `User:${uniqueName('nobody')}`
    const created = await admin.createAcls([
      { resourceType: 'topic', resourceName: 'x', principal, host: '*', operation: 'read', permission: 'allow' },
      { resourceType: 'group', resourceName: 'y', patternType: 'prefixed', principal, host: '*', operation: 'read', permission: 'deny' },
    ])
    assert.deepEqual(created.map(codeOf), ['SECURITY_DISABLED', 'SECURITY_DISABLED'])
    assert.ok(created.every((c) => c.error instanceof BrokerError && c.error.context.apiName === 'CreateAcls'))
    const deleted = await admin.deleteAcls([{ principal }, { resourceType: 'topic' }])
    assert.deepEqual(deleted.map(codeOf), ['SECURITY_DISABLED', 'SECURITY_DISABLED'])
  })
})

// Port base and name of the slot the orchestrator leaves to a test's own cluster.
const own = threeNodeOptions()
const aclCluster = { name: `${own.name}-acl`, portBase: own.portBase, kafka: kafkaVersion, nodes: 1 as const }

describe('admin ACLs with StandardAuthorizer', needs('own-cluster'), () => {
  let admin: Admin
  const principal = `User:${uniqueName('user')}`
  const topic = uniqueName('acl-topic')
  const acls: AclBinding[] = [
    { resourceType: 'topic', resourceName: topic, principal, host: '*', operation: 'read', permission: 'allow' },
    { resourceType: 'topic', resourceName: topic, principal, host: '10.0.0.1', operation: 'write', permission: 'deny' },
    { resourceType: 'group', resourceName: 'kw-test-', patternType: 'prefixed', principal, host: '*', operation: 'describe', permission: 'allow' },
    { resourceType: 'cluster', resourceName: 'kafka-cluster', principal, host: '*', operation: 'idempotent-write', permission: 'allow' },
    { resourceType: 'transactional-id', resourceName: '*', principal, host: '*', operation: 'describe', permission: 'allow' },
    { resourceType: 'delegation-token', resourceName: 'tok', principal, host: '*', operation: 'describe', permission: 'allow' },
    { resourceType: 'user', resourceName: 'bob', principal, host: '*', operation: 'create-tokens', permission: 'allow' },
  ]

  before(async () => {
    const c = await startCluster({
      ...aclCluster,
      configs: [
        'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer',
        // Our PLAINTEXT connections (and the broker's own) are User:ANONYMOUS.
        'super.users=User:ANONYMOUS',
      ],
    })
    admin = newAdmin({ brokers: c.KAFKA_BROKERS })
  })

  after(async () => {
    try {
      await admin?.close()
    } finally {
      await stopCluster(aclCluster.name)
    }
  })

  test('createAcls, describeAcls by principal and by matching resource, deleteAcls', async () => {
    const created = await admin.createAcls(acls)
    assert.deepEqual(created.map(codeOf), acls.map(() => 'none'))

    const mine = await eventually(async () => {
      const found = await admin.describeAcls({ principal })
      assert.equal(found.length, acls.length)
      return found
    })
    assert.deepEqual(mine.map(key).sort(), acls.map(key).sort())

    // 'match': the ACLs that apply to one topic name (literal, prefixed and wildcard).
    const forTopic = await admin.describeAcls({ resourceType: 'topic', resourceName: topic, patternType: 'match', principal })
    assert.deepEqual(forTopic.map((a) => `${a.operation}/${a.permission}/${a.host}`).sort(), ['read/allow/*', 'write/deny/10.0.0.1'])
    const prefixed = await admin.describeAcls({ resourceType: 'group', patternType: 'prefixed' })
    assert.deepEqual(prefixed.filter((a) => a.principal === principal).map((a) => a.resourceName), ['kw-test-'])
    const denies = await admin.describeAcls({ principal, permission: 'deny' })
    assert.deepEqual(denies.map((a) => a.operation), ['write'])

    const del = await admin.deleteAcls([{ principal, resourceType: 'group' }, { principal, operation: 'write' }, { principal: `User:${uniqueName('none')}` }])
    assert.deepEqual(del.map(codeOf), ['none', 'none', 'none'])
    const [groups, writes, none] = del
    if (groups!.error === null) assert.deepEqual(groups!.deleted.map((d) => [codeOf(d), d.acl.resourceType, d.acl.patternType]), [['none', 'group', 'prefixed']])
    if (writes!.error === null) assert.deepEqual(writes!.deleted.map((d) => d.acl.host), ['10.0.0.1'])
    if (none!.error === null) assert.deepEqual(none!.deleted, [])

    await eventually(async () => assert.equal((await admin.describeAcls({ principal })).length, acls.length - 2))
    const rest = await admin.deleteAcls([{ principal }])
    assert.ok(rest[0]!.error === null && rest[0]!.deleted.length === acls.length - 2)
  })

  test('an ACL the broker rejects fails alone', async () => {
    const res = await admin.createAcls([
      // The cluster resource has exactly one name.
      { resourceType: 'cluster', resourceName: 'not-the-cluster', principal, host: '*', operation: 'alter', permission: 'allow' },
      { resourceType: 'topic', resourceName: topic, principal, host: '*', operation: 'describe', permission: 'allow' },
    ])
    assert.notEqual(codeOf(res[0]!), 'none')
    assert.equal(codeOf(res[1]!), 'none')
    await admin.deleteAcls([{ principal }])
  })
})
