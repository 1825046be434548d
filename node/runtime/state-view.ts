// The synchronous view of actor storage that execution reads, and MemoryState, its in-memory form.
// Actors call storage synchronously from inside wasm while LevelDB is asynchronous, so the caller
// PRELOADS every actor a block touches (each bounded by actorStorageBytesMax) before executing;
// execution itself never waits, reads a file or writes anything here.

import type { ActorId } from '../../protocol/ids.ts'
import { compareBytes, type StateWrite } from '../../protocol/receipt.ts'
import { lowerBound } from '../core/lower-bound.ts'

/** Read-only, synchronous actor storage. Keys are ordered bytewise. */
export interface StateView {
  get (actor: ActorId, key: Uint8Array): Uint8Array | undefined
  /** Entries with start <= key < end (empty end: no upper bound), ascending, at most `limit`. */
  range (actor: ActorId, start: Uint8Array, end: Uint8Array, limit: number): Array<[Uint8Array, Uint8Array]>
  /** Sum of key + value bytes the actor holds: what its storage quota counts. */
  storageBytes (actor: ActorId): number
}

/** Where preloading reads an actor's entries from: the Store satisfies it (node/store). */
export interface EntrySource {
  actorEntries (actor: ActorId): AsyncIterable<{ key: Uint8Array, value: Uint8Array }>
}

/**
 * The synchronous view a block executes against: every entry of each named actor, read before
 * execution. Bounded: each actor holds at most actorStorageBytesMax (the quota), so this is too.
 */
export async function preloadState (source: EntrySource, actors: Iterable<ActorId>, options: { signal?: AbortSignal } = {}): Promise<MemoryState> {
  const state = new MemoryState()
  for (const actor of new Set(actors)) {
    for await (const { key, value } of source.actorEntries(actor)) {
      options.signal?.throwIfAborted()
      state.set(actor, key, value)
    }
  }
  return state
}

/** Keys as latin1 strings: one char per byte, so string order is byte order and Maps can hold them. */
export function keyString (key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')
}

export function keyBytes (key: string): Uint8Array {
  return new Uint8Array(Buffer.from(key, 'latin1'))
}

/** One actor's entries: a Map, plus its keys sorted lazily (rebuilt after a key is added or removed). */
class SortedEntries {
  readonly values = new Map<string, Uint8Array>()
  #sorted: string[] | undefined = []
  bytes = 0

  set (key: string, value: Uint8Array): void {
    const old = this.values.get(key)
    if (old === undefined) {
      this.#sorted = undefined
      this.bytes += key.length
    } else {
      this.bytes -= old.length
    }
    this.values.set(key, value)
    this.bytes += value.length
  }

  delete (key: string): void {
    const old = this.values.get(key)
    if (old === undefined) return
    this.values.delete(key)
    this.#sorted = undefined
    this.bytes -= key.length + old.length
  }

  sortedKeys (): string[] {
    this.#sorted ??= [...this.values.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    return this.#sorted
  }
}

/** StateView held in memory: the preloaded state of a block's actors, or a whole test state. */
export class MemoryState implements StateView {
  readonly #actors = new Map<ActorId, SortedEntries>()

  /** A state holding exactly `entries`, e.g. from store.actorEntries for each touched actor. */
  static from (entries: Iterable<[ActorId, Iterable<[Uint8Array, Uint8Array]>]>): MemoryState {
    const state = new MemoryState()
    for (const [actor, pairs] of entries) {
      for (const [key, value] of pairs) state.set(actor, key, value)
    }
    return state
  }

  get (actor: ActorId, key: Uint8Array): Uint8Array | undefined {
    return this.#actors.get(actor)?.values.get(keyString(key))
  }

  range (actor: ActorId, start: Uint8Array, end: Uint8Array, limit: number): Array<[Uint8Array, Uint8Array]> {
    const entries = this.#actors.get(actor)
    if (entries === undefined || limit <= 0) return []
    const keys = entries.sortedKeys()
    const from = keyString(start)
    const to = end.length === 0 ? undefined : keyString(end)
    const out: Array<[Uint8Array, Uint8Array]> = []
    for (let i = lowerBound(keys, from); i < keys.length && out.length < limit; i++) {
      const key = keys[i]!
      if (to !== undefined && key >= to) break
      out.push([keyBytes(key), entries.values.get(key)!])
    }
    return out
  }

  storageBytes (actor: ActorId): number {
    return this.#actors.get(actor)?.bytes ?? 0
  }

  set (actor: ActorId, key: Uint8Array, value: Uint8Array): void {
    let entries = this.#actors.get(actor)
    if (entries === undefined) {
      entries = new SortedEntries()
      this.#actors.set(actor, entries)
    }
    entries.set(keyString(key), value)
  }

  delete (actor: ActorId, key: Uint8Array): void {
    this.#actors.get(actor)?.delete(keyString(key))
  }

  /** Applies a block's write set (what the store does durably). */
  apply (writes: StateWrite[]): void {
    for (const write of writes) {
      if (write.value === null) this.delete(write.actor, write.key)
      else this.set(write.actor, write.key, write.value)
    }
  }

  /** Every entry of every actor, sorted: for tests that compare whole states. */
  dump (): Array<[ActorId, Uint8Array, Uint8Array]> {
    const out: Array<[ActorId, Uint8Array, Uint8Array]> = []
    for (const actor of [...this.#actors.keys()].sort()) {
      for (const [key, value] of this.range(actor, new Uint8Array(0), new Uint8Array(0), Number.MAX_SAFE_INTEGER)) out.push([actor, key, value])
    }
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : compareBytes(a[1], b[1])))
  }
}
