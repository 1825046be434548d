// The Merkle state trie: node encodings, hashing and updates over an abstract node source. Pure:
// it never does I/O itself; the store hands it nodes and persists the nodes an update creates.
//
// Structure: a binary PATRICIA (radix) trie over 256-bit paths, path = sha256(row key). Chosen for
// simplicity, log cost and compact proofs:
//  - The shape of a PATRICIA trie is a function of its key set (an inner node sits exactly where
//    two keys first differ), so the root depends only on the contents, never on write order.
//  - Paths are hashes, so they spread evenly: depth ≈ log2 n and an update rewrites ≈ log2 n nodes.
//    (A hostile actor would need sha256 prefix collisions to deepen a branch: 2^k work per level.)
//  - Compressed paths: only inner nodes where keys diverge exist (n − 1 of them), each naming the
//    bit it splits on, so a proof is ≈ log2 n steps of (bit, sibling hash), not 256 steps as in a
//    plain sparse Merkle tree, and nodes need no prefix: the walk is steered by split bits alone.
//  - Non-inclusion needs no extra structure: walking an absent path ends at the one leaf where the
//    path would have been; that leaf's different path, hashed up to the root, proves absence.
// Jellyfish (16-ary) trees save node count on disk but make proofs and code larger; not needed here.
//
// Encodings (fixed byte layouts, hash = sha256 of the bytes; the first byte separates domains):
//   leaf  = 0x00 ‖ path (32) ‖ sha256(value) (32)           65 bytes
//   inner = 0x01 ‖ bit (u8)  ‖ left hash (32) ‖ right hash (32)  66 bytes   (left = bit 0)
//   empty root = sha256(0x02)
// Receipts use 0x10..0x12 (receipts-root.ts), so no state node can pass for a receipts node.

import { sha256Bytes } from '../codec.ts'
import { bitAt, bytesEqual, firstDifferingBit, pathBits, pathBytes } from './state-key.ts'

export const hashBytes = 32
export const leafTag = 0x00
export const innerTag = 0x01
export const leafNodeBytes = 1 + pathBytes + hashBytes
export const innerNodeBytes = 2 + 2 * hashBytes

/** The root of a trie with no entries. */
export const emptyRoot: Uint8Array = sha256Bytes(Uint8Array.of(0x02))

export interface LeafNode { kind: 'leaf', path: Uint8Array, valueHash: Uint8Array }
export interface InnerNode { kind: 'inner', bit: number, left: Uint8Array, right: Uint8Array }
export type TrieNode = LeafNode | InnerNode

/**
 * Where trie nodes come from: the store's LevelDB sublevel (async) or a Map (sync).
 * Post: returns the exact bytes stored under `hash`, or undefined when there is none.
 */
export interface TrieNodeSource {
  getNode (hash: Uint8Array): Uint8Array | undefined | Promise<Uint8Array | undefined>
}

export function encodeLeaf (path: Uint8Array, valueHash: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(leafNodeBytes)
  bytes[0] = leafTag
  bytes.set(path, 1)
  bytes.set(valueHash, 1 + pathBytes)
  return bytes
}

export function encodeInner (bit: number, left: Uint8Array, right: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(innerNodeBytes)
  bytes[0] = innerTag
  bytes[1] = bit
  bytes.set(left, 2)
  bytes.set(right, 2 + hashBytes)
  return bytes
}

export function leafHash (path: Uint8Array, valueHash: Uint8Array): Uint8Array {
  return sha256Bytes(encodeLeaf(path, valueHash))
}

export function innerHash (bit: number, left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256Bytes(encodeInner(bit, left, right))
}

/** Parses node bytes; undefined for anything that is not exactly a leaf or an inner node. */
export function decodeNode (bytes: Uint8Array): TrieNode | undefined {
  if (bytes.length === leafNodeBytes && bytes[0] === leafTag) {
    return { kind: 'leaf', path: bytes.subarray(1, 1 + pathBytes), valueHash: bytes.subarray(1 + pathBytes) }
  }
  if (bytes.length === innerNodeBytes && bytes[0] === innerTag && bytes[1]! < pathBits) {
    return { kind: 'inner', bit: bytes[1]!, left: bytes.subarray(2, 2 + hashBytes), right: bytes.subarray(2 + hashBytes) }
  }
  return undefined
}

const hexDigits = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))
export function toHex (bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.length; i++) out += hexDigits[bytes[i]!]
  return out
}

/** Thrown when the node source lacks a node the root refers to: the store is corrupt, not the input. */
export class TrieNodeMissingError extends Error {
  override name = 'TrieNodeMissingError'
}

export type WriteOutcome = 'created' | 'updated' | 'unchanged' | 'deleted' | 'absent'

interface PathStep { bit: number, node: InnerNode, hash: Uint8Array, goRight: boolean }

/**
 * A batch of changes to one trie, applied one write at a time over an overlay of the nodes it
 * created. Pre: `root` is a root whose nodes `source` holds. Post: `root` is the trie with every
 * write applied; `created` holds exactly the new nodes reachable from it, `deleted` the nodes of
 * the old root it no longer reaches (a node hash is unique in a trie: its subtree names its keys).
 */
export class TrieUpdate {
  root: Uint8Array
  readonly #source: TrieNodeSource
  // `inBase`: the node was in the old root's trie, was dropped, then made again in this batch.
  readonly #created = new Map<string, { hash: Uint8Array, bytes: Uint8Array, inBase: boolean }>()
  readonly #deleted = new Map<string, Uint8Array>()

  constructor (source: TrieNodeSource, root: Uint8Array) {
    this.#source = source
    this.root = root
  }

  /** New nodes to persist with this batch. */
  get created (): Iterable<{ hash: Uint8Array, bytes: Uint8Array }> { return this.#created.values() }
  /** Old nodes to delete with this batch. */
  get deleted (): Iterable<Uint8Array> { return this.#deleted.values() }

  /** Sets the leaf at `path` to `valueHash` (sha256 of the value). */
  async set (path: Uint8Array, valueHash: Uint8Array): Promise<WriteOutcome> {
    const newLeaf = encodeLeaf(path, valueHash)
    if (bytesEqual(this.root, emptyRoot)) {
      this.root = this.#put(newLeaf)
      return 'created'
    }
    const { steps, leaf, leafHashBytes } = await this.#walk(path)
    if (bytesEqual(leaf.path, path)) {
      if (bytesEqual(leaf.valueHash, valueHash)) return 'unchanged'
      this.#drop(leafHashBytes)
      this.#rehash(steps, steps.length, this.#put(newLeaf))
      return 'updated'
    }
    // The new leaf hangs off a new inner node at the first bit where it differs from the leaf the
    // walk reached, above the first node on the walk that splits at a later bit.
    const bit = firstDifferingBit(path, leaf.path)
    let depth = 0
    while (depth < steps.length && steps[depth]!.bit < bit) depth++
    const displaced = depth < steps.length ? steps[depth]!.hash : leafHashBytes
    const newLeafHash = this.#put(newLeaf)
    const joined = bitAt(path, bit) === 1
      ? this.#put(encodeInner(bit, displaced, newLeafHash))
      : this.#put(encodeInner(bit, newLeafHash, displaced))
    this.#rehash(steps, depth, joined)
    return 'created'
  }

  /** Removes the leaf at `path`, if there is one. */
  async delete (path: Uint8Array): Promise<WriteOutcome> {
    if (bytesEqual(this.root, emptyRoot)) return 'absent'
    const { steps, leaf, leafHashBytes } = await this.#walk(path)
    if (!bytesEqual(leaf.path, path)) return 'absent'
    this.#drop(leafHashBytes)
    if (steps.length === 0) {
      this.root = emptyRoot
      return 'deleted'
    }
    // The parent disappears; the leaf's sibling takes the parent's place.
    const parent = steps[steps.length - 1]!
    this.#drop(parent.hash)
    const sibling = parent.goRight ? parent.node.left : parent.node.right
    this.#rehash(steps, steps.length - 1, sibling)
    return 'deleted'
  }

  /** Follows `path`'s bits from the root down to a leaf. */
  async #walk (path: Uint8Array): Promise<{ steps: PathStep[], leaf: LeafNode, leafHashBytes: Uint8Array }> {
    const steps: PathStep[] = []
    let hash = this.root
    for (;;) {
      const node = await this.#node(hash)
      if (node.kind === 'leaf') return { steps, leaf: node, leafHashBytes: hash }
      const goRight = bitAt(path, node.bit) === 1
      steps.push({ bit: node.bit, node, hash, goRight })
      hash = goRight ? node.right : node.left
    }
  }

  /** Replaces the subtree under steps[depth - 1] with `hash` and rewrites every ancestor. */
  #rehash (steps: PathStep[], depth: number, hash: Uint8Array): void {
    let child = hash
    for (let i = depth - 1; i >= 0; i--) {
      const step = steps[i]!
      this.#drop(step.hash)
      child = this.#put(step.goRight ? encodeInner(step.bit, step.node.left, child) : encodeInner(step.bit, child, step.node.right))
    }
    this.root = child
  }

  async #node (hash: Uint8Array): Promise<TrieNode> {
    const key = toHex(hash)
    const bytes = this.#created.get(key)?.bytes ?? (this.#deleted.has(key) ? undefined : await this.#source.getNode(hash))
    const node = bytes === undefined ? undefined : decodeNode(bytes)
    if (node === undefined) throw new TrieNodeMissingError(`trie node ${key} is missing or malformed`)
    return node
  }

  #put (bytes: Uint8Array): Uint8Array {
    const hash = sha256Bytes(bytes)
    const key = toHex(hash)
    const inBase = this.#deleted.delete(key)
    if (!this.#created.has(key)) this.#created.set(key, { hash, bytes, inBase })
    return hash
  }

  #drop (hash: Uint8Array): void {
    const key = toHex(hash)
    const made = this.#created.get(key)
    if (made !== undefined) {
      this.#created.delete(key) // made and unmade within this batch: never persisted
      if (!made.inBase) return
    }
    this.#deleted.set(key, hash)
  }
}
