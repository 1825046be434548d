// The directory of known subnets: SubnetId → signed genesis, learned from gossip, peers, the DHT
// or this node's own formations, so any node can route to any subnet. Bounded; it admits only
// geneses every member signed (decodeGenesis) and never throws for bad input.

import { cidOfBytes } from '../../protocol/codec.ts'
import type { SubnetId } from '../../protocol/ids.ts'
import { subnetDirectoryEntriesMax } from '../../protocol/limits.ts'
import { err, ok, type Result } from '../../protocol/result.ts'
import { decodeGenesis, encodeGenesis, type Subnet } from '../../protocol/subnet.ts'
import { BoundedMap } from '../core/bounded-map.ts'
import type { Clock } from '../core/clock.ts'
import type { DirectorySource, FormationMetrics } from './formation-metrics.ts'

export interface SubnetDirectoryComponents {
  clock: Clock
  metrics: FormationMetrics
}

export interface SubnetDirectoryInit {
  /** @default subnetDirectoryEntriesMax */
  entriesMax?: number
}

export interface DirectoryEntry {
  subnet: Subnet
  /** The canonical signed-genesis bytes: what we forward and answer with, and what the id hashes. */
  bytes: Uint8Array
  source: DirectorySource
  learnedAtMs: number
}

/** 'added': new to us; 'known': already held (nothing was re-verified). */
export type DirectoryOutcome = 'added' | 'known'

export class SubnetDirectory {
  readonly #c: SubnetDirectoryComponents
  readonly #entries: BoundedMap<SubnetId, DirectoryEntry>
  readonly #listeners = new Set<(entry: DirectoryEntry) => void>()

  constructor (components: SubnetDirectoryComponents, init: SubnetDirectoryInit = {}) {
    this.#c = components
    this.#entries = new BoundedMap(init.entriesMax ?? subnetDirectoryEntriesMax)
  }

  /** Checks and stores untrusted signed-genesis bytes. */
  offerBytes (bytes: Uint8Array, source: DirectorySource): Result<{ entry: DirectoryEntry, outcome: DirectoryOutcome }> {
    // The id is the hash of the canonical bytes, so bytes hashing to a held id are the held bytes:
    // a re-announcement costs one hash, not n signature checks.
    if (bytes instanceof Uint8Array) {
      const known = this.#entries.get(cidOfBytes(bytes).toString() as SubnetId)
      if (known !== undefined) return ok({ entry: known, outcome: 'known' })
    }
    const decoded = decodeGenesis(bytes)
    if (!decoded.ok) {
      this.#c.metrics.directoryRejected.inc({ source })
      return err(decoded.error)
    }
    return ok({ entry: this.#store(decoded.value, bytes, source), outcome: 'added' })
  }

  /** Stores an already validated subnet (one this node assembled or loaded). */
  add (subnet: Subnet, source: DirectorySource): DirectoryEntry {
    return this.#entries.get(subnet.id) ?? this.#store(subnet, encodeGenesis(subnet), source)
  }

  get (id: SubnetId): DirectoryEntry | undefined {
    return this.#entries.get(id)
  }

  /** Every known subnet, oldest creation first, ties by id: a stable order for listings. */
  list (): DirectoryEntry[] {
    return [...this.#entries.values()].sort((a, b) => {
      const byTime = a.subnet.genesis.createdMs - b.subnet.genesis.createdMs
      return byTime !== 0n ? (byTime < 0n ? -1 : 1) : (a.subnet.id < b.subnet.id ? -1 : a.subnet.id > b.subnet.id ? 1 : 0)
    })
  }

  get size (): number {
    return this.#entries.size
  }

  /** Called once for each newly added subnet. Returns an unsubscribe. */
  onAdded (listener: (entry: DirectoryEntry) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  #store (subnet: Subnet, bytes: Uint8Array, source: DirectorySource): DirectoryEntry {
    const entry: DirectoryEntry = { subnet, bytes, source, learnedAtMs: this.#c.clock.now() }
    this.#entries.set(subnet.id, entry)
    this.#c.metrics.directoryAccepted.inc({ source })
    this.#c.metrics.directorySize.set(this.#entries.size)
    for (const listener of this.#listeners) listener(entry)
    return entry
  }
}
