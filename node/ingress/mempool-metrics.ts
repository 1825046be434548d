// Prometheus counters and gauges for the mempool: accepted messages, refusals by reason, and its
// fill. Registered in the registry the daemon hands in, so /metrics shows them beside the rest.

import { Counter, Gauge, type Registry } from 'prom-client'
import type { MempoolMetrics, MempoolRefusal } from './mempool.ts'

export class PrometheusMempoolMetrics implements MempoolMetrics {
  readonly acceptedTotal: Counter
  readonly refusedTotal: Counter<'reason'>
  readonly pooledMessages: Gauge
  readonly pooledBytes: Gauge

  /** `sizes` reads the pool's fill when Prometheus scrapes (no work on the add path). */
  constructor (registry: Registry, sizes?: () => { messages: number, bytes: number }) {
    this.acceptedTotal = new Counter({ name: 'pylon_ingress_accepted_total', help: 'Ingress messages admitted to the mempool', registers: [registry] })
    this.refusedTotal = new Counter({ name: 'pylon_ingress_refused_total', help: 'Ingress messages refused by the mempool, by reason (bad-signature, expired, replay, rate-limited, full, …)', labelNames: ['reason'], registers: [registry] })
    this.pooledMessages = new Gauge({ name: 'pylon_ingress_pool_messages', help: 'Messages waiting in the mempool', registers: [registry], collect () { if (sizes !== undefined) this.set(sizes().messages) } })
    this.pooledBytes = new Gauge({ name: 'pylon_ingress_pool_bytes', help: 'Bytes of messages waiting in the mempool', registers: [registry], collect () { if (sizes !== undefined) this.set(sizes().bytes) } })
  }

  accepted (): void {
    this.acceptedTotal.inc()
  }

  refused (reason: MempoolRefusal): void {
    this.refusedTotal.inc({ reason })
  }
}
