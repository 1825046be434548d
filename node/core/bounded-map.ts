// A Map with a hard entry bound that evicts the least recently set entry: for caches and books
// whose size must never follow an attacker's input.

import { assert } from './assert.ts'

export class BoundedMap<K, V> {
  readonly entriesMax: number
  readonly #map = new Map<K, V>()

  constructor (entriesMax: number) {
    assert(Number.isInteger(entriesMax) && entriesMax > 0, `entriesMax must be a positive integer, got ${entriesMax}`)
    this.entriesMax = entriesMax
  }

  get size (): number { return this.#map.size }
  get (key: K): V | undefined { return this.#map.get(key) }
  has (key: K): boolean { return this.#map.has(key) }
  delete (key: K): boolean { return this.#map.delete(key) }
  clear (): void { this.#map.clear() }
  keys (): IterableIterator<K> { return this.#map.keys() }
  values (): IterableIterator<V> { return this.#map.values() }
  entries (): IterableIterator<[K, V]> { return this.#map.entries() }

  /** Sets the entry; returns the evicted [key, value] when the bound forced one out. */
  set (key: K, value: V): [K, V] | undefined {
    this.#map.delete(key)
    this.#map.set(key, value)
    if (this.#map.size <= this.entriesMax) return undefined
    const oldest = this.#map.entries().next().value as [K, V]
    this.#map.delete(oldest[0])
    return oldest
  }
}
