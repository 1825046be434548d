// Inclusion and non-inclusion proofs for the state trie (merkle-trie.ts): building one from a node
// source, verifying one with the root alone, and their canonical encoding. Verification is pure and
// needs nothing but the root: a client that trusts a certified root can check a query answer.

import { sha256 } from './sha256.ts'
import { decode, encode } from '../codec.ts'
import type { ActorId } from '../ids.ts'
import { stateProofBytesMax, stateProofStepsMax, stateValueBytesMax } from '../limits.ts'
import { err, ok, type Result } from '../result.ts'
import { decodeNode, emptyRoot, hashBytes, innerHash, leafHash, TrieNodeMissingError, toHex, type TrieNodeSource } from './merkle-trie.ts'
import { bitAt, bytesEqual, pathBits, pathBytes, statePath } from './state-key.ts'

/**
 * What a proof claims: `value` is the value at (actor, key), or null when the key is absent.
 * `leaf` is the leaf the key's path leads to (null only in an empty trie): the key's own leaf for
 * inclusion, another key's leaf for non-inclusion. `steps` are the inner nodes on the way, root
 * first: the bit each splits on and the hash of the branch the path does not take.
 */
export interface StateProof {
  value: Uint8Array | null
  leaf: { path: Uint8Array, valueHash: Uint8Array } | null
  steps: Array<{ bit: number, sibling: Uint8Array }>
}

/**
 * Walks `path` from `root` and returns the proof without its value (the trie holds value hashes;
 * the store adds the value). Throws TrieNodeMissingError if the source lacks a node: a corrupt store.
 */
export async function provePath (source: TrieNodeSource, root: Uint8Array, path: Uint8Array): Promise<Omit<StateProof, 'value'>> {
  if (bytesEqual(root, emptyRoot)) return { leaf: null, steps: [] }
  const steps: StateProof['steps'] = []
  let hash = root
  for (;;) {
    const bytes = await source.getNode(hash)
    const node = bytes === undefined ? undefined : decodeNode(bytes)
    if (node === undefined) throw new TrieNodeMissingError(`trie node ${toHex(hash)} is missing or malformed`)
    if (node.kind === 'leaf') return { leaf: { path: node.path.slice(), valueHash: node.valueHash.slice() }, steps }
    const goRight = bitAt(path, node.bit) === 1
    steps.push({ bit: node.bit, sibling: (goRight ? node.left : node.right).slice() })
    hash = goRight ? node.right : node.left
  }
}

/**
 * Checks `proof` for (actor, key) against `root` and returns the proven value (null: proven absent).
 * Sound because the trie's shape is fixed by its keys: the walk along the key's bits is unique, so
 * if the key were present the walk would end at its leaf; ending at another leaf proves absence.
 */
export function verifyStateProof (root: Uint8Array, actor: ActorId, key: Uint8Array, proof: StateProof): Result<Uint8Array | null> {
  const path = statePath(actor, key)
  if (proof.leaf === null) {
    if (proof.value !== null || proof.steps.length > 0) return err('a proof without a leaf can only show an empty trie')
    return bytesEqual(root, emptyRoot) ? ok(null) : err('root is not the empty trie')
  }
  const { leaf, steps } = proof
  if (steps.length > stateProofStepsMax) return err(`proof too long: ${steps.length} > ${stateProofStepsMax} steps`)
  for (let i = 0; i < steps.length; i++) {
    const { bit } = steps[i]!
    if (i > 0 && bit <= steps[i - 1]!.bit) return err(`proof steps must split on increasing bits: step ${i} splits on ${bit}`)
    // The leaf sits in the branch the path takes, so it agrees with the path on every split bit.
    if (bitAt(leaf.path, bit) !== bitAt(path, bit)) return err(`proof leaf is not on the key's path at bit ${bit}`)
  }
  let hash = leafHash(leaf.path, leaf.valueHash)
  for (let i = steps.length - 1; i >= 0; i--) {
    const { bit, sibling } = steps[i]!
    hash = bitAt(path, bit) === 1 ? innerHash(bit, sibling, hash) : innerHash(bit, hash, sibling)
  }
  if (!bytesEqual(hash, root)) return err('proof does not lead to the root')
  const present = bytesEqual(leaf.path, path)
  if (proof.value === null) return present ? err('proof claims absence but the key is present') : ok(null)
  if (!present) return err('proof claims a value but the key is absent')
  if (!bytesEqual(sha256(proof.value), leaf.valueHash)) return err('proof value does not match the leaf')
  return ok(proof.value)
}

/** Canonical bytes: dag-cbor `[1, value|null, [path, valueHash]|null, [[bit, sibling], …]]`. */
export function encodeStateProof (proof: StateProof): Uint8Array {
  return encode([1, proof.value, proof.leaf === null ? null : [proof.leaf.path, proof.leaf.valueHash], proof.steps.map(s => [s.bit, s.sibling])])
}

/** Decodes an untrusted proof, checking every field's type and bound (not yet its hashes). */
export function decodeStateProof (bytes: Uint8Array): Result<StateProof> {
  const decoded = decode(bytes, { bytesMax: stateProofBytesMax })
  if (!decoded.ok) return err(`state proof: ${decoded.error}`)
  const v = decoded.value
  if (!Array.isArray(v) || v.length !== 4 || v[0] !== 1) return err('state proof: expected [1, value, leaf, steps]')
  const [, value, leaf, steps] = v as [number, unknown, unknown, unknown]
  if (value !== null && !(value instanceof Uint8Array)) return err('state proof: value must be bytes or null')
  if (value !== null && value.length > stateValueBytesMax) return err(`state proof: value too large: ${value.length} > ${stateValueBytesMax} bytes`)
  let parsedLeaf: StateProof['leaf'] = null
  if (leaf !== null) {
    if (!Array.isArray(leaf) || leaf.length !== 2 || !isBytes(leaf[0], pathBytes) || !isBytes(leaf[1], hashBytes)) return err('state proof: leaf must be [32-byte path, 32-byte value hash]')
    parsedLeaf = { path: leaf[0], valueHash: leaf[1] }
  }
  if (!Array.isArray(steps)) return err('state proof: steps must be a list')
  if (steps.length > stateProofStepsMax) return err(`state proof: too many steps: ${steps.length} > ${stateProofStepsMax}`)
  const parsedSteps: StateProof['steps'] = []
  for (const step of steps) {
    if (!Array.isArray(step) || step.length !== 2 || !Number.isInteger(step[0]) || step[0] < 0 || step[0] >= pathBits || !isBytes(step[1], hashBytes)) {
      return err(`state proof: step ${parsedSteps.length} must be [bit 0..${pathBits - 1}, 32-byte hash]`)
    }
    parsedSteps.push({ bit: step[0], sibling: step[1] })
  }
  return ok({ value, leaf: parsedLeaf, steps: parsedSteps })
}

function isBytes (value: unknown, length: number): value is Uint8Array {
  return value instanceof Uint8Array && value.length === length
}
