// A bounded cache of trie nodes by hash (private to node/store). Two generations: hits move to the
// young one, and when it fills the old one is dropped whole. O(1) per operation with no per-entry
// eviction walk (a Map used as a FIFO slows down as deleted slots pile up at its front).

import { assert } from '../core/assert.ts'

export class NodeCache {
  readonly #generationMax: number
  #young = new Map<string, Uint8Array>()
  #old = new Map<string, Uint8Array>()

  /** Holds at most entriesMax nodes. */
  constructor (entriesMax: number) {
    assert(Number.isInteger(entriesMax) && entriesMax >= 2, `entriesMax must be an integer >= 2, got ${entriesMax}`)
    this.#generationMax = Math.floor(entriesMax / 2)
  }

  get size (): number { return this.#young.size + this.#old.size }

  get (key: string): Uint8Array | undefined {
    const young = this.#young.get(key)
    if (young !== undefined) return young
    const old = this.#old.get(key)
    if (old !== undefined) this.set(key, old)
    return old
  }

  set (key: string, value: Uint8Array): void {
    if (this.#young.size >= this.#generationMax) {
      this.#old = this.#young
      this.#young = new Map()
    }
    this.#young.set(key, value)
  }
}
