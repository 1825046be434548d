// `GET /v1/ingress/stream` upgraded to a WebSocket: many signed envelopes over one connection, each
// handled by the very handler of POST /v1/ingress?wait=1 and answered with one JSON frame once its
// result is known. It never decides anything that handler does not, and never answers twice.
//
// Frames. Client → node: binary, one signed envelope each (the bytes POST /v1/ingress takes).
// Node → client: text, the JSON body POST /v1/ingress?wait=1 would have answered plus `code`, its
// HTTP status, and `ingressId` always set (for a refusal it is computed from the frame's bytes: the
// CID of any bytes is defined, so even garbage is answered by name). Answers come in completion
// order. JSON, not dag-cbor: measured on a certified answer, JSON costs the node ~3 µs against
// ~8 µs and the client ~2.3 against ~5.4 µs, for ~29 % more bytes (bench consensus prints both).
// Refusals of one envelope (malformed, bad signature, expired, rate-limited, busy…) are answered on
// the stream, which stays open. The stream is closed, with a close code and reason, only for a text
// frame (1003), a frame over ingressStreamFrameBytesMax (1009, by ws), more than
// ingressStreamInFlightMax unanswered envelopes or answers left unread (1008), a dead peer (no
// pong), or the node stopping (1001). Closing cancels the stream's waits.

import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { Counter, Gauge, type Registry } from 'prom-client'
import { WebSocketServer, type WebSocket } from 'ws'
import { ingressIdOf } from '../../protocol/ingress.ts'
import {
  ingressStreamBufferedBytesMax, ingressStreamConnectionsMax, ingressStreamFrameBytesMax, ingressStreamInFlightMax,
  ingressStreamInFlightNodeMax, ingressStreamPingIntervalMs
} from '../../protocol/limits.ts'
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/startable.ts'
import { WebSocketHeartbeat } from './ws-heartbeat.ts'
import { refuseUpgrade, type ApiAnswer, type ApiRoute, type ApiUpgrade } from './api-server.ts'

export const ingressStreamPath = '/v1/ingress/stream'

/** WebSocket close codes (RFC 6455 §7.4.1) this route sends. */
export const streamCloseCodes = { goingAway: 1001, unsupportedData: 1003, policyViolation: 1008 } as const

/** Handles one envelope as POST /v1/ingress?wait=1 does; `signal` aborts its wait. */
export type IngressSubmit = (body: Uint8Array, signal: AbortSignal) => Promise<ApiAnswer>

export interface IngressStreamComponents {
  submit: IngressSubmit
  clock: Clock
  logger: Logger
  metrics?: IngressStreamMetrics
}

/** What the stream counts; counting only, it never changes an answer. */
export interface IngressStreamMetrics {
  /** One envelope answered, by the HTTP status its answer carries. */
  answered (code: number): void
  /** A stream ended, by its close code (1000 client done, 1001 node stopping, 1003/1008/1009 misuse, 1006 dropped). */
  closed (code: number): void
  /** An upgrade refused before the stream opened (reason = the JSON error's reason). */
  refused (reason: string): void
}

const noMetrics: IngressStreamMetrics = { answered () {}, closed () {}, refused () {} }

export class PrometheusIngressStreamMetrics implements IngressStreamMetrics {
  readonly #answers: Counter<'code'>
  readonly #closes: Counter<'code'>
  readonly #refusals: Counter<'reason'>

  /** `status` is read when Prometheus scrapes. */
  constructor (registry: Registry, status: () => { streams: number, inFlight: number }) {
    new Gauge({ name: 'pylon_ingress_streams', help: 'Open ingress streams (GET /v1/ingress/stream)', registers: [registry], collect () { this.set(status().streams) } })
    new Gauge({ name: 'pylon_ingress_stream_in_flight', help: 'Envelopes received on ingress streams and not answered yet', registers: [registry], collect () { this.set(status().inFlight) } })
    this.#answers = new Counter({ name: 'pylon_ingress_stream_answers_total', help: 'Envelopes answered on ingress streams, by the HTTP status of the answer', labelNames: ['code'], registers: [registry] })
    this.#closes = new Counter({ name: 'pylon_ingress_stream_closed_total', help: 'Ingress streams ended, by WebSocket close code', labelNames: ['code'], registers: [registry] })
    this.#refusals = new Counter({ name: 'pylon_ingress_stream_refused_total', help: 'Ingress stream upgrades refused before the stream opened, by reason', labelNames: ['reason'], registers: [registry] })
  }

  // Codes come from this node or a relayed member's HTTP status (100..599): a bounded label set.
  answered (code: number): void { this.#answers.inc({ code: String(Math.trunc(code) >= 100 && code <= 599 ? Math.trunc(code) : 0) }) }
  closed (code: number): void { this.#closes.inc({ code: String(code >= 1000 && code <= 4999 ? code : 0) }) }
  refused (reason: string): void { this.#refusals.inc({ reason }) }
}

export interface IngressStreamInit {
  /** @default ingressStreamPingIntervalMs */
  pingIntervalMs?: number
  /** @default ingressStreamConnectionsMax */
  connectionsMax?: number
  /** @default ingressStreamInFlightMax */
  inFlightMax?: number
  /** @default ingressStreamInFlightNodeMax */
  inFlightNodeMax?: number
}

interface Connection {
  /**
   * One controller per unanswered envelope, all aborted when the stream closes. Not one signal for
   * the stream: a wait adds an abort listener and removes it when answered, and removing one of
   * ~1,000 listeners on one EventTarget walks its list (4.3 against 0.8 µs per envelope, measured).
   */
  readonly waits: Set<AbortController>
  closed: boolean
  /** Answers written in this tick share one socket write (see #answer). */
  readonly socket: Duplex
  corked: boolean
}

const waitQuery = new URLSearchParams('wait=1')

/**
 * The POST /v1/ingress handler of `routes` (subnetRoutes) called with ?wait=1: the stream shares
 * its decode, verification, refusals, relay through a member and wait, line for line.
 */
export function waitingIngressHandler (routes: readonly ApiRoute[]): IngressSubmit {
  const route = routes.find(r => r.method === 'POST' && r.path === '/v1/ingress')
  if (route === undefined) throw new Error('no POST /v1/ingress route to stream into')
  return async (body, signal) => await route.handle({ method: 'POST', path: '/v1/ingress', params: {}, query: waitQuery, headers: {}, body, signal })
}

export class IngressStreamServer implements Startable {
  readonly #c: IngressStreamComponents
  readonly #metrics: IngressStreamMetrics
  readonly #connectionsMax: number
  readonly #inFlightMax: number
  readonly #inFlightNodeMax: number
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: ingressStreamFrameBytesMax, perMessageDeflate: false, clientTracking: false })
  readonly #open = new Map<WebSocket, Connection>()
  /** Upgrades admitted but not yet attached (the handshake is in progress): they count against the bound. */
  #upgrading = 0
  /** Unanswered envelopes over all streams. */
  #inFlight = 0
  readonly #heartbeat: WebSocketHeartbeat
  #running = false

  constructor (components: IngressStreamComponents, init: IngressStreamInit = {}) {
    this.#c = components
    this.#metrics = components.metrics ?? noMetrics
    this.#heartbeat = new WebSocketHeartbeat(components.clock, init.pingIntervalMs ?? ingressStreamPingIntervalMs)
    this.#connectionsMax = init.connectionsMax ?? ingressStreamConnectionsMax
    this.#inFlightMax = init.inFlightMax ?? ingressStreamInFlightMax
    this.#inFlightNodeMax = init.inFlightNodeMax ?? ingressStreamInFlightNodeMax
  }

  /** Open streams and their unanswered envelopes (for tests and status). */
  get status (): { streams: number, inFlight: number } {
    return { streams: this.#open.size, inFlight: this.#inFlight }
  }

  async start (): Promise<void> {
    this.#running = true
    this.#heartbeat.start()
  }

  async stop (): Promise<void> {
    this.#running = false
    this.#heartbeat.stop()
    for (const [ws, connection] of this.#open) {
      // Waits end now, not when the closing handshake does (a silent peer takes ws 30 s).
      endWaits(connection)
      ws.close(streamCloseCodes.goingAway, 'node stopping')
    }
    this.#wss.close()
  }

  /** Mounted on the ApiServer's `upgrades`. */
  upgrades (): ApiUpgrade[] {
    return [{ path: ingressStreamPath, upgrade: (req, socket, head) => { this.#upgrade(req, socket, head) } }]
  }

  /**
   * A plain GET learns what to do instead. Mount before the subnet routes: their GET
   * /v1/ingress/:id would otherwise take "stream" for an ingress id.
   */
  routes (): ApiRoute[] {
    return [{
      method: 'GET',
      path: ingressStreamPath,
      handle: async () => ({ status: 426, json: { ok: false, reason: 'upgrade-required', error: `${ingressStreamPath} is a WebSocket: connect with Upgrade: websocket and send one signed envelope per binary frame` } })
    }]
  }

  #upgrade (req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!this.#running) {
      this.#metrics.refused('not-running')
      refuseUpgrade(socket, 503, { ok: false, reason: 'not-running', error: 'ingress streams are not running: the node is starting or stopping' })
      return
    }
    if (this.#open.size + this.#upgrading >= this.#connectionsMax) {
      this.#metrics.refused('too-many-streams')
      refuseUpgrade(socket, 429, { ok: false, reason: 'too-many-streams', error: `this node has ${this.#open.size + this.#upgrading} ingress streams open, the most it allows (${this.#connectionsMax}); use fewer streams or POST /v1/ingress` })
      return
    }
    this.#upgrading++
    let counted = true
    const uncount = (): void => {
      if (counted) this.#upgrading--
      counted = false
    }
    // A handshake ws refuses (bad key or version) destroys the socket without calling back.
    socket.once('close', uncount)
    this.#wss.handleUpgrade(req, socket, head, ws => {
      uncount()
      socket.off('close', uncount)
      this.#attach(ws, socket)
    })
  }

  #attach (ws: WebSocket, socket: Duplex): void {
    if (!this.#running) {
      ws.close(streamCloseCodes.goingAway, 'node stopping')
      return
    }
    const connection: Connection = { waits: new Set(), closed: false, socket, corked: false }
    this.#open.set(ws, connection)
    this.#heartbeat.watch(ws)
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        cut(ws, connection, streamCloseCodes.unsupportedData, 'text frames are not envelopes: send each signed envelope as one binary frame')
        return
      }
      // A copy: the envelope may stay pooled for minutes, and `data` can be a view of a larger read.
      this.#envelope(ws, connection, new Uint8Array(data as Buffer))
    })
    // ws closes an oversized frame (1009) or broken framing itself; the error only needs noting.
    ws.on('error', error => { this.#c.logger.debug('ingress stream error', { error: error.message }) })
    ws.on('close', code => {
      this.#metrics.closed(code)
      this.#open.delete(ws)
      endWaits(connection)
    })
  }

  #envelope (ws: WebSocket, connection: Connection, bytes: Uint8Array): void {
    if (connection.closed) return
    if (connection.waits.size >= this.#inFlightMax) {
      cut(ws, connection, streamCloseCodes.policyViolation, `more than ${this.#inFlightMax} envelopes in flight on one stream: wait for answers`)
      return
    }
    if (this.#inFlight >= this.#inFlightNodeMax) {
      this.#answer(ws, connection, bytes, { status: 503, json: { ok: false, reason: 'busy', error: `this node has ${this.#inFlight} streamed envelopes in flight, the most it allows (${this.#inFlightNodeMax}); send it again later` } })
      return
    }
    const wait = new AbortController()
    connection.waits.add(wait)
    this.#inFlight++
    this.#c.submit(bytes, wait.signal).then(answer => {
      this.#answer(ws, connection, bytes, answer)
    }, (error: unknown) => {
      this.#c.logger.error('ingress stream envelope failed', { error })
      this.#answer(ws, connection, bytes, { status: 500, json: { ok: false, error: 'internal error' } })
    }).catch((error: unknown) => {
      // Answering itself failed (a bug): logged, never an unhandled rejection that ends the daemon.
      this.#c.logger.error('ingress stream answer failed', { error })
    }).finally(() => {
      connection.waits.delete(wait)
      this.#inFlight--
    })
  }

  #answer (ws: WebSocket, connection: Connection, bytes: Uint8Array, answer: ApiAnswer): void {
    if (ws.readyState !== ws.OPEN) return
    this.#metrics.answered(answer.status)
    // A certified height answers its envelopes in one run of microtasks: their frames leave in one
    // write (one syscall, one TCP segment train) once it ends, instead of a write each.
    if (!connection.corked) {
      connection.corked = true
      connection.socket.cork()
      process.nextTick(() => {
        connection.corked = false
        connection.socket.uncork()
      })
    }
    let frame: string
    try {
      frame = answerFrame(bytes, answer)
    } catch (error) {
      // A body JSON cannot carry (a bigint: a bug): still one answer, by name.
      this.#c.logger.error('ingress stream answer not encodable', { error })
      frame = JSON.stringify({ code: 500, ok: false, error: 'internal error: answer not encodable', ingressId: ingressIdOf(bytes) })
    }
    ws.send(frame)
    if (ws.bufferedAmount > ingressStreamBufferedBytesMax) {
      cut(ws, connection, streamCloseCodes.policyViolation, `answers not read: more than ${ingressStreamBufferedBytesMax} bytes unsent`)
    }
  }
}

/** Closes a misbehaving stream; its waits end now, not when the closing handshake does. */
function cut (ws: WebSocket, connection: Connection, code: number, reason: string): void {
  endWaits(connection)
  ws.close(code, reason)
}

/** A closed stream's envelopes stop waiting: their handlers answer at once (to no one). */
function endWaits (connection: Connection): void {
  connection.closed = true
  for (const wait of connection.waits) wait.abort(new Error('ingress stream closed'))
}

/**
 * The text of one answer: the HTTP status as `code`, then the JSON body's fields as POST
 * /v1/ingress?wait=1 sends them, and the envelope's IngressId when the body does not name it (a refusal).
 */
export function answerFrame (bytes: Uint8Array, answer: ApiAnswer): string {
  const body = typeof answer.json === 'object' && answer.json !== null ? answer.json as Record<string, unknown> : { ok: false, error: String(answer.json) }
  return JSON.stringify(typeof body.ingressId === 'string' ? { code: answer.status, ...body } : { code: answer.status, ...body, ingressId: ingressIdOf(bytes) })
}
