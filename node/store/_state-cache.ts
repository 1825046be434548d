// Committed state the store has read, kept equal to the committed state by the store's own commits
// (private to node/store): single rows after a get, and the whole state of small actors after a full
// read (preloading). It never reads or writes the database, never holds a value no commit made, and
// hands out copies, so no caller can change what it holds.

import type { ActorId } from '../../protocol/ids.ts'
import { storeActorCacheActorsMax, storeActorCacheBytesMax, storeRowCacheEntriesMax, storeRowCacheValueBytesMax } from '../../protocol/limits.ts'
import { BoundedMap } from '../core/bounded-map.ts'

export interface CachedEntry { key: Uint8Array, value: Uint8Array }

/** One committed write as the cache sees it: `name` is its row key as a latin1 string. */
export interface CachedWrite { actor: ActorId, key: Uint8Array, name: string, value: Uint8Array | null }

/** Every entry of one actor, by key (latin1: string order is byte order). */
class ActorEntries {
  readonly byKey = new Map<string, CachedEntry>()
  bytes = 0
  #sorted: CachedEntry[] | undefined

  set (key: Uint8Array, value: Uint8Array | null): void {
    const name = latin1(key)
    const old = this.byKey.get(name)
    if (old !== undefined) this.bytes -= old.key.length + old.value.length
    if (value === null) {
      if (old !== undefined) this.byKey.delete(name)
    } else {
      this.byKey.set(name, { key: key.slice(), value: value.slice() })
      this.bytes += key.length + value.length
    }
    if (old === undefined || value === null) this.#sorted = undefined
    else if (this.#sorted !== undefined) this.#sorted[this.#sorted.indexOf(old)] = this.byKey.get(name)!
  }

  sorted (): CachedEntry[] {
    this.#sorted ??= [...this.byKey.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([, e]) => e)
    return this.#sorted
  }
}

export class StateCache {
  readonly #rows = new BoundedMap<string, Uint8Array | null>(storeRowCacheEntriesMax)
  readonly #actors = new BoundedMap<ActorId, ActorEntries>(storeActorCacheActorsMax)
  #generation = 0

  /** Changes at every commit and clear: a read that began under another generation is not kept. */
  get generation (): number { return this.#generation }

  /** The committed value of a row: a copy, null when known absent, undefined when not cached. */
  row (actor: ActorId, key: Uint8Array, row: string): Uint8Array | null | undefined {
    const entries = this.#actors.get(actor)
    if (entries !== undefined) return entries.byKey.get(latin1(key))?.value.slice() ?? null
    const value = this.#rows.get(row)
    return value === undefined || value === null ? value : value.slice()
  }

  /** Keeps a row read from the database while `generation` was current (not when a commit came between). */
  keepRow (generation: number, row: string, value: Uint8Array | undefined): void {
    if (generation !== this.#generation || (value !== undefined && value.length > storeRowCacheValueBytesMax)) return
    this.#rows.set(row, value === undefined ? null : value.slice())
  }

  /** Every entry of a cached actor in key order (copies), or undefined. */
  actor (actor: ActorId): CachedEntry[] | undefined {
    return this.#actors.get(actor)?.sorted().map(e => ({ key: e.key.slice(), value: e.value.slice() }))
  }

  /** Keeps the complete state of an actor read while `generation` was current, if it is small. */
  keepActor (generation: number, actor: ActorId, entries: readonly CachedEntry[]): void {
    if (generation !== this.#generation) return
    const held = new ActorEntries()
    for (const { key, value } of entries) {
      held.set(key, value)
      if (held.bytes > storeActorCacheBytesMax) return
    }
    this.#actors.set(actor, held)
  }

  /** Applies a commit's writes (one per row, the last), once its batch is in the database. */
  applyCommit (writes: readonly CachedWrite[]): void {
    this.#generation++
    for (const write of writes) {
      if (this.#rows.has(write.name)) {
        if (write.value !== null && write.value.length > storeRowCacheValueBytesMax) this.#rows.delete(write.name)
        else this.#rows.set(write.name, write.value === null ? null : write.value.slice())
      }
      const entries = this.#actors.get(write.actor)
      if (entries === undefined) continue
      entries.set(write.key, write.value)
      if (entries.bytes > storeActorCacheBytesMax) this.#actors.delete(write.actor)
    }
  }

  /** Forgets everything: a failed commit (the database's state is unknown) or an import. */
  clear (): void {
    this.#generation++
    this.#rows.clear()
    this.#actors.clear()
  }
}

function latin1 (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}
