// A FIFO with a hard bound that refuses (never grows) when full: for inboxes and work queues.

import { assert } from './assert.ts'

export class BoundedQueue<T> {
  readonly itemsMax: number
  #items: T[] = []
  #head = 0

  constructor (itemsMax: number) {
    assert(Number.isInteger(itemsMax) && itemsMax > 0, `itemsMax must be a positive integer, got ${itemsMax}`)
    this.itemsMax = itemsMax
  }

  get length (): number { return this.#items.length - this.#head }

  /** False when full: the caller decides what refusing means (drop, error, back-pressure). */
  push (item: T): boolean {
    if (this.length >= this.itemsMax) return false
    this.#items.push(item)
    return true
  }

  shift (): T | undefined {
    if (this.#head >= this.#items.length) return undefined
    const item = this.#items[this.#head]
    this.#items[this.#head++] = undefined as T
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return item
  }

  /** Removes and returns up to n items from the front. */
  take (n: number): T[] {
    const out: T[] = []
    while (out.length < n && this.length > 0) out.push(this.shift()!)
    return out
  }
}
