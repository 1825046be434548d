// What the subnet services count (executed heights, receipts by outcome, finalize time, certified
// height) and a Prometheus implementation. Counting only: it never changes a decision.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export interface SubnetMetrics {
  /** A height was executed and committed: its receipts and how long finalize took. */
  finalized (subnet: string, height: bigint, receipts: { ok: number, failed: number, skipped: number }, seconds: number): void
  /** A height got its certificate (2f+1 member shares). */
  certified (subnet: string, height: bigint): void
}

export const noSubnetMetrics: SubnetMetrics = { finalized () {}, certified () {} }

export class PrometheusSubnetMetrics implements SubnetMetrics {
  readonly height: Gauge<'subnet'>
  readonly certifiedHeight: Gauge<'subnet'>
  readonly receipts: Counter<'subnet' | 'outcome'>
  readonly finalizeSeconds: Histogram<'subnet'>

  constructor (registry: Registry) {
    this.height = new Gauge({ name: 'pylon_subnet_height', help: 'Last executed and committed height of each served subnet', labelNames: ['subnet'], registers: [registry] })
    this.certifiedHeight = new Gauge({ name: 'pylon_subnet_certified_height', help: 'Last height with a state certificate (2f+1 member signatures)', labelNames: ['subnet'], registers: [registry] })
    this.receipts = new Counter({ name: 'pylon_subnet_messages_total', help: 'Messages of finalized blocks by outcome: ok, failed (certified error receipt), skipped (replay, expired: not executed)', labelNames: ['subnet', 'outcome'], registers: [registry] })
    this.finalizeSeconds = new Histogram({ name: 'pylon_subnet_finalize_seconds', help: 'Time to execute and durably commit one finalized block', labelNames: ['subnet'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] })
  }

  finalized (subnet: string, height: bigint, receipts: { ok: number, failed: number, skipped: number }, seconds: number): void {
    this.height.set({ subnet }, Number(height))
    if (receipts.ok > 0) this.receipts.inc({ subnet, outcome: 'ok' }, receipts.ok)
    if (receipts.failed > 0) this.receipts.inc({ subnet, outcome: 'failed' }, receipts.failed)
    if (receipts.skipped > 0) this.receipts.inc({ subnet, outcome: 'skipped' }, receipts.skipped)
    this.finalizeSeconds.observe({ subnet }, seconds)
  }

  certified (subnet: string, height: bigint): void {
    this.certifiedHeight.set({ subnet }, Number(height))
  }
}
