// Committed state the store has read, kept equal to the committed state by the store's own commits
// (private to node/store): single rows after a get, and key windows after a range read: every key
// of one actor in [start, upper), so a later range from the same start that ends by `upper` (time-
// ordered queues asking "anything due yet?", a small actor read whole for preloading) needs no read.
// It never reads or writes the database, never holds a value no commit made, and hands out copies.

import type { ActorId } from '../../protocol/ids.ts'
import { storeRangeCacheBytesMax, storeRangeCacheWindowsMax, storeRowCacheEntriesMax, storeRowCacheValueBytesMax } from '../../protocol/limits.ts'
import { BoundedMap } from '../core/bounded-map.ts'
import { lowerBound } from '../core/lower-bound.ts'

export interface CachedEntry { key: Uint8Array, value: Uint8Array }

/** One committed write as the cache sees it: `name` is its row key as a latin1 string. */
export interface CachedWrite { actor: ActorId, key: Uint8Array, name: string, value: Uint8Array | null }

/**
 * Every key of one actor in [start, upper) (upper null: to the actor's last key), by key as a
 * latin1 string, whose order is byte order. Past storeRangeCacheBytesMax it gives up its highest
 * keys and lowers `upper` to the first one given up: what it still claims stays complete.
 */
class Window {
  readonly actor: ActorId
  readonly start: string
  upper: string | null
  readonly rows = new Map<string, CachedEntry>()
  /** The keys of `rows` in order, kept sorted as keys come and go (a block changes a few of many). */
  readonly names: string[] = []
  #bytes = 0

  constructor (actor: ActorId, start: string, upper: string | null) {
    this.actor = actor
    this.start = start
    this.upper = upper
  }

  covers (name: string): boolean { return name >= this.start && (this.upper === null || name < this.upper) }

  set (name: string, key: Uint8Array, value: Uint8Array | null): void {
    const old = this.rows.get(name)
    if (old !== undefined) this.#bytes -= old.key.length + old.value.length
    if (value === null) {
      if (old !== undefined) {
        this.rows.delete(name)
        this.names.splice(lowerBound(this.names, name), 1)
      }
      return
    }
    this.rows.set(name, { key: key.slice(), value: value.slice() })
    this.#bytes += key.length + value.length
    if (old === undefined) {
      // Appending in order (a read filling the window, a queue growing at its end) costs no search.
      if (this.names.length === 0 || this.names.at(-1)! < name) this.names.push(name)
      else this.names.splice(lowerBound(this.names, name), 0, name)
    }
    while (this.#bytes > storeRangeCacheBytesMax) {
      const top = this.names.pop()!
      const entry = this.rows.get(top)!
      this.rows.delete(top)
      this.#bytes -= entry.key.length + entry.value.length
      this.upper = top
    }
  }
}

export class StateCache {
  readonly #rows = new BoundedMap<string, Uint8Array | null>(storeRowCacheEntriesMax)
  readonly #windows = new BoundedMap<string, Window>(storeRangeCacheWindowsMax)
  /** The same windows by actor: a block's lookups and writes name few actors of many windows. */
  readonly #byActor = new Map<ActorId, Set<Window>>()
  #generation = 0

  /** Changes at every commit and clear: a read that began under another generation is not kept. */
  get generation (): number { return this.#generation }

  /** The committed value of a row: a copy, null when known absent, undefined when not cached. */
  row (actor: ActorId, key: Uint8Array, row: string): Uint8Array | null | undefined {
    const value = this.#rows.get(row)
    if (value !== undefined) return value === null ? null : value.slice()
    const windows = this.#byActor.get(actor)
    if (windows === undefined) return undefined
    const name = latin1(key)
    for (const window of windows) {
      if (window.covers(name)) return window.rows.get(name)?.value.slice() ?? null
    }
    return undefined
  }

  /** Keeps a row read from the database while `generation` was current (not when a commit came between). */
  keepRow (generation: number, row: string, value: Uint8Array | undefined): void {
    if (generation !== this.#generation || (value !== undefined && value.length > storeRowCacheValueBytesMax)) return
    this.#rows.set(row, value === undefined ? null : value.slice())
  }

  /**
   * The entries of `actor` with start <= key < end (end undefined: to the actor's last key), at most
   * `limit`, in key order (copies), when a window covers [start, end); else undefined.
   */
  range (actor: ActorId, start: Uint8Array, end: Uint8Array | undefined, limit: number): CachedEntry[] | undefined {
    const startName = latin1(start)
    const endName = end === undefined ? null : latin1(end)
    const fits = (w: Window): boolean => w.start <= startName && (w.upper === null || (endName !== null && endName <= w.upper))
    let window = this.#windows.get(windowKey(actor, startName))
    if (window === undefined || !fits(window)) window = [...this.#byActor.get(actor) ?? []].find(fits)
    if (window === undefined) return undefined
    const out: CachedEntry[] = []
    for (let i = lowerBound(window.names, startName); i < window.names.length && out.length < limit; i++) {
      const name = window.names[i]!
      if (endName !== null && name >= endName) break
      const entry = window.rows.get(name)!
      out.push({ key: entry.key.slice(), value: entry.value.slice() })
    }
    return out
  }

  /**
   * Keeps what a range read found while `generation` was current: `entries` are every key of
   * `actor` in [start, upper) (upper undefined: to the actor's last key).
   */
  keepRange (generation: number, actor: ActorId, start: Uint8Array, upper: Uint8Array | undefined, entries: readonly CachedEntry[]): void {
    if (generation !== this.#generation) return
    const window = new Window(actor, latin1(start), upper === undefined ? null : latin1(upper))
    for (const { key, value } of entries) {
      const name = latin1(key)
      if (!window.covers(name)) break
      window.set(name, key, value)
    }
    const key = windowKey(actor, window.start)
    const replaced = this.#windows.get(key)
    if (replaced !== undefined) this.#unindex(replaced)
    const evicted = this.#windows.set(key, window)
    if (evicted !== undefined) this.#unindex(evicted[1])
    let windows = this.#byActor.get(actor)
    if (windows === undefined) this.#byActor.set(actor, windows = new Set())
    windows.add(window)
  }

  #unindex (window: Window): void {
    const windows = this.#byActor.get(window.actor)
    windows?.delete(window)
    if (windows?.size === 0) this.#byActor.delete(window.actor)
  }

  /** Applies a commit's writes (one per row, the last), once its batch is in the database. */
  applyCommit (writes: readonly CachedWrite[]): void {
    this.#generation++
    for (const write of writes) {
      if (this.#rows.has(write.name)) {
        if (write.value !== null && write.value.length > storeRowCacheValueBytesMax) this.#rows.delete(write.name)
        else this.#rows.set(write.name, write.value === null ? null : write.value.slice())
      }
      const windows = this.#byActor.get(write.actor)
      if (windows === undefined) continue
      const name = latin1(write.key)
      for (const window of windows) if (window.covers(name)) window.set(name, write.key, write.value)
    }
  }

  /** Forgets everything: a failed commit (the database's state is unknown) or an import. */
  clear (): void {
    this.#generation++
    this.#rows.clear()
    this.#windows.clear()
    this.#byActor.clear()
  }
}

function windowKey (actor: ActorId, start: string): string {
  return `${actor}\n${start}`
}

function latin1 (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}
