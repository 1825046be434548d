// Moves adverts between nodes: the gossip topic pylon/capacity/1, the request/response protocol
// /pylon/capacity/1.0.0 (a newly identified peer is asked for its book at once, and one random peer
// every interval, so discovery converges without waiting for the gossip mesh), and the DHT record
// type /pylon-capacity/<nodeId>. Everything received goes through the book; nothing here trusts a peer.

import { lpStream } from '@libp2p/utils'
import { capacityProtocol, capacityTopic, decodeCapacityAdvert } from '../../protocol/capacity.ts'
import { decode, encode } from '../../protocol/codec.ts'
import type { NodeId } from '../../protocol/ids.ts'
import {
  capacityExchangeAdvertsMax, capacityExchangeBytesMax, capacityExchangeRequestBytesMax, capacityExchangeStreamsMax,
  capacityExchangeTimeoutMs
} from '../../protocol/limits.ts'
import { err, ok, type Result } from '../../protocol/result.ts'
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/startable.ts'
import type { GossipVerdict, Net, Stream } from '../net/net.ts'
import type { AdvertBook } from './advert-book.ts'
import type { CapacityMetrics } from './capacity-metrics.ts'

export const capacityRecordNamespace = 'pylon-capacity'

/** The DHT key of a node's advert. */
export function capacityRecordKey (nodeId: NodeId): Uint8Array {
  return new TextEncoder().encode(`/${capacityRecordNamespace}/${nodeId}`)
}

export interface CapacitySyncComponents {
  net: Net
  book: AdvertBook
  clock: Clock
  logger: Logger
  metrics: CapacityMetrics
}

export interface CapacitySyncInit {
  /** How often one random connected peer is asked for its book (anti-entropy). @default 30_000 */
  pullIntervalMs?: number
}

export class CapacitySync implements Startable {
  readonly #c: CapacitySyncComponents
  readonly #pullIntervalMs: number
  #cancelPull: (() => void) | undefined
  #unlisten: (() => void) | undefined
  #registered = false
  #running = false

  constructor (components: CapacitySyncComponents, init: CapacitySyncInit = {}) {
    this.#c = components
    this.#pullIntervalMs = init.pullIntervalMs ?? 30_000
  }

  /** Registers topic, protocol and DHT record type; runs before the net starts (see daemon.ts). */
  async start (): Promise<void> {
    this.#running = true
    const { net } = this.#c
    if (!this.#registered) {
      this.#registered = true
      net.registerRecordType(capacityRecordNamespace, {
        validate: (key, value) => { this.#validateRecord(key, value) },
        select: (_key, values) => this.#selectRecord(values)
      })
      net.subscribe(capacityTopic, message => this.#onGossip(message.data))
      net.handle(capacityProtocol, async (stream) => { await this.#serve(stream) },
        { inboundStreamsMax: capacityExchangeStreamsMax, outboundStreamsMax: capacityExchangeStreamsMax })
    }
    this.#unlisten = net.onPeerIdentified((peer, protocols) => {
      if (protocols.includes(capacityProtocol)) void this.pull(peer)
    })
    const tick = (): void => {
      if (!this.#running) return
      const peers = this.#c.net.connections()
      const peer = peers[Math.floor(Math.random() * peers.length)]
      if (peer !== undefined) void this.pull(peer.nodeId)
      this.#cancelPull = this.#c.clock.setTimer(this.#pullIntervalMs, tick)
    }
    this.#cancelPull = this.#c.clock.setTimer(this.#pullIntervalMs, tick)
  }

  async stop (): Promise<void> {
    this.#running = false
    this.#cancelPull?.()
    this.#unlisten?.()
  }

  #onGossip (data: Uint8Array): GossipVerdict {
    const result = this.#c.book.offerBytes(data, 'gossip')
    if (result.ok) return 'accept'
    // Forged or malformed: the forwarder sent something no honest node would, so penalize it.
    // Expired or replayed: an honest relay can be late, so just drop it.
    return result.error.reason === 'forged' || result.error.reason === 'malformed' || result.error.reason === 'oversized' ? 'reject' : 'ignore'
  }

  /** Answers one request with up to capacityExchangeAdvertsMax of our freshest adverts. */
  async #serve (stream: Stream): Promise<void> {
    const signal = AbortSignal.timeout(capacityExchangeTimeoutMs)
    const lp = lpStream(stream, { maxDataLength: capacityExchangeRequestBytesMax })
    let frame: Uint8Array
    try {
      frame = (await lp.read({ signal })).subarray()
    } catch (error) {
      // A broken length prefix, an over-long frame, or a peer that never finished its request.
      this.#c.metrics.reject('malformed', 'exchange')
      throw error
    }
    const request = decode(frame, { bytesMax: capacityExchangeRequestBytesMax })
    if (!request.ok || !isBookRequest(request.value)) {
      this.#c.metrics.reject('malformed', 'exchange')
      stream.abort(new Error('bad capacity request'))
      return
    }
    const adverts = this.#c.book.freshest(capacityExchangeAdvertsMax).map(e => e.bytes)
    await lp.write(encode({ adverts }), { signal })
    await stream.close({ signal })
  }

  /** Asks `peer` for its book and offers every advert to ours; new ones are forwarded on gossip. */
  async pull (peer: NodeId): Promise<Result<number>> {
    const signal = AbortSignal.timeout(capacityExchangeTimeoutMs)
    let stream: Stream | undefined
    try {
      stream = await this.#c.net.dial(peer, capacityProtocol, { signal })
      const lp = lpStream(stream, { maxDataLength: capacityExchangeBytesMax })
      await lp.write(encode({ op: 'book' }), { signal })
      const answer = decode((await lp.read({ signal })).subarray(), { bytesMax: capacityExchangeBytesMax })
      await stream.close({ signal }).catch(() => {})
      const adverts = answer.ok ? bookAnswer(answer.value) : undefined
      if (adverts === undefined) {
        this.#c.metrics.reject('malformed', 'exchange')
        return err(`bad capacity answer from ${peer}`)
      }
      let learned = 0
      for (const bytes of adverts) {
        if (this.#c.book.offerBytes(bytes, 'exchange').ok) {
          learned++
          // Forward what we learned first-hand so the rest of the mesh need not wait for the
          // author's next republish; nodes that already hold it drop it as a replay.
          this.#c.net.publish(capacityTopic, bytes).catch(() => {})
        }
      }
      return ok(learned)
    } catch (error) {
      stream?.abort(error as Error)
      this.#c.logger.debug('capacity pull failed', { peer, error: (error as Error).message })
      return err((error as Error).message)
    }
  }

  #validateRecord (key: Uint8Array, value: Uint8Array): void {
    const decoded = decodeCapacityAdvert(value, { nowMs: this.#c.clock.now() })
    if (!decoded.ok) {
      this.#c.metrics.reject(decoded.error.reason, 'dht')
      throw new Error(decoded.error.message)
    }
    const expected = new TextDecoder().decode(capacityRecordKey(decoded.value.advert.nodeId))
    if (new TextDecoder().decode(key) !== expected) throw new Error('advert stored under another node\'s key')
  }

  #selectRecord (values: Uint8Array[]): number {
    let best = 0
    let bestSeq = -1n
    values.forEach((value, i) => {
      const decoded = decodeCapacityAdvert(value, { nowMs: this.#c.clock.now() })
      if (decoded.ok && decoded.value.advert.seq > bestSeq) {
        best = i
        bestSeq = decoded.value.advert.seq
      }
    })
    return best
  }
}

function isBookRequest (value: unknown): boolean {
  return value !== null && typeof value === 'object' && (value as Record<string, unknown>).op === 'book' && Object.keys(value).length === 1
}

function bookAnswer (value: unknown): Uint8Array[] | undefined {
  if (value === null || typeof value !== 'object') return undefined
  const adverts = (value as Record<string, unknown>).adverts
  if (!Array.isArray(adverts) || adverts.length > capacityExchangeAdvertsMax) return undefined
  return adverts.every(a => a instanceof Uint8Array) ? adverts as Uint8Array[] : undefined
}
