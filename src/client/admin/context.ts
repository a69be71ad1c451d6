/**
 * What every admin operation needs: a deadline, sending at a negotiated
 * version, routing (any broker, the controller, partition leaders, group and
 * transaction coordinators), and a loop that retries the items of a request
 * that failed with retriable errors while the others keep their results.
 *
 * Failure model. An error that concerns the whole request (no broker
 * reachable, authentication, abort, deadline while nothing answered) is
 * thrown. An error a broker reports for one resource, or a failure of the
 * broker an item was routed to, becomes that item's `error`. Retriable item
 * errors are retried (re-routing first: metadata is fetched again for leader
 * routing, coordinators are looked up again) until the deadline; then the
 * item keeps its last error.
 */
import { BrokerError, KafkawireError, type ErrorContext } from '../../protocol/errors.js'
import { metadata as metadataApi, type MetadataResponse } from '../../protocol/messages/metadata.js'
import type { ApiSchema, Fields, Infer, Input } from '../../protocol/schema.js'
import { backoffDelay, isRetriable, retry, sleep } from '../backoff.js'
import { Cluster, isCoordinatorError, needsMetadataRefresh, type ClusterOptions, type CoordinatorType } from '../cluster.js'
import { AbortError, AuthenticationError, ClosedError, DeadlineExceededError, UnsupportedApiError } from '../errors.js'
import type { OperationOptions, TopicPartition } from './types.js'

/** One running admin call: its deadline and the signal that fires at the deadline or on the caller's abort. */
export interface Op {
  readonly name: string
  readonly deadline: number
  readonly signal: AbortSignal
  /** The last retriable failure, the cause of a DeadlineExceededError. */
  lastError: KafkawireError | null
}

/** What one round says about one item. */
export type Step<V> = { ok: V } | { fail: KafkawireError; retry: boolean }
/** The final word on one item. */
export type Settled<V> = { ok: V } | { fail: KafkawireError }

export interface Reply<Res extends Fields> {
  res: Infer<Res>
  version: number
  /** The node that answered; -1 for a bootstrap connection. */
  nodeId: number
  broker: string
}

export interface SendOptions {
  /** Highest version to use even if both sides support more. */
  maxVersion?: number
  /** Lowest version that can express the request; below it UnsupportedApiError is thrown. */
  minVersion?: number
  /** Why minVersion is needed, for the error message. */
  needs?: string
  /** The request carries a broker-side timeout: wait for the broker that long and a little more. */
  serverWaitMs?: number
}

const SERVER_WAIT_MARGIN_MS = 2000
const DEADLINE_GRACE_MS = 100

export function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}

export function toError(err: unknown): KafkawireError {
  return err instanceof KafkawireError ? err : new KafkawireError('UNEXPECTED', err instanceof Error ? err.message : String(err), { cause: err })
}

/** Errors that end the whole call rather than one item: nobody can succeed after them. */
function isFatal(err: unknown): boolean {
  return !(err instanceof KafkawireError) || err instanceof AuthenticationError || err instanceof AbortError || err instanceof ClosedError
}

/** An item step from an error thrown while serving it; rethrows errors that end the call. */
export function stepOf(err: unknown): { fail: KafkawireError; retry: boolean } {
  if (isFatal(err)) throw err
  const e = toError(err)
  return { fail: e, retry: isRetriable(e) }
}

export function brokerStep(code: number, context: ErrorContext, message: string | null = null, retry?: boolean): { fail: BrokerError; retry: boolean } {
  const e = new BrokerError(code, context, message)
  return { fail: e, retry: retry ?? e.retriable }
}

export class AdminContext {
  readonly cluster: Cluster
  readonly #config: ClusterOptions

  constructor(config: ClusterOptions) {
    this.#config = config
    this.cluster = new Cluster(config)
  }

  /**
   * Runs one admin call with its deadline. The deadline is an abort with a
   * DeadlineExceededError reason: requests in flight are abandoned without
   * closing their connection (a request timeout would close it), and the
   * call settles then (after a short grace for per-item results) even if a
   * lower layer does not watch the signal.
   */
  async run<T>(name: string, o: OperationOptions, fn: (op: Op) => Promise<T>): Promise<T> {
    const timeoutMs = o.timeoutMs ?? this.#config.defaultTimeoutMs ?? 60_000
    const ac = new AbortController()
    const op: Op = { name, deadline: Date.now() + timeoutMs, signal: ac.signal, lastError: null }
    // Settle at the deadline (or abort) even if something below does not watch the signal. At the
    // deadline, requests in flight fail with it and their items report it: a short grace lets the
    // call return those per-item results before it is failed as a whole.
    let onDeadline: () => void = () => undefined
    let grace: NodeJS.Timeout | undefined
    const aborted = new Promise<never>((_, reject) => {
      onDeadline = () => {
        if (ac.signal.reason instanceof DeadlineExceededError) grace = setTimeout(() => reject(ac.signal.reason), DEADLINE_GRACE_MS)
        else reject(ac.signal.reason)
      }
      ac.signal.addEventListener('abort', onDeadline, { once: true })
    })
    aborted.catch(() => undefined)
    const timer = setTimeout(() => {
      const last = op.lastError
      ac.abort(new DeadlineExceededError(`${name} did not complete within ${timeoutMs} ms${last ? `; last error: ${last.message}` : ''}`, last?.context ?? {}, last ?? undefined))
    }, timeoutMs)
    timer.unref()
    const onAbort = (): void => ac.abort(o.signal!.reason instanceof KafkawireError ? o.signal!.reason : new AbortError(`${name} was aborted`, {}, o.signal!.reason))
    if (o.signal?.aborted) onAbort()
    else o.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      return await Promise.race([fn(op), aborted])
    } finally {
      ac.signal.removeEventListener('abort', onDeadline)
      clearTimeout(grace)
      clearTimeout(timer)
      o.signal?.removeEventListener('abort', onAbort)
    }
  }

  remaining(op: Op): number {
    return Math.max(1, op.deadline - Date.now())
  }

  /** Sends to a broker ('any': a known or bootstrap broker) at the highest version both sides support within the options' bounds. */
  async send<Req extends Fields, Res extends Fields>(
    node: number | 'any',
    api: ApiSchema<Req, Res>,
    body: (version: number) => Input<Infer<Req>>,
    op: Op,
    o: SendOptions = {},
  ): Promise<Reply<Res>> {
    const conn = node === 'any' ? await this.cluster.anyConnection(op.signal) : await this.cluster.connectionTo(node, 'default', op.signal)
    let version = conn.pickVersion(api)
    if (o.maxVersion !== undefined) version = Math.min(version, o.maxVersion)
    const brokerMin = conn.versions.get(api.apiKey)?.minVersion ?? 0
    if (o.minVersion !== undefined && version < o.minVersion) {
      throw new UnsupportedApiError(`${o.needs ?? `this request`} needs ${api.name} v${o.minVersion}+, broker ${conn.address} supports up to v${conn.pickVersion(api)}`, {
        broker: conn.address,
        apiName: api.name,
      })
    }
    if (version < brokerMin) {
      throw new UnsupportedApiError(`broker ${conn.address} needs ${api.name} v${brokerMin}+, this request is limited to v${version}`, { broker: conn.address, apiName: api.name })
    }
    const res = await conn.send(api, body(version), {
      version,
      signal: op.signal,
      ...(o.serverWaitMs !== undefined ? { timeoutMs: o.serverWaitMs + SERVER_WAIT_MARGIN_MS } : {}),
    })
    return { res, version, nodeId: conn.nodeId ?? -1, broker: conn.address }
  }

  /** Whether the broker `send(node, …)` would talk to offers an API (at a minimum version). */
  async supports(node: number | 'any', apiKey: number, op: Op, minVersion = 0): Promise<boolean> {
    const conn = node === 'any' ? await this.cluster.anyConnection(op.signal) : await this.cluster.connectionTo(node, 'default', op.signal)
    return conn.versions.has(apiKey, minVersion)
  }

  /**
   * Runs fn with retries of thrown retriable errors until the deadline,
   * refreshing metadata first when the error says it is stale. (Not
   * Cluster.withRetry: its metadata refresh between attempts ignores the
   * caller's signal and deadline.)
   */
  retry<T>(op: Op, fn: (attempt: number) => Promise<T>): Promise<T> {
    const attempt = async (n: number): Promise<T> => {
      try {
        return await fn(n)
      } catch (err) {
        if (isRetriable(err)) op.lastError = err as KafkawireError
        throw err
      }
    }
    return retry(attempt, {
      operation: op.name,
      deadline: op.deadline,
      signal: op.signal,
      ...(this.#config.retryBackoff ? { backoff: this.#config.retryBackoff } : {}),
      beforeRetry: async (err) => {
        if (needsMetadataRefresh(err)) await this.cluster.refreshMetadata(undefined, { signal: op.signal, timeoutMs: this.remaining(op) }).catch(() => undefined)
      },
    })
  }

  /** A Metadata request (null: every topic) answered by any broker; also refreshes the broker list. */
  async metadata(topics: string[] | null, op: Op, o: { authorizedOperations?: boolean } = {}): Promise<Reply<typeof metadataApi.response.fields>> {
    const reply = await this.send(
      'any',
      metadataApi,
      (v) => ({
        // v0 has no null: there an empty list means every topic.
        topics: topics === null ? (v === 0 ? [] : null) : topics.map((name) => ({ name })),
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: o.authorizedOperations ?? false,
      }),
      op,
    )
    if (reply.version === 0 && topics !== null && topics.length === 0) reply.res.topics = []
    return reply
  }

  /**
   * The node to send controller requests to: in KRaft the Metadata
   * response names a live broker that forwards them (KIP-590), before
   * KRaft the controller itself. After NOT_CONTROLLER the caller retries
   * with `fresh`.
   */
  async controller(op: Op, fresh: boolean): Promise<number> {
    if (fresh || this.cluster.controllerId < 0) await this.cluster.refreshMetadata([], { signal: op.signal, timeoutMs: this.remaining(op) })
    const id = this.cluster.controllerId
    if (id < 0) throw new BrokerError(41, { apiName: 'Metadata' }, 'the cluster metadata names no controller')
    return id
  }

  /** Every broker in the cluster (fetching metadata when none is known yet). */
  async brokerIds(op: Op): Promise<number[]> {
    if (this.cluster.brokers.length === 0) await this.cluster.refreshMetadata([], { signal: op.signal, timeoutMs: this.remaining(op) })
    return this.cluster.brokers.map((b) => b.nodeId)
  }

  /**
   * Routes partitions to their leaders with fresh metadata. A topic or
   * partition the cluster does not have is a final error, as in the
   * reference admin client; a partition without a leader is retried.
   */
  async leaders<V>(tps: TopicPartition[], op: Op): Promise<{ byNode: Map<number, TopicPartition[]>; steps: Map<string, Step<V>> }> {
    const topics = [...new Set(tps.map((tp) => tp.topic))]
    const { res } = await this.metadata(topics, op)
    // Make node ids of the answer known to the connection pool.
    const known = new Set(this.cluster.brokers.map((b) => b.nodeId))
    if (res.brokers.some((b) => !known.has(b.nodeId))) await this.cluster.refreshMetadata([], { signal: op.signal, timeoutMs: this.remaining(op) })
    const byTopic = new Map<string, MetadataResponse['topics'][number]>()
    for (const t of res.topics) if (t.name !== null) byTopic.set(t.name, t)
    const byNode = new Map<number, TopicPartition[]>()
    const steps = new Map<string, Step<V>>()
    for (const tp of tps) {
      const key = tpKey(tp.topic, tp.partition)
      const ctx = { topic: tp.topic, partition: tp.partition }
      const t = byTopic.get(tp.topic)
      if (t === undefined) {
        steps.set(key, brokerStep(3, ctx, null, false))
        continue
      }
      if (t.errorCode !== 0 && t.partitions.length === 0) {
        // UNKNOWN_TOPIC_OR_PARTITION and authorization errors are final; LEADER_NOT_AVAILABLE (topic being created) is not.
        steps.set(key, brokerStep(t.errorCode, ctx, null, t.errorCode !== 3 && isRetriable(new BrokerError(t.errorCode))))
        continue
      }
      const p = t.partitions.find((x) => x.partitionIndex === tp.partition)
      if (p === undefined) {
        steps.set(key, brokerStep(3, ctx, null, false))
        continue
      }
      if (p.leaderId < 0) {
        steps.set(key, brokerStep(5, ctx, null, true))
        continue
      }
      let list = byNode.get(p.leaderId)
      if (list === undefined) byNode.set(p.leaderId, (list = []))
      list.push(tp)
    }
    return { byNode, steps }
  }

  /**
   * Looks up the coordinators of keys. A key whose lookup fails gets that
   * error (retried later when retriable); the rest are grouped by node.
   */
  async coordinators<V>(type: CoordinatorType, keys: string[], op: Op): Promise<{ byNode: Map<number, string[]>; steps: Map<string, Step<V>> }> {
    const byNode = new Map<number, string[]>()
    const steps = new Map<string, Step<V>>()
    await Promise.all(
      keys.map(async (key) => {
        try {
          const node = await this.cluster.coordinator(type, key, { signal: op.signal, timeoutMs: this.remaining(op) })
          let list = byNode.get(node)
          if (list === undefined) byNode.set(node, (list = []))
          list.push(key)
        } catch (err) {
          steps.set(key, stepOf(err))
        }
      }),
    )
    return { byNode, steps }
  }

  /** A coordinator-level error code for a key: forgets the coordinator when it moved, and says whether to retry. */
  coordinatorError(type: CoordinatorType, key: string, code: number, context: ErrorContext, message: string | null = null): Step<never> {
    const e = new BrokerError(code, context, message)
    if (isCoordinatorError(e)) {
      if (code !== 14 /* COORDINATOR_LOAD_IN_PROGRESS: same coordinator, later */) this.cluster.invalidateCoordinator(type, key)
      return { fail: e, retry: true }
    }
    return { fail: e, retry: false }
  }

  /**
   * Runs `round` for the keys still pending until every key has a result or
   * a final error, or the deadline comes (then retriable failures keep their
   * last error). A retriable error thrown by a whole round retries the round;
   * at the deadline it is thrown as DeadlineExceededError.
   */
  async settle<V>(keys: string[], op: Op, round: (pending: string[], attempt: number) => Promise<Map<string, Step<V>>>): Promise<Map<string, Settled<V>>> {
    const out = new Map<string, Settled<V>>()
    let pending = [...new Set(keys)]
    for (let attempt = 0; pending.length > 0; attempt++) {
      let steps: Map<string, Step<V>> | null = null
      let thrown: unknown = null
      try {
        steps = await round(pending, attempt)
      } catch (err) {
        if (!isRetriable(err)) throw err
        thrown = err
        op.lastError = err as KafkawireError
      }
      const again: string[] = []
      const last = new Map<string, KafkawireError>()
      for (const k of pending) {
        if (steps === null) {
          again.push(k)
          continue
        }
        const s = steps.get(k) ?? { fail: new KafkawireError('INCOMPLETE_RESPONSE', `the broker's response has no result for ${k.replace('\u0000', '-')}`), retry: false }
        if ('ok' in s || !s.retry) out.set(k, 'ok' in s ? s : { fail: s.fail })
        else {
          again.push(k)
          last.set(k, s.fail)
          op.lastError = s.fail
        }
      }
      if (again.length === 0) break
      const delay = backoffDelay(attempt, this.#config.retryBackoff)
      if (Date.now() + delay >= op.deadline) {
        if (thrown !== null) {
          const e = toError(thrown)
          throw new DeadlineExceededError(`${op.name} did not succeed before its deadline; last error: ${e.message}`, e.context, e)
        }
        for (const k of again) out.set(k, { fail: last.get(k)! })
        break
      }
      await sleep(delay, op.signal)
      pending = again
    }
    return out
  }

  /** Runs fn for each node's share of the keys in parallel; a node that fails gives its error to its keys. */
  async perNode<K, V>(byNode: Map<number, K[]>, keyOf: (k: K) => string, fn: (node: number, keys: K[]) => Promise<Map<string, Step<V>>>): Promise<Map<string, Step<V>>> {
    const out = new Map<string, Step<V>>()
    await Promise.all(
      [...byNode].map(async ([node, keys]) => {
        try {
          for (const [k, s] of await fn(node, keys)) out.set(k, s)
        } catch (err) {
          const s = stepOf(err)
          for (const k of keys) out.set(keyOf(k), s)
        }
      }),
    )
    return out
  }

  /**
   * perNode for requests to coordinators: when a coordinator cannot be
   * reached (the connection failed or timed out), its keys' coordinators
   * are looked up again in the next round.
   */
  perCoordinator<V>(type: CoordinatorType, byNode: Map<number, string[]>, fn: (node: number, keys: string[]) => Promise<Map<string, Step<V>>>): Promise<Map<string, Step<V>>> {
    return this.perNode(byNode, (k) => k, async (node, keys) => {
      try {
        return await fn(node, keys)
      } catch (err) {
        if (!(err instanceof BrokerError)) for (const k of keys) this.cluster.invalidateCoordinator(type, k)
        throw err
      }
    })
  }

  close(): Promise<void> {
    return this.cluster.close()
  }
}

/** Unique values, first occurrence order. */
export function unique<T>(xs: Iterable<T>): T[] {
  return [...new Set(xs)]
}

/** Groups items by a string key, keeping order. */
export function groupBy<T>(xs: Iterable<T>, key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>()
  for (const x of xs) {
    const k = key(x)
    let l = m.get(k)
    if (l === undefined) m.set(k, (l = []))
    l.push(x)
  }
  return m
}

/** Sorts by topic then partition. */
export function byTopicPartition<T extends TopicPartition>(a: T, b: T): number {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition
}
