/**
 * An in-process Kafka broker for unit tests of the client layer.
 *
 * It listens on 127.0.0.1 (plain TCP, or TLS when given a key and
 * certificate), decodes every request with the codec's `decodeRequest` and
 * answers with `encodeResponse`. Each API is scriptable: a handler receives
 * the decoded request and returns the response body, or a `reply({...})`
 * that misbehaves on purpose (split into chunks, delayed, dropped, sent out of
 * order, with a wrong correlation id or size prefix, cut off mid-frame).
 *
 * Responses leave a connection in request order, as a real broker sends them,
 * unless a reply asks for `immediate` delivery.
 *
 * `socketFactory()` connects a Connection to the broker through an in-memory
 * stream pair instead of TCP, so the chunks a reply is split into reach the
 * client's `data` handler exactly as they were cut (TCP may merge them).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto'
import { createServer, type Server, type Socket } from 'node:net'
import { Duplex } from 'node:stream'
import { createServer as createTlsServer } from 'node:tls'
import { apis, decodeRequest, encodeResponse } from '../../src/protocol/api.js'

export interface MockRequest<B = any> {
  apiKey: number
  apiName: string
  apiVersion: number
  correlationId: number
  clientId: string | null
  body: B
  connection: MockConnection
  receivedAt: number
}

export interface ReplyOptions {
  /** Response body, encoded at the request's version unless `version` says otherwise. */
  body?: object
  version?: number
  /** Correlation id to put in the header instead of the request's. */
  correlationId?: number
  /** Bytes to send instead of an encoded response (a whole frame, size prefix included). */
  raw?: Buffer
  /** Split the frame into writes of these sizes (the rest goes in a last write); 'bytes' sends one byte per write. */
  chunks?: number[] | 'bytes'
  /** Wait this long before answering. */
  delayMs?: number
  /** Never answer this request. */
  drop?: boolean
  /** Send only this many bytes of the frame, then close the connection. */
  closeAfterBytes?: number
  /** Close the connection right after the response. */
  close?: boolean
  /** Write as soon as ready, ahead of earlier requests still being handled. */
  immediate?: boolean
}

export class Reply {
  constructor(readonly options: ReplyOptions) {}
}

export function reply(options: ReplyOptions): Reply {
  return new Reply(options)
}

/** A body, a Reply, or null for "never answer". */
export type HandlerResult = object | Reply | null
export type Handler = (req: MockRequest) => HandlerResult | Promise<HandlerResult>

export interface VersionRange {
  minVersion: number
  maxVersion: number
}

export interface MockTopic {
  name: string
  topicId?: string
  partitions: Array<{ partition: number; leader: number; leaderEpoch?: number; replicas?: number[]; errorCode?: number }>
  errorCode?: number
}

export interface MockBrokerOptions {
  nodeId?: number
  tls?: { key: string | Buffer; cert: string | Buffer }
  /** Listen on this port (default: any free port). */
  port?: number
}

const API_VERSIONS = 18
const METADATA = 3
const SASL_HANDSHAKE = 17
const SASL_AUTHENTICATE = 36
const UNSUPPORTED_VERSION = 35

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r))

/** What a MockConnection writes to and reads from: a net.Socket or one end of an in-memory pair. */
type Transport = Pick<Socket, 'write' | 'destroy' | 'end' | 'on' | 'once' | 'destroyed'>

export class MockConnection {
  readonly id: number
  readonly broker: MockBroker
  /** Every request received on this connection, in order. */
  readonly requests: MockRequest[] = []
  /** Per-connection scratch space for handlers (e.g. SASL state). */
  readonly state: Record<string, unknown> = {}
  closed = false
  #transport: Transport
  #buf: Buffer = Buffer.alloc(0)
  #tail: Promise<void> = Promise.resolve()
  #closedWaiters: Array<() => void> = []

  constructor(broker: MockBroker, transport: Transport, id: number) {
    this.broker = broker
    this.#transport = transport
    this.id = id
    transport.on('data', (chunk: Buffer) => this.#onData(chunk))
    transport.on('error', () => undefined)
    transport.on('close', () => {
      this.closed = true
      for (const w of this.#closedWaiters.splice(0)) w()
    })
  }

  /** Resolves when the connection has closed. */
  whenClosed(): Promise<void> {
    return this.closed ? Promise.resolve() : new Promise((r) => this.#closedWaiters.push(r))
  }

  /** Closes the connection from the broker's side (a crash: no FIN handshake wait). */
  destroy(): void {
    this.#transport.destroy()
  }

  /** Writes raw bytes, e.g. a response nobody asked for. */
  writeRaw(bytes: Buffer): void {
    if (!this.#transport.destroyed) this.#transport.write(bytes)
  }

  #onData(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk])
    while (this.#buf.length >= 4) {
      const size = this.#buf.readInt32BE(0)
      if (this.#buf.length < 4 + size) return
      const frame = this.#buf.subarray(4, 4 + size)
      this.#buf = this.#buf.subarray(4 + size)
      this.#onFrame(frame)
    }
  }

  #onFrame(frame: Buffer): void {
    let decoded
    try {
      decoded = decodeRequest(frame)
    } catch (err) {
      this.broker.errors.push(err)
      this.destroy()
      return
    }
    const apiName = apis.find((a) => a.apiKey === decoded.header.apiKey)?.name ?? `api${decoded.header.apiKey}`
    const req: MockRequest = {
      apiKey: decoded.header.apiKey,
      apiName,
      apiVersion: decoded.header.apiVersion,
      correlationId: decoded.header.correlationId,
      clientId: decoded.header.clientId,
      body: decoded.body,
      connection: this,
      receivedAt: Date.now(),
    }
    this.requests.push(req)
    this.broker.requests.push(req)
    const result = Promise.resolve().then(() => this.broker.handle(req))
    result.catch((err: unknown) => {
      this.broker.errors.push(err)
      this.destroy()
    })
    const ready = result.then((r) => (r === null ? null : r instanceof Reply ? r.options : { body: r }))
    ready.then(
      async (o) => {
        if (o?.immediate) await this.#send(req, o)
      },
      () => undefined,
    )
    this.#tail = this.#tail.then(async () => {
      const o = await ready.catch(() => null)
      if (o !== null && !o.immediate) await this.#send(req, o)
    })
  }

  async #send(req: MockRequest, o: ReplyOptions): Promise<void> {
    if (o.drop) return
    if (o.delayMs) await delay(o.delayMs)
    if (this.closed) return
    const frame =
      o.raw ?? encodeResponse(req.apiKey, o.version ?? req.apiVersion, o.correlationId ?? req.correlationId, o.body ?? {})
    const bytes = o.closeAfterBytes !== undefined ? frame.subarray(0, o.closeAfterBytes) : frame
    if (o.chunks === undefined) {
      this.writeRaw(bytes)
    } else {
      const sizes = o.chunks === 'bytes' ? new Array<number>(bytes.length).fill(1) : o.chunks
      let at = 0
      for (const n of sizes) {
        if (at >= bytes.length) break
        this.writeRaw(bytes.subarray(at, at + n))
        at += n
        await nextTurn()
      }
      if (at < bytes.length) this.writeRaw(bytes.subarray(at))
    }
    if (o.closeAfterBytes !== undefined || o.close) {
      await nextTurn()
      this.destroy()
    }
  }
}

let nextConnectionId = 1

export class MockBroker {
  readonly nodeId: number
  readonly host = '127.0.0.1'
  port = 0
  /** Every request received, across connections. */
  readonly requests: MockRequest[] = []
  /** Every connection accepted, open or not. */
  readonly connections: MockConnection[] = []
  /** Handler failures and undecodable requests; tests assert it stays empty. */
  readonly errors: unknown[] = []
  /** Brokers listed in Metadata responses (default: this one). */
  peers: MockBroker[] = [this]
  topics: MockTopic[] = []
  clusterId = 'mock-cluster'
  controllerId = 1
  /** Highest ApiVersions version understood; a higher one gets the KIP-511 v0 answer. */
  apiVersionsMax = 4
  /** Version ranges to advertise instead of the codec's own; `null` removes an API. */
  readonly versionOverrides = new Map<number, VersionRange | null>()
  #handlers = new Map<number, Handler>()
  #server: Server | null = null
  #sasl: SaslServer | null = null
  #options: MockBrokerOptions

  private constructor(options: MockBrokerOptions) {
    this.#options = options
    this.nodeId = options.nodeId ?? 1
  }

  static async start(options: MockBrokerOptions = {}): Promise<MockBroker> {
    const b = new MockBroker(options)
    await b.listen(options.port ?? 0)
    return b
  }

  /** Brokers that list each other in Metadata, node ids 1..n. */
  static async cluster(n: number): Promise<MockBroker[]> {
    const all = await Promise.all(Array.from({ length: n }, (_, i) => MockBroker.start({ nodeId: i + 1 })))
    for (const b of all) b.peers = all
    return all
  }

  get address(): string {
    return `${this.host}:${this.port}`
  }

  get openConnections(): MockConnection[] {
    return this.connections.filter((c) => !c.closed)
  }

  requestsOf(api: { apiKey: number } | number): MockRequest[] {
    const key = typeof api === 'number' ? api : api.apiKey
    return this.requests.filter((r) => r.apiKey === key)
  }

  /** Scripts an API; replaces the default handler. */
  on(api: { apiKey: number } | number, handler: Handler): this {
    this.#handlers.set(typeof api === 'number' ? api : api.apiKey, handler)
    return this
  }

  /** Starts accepting connections (again, on the same port once it had one). */
  listen(port = this.port): Promise<void> {
    const onSocket = (socket: Socket): void => {
      socket.setNoDelay(true)
      this.connections.push(new MockConnection(this, socket, nextConnectionId++))
    }
    const server = this.#options.tls
      ? createTlsServer({ key: this.#options.tls.key, cert: this.#options.tls.cert }, onSocket)
      : createServer(onSocket)
    this.#server = server
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, this.host, () => {
        this.port = (server.address() as { port: number }).port
        resolve()
      })
    })
  }

  /** Stops accepting connections and drops every open one: the broker is down. */
  async stop(): Promise<void> {
    const server = this.#server
    this.#server = null
    for (const c of this.connections) c.destroy()
    if (server) await new Promise<void>((r) => server.close(() => r()))
  }

  close(): Promise<void> {
    return this.stop()
  }

  /**
   * A socketFactory for ConnectionOptions: the client talks to this broker
   * through an in-memory stream pair (no TCP, chunk boundaries preserved).
   */
  socketFactory(): (o: { host: string; port: number }) => Socket {
    return () => {
      const [client, server] = streamPair()
      this.connections.push(new MockConnection(this, server as unknown as Transport, nextConnectionId++))
      process.nextTick(() => client.emit('connect'))
      return client as unknown as Socket
    }
  }

  async handle(req: MockRequest): Promise<HandlerResult> {
    const sasl = this.#sasl
    if (sasl !== null && req.apiKey !== SASL_HANDSHAKE && req.apiKey !== SASL_AUTHENTICATE && !sasl.allows(req)) {
      sasl.violations.push(`${req.apiName} on connection ${req.connection.id} while ${String(req.connection.state.sasl ?? 'unauthenticated')}`)
      req.connection.destroy()
      return null
    }
    const h = this.#handlers.get(req.apiKey)
    if (h) return h(req)
    switch (req.apiKey) {
      case SASL_HANDSHAKE:
        if (sasl) return sasl.handshake(req)
        break
      case SASL_AUTHENTICATE:
        if (sasl) return sasl.authenticate(req)
        break
      case API_VERSIONS:
        return this.apiVersionsResponse(req)
      case METADATA:
        return this.metadataResponse(req)
    }
    throw new Error(`mock broker ${this.nodeId}: no handler for ${req.apiName} v${req.apiVersion}`)
  }

  /** The ranges advertised in ApiVersions. */
  advertised(): Array<{ apiKey: number; minVersion: number; maxVersion: number }> {
    const out: Array<{ apiKey: number; minVersion: number; maxVersion: number }> = []
    for (const a of apis) {
      const o = this.versionOverrides.get(a.apiKey)
      if (o === null) continue
      const r = o ?? { minVersion: a.minVersion, maxVersion: a.apiKey === API_VERSIONS ? this.apiVersionsMax : a.maxVersion }
      out.push({ apiKey: a.apiKey, ...r })
    }
    return out
  }

  apiVersionsResponse(req: MockRequest): HandlerResult {
    if (req.apiVersion > this.apiVersionsMax) {
      // KIP-511: a v0 body naming the versions this broker does understand.
      return reply({
        version: 0,
        body: { errorCode: UNSUPPORTED_VERSION, apiKeys: [{ apiKey: API_VERSIONS, minVersion: 0, maxVersion: this.apiVersionsMax }] },
      })
    }
    return { errorCode: 0, apiKeys: this.advertised(), finalizedFeatures: [] }
  }

  metadataResponse(req: MockRequest): HandlerResult {
    const wanted: Array<{ name: string | null }> | null = req.body.topics
    const topics = wanted === null || (req.apiVersion === 0 && wanted.length === 0) ? this.topics : wanted.map((w) => {
      const t = this.topics.find((x) => x.name === w.name)
      return t ?? { name: w.name!, partitions: [], errorCode: 3 }
    })
    return {
      brokers: this.peers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: null })),
      clusterId: this.clusterId,
      controllerId: this.controllerId,
      topics: topics.map((t) => ({
        errorCode: t.errorCode ?? 0,
        name: t.name,
        topicId: t.topicId ?? 'AAAAAAAAAAAAAAAAAAAAAA',
        isInternal: false,
        partitions: t.partitions.map((p) => ({
          errorCode: p.errorCode ?? 0,
          partitionIndex: p.partition,
          leaderId: p.leader,
          leaderEpoch: p.leaderEpoch ?? 0,
          replicaNodes: p.replicas ?? [p.leader],
          isrNodes: p.replicas ?? [p.leader],
          offlineReplicas: [],
        })),
      })),
    }
  }

  /**
   * Requires SASL on every connection, as a SASL listener does: any request
   * other than ApiVersions before authentication, during a
   * re-authentication or after the session expired closes the connection.
   */
  requireSasl(o: SaslServerOptions): SaslServer {
    this.#sasl = new SaslServer(o)
    return this.#sasl
  }
}

// ---- SASL, server side ---------------------------------------------------------

export interface SaslServerOptions {
  mechanisms: string[]
  /** username -> password, for PLAIN and SCRAM. */
  users?: Record<string, string>
  /** Announced in SaslAuthenticate v1+ (KIP-368); 0 means no re-authentication needed. */
  sessionLifetimeMs?: number
  scram?: {
    iterations?: number
    /** Builds the server nonce from the client's; default: client nonce + random. */
    serverNonce?: (clientNonce: string) => string
    /** Send a server signature that does not verify. */
    badServerSignature?: boolean
  }
  /** Called with the OAUTHBEARER client message; returns an error JSON to refuse. */
  oauth?: (message: string) => string | null
}

type SaslState = 'unauthenticated' | 'handshaken' | 'in-progress' | 'authenticated' | 'reauthenticating'

export class SaslServer {
  readonly options: SaslServerOptions
  /** Every client message (authBytes) received, as text. */
  readonly messages: string[] = []
  /** Successful authentications, by connection id, in order. */
  readonly authentications: Array<{ connection: number; at: number; reauth: boolean }> = []
  /** Requests refused because the connection was not authenticated. */
  readonly violations: string[] = []

  constructor(o: SaslServerOptions) {
    this.options = o
  }

  allows(req: MockRequest): boolean {
    const st = (req.connection.state.sasl as SaslState | undefined) ?? 'unauthenticated'
    if (req.apiKey === API_VERSIONS) return st === 'unauthenticated' || st === 'authenticated'
    if (st !== 'authenticated') return false
    const expires = req.connection.state.saslExpires as number | undefined
    // The broker closes a connection whose session expired (KIP-368).
    return expires === undefined || Date.now() < expires
  }

  handshake(req: MockRequest): HandlerResult {
    const c = req.connection
    const st = (c.state.sasl as SaslState | undefined) ?? 'unauthenticated'
    const mechanism = req.body.mechanism as string
    if (!this.options.mechanisms.includes(mechanism)) {
      return { errorCode: 33, mechanisms: this.options.mechanisms }
    }
    c.state.sasl = st === 'authenticated' ? 'reauthenticating' : 'handshaken'
    c.state.mechanism = mechanism
    c.state.step = 0
    return { errorCode: 0, mechanisms: this.options.mechanisms }
  }

  authenticate(req: MockRequest): HandlerResult {
    const c = req.connection
    const reauth = c.state.sasl === 'reauthenticating'
    const msg = Buffer.from(req.body.authBytes as Buffer).toString('utf8')
    this.messages.push(msg)
    const fail = (message: string): HandlerResult => {
      return reply({ body: { errorCode: 58, errorMessage: message, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n }, close: true })
    }
    const done = (authBytes: Buffer): HandlerResult => {
      c.state.sasl = 'authenticated'
      const lifetime = this.options.sessionLifetimeMs ?? 0
      c.state.saslExpires = lifetime > 0 ? Date.now() + lifetime : undefined
      this.authentications.push({ connection: c.id, at: Date.now(), reauth })
      return { errorCode: 0, errorMessage: null, authBytes, sessionLifetimeMs: BigInt(lifetime) }
    }
    const more = (authBytes: Buffer): HandlerResult => ({ errorCode: 0, errorMessage: null, authBytes, sessionLifetimeMs: 0n })
    const mechanism = c.state.mechanism as string
    if (mechanism === 'PLAIN') {
      const [, user, password] = msg.split('\0')
      if (user !== undefined && this.options.users?.[user] === password) return done(Buffer.alloc(0))
      return fail('Authentication failed: Invalid username or password')
    }
    if (mechanism === 'OAUTHBEARER') {
      const refusal = this.options.oauth?.(msg) ?? null
      if (c.state.step === 0 && refusal !== null) {
        c.state.step = 1
        return more(Buffer.from(refusal))
      }
      if (c.state.step === 1) return fail('Authentication failed: invalid token')
      return done(Buffer.alloc(0))
    }
    if (mechanism === 'SCRAM-SHA-256' || mechanism === 'SCRAM-SHA-512') {
      const hash = mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512'
      const keyLength = hash === 'sha256' ? 32 : 64
      if (c.state.step === 0) {
        const bare = msg.replace(/^n,,/, '')
        const attrs = Object.fromEntries(bare.split(',').map((p) => [p[0], p.slice(2)]))
        const password = this.options.users?.[attrs.n ?? '']
        if (password === undefined) return fail('Authentication failed: unknown user')
        const nonce = this.options.scram?.serverNonce?.(attrs.r!) ?? attrs.r! + randomBytes(12).toString('base64')
        const salt = randomBytes(16)
        const iterations = this.options.scram?.iterations ?? 4096
        const serverFirst = `r=${nonce},s=${salt.toString('base64')},i=${iterations}`
        c.state.scram = { bare, serverFirst, salt, iterations, password, nonce }
        c.state.step = 1
        return more(Buffer.from(serverFirst))
      }
      const s = c.state.scram as { bare: string; serverFirst: string; salt: Buffer; iterations: number; password: string; nonce: string }
      const withoutProof = msg.slice(0, msg.lastIndexOf(',p='))
      const proof = Buffer.from(msg.slice(msg.lastIndexOf(',p=') + 3), 'base64')
      const salted = pbkdf2Sync(s.password, s.salt, s.iterations, keyLength, hash)
      const clientKey = createHmac(hash, salted).update('Client Key').digest()
      const storedKey = createHash(hash).update(clientKey).digest()
      const authMessage = `${s.bare},${s.serverFirst},${withoutProof}`
      const clientSignature = createHmac(hash, storedKey).update(authMessage).digest()
      const expected = Buffer.alloc(clientKey.length)
      for (let i = 0; i < expected.length; i++) expected[i] = clientKey[i]! ^ clientSignature[i]!
      if (proof.length !== expected.length || !timingSafeEqual(proof, expected)) {
        return fail(`Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism}`)
      }
      const serverKey = createHmac(hash, salted).update('Server Key').digest()
      const signature = createHmac(hash, serverKey).update(authMessage).digest()
      if (this.options.scram?.badServerSignature) signature[0]! ^= 0xff
      return done(Buffer.from(`v=${signature.toString('base64')}`))
    }
    return fail(`unexpected mechanism ${mechanism}`)
  }
}

// ---- in-memory transport ------------------------------------------------------

class StreamEnd extends Duplex {
  peer!: StreamEnd
  constructor() {
    super({ allowHalfOpen: false })
  }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const peer = this.peer
    process.nextTick(() => {
      if (!peer.destroyed) peer.push(chunk)
    })
    cb()
  }
  override _final(cb: (err?: Error | null) => void): void {
    const peer = this.peer
    process.nextTick(() => {
      if (!peer.destroyed) peer.push(null)
    })
    cb()
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const peer = this.peer
    process.nextTick(() => {
      if (!peer.destroyed) peer.destroy()
    })
    cb(err)
  }
  // The net.Socket methods Connection calls.
  setNoDelay(): this {
    return this
  }
  setKeepAlive(): this {
    return this
  }
}

function streamPair(): [StreamEnd, StreamEnd] {
  const a = new StreamEnd()
  const b = new StreamEnd()
  a.peer = b
  b.peer = a
  return [a, b]
}
