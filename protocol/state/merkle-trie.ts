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
// Receipts use 0x10..0x13 (receipts-root.ts), so no state node can pass for a receipts node.

import { sha256 } from './sha256.ts'
import { bitAt, bytesEqual, firstDifferingBit, pathBits, pathBytes } from './state-key.ts'

export const hashBytes = 32

export const leafTag = 0x00
export const innerTag = 0x01
export const leafNodeBytes = 1 + pathBytes + hashBytes
export const innerNodeBytes = 2 + 2 * hashBytes

/** The root of a trie with no entries. */
export const emptyRoot: Uint8Array = sha256(Uint8Array.of(0x02))

export interface LeafNode { kind: 'leaf', path: Uint8Array, valueHash: Uint8Array }
export interface InnerNode { kind: 'inner', bit: number, left: Uint8Array, right: Uint8Array }
export type TrieNode = LeafNode | InnerNode

/**
 * Where trie nodes come from: the store's LevelDB sublevel (async) or a Map (sync).
 * Post: returns the exact bytes stored under `hash`, or undefined when there is none.
 */
export interface TrieNodeSource {
  getNode (hash: Uint8Array): Uint8Array | undefined | Promise<Uint8Array | undefined>
  /** Optional: many nodes in one read (LevelDB getMany), same answers as getNode. Used by prefetch. */
  getNodes? (hashes: Uint8Array[]): Promise<Array<Uint8Array | undefined>>
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
  return sha256(encodeLeaf(path, valueHash))
}

export function innerHash (bit: number, left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(encodeInner(bit, left, right))
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

export function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** Thrown when the node source lacks a node the root refers to: the store is corrupt, not the input. */
export class TrieNodeMissingError extends Error {
  override name = 'TrieNodeMissingError'
}

/**
 * Unloads every node `keepDepth` or more levels below `root` (their refs keep the hash) and returns
 * how many stay loaded. Pre: every reachable ref has its hash (a finished batch).
 */
function trim (root: Ref, keepDepth: number): number {
  let held = 0
  const stack: Array<{ ref: Ref, depth: number }> = [{ ref: root, depth: 0 }]
  while (stack.length > 0) {
    const { ref, depth } = stack.pop()!
    const node = ref.node
    if (node === null) continue
    if (depth >= keepDepth) {
      ref.node = null
      continue
    }
    held++
    if (node.kind === 'inner') stack.push({ ref: node.left, depth: depth + 1 }, { ref: node.right, depth: depth + 1 })
  }
  return held
}

export type WriteOutcome = 'created' | 'updated' | 'unchanged' | 'deleted' | 'absent'

// A batch works on a mutable in-memory copy of the part of the trie it touches: each Ref names a
// node by its stored hash (hash !== null: unchanged since loaded) and/or holds it loaded. Writes
// only mark refs dirty; finish() hashes each dirty node once, so k writes sharing upper levels cost
// one rehash of those levels, not k.
interface Ref { hash: Uint8Array | null, node: MemNode | null }
interface Finished { root: Uint8Array, created: Array<{ hash: Uint8Array, bytes: Uint8Array }>, deleted: Uint8Array[] }
type MemNode = { kind: 'leaf', path: Uint8Array, valueHash: Uint8Array } | { kind: 'inner', bit: number, left: Ref, right: Ref }

/**
 * A batch of changes to one trie. Pre: `root` is a root whose nodes `source` holds. Post (after the
 * last write, on reading root/created/deleted, which finishes the batch): `root` is the trie with
 * every write applied; `created` holds exactly the new nodes reachable from it (each once: a node
 * hash is unique in a trie, its subtree names its keys) and `deleted` the old root's nodes it no
 * longer reaches, plus any the batch dropped and rebuilt identically (a key deleted and set back):
 * apply `deleted` BEFORE `created` and the node set is exact. (Matching the two lists by hash cost
 * a string key per node; the order makes it unnecessary.)
 */
export class TrieUpdate {
  readonly #source: TrieNodeSource
  #root: Ref | null
  #finished: Finished | undefined
  #handedOver = false
  /** Nodes held decoded (loaded or made), counting some no longer reachable: an upper bound. */
  #held = 0
  readonly #deleted: Uint8Array[] = []

  constructor (source: TrieNodeSource, root: Uint8Array) {
    this.#source = source
    this.#root = bytesEqual(root, emptyRoot) ? null : { hash: root, node: null }
  }

  get root (): Uint8Array { return this.#finish().root }
  /** New nodes to persist with this batch. */
  get created (): Iterable<{ hash: Uint8Array, bytes: Uint8Array }> { return this.#finish().created }
  /** Old nodes to delete with this batch, before the created ones are written. */
  get deleted (): Iterable<Uint8Array> { return this.#finish().deleted }

  /**
   * A new batch on this finished batch's root that keeps the nodes this one holds decoded. The top
   * of a large trie is walked by nearly every batch: kept, it is not looked up, decoded and cached
   * again node by node at each height. Kept nodes are bounded: once more than 2^(keepDepth+1) are
   * held (counted as they are loaded or made), the ones `keepDepth` or more levels below the root
   * drop back to their hash (read from the source again when walked); that walk runs only then, so a
   * small batch does not pay for the whole kept top. The new batch changes the kept nodes in place:
   * after next() this batch is spent, and when the new one is abandoned (its nodes never persisted)
   * the one after must start from a root hash again, not from it.
   * Pre: this batch's created nodes are persisted in the source, and nothing else changed the trie.
   */
  next (keepDepth: number): TrieUpdate {
    if (!Number.isInteger(keepDepth) || keepDepth < 0 || keepDepth > 30) throw new RangeError(`keepDepth must be an integer in 0..30, got ${keepDepth}`)
    const { root } = this.#finish()
    if (this.#handedOver) throw new Error('TrieUpdate.next() was already called on this batch')
    this.#handedOver = true
    const update = new TrieUpdate(this.#source, root)
    if (this.#root === null) return update
    update.#root = this.#root
    update.#held = this.#held <= 2 ** (keepDepth + 1) ? this.#held : trim(this.#root, keepDepth)
    return update
  }

  /**
   * Loads every node the given paths will walk through, one level at a time with one getNodes
   * read per level, instead of one awaited read per node per write. Optional: set/delete load
   * whatever is still missing. Pays off when the nodes are on disk and the batch is large.
   */
  async prefetch (paths: Uint8Array[]): Promise<void> {
    this.#checkOpen()
    const getNodes = this.#source.getNodes?.bind(this.#source)
    if (getNodes === undefined || this.#root === null) return
    let frontier: Array<{ ref: Ref, paths: Uint8Array[] }> = [{ ref: this.#root, paths }]
    while (frontier.length > 0) {
      const missing = frontier.filter(f => f.ref.node === null)
      if (missing.length > 0) {
        const found = await getNodes(missing.map(f => f.ref.hash!))
        missing.forEach((f, i) => { this.#adopt(f.ref, found[i]) })
      }
      const next: typeof frontier = []
      for (const { ref, paths: here } of frontier) {
        const node = ref.node!
        if (node.kind === 'leaf') continue
        const left = here.filter(path => bitAt(path, node.bit) === 0)
        const right = here.length === left.length ? [] : here.filter(path => bitAt(path, node.bit) === 1)
        if (left.length > 0) next.push({ ref: node.left, paths: left })
        if (right.length > 0) next.push({ ref: node.right, paths: right })
      }
      frontier = next
    }
  }

  /** Sets the leaf at `path` to `valueHash` (sha256 of the value). */
  async set (path: Uint8Array, valueHash: Uint8Array): Promise<WriteOutcome> {
    this.#checkOpen()
    const newLeaf: Ref = { hash: null, node: { kind: 'leaf', path, valueHash } }
    this.#held += 2 // the leaf, and the inner node it may hang from
    if (this.#root === null) {
      this.#root = newLeaf
      return 'created'
    }
    const { steps, leafRef, leaf } = await this.#walk(this.#root, path)
    if (bytesEqual(leaf.path, path)) {
      if (bytesEqual(leaf.valueHash, valueHash)) return 'unchanged'
      this.#dirty(leafRef)
      leafRef.node = newLeaf.node
      this.#dirtyAll(steps, steps.length)
      return 'updated'
    }
    // The new leaf hangs off a new inner node at the first bit where it differs from the leaf the
    // walk reached, above the first node on the walk that splits at a later bit. That node moves
    // down unchanged (its hash stays valid); the ref that held it now holds the new inner node.
    const bit = firstDifferingBit(path, leaf.path)
    let depth = 0
    while (depth < steps.length && (steps[depth]!.node as { bit: number }).bit < bit) depth++
    const target = depth < steps.length ? steps[depth]! : leafRef
    const moved: Ref = { hash: target.hash, node: target.node }
    target.hash = null
    target.node = bitAt(path, bit) === 1 ? { kind: 'inner', bit, left: moved, right: newLeaf } : { kind: 'inner', bit, left: newLeaf, right: moved }
    this.#dirtyAll(steps, depth)
    return 'created'
  }

  /** Removes the leaf at `path`, if there is one. */
  async delete (path: Uint8Array): Promise<WriteOutcome> {
    this.#checkOpen()
    if (this.#root === null) return 'absent'
    const { steps, leafRef, leaf } = await this.#walk(this.#root, path)
    if (!bytesEqual(leaf.path, path)) return 'absent'
    this.#dirty(leafRef)
    if (steps.length === 0) {
      this.#root = null
      return 'deleted'
    }
    // The parent disappears; the leaf's sibling takes the parent's place (its hash stays valid).
    const parent = steps[steps.length - 1]!
    const node = parent.node as Extract<MemNode, { kind: 'inner' }>
    const sibling = node.left === leafRef ? node.right : node.left
    this.#dirty(parent)
    parent.hash = sibling.hash
    parent.node = sibling.node
    this.#dirtyAll(steps, steps.length - 1)
    return 'deleted'
  }

  /** Follows `path`'s bits from the root down to a leaf, loading nodes as needed. */
  async #walk (root: Ref, path: Uint8Array): Promise<{ steps: Ref[], leafRef: Ref, leaf: Extract<MemNode, { kind: 'leaf' }> }> {
    const steps: Ref[] = []
    let ref = root
    for (;;) {
      const node = ref.node ?? await this.#load(ref)
      if (node.kind === 'leaf') return { steps, leafRef: ref, leaf: node }
      steps.push(ref)
      ref = bitAt(path, node.bit) === 1 ? node.right : node.left
    }
  }

  async #load (ref: Ref): Promise<MemNode> {
    return this.#adopt(ref, await this.#source.getNode(ref.hash!))
  }

  #adopt (ref: Ref, bytes: Uint8Array | undefined): MemNode {
    this.#held++
    const node = bytes === undefined ? undefined : decodeNode(bytes)
    if (node === undefined) throw new TrieNodeMissingError(`trie node ${toHex(ref.hash!)} is missing or malformed`)
    ref.node = node.kind === 'leaf'
      ? { kind: 'leaf', path: node.path, valueHash: node.valueHash }
      : { kind: 'inner', bit: node.bit, left: { hash: node.left, node: null }, right: { hash: node.right, node: null } }
    return ref.node
  }

  /** The ref's stored node is about to change or vanish: it leaves the store with this batch. */
  #dirty (ref: Ref): void {
    if (ref.hash === null) return
    this.#deleted.push(ref.hash)
    ref.hash = null
  }

  #dirtyAll (steps: Ref[], count: number): void {
    for (let i = 0; i < count; i++) this.#dirty(steps[i]!)
  }

  #finish (): Finished {
    if (this.#finished !== undefined) return this.#finished
    // Each dirty ref is hashed once (its hash is set on the way back up), so no node is listed twice.
    const created: Array<{ hash: Uint8Array, bytes: Uint8Array }> = []
    const hashOf = (ref: Ref): Uint8Array => {
      if (ref.hash !== null) return ref.hash
      const node = ref.node!
      const bytes = node.kind === 'leaf' ? encodeLeaf(node.path, node.valueHash) : encodeInner(node.bit, hashOf(node.left), hashOf(node.right))
      ref.hash = sha256(bytes)
      created.push({ hash: ref.hash, bytes })
      return ref.hash
    }
    const root = this.#root === null ? emptyRoot : hashOf(this.#root)
    this.#finished = { root, created, deleted: this.#deleted }
    return this.#finished
  }

  #checkOpen (): void {
    if (this.#finished !== undefined) throw new Error('TrieUpdate is finished: start a new one from its root')
  }
}
