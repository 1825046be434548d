// Equivocation evidence: the canonical record round-trips, malformed or oversized bytes are refused
// with a Result, and verifyEvidence accepts only two conflicting votes signed by one member for one view.

import test from 'ava'
import { encode, sha256Bytes } from '../../../../protocol/codec.ts'
import { conflictOf, decodeEvidence, encodeEvidence, verifyEvidence, type Evidence } from '../../../../protocol/consensus/evidence.ts'
import { messageValue, type Vote } from '../../../../protocol/consensus/messages.ts'
import { cidCharsMax, evidenceBytesMax } from '../../../../protocol/limits.ts'
import { membership, subnet, vote } from './_fixture.ts'

const a = sha256Bytes(encode(['block', 'a']))
const b = sha256Bytes(encode(['block', 'b']))

function evidenceOf (first: Vote, second: Vote): Evidence {
  return { signer: first.signer, view: first.view, first, second }
}

const doubleNotarize = evidenceOf(vote(2, 'notarize', 5n, a), vote(2, 'notarize', 5n, b))

test('encodeEvidence and decodeEvidence round-trip a record, subnet and both votes included', t => {
  const bytes = encodeEvidence(subnet, doubleNotarize)
  t.true(bytes.length <= evidenceBytesMax, `${bytes.length} bytes`)
  const decoded = decodeEvidence(bytes)
  if (!decoded.ok) return t.fail(decoded.error)
  t.is(decoded.value.subnet, subnet)
  t.deepEqual(decoded.value.evidence, doubleNotarize)
  // A nullify (no block) against a finalize, too.
  const mixed = evidenceOf(vote(1, 'finalize', 7n, a), vote(1, 'nullify', 7n))
  const again = decodeEvidence(encodeEvidence(subnet, mixed))
  t.true(again.ok && again.value.evidence.second.block === undefined && again.value.evidence.first.kind === 'finalize')
  t.true(again.ok && verifyEvidence(membership, again.value.evidence).ok, 'a decoded record still verifies')
})

test('the largest record there can be (u64 view, last member index, longest subnet id) fits evidenceBytesMax and decodes', t => {
  const view = 2n ** 64n - 1n
  const vote = (block: Uint8Array): Vote => ({ kind: 'finalize', view, block, signer: 63, signature: new Uint8Array(64).fill(0xff) })
  const longest = 'b'.repeat(cidCharsMax)
  const bytes = encodeEvidence(longest, evidenceOf(vote(a), vote(b)))
  t.true(bytes.length <= evidenceBytesMax, `${bytes.length} <= ${evidenceBytesMax} bytes`)
  const decoded = decodeEvidence(bytes)
  t.true(decoded.ok && decoded.value.subnet === longest && decoded.value.evidence.view === view && decoded.value.evidence.signer === 63)
  t.false(decodeEvidence(encodeEvidence(`${longest}b`, evidenceOf(vote(a), vote(b)))).ok, 'one character past the subnet id bound')
})

test('decodeEvidence refuses garbage, empty, oversized, non-canonical and mis-shaped bytes with a Result', t => {
  const refuse = (bytes: Uint8Array, pattern: RegExp, what: string): void => {
    const decoded = decodeEvidence(bytes)
    t.false(decoded.ok, what)
    if (!decoded.ok) t.regex(decoded.error, pattern, what)
  }
  refuse(new Uint8Array(0), /empty/, 'empty')
  refuse(Uint8Array.of(0xff, 0x00, 0x13), /malformed dag-cbor/, 'garbage')
  refuse(new Uint8Array(evidenceBytesMax + 1), new RegExp(`too large: ${evidenceBytesMax + 1} > ${evidenceBytesMax}`), 'one past the bound')
  refuse(encode([1, 2, 3]), /must be a map/, 'a list')
  const first = messageValue(doubleNotarize.first)
  const second = messageValue(doubleNotarize.second)
  refuse(encode({ subnet, first, second, extra: 1 }), /unknown field "extra"/, 'an unknown field')
  refuse(encode({ subnet: '', first, second }), /subnet must be a string/, 'an empty subnet')
  refuse(encode({ subnet, first }), /second vote: vote must be a map/, 'a missing vote')
  refuse(encode({ subnet, first, second: { ...(second as object), signature: new Uint8Array(10) } }), /second vote: vote signature must be 64 bytes, got 10/, 'a short signature')
  refuse(encode({ subnet, first: { ...(first as object), kind: 'propose' }, second }), /first vote: vote kind must be/, 'an unknown vote kind')
  // Canonical only: the same fields in another order would be other bytes (another hash) for one record.
  const unsorted = Buffer.concat([Uint8Array.of(0xa3), encode('subnet'), encode(subnet), encode('first'), encode(first), encode('second'), encode(second)])
  refuse(unsorted, /not canonical/, 'map keys out of canonical order')
  // At the bound exactly, bytes are decoded (and refused for what they are, not their size).
  refuse(new Uint8Array(evidenceBytesMax), /malformed dag-cbor|must be a map|not canonical/, 'at the bound: parsed, not refused for size')
})

test('verifyEvidence accepts a real double notarize and a finalize against a nullify', t => {
  t.deepEqual(verifyEvidence(membership, doubleNotarize), { ok: true, value: true })
  t.true(verifyEvidence(membership, evidenceOf(vote(3, 'nullify', 9n), vote(3, 'finalize', 9n, a))).ok)
  t.true(verifyEvidence(membership, evidenceOf(vote(0, 'finalize', 9n, a), vote(0, 'finalize', 9n, b))).ok, 'two finalize votes for different blocks')
})

test('verifyEvidence refuses a forged signature on either vote', t => {
  const forged = { ...doubleNotarize.second, signature: Uint8Array.from(doubleNotarize.second.signature, (x, i) => i === 0 ? x ^ 1 : x) }
  const result = verifyEvidence(membership, { ...doubleNotarize, second: forged })
  t.false(result.ok)
  if (!result.ok) t.regex(result.error, /second vote \(notarize\) is not signed by member 2/)
  // A vote signed by another member's key, claiming member 2.
  const other = vote(1, 'notarize', 5n, a)
  const claimed = verifyEvidence(membership, { ...doubleNotarize, first: { ...other, signer: 2 } })
  t.false(claimed.ok)
  if (!claimed.ok) t.regex(claimed.error, /first vote \(notarize\) is not signed by member 2/)
  // Signed for another subnet: the same key, another signing value.
  const elsewhere = verifyEvidence({ ...membership, subnet: 'bafyother' }, doubleNotarize)
  t.false(elsewhere.ok)
})

test('verifyEvidence refuses votes that do not conflict: the same block twice, notarize beside nullify', t => {
  const same = verifyEvidence(membership, evidenceOf(vote(2, 'notarize', 5n, a), vote(2, 'notarize', 5n, a)))
  t.false(same.ok)
  if (!same.ok) t.regex(same.error, /do not conflict: both notarize block/)
  const allowed = verifyEvidence(membership, evidenceOf(vote(2, 'notarize', 5n, a), vote(2, 'nullify', 5n)))
  t.false(allowed.ok)
  if (!allowed.ok) t.regex(allowed.error, /notarize and nullify in one view are allowed/)
  t.false(conflictOf(vote(2, 'nullify', 5n), vote(2, 'nullify', 5n)).ok, 'two nullify votes never conflict')
})

test('verifyEvidence refuses two signers, two views, and a signer outside the membership', t => {
  const signers = verifyEvidence(membership, { signer: 1, view: 5n, first: vote(1, 'notarize', 5n, a), second: vote(2, 'notarize', 5n, b) })
  t.false(signers.ok)
  if (!signers.ok) t.regex(signers.error, /not one member's: signers 1 and 2/)
  const views = verifyEvidence(membership, { signer: 1, view: 5n, first: vote(1, 'notarize', 5n, a), second: vote(1, 'notarize', 6n, b) })
  t.false(views.ok)
  if (!views.ok) t.regex(views.error, /not of one view: views 5 and 6/)
  const outsider = evidenceOf(vote(5, 'notarize', 5n, a), vote(5, 'notarize', 5n, b))
  const result = verifyEvidence(membership, outsider)
  t.false(result.ok)
  if (!result.ok) t.regex(result.error, /signer 5 is not a member .* \(n = 4\)/)
})
