// Builds a state trie's root from leaves given in increasing path order, in one pass with memory
// proportional to the trie's depth, not its size. Used to verify a stored state and to rebuild a
// checkpoint on import. Pure: emits each node it makes to a callback and never stores anything.

import { compareBytes, firstDifferingBit } from './state-key.ts'
import { emptyRoot, encodeInner, encodeLeaf } from './merkle-trie.ts'
import { sha256 } from './sha256.ts'

/**
 * The trie's inner node between two neighbouring paths splits at their first differing bit, so the
 * trie is the Cartesian tree of those bits: a stack holds the right spine, and a new leaf first
 * merges every spine subtree whose split bit is later than its own.
 */
export class TrieBuilder {
  readonly #onNode: ((hash: Uint8Array, bytes: Uint8Array) => void) | undefined
  // Spine subtrees, left to right; splitBits[i] separates subtrees i and i + 1 (strictly increasing).
  readonly #subtrees: Uint8Array[] = []
  readonly #splitBits: number[] = []
  #lastPath: Uint8Array | undefined
  #count = 0

  constructor (onNode?: (hash: Uint8Array, bytes: Uint8Array) => void) {
    this.#onNode = onNode
  }

  get count (): number { return this.#count }

  /** Adds a leaf. Throws RangeError unless `path` is greater than the previous one. */
  add (path: Uint8Array, valueHash: Uint8Array): void {
    const leaf = this.#emit(encodeLeaf(path, valueHash))
    if (this.#lastPath !== undefined) {
      if (compareBytes(this.#lastPath, path) >= 0) throw new RangeError('trie builder: paths must strictly increase')
      const bit = firstDifferingBit(this.#lastPath, path)
      this.#mergeAbove(bit)
      this.#splitBits.push(bit)
    }
    this.#subtrees.push(leaf)
    this.#lastPath = path
    this.#count++
  }

  /** The root of every leaf added so far (emptyRoot for none). */
  finish (): Uint8Array {
    this.#mergeAbove(-1)
    return this.#subtrees[0] ?? emptyRoot
  }

  #mergeAbove (bit: number): void {
    while (this.#splitBits.length > 0 && this.#splitBits[this.#splitBits.length - 1]! > bit) {
      const split = this.#splitBits.pop()!
      const right = this.#subtrees.pop()!
      const left = this.#subtrees.pop()!
      this.#subtrees.push(this.#emit(encodeInner(split, left, right)))
    }
  }

  #emit (bytes: Uint8Array): Uint8Array {
    const hash = sha256(bytes)
    this.#onNode?.(hash, bytes)
    return hash
  }
}
