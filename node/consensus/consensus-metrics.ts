// What the consensus driver counts (refused peer input, dropped frames, finalized heights, WAL
// syncs, evidence, the replica's own refusals) and a Prometheus implementation. Counting only: it
// never changes a decision.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { Counters } from '../../protocol/consensus/replica.ts'
import type { MemberChannelStatus } from './member-channel.ts'

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
  /**
   * Shows a running replica's counters (replica.ts: bad signatures, stale, future, duplicate…
   * messages it refused after decoding), read when the metrics are scraped, never per message.
   * Returns the function that stops showing them (the driver calls it when it stops).
   */
  watchReplica? (subnet: string, counters: () => Counters): () => void
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
  readonly replicaRefused: Gauge<'subnet' | 'reason'>
  /** The counters of each subnet's running replica, by subnet (a restarted driver replaces its entry). */
  readonly #replicas = new Map<string, () => Counters>()

  constructor (registry: Registry) {
    this.refusedTotal = new Counter({ name: 'pylon_consensus_refused_total', help: 'Consensus input from peers refused before the replica, by reason (non-member, oversized, malformed, queue-full)', labelNames: ['subnet', 'reason'], registers: [registry] })
    this.droppedTotal = new Counter({ name: 'pylon_consensus_dropped_frames_total', help: 'Outbound consensus frames not delivered, by reason', labelNames: ['subnet', 'reason'], registers: [registry] })
    this.finalizedHeight = new Gauge({ name: 'pylon_consensus_finalized_height', help: 'Last height finalized and committed by this replica', labelNames: ['subnet'], registers: [registry] })
    this.walSyncSeconds = new Histogram({ name: 'pylon_consensus_wal_sync_seconds', help: 'Time to append and fsync one consensus WAL record', labelNames: ['subnet'], buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1], registers: [registry] })
    this.evidenceTotal = new Counter({ name: 'pylon_consensus_evidence_total', help: 'Equivocation proofs seen (two conflicting signed votes of one member)', labelNames: ['subnet'], registers: [registry] })
    this.replicaRefused = new Gauge({
      name: 'pylon_consensus_replica_refused',
      help: 'Consensus messages the replica refused since it started, by reason (bad-signature, stale, future, duplicate, invalid-proposal, …)',
      labelNames: ['subnet', 'reason'],
      registers: [registry],
      // Read on scrape: the replica counts in its own state, so the pump never pays for this.
      collect: () => {
        this.replicaRefused.reset()
        for (const [subnet, counters] of this.#replicas) {
          for (const [name, value] of Object.entries(counters())) this.replicaRefused.set({ subnet, reason: kebabCase(name) }, value)
        }
      }
    })
  }

  refused (subnet: string, reason: ConsensusRefusal): void { this.refusedTotal.inc({ subnet, reason }) }
  dropped (subnet: string, reason: ConsensusDrop, frames: number): void { this.droppedTotal.inc({ subnet, reason }, frames) }
  finalized (subnet: string, height: bigint): void { this.finalizedHeight.set({ subnet }, Number(height)) }
  walSynced (subnet: string, seconds: number): void { this.walSyncSeconds.observe({ subnet }, seconds) }
  evidence (subnet: string): void { this.evidenceTotal.inc({ subnet }) }

  watchReplica (subnet: string, counters: () => Counters): () => void {
    this.#replicas.set(subnet, counters)
    return () => { if (this.#replicas.get(subnet) === counters) this.#replicas.delete(subnet) }
  }
}

/**
 * The member channels' counters (node/consensus/member-channel.ts), read from the running channels
 * when the metrics are scraped: refused input by reason (a member sending garbage, forged shares, or
 * asking for certificates past its allowance), frames received by kind, frames dropped unsent.
 */
export class PrometheusMemberChannelMetrics {
  readonly refused: Gauge<'subnet' | 'reason'>
  readonly received: Gauge<'subnet' | 'kind'>
  readonly dropped: Gauge<'subnet'>

  constructor (registry: Registry, channels: () => Array<{ subnet: string, status: MemberChannelStatus }>) {
    // Each gauge reads the channels when scraped (a few subnets): the channels pay nothing per frame.
    this.refused = new Gauge({
      name: 'pylon_member_refused',
      help: 'Member-channel input refused since the channel started, by reason (non-member, oversized, malformed, bad-ingress, bad-share, bad-certificate, rate-limited)',
      labelNames: ['subnet', 'reason'],
      registers: [registry],
      collect: () => {
        this.refused.reset()
        for (const { subnet, status } of channels()) for (const [reason, value] of Object.entries(status.refused)) this.refused.set({ subnet, reason }, value)
      }
    })
    this.received = new Gauge({
      name: 'pylon_member_frames_received',
      help: 'Member-channel frames handed to their sink since the channel started, by kind',
      labelNames: ['subnet', 'kind'],
      registers: [registry],
      collect: () => {
        this.received.reset()
        for (const { subnet, status } of channels()) for (const [kind, value] of Object.entries(status.received)) this.received.set({ subnet, kind: kebabCase(kind) }, value)
      }
    })
    this.dropped = new Gauge({
      name: 'pylon_member_frames_dropped',
      help: 'Member-channel frames dropped unsent (a member\'s outbox full, or its stream failed)',
      labelNames: ['subnet'],
      registers: [registry],
      collect: () => {
        this.dropped.reset()
        for (const { subnet, status } of channels()) this.dropped.set({ subnet }, status.dropped)
      }
    })
  }
}

/** `badSignature` → `bad-signature`, like the reasons of pylon_consensus_refused_total. */
function kebabCase (name: string): string {
  return name.replace(/[A-Z]/g, letter => `-${letter.toLowerCase()}`)
}
