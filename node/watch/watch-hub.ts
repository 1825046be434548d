// Who watches which actor, and handing each committed height's per-message changes to them as
// JSON lines. It bounds watchers per actor and per node and cuts off a watcher whose unsent backlog
// passes a bound; called from the commit path, it never blocks, awaits, or lets a watcher throw.

import type { ActorId, Height, SubnetId } from '../../protocol/ids.ts'
import { subnetOfActorId } from '../../protocol/ids.ts'
import { watchBufferedBytesMax, watchEventKeysMax, watchSubscribersMax, watchSubscribersPerActorMax } from '../../protocol/limits.ts'
import { err, ok, type Result } from '../../protocol/result.ts'
import type { Logger } from '../core/logger.ts'
import type { ChangeSink, MessageChange } from '../subnet/subnet-service.ts'
import { noWatchMetrics, type WatchMetrics } from './watch-metrics.ts'

/** One event of `GET /v1/actors/:actorId/watch`, as sent (one JSON text frame each). */
export interface WatchEvent {
  actor: ActorId
  /** Decimal (u64). */
  height: string
  /** Receipt index within the height. */
  index: number
  method: string
  caller: string
  ok: boolean
  /** Hex keys the message set or deleted, ascending; at most watchEventKeysMax. */
  changedKeys: string[]
  /** How many keys it changed in all (more than changedKeys.length when the list is cut). */
  changedKeyCount: number
  /** Sent at commit, before the height's certificate exists. */
  certified: false
}

/** One open stream, as the hub sees it (a WebSocket in node/api/watch-routes.ts, a fake in tests). */
export interface Watcher {
  /** Bytes sent to this watcher that the OS has not taken yet. */
  backlogBytes (): number
  send (text: string): void
  /** Ends the stream with a WebSocket close code and a reason (at most 123 bytes). */
  close (code: number, reason: string): void
}

/** WebSocket close codes the hub uses. */
export const closeCodes = { done: 1000, goingAway: 1001, policy: 1008, tryAgain: 1013 } as const

export interface WatchHubInit {
  perActorMax?: number
  totalMax?: number
  bufferedBytesMax?: number
}

export type WatchRefusal = { reason: 'too-many-watchers', message: string }

export class WatchHub implements ChangeSink {
  readonly #logger: Logger
  readonly #metrics: WatchMetrics
  readonly #perActorMax: number
  readonly #totalMax: number
  readonly #bufferedBytesMax: number
  readonly #byActor = new Map<ActorId, Set<Watcher>>()
  readonly #bySubnet = new Map<SubnetId, number>()
  #count = 0

  constructor (components: { logger: Logger, metrics?: WatchMetrics }, init: WatchHubInit = {}) {
    this.#logger = components.logger
    this.#metrics = components.metrics ?? noWatchMetrics
    this.#perActorMax = init.perActorMax ?? watchSubscribersPerActorMax
    this.#totalMax = init.totalMax ?? watchSubscribersMax
    this.#bufferedBytesMax = init.bufferedBytesMax ?? watchBufferedBytesMax
  }

  /** Open streams on this node. */
  get size (): number { return this.#count }

  /** Whether one more watcher of `actor` fits (the route asks before it completes the upgrade). */
  room (actor: ActorId): Result<true, WatchRefusal> {
    if (this.#count >= this.#totalMax) return err({ reason: 'too-many-watchers', message: `this node already streams to ${this.#count} watchers (limit ${this.#totalMax})` })
    const held = this.#byActor.get(actor)?.size ?? 0
    if (held >= this.#perActorMax) return err({ reason: 'too-many-watchers', message: `actor ${actor} already has ${held} watchers (limit ${this.#perActorMax})` })
    return ok(true)
  }

  /** Adds a watcher of `actor`; the answer removes it (idempotent). */
  add (actor: ActorId, watcher: Watcher): Result<() => void, WatchRefusal> {
    const room = this.room(actor)
    if (!room.ok) return room
    let set = this.#byActor.get(actor)
    if (set === undefined) this.#byActor.set(actor, set = new Set())
    set.add(watcher)
    this.#count++
    const subnet = subnetOfActorId(actor)
    this.#bySubnet.set(subnet, (this.#bySubnet.get(subnet) ?? 0) + 1)
    return ok(() => { this.#remove(actor, watcher) })
  }

  watching (subnet: SubnetId): boolean {
    return (this.#bySubnet.get(subnet) ?? 0) > 0
  }

  /** Sends each change to its actor's watchers, in receipt order. Never throws. */
  committed (_subnet: SubnetId, height: Height, changes: MessageChange[]): void {
    let sent = 0
    for (const change of changes) {
      const set = this.#byActor.get(change.actor)
      if (set === undefined) continue
      const text = JSON.stringify(eventOf(height, change))
      const bytes = Buffer.byteLength(text)
      for (const watcher of [...set]) {
        try {
          const backlog = watcher.backlogBytes()
          if (backlog + bytes > this.#bufferedBytesMax) {
            // Slow readers are dropped, never waited for: the commit path must not stall on a client.
            this.#remove(change.actor, watcher)
            this.#metrics.dropped('slow')
            watcher.close(closeCodes.tryAgain, `too slow: ${backlog + bytes} bytes unsent > ${this.#bufferedBytesMax}`)
            continue
          }
          watcher.send(text)
          sent++
        } catch (error) {
          this.#remove(change.actor, watcher)
          this.#metrics.dropped('error')
          this.#logger.debug('watcher failed; dropped', { actor: change.actor, error })
        }
      }
      // A deleted actor has nothing more to say: its streams end normally after the $delete event.
      if (change.method === '$delete' && change.ok) this.#closeActor(change.actor, closeCodes.done, 'actor deleted')
    }
    if (sent > 0) this.#metrics.sent(sent)
  }

  /** Ends every stream (node stopping). */
  closeAll (code: number, reason: string): void {
    for (const actor of [...this.#byActor.keys()]) this.#closeActor(actor, code, reason)
  }

  #closeActor (actor: ActorId, code: number, reason: string): void {
    for (const watcher of [...this.#byActor.get(actor) ?? []]) {
      this.#remove(actor, watcher)
      try {
        watcher.close(code, reason)
      } catch (error) {
        this.#logger.debug('watcher close failed', { actor, error })
      }
    }
  }

  #remove (actor: ActorId, watcher: Watcher): void {
    const set = this.#byActor.get(actor)
    if (set === undefined || !set.delete(watcher)) return
    if (set.size === 0) this.#byActor.delete(actor)
    this.#count--
    const subnet = subnetOfActorId(actor)
    const left = (this.#bySubnet.get(subnet) ?? 1) - 1
    if (left === 0) this.#bySubnet.delete(subnet)
    else this.#bySubnet.set(subnet, left)
  }
}

/** The event a change becomes: keys as hex, cut at watchEventKeysMax with the full count kept. */
export function eventOf (height: Height, change: MessageChange): WatchEvent {
  return {
    actor: change.actor,
    height: height.toString(),
    index: change.index,
    method: change.method,
    caller: change.caller,
    ok: change.ok,
    changedKeys: change.changedKeys.slice(0, watchEventKeysMax).map(k => Buffer.from(k).toString('hex')),
    changedKeyCount: change.changedKeys.length,
    certified: false
  }
}
