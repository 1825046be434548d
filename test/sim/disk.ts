// A simulated disk for one replica's WAL: appended records are durable only once synced. A crash
// drops every unsynced record and may leave a torn (truncated) copy of the first one behind, as a
// real power cut can. Never touches the real file system.

import type { Prng } from './prng.ts'

interface DiskRecord { bytes: Uint8Array, view: bigint, synced: boolean }

export class SimDisk {
  private records: DiskRecord[] = []
  appends = 0
  syncs = 0
  lostOnCrash = 0
  torn = 0

  append (bytes: Uint8Array, view: bigint): void {
    this.records.push({ bytes, view, synced: false })
    this.appends++
  }

  /** fsync: everything appended so far is durable. */
  sync (): void {
    for (let i = this.records.length - 1; i >= 0 && !this.records[i]!.synced; i--) this.records[i]!.synced = true
    this.syncs++
  }

  crash (rng: Prng): void {
    const firstUnsynced = this.records.findIndex(r => !r.synced)
    if (firstUnsynced < 0) return
    const lost = this.records.splice(firstUnsynced)
    this.lostOnCrash += lost.length
    const first = lost[0]!
    if (rng.chance(0.5) && first.bytes.length > 1) {
      // The write was under way: a prefix reached the platter.
      this.records.push({ bytes: first.bytes.slice(0, rng.int(first.bytes.length)), view: first.view, synced: true })
      this.torn++
    }
  }

  /** What a restart reads back, in write order. */
  read (): Uint8Array[] {
    return this.records.map(r => r.bytes)
  }

  /** The driver cut the WAL at the first bad record (a torn tail). */
  truncate (count: number): void {
    this.records.length = Math.min(this.records.length, count)
  }

  /** Drops records of views below `view` (made redundant by the finalized tip). */
  prune (view: bigint): void {
    this.records = this.records.filter(r => r.view >= view)
  }

  get size (): number {
    return this.records.length
  }
}
