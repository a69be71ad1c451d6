/**
 * Incremental fetch sessions (KIP-227), one per broker. The first request of a
 * session is a full fetch (epoch 0) listing every partition; the broker
 * answers with a session id. Later requests carry the session id and the next
 * epoch, and list only partitions that are new or whose fetch offset or limits
 * changed, plus the partitions to forget. The broker then answers only for
 * partitions with news.
 *
 * A broker that answers a full fetch with session id 0 keeps no session for
 * us (its cache is full): the next request is a full fetch again, asking once
 * more. After an error the next request is a full fetch that names the old
 * session id with epoch 0, which closes that session on the broker and opens
 * a new one (FetchSessionHandler.nextCloseExistingAttemptNew); after
 * FETCH_SESSION_ID_NOT_FOUND there is nothing to close.
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
const NO_SESSION = 0

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
  /** The session the next request continues (incremental) or closes (full); 0 for none. */
  #sessionId = NO_SESSION
  #epoch = INITIAL_EPOCH
  /** Whether the next request continues the session (false: a full fetch). */
  #incremental = false
  /** What the broker's session holds, as last sent. */
  #session = new Map<string, SessionPartition>()
  /** Partitions the broker's session holds but whose state we no longer trust: resent when wanted, forgotten otherwise. */
  #dirty = new Set<string>()
  readonly enabled: boolean

  constructor(nodeId: number, enabled: boolean) {
    this.nodeId = nodeId
    this.enabled = enabled
  }

  /** The broker's session id, or 0 while the next request is a full fetch. */
  get sessionId(): number {
    return this.#incremental ? this.#sessionId : NO_SESSION
  }

  /** Builds the next request for the wanted partitions. */
  next(wanted: SessionPartition[]): SessionRequest {
    const wantedMap = new Map<string, SessionPartition>()
    for (const p of wanted) wantedMap.set(key(p.topic, p.partition), p)
    if (!this.enabled || !this.#incremental) {
      // Full fetch. With sessions on, epoch 0 asks the broker to create one
      // (and to close the session named, if any); without, FINAL_EPOCH asks
      // for a sessionless fetch.
      return {
        sessionId: this.enabled ? this.#sessionId : NO_SESSION,
        sessionEpoch: this.enabled ? INITIAL_EPOCH : FINAL_EPOCH,
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
      if (old === undefined || this.#dirty.has(k) || !same(old, p)) send.push(p)
    }
    for (const [k, p] of this.#session) if (!wantedMap.has(k)) forget.push({ topic: p.topic, topicId: p.topicId, partition: p.partition })
    const all = new Map(this.#session)
    for (const f of forget) all.delete(key(f.topic, f.partition))
    for (const p of send) all.set(key(p.topic, p.partition), p)
    return { sessionId: this.#sessionId, sessionEpoch: this.#epoch, send, forget, all, full: false }
  }

  /** Records a successful response (top-level error 0) to `req`. */
  onResponse(req: SessionRequest, responseSessionId: number): void {
    if (!this.enabled) return
    this.#dirty.clear()
    if (req.full) {
      if (responseSessionId === NO_SESSION) {
        // The broker keeps no session for us (its cache is full): ask again next time.
        this.#start(NO_SESSION)
        return
      }
      this.#sessionId = responseSessionId
      this.#epoch = 1
      this.#incremental = true
      this.#session = new Map(req.all)
      return
    }
    if (responseSessionId === NO_SESSION) {
      // The broker closed the session.
      this.#start(NO_SESSION)
      return
    }
    if (responseSessionId !== this.#sessionId) {
      // Not the session we continued: start over, closing ours.
      this.#start(this.#sessionId)
      return
    }
    this.#session = req.all
    this.#epoch = this.#epoch === 0x7fffffff ? 1 : this.#epoch + 1
  }

  /**
   * The partition's state moved without a fetch of ours saying so (seek,
   * reset, a partition error): it is sent again when next wanted, and
   * forgotten when not, so the broker's session never holds stale state.
   */
  invalidate(topic: string, partition: number): void {
    const k = key(topic, partition)
    if (this.#session.has(k)) this.#dirty.add(k)
  }

  /**
   * The request failed, or the broker refused the session (top-level
   * error): the next request is a full fetch. `sessionNotFound` (error 70)
   * means there is no session left to close.
   */
  reset(sessionNotFound = false): void {
    this.#start(sessionNotFound ? NO_SESSION : this.#sessionId)
  }

  #start(closing: number): void {
    this.#sessionId = closing
    this.#epoch = INITIAL_EPOCH
    this.#incremental = false
    this.#session.clear()
    this.#dirty.clear()
  }
}
