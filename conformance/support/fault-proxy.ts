/**
 * A TCP proxy between the client and the brokers that cuts connections at
 * random moments: right after forwarding a chunk of a request (the broker
 * got it, the client will never see the answer), instead of forwarding a
 * chunk of a response, or after a random lifetime; each cut is a reset (RST)
 * or a plain close, at random.
 *
 * The brokers' advertised addresses stay as they are: the client reaches the
 * proxy through its socketFactory option, which maps every broker address to
 * the proxy listener in front of it.
 */
import { connect, createServer, type Server, type Socket } from 'node:net'

export interface ChaosOptions {
  /** Chance to cut right after forwarding a chunk from the client. */
  afterRequest?: number
  /** Chance to cut instead of forwarding a chunk from the broker. */
  beforeResponse?: number
  /** Every connection is cut after a random lifetime in this range (ms); omit for none. */
  lifetimeMs?: [number, number]
  /** Random generator (default Math.random). */
  random?: () => number
}

interface Route {
  target: { host: string; port: number }
  server: Server
  port: number
}

export class FaultProxy {
  readonly #routes = new Map<string, Route>()
  readonly #sockets = new Set<Socket>()
  #chaos: ChaosOptions | null = null
  /** Connections cut so far, by how. */
  readonly cuts = { afterRequest: 0, beforeResponse: 0, lifetime: 0 }
  connections = 0

  /** Starts a listener in front of each broker address ("host:port"). */
  static async start(addresses: string[]): Promise<FaultProxy> {
    const p = new FaultProxy()
    for (const a of addresses) await p.add(a)
    return p
  }

  async add(address: string): Promise<void> {
    if (this.#routes.has(address)) return
    const i = address.lastIndexOf(':')
    const target = { host: address.slice(0, i), port: Number(address.slice(i + 1)) }
    const server = createServer((client) => this.#pipe(client, target))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
    this.#routes.set(address, { target, server, port: (server.address() as { port: number }).port })
  }

  /** Turns random cuts on (or off with null). */
  chaos(o: ChaosOptions | null): void {
    this.#chaos = o
  }

  get totalCuts(): number {
    return this.cuts.afterRequest + this.cuts.beforeResponse + this.cuts.lifetime
  }

  /** For ClientConfig.socketFactory: connects to the proxy in front of the address asked for. */
  readonly socketFactory = (o: { host: string; port: number }): Socket => {
    const route = this.#routes.get(`${o.host}:${o.port}`)
    if (route === undefined) throw new Error(`fault proxy: no route to ${o.host}:${o.port}`)
    return connect({ host: '127.0.0.1', port: route.port })
  }

  /** Cuts every open connection now. */
  cutAll(): void {
    for (const s of this.#sockets) s.resetAndDestroy()
  }

  async close(): Promise<void> {
    this.#chaos = null
    for (const s of this.#sockets) s.destroy()
    await Promise.all([...this.#routes.values()].map((r) => new Promise<void>((res) => r.server.close(() => res()))))
  }

  #pipe(client: Socket, target: { host: string; port: number }): void {
    this.connections++
    const upstream = connect(target)
    this.#sockets.add(client)
    this.#sockets.add(upstream)
    let cut = false
    const random = () => (this.#chaos?.random ?? Math.random)()
    const kill = (why: keyof FaultProxy['cuts']): void => {
      if (cut) return
      cut = true
      this.cuts[why]++
      if (random() < 0.5) {
        client.resetAndDestroy()
        upstream.resetAndDestroy()
      } else {
        client.end()
        upstream.end()
        setTimeout(() => {
          client.destroy()
          upstream.destroy()
        }, 50).unref()
      }
    }
    const life = this.#chaos?.lifetimeMs
    if (life !== undefined) {
      const t = setTimeout(() => kill('lifetime'), life[0] + random() * (life[1] - life[0]))
      t.unref()
      client.once('close', () => clearTimeout(t))
    }
    client.on('data', (chunk: Buffer) => {
      if (cut) return
      upstream.write(chunk)
      const c = this.#chaos
      if (c?.afterRequest !== undefined && random() < c.afterRequest) setImmediate(() => kill('afterRequest'))
    })
    upstream.on('data', (chunk: Buffer) => {
      if (cut) return
      const c = this.#chaos
      if (c?.beforeResponse !== undefined && random() < c.beforeResponse) {
        kill('beforeResponse')
        return
      }
      client.write(chunk)
    })
    const done = (): void => {
      client.destroy()
      upstream.destroy()
      this.#sockets.delete(client)
      this.#sockets.delete(upstream)
    }
    client.on('close', done)
    upstream.on('close', done)
    client.on('error', () => undefined)
    upstream.on('error', () => undefined)
  }
}
