/**
 * Incremental fetch sessions (KIP-227), one per broker. The first request of a
 * session is a full fetch (sessionId 0, epoch 0) listing every partition; the
 * broker answers with a session id. Later requests carry the session id and
 * the next epoch, and list only partitions that are new or whose fetch offset
 * or limits changed, plus the partitions to forget. The broker then answers
 * only for partitions with news.
 *
 * A broker that answers a full fetch with session id 0 does not keep
 * sessions (cache full, or sessions off): every request stays a full fetch.
 * After an error, or with nothing to fetch, the next request starts over.
 */

export interface SessionPartition {
  topic: string
  topicId: string
  partition: number
  fetchOffset: bigint
  currentLeaderEpoch: number
  lastFetchedEpoch: number
  logStartOffset: bigint
  maxBytes: number
}

/** KIP-227 sentinel epochs. */
const INITIAL_EPOCH = 0
const FINAL_EPOCH = -1

export interface SessionRequest {
  sessionId: number
  sessionEpoch: number
  /** Partitions to send in this request. */
  send: SessionPartition[]
  /** Partitions to drop from the session (incremental requests only). */
  forget: Array<{ topic: string; topicId: string; partition: number }>
  /** Every partition the response may cover (the whole session). */
  all: Map<string, SessionPartition>
  full: boolean
}

const key = (topic: string, partition: number): string => `${topic}\0${partition}`

function same(a: SessionPartition, b: SessionPartition): boolean {
  return (
    a.fetchOffset === b.fetchOffset &&
    a.currentLeaderEpoch === b.currentLeaderEpoch &&
    a.lastFetchedEpoch === b.lastFetchedEpoch &&
    a.logStartOffset === b.logStartOffset &&
    a.maxBytes === b.maxBytes &&
    a.topicId === b.topicId
  )
}

export class FetchSession {
  readonly nodeId: number
  #sessionId = 0
  #epoch = INITIAL_EPOCH
  /** What the broker's session holds, as last sent. */
  #session = new Map<string, SessionPartition>()
  /** False once the broker showed it does not keep sessions for us. */
  #supported = true
  readonly enabled: boolean

  constructor(nodeId: number, enabled: boolean) {
    this.nodeId = nodeId
    this.enabled = enabled
  }

  get sessionId(): number {
    return this.#sessionId
  }

  /** Builds the next request for the wanted partitions. */
  next(wanted: SessionPartition[]): SessionRequest {
    const wantedMap = new Map<string, SessionPartition>()
    for (const p of wanted) wantedMap.set(key(p.topic, p.partition), p)
    if (!this.enabled || !this.#supported || this.#sessionId === 0) {
      // Full fetch. With sessions on, epoch 0 asks the broker to create one;
      // without, FINAL_EPOCH asks for a sessionless fetch.
      return {
        sessionId: 0,
        sessionEpoch: this.enabled && this.#supported ? INITIAL_EPOCH : FINAL_EPOCH,
        send: wanted,
        forget: [],
        all: wantedMap,
        full: true,
      }
    }
    const send: SessionPartition[] = []
    const forget: SessionRequest['forget'] = []
    for (const [k, p] of wantedMap) {
      const old = this.#session.get(k)
      if (old === undefined || !same(old, p)) send.push(p)
    }
    for (const [k, p] of this.#session) if (!wantedMap.has(k)) forget.push({ topic: p.topic, topicId: p.topicId, partition: p.partition })
    const all = new Map(this.#session)
    for (const f of forget) all.delete(key(f.topic, f.partition))
    for (const p of send) all.set(key(p.topic, p.partition), p)
    return { sessionId: this.#sessionId, sessionEpoch: this.#epoch, send, forget, all, full: false }
  }

  /** Records a successful response to `req`. */
  onResponse(req: SessionRequest, responseSessionId: number): void {
    if (!this.enabled) return
    if (req.full) {
      if (responseSessionId === 0) {
        // The broker will not keep a session; stay with full fetches.
        this.#supported = req.sessionEpoch === INITIAL_EPOCH ? false : this.#supported
        this.#sessionId = 0
        this.#session.clear()
        return
      }
      this.#sessionId = responseSessionId
      this.#epoch = 1
      this.#session = new Map(req.all)
      return
    }
    this.#session = req.all
    this.#epoch = this.#epoch === 0x7fffffff ? 1 : this.#epoch + 1
  }

  /**
   * The partition's state moved without a fetch of ours saying so (seek,
   * reset): forget what the session believes so it is sent again.
   */
  invalidate(topic: string, partition: number): void {
    this.#session.delete(key(topic, partition))
  }

  /** After FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH or a connection loss: start a new session. */
  reset(): void {
    this.#sessionId = 0
    this.#epoch = INITIAL_EPOCH
    this.#session.clear()
  }

  /** Re-enables sessions after the broker refused them once (a slot may be free now). */
  retrySessions(): void {
    this.#supported = true
  }
}
