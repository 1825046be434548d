// Prometheus counters for capacity adverts: accepted, and refused by reason. Registered in the
// registry the daemon hands in, so /metrics shows them beside libp2p's.

import { Counter, Gauge, type Registry } from 'prom-client'
import type { AdvertRejectReason } from '../../protocol/capacity.ts'

export class CapacityMetrics {
  readonly accepted: Counter<'source'>
  readonly rejected: Counter<'reason' | 'source'>
  readonly bookSize: Gauge
  readonly published: Counter

  constructor (registry: Registry) {
    this.accepted = new Counter({ name: 'pylon_capacity_adverts_accepted_total', help: 'Adverts added to or updated in the book', labelNames: ['source'], registers: [registry] })
    this.rejected = new Counter({ name: 'pylon_capacity_adverts_rejected_total', help: 'Adverts refused, by reason (forged, expired, replayed, oversized, malformed, premature)', labelNames: ['reason', 'source'], registers: [registry] })
    this.bookSize = new Gauge({ name: 'pylon_capacity_book_adverts', help: 'Adverts currently held in the book', registers: [registry] })
    this.published = new Counter({ name: 'pylon_capacity_adverts_published_total', help: 'Own adverts signed and published', registers: [registry] })
  }

  reject (reason: AdvertRejectReason, source: AdvertSource): void {
    this.rejected.inc({ reason, source })
  }
}

/** Where an advert came from: gossip, a capacity exchange, the DHT, or this node itself. */
export type AdvertSource = 'gossip' | 'exchange' | 'dht' | 'self'
