// Prometheus counters of state sync, both sides: what a syncing member fetched and refused, and
// what this member served or refused to others. Counting only: it never changes a decision.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { StateSyncRefusal, StateSyncRequest } from './state-sync-protocol.ts'
import type { StateSyncFault, StateSyncMetrics } from './state-sync.ts'

export class PrometheusStateSyncMetrics implements StateSyncMetrics {
  readonly faults: Counter<'fault'>
  readonly chunkBytes: Counter
  readonly chunks: Counter
  readonly syncedHeight: Gauge
  readonly syncSeconds: Histogram
  readonly servedRequests: Counter<'kind'>
  readonly servedBytes: Counter<'kind'>
  readonly refusedStreams: Counter<'reason'>

  constructor (registry: Registry) {
    this.faults = new Counter({ name: 'pylon_state_sync_faults_total', help: 'Members\' answers not used while syncing, by fault (bad-chunk: failed its hash; uncertified-manifest: root without a certificate)', labelNames: ['fault'], registers: [registry] })
    this.chunks = new Counter({ name: 'pylon_state_sync_chunks_total', help: 'Verified checkpoint chunks fetched', registers: [registry] })
    this.chunkBytes = new Counter({ name: 'pylon_state_sync_bytes_total', help: 'Bytes of verified checkpoint chunks fetched', registers: [registry] })
    this.syncedHeight = new Gauge({ name: 'pylon_state_sync_height', help: 'Height of the last checkpoint imported by state sync', registers: [registry] })
    this.syncSeconds = new Histogram({ name: 'pylon_state_sync_seconds', help: 'Duration of a successful state sync (list, prove, fetch, import)', buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800], registers: [registry] })
    this.servedRequests = new Counter({ name: 'pylon_state_sync_served_total', help: 'State-sync requests this node answered, by kind', labelNames: ['kind'], registers: [registry] })
    this.servedBytes = new Counter({ name: 'pylon_state_sync_served_bytes_total', help: 'Bytes this node sent to syncing members, by kind', labelNames: ['kind'], registers: [registry] })
    this.refusedStreams = new Counter({ name: 'pylon_state_sync_refused_total', help: 'State-sync streams refused: malformed request, subnet not served, non-member', labelNames: ['reason'], registers: [registry] })
  }

  fault (fault: StateSyncFault): void { this.faults.inc({ fault }) }
  chunk (bytes: number): void {
    this.chunks.inc()
    this.chunkBytes.inc(bytes)
  }

  synced (height: bigint, seconds: number): void {
    this.syncedHeight.set(Number(height))
    this.syncSeconds.observe(seconds)
  }

  served (kind: StateSyncRequest['kind'], bytes: number): void {
    this.servedRequests.inc({ kind })
    this.servedBytes.inc({ kind }, bytes)
  }

  refused (reason: StateSyncRefusal): void { this.refusedStreams.inc({ reason }) }
}
