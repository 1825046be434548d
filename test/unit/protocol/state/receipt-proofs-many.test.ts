// proveReceipts (all the proofs of one height at once) gives exactly proveReceipt's proofs, each
// verifying against the receipts root, and refuses an index outside the height.

import test from 'ava'
import { proveReceipt, proveReceipts, receiptsRoot, verifyReceiptProof } from '../../../../protocol/state/receipts-root.ts'

const receiptsOf = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => new TextEncoder().encode(`receipt ${i} of ${n}`))

test('proveReceipts equals proveReceipt for every index of trees of 1..70 receipts, and each proof verifies', t => {
  for (let n = 1; n <= 70; n++) {
    const receipts = receiptsOf(n)
    const indexes = Array.from({ length: n }, (_, i) => i).reverse() // any order
    const many = proveReceipts(receipts, indexes)
    const root = receiptsRoot(receipts)
    for (const [k, index] of indexes.entries()) {
      t.deepEqual(many[k], proveReceipt(receipts, index), `n=${n} index=${index}`)
      t.true(verifyReceiptProof(root, receipts[index]!, many[k]!).ok)
    }
  }
})

test('proveReceipts answers a subset and repeated indexes, and refuses an index outside the height', t => {
  const receipts = receiptsOf(13)
  t.deepEqual(proveReceipts(receipts, [5, 5, 12]), [proveReceipt(receipts, 5), proveReceipt(receipts, 5), proveReceipt(receipts, 12)])
  t.deepEqual(proveReceipts(receipts, []), [])
  t.throws(() => proveReceipts(receipts, [13]), { instanceOf: RangeError, message: /receipt index 13 outside 0..12/ })
  t.throws(() => proveReceipts(receipts, [-1]), { instanceOf: RangeError })
})
