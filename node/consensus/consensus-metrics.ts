// What the consensus driver counts (refused peer input, dropped frames, finalized heights, WAL
// syncs, evidence) and a Prometheus implementation. Counting only: it never changes a decision.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** Why a peer's input never reached the replica. */
export type ConsensusRefusal = 'non-member' | 'oversized' | 'malformed' | 'queue-full'
/** Why an outbound frame was not delivered. */
export type ConsensusDrop = 'outbox-full' | 'write-failed' | 'dial-failed'

export interface ConsensusMetrics {
  refused (subnet: string, reason: ConsensusRefusal): void
  dropped (subnet: string, reason: ConsensusDrop, frames: number): void
  finalized (subnet: string, height: bigint): void
  walSynced (subnet: string, seconds: number): void
  evidence (subnet: string): void
}

export const noConsensusMetrics: ConsensusMetrics = {
  refused () {}, dropped () {}, finalized () {}, walSynced () {}, evidence () {}
}

export class PrometheusConsensusMetrics implements ConsensusMetrics {
  readonly refusedTotal: Counter<'subnet' | 'reason'>
  readonly droppedTotal: Counter<'subnet' | 'reason'>
  readonly finalizedHeight: Gauge<'subnet'>
  readonly walSyncSeconds: Histogram<'subnet'>
  readonly evidenceTotal: Counter<'subnet'>

  constructor (registry: Registry) {
    this.refusedTotal = new Counter({ name: 'pylon_consensus_refused_total', help: 'Consensus input from peers refused before the replica, by reason (non-member, oversized, malformed, queue-full)', labelNames: ['subnet', 'reason'], registers: [registry] })
    this.droppedTotal = new Counter({ name: 'pylon_consensus_dropped_frames_total', help: 'Outbound consensus frames not delivered, by reason', labelNames: ['subnet', 'reason'], registers: [registry] })
    this.finalizedHeight = new Gauge({ name: 'pylon_consensus_finalized_height', help: 'Last height finalized and committed by this replica', labelNames: ['subnet'], registers: [registry] })
    this.walSyncSeconds = new Histogram({ name: 'pylon_consensus_wal_sync_seconds', help: 'Time to append and fsync one consensus WAL record', labelNames: ['subnet'], buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1], registers: [registry] })
    this.evidenceTotal = new Counter({ name: 'pylon_consensus_evidence_total', help: 'Equivocation proofs seen (two conflicting signed votes of one member)', labelNames: ['subnet'], registers: [registry] })
  }

  refused (subnet: string, reason: ConsensusRefusal): void { this.refusedTotal.inc({ subnet, reason }) }
  dropped (subnet: string, reason: ConsensusDrop, frames: number): void { this.droppedTotal.inc({ subnet, reason }, frames) }
  finalized (subnet: string, height: bigint): void { this.finalizedHeight.set({ subnet }, Number(height)) }
  walSynced (subnet: string, seconds: number): void { this.walSyncSeconds.observe({ subnet }, seconds) }
  evidence (subnet: string): void { this.evidenceTotal.inc({ subnet }) }
}
