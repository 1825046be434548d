// Receipts root and receipt proofs, and the receipt-proof decoder's limits.
import test from 'ava'
import fc from 'fast-check'
import { encode } from '../../../../protocol/codec.ts'
import { receiptProofBytesMax, receiptProofStepsMax } from '../../../../protocol/limits.ts'
import { toHex } from '../../../../protocol/state/merkle-trie.ts'
import { decodeReceiptProof, emptyReceiptsRoot, encodeReceiptProof, proveReceipt, receiptLeafHash, receiptsRoot, verifyReceiptProof } from '../../../../protocol/state/receipts-root.ts'

test('every receipt proof verifies against the receipts root, and not for another receipt or index', t => {
  fc.assert(fc.property(fc.uniqueArray(fc.uint8Array({ maxLength: 12 }), { selector: r => toHex(r), minLength: 1, maxLength: 70 }), fc.nat(), (receipts, pick) => {
    const root = receiptsRoot(receipts)
    const index = pick % receipts.length
    const proof = proveReceipt(receipts, index)
    t.true(verifyReceiptProof(root, receipts[index]!, proof).ok)
    const decoded = decodeReceiptProof(encodeReceiptProof(proof))
    t.true(decoded.ok && verifyReceiptProof(root, receipts[index]!, decoded.value).ok)
    t.false(verifyReceiptProof(root, Uint8Array.of(...receipts[index]!, 0), proof).ok)
    if (receipts.length > 1) t.false(verifyReceiptProof(root, receipts[index]!, { ...proof, index: (index + 1) % receipts.length }).ok)
    t.false(verifyReceiptProof(root, receipts[index]!, { ...proof, count: receipts.length + 1 }).ok)
  }), { numRuns: 300 })
})

test('receiptsRoot depends on order and count; empty has its own root', t => {
  const a = Uint8Array.of(1)
  const b = Uint8Array.of(2)
  t.not(toHex(receiptsRoot([a, b])), toHex(receiptsRoot([b, a])))
  t.not(toHex(receiptsRoot([a])), toHex(receiptsRoot([a, a])))
  t.is(toHex(receiptsRoot([])), toHex(emptyReceiptsRoot))
  t.not(toHex(receiptsRoot([a])), toHex(receiptLeafHash(a))) // the root also commits to the count
})

test('decodeReceiptProof: at the step limit, one past it, and garbage', t => {
  const path = (n: number): Uint8Array[] => Array.from({ length: n }, () => new Uint8Array(32))
  const atLimit = encode([1, 0, 1, path(receiptProofStepsMax)])
  t.true(atLimit.length <= receiptProofBytesMax)
  t.true(decodeReceiptProof(atLimit).ok)
  const past = decodeReceiptProof(encode([1, 0, 1, path(receiptProofStepsMax + 1)]))
  t.false(past.ok)
  const oversize = new Uint8Array(receiptProofBytesMax + 1)
  const big = decodeReceiptProof(oversize)
  t.false(big.ok)
  if (!big.ok) t.regex(big.error, /too large/)
  for (const bytes of [Uint8Array.of(0xff), encode([1, 'a', 1, []]), encode([1, 0, 1, [new Uint8Array(31)]]), encode({})]) t.false(decodeReceiptProof(bytes).ok)
})
