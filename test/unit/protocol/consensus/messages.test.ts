import test from 'ava'
import fc from 'fast-check'
import { encode } from '../../../../protocol/codec.ts'
import { consensusFetchItemsMax, consensusMembersMax, consensusMessageBytesMax, consensusPayloadBytesMax } from '../../../../protocol/limits.ts'
import { membershipOf, verifyCertificate, verifyVote, leaderOf } from '../../../../protocol/consensus/certificate.ts'
import { blockHash, blockValue, decodeMessage, encodeMessage, messageValue, type Certificate, type Message } from '../../../../protocol/consensus/messages.ts'
import { decodeWalRecord, encodeWalRecord } from '../../../../protocol/consensus/wal.ts'
import { block, certificate, genesis, membership, proposal, signers, subnet, vote } from './_fixture.ts'

function roundTrip (t: import('ava').ExecutionContext, message: Message): void {
  const decoded = decodeMessage(encodeMessage(message))
  t.true(decoded.ok, decoded.ok ? '' : decoded.error)
  if (decoded.ok) t.deepEqual(encode(messageValue(decoded.value)), encodeMessage(message))
}

test('decodeMessage round-trips every message kind', t => {
  const b = block(1n, 1n, genesis)
  const hash = blockHash(b)
  roundTrip(t, vote(2, 'notarize', 1n, hash))
  roundTrip(t, vote(2, 'nullify', 1n))
  roundTrip(t, vote(2, 'finalize', 1n, hash))
  roundTrip(t, proposal(b))
  roundTrip(t, certificate('notarization', 1n, hash, [0, 1, 2]))
  roundTrip(t, certificate('nullification', 3n, undefined, [1, 2, 3]))
  roundTrip(t, { kind: 'request', blocks: [hash], views: [4n] })
  roundTrip(t, { kind: 'blocks', blocks: [b] })
})

test('decodeMessage returns an error for garbage, never throws', t => {
  const garbage = [new Uint8Array(0), Uint8Array.of(0xff), Uint8Array.of(0xa1, 0x01), encode('hello'), encode([1, 2]), encode({ kind: 'nope' }),
    encode({ kind: 'notarize', view: -1, block: new Uint8Array(32), signer: 0, signature: new Uint8Array(64) }),
    encode({ kind: 'nullify', view: 1, signer: 0, signature: new Uint8Array(63) }),
    encode({ kind: 'nullify', view: 1, signer: 0, signature: new Uint8Array(64), extra: 1 }),
    encode({ kind: 'finalize', view: 1, block: new Uint8Array(31), signer: 0, signature: new Uint8Array(64) }),
    encode({ kind: 'notarize', view: 1, block: new Uint8Array(32), signer: consensusMembersMax, signature: new Uint8Array(64) }),
    encode({ kind: 'proposal', block: 'x', vote: 'y' })]
  for (const bytes of garbage) {
    const result = decodeMessage(bytes)
    t.false(result.ok, `accepted ${Buffer.from(bytes).toString('hex').slice(0, 40)}`)
  }
})

test('decodeMessage takes a block payload at the limit and refuses one byte more', t => {
  const atLimit = proposal(block(1n, 1n, genesis, new Uint8Array(consensusPayloadBytesMax)))
  t.true(decodeMessage(encodeMessage(atLimit)).ok)
  const over = block(1n, 1n, genesis, new Uint8Array(consensusPayloadBytesMax + 1))
  const result = decodeMessage(encode({ kind: 'blocks', blocks: [blockValue(over)] }))
  t.false(result.ok)
  if (!result.ok) t.regex(result.error, /payload too large: 4194305 > 4194304 bytes/)
  // Bytes beyond the message bound are refused before they are parsed.
  const huge = decodeMessage(new Uint8Array(consensusMessageBytesMax + 1))
  t.false(huge.ok)
  if (!huge.ok) t.regex(huge.error, /message too large/)
})

test('decodeMessage takes a request of the item limit and refuses one more', t => {
  const hashes = (n: number): Uint8Array[] => Array.from({ length: n }, () => new Uint8Array(32))
  t.true(decodeMessage(encodeMessage({ kind: 'request', blocks: hashes(consensusFetchItemsMax), views: [] })).ok)
  const over = decodeMessage(encode({ kind: 'request', blocks: hashes(consensusFetchItemsMax + 1), views: [] }))
  t.false(over.ok)
  if (!over.ok) t.regex(over.error, /too long: 33 > 32 items/)
})

test('decodeMessage takes a certificate of the signer limit and refuses one more', t => {
  const cert = (n: number): unknown => ({ kind: 'nullification', view: 1, signers: Array.from({ length: n }, (_, i) => i), signatures: Array.from({ length: n }, () => new Uint8Array(64)) })
  t.true(decodeMessage(encode(cert(consensusMembersMax))).ok)
  const over = decodeMessage(encode(cert(consensusMembersMax + 1)))
  t.false(over.ok)
  if (!over.ok) t.regex(over.error, /too many signers: 65 > 64/)
  const unsorted = decodeMessage(encode({ kind: 'nullification', view: 1, signers: [1, 0], signatures: [new Uint8Array(64), new Uint8Array(64)] }))
  t.false(unsorted.ok)
})

test('verifyCertificate accepts 2f+1 valid signatures and refuses 2f', t => {
  const hash = blockHash(block(1n, 1n, genesis))
  t.true(verifyCertificate(membership, certificate('notarization', 1n, hash, [0, 1, 3])).ok)
  const short = verifyCertificate(membership, certificate('notarization', 1n, hash, [0, 1]))
  t.false(short.ok)
  if (!short.ok) t.is(short.error, 'notarization certificate has 2 signers, needs 3')
})

test('verifyCertificate refuses a forged, duplicated, foreign or misdirected signature', t => {
  const hash = blockHash(block(1n, 1n, genesis))
  const good = certificate('finalization', 1n, hash, [0, 1, 2])
  const forged: Certificate = { ...good, signatures: [good.signatures[0]!, good.signatures[1]!, Uint8Array.from(good.signatures[2]!, (b, i) => i === 0 ? b ^ 1 : b)] }
  t.regex((verifyCertificate(membership, forged) as { error: string }).error, /signature of member 2 is invalid/)
  const duplicated: Certificate = { ...good, signers: [0, 1, 1] }
  t.false(verifyCertificate(membership, duplicated).ok)
  const nonMember: Certificate = { ...good, signers: [0, 1, 5] }
  t.regex((verifyCertificate(membership, nonMember) as { error: string }).error, /not a member/)
  // Finalize signatures are no notarization (domain separation), and another view is another value.
  t.false(verifyCertificate(membership, { ...good, kind: 'notarization' }).ok)
  t.false(verifyCertificate(membership, { ...good, view: 2n }).ok)
  const nullification = certificate('nullification', 1n, undefined, [0, 1, 2])
  t.false(verifyCertificate(membership, { ...nullification, block: hash }).ok)
  // A certificate of another subnet (same keys) does not verify here.
  const other = membershipOf('bafyreiother', membership.members)
  t.false(verifyCertificate(other, good).ok)
})

test('verifyVote checks the named member and the subnet', t => {
  const v = vote(1, 'nullify', 7n)
  t.true(verifyVote(membership, v))
  t.false(verifyVote(membership, { ...v, signer: 2 }))
  t.false(verifyVote(membership, { ...v, signer: 9 }))
  t.false(verifyVote(membershipOf('bafyreiother', membership.members), v))
})

test('leaderOf rotates round-robin over the members', t => {
  t.deepEqual([0n, 1n, 2n, 3n, 4n, 5n].map(v => leaderOf(membership, v)), [0, 1, 2, 3, 0, 1])
  t.is(membership.quorum, 3)
  t.is(membership.faults, 1)
  const seven = membershipOf(subnet, signers.slice(0, 7).map(s => s.id))
  t.is(seven.quorum, 5)
  t.is(seven.faults, 2)
})

test('decodeWalRecord round-trips records and refuses a torn one', t => {
  const b = block(1n, 1n, genesis)
  const record = { kind: 'vote' as const, vote: vote(0, 'notarize', 1n, blockHash(b)), block: b }
  const bytes = encodeWalRecord(record)
  const back = decodeWalRecord(bytes)
  t.true(back.ok)
  if (back.ok) t.deepEqual(encodeWalRecord(back.value), bytes)
  for (let cut = 0; cut < bytes.length; cut += 7) t.false(decodeWalRecord(bytes.subarray(0, cut)).ok)
  const cert = { kind: 'certificate' as const, certificate: certificate('nullification', 2n, undefined, [0, 1, 2]) }
  t.true(decodeWalRecord(encodeWalRecord(cert)).ok)
})

test('decodeMessage and decodeWalRecord never throw on random or mutated bytes', t => {
  const b = block(3n, 2n, genesis, Uint8Array.of(1, 2, 3))
  const valid = [encodeMessage(proposal(b)), encodeMessage(certificate('finalization', 3n, blockHash(b), [0, 1, 2])), encodeMessage({ kind: 'request', blocks: [blockHash(b)], views: [1n] })]
  let refused = 0
  fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), bytes => {
    if (!decodeMessage(bytes).ok) refused++
    decodeWalRecord(bytes)
  }), { numRuns: 2000 })
  fc.assert(fc.property(fc.nat(valid.length - 1), fc.nat(), fc.integer({ min: 0, max: 255 }), (which, at, value) => {
    const bytes = valid[which]!.slice()
    bytes[at % bytes.length] = value
    const result = decodeMessage(bytes)
    // Whatever survives decoding re-encodes; nothing throws.
    if (result.ok) encodeMessage(result.value)
  }), { numRuns: 2000 })
  t.true(refused > 1900, `random bytes decoded as messages ${2000 - refused} times`)
})
