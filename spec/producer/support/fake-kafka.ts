/**
 * A small Kafka for the producer's unit tests, built on the shared
 * MockBroker: partition logs with the broker's idempotence rules (per
 * producer id and partition: epoch, last sequence, the last five batches for
 * de-duplication), leaders that can move, a transaction coordinator
 * (InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit,
 * EndTxn, Transactions V1 or V2), and fault injection per produced batch.
 *
 * Every batch a broker receives is recorded in `produced` with what the
 * broker did with it, so tests can check what reached "the log" and in which
 * order, independently of what the client believes.
 */
import { randomBytes } from 'node:crypto'
import { decodeRecordBatches, type RecordBatch } from '../../../src/protocol/records/index.js'
import { MockBroker, reply, type HandlerResult, type MockRequest } from '../../support/mock-broker.js'

export const ERR = {
  NONE: 0,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  MESSAGE_TOO_LARGE: 10,
  NOT_ENOUGH_REPLICAS: 19,
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 20,
  TOPIC_AUTHORIZATION_FAILED: 29,
  OUT_OF_ORDER_SEQUENCE_NUMBER: 45,
  DUPLICATE_SEQUENCE_NUMBER: 46,
  INVALID_PRODUCER_EPOCH: 47,
  INVALID_TXN_STATE: 48,
  CONCURRENT_TRANSACTIONS: 51,
  UNKNOWN_PRODUCER_ID: 59,
  INVALID_RECORD: 87,
  PRODUCER_FENCED: 90,
  TRANSACTION_ABORTABLE: 120,
} as const

const INT32_MAX = 0x7fffffff
const EPOCH_MAX = 0x7fff

export interface StoredRecord {
  offset: bigint
  key: Buffer | null
  value: Buffer | null
  headers: Array<{ key: string; value: Buffer | null }>
  timestamp: number
  producerId: bigint
  producerEpoch: number
  /** The record's own sequence (base sequence + index, wrapping), -1 without idempotence. */
  sequence: number
  transactional: boolean
  /** For transactional records: what became of their transaction. */
  txn: 'open' | 'committed' | 'aborted' | null
}

/** What a broker did with one batch it received. */
export interface ProduceEvent {
  node: number
  topic: string
  partition: number
  producerId: bigint
  producerEpoch: number
  baseSequence: number
  count: number
  transactional: boolean
  acks: number
  /** 'appended', 'duplicate' (answered with the original offset) or the error code returned. */
  outcome: 'appended' | 'duplicate' | 'dropped' | number
  at: number
}

/**
 * A fault for one batch. `error` answers with that code (after appending when
 * `append` is set: the write happened but the client hears otherwise);
 * `disconnect` closes the connection without an answer, before or after
 * appending; `delayMs` answers late; `noResponse` never answers.
 */
export type Fault =
  | { error: number; append?: boolean; logStartOffset?: bigint; message?: string }
  | { disconnect: 'before-append' | 'after-append' }
  | { delayMs: number }
  | { noResponse: true }

export interface FaultContext {
  node: number
  topic: string
  partition: number
  batch: RecordBatch
  request: MockRequest
  /** How many times a batch with this (producer id, epoch, base sequence) reached a broker, this time included. */
  attempt: number
}

interface ProducerEntry {
  epoch: number
  lastSeq: number
  recent: Array<{ firstSeq: number; lastSeq: number; baseOffset: bigint }>
}

interface FakePartition {
  leader: number
  leaderEpoch: number
  log: StoredRecord[]
  logStartOffset: bigint
  producers: Map<bigint, ProducerEntry>
  /** Largest batch (bytes) accepted, like max.message.bytes. */
  maxBatchBytes: number
}

interface FakeTopic {
  name: string
  id: string
  partitions: FakePartition[]
}

interface Txn {
  id: string
  producerId: bigint
  epoch: number
  /** The epoch before the last bump by the same producer (-1 after a new producer's InitProducerId). */
  lastEpoch: number
  state: 'Empty' | 'Ongoing'
  partitions: Set<string>
  groups: Set<string>
  pendingOffsets: Map<string, Map<string, bigint>>
}

export type CoordinatorApi = 'InitProducerId' | 'AddPartitionsToTxn' | 'AddOffsetsToTxn' | 'TxnOffsetCommit' | 'EndTxn'

export interface FakeKafkaOptions {
  brokers?: number
  /** topic name -> partition count; leaders are spread over the brokers */
  topics?: Record<string, number>
  /** Finalized transaction.version advertised (2 = Transactions V2, KIP-890). Default 2. */
  transactionVersion?: number
}

export class FakeKafka {
  readonly brokers: MockBroker[]
  readonly topics = new Map<string, FakeTopic>()
  readonly produced: ProduceEvent[] = []
  /** Broken protocol rules noticed by the fake (a transactional write to a partition not in the transaction, ...). */
  readonly violations: string[] = []
  produceFault: ((ctx: FaultContext) => Fault | undefined) | null = null
  /** An error code to answer a coordinator request with instead of handling it. */
  coordinatorFault: ((api: CoordinatorApi, body: any) => number | undefined) | null = null
  transactionVersion: number
  coordinatorNode = 1
  readonly txns = new Map<string, Txn>()
  /** Committed group offsets: group -> "topic:partition" -> offset. */
  readonly groupOffsets = new Map<string, Map<string, bigint>>()
  nextProducerId = 1000n
  /** Batches per producer and partition the broker remembers for de-duplication (Kafka: 5). */
  dedupWindow = 5
  /** Produce requests refused when the producer id is not one this cluster handed out. */
  strictProducerIds = true
  readonly #attempts = new Map<string, number>()
  readonly #issued = new Set<bigint>()
  #queue: Promise<unknown> = Promise.resolve()

  private constructor(brokers: MockBroker[], transactionVersion: number) {
    this.brokers = brokers
    this.transactionVersion = transactionVersion
  }

  static async start(o: FakeKafkaOptions = {}): Promise<FakeKafka> {
    const brokers = await MockBroker.cluster(o.brokers ?? 1)
    const k = new FakeKafka(brokers, o.transactionVersion ?? 2)
    for (const b of brokers) k.#install(b)
    for (const [name, n] of Object.entries(o.topics ?? {})) k.createTopic(name, n)
    return k
  }

  get bootstrap(): string[] {
    return this.brokers.map((b) => b.address)
  }

  close(): Promise<unknown> {
    return Promise.all(this.brokers.map((b) => b.close()))
  }

  createTopic(name: string, partitions: number, leaderOf: (p: number) => number = (p) => this.brokers[p % this.brokers.length]!.nodeId): void {
    const t: FakeTopic = {
      name,
      id: randomBytes(16).toString('base64url'),
      partitions: Array.from({ length: partitions }, (_, p) => ({
        leader: leaderOf(p),
        leaderEpoch: 0,
        log: [],
        logStartOffset: 0n,
        producers: new Map(),
        maxBatchBytes: 1024 * 1024,
      })),
    }
    this.topics.set(name, t)
    this.#publish()
  }

  partition(topic: string, p: number): FakePartition {
    const part = this.topics.get(topic)?.partitions[p]
    if (part === undefined) throw new Error(`fake kafka: no partition ${topic}-${p}`)
    return part
  }

  /** Moves a partition's leader (metadata shows the new one at once; the old leader answers NOT_LEADER_OR_FOLLOWER). */
  setLeader(topic: string, p: number, node: number): void {
    const part = this.partition(topic, p)
    part.leader = node
    part.leaderEpoch++
    this.#publish()
  }

  /** The records of a partition in log order (aborted ones included; see `txn`). */
  records(topic: string, p: number): StoredRecord[] {
    return this.partition(topic, p).log
  }

  /** What a read_committed reader would see. */
  committed(topic: string, p: number): StoredRecord[] {
    return this.records(topic, p).filter((r) => r.txn === null || r.txn === 'committed')
  }

  values(topic: string, p: number): string[] {
    return this.records(topic, p).map((r) => r.value?.toString() ?? '<null>')
  }

  /** Seeds the broker's producer state for a partition, e.g. a last sequence near int32 max. */
  seedProducer(topic: string, p: number, producerId: bigint, epoch: number, lastSeq: number): void {
    this.partition(topic, p).producers.set(producerId, { epoch, lastSeq, recent: [] })
  }

  /** Forgets every producer's state on a partition and moves its log start (retention removed the producer's records). */
  loseProducerState(topic: string, p: number): void {
    const part = this.partition(topic, p)
    part.producers.clear()
    part.logStartOffset = BigInt(part.log.length)
  }

  #publish(): void {
    const mock = [...this.topics.values()].map((t) => ({
      name: t.name,
      topicId: t.id,
      partitions: t.partitions.map((p, i) => ({ partition: i, leader: p.leader, leaderEpoch: p.leaderEpoch, replicas: [p.leader] })),
    }))
    for (const b of this.brokers) b.topics = mock
  }

  #install(b: MockBroker): void {
    b.on(18, (req) => {
      const base = b.apiVersionsResponse(req)
      if (req.apiVersion < 3 || base === null || !('apiKeys' in (base as object))) return base
      return {
        ...(base as object),
        finalizedFeaturesEpoch: 1n,
        finalizedFeatures: this.transactionVersion > 0 ? [{ name: 'transaction.version', maxVersionLevel: this.transactionVersion, minVersionLevel: this.transactionVersion }] : [],
        supportedFeatures: [{ name: 'transaction.version', minVersion: 0, maxVersion: 2 }],
      }
    })
    // Requests are handled one at a time, in arrival order, as a broker's
    // request handler sees them for one partition.
    const serial = (h: (req: MockRequest) => HandlerResult | Promise<HandlerResult>) => (req: MockRequest) => {
      const run = this.#queue.then(() => h(req))
      this.#queue = run.catch(() => undefined)
      return run
    }
    b.on(0, serial((req) => this.#produce(b, req)))
    b.on(10, (req) => this.#findCoordinator(req))
    b.on(22, serial((req) => this.#initProducerId(req)))
    b.on(24, serial((req) => this.#addPartitions(req)))
    b.on(25, serial((req) => this.#addOffsets(req)))
    b.on(26, serial((req) => this.#endTxn(req)))
    b.on(28, serial((req) => this.#txnOffsetCommit(req)))
  }

  // ---- produce ---------------------------------------------------------------------

  async #produce(b: MockBroker, req: MockRequest): Promise<HandlerResult> {
    const body = req.body as {
      transactionalId: string | null
      acks: number
      topicData: Array<{ name?: string; topicId?: string; partitionData: Array<{ index: number; records: Buffer | null }> }>
    }
    const v13 = req.apiVersion >= 13
    let disconnect = false
    let noResponse = false
    let delayMs = 0
    const responses = []
    for (const td of body.topicData) {
      const topic = v13 ? [...this.topics.values()].find((t) => t.id === td.topicId) : this.topics.get(td.name!)
      const partitionResponses = []
      for (const pd of td.partitionData) {
        const answer = (errorCode: number, baseOffset = -1n, logStartOffset = -1n, errorMessage: string | null = null) => ({
          index: pd.index,
          errorCode,
          baseOffset,
          logAppendTimeMs: -1n,
          logStartOffset,
          recordErrors: [],
          errorMessage,
        })
        const part = topic?.partitions[pd.index]
        if (topic === undefined || part === undefined) {
          partitionResponses.push(answer(ERR.UNKNOWN_TOPIC_OR_PARTITION))
          continue
        }
        const data = pd.records ?? Buffer.alloc(0)
        const { batches } = await decodeRecordBatches(data)
        const batch = batches[0]
        if (batch === undefined || batches.length !== 1) {
          this.violations.push(`${topic.name}-${pd.index}: a produce request must carry exactly one batch per partition, got ${batches.length}`)
          partitionResponses.push(answer(ERR.INVALID_RECORD))
          continue
        }
        const attemptKey = `${topic.name}\0${pd.index}\0${batch.producerId}\0${batch.producerEpoch}\0${batch.baseSequence}`
        const attempt = (this.#attempts.get(attemptKey) ?? 0) + 1
        this.#attempts.set(attemptKey, attempt)
        const event: ProduceEvent = {
          node: b.nodeId,
          topic: topic.name,
          partition: pd.index,
          producerId: batch.producerId,
          producerEpoch: batch.producerEpoch,
          baseSequence: batch.baseSequence,
          count: batch.records.length,
          transactional: batch.isTransactional,
          acks: body.acks,
          outcome: 'appended',
          at: Date.now(),
        }
        this.produced.push(event)
        if (part.leader !== b.nodeId) {
          event.outcome = ERR.NOT_LEADER_OR_FOLLOWER
          partitionResponses.push(answer(ERR.NOT_LEADER_OR_FOLLOWER))
          continue
        }
        const fault = this.produceFault?.({ node: b.nodeId, topic: topic.name, partition: pd.index, batch, request: req, attempt })
        if (fault !== undefined && 'error' in fault && !fault.append) {
          event.outcome = fault.error
          partitionResponses.push(answer(fault.error, -1n, fault.logStartOffset ?? part.logStartOffset, fault.message ?? null))
          continue
        }
        if (fault !== undefined && 'disconnect' in fault && fault.disconnect === 'before-append') {
          event.outcome = 'dropped'
          disconnect = true
          continue
        }
        if (data.length > part.maxBatchBytes) {
          event.outcome = ERR.MESSAGE_TOO_LARGE
          partitionResponses.push(answer(ERR.MESSAGE_TOO_LARGE))
          continue
        }
        const result = this.#append(topic, pd.index, part, batch, body.transactionalId)
        event.outcome = result.code === 0 ? (result.duplicate ? 'duplicate' : 'appended') : result.code
        if (fault !== undefined && 'error' in fault) {
          partitionResponses.push(answer(fault.error, -1n, fault.logStartOffset ?? part.logStartOffset))
          continue
        }
        if (fault !== undefined && 'disconnect' in fault) disconnect = true
        if (fault !== undefined && 'noResponse' in fault) noResponse = true
        if (fault !== undefined && 'delayMs' in fault) delayMs = Math.max(delayMs, fault.delayMs)
        partitionResponses.push(answer(result.code, result.baseOffset, part.logStartOffset))
      }
      responses.push(v13 ? { topicId: td.topicId!, partitionResponses } : { name: td.name!, partitionResponses })
    }
    if (disconnect) {
      req.connection.destroy()
      return null
    }
    if (body.acks === 0 || noResponse) return null
    const out = { responses, throttleTimeMs: 0 }
    return delayMs > 0 ? reply({ body: out, delayMs }) : out
  }

  /** The broker's checks and append (ProducerStateManager / ProducerAppendInfo rules). */
  #append(topic: FakeTopic, index: number, part: FakePartition, batch: RecordBatch, transactionalId: string | null): { code: number; baseOffset: bigint; duplicate?: boolean } {
    const pid = batch.producerId
    const count = batch.records.length
    const firstSeq = batch.baseSequence
    const lastSeq = firstSeq < 0 ? -1 : incrementSequence(firstSeq, count - 1)
    if (pid >= 0n) {
      if (this.strictProducerIds && !this.#issued.has(pid)) {
        this.violations.push(`${topic.name}-${index}: producer id ${pid} was never handed out (sequence ${firstSeq})`)
        return { code: ERR.UNKNOWN_PRODUCER_ID, baseOffset: -1n }
      }
      const st = part.producers.get(pid)
      if (st !== undefined && batch.producerEpoch < st.epoch) return { code: ERR.INVALID_PRODUCER_EPOCH, baseOffset: -1n }
      if (st !== undefined && batch.producerEpoch === st.epoch) {
        const dup = st.recent.find((r) => r.firstSeq === firstSeq && r.lastSeq === lastSeq)
        if (dup !== undefined) return { code: 0, baseOffset: dup.baseOffset, duplicate: true }
      }
      const newEpoch = st === undefined || batch.producerEpoch > st.epoch
      if (newEpoch ? firstSeq !== 0 : !inSequence(st!.lastSeq, firstSeq)) {
        // A strict broker: an unknown producer (or a new epoch) must start at 0.
        return { code: ERR.OUT_OF_ORDER_SEQUENCE_NUMBER, baseOffset: -1n }
      }
    } else if (firstSeq >= 0) {
      this.violations.push(`${topic.name}-${index}: a sequence (${firstSeq}) without a producer id`)
    }
    let txn: Txn | undefined
    if (batch.isTransactional) {
      txn = transactionalId === null ? undefined : this.txns.get(transactionalId)
      if (txn === undefined || txn.producerId !== pid) {
        this.violations.push(`${topic.name}-${index}: transactional batch from producer ${pid} without a transaction`)
        return { code: ERR.INVALID_TXN_STATE, baseOffset: -1n }
      }
      if (batch.producerEpoch < txn.epoch) return { code: ERR.INVALID_PRODUCER_EPOCH, baseOffset: -1n }
      const key = `${topic.name}:${index}`
      if (this.transactionVersion >= 2) {
        txn.partitions.add(key)
        txn.state = 'Ongoing'
      } else if (!txn.partitions.has(key)) {
        this.violations.push(`${key}: transactional write before AddPartitionsToTxn`)
        return { code: ERR.INVALID_TXN_STATE, baseOffset: -1n }
      }
    }
    const baseOffset = BigInt(part.log.length)
    batch.records.forEach((r, i) => {
      part.log.push({
        offset: baseOffset + BigInt(i),
        key: r.key === null ? null : Buffer.from(r.key),
        value: r.value === null ? null : Buffer.from(r.value),
        headers: r.headers.map((h) => ({ key: h.key, value: h.value === null ? null : Buffer.from(h.value) })),
        timestamp: r.timestamp,
        producerId: pid,
        producerEpoch: batch.producerEpoch,
        sequence: firstSeq < 0 ? -1 : incrementSequence(firstSeq, i),
        transactional: batch.isTransactional,
        txn: batch.isTransactional ? 'open' : null,
      })
    })
    if (pid >= 0n) {
      const st = part.producers.get(pid)
      const entry: ProducerEntry = st !== undefined && st.epoch === batch.producerEpoch ? st : { epoch: batch.producerEpoch, lastSeq: -1, recent: [] }
      entry.lastSeq = lastSeq
      entry.recent.push({ firstSeq, lastSeq, baseOffset })
      while (entry.recent.length > this.dedupWindow) entry.recent.shift()
      part.producers.set(pid, entry)
    }
    return { code: 0, baseOffset }
  }

  // ---- coordinator ------------------------------------------------------------------

  #findCoordinator(req: MockRequest): HandlerResult {
    const node = this.brokers.find((b) => b.nodeId === this.coordinatorNode)!
    if (req.apiVersion >= 4) {
      return {
        coordinators: (req.body.coordinatorKeys as string[]).map((key) => ({ key, nodeId: node.nodeId, host: node.host, port: node.port, errorCode: 0, errorMessage: null })),
      }
    }
    return { errorCode: 0, errorMessage: null, nodeId: node.nodeId, host: node.host, port: node.port }
  }

  #newProducerId(): bigint {
    const id = this.nextProducerId++
    this.#issued.add(id)
    return id
  }

  /** Hands out producer ids as InitProducerId would, for tests that seed state first. */
  issueProducerId(id: bigint): void {
    this.#issued.add(id)
  }

  #initProducerId(req: MockRequest): HandlerResult {
    const body = req.body as { transactionalId: string | null; producerId?: bigint; producerEpoch?: number }
    const injected = this.coordinatorFault?.('InitProducerId', body)
    if (injected !== undefined) return { errorCode: injected, producerId: -1n, producerEpoch: -1, throttleTimeMs: 0 }
    if (body.transactionalId === null) {
      if (body.producerId !== undefined && body.producerId >= 0n) {
        this.violations.push('an idempotent producer asked the broker to bump its epoch; it bumps locally (KIP-360)')
      }
      return { errorCode: 0, producerId: this.#newProducerId(), producerEpoch: 0, throttleTimeMs: 0 }
    }
    let txn = this.txns.get(body.transactionalId)
    if (txn === undefined) {
      txn = { id: body.transactionalId, producerId: this.#newProducerId(), epoch: 0, lastEpoch: -1, state: 'Empty', partitions: new Set(), groups: new Set(), pendingOffsets: new Map() }
      this.txns.set(txn.id, txn)
      return { errorCode: 0, producerId: txn.producerId, producerEpoch: 0, throttleTimeMs: 0 }
    }
    // The coordinator's rules (TransactionCoordinator.prepareInitProducerIdTransit,
    // TransactionMetadata.prepareIncrementProducerEpoch): a request naming
    // another producer id is fenced; an ongoing transaction is aborted first
    // (its epoch fenced) and the client told to retry, whoever asks; then the
    // expected epoch must be the current one, or the one before a bump this
    // producer made (a retry), else PRODUCER_FENCED.
    const pid = body.producerId ?? -1n
    const fenced = { errorCode: ERR.PRODUCER_FENCED, producerId: -1n, producerEpoch: -1, throttleTimeMs: 0 }
    if (pid >= 0n && pid !== txn.producerId) return fenced
    if (txn.state === 'Ongoing') {
      this.#complete(txn, false)
      txn.lastEpoch = txn.epoch
      txn.epoch++
      return { errorCode: ERR.CONCURRENT_TRANSACTIONS, producerId: -1n, producerEpoch: -1, throttleTimeMs: 0 }
    }
    if (pid >= 0n) {
      if (body.producerEpoch === txn.lastEpoch) return { errorCode: 0, producerId: txn.producerId, producerEpoch: txn.epoch, throttleTimeMs: 0 }
      if (body.producerEpoch !== txn.epoch) return fenced
    }
    txn.lastEpoch = pid >= 0n ? txn.epoch : -1
    if (txn.epoch >= EPOCH_MAX - 1) {
      txn.producerId = this.#newProducerId()
      txn.epoch = 0
    } else txn.epoch++
    return { errorCode: 0, producerId: txn.producerId, producerEpoch: txn.epoch, throttleTimeMs: 0 }
  }

  #checkTxn(transactionalId: string, producerId: bigint, epoch: number): { txn?: Txn; code: number } {
    const txn = this.txns.get(transactionalId)
    if (txn === undefined || txn.producerId !== producerId) return { code: 49 /* INVALID_PRODUCER_ID_MAPPING */ }
    if (epoch < txn.epoch) return { code: ERR.PRODUCER_FENCED }
    if (epoch > txn.epoch) return { code: ERR.INVALID_PRODUCER_EPOCH }
    return { txn, code: 0 }
  }

  #addPartitions(req: MockRequest): HandlerResult {
    const body = req.body as { v3AndBelowTransactionalId: string; v3AndBelowProducerId: bigint; v3AndBelowProducerEpoch: number; v3AndBelowTopics: Array<{ name: string; partitions: number[] }> }
    if (this.transactionVersion >= 2) this.violations.push('AddPartitionsToTxn under Transactions V2')
    const injected = this.coordinatorFault?.('AddPartitionsToTxn', body)
    const checked = injected === undefined ? this.#checkTxn(body.v3AndBelowTransactionalId, body.v3AndBelowProducerId, body.v3AndBelowProducerEpoch) : { code: injected }
    const { txn, code } = checked
    if (txn !== undefined) {
      for (const t of body.v3AndBelowTopics) for (const p of t.partitions) txn.partitions.add(`${t.name}:${p}`)
      txn.state = 'Ongoing'
    }
    return {
      throttleTimeMs: 0,
      resultsByTopicV3AndBelow: body.v3AndBelowTopics.map((t) => ({
        name: t.name,
        resultsByPartition: t.partitions.map((p) => ({ partitionIndex: p, partitionErrorCode: code })),
      })),
    }
  }

  #addOffsets(req: MockRequest): HandlerResult {
    const body = req.body as { transactionalId: string; producerId: bigint; producerEpoch: number; groupId: string }
    if (this.transactionVersion >= 2) this.violations.push('AddOffsetsToTxn under Transactions V2')
    const injected = this.coordinatorFault?.('AddOffsetsToTxn', body)
    if (injected !== undefined) return { throttleTimeMs: 0, errorCode: injected }
    const { txn, code } = this.#checkTxn(body.transactionalId, body.producerId, body.producerEpoch)
    if (txn !== undefined) {
      txn.groups.add(body.groupId)
      txn.state = 'Ongoing'
    }
    return { throttleTimeMs: 0, errorCode: code }
  }

  #txnOffsetCommit(req: MockRequest): HandlerResult {
    const body = req.body as { transactionalId: string; groupId: string; producerId: bigint; producerEpoch: number; topics: Array<{ name: string; partitions: Array<{ partitionIndex: number; committedOffset: bigint }> }> }
    const injected = this.coordinatorFault?.('TxnOffsetCommit', body)
    const { txn, code: c } = injected === undefined ? this.#checkTxn(body.transactionalId, body.producerId, body.producerEpoch) : { txn: undefined, code: injected }
    let code = c
    if (txn !== undefined) {
      if (this.transactionVersion < 2 && !txn.groups.has(body.groupId)) {
        this.violations.push(`TxnOffsetCommit for group ${body.groupId} before AddOffsetsToTxn`)
        code = ERR.INVALID_TXN_STATE
      } else {
        txn.groups.add(body.groupId)
        txn.state = 'Ongoing'
        let m = txn.pendingOffsets.get(body.groupId)
        if (m === undefined) txn.pendingOffsets.set(body.groupId, (m = new Map()))
        for (const t of body.topics) for (const p of t.partitions) m.set(`${t.name}:${p.partitionIndex}`, p.committedOffset)
      }
    }
    return {
      throttleTimeMs: 0,
      topics: body.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: code })) })),
    }
  }

  #endTxn(req: MockRequest): HandlerResult {
    const body = req.body as { transactionalId: string; producerId: bigint; producerEpoch: number; committed: boolean }
    const v5 = req.apiVersion >= 5
    if (v5 !== this.transactionVersion >= 2) this.violations.push(`EndTxn v${req.apiVersion} with transaction.version ${this.transactionVersion}`)
    const injected = this.coordinatorFault?.('EndTxn', body)
    if (injected !== undefined) return { throttleTimeMs: 0, errorCode: injected, producerId: -1n, producerEpoch: -1 }
    const { txn, code } = this.#checkTxn(body.transactionalId, body.producerId, body.producerEpoch)
    if (txn === undefined) return { throttleTimeMs: 0, errorCode: code, producerId: -1n, producerEpoch: -1 }
    // Kafka 4.3 with Transactions V2 accepts an abort of an empty transaction
    // (and bumps the epoch); a commit of one is INVALID_TXN_STATE.
    if (txn.state !== 'Ongoing' && !(v5 && !body.committed)) return { throttleTimeMs: 0, errorCode: ERR.INVALID_TXN_STATE, producerId: -1n, producerEpoch: -1 }
    this.#complete(txn, body.committed)
    if (v5) {
      if (txn.epoch >= EPOCH_MAX - 1) {
        txn.producerId = this.#newProducerId()
        txn.epoch = 0
      } else txn.epoch++
    }
    return { throttleTimeMs: 0, errorCode: 0, producerId: v5 ? txn.producerId : -1n, producerEpoch: v5 ? txn.epoch : -1 }
  }

  #complete(txn: Txn, commit: boolean): void {
    for (const key of txn.partitions) {
      const [topic, p] = splitKey(key)
      for (const r of this.records(topic, p)) if (r.producerId === txn.producerId && r.txn === 'open') r.txn = commit ? 'committed' : 'aborted'
    }
    if (commit) {
      for (const [group, offsets] of txn.pendingOffsets) {
        let m = this.groupOffsets.get(group)
        if (m === undefined) this.groupOffsets.set(group, (m = new Map()))
        for (const [k, v] of offsets) m.set(k, v)
      }
    }
    txn.partitions.clear()
    txn.groups.clear()
    txn.pendingOffsets.clear()
    txn.state = 'Empty'
  }
}

function splitKey(key: string): [string, number] {
  const i = key.lastIndexOf(':')
  return [key.slice(0, i), Number(key.slice(i + 1))]
}

export function incrementSequence(seq: number, delta: number): number {
  return seq > INT32_MAX - delta ? delta - (INT32_MAX - seq) - 1 : seq + delta
}

function inSequence(last: number, next: number): boolean {
  return next === last + 1 || (next === 0 && last === INT32_MAX)
}
