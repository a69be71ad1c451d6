// Removes what a conformance run created on a cluster it did not start (KAFKA_BROKERS): called by
// conformance/run.mjs before the tests (--snapshot FILE: remember what exists) and after them, also when
// they failed (--since FILE: remove what is new).
//
// Only names with a test prefix (TEST_PREFIXES) that did not exist before the run are touched, so a user's
// topics, groups and transactional ids are never; nor are another run's that existed at the snapshot.
//   topics        deleted
//   groups        deleted (members have left by then: every test closes its clients)
//   transactions  an open one is aborted by initializing its transactional id (InitProducerId fences and
//                 aborts); the id itself cannot be deleted in Kafka, the broker forgets it after
//                 transactional.id.expiration.ms (7 days by default)
import { readFileSync, writeFileSync } from 'node:fs'
import { Admin } from '../../src/client/admin/index.js'
import { Cluster } from '../../src/client/cluster.js'
import { BrokerError } from '../../src/protocol/errors.js'
import { initProducerId } from '../../src/protocol/messages/init-producer-id.js'
import { TEST_PREFIXES, isTestName } from './names.js'

const env = process.env
const brokers = env.KAFKA_BROKERS
if (!brokers) {
  console.error('cleanup: KAFKA_BROKERS is not set')
  process.exit(2)
}
const [mode, file] = process.argv.slice(2)
if ((mode !== '--snapshot' && mode !== '--since') || !file) {
  console.error('usage: cleanup.ts --snapshot FILE | --since FILE')
  process.exit(2)
}

interface Snapshot {
  topics: string[]
  groups: string[]
  transactions: string[]
}

const admin = new Admin({ brokers, clientId: 'kafkawire-conformance-cleanup', defaultTimeoutMs: 60_000 })

async function snapshot(): Promise<Snapshot> {
  const topics = (await admin.listTopics()).map((t) => t.name).filter(isTestName)
  const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter(isTestName)
  let transactions: string[] = []
  try {
    transactions = (await admin.listTransactions()).transactions.map((t) => t.transactionalId).filter(isTestName)
  } catch (err) {
    console.log(`cleanup: cannot list transactions (${(err as Error).message}); none to abort`)
  }
  return { topics, groups, transactions }
}

async function abortOpen(ids: string[]): Promise<number> {
  if (ids.length === 0) return 0
  const described = await admin.describeTransactions(ids)
  const open = described.flatMap((d) => (d.error === null && /^(Ongoing|PrepareCommit|PrepareAbort)$/i.test(d.state) ? [d.transactionalId] : []))
  const cluster = new Cluster({ brokers: brokers!, clientId: 'kafkawire-conformance-cleanup' })
  try {
    for (const id of open) {
      // CONCURRENT_TRANSACTIONS while the coordinator completes the abort is retriable: sendToCoordinator retries
      await cluster.sendToCoordinator('transaction', id, initProducerId, () => ({ transactionalId: id, transactionTimeoutMs: 60_000 }), (res) => {
        if (res.errorCode !== 0) throw new BrokerError(res.errorCode, { apiName: 'InitProducerId' })
      })
    }
  } finally {
    await cluster.close()
  }
  return open.length
}

try {
  const now = await snapshot()
  if (mode === '--snapshot') {
    writeFileSync(file, JSON.stringify(now))
    console.log(`cleanup: test prefixes ${TEST_PREFIXES.join(', ')}; before the run: ${now.topics.length} topic(s), ${now.groups.length} group(s), ${now.transactions.length} transactional id(s) with them`)
  } else {
    const before = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
    const fresh = (xs: string[], old: string[]): string[] => xs.filter((x) => !old.includes(x))
    const topics = fresh(now.topics, before.topics)
    const groups = fresh(now.groups, before.groups)
    const txns = fresh(now.transactions, before.transactions)
    const aborted = await abortOpen(txns)
    const problems: string[] = []
    if (groups.length) {
      for (const r of await admin.deleteGroups(groups)) if (r.error && r.error.code !== 'GROUP_ID_NOT_FOUND') problems.push(`group ${r.groupId}: ${r.error.message}`)
    }
    if (topics.length) {
      for (const r of await admin.deleteTopics(topics)) if (r.error && r.error.code !== 'UNKNOWN_TOPIC_OR_PARTITION') problems.push(`topic ${r.name}: ${r.error.message}`)
    }
    console.log(`cleanup: deleted ${topics.length} topic(s) and ${groups.length} group(s); aborted ${aborted} open transaction(s) of ${txns.length} transactional id(s) this run used`)
    if (problems.length) {
      for (const p of problems) console.error(`cleanup: ${p}`)
      process.exitCode = 1
    }
  }
} finally {
  await admin.close()
}
