// `GET /v1/actors/:actorId/watch` upgraded to a WebSocket: a one-way stream of the actor's committed
// changes (node/watch/watch-hub.ts). It refuses, before upgrading, with an HTTP JSON error naming
// the problem (bad id, unknown actor, not a member: 421 + members, too many watchers). It never
// accepts data from the client: any data frame ends the stream; oversized or broken frames too.

import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { parseActorId, subnetOfActorId, type ActorId, type SubnetId } from '../../protocol/ids.ts'
import { watchClientFrameBytesMax, watchPingIntervalMs } from '../../protocol/limits.ts'
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/startable.ts'
import { WebSocketHeartbeat } from './ws-heartbeat.ts'
import type { WatchHub } from '../watch/watch-hub.ts'
import { noWatchMetrics, type WatchMetrics } from '../watch/watch-metrics.ts'
import { refuseUpgrade, type ApiRoute, type ApiUpgrade } from './api-server.ts'

export const watchPath = '/v1/actors/:actorId/watch'

/** WebSocket close codes (RFC 6455 §7.4.1) this route sends itself; the hub sends 1000 and 1013. */
const goingAway = 1001
const policyViolation = 1008
const tryAgainLater = 1013

/** What the route needs from the subnet manager. */
export interface WatchDirectory {
  get (id: SubnetId): { actor (actor: ActorId): Promise<unknown> } | undefined
  known (id: SubnetId): { memberIds: readonly string[] } | undefined
}

export interface WatchServerComponents {
  hub: WatchHub
  directory: WatchDirectory
  clock: Clock
  logger: Logger
  metrics?: WatchMetrics
}

export interface WatchServerInit {
  /** @default watchPingIntervalMs */
  pingIntervalMs?: number
}

export class WatchServer implements Startable {
  readonly #c: WatchServerComponents
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: watchClientFrameBytesMax, perMessageDeflate: false, clientTracking: false })
  readonly #heartbeat: WebSocketHeartbeat
  #running = false

  constructor (components: WatchServerComponents, init: WatchServerInit = {}) {
    this.#c = components
    this.#heartbeat = new WebSocketHeartbeat(components.clock, init.pingIntervalMs ?? watchPingIntervalMs)
  }

  async start (): Promise<void> {
    this.#running = true
    this.#heartbeat.start()
  }

  async stop (): Promise<void> {
    this.#running = false
    this.#heartbeat.stop()
    this.#c.hub.closeAll(goingAway, 'node stopping')
    this.#wss.close()
  }

  /** Mounted on the ApiServer's `upgrades`. */
  upgrades (): ApiUpgrade[] {
    return [{ path: watchPath, upgrade: (req, socket, head, params) => { void this.#upgrade(req, socket, head, params.actorId!) } }]
  }

  /** A plain GET (no Upgrade header) learns what to do instead. */
  routes (): ApiRoute[] {
    return [{
      method: 'GET',
      path: watchPath,
      handle: async () => ({ status: 426, json: { ok: false, reason: 'upgrade-required', error: `${watchPath} is a WebSocket: connect with Upgrade: websocket (pylon watch ACTOR)` } })
    }]
  }

  async #upgrade (req: IncomingMessage, socket: Duplex, head: Buffer, raw: string): Promise<void> {
    try {
      const actor = await this.#admit(raw)
      if (socket.destroyed) return
      if (!actor.ok) {
        (this.#c.metrics ?? noWatchMetrics).refused(String(actor.body.reason))
        refuseUpgrade(socket, actor.status, { ok: false, ...actor.body })
        return
      }
      // Checked again right before the upgrade (same tick as the add below): the lookup awaited.
      const room = this.#c.hub.room(actor.actor)
      if (!room.ok) {
        (this.#c.metrics ?? noWatchMetrics).refused(room.error.reason)
        refuseUpgrade(socket, 429, { ok: false, reason: room.error.reason, error: room.error.message })
        return
      }
      this.#wss.handleUpgrade(req, socket, head, ws => { this.#attach(ws, actor.actor) })
    } catch (error) {
      this.#c.logger.error('watch upgrade failed', { actor: raw.slice(0, 200), error })
      refuseUpgrade(socket, 500, { ok: false, error: 'internal error' })
    }
  }

  async #admit (raw: string): Promise<{ ok: true, actor: ActorId } | { ok: false, status: number, body: Record<string, unknown> }> {
    if (!this.#running) return { ok: false, status: 503, body: { reason: 'not-running', error: 'watch is not running: the node is starting or stopping' } }
    const parsed = parseActorId(raw)
    if (!parsed.ok) return { ok: false, status: 400, body: { reason: 'malformed', error: `not an actor id: ${parsed.error}` } }
    const actor = parsed.value
    const subnet = subnetOfActorId(actor)
    const service = this.#c.directory.get(subnet)
    if (service === undefined) {
      const known = this.#c.directory.known(subnet)
      if (known === undefined) return { ok: false, status: 404, body: { reason: 'unknown-subnet', subnet, error: `unknown subnet ${subnet}: this node neither serves nor knows it` } }
      return { ok: false, status: 421, body: { reason: 'not-member', subnet, members: [...known.memberIds], error: `this node is not a member of subnet ${subnet}; watch ${actor} on one of its members` } }
    }
    if (await service.actor(actor) === undefined) return { ok: false, status: 404, body: { reason: 'unknown-actor', error: `actor not installed: ${actor}` } }
    return { ok: true, actor }
  }

  #attach (ws: WebSocket, actor: ActorId): void {
    const added = this.#c.hub.add(actor, {
      backlogBytes: () => ws.bufferedAmount,
      send: text => { ws.send(text) },
      close: (code, reason) => { ws.close(code, reason) }
    })
    if (!added.ok) {
      ws.close(tryAgainLater, added.error.message.slice(0, 120))
      return
    }
    this.#heartbeat.watch(ws)
    // One-way stream: a client's data frame is a protocol misuse (ws itself ends oversized frames with 1009).
    ws.on('message', (_data, isBinary) => { ws.close(policyViolation, `this stream takes no ${isBinary ? 'binary' : 'text'} messages`) })
    ws.on('error', error => { this.#c.logger.debug('watch stream error', { actor, error: error.message }) })
    ws.on('close', () => { added.value() })
  }
}
