// The book of the network's capacity adverts: the newest valid advert per node, until it expires.
// It refuses forged, expired, oversized and replayed adverts (counting each by reason) and never
// throws for bad input; its size is bounded by advertBookEntriesMax.

import { decodeCapacityAdvert, type AdvertRejection, type SignedCapacityAdvert } from '../../protocol/capacity.ts'
import type { NodeId } from '../../protocol/ids.ts'
import { advertBookEntriesMax } from '../../protocol/limits.ts'
import { err, ok, type Result } from '../../protocol/result.ts'
import { BoundedMap } from '../core/bounded-map.ts'
import type { Clock } from '../core/clock.ts'
import type { Startable } from '../core/startable.ts'
import type { AdvertSource, CapacityMetrics } from './capacity-metrics.ts'

export interface AdvertBookComponents {
  clock: Clock
  metrics: CapacityMetrics
}

export interface AdvertBookInit {
  /** @default advertBookEntriesMax */
  entriesMax?: number
  /** How often expired adverts are swept out. @default 10_000 — list() already hides them. */
  sweepIntervalMs?: number
}

export interface BookEntry {
  signed: SignedCapacityAdvert
  /** The advert's canonical bytes as received: what we forward and answer with, unchanged. */
  bytes: Uint8Array
  receivedAtMs: number
}

/** 'added': a node new to us; 'updated': a newer advert of a known node. */
export type OfferOutcome = 'added' | 'updated'

export class AdvertBook implements Startable {
  readonly #c: AdvertBookComponents
  readonly #entries: BoundedMap<NodeId, BookEntry>
  readonly #sweepIntervalMs: number
  #cancelSweep: (() => void) | undefined

  constructor (components: AdvertBookComponents, init: AdvertBookInit = {}) {
    this.#c = components
    this.#entries = new BoundedMap(init.entriesMax ?? advertBookEntriesMax)
    this.#sweepIntervalMs = init.sweepIntervalMs ?? 10_000
  }

  async start (): Promise<void> {
    const tick = (): void => {
      this.sweep()
      this.#cancelSweep = this.#c.clock.setTimer(this.#sweepIntervalMs, tick)
    }
    this.#cancelSweep = this.#c.clock.setTimer(this.#sweepIntervalMs, tick)
  }

  async stop (): Promise<void> {
    this.#cancelSweep?.()
    this.#cancelSweep = undefined
  }

  /** Decodes, checks and stores untrusted advert bytes. */
  offerBytes (bytes: Uint8Array, source: AdvertSource): Result<OfferOutcome, AdvertRejection> {
    const decoded = decodeCapacityAdvert(bytes, { nowMs: this.#c.clock.now() })
    if (!decoded.ok) {
      this.#c.metrics.reject(decoded.error.reason, source)
      return decoded
    }
    return this.#store(decoded.value, bytes, source)
  }

  #store (signed: SignedCapacityAdvert, bytes: Uint8Array, source: AdvertSource): Result<OfferOutcome, AdvertRejection> {
    const nodeId = signed.advert.nodeId
    const current = this.#entries.get(nodeId)
    if (current !== undefined && signed.advert.seq <= current.signed.advert.seq) {
      this.#c.metrics.reject('replayed', source)
      return err({ reason: 'replayed', message: `advert of ${nodeId} has seq ${signed.advert.seq} <= ${current.signed.advert.seq} already held` })
    }
    this.#entries.set(nodeId, { signed, bytes, receivedAtMs: this.#c.clock.now() })
    this.#c.metrics.accepted.inc({ source })
    this.#c.metrics.bookSize.set(this.#entries.size)
    return ok(current === undefined ? 'added' : 'updated')
  }

  get (nodeId: NodeId): BookEntry | undefined {
    const entry = this.#entries.get(nodeId)
    return entry !== undefined && !this.#expired(entry) ? entry : undefined
  }

  /** Live adverts, sorted by node id so answers are stable. */
  list (): BookEntry[] {
    return [...this.#entries.values()].filter(e => !this.#expired(e))
      .sort((a, b) => a.signed.advert.nodeId < b.signed.advert.nodeId ? -1 : a.signed.advert.nodeId > b.signed.advert.nodeId ? 1 : 0)
  }

  /** Up to `count` live entries, the most recently issued first: what a peer asking for our book gets. */
  freshest (count: number): BookEntry[] {
    return this.list().sort((a, b) => Number(b.signed.advert.issuedAtMs - a.signed.advert.issuedAtMs)).slice(0, count)
  }

  get size (): number {
    return this.#entries.size
  }

  /** Drops expired adverts; returns how many. */
  sweep (): number {
    let dropped = 0
    for (const [nodeId, entry] of [...this.#entries.entries()]) {
      if (this.#expired(entry)) {
        this.#entries.delete(nodeId)
        dropped++
      }
    }
    this.#c.metrics.bookSize.set(this.#entries.size)
    return dropped
  }

  #expired (entry: BookEntry): boolean {
    return entry.signed.advert.expiresAtMs <= BigInt(Math.trunc(this.#c.clock.now()))
  }
}
