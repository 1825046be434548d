// OrderedKv in memory: a sorted map per space, for unit tests and the deterministic simulator.
// Same ordering and batch atomicity as LevelDB; durability is the caller's pretend.

import { compareBytes, } from '../../protocol/state/state-key.ts'
import { toHex } from '../../protocol/state/merkle-trie.ts'
import type { KvOp, KvRange, OrderedKv, Space } from './_kv.ts'
import { spaces } from './_kv.ts'

class SortedSpace {
  readonly rows = new Map<string, [Uint8Array, Uint8Array]>()
  #sorted: Array<[Uint8Array, Uint8Array]> | undefined

  sorted (): Array<[Uint8Array, Uint8Array]> {
    this.#sorted ??= [...this.rows.values()].sort((a, b) => compareBytes(a[0], b[0]))
    return this.#sorted
  }

  put (key: Uint8Array, value: Uint8Array): void {
    this.rows.set(toHex(key), [key.slice(), value.slice()])
    this.#sorted = undefined
  }

  del (key: Uint8Array): void {
    if (this.rows.delete(toHex(key))) this.#sorted = undefined
  }
}

export class MemoryKv implements OrderedKv {
  readonly kind = 'memory'
  readonly #spaces = Object.fromEntries(spaces.map(name => [name, new SortedSpace()])) as Record<Space, SortedSpace>
  #closed = false

  async get (space: Space, key: Uint8Array): Promise<Uint8Array | undefined> {
    this.#open()
    return this.#spaces[space].rows.get(toHex(key))?.[1].slice()
  }

  async getMany (space: Space, keys: Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    this.#open()
    return keys.map(key => this.#spaces[space].rows.get(toHex(key))?.[1].slice())
  }

  async has (space: Space, key: Uint8Array): Promise<boolean> {
    this.#open()
    return this.#spaces[space].rows.has(toHex(key))
  }

  async * entries (space: Space, range: KvRange = {}): AsyncIterable<[Uint8Array, Uint8Array]> {
    this.#open()
    // A snapshot, like a LevelDB iterator: later writes do not show up in this walk.
    const selected = this.#select(space, range)
    for (const [key, value] of selected) yield [key.slice(), value.slice()]
  }

  async batch (ops: KvOp[], _options: { sync: boolean }): Promise<void> {
    this.#open()
    for (const op of ops) {
      if (op.type === 'put') this.#spaces[op.space].put(op.key, op.value)
      else this.#spaces[op.space].del(op.key)
    }
  }

  async clear (space: Space, range: KvRange = {}): Promise<void> {
    this.#open()
    for (const [key] of this.#select(space, range)) this.#spaces[space].del(key)
  }

  async close (): Promise<void> {
    this.#closed = true
  }

  #select (space: Space, range: KvRange): Array<[Uint8Array, Uint8Array]> {
    let rows = this.#spaces[space].sorted().filter(([key]) =>
      (range.gte === undefined || compareBytes(key, range.gte) >= 0) && (range.lt === undefined || compareBytes(key, range.lt) < 0))
    if (range.reverse === true) rows = rows.toReversed()
    return range.limit === undefined ? rows : rows.slice(0, range.limit)
  }

  #open (): void {
    if (this.#closed) throw new Error('memory store is closed')
  }
}
