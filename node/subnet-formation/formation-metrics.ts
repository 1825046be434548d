// Prometheus metrics of subnet formation and the subnet directory: proposals answered, subnets
// created or refused, geneses accepted or refused by source. Registered in the daemon's registry.

import { Counter, Gauge, type Registry } from 'prom-client'

/** Where a genesis came from: gossip, a peer's directory answer, the DHT, a commit, or this node. */
export type DirectorySource = 'gossip' | 'exchange' | 'dht' | 'commit' | 'local'

export class FormationMetrics {
  readonly directoryAccepted: Counter<'source'>
  readonly directoryRejected: Counter<'source'>
  readonly directorySize: Gauge
  readonly proposals: Counter<'outcome'>
  readonly creations: Counter<'outcome'>

  constructor (registry: Registry) {
    this.directoryAccepted = new Counter({ name: 'pylon_subnet_directory_accepted_total', help: 'Signed geneses added to the subnet directory, by source', labelNames: ['source'], registers: [registry] })
    this.directoryRejected = new Counter({ name: 'pylon_subnet_directory_rejected_total', help: 'Geneses refused (malformed, oversized, a member signature missing or forged), by source', labelNames: ['source'], registers: [registry] })
    this.directorySize = new Gauge({ name: 'pylon_subnet_directory_subnets', help: 'Subnets the directory knows', registers: [registry] })
    this.proposals = new Counter({ name: 'pylon_subnet_proposals_total', help: 'Subnet proposals this node answered as a member, by outcome (signed, refused, malformed)', labelNames: ['outcome'], registers: [registry] })
    this.creations = new Counter({ name: 'pylon_subnet_creations_total', help: 'Subnet creations this node led, by outcome (created, placement, proposal, commit)', labelNames: ['outcome'], registers: [registry] })
  }
}
