// The local HTTP API (node:http): /v1/node, /v1/peers, /v1/capacity, Prometheus /metrics, and the
// routes other components mount (ApiRoute, handed in by daemon.ts). It bounds bodies, headers,
// connections and request time, answers every bad request with a JSON error, and never lets a
// request crash the daemon.

import { createServer, STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { rm, writeFile } from 'node:fs/promises'
import type { Registry } from 'prom-client'
import { apiBodyBytesMax, apiConnectionsMax, apiPeersMax, apiRequestTimeoutMs } from '../../protocol/limits.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/startable.ts'

export interface ApiServerComponents {
  logger: Logger
  registry: Registry
  /** GET /v1/node */
  node: () => unknown
  /** GET /v1/peers */
  peers: () => unknown[]
  /** GET /v1/capacity */
  capacity: () => unknown[]
  /** Routes of other components (subnets, ingress, directory…), matched after the built-in ones. */
  routes?: ApiRoute[]
  /** Paths served by taking over the connection (WebSocket upgrades), matched like `routes`. */
  upgrades?: ApiUpgrade[]
}

/**
 * A path whose `Upgrade:` requests a component serves itself (`path` as in ApiRoute). From the
 * call on the handler owns the socket: it completes the upgrade or answers with `refuseUpgrade`.
 * Sockets still open a second into stop() are destroyed.
 */
export interface ApiUpgrade {
  path: string
  upgrade (request: IncomingMessage, socket: Duplex, head: Buffer, params: Record<string, string>): void
}

/** What a mounted route sees: the body is already read and bounded by apiBodyBytesMax. */
export interface ApiRequest {
  method: string
  path: string
  /** Values of the route's `:name` segments, URI-decoded. */
  params: Record<string, string>
  query: URLSearchParams
  headers: IncomingHttpHeaders
  body: Uint8Array
  /** Aborted when the client goes away. */
  signal: AbortSignal
}

/** `json` is sent as JSON (bigints as strings, bytes as hex); else `raw` with `type`. */
export interface ApiAnswer {
  status: number
  json?: unknown
  raw?: string | Uint8Array
  type?: string
}

/** A route another component mounts: `path` has literal segments and `:name` captures (`/v1/subnets/:id`). */
export interface ApiRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  path: string
  /** @default apiBodyBytesMax — larger only for routes that take envelopes or code (limits.ts). */
  bodyBytesMax?: number
  handle (request: ApiRequest): Promise<ApiAnswer>
}

export interface ApiServerInit {
  host: string
  /** 0 picks a free port; read it from `url` after start (and from apiFile). */
  port: number
  /** Where to write {url, pid} once listening, so CLI commands find this daemon by --data-dir. */
  apiFile?: string
}

type Route = (req: IncomingMessage) => Promise<{ status: number, body: string, type: string }>

export class ApiServer implements Startable {
  readonly #c: ApiServerComponents
  readonly #init: ApiServerInit
  readonly #routes: Map<string, Route>
  /** Mounted routes with their patterns split once (every request is matched against them). */
  readonly #mounted: Array<{ route: ApiRoute, segments: string[] }>
  #server: Server | undefined
  #url: string | undefined
  /** Connections handed to an upgrade handler, still open. */
  readonly #upgraded = new Set<Duplex>()

  constructor (components: ApiServerComponents, init: ApiServerInit) {
    this.#c = components
    this.#init = init
    const json = (value: () => unknown): Route => async () => ({ status: 200, body: toJson(value()), type: 'application/json' })
    this.#routes = new Map<string, Route>([
      ['/v1/node', json(components.node)],
      ['/v1/peers', json(() => components.peers().slice(0, apiPeersMax))],
      ['/v1/capacity', json(components.capacity)],
      ['/metrics', async () => ({ status: 200, body: await components.registry.metrics(), type: components.registry.contentType })]
    ])
    this.#mounted = (components.routes ?? []).map(route => ({ route, segments: route.path.split('/') }))
  }

  /** http://HOST:PORT once started. */
  get url (): string {
    if (this.#url === undefined) throw new Error('api is not started')
    return this.#url
  }

  async start (): Promise<void> {
    const server = createServer({ requestTimeout: apiRequestTimeoutMs, headersTimeout: apiRequestTimeoutMs }, (req, res) => {
      this.#serve(req, res).catch(error => {
        this.#c.logger.error('api request failed', { url: req.url, error })
        if (!res.headersSent) send(res, 500, { ok: false, error: 'internal error' })
        else res.destroy()
      })
    })
    server.maxConnections = apiConnectionsMax
    server.on('clientError', (_error, socket) => {
      // Malformed HTTP (bad request line, oversized headers): answer if we still can, then close.
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      else socket.destroy()
    })
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => { this.#upgrade(req, socket, head) })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.#init.port, this.#init.host, () => { server.off('error', reject); resolve() })
    })
    this.#server = server
    const address = server.address() as AddressInfo
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
    this.#url = `http://${host}:${address.port}`
    if (this.#init.apiFile !== undefined) {
      await writeFile(this.#init.apiFile, JSON.stringify({ url: this.#url, pid: process.pid }) + '\n', { mode: 0o644 })
    }
    this.#c.logger.info('api listening', { url: this.#url })
  }

  async stop (): Promise<void> {
    const server = this.#server
    if (server === undefined) return
    this.#server = undefined
    if (this.#init.apiFile !== undefined) await rm(this.#init.apiFile, { force: true })
    server.closeIdleConnections()
    const closed = new Promise<void>(resolve => server.close(() => resolve()))
    // Requests in flight get a moment; then their sockets are cut so shutdown stays prompt.
    const timer = setTimeout(() => {
      server.closeAllConnections()
      for (const socket of this.#upgraded) socket.destroy()
    }, 1000)
    await closed
    clearTimeout(timer)
  }

  async #serve (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const declared = Number(req.headers['content-length'] ?? 0)
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    // Matched once: the body bound is the route's, and the same match serves the request.
    const matching = this.#routes.has(path) ? [] : this.#matchMounted(path)
    const bodyMax = matching.find(m => m.route.method === req.method)?.route.bodyBytesMax ?? apiBodyBytesMax
    if (Number.isNaN(declared) || declared > bodyMax) {
      res.setHeader('Connection', 'close')
      send(res, 413, { ok: false, error: `request body too large: ${req.headers['content-length']} > ${bodyMax} bytes` })
      req.destroy()
      return
    }
    const body = await readBody(req, bodyMax)
    if (body === undefined) {
      res.setHeader('Connection', 'close')
      send(res, 413, { ok: false, error: `request body too large: > ${bodyMax} bytes` })
      req.destroy()
      return
    }
    const route = this.#routes.get(path)
    if (route === undefined && await this.#serveMounted(req, res, path, body, matching)) return
    if (route === undefined) {
      send(res, 404, { ok: false, error: `no such route: ${req.method} ${path.slice(0, 200)}` })
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD')
      send(res, 405, { ok: false, error: `${path} answers GET only, got ${req.method}` })
      return
    }
    const answer = await route(req)
    res.writeHead(answer.status, { 'Content-Type': answer.type, 'Cache-Control': 'no-store' })
    res.end(req.method === 'HEAD' ? undefined : answer.body)
  }

  /** Hands an upgrade request to the component that mounted its path; anything else gets a JSON error. */
  #upgrade (req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node leaves an upgraded socket without an error listener: an error would otherwise be thrown.
    socket.on('error', () => { socket.destroy() })
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    const found = (this.#c.upgrades ?? []).flatMap(u => {
      const params = matchPath(u.path, path)
      return params === undefined ? [] : [{ upgrade: u, params }]
    })[0]
    if (found === undefined) {
      refuseUpgrade(socket, 404, { ok: false, error: `no upgradable route: ${req.method} ${path.slice(0, 200)}` })
      return
    }
    this.#upgraded.add(socket)
    socket.once('close', () => { this.#upgraded.delete(socket) })
    try {
      found.upgrade.upgrade(req, socket, head, found.params)
    } catch (error) {
      this.#c.logger.error('api upgrade failed', { url: req.url, error })
      refuseUpgrade(socket, 500, { ok: false, error: 'internal error' })
    }
  }

  /** The mounted routes whose pattern matches `path`, with their captures. */
  #matchMounted (path: string): Array<{ route: ApiRoute, params: Record<string, string> }> {
    const got = path.split('/')
    const matching: Array<{ route: ApiRoute, params: Record<string, string> }> = []
    for (const { route, segments } of this.#mounted) {
      const params = matchSegments(segments, got)
      if (params !== undefined) matching.push({ route, params })
    }
    return matching
  }

  /** Serves a mounted route (`matching`: the routes whose path matches); false when there is none. */
  async #serveMounted (req: IncomingMessage, res: ServerResponse, path: string, body: Uint8Array, matching: Array<{ route: ApiRoute, params: Record<string, string> }>): Promise<boolean> {
    if (matching.length === 0) return false
    const method = req.method === 'HEAD' ? 'GET' : req.method
    const found = matching.find(m => m.route.method === method)
    if (found === undefined) {
      res.setHeader('Allow', matching.map(m => m.route.method).join(', '))
      send(res, 405, { ok: false, error: `${path.slice(0, 200)} answers ${matching.map(m => m.route.method).join(', ')}, got ${req.method}` })
      return true
    }
    const gone = new AbortController()
    res.once('close', () => { if (!res.writableFinished) gone.abort(new Error('client went away')) })
    const answer = await found.route.handle({
      method: method ?? 'GET', path, params: found.params, query: new URLSearchParams((req.url ?? '').split('?')[1] ?? ''),
      headers: req.headers, body, signal: gone.signal
    })
    const type = answer.json !== undefined || answer.raw === undefined ? 'application/json' : (answer.type ?? 'application/octet-stream')
    res.writeHead(answer.status, { 'Content-Type': type, 'Cache-Control': 'no-store' })
    res.end(req.method === 'HEAD' ? undefined : (answer.raw ?? toJson(answer.json ?? null)))
    return true
  }
}

/** The `:name` captures when `pattern` matches `path` segment for segment, else undefined. */
function matchPath (pattern: string, path: string): Record<string, string> | undefined {
  return matchSegments(pattern.split('/'), path.split('/'))
}

function matchSegments (want: readonly string[], got: readonly string[]): Record<string, string> | undefined {
  if (want.length !== got.length) return undefined
  const params: Record<string, string> = {}
  for (let i = 0; i < want.length; i++) {
    const segment = want[i]!
    if (segment.startsWith(':')) {
      if (got[i] === '') return undefined
      try {
        params[segment.slice(1)] = decodeURIComponent(got[i]!)
      } catch {
        return undefined
      }
    } else if (segment !== got[i]) return undefined
  }
  return params
}

/**
 * The body, or undefined once it passes `bytesMax` (chunked bodies have no content-length). Read
 * with events, not `for await`: an async iterator costs promises and listeners on every request.
 */
async function readBody (req: IncomingMessage, bytesMax: number): Promise<Uint8Array | undefined> {
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let length = 0
    const onData = (chunk: Buffer): void => {
      length += chunk.length
      if (length > bytesMax) {
        done()
        resolve(undefined)
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => { done(); resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)) }
    const onError = (error: Error): void => { done(); reject(error) }
    const onClose = (): void => { done(); reject(new Error('request closed before its body ended')) }
    const done = (): void => { req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose) }
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose)
  })
}

/** Answers an upgrade request with an HTTP error (JSON body, as every other error) and closes the connection. */
export function refuseUpgrade (socket: Duplex, status: number, value: unknown): void {
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const body = toJson(value)
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
}

function send (res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' })
  res.end(toJson(value))
}

/** JSON with bigints as decimal strings and bytes as hex, like the CLI's --json. */
function toJson (value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (typeof v === 'bigint') return v.toString()
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex')
    return v
  }) + '\n'
}
