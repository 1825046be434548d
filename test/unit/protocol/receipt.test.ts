// decodeReceipt reads back what encodeReceipt wrote (a store's receipts, to answer a request after a
// restart) and refuses anything that is not exactly a receipt.

import test from 'ava'
import { encode } from '../../../protocol/codec.ts'
import { actorIdOf, type SubnetId } from '../../../protocol/ids.ts'
import type { RequestId } from '../../../protocol/ingress.ts'
import { decodeReceipt, encodeReceipt, type Receipt } from '../../../protocol/receipt.ts'
import { cidOf } from '../../../protocol/codec.ts'

const subnet = cidOf({ test: 'receipt' }).toString() as SubnetId
const receipt: Receipt = {
  index: 3, actor: actorIdOf(subnet, 7n), method: 'inc', ok: true, result: Uint8Array.of(49), error: null,
  fuelUsed: 2n ** 60n, logs: ['a', 'b'], requestId: 'ab'.repeat(32) as RequestId
}

test('decodeReceipt reads back encodeReceipt, failed and client-less receipts too', t => {
  t.deepEqual(decodeReceipt(encodeReceipt(receipt)), { ok: true, value: receipt })
  const failed: Receipt = { ...receipt, ok: false, result: null, error: 'out of fuel', fuelUsed: 10n, logs: [], requestId: null }
  t.deepEqual(decodeReceipt(encodeReceipt(failed)), { ok: true, value: failed })
})

test('decodeReceipt refuses garbage, a missing or extra field, and fields of the wrong type', t => {
  const fields = { ...receipt } as Record<string, unknown>
  const refused = (value: unknown): boolean => !decodeReceipt(encode(value)).ok
  t.false(decodeReceipt(Uint8Array.of(0xff)).ok)
  t.true(refused([1, 2]))
  t.true(refused({ ...fields, extra: 1 }))
  const { logs: _logs, ...noLogs } = fields
  t.true(refused(noLogs))
  t.true(refused({ ...fields, index: -1 }))
  t.true(refused({ ...fields, actor: 'not an actor' }))
  t.true(refused({ ...fields, ok: 'yes' }))
  t.true(refused({ ...fields, result: 'text' }))
  t.true(refused({ ...fields, fuelUsed: -1 }))
  t.true(refused({ ...fields, logs: [1] }))
  t.true(refused({ ...fields, requestId: 5 }))
})
