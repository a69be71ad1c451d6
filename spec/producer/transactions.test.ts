import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import { ConfigError } from '../../src/client/errors.js'
import { addOffsetsToTxn } from '../../src/protocol/messages/add-offsets-to-txn.js'
import { addPartitionsToTxn } from '../../src/protocol/messages/add-partitions-to-txn.js'
import { endTxn } from '../../src/protocol/messages/end-txn.js'
import { initProducerId } from '../../src/protocol/messages/init-producer-id.js'
import { produce } from '../../src/protocol/messages/produce.js'
import { txnOffsetCommit } from '../../src/protocol/messages/txn-offset-commit.js'
import {
  DeliveryTimeoutError,
  ProduceError,
  ProducerFatalError,
  ProducerFencedError,
  TransactionAbortableError,
  TransactionStateError,
} from '../../src/producer/errors.js'
import type { Producer } from '../../src/producer/producer.js'
import type { ProducerOptions } from '../../src/producer/config.js'
import { ERR, type FakeKafka } from './support/fake-kafka.js'
import { fakeKafka, outcome, producerOn } from './support/helpers.js'

const values = (prefix: string, n: number, partition = 0) => Array.from({ length: n }, (_, i) => ({ value: `${prefix}${i}`, partition }))

async function transactional(t: TestContext, kafka: FakeKafka, id = 'tx', o: Partial<ProducerOptions> = {}): Promise<Producer> {
  const p = producerOn(t, kafka, { transactionalId: id, ...o })
  await p.initTransactions()
  return p
}

const requests = (kafka: FakeKafka, api: { apiKey: number }) => kafka.brokers.flatMap((b) => b.requestsOf(api))

describe('the state machine', () => {
  test('a commit and an abort walk through the states, each step reported', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = producerOn(t, kafka, { transactionalId: 'tx' })
    const states: string[] = []
    producer.on('state', ({ to }: { to: string }) => states.push(to))
    assert.equal(producer.transactionState, 'UNINITIALIZED')
    await producer.initTransactions()
    producer.beginTransaction()
    await producer.send({ topic: 't', messages: values('c', 2) })
    await producer.commitTransaction()
    producer.beginTransaction()
    await producer.send({ topic: 't', messages: values('a', 2) })
    await producer.abortTransaction()
    assert.deepEqual(states, ['INITIALIZING', 'READY', 'IN_TRANSACTION', 'COMMITTING', 'READY', 'IN_TRANSACTION', 'ABORTING', 'READY'])
    assert.deepEqual(kafka.records('t', 0).map((r) => [r.value!.toString(), r.txn]), [
      ['c0', 'committed'],
      ['c1', 'committed'],
      ['a0', 'aborted'],
      ['a1', 'aborted'],
    ])
  })

  test('illegal calls fail with TransactionStateError and leave the state as it was', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = producerOn(t, kafka, { transactionalId: 'tx' })
    assert.throws(() => producer.beginTransaction(), TransactionStateError, 'begin before initTransactions')
    await assert.rejects(producer.send({ topic: 't', messages: values('x', 1) }), TransactionStateError, 'send before initTransactions')
    await producer.initTransactions()
    await assert.rejects(producer.initTransactions(), TransactionStateError, 'initTransactions twice')
    await assert.rejects(producer.send({ topic: 't', messages: values('x', 1) }), /call beginTransaction\(\) first/)
    await assert.rejects(producer.commitTransaction(), /cannot commit in state READY/)
    await assert.rejects(producer.abortTransaction(), /cannot abort in state READY/)
    await assert.rejects(producer.sendOffsetsToTransaction([{ topic: 't', partition: 0, offset: 1n }], 'g'), TransactionStateError)
    producer.beginTransaction()
    assert.throws(() => producer.beginTransaction(), /cannot begin a transaction in state IN_TRANSACTION/)
    assert.equal(producer.transactionState, 'IN_TRANSACTION')
    await producer.commitTransaction()
    assert.equal(producer.transactionState, 'READY')
  })

  test('initTransactions() that ran out of time (coordinator unavailable) can be called again', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    kafka.coordinatorFault = (api) => (api === 'InitProducerId' ? 15 /* COORDINATOR_NOT_AVAILABLE */ : undefined)
    const producer = producerOn(t, kafka, { transactionalId: 'tx', maxBlockMs: 300 })
    await assert.rejects(producer.initTransactions())
    assert.equal(producer.transactionState, 'UNINITIALIZED')
    kafka.coordinatorFault = null
    await producer.initTransactions()
    assert.equal(producer.transactionState, 'READY')
  })

  test('transaction calls on a producer without a transactional id are refused', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = producerOn(t, kafka)
    await assert.rejects(producer.initTransactions(), ConfigError)
    assert.throws(() => producer.beginTransaction(), /needs a transactional producer/)
  })

  test('an empty transaction commits without asking the coordinator', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = await transactional(t, kafka)
    producer.beginTransaction()
    await producer.commitTransaction()
    producer.beginTransaction()
    await producer.abortTransaction()
    assert.equal(requests(kafka, endTxn).length, 0)
    assert.equal(producer.transactionState, 'READY')
  })

  test('a send that waited for metadata while the transaction started committing is refused, not slipped into it', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1, other: 1 } })
    const producer = await transactional(t, kafka)
    producer.beginTransaction()
    await producer.send({ topic: 't', messages: values('in', 1) })
    const late = outcome(producer.send({ topic: 'other', messages: values('late', 1) })) // needs metadata for "other" first
    await producer.commitTransaction()
    const err = await late
    assert.ok(err instanceof TransactionStateError, `got ${String(err)}`)
    assert.deepEqual(kafka.values('other', 0), [])
    assert.deepEqual(kafka.committed('t', 0).map((r) => r.value!.toString()), ['in0'])
  })
})

describe('Transactions V2 (KIP-890, transaction.version 2)', () => {
  test('partitions join implicitly, EndTxn v5 bumps the epoch, and every transaction starts its sequences at 0', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 2 } })
    const producer = await transactional(t, kafka)
    for (let i = 0; i < 3; i++) {
      producer.beginTransaction()
      await producer.send({ topic: 't', messages: [...values(`t${i}-`, 3, 0), ...values(`t${i}-`, 2, 1)] })
      await producer.commitTransaction()
    }
    assert.deepEqual(kafka.violations, [])
    assert.equal(requests(kafka, addPartitionsToTxn).length, 0)
    assert.ok(requests(kafka, endTxn).every((r) => r.apiVersion === 5))
    assert.ok(requests(kafka, produce).every((r) => r.apiVersion >= 12))
    assert.deepEqual(kafka.records('t', 0).map((r) => [r.producerEpoch, r.sequence]), [
      [0, 0], [0, 1], [0, 2],
      [1, 0], [1, 1], [1, 2],
      [2, 0], [2, 1], [2, 2],
    ])
    assert.ok(kafka.records('t', 1).every((r) => r.txn === 'committed'))
  })

  test('offsets sent to the transaction are committed with it, and dropped when it aborts', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = await transactional(t, kafka)
    producer.beginTransaction()
    await producer.send({ topic: 't', messages: values('x', 1) })
    await producer.sendOffsetsToTransaction([{ topic: 'in', partition: 0, offset: 10n }], { groupId: 'g', generationId: 3, memberId: 'm' })
    assert.equal(kafka.groupOffsets.get('g'), undefined, 'nothing committed before the transaction')
    await producer.commitTransaction()
    assert.equal(kafka.groupOffsets.get('g')?.get('in:0'), 10n)
    producer.beginTransaction()
    await producer.sendOffsetsToTransaction([{ topic: 'in', partition: 0, offset: 20n }], 'g')
    await producer.abortTransaction()
    assert.equal(kafka.groupOffsets.get('g')?.get('in:0'), 10n, 'the aborted offsets are not committed')
    assert.equal(requests(kafka, addOffsetsToTxn).length, 0, 'V2 skips AddOffsetsToTxn')
    const commits = requests(kafka, txnOffsetCommit)
    assert.ok(commits.every((r) => r.apiVersion === 5))
    assert.deepEqual([commits[0]!.body.generationId, commits[0]!.body.memberId], [3, 'm'])
  })
})

describe('Transactions V1 (transaction.version 0)', () => {
  test('partitions are added before anything is produced to them, with client versions of every request', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 2 }, transactionVersion: 0 })
    const producer = await transactional(t, kafka)
    producer.beginTransaction()
    await producer.send({ topic: 't', messages: [...values('a', 2, 0), ...values('b', 2, 1)] })
    await producer.sendOffsetsToTransaction([{ topic: 'in', partition: 0, offset: 5n }], 'g')
    await producer.commitTransaction()
    assert.deepEqual(kafka.violations, [])
    assert.ok(requests(kafka, addPartitionsToTxn).every((r) => r.apiVersion <= 3), 'AddPartitionsToTxn v4+ is broker-to-broker')
    assert.ok(requests(kafka, produce).every((r) => r.apiVersion <= 11))
    assert.ok(requests(kafka, endTxn).every((r) => r.apiVersion <= 4))
    assert.ok(requests(kafka, txnOffsetCommit).every((r) => r.apiVersion <= 4))
    assert.equal(requests(kafka, addOffsetsToTxn).length, 1)
    assert.equal(kafka.groupOffsets.get('g')?.get('in:0'), 5n)
    assert.ok([...kafka.records('t', 0), ...kafka.records('t', 1)].every((r) => r.txn === 'committed'))
  })

  test('consecutive transactions on the same partition continue the sequence (the epoch does not change)', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 }, transactionVersion: 0 })
    const producer = await transactional(t, kafka)
    for (const [i, commit] of [[0, true], [1, false], [2, true]] as const) {
      producer.beginTransaction()
      await producer.send({ topic: 't', messages: values(`t${i}-`, 2) })
      if (commit) await producer.commitTransaction()
      else await producer.abortTransaction()
    }
    assert.deepEqual(kafka.records('t', 0).map((r) => [r.value!.toString(), r.producerEpoch, r.sequence, r.txn]), [
      ['t0-0', 0, 0, 'committed'],
      ['t0-1', 0, 1, 'committed'],
      ['t1-0', 0, 2, 'aborted'],
      ['t1-1', 0, 3, 'aborted'],
      ['t2-0', 0, 4, 'committed'],
      ['t2-1', 0, 5, 'committed'],
    ])
  })

  test('an abort after a produce request with an unknown outcome bumps the epoch instead of sending EndTxn (KAFKA-14053)', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 }, transactionVersion: 0 })
    const producer = await transactional(t, kafka, 'tx', { requestTimeoutMs: 200, deliveryTimeoutMs: 250 })
    producer.beginTransaction()
    kafka.produceFault = () => ({ noResponse: true })
    const err = await outcome(producer.send({ topic: 't', messages: values('x', 1) }))
    assert.ok(err instanceof ProduceError)
    kafka.produceFault = null
    await producer.abortTransaction()
    assert.equal(requests(kafka, endTxn).length, 0)
    // The coordinator aborts the ongoing transaction and asks for a retry (CONCURRENT_TRANSACTIONS).
    const bumps = requests(kafka, initProducerId).filter((r) => r.body.producerId >= 0n)
    assert.ok(bumps.length >= 1 && bumps.every((r) => r.body.producerEpoch === 0), 'InitProducerId with the current producer id and epoch')
    assert.deepEqual(kafka.records('t', 0).map((r) => r.txn), ['aborted'])
    producer.beginTransaction()
    await producer.send({ topic: 't', messages: values('y', 1) })
    await producer.commitTransaction()
    assert.deepEqual(kafka.committed('t', 0).map((r) => [r.value!.toString(), r.producerEpoch, r.sequence]), [['y0', 1, 0]])
  })

  test('a transaction whose AddPartitionsToTxn failed aborts cleanly: the coordinator never saw it, so no EndTxn', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 }, transactionVersion: 0 })
    const producer = await transactional(t, kafka)
    kafka.coordinatorFault = (api) => (api === 'AddPartitionsToTxn' ? ERR.TOPIC_AUTHORIZATION_FAILED : undefined)
    producer.beginTransaction()
    const err = await outcome(producer.send({ topic: 't', messages: values('x', 3) }))
    assert.ok(err instanceof ProduceError)
    assert.ok(err.errors.every((e) => e instanceof TransactionAbortableError), String(err.errors[0]))
    assert.equal(producer.transactionState, 'ABORTABLE_ERROR')
    assert.ok(requests(kafka, addPartitionsToTxn).length <= 2, `AddPartitionsToTxn sent ${requests(kafka, addPartitionsToTxn).length} times`)
    kafka.coordinatorFault = null
    await producer.abortTransaction()
    assert.equal(requests(kafka, endTxn).length, 0)
    producer.beginTransaction()
    await producer.send({ topic: 't', messages: values('y', 1) })
    await producer.commitTransaction()
    assert.deepEqual(kafka.committed('t', 0).map((r) => r.value!.toString()), ['y0'])
  })
})

describe('fencing', () => {
  test('a second producer with the same transactional id fences the first: its next call fails with ProducerFencedError, for good', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const first = await transactional(t, kafka, 'shared')
    first.beginTransaction()
    await first.send({ topic: 't', messages: values('zombie', 1) })
    const second = await transactional(t, kafka, 'shared')
    await assert.rejects(first.commitTransaction(), ProducerFencedError)
    assert.equal(first.transactionState, 'FATAL_ERROR')
    assert.throws(() => first.beginTransaction(), ProducerFencedError)
    await assert.rejects(first.send({ topic: 't', messages: values('x', 1) }), ProducerFencedError)
    await assert.rejects(first.abortTransaction(), ProducerFencedError)
    second.beginTransaction()
    await second.send({ topic: 't', messages: values('ok', 1) })
    await second.commitTransaction()
    assert.deepEqual(kafka.records('t', 0).map((r) => [r.value!.toString(), r.txn]), [['zombie0', 'aborted'], ['ok0', 'committed']])
  })

  test('a fenced producer that sends: the records fail, the commit is refused, and the abort reveals the fencing (fatal)', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const first = await transactional(t, kafka, 'shared')
    first.beginTransaction()
    await first.send({ topic: 't', messages: values('before', 1) })
    const second = await transactional(t, kafka, 'shared')
    second.beginTransaction()
    await second.send({ topic: 't', messages: values('successor', 1) })
    const err = await outcome(first.send({ topic: 't', messages: values('zombie', 1) }))
    assert.ok(err instanceof ProduceError)
    assert.ok(err.errors[0] instanceof TransactionAbortableError)
    assert.match(err.errors[0]!.message, /another producer with the same transactional id may have taken over/)
    await assert.rejects(first.commitTransaction(), TransactionAbortableError)
    await assert.rejects(first.abortTransaction(), ProducerFencedError)
    assert.equal(first.transactionState, 'FATAL_ERROR')
    await second.commitTransaction()
    assert.deepEqual(kafka.committed('t', 0).map((r) => r.value!.toString()), ['successor0'])
  })

  test('V1: a fenced producer that sent and then aborts leaves its successor\'s transaction alone', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 }, transactionVersion: 0 })
    const first = await transactional(t, kafka, 'shared')
    first.beginTransaction()
    await first.send({ topic: 't', messages: values('before', 1) })
    const second = await transactional(t, kafka, 'shared')
    second.beginTransaction()
    await second.send({ topic: 't', messages: values('successor', 1) })
    assert.ok((await outcome(first.send({ topic: 't', messages: values('zombie', 1) }))) instanceof ProduceError)
    await assert.rejects(first.abortTransaction(), ProducerFencedError)
    assert.deepEqual(requests(kafka, initProducerId).filter((r) => r.body.producerId >= 0n), [], 'no epoch bump from the zombie: the coordinator would abort the successor\'s transaction')
    await second.commitTransaction()
    assert.deepEqual(kafka.committed('t', 0).map((r) => r.value!.toString()), ['successor0'])
  })

  test('INVALID_PRODUCER_EPOCH on a produce request is abortable (KIP-588): when the coordinator still knows the epoch, the abort succeeds and the producer goes on', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = await transactional(t, kafka)
    kafka.produceFault = () => ({ error: ERR.INVALID_PRODUCER_EPOCH })
    producer.beginTransaction()
    const err = await outcome(producer.send({ topic: 't', messages: values('x', 1) }))
    assert.ok(err instanceof ProduceError)
    assert.equal(producer.transactionState, 'ABORTABLE_ERROR')
    await assert.rejects(producer.commitTransaction(), TransactionAbortableError)
    kafka.produceFault = null
    await producer.abortTransaction()
    producer.beginTransaction()
    await producer.send({ topic: 't', messages: values('y', 1) })
    await producer.commitTransaction()
    assert.deepEqual(kafka.committed('t', 0).map((r) => r.value!.toString()), ['y0'])
  })
})

describe('abortable errors', () => {
  test('TRANSACTION_ABORTABLE from a produce: the commit refuses with TransactionAbortableError, the abort works, the next transaction commits', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = await transactional(t, kafka)
    producer.beginTransaction()
    kafka.produceFault = () => ({ error: ERR.TRANSACTION_ABORTABLE })
    const err = await outcome(producer.send({ topic: 't', messages: values('x', 1) }))
    assert.ok(err instanceof ProduceError)
    await assert.rejects(producer.commitTransaction(), TransactionAbortableError)
    await assert.rejects(producer.send({ topic: 't', messages: values('y', 1) }), TransactionAbortableError)
    kafka.produceFault = null
    await producer.abortTransaction()
    producer.beginTransaction()
    await producer.send({ topic: 't', messages: values('z', 1) })
    await producer.commitTransaction()
    assert.deepEqual(kafka.committed('t', 0).map((r) => r.value!.toString()), ['z0'])
  })

  test('records that expired before they could be sent make the commit fail; nothing of the transaction becomes visible', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 2 } })
    const producer = await transactional(t, kafka, 'tx', { requestTimeoutMs: 150, deliveryTimeoutMs: 300 })
    producer.beginTransaction()
    await producer.send({ topic: 't', messages: values('ok', 1, 0) })
    kafka.setLeader('t', 1, -1) // partition 1 has no leader: its records wait, then expire
    kafka.produceFault = (c) => (c.partition === 1 ? { error: ERR.NOT_LEADER_OR_FOLLOWER } : undefined)
    const err = await outcome(producer.send({ topic: 't', messages: values('lost', 1, 1) }))
    assert.ok(err instanceof ProduceError)
    assert.ok(err.errors[0] instanceof DeliveryTimeoutError)
    await assert.rejects(producer.commitTransaction(), TransactionAbortableError)
    await producer.abortTransaction()
    assert.deepEqual(kafka.committed('t', 0), [])
  })

  test('once the transaction must be aborted, records not sent yet fail at once instead of waiting', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 2 } })
    const producer = await transactional(t, kafka, 'tx', { deliveryTimeoutMs: 60_000 })
    producer.beginTransaction()
    kafka.setLeader('t', 1, -1)
    const waiting = outcome(producer.send({ topic: 't', messages: values('waiting', 2, 1) }))
    kafka.produceFault = (c) => (c.partition === 0 ? { error: ERR.TRANSACTION_ABORTABLE } : undefined)
    await outcome(producer.send({ topic: 't', messages: values('refused', 1, 0) }))
    const started = Date.now()
    const err = await waiting
    assert.ok(Date.now() - started < 5000, 'not held until the delivery timeout')
    assert.ok(err instanceof ProduceError)
    assert.ok(err.errors.every((e) => e instanceof TransactionAbortableError))
    await producer.abortTransaction()
  })

  test('an abort that fails with a retriable error can be called again and completes', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = await transactional(t, kafka, 'tx', { maxBlockMs: 300 })
    producer.beginTransaction()
    await producer.send({ topic: 't', messages: values('x', 1) })
    kafka.coordinatorFault = (api) => (api === 'EndTxn' ? ERR.CONCURRENT_TRANSACTIONS : undefined)
    await assert.rejects(producer.abortTransaction())
    assert.equal(producer.transactionState, 'ABORTING')
    kafka.coordinatorFault = null
    await producer.abortTransaction()
    assert.equal(producer.transactionState, 'READY')
    assert.deepEqual(kafka.records('t', 0).map((r) => r.txn), ['aborted'])
  })

  test('TRANSACTION_ABORTABLE in answer to an abort is fatal (aborting again would loop)', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = await transactional(t, kafka)
    producer.beginTransaction()
    await producer.send({ topic: 't', messages: values('x', 1) })
    kafka.coordinatorFault = (api) => (api === 'EndTxn' ? ERR.TRANSACTION_ABORTABLE : undefined)
    await assert.rejects(producer.abortTransaction())
    assert.equal(producer.transactionState, 'FATAL_ERROR')
  })

  test('a commit refused after the transaction outlived transactionTimeoutMs says so', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = await transactional(t, kafka, 'tx', { transactionTimeoutMs: 100 })
    producer.beginTransaction()
    await producer.send({ topic: 't', messages: values('x', 1) })
    await new Promise((r) => setTimeout(r, 150))
    kafka.coordinatorFault = (api) => (api === 'EndTxn' ? ERR.INVALID_TXN_STATE : undefined)
    await assert.rejects(producer.commitTransaction(), (e: unknown) => e instanceof ProducerFatalError && /ran for \d+ ms, longer than transactionTimeoutMs \(100 ms\), so the transaction coordinator aborted it/.test(e.message))
    assert.equal(producer.transactionState, 'FATAL_ERROR')
  })

  test('INVALID_TXN_STATE from EndTxn is fatal', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 } })
    const producer = await transactional(t, kafka)
    producer.beginTransaction()
    await producer.send({ topic: 't', messages: values('x', 1) })
    kafka.coordinatorFault = (api) => (api === 'EndTxn' ? ERR.INVALID_TXN_STATE : undefined)
    await assert.rejects(producer.commitTransaction())
    assert.equal(producer.transactionState, 'FATAL_ERROR')
    assert.throws(() => producer.beginTransaction(), ProducerFatalError)
  })

  test('V1: aborting after a sent batch was given up moves to a new epoch, so the next transaction has no sequence gap', async (t) => {
    const kafka = await fakeKafka(t, { topics: { t: 1 }, transactionVersion: 0 })
    const producer = await transactional(t, kafka)
    producer.beginTransaction()
    await producer.send({ topic: 't', messages: values('a', 1) })
    kafka.produceFault = () => ({ error: ERR.NOT_ENOUGH_REPLICAS })
    const pending = outcome(producer.send({ topic: 't', messages: values('b', 1) }))
    await new Promise((r) => setTimeout(r, 100)) // it was sent and waits for a retry
    await producer.abortTransaction()
    assert.ok((await pending) instanceof ProduceError)
    kafka.produceFault = null
    producer.beginTransaction()
    await producer.send({ topic: 't', messages: values('c', 1) })
    await producer.commitTransaction()
    assert.deepEqual(kafka.committed('t', 0).map((r) => r.value!.toString()), ['c0'])
  })
})
