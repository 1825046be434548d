// What pylon watch counts (open streams, events sent, streams cut off, upgrades refused) and a
// Prometheus implementation. Counting only: it never changes what a watcher receives.

import { Counter, Gauge, type Registry } from 'prom-client'

export interface WatchMetrics {
  /** `events` event frames handed to watchers. */
  sent (events: number): void
  /** A stream the node ended: too slow a reader, or a send that failed. */
  dropped (reason: 'slow' | 'error'): void
  /** An upgrade refused before the WebSocket opened (reason = the JSON error's reason). */
  refused (reason: string): void
}

export const noWatchMetrics: WatchMetrics = { sent () {}, dropped () {}, refused () {} }

export class PrometheusWatchMetrics implements WatchMetrics {
  readonly streams: Gauge
  readonly events: Counter
  readonly drops: Counter<'reason'>
  readonly refusals: Counter<'reason'>

  /** `streams` reads the open stream count when Prometheus scrapes. */
  constructor (registry: Registry, streams: () => number) {
    this.streams = new Gauge({ name: 'pylon_watch_streams', help: 'Open pylon watch WebSocket streams', registers: [registry], collect () { this.set(streams()) } })
    this.events = new Counter({ name: 'pylon_watch_events_total', help: 'Watch events sent (one per executed message per watcher)', registers: [registry] })
    this.drops = new Counter({ name: 'pylon_watch_dropped_total', help: 'Watch streams the node ended: slow (unsent backlog over the bound), error (send failed)', labelNames: ['reason'], registers: [registry] })
    this.refusals = new Counter({ name: 'pylon_watch_refused_total', help: 'Watch upgrades refused before the stream opened, by reason', labelNames: ['reason'], registers: [registry] })
  }

  sent (events: number): void { this.events.inc(events) }
  dropped (reason: 'slow' | 'error'): void { this.drops.inc({ reason }) }
  refused (reason: string): void { this.refusals.inc({ reason }) }
}
