/**
 * One TCP or TLS connection to one broker.
 *
 * Lifecycle (named states, transitions in `transition()`):
 *
 *   idle ──connect()──▶ connecting ──socket up──▶ negotiating ──ApiVersions──▶ authenticating ──SASL──▶ ready
 *                                                                  │ (no SASL) ─────────────────────────▶ ready
 *   ready ──session near expiry (KIP-368)──▶ reauthenticating ──▶ ready
 *   ready ──close()──▶ draining ──in-flight done──▶ closed
 *   any ──destroy() / socket error / timeout / protocol violation──▶ closed
 *
 * Requests are pipelined: each is written as soon as the connection is
 * ready, and responses arrive in the order the requests were sent (the
 * broker processes one request per connection at a time), so a FIFO of
 * in-flight requests matches them. A response whose correlation id is not the
 * head's means the stream is desynchronised: the connection is closed and
 * every request in flight fails.
 *
 * A connection is single-use: once closed it stays closed. Reconnecting with
 * backoff is the broker pool's job.
 */
import { Socket, connect as tcpConnect } from 'node:net'
import { connect as tlsConnect, type ConnectionOptions as TlsConnectOptions } from 'node:tls'
import { inspect } from 'node:util'
import { encodeRequest, responseHeaderVersion } from '../protocol/api.js'
import { codecFor } from '../protocol/compiler.js'
import { KafkawireError, ProtocolError } from '../protocol/errors.js'
import { responseHeader } from '../protocol/messages/response-header.js'
import { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'
import type { ApiSchema, Fields, Infer, Input } from '../protocol/schema.js'
import { abortReason, AuthenticationError, ClosedError, ConnectionError, RequestTimeoutError, UnsupportedApiError } from './errors.js'
import { authenticate, type SaslOptions, type SaslSession } from './sasl/index.js'
import { Recycler } from './recycler.js'
import { type BrokerVersions, negotiateVersions } from './versions.js'

export interface TlsOptions {
  /** Trusted CA certificates (PEM). Default: Node's root store. */
  ca?: string | Buffer | Array<string | Buffer>
  /** Client certificate for mutual TLS (PEM). */
  cert?: string | Buffer
  key?: string | Buffer
  passphrase?: string
  /** Server name for SNI and certificate verification. Default: the broker's host. */
  servername?: string
  /** Verify the broker's certificate and hostname. Default true; turning it off is for tests only. */
  rejectUnauthorized?: boolean
  /** Anything else node:tls accepts. */
  extra?: TlsConnectOptions
}

export interface ConnectionOptions {
  host: string
  port: number
  /** Broker node id when known (bootstrap connections have none). */
  nodeId?: number
  clientId: string
  /** Software name and version sent in ApiVersions v3+ (KIP-511). */
  clientSoftwareName?: string
  clientSoftwareVersion?: string
  tls?: TlsOptions | boolean
  sasl?: SaslOptions
  /** Time allowed for TCP/TLS connect, ApiVersions and SASL together. Default 10 s. */
  connectTimeoutMs?: number
  /** Default per-request timeout. Default 30 s. */
  requestTimeoutMs?: number
  /** Largest response accepted, checked before anything is allocated. Default 256 MiB. */
  maxResponseBytes?: number
  /** Close the connection after this long without requests. Default 9 min (the broker's own default is 10). */
  idleTimeoutMs?: number
  /** Replaces socket creation, for tests and proxies. */
  socketFactory?: (o: { host: string; port: number; tls: TlsConnectOptions | null }) => Socket
  /** Called with diagnostic events; never receives credentials. */
  log?: (level: 'debug' | 'info' | 'warn' | 'error', message: string, extra?: Record<string, unknown>) => void
}

export interface RequestOptions {
  /** Version to use. Default: the highest both sides support. */
  version?: number
  timeoutMs?: number
  signal?: AbortSignal
  /** False for Produce with acks=0: the broker sends no response. Default true. */
  expectResponse?: boolean
  /**
   * Expected size of the encoded request body in bytes, when the caller
   * knows it (Produce: the record batches it carries). The frame is then
   * encoded into one buffer of that capacity (plus the header) instead of one
   * that starts small and doubles, copying what was written at each step.
   */
  sizeHint?: number
}

export type ConnectionState =
  | 'idle'
  | 'connecting'
  | 'negotiating'
  | 'authenticating'
  | 'ready'
  | 'reauthenticating'
  | 'draining'
  | 'closed'

interface InFlight {
  correlationId: number
  apiKey: number
  apiName: string
  version: number
  deadline: number
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
  decode: (r: Reader) => unknown
  /** The caller gave up (abort); the response is read and dropped. */
  abandoned: boolean
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

interface Queued {
  frame: Buffer
  entry: InFlight | null
  expectResponse: boolean
  writtenResolve?: () => void
  writtenReject?: (err: unknown) => void
}

const DEFAULT_CONNECT_TIMEOUT = 10_000
const DEFAULT_REQUEST_TIMEOUT = 30_000
const DEFAULT_MAX_RESPONSE = 256 * 1024 * 1024
const DEFAULT_IDLE = 9 * 60_000
const SWEEP_INTERVAL = 100
const API_VERSIONS_KEY = 18
/** Requests larger than this are encoded into recycled blocks. */
const RECYCLE_FROM = 64 * 1024
/** Shared by every connection of the process: at most 8 idle blocks of 64 KiB multiples. */
const requestBlocks = new Recycler(64 * 1024, 8)

let nextConnectionId = 1

export class Connection {
  readonly host: string
  readonly port: number
  readonly nodeId: number | undefined
  readonly id = nextConnectionId++

  #opts: ConnectionOptions
  #state: ConnectionState = 'idle'
  #socket: Socket | null = null
  #inFlight: InFlight[] = []
  #inFlightHead = 0
  /** Requests held back while (re)authenticating. */
  #held: Queued[] = []
  #correlationId = 0
  #versions: BrokerVersions | null = null
  #sasl: SaslSession | null = null
  #closeError: KafkawireError | null = null
  #closedPromise: Promise<void>
  #resolveClosed!: () => void
  #drainWaiters: Array<() => void> = []
  #sweepTimer: NodeJS.Timeout | null = null
  #idleTimer: NodeJS.Timeout | null = null
  #reauthTimer: NodeJS.Timeout | null = null
  #lastActivity = Date.now()
  #connecting: Promise<void> | null = null
  /** Fails the socket being opened when the connection is torn down before it is up. */
  #abortOpen: ((err: KafkawireError) => void) | null = null
  #unlisten: (() => void) | null = null
  // Frame reassembly.
  #chunks: Buffer[] = []
  #buffered = 0
  #frameSize = -1
  /** Listeners for state changes (used by the pool). */
  onClose: ((err: KafkawireError | null) => void) | null = null

  constructor(opts: ConnectionOptions) {
    this.#opts = opts
    this.host = opts.host
    this.port = opts.port
    this.nodeId = opts.nodeId
    this.#closedPromise = new Promise((resolve) => (this.#resolveClosed = resolve))
  }

  get state(): ConnectionState {
    return this.#state
  }

  get address(): string {
    return `${this.host}:${this.port}`
  }

  /** Requests sent and not yet answered. */
  get inFlightCount(): number {
    return this.#inFlight.length - this.#inFlightHead + this.#held.length
  }

  get versions(): BrokerVersions {
    if (this.#versions === null) throw new ClosedError(`connection to ${this.address} has not negotiated versions yet`, this.#ctx())
    return this.#versions
  }

  get isUsable(): boolean {
    return this.#state === 'ready' || this.#state === 'reauthenticating'
  }

  /** The error that closed the connection, if any. */
  get closeError(): KafkawireError | null {
    return this.#closeError
  }

  #ctx(): { broker: string; nodeId?: number } {
    return this.nodeId === undefined ? { broker: this.address } : { broker: this.address, nodeId: this.nodeId }
  }

  #log(level: 'debug' | 'info' | 'warn' | 'error', message: string, extra?: Record<string, unknown>): void {
    this.#opts.log?.(level, message, { broker: this.address, connection: this.id, ...extra })
  }

  #transition(to: ConnectionState): void {
    this.#log('debug', `connection ${this.#state} -> ${to}`)
    this.#state = to
  }

  /** Opens the socket, negotiates API versions and authenticates. Idempotent while connecting. */
  connect(signal?: AbortSignal): Promise<void> {
    if (this.#state === 'ready' || this.#state === 'reauthenticating') return Promise.resolve()
    if (this.#connecting) return this.#connecting
    if (this.#state !== 'idle') {
      return Promise.reject(this.#closeError ?? new ClosedError(`connection to ${this.address} is ${this.#state}`, this.#ctx()))
    }
    this.#connecting = this.#doConnect(signal).finally(() => {
      this.#connecting = null
    })
    return this.#connecting
  }

  async #doConnect(signal?: AbortSignal): Promise<void> {
    const timeoutMs = this.#opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT
    const deadline = Date.now() + timeoutMs
    const timer = setTimeout(() => {
      this.#fail(new ConnectionError(`connecting to ${this.address} timed out after ${timeoutMs} ms (state ${this.#state})`, this.#ctx()))
    }, timeoutMs)
    const onAbort = (): void => this.#fail(abortReason(signal!, this.#ctx()))
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      if (signal?.aborted) throw abortReason(signal, this.#ctx())
      this.#transition('connecting')
      await this.#openSocket()
      this.#transition('negotiating')
      this.#versions = await negotiateVersions(this, {
        clientSoftwareName: this.#opts.clientSoftwareName ?? 'kafkawire',
        clientSoftwareVersion: this.#opts.clientSoftwareVersion ?? '0.0.0',
        timeoutMs: Math.max(1, deadline - Date.now()),
      })
      if (this.#opts.sasl) {
        this.#transition('authenticating')
        this.#sasl = await authenticate(this, this.#opts.sasl, Math.max(1, deadline - Date.now()))
        this.#scheduleReauth()
      }
      this.#transition('ready')
      this.#touch()
    } catch (err) {
      const e = err instanceof KafkawireError ? err : new ConnectionError(`connecting to ${this.address} failed: ${(err as Error).message}`, this.#ctx(), err)
      this.#fail(e)
      // An AuthenticationError explains a close the broker made in answer to our credentials (kfake: see
      // sasl/index.ts), so it wins over the ConnectionError that close recorded.
      throw e instanceof AuthenticationError ? e : (this.#closeError ?? e)
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
  }

  #openSocket(): Promise<void> {
    const tlsOpt = this.#opts.tls
    let tlsOptions: TlsConnectOptions | null = null
    if (tlsOpt) {
      const t: TlsOptions = tlsOpt === true ? {} : tlsOpt
      const isIp = /^[\d.]+$|:/.test(this.host)
      const servername = t.servername ?? (isIp ? undefined : this.host)
      tlsOptions = {
        ...t.extra,
        host: this.host,
        port: this.port,
        ca: t.ca,
        cert: t.cert,
        key: t.key,
        passphrase: t.passphrase,
        rejectUnauthorized: t.rejectUnauthorized ?? true,
        ...(servername !== undefined ? { servername } : {}),
      }
    }
    return new Promise((resolve, reject) => {
      let socket: Socket
      const readyEvent = tlsOptions ? 'secureConnect' : 'connect'
      try {
        if (this.#opts.socketFactory) socket = this.#opts.socketFactory({ host: this.host, port: this.port, tls: tlsOptions })
        else if (tlsOptions) socket = tlsConnect(tlsOptions)
        else socket = tcpConnect({ host: this.host, port: this.port })
      } catch (err) {
        reject(new ConnectionError(`cannot connect to ${this.address}: ${(err as Error).message}`, this.#ctx(), err))
        return
      }
      this.#socket = socket
      socket.setNoDelay(true)
      socket.setKeepAlive(true, 60_000)
      // A connect timeout or abort tears the connection down while the TCP
      // connect or TLS handshake is still pending; destroying the socket emits
      // no 'error' then, so the teardown settles this promise itself.
      this.#abortOpen = (err) => {
        this.#abortOpen = null
        socket.removeListener(readyEvent, onReady)
        socket.removeListener('error', onError)
        reject(err)
      }
      const onError = (err: Error): void => {
        this.#abortOpen = null
        socket.removeListener(readyEvent, onReady)
        // A certificate the client does not trust (or a client certificate
        // the broker refuses) fails the same way on every attempt: an
        // AuthenticationError, which nothing retries, as errors.ts defines it.
        const authFailure = tlsOptions !== null && isTlsAuthError(err)
        reject(
          authFailure
            ? new AuthenticationError(`TLS handshake with ${this.address} failed: ${err.message}`, { ...this.#ctx(), tls: true }, err)
            : new ConnectionError(`cannot connect to ${this.address}: ${err.message}`, tlsOptions ? { ...this.#ctx(), tls: true } : this.#ctx(), err),
        )
      }
      const onReady = (): void => {
        this.#abortOpen = null
        socket.removeListener('error', onError)
        socket.on('error', (err) => this.#fail(new ConnectionError(`connection to ${this.address} failed: ${err.message}`, this.#ctx(), err)))
        // A broker never half-closes: its FIN means the connection is gone,
        // so stop offering it before a write runs into the closed socket.
        const onClosed = (): void => this.#fail(new ConnectionError(`connection to ${this.address} was closed by the broker`, this.#ctx()))
        const onData = (chunk: Buffer): void => this.#onData(chunk)
        socket.on('end', onClosed)
        socket.on('close', onClosed)
        socket.on('data', onData)
        // Only our own listeners go at teardown: net and tls keep internal
        // ones on these events.
        this.#unlisten = () => {
          socket.removeListener('end', onClosed)
          socket.removeListener('close', onClosed)
          socket.removeListener('data', onData)
        }
        resolve()
      }
      socket.once('error', onError)
      socket.once(readyEvent, onReady)
    })
  }

  /**
   * Sends a request and resolves with the decoded response body. The version
   * is the highest both sides support unless given. With
   * `expectResponse: false` it resolves once the request is written.
   */
  send<Req extends Fields, Res extends Fields>(api: ApiSchema<Req, Res>, body: Input<Infer<Req>>, options: RequestOptions = {}): Promise<Infer<Res>> {
    const connecting = this.#connecting
    if (connecting !== null && !this.isUsable) {
      // Requests made while the connection is set up wait for it: before
      // ApiVersions no version can be picked, and during SASL the broker
      // closes a connection that sends anything else.
      const signal = options.signal
      return new Promise<Infer<Res>>((resolve, reject) => {
        const onAbort = (): void => reject(abortReason(signal!, { ...this.#ctx(), apiName: api.name }))
        signal?.addEventListener('abort', onAbort, { once: true })
        connecting.then(
          () => {
            signal?.removeEventListener('abort', onAbort)
            this.send(api, body, options).then(resolve, reject)
          },
          (err: unknown) => {
            signal?.removeEventListener('abort', onAbort)
            reject(err)
          },
        )
      })
    }
    if (!this.isUsable) {
      return Promise.reject(this.#closeError ?? new ClosedError(`connection to ${this.address} is ${this.#state}`, this.#ctx()))
    }
    let version: number
    try {
      version = options.version ?? this.pickVersion(api)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#enqueue(api, version, body, options, this.#state === 'reauthenticating') as Promise<Infer<Res>>
  }

  /**
   * Sends during connection setup (ApiVersions, SASL); bypasses the hold
   * queue used during re-authentication.
   */
  sendInternal<Req extends Fields, Res extends Fields>(api: ApiSchema<Req, Res>, version: number, body: Input<Infer<Req>>, timeoutMs: number): Promise<Infer<Res>> {
    if (this.#socket === null || this.#state === 'closed') {
      return Promise.reject(this.#closeError ?? new ClosedError(`connection to ${this.address} is ${this.#state}`, this.#ctx()))
    }
    return this.#enqueue(api, version, body, { timeoutMs }, false) as Promise<Infer<Res>>
  }

  /** The highest version of `api` both this client and the broker support, optionally capped. */
  pickVersion(api: ApiSchema, maxVersion = Infinity): number {
    const range = this.#versions?.get(api.apiKey)
    if (range === undefined) {
      throw new UnsupportedApiError(`broker ${this.address} does not support ${api.name} (API key ${api.apiKey})`, {
        ...this.#ctx(),
        apiKey: api.apiKey,
        apiName: api.name,
      })
    }
    const max = Math.min(range.maxVersion, api.unstableFrom >= 0 ? api.unstableFrom - 1 : api.maxVersion, maxVersion)
    const min = Math.max(range.minVersion, api.minVersion)
    if (max < min) {
      throw new UnsupportedApiError(
        `no common version of ${api.name}: broker ${this.address} supports ${range.minVersion}-${range.maxVersion}, this client ${api.minVersion}-${api.maxVersion}`,
        { ...this.#ctx(), apiKey: api.apiKey, apiName: api.name },
      )
    }
    return max
  }

  #enqueue(api: ApiSchema, version: number, body: unknown, options: RequestOptions, hold: boolean): Promise<unknown> {
    const signal = options.signal
    if (signal?.aborted) return Promise.reject(abortReason(signal, { ...this.#ctx(), apiName: api.name }))
    const correlationId = this.#correlationId = (this.#correlationId + 1) & 0x7fffffff
    let frame: Buffer
    try {
      const hint = options.sizeHint !== undefined ? options.sizeHint + 64 + 3 * this.#opts.clientId.length : 0
      // Large requests (Produce) are written into reused blocks, handed back
      // once the socket is done with them (see #write).
      frame = encodeRequest(api.apiKey, version, correlationId, this.#opts.clientId, body as object, hint > RECYCLE_FROM ? { writer: new Writer(0, requestBlocks.take(hint)) } : hint > 512 ? { writer: new Writer(hint) } : {})
    } catch (err) {
      return Promise.reject(err)
    }
    const expectResponse = options.expectResponse !== false
    this.#touch()
    if (!expectResponse) {
      return new Promise<void>((resolve, reject) => {
        const q: Queued = { frame, entry: null, expectResponse: false, writtenResolve: resolve, writtenReject: reject }
        if (hold) this.#held.push(q)
        else this.#write(q)
      })
    }
    return new Promise((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.#opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT
      const hv = responseHeaderVersion(api.apiKey, version)
      const bodyCodec = codecFor(api.response, version, api.response.flexible.has(version), `${api.name}Response`)
      const headerCodec = codecFor(responseHeader, hv, hv >= 1, 'ResponseHeader')
      // A broker that does not know the ApiVersions version we sent answers
      // with a v0 body (KIP-511), so a failed parse is retried as v0.
      const fallback = api.apiKey === API_VERSIONS_KEY && version > 0 ? codecFor(api.response, 0, false, 'ApiVersionsResponse') : null
      const entry: InFlight = {
        correlationId,
        apiKey: api.apiKey,
        apiName: api.name,
        version,
        deadline: Date.now() + timeoutMs,
        resolve,
        reject,
        decode: (r) => {
          const h = headerCodec.decode(r) as { correlationId: number }
          if (h.correlationId !== correlationId) {
            throw new ProtocolError(
              'PROTOCOL_INVALID_VALUE',
              `response correlation id ${h.correlationId} does not match the request in flight (${correlationId}, ${api.name} v${version})`,
              { ...this.#ctx(), apiKey: api.apiKey, apiName: api.name, apiVersion: version },
            )
          }
          const start = r.offset
          let body: unknown
          try {
            body = bodyCodec.decode(r)
            if (fallback !== null && r.offset !== r.end) throw new ProtocolError('PROTOCOL_TRAILING_BYTES', 'retry as v0')
          } catch (err) {
            if (fallback === null) throw err
            r.offset = start
            body = fallback.decode(r)
          }
          if (r.offset !== r.end) {
            throw new ProtocolError('PROTOCOL_TRAILING_BYTES', `${api.name} v${version} response has ${r.end - r.offset} unread byte(s)`, {
              ...this.#ctx(),
              apiKey: api.apiKey,
              apiName: api.name,
              apiVersion: version,
            })
          }
          return body
        },
        abandoned: false,
        signal,
        onAbort: undefined,
      }
      if (signal) {
        entry.onAbort = () => {
          entry.abandoned = true
          reject(abortReason(signal, { ...this.#ctx(), apiName: api.name }))
        }
        signal.addEventListener('abort', entry.onAbort, { once: true })
      }
      const q: Queued = { frame, entry, expectResponse: true }
      if (hold) this.#held.push(q)
      else this.#write(q)
    })
  }

  #write(q: Queued): void {
    const socket = this.#socket
    if (socket === null || this.#state === 'closed') {
      const err = this.#closeError ?? new ClosedError(`connection to ${this.address} is closed`, this.#ctx())
      if (q.entry) q.entry.reject(err)
      else q.writtenReject?.(err)
      return
    }
    if (q.entry) {
      this.#inFlight.push(q.entry)
      this.#ensureSweep()
      // After the callback libuv no longer reads the frame: its block can
      // take the next request (a frame not from the recycler is ignored).
      if (q.frame.length > RECYCLE_FROM) socket.write(q.frame, () => requestBlocks.give(q.frame))
      else socket.write(q.frame)
    } else {
      socket.write(q.frame, (err) => {
        if (q.frame.length > RECYCLE_FROM) requestBlocks.give(q.frame)
        if (err) q.writtenReject?.(this.#closeError ?? new ConnectionError(`writing to ${this.address} failed: ${err.message}`, this.#ctx(), err))
        else q.writtenResolve?.()
      })
    }
  }

  #onData(chunk: Buffer): void {
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
    try {
      for (;;) {
        if (this.#frameSize < 0) {
          if (this.#buffered < 4) return
          const size = this.#peekInt32()
          const max = this.#opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE
          if (size < 4 || size > max) {
            // A TLS record (alert 0x15 or handshake 0x16, version 3.x) where a
            // size should be: a plaintext client on an SSL listener.
            const tlsRecord = (size >>> 24 === 0x15 || size >>> 24 === 0x16) && ((size >>> 16) & 0xff) === 0x03
            throw new ProtocolError(
              'PROTOCOL_INVALID_LENGTH',
              (size > max ? `response of ${size} bytes exceeds the ${max}-byte limit (maxResponseBytes)` : `invalid response size ${size}`) +
                (tlsRecord && !this.#opts.tls ? '; the broker answered with TLS: is this an SSL listener? (set the tls option)' : ''),
              this.#ctx(),
            )
          }
          this.#consume(4)
          this.#frameSize = size
        }
        if (this.#buffered < this.#frameSize) return
        const frame = this.#take(this.#frameSize)
        this.#frameSize = -1
        this.#onFrame(frame)
        if (this.#state === 'closed') return
      }
    } catch (err) {
      this.#fail(err instanceof KafkawireError ? err : new ProtocolError('PROTOCOL_INVALID_VALUE', String(err), this.#ctx()))
    }
  }

  #peekInt32(): number {
    const c = this.#chunks[0]!
    if (c.length >= 4) return c.readInt32BE(0)
    const b = Buffer.allocUnsafe(4)
    let o = 0
    for (const ch of this.#chunks) {
      const n = Math.min(4 - o, ch.length)
      ch.copy(b, o, 0, n)
      o += n
      if (o === 4) break
    }
    return b.readInt32BE(0)
  }

  #consume(n: number): void {
    this.#take(n)
  }

  /** Removes n bytes from the front; zero-copy when they sit in one chunk. */
  #take(n: number): Buffer {
    const first = this.#chunks[0]!
    this.#buffered -= n
    if (first.length >= n) {
      if (first.length === n) this.#chunks.shift()
      else this.#chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    const out = Buffer.allocUnsafe(n)
    let o = 0
    while (o < n) {
      const c = this.#chunks[0]!
      const k = Math.min(n - o, c.length)
      c.copy(out, o, 0, k)
      o += k
      if (k === c.length) this.#chunks.shift()
      else this.#chunks[0] = c.subarray(k)
    }
    return out
  }

  #onFrame(frame: Buffer): void {
    const entry = this.#inFlight[this.#inFlightHead]
    if (entry === undefined) {
      throw new ProtocolError('PROTOCOL_INVALID_VALUE', `received a response of ${frame.length} bytes with no request in flight`, this.#ctx())
    }
    this.#inFlight[this.#inFlightHead] = undefined as unknown as InFlight
    this.#inFlightHead++
    if (this.#inFlightHead > 1024 && this.#inFlightHead * 2 > this.#inFlight.length) {
      this.#inFlight = this.#inFlight.slice(this.#inFlightHead)
      this.#inFlightHead = 0
    }
    if (entry.onAbort) entry.signal!.removeEventListener('abort', entry.onAbort)
    let body: unknown
    try {
      body = entry.decode(new Reader(frame))
    } catch (err) {
      // A correlation mismatch or an undecodable response: the stream cannot
      // be trusted any more. Fail this request with the decode error and the
      // rest through #fail.
      if (!entry.abandoned) entry.reject(err)
      throw err
    }
    if (!entry.abandoned) entry.resolve(body)
    this.#touch()
    if (this.inFlightCount === 0) this.#onIdle()
  }

  #onIdle(): void {
    if (this.#state === 'draining') this.#finishClose()
    for (const w of this.#drainWaiters.splice(0)) w()
  }

  #touch(): void {
    this.#lastActivity = Date.now()
    if (this.#idleTimer === null && this.#state !== 'closed') {
      const idle = this.#opts.idleTimeoutMs ?? DEFAULT_IDLE
      const check = (): void => {
        this.#idleTimer = null
        if (this.#state === 'closed') return
        const quiet = Date.now() - this.#lastActivity
        if (quiet >= idle && this.inFlightCount === 0) {
          this.#log('debug', `closing idle connection after ${quiet} ms`)
          void this.close()
        } else {
          this.#idleTimer = setTimeout(check, Math.max(1000, idle - quiet))
          this.#idleTimer.unref()
        }
      }
      this.#idleTimer = setTimeout(check, idle)
      this.#idleTimer.unref()
    }
  }

  #ensureSweep(): void {
    if (this.#sweepTimer !== null) return
    this.#sweepTimer = setInterval(() => this.#sweep(), SWEEP_INTERVAL)
    this.#sweepTimer.unref()
  }

  /**
   * Request timeouts. As in the reference client, a request that times out
   * closes its connection: a late response could otherwise be matched to a
   * later request, and a broker that stopped answering will not recover.
   */
  #sweep(): void {
    const now = Date.now()
    const n = this.#inFlight.length
    if (this.#inFlightHead >= n) {
      if (this.#sweepTimer) clearInterval(this.#sweepTimer)
      this.#sweepTimer = null
      return
    }
    for (let i = this.#inFlightHead; i < n; i++) {
      const e = this.#inFlight[i]!
      if (e.deadline <= now && !e.abandoned) {
        const err = new RequestTimeoutError(`${e.apiName} v${e.version} to ${this.address} timed out`, {
          ...this.#ctx(),
          apiKey: e.apiKey,
          apiName: e.apiName,
          apiVersion: e.version,
        })
        e.abandoned = true
        e.reject(err)
        this.#fail(new ConnectionError(`connection to ${this.address} closed after a request timed out`, this.#ctx(), err))
        return
      }
    }
  }

  // ---- re-authentication (KIP-368) ------------------------------------------

  #scheduleReauth(): void {
    const s = this.#sasl
    if (s === null || s.sessionLifetimeMs <= 0) return
    // Re-authenticate well before the broker's deadline, with jitter so many
    // connections opened together do not re-authenticate together.
    const delay = Math.max(0, s.sessionLifetimeMs * (0.8 + Math.random() * 0.1) - (Date.now() - s.authenticatedAt))
    if (this.#reauthTimer) clearTimeout(this.#reauthTimer)
    this.#reauthTimer = setTimeout(() => void this.#reauthenticate(), delay)
    this.#reauthTimer.unref()
  }

  async #reauthenticate(): Promise<void> {
    this.#reauthTimer = null
    if (this.#state !== 'ready' || !this.#opts.sasl) return
    this.#transition('reauthenticating')
    try {
      this.#sasl = await authenticate(this, this.#opts.sasl, this.#opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT)
      // The connection may have failed while we awaited, or close() may have
      // started draining: then the held requests still go out, as close()
      // waits for them.
      const state = this.#state as ConnectionState
      if (state === 'closed') return
      if (state === 'reauthenticating') this.#transition('ready')
      const held = this.#held.splice(0)
      for (const q of held) this.#write(q)
      if (state === 'reauthenticating') this.#scheduleReauth()
    } catch (err) {
      this.#fail(err instanceof KafkawireError ? err : new ConnectionError(`re-authentication with ${this.address} failed`, this.#ctx(), err))
    }
  }

  // ---- closing --------------------------------------------------------------

  /** Waits until no request is in flight. */
  drained(): Promise<void> {
    if (this.inFlightCount === 0) return Promise.resolve()
    return new Promise((resolve) => this.#drainWaiters.push(resolve))
  }

  /** Stops accepting requests, lets those in flight complete, then closes. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return
    if (this.#state === 'idle') {
      this.#finishClose()
      return this.#closedPromise
    }
    if (this.#connecting) await this.#connecting.catch(() => undefined)
    if ((this.#state as ConnectionState) === 'closed') return
    this.#transition('draining')
    if (this.inFlightCount === 0) this.#finishClose()
    return this.#closedPromise
  }

  /** Closes at once, failing every request in flight. */
  destroy(err?: KafkawireError): void {
    this.#fail(err ?? new ClosedError(`connection to ${this.address} was destroyed`, this.#ctx()))
  }

  /** Resolves once the connection is closed. */
  get closed(): Promise<void> {
    return this.#closedPromise
  }

  #finishClose(): void {
    if (this.#state === 'closed') return
    this.#teardown(null)
  }

  #fail(err: KafkawireError): void {
    if (this.#state === 'closed') return
    this.#log('debug', `connection failed: ${err.message}`)
    this.#teardown(err)
  }

  #teardown(err: KafkawireError | null): void {
    this.#transition('closed')
    this.#closeError = err
    if (this.#sweepTimer) clearInterval(this.#sweepTimer)
    if (this.#idleTimer) clearTimeout(this.#idleTimer)
    if (this.#reauthTimer) clearTimeout(this.#reauthTimer)
    this.#sweepTimer = this.#idleTimer = this.#reauthTimer = null
    const socket = this.#socket
    if (socket) {
      this.#unlisten?.()
      this.#unlisten = null
      socket.on('error', () => undefined)
      if (err) socket.destroy()
      else socket.end()
    }
    const failure = err ?? new ClosedError(`connection to ${this.address} was closed`, this.#ctx())
    this.#abortOpen?.(failure)
    const pending = this.#inFlight.slice(this.#inFlightHead)
    this.#inFlight = []
    this.#inFlightHead = 0
    for (const e of pending) {
      if (e.onAbort) e.signal!.removeEventListener('abort', e.onAbort)
      if (!e.abandoned) e.reject(failure)
    }
    for (const q of this.#held.splice(0)) {
      if (q.entry) q.entry.reject(failure)
      else q.writtenReject?.(failure)
    }
    this.#chunks = []
    this.#buffered = 0
    for (const w of this.#drainWaiters.splice(0)) w()
    this.onClose?.(err)
    this.#resolveClosed()
  }

  [inspect.custom](): string {
    return `Connection { ${this.address}${this.nodeId !== undefined ? ` node ${this.nodeId}` : ''}, ${this.#state}, ${this.inFlightCount} in flight }`
  }
}

/** Certificate verification failures, ours of the broker's certificate or the broker's of ours. */
function isTlsAuthError(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code ?? ''
  return /CERT|SELF_SIGNED|UNABLE_TO_|HOSTNAME|ALTNAME|ALERT_UNKNOWN_CA|ALERT_BAD_CERTIFICATE|ALERT_CERTIFICATE/.test(code)
}

