// The receipts root of one height: a Merkle tree over the height's encoded receipts in execution
// order (the RFC 9162 / Certificate Transparency tree shape), with inclusion proofs a client checks
// against the certified receipts root. Pure; the store computes it inside the height's commit.
//
// Hashes (first byte separates domains, distinct from the state trie's 0x00..0x02):
//   leaf = sha256(0x10 ‖ receipt bytes), inner = sha256(0x11 ‖ left ‖ right), empty tree = sha256(0x12)
//   root = sha256(0x13 ‖ u32 count ‖ tree hash)
// For n > 1 leaves the left subtree holds the largest power of two < n leaves (RFC 9162 §2.1.1).
// The root commits to the count: an RFC 9162 path alone fits several tree sizes, and a client
// should learn exactly how many receipts the height has.

import { sha256 } from './sha256.ts'
import { decode, encode } from '../codec.ts'
import { receiptProofBytesMax, receiptProofStepsMax, receiptsPerHeightMax } from '../limits.ts'
import { err, ok, type Result } from '../result.ts'
import { bytesEqual } from './state-key.ts'

const emptyTree = sha256(Uint8Array.of(0x12))

function withCount (count: number, tree: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(5 + tree.length)
  bytes[0] = 0x13
  new DataView(bytes.buffer).setUint32(1, count)
  bytes.set(tree, 5)
  return sha256(bytes)
}

export const emptyReceiptsRoot: Uint8Array = withCount(0, emptyTree)

/** Proves that a receipt is number `index` of `count` receipts under a receipts root. */
export interface ReceiptProof {
  index: number
  count: number
  /** Sibling hashes from the leaf up (RFC 9162 audit path). */
  path: Uint8Array[]
}

export function receiptLeafHash (receipt: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(1 + receipt.length)
  bytes[0] = 0x10
  bytes.set(receipt, 1)
  return sha256(bytes)
}

function node (left: Uint8Array, right: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(65)
  bytes[0] = 0x11
  bytes.set(left, 1)
  bytes.set(right, 33)
  return sha256(bytes)
}

function largestPowerOfTwoBelow (n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

function subtreeRoot (leaves: Uint8Array[], from: number, to: number): Uint8Array {
  if (to - from === 1) return leaves[from]!
  const k = largestPowerOfTwoBelow(to - from)
  return node(subtreeRoot(leaves, from, from + k), subtreeRoot(leaves, from + k, to))
}

/** The receipts root of receipts in execution order. */
export function receiptsRoot (receipts: readonly Uint8Array[]): Uint8Array {
  if (receipts.length === 0) return emptyReceiptsRoot
  return withCount(receipts.length, subtreeRoot(receipts.map(receiptLeafHash), 0, receipts.length))
}

/** The inclusion proof of receipts[index]. Pre: 0 <= index < receipts.length. */
export function proveReceipt (receipts: readonly Uint8Array[], index: number): ReceiptProof {
  if (!Number.isInteger(index) || index < 0 || index >= receipts.length) throw new RangeError(`receipt index ${index} outside 0..${receipts.length - 1}`)
  const leaves = receipts.map(receiptLeafHash)
  const path: Uint8Array[] = []
  let from = 0
  let to = leaves.length
  const siblings: Uint8Array[] = []
  while (to - from > 1) {
    const k = largestPowerOfTwoBelow(to - from)
    if (index < from + k) {
      siblings.push(subtreeRoot(leaves, from + k, to))
      to = from + k
    } else {
      siblings.push(subtreeRoot(leaves, from, from + k))
      from = from + k
    }
  }
  for (let i = siblings.length - 1; i >= 0; i--) path.push(siblings[i]!)
  return { index, count: receipts.length, path }
}

/**
 * Proofs for several receipts of one height at once, each equal to proveReceipt(receipts, index):
 * every subtree root is hashed once, so answering all k clients of a height of n receipts costs
 * O(n + k log n) hashes instead of O(k n).
 */
export function proveReceipts (receipts: readonly Uint8Array[], indexes: readonly number[]): ReceiptProof[] {
  const leaves = receipts.map(receiptLeafHash)
  const n = leaves.length
  const memo = new Map<number, Uint8Array>()
  const rootOf = (from: number, to: number): Uint8Array => {
    if (to - from === 1) return leaves[from]!
    const key = from * (n + 1) + to
    let hash = memo.get(key)
    if (hash === undefined) {
      const k = largestPowerOfTwoBelow(to - from)
      hash = node(rootOf(from, from + k), rootOf(from + k, to))
      memo.set(key, hash)
    }
    return hash
  }
  return indexes.map(index => {
    if (!Number.isInteger(index) || index < 0 || index >= n) throw new RangeError(`receipt index ${index} outside 0..${n - 1}`)
    let from = 0
    let to = n
    const siblings: Uint8Array[] = []
    while (to - from > 1) {
      const k = largestPowerOfTwoBelow(to - from)
      if (index < from + k) {
        siblings.push(rootOf(from + k, to))
        to = from + k
      } else {
        siblings.push(rootOf(from, from + k))
        from = from + k
      }
    }
    return { index, count: n, path: siblings.reverse() }
  })
}

/** Checks that `receipt` is number proof.index of proof.count under `root` (RFC 9162 §2.1.3.2). */
export function verifyReceiptProof (root: Uint8Array, receipt: Uint8Array, proof: ReceiptProof): Result<true> {
  const { index, count, path } = proof
  if (!Number.isInteger(count) || count < 1 || count > receiptsPerHeightMax) return err(`receipt proof: count must be 1..${receiptsPerHeightMax}`)
  if (!Number.isInteger(index) || index < 0 || index >= count) return err(`receipt proof: index ${index} outside 0..${count - 1}`)
  if (path.length > receiptProofStepsMax) return err(`receipt proof: too many steps: ${path.length} > ${receiptProofStepsMax}`)
  let fn = index
  let sn = count - 1
  let hash = receiptLeafHash(receipt)
  for (const sibling of path) {
    if (sn === 0) return err('receipt proof: longer than the tree is deep')
    if ((fn & 1) === 1 || fn === sn) {
      hash = node(sibling, hash)
      if ((fn & 1) === 0) {
        while ((fn & 1) === 0 && fn !== 0) { fn >>= 1; sn >>= 1 }
      }
    } else {
      hash = node(hash, sibling)
    }
    fn >>= 1
    sn >>= 1
  }
  if (sn !== 0) return err('receipt proof: shorter than the tree is deep')
  return bytesEqual(withCount(count, hash), root) ? ok(true) : err('receipt proof does not lead to the receipts root')
}

/** Canonical bytes: dag-cbor `[1, index, count, [hash, …]]`. */
export function encodeReceiptProof (proof: ReceiptProof): Uint8Array {
  return encode([1, proof.index, proof.count, proof.path])
}

/** Decodes an untrusted receipt proof, checking types and bounds (not yet its hashes). */
export function decodeReceiptProof (bytes: Uint8Array): Result<ReceiptProof> {
  const decoded = decode(bytes, { bytesMax: receiptProofBytesMax })
  if (!decoded.ok) return err(`receipt proof: ${decoded.error}`)
  const v = decoded.value
  if (!Array.isArray(v) || v.length !== 4 || v[0] !== 1) return err('receipt proof: expected [1, index, count, path]')
  const [, index, count, path] = v as unknown[]
  if (!Number.isInteger(index) || !Number.isInteger(count)) return err('receipt proof: index and count must be integers')
  if (!Array.isArray(path)) return err('receipt proof: path must be a list')
  if (path.length > receiptProofStepsMax) return err(`receipt proof: too many steps: ${path.length} > ${receiptProofStepsMax}`)
  if (!path.every(h => h instanceof Uint8Array && h.length === 32)) return err('receipt proof: every step must be a 32-byte hash')
  return ok({ index: index as number, count: count as number, path: path as Uint8Array[] })
}
