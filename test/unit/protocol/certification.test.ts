import test from 'ava'
import { randomBytes } from 'node:crypto'
import { encode, sha256Bytes } from '../../../protocol/codec.ts'
import { height, peerIdOfPublicKey, type NodeId } from '../../../protocol/ids.ts'
import { certifiedResponseBytesMax } from '../../../protocol/limits.ts'
import { signerFromSeed, type Signer } from '../../../protocol/signature.ts'
import { proveReceipt, receiptsRoot } from '../../../protocol/state/receipts-root.ts'
import { assembleGenesis, genesisOf, signGenesis, type Subnet } from '../../../protocol/subnet.ts'
import {
  certificateMemoKey, certificateOf, certifyDomain, decodeCertificate, decodeCertifiedResponse, encodeCertificate, encodeCertifiedResponse,
  signCertification, verifyCertificate, verifyCertificationShare, verifyCertifiedResponse, type CertifiedState, type StateCertificate
} from '../../../protocol/certification.ts'

/** A 7-member subnet (f = 2, quorum 5), its keys in member order. */
function makeSubnet (n = 7, name = 'cert'): { subnet: Subnet, keys: Signer[] } {
  const unsorted = Array.from({ length: n }, () => signerFromSeed(randomBytes(32), peerIdOfPublicKey))
  const genesis = genesisOf({ name, members: unsorted.map(k => ({ nodeId: k.id as NodeId })), createdMs: 1n, params: { deltaMs: 100 } })
  const result = assembleGenesis(genesis, new Map(unsorted.map(k => [k.id, signGenesis(genesis, k)])))
  if (!result.ok) throw new Error(result.error)
  const keys = result.value.memberIds.map(id => unsorted.find(k => k.id === id)!)
  return { subnet: result.value, keys }
}

const { subnet, keys } = makeSubnet()
const receipts = [0, 1, 2, 3, 4].map(i => encode({ ingress: `message-${i}`, ok: true, reply: Uint8Array.of(i) }))
const state: CertifiedState = { subnet: subnet.id, height: height(12), stateRoot: sha256Bytes(Uint8Array.of(1)), receiptsRoot: receiptsRoot(receipts) }

function sharesBy (indexes: number[], over: CertifiedState = state): Map<number, Uint8Array> {
  return new Map(indexes.map(i => [i, signCertification(over, keys[i]!)]))
}

function certBy (indexes: number[]): StateCertificate {
  const sorted = [...indexes].sort((a, b) => a - b)
  return { state, signers: sorted, signatures: sorted.map(i => signCertification(state, keys[i]!)) }
}

test('a certificate with 2f+1 member signatures is accepted; with 2f it is refused', t => {
  t.is(subnet.quorum, 5)
  t.true(verifyCertificate(certBy([0, 1, 2, 3, 4]), subnet).ok)
  t.true(verifyCertificate(certBy([0, 1, 2, 3, 4, 5, 6]), subnet).ok)
  const short = verifyCertificate(certBy([0, 1, 2, 3]), subnet)
  t.false(short.ok)
  if (!short.ok) t.is(short.error, 'certificate has 4 signatures, needs 5 of 7 members')
})

test('certificateOf keeps only valid member shares and needs a quorum of them', t => {
  const shares = sharesBy([6, 0, 3, 1])
  shares.set(2, keys[2]!.sign(certifyDomain, { ...state, height: 13n })) // a share for another height
  const r1 = certificateOf(subnet, { state, shares })
  t.false(r1.ok)
  if (!r1.ok) t.is(r1.error, 'only 4 valid member signatures for height 12, a certificate needs 5')
  shares.set(5, signCertification(state, keys[5]!))
  const r2 = certificateOf(subnet, { state, shares })
  t.true(r2.ok)
  if (!r2.ok) return
  t.deepEqual(r2.value.signers, [0, 1, 3, 5, 6])
  t.true(verifyCertificate(r2.value, subnet).ok)
  t.true(verifyCertificationShare(subnet, { state, signer: 4, signature: signCertification(state, keys[4]!) }))
  t.false(verifyCertificationShare(subnet, { state, signer: 3, signature: signCertification(state, keys[4]!) }), 'signed by another member')
  t.false(verifyCertificationShare(subnet, { state, signer: 7, signature: signCertification(state, keys[4]!) }), 'no such member')
})

test('a certificate signed by a non-member is refused', t => {
  const outsider = signerFromSeed(randomBytes(32), peerIdOfPublicKey)
  const cert = certBy([0, 1, 2, 3, 4])
  cert.signatures[2] = signCertification(state, outsider)
  const r1 = verifyCertificate(cert, subnet)
  t.false(r1.ok)
  if (!r1.ok) t.is(r1.error, `bad certificate signature of member 2 (${subnet.memberIds[2]})`)
  const beyond = { ...certBy([0, 1, 2, 3]), signers: [0, 1, 2, 3, 7], signatures: [...certBy([0, 1, 2, 3]).signatures, signCertification(state, outsider)] }
  const r2 = verifyCertificate(beyond, subnet)
  t.false(r2.ok)
  if (!r2.ok) t.is(r2.error, 'certificate signer 7 is not a member (n = 7)')
  // A quorum from another subnet's members does not certify this one.
  const other = makeSubnet(7, 'other')
  const foreign: StateCertificate = { state, signers: [0, 1, 2, 3, 4], signatures: [0, 1, 2, 3, 4].map(i => signCertification(state, other.keys[i]!)) }
  t.false(verifyCertificate(foreign, subnet).ok)
})

test('a certificate with a repeated signer, another subnet, or a changed root is refused', t => {
  const cert = certBy([0, 1, 2, 3, 4])
  const repeated = { ...cert, signers: [0, 1, 2, 3, 3], signatures: [...cert.signatures.slice(0, 4), cert.signatures[3]!] }
  const r1 = verifyCertificate(repeated, subnet)
  t.false(r1.ok)
  if (!r1.ok) t.regex(r1.error, /strictly ascending/)
  const other = makeSubnet(4, 'x')
  const r2 = verifyCertificate(cert, other.subnet)
  t.false(r2.ok)
  if (!r2.ok) t.regex(r2.error, /certificate is for subnet/)
  const changed = { ...cert, state: { ...state, stateRoot: sha256Bytes(Uint8Array.of(2)) } }
  const r3 = verifyCertificate(changed, subnet)
  t.false(r3.ok)
  if (!r3.ok) t.regex(r3.error, /^bad certificate signature of member 0/)
  const badRoot = verifyCertificate({ ...cert, state: { ...state, receiptsRoot: new Uint8Array(31) } }, subnet)
  t.false(badRoot.ok)
  if (!badRoot.ok) t.is(badRoot.error, 'receipts root must be 32 bytes')
})

test('verifyCertifiedResponse accepts a receipt under the certified root and refuses a swapped one', t => {
  const certificate = certBy([0, 1, 2, 4, 6])
  const response = { receipt: receipts[3]!, proof: proveReceipt(receipts, 3), certificate }
  const good = verifyCertifiedResponse(response, subnet)
  t.true(good.ok)
  if (good.ok) { t.deepEqual(good.value.receipt, receipts[3]); t.is(good.value.height, height(12)) }
  const swapped = verifyCertifiedResponse({ ...response, receipt: receipts[2]! }, subnet)
  t.false(swapped.ok)
  if (!swapped.ok) t.regex(swapped.error, /receipt proof does not lead to the receipts root/)
  const weak = verifyCertifiedResponse({ ...response, certificate: certBy([0, 1]) }, subnet)
  t.false(weak.ok)
  if (!weak.ok) t.regex(weak.error, /needs 5/)
})

test('verifyCertifiedResponse with a memo checks a certificate once, still checks every receipt proof, and remembers only certificates that verified, per subnet', t => {
  const certificate = certBy([0, 1, 2, 4, 6])
  const memo = new Map<string, true>()
  let hits = 0
  const counting = { has: (key: string) => { const held = memo.has(key); if (held) hits++; return held }, set: (key: string, value: true) => memo.set(key, value) }
  t.true(verifyCertifiedResponse({ receipt: receipts[3]!, proof: proveReceipt(receipts, 3), certificate }, subnet, counting).ok)
  t.deepEqual([...memo.keys()], [certificateMemoKey(certificate, subnet)])
  // Another answer of the same height: its certificate is not checked again, its proof is.
  const second = verifyCertifiedResponse({ receipt: receipts[1]!, proof: proveReceipt(receipts, 1), certificate }, subnet, counting)
  t.true(second.ok && second.value.height === height(12))
  t.is(hits, 1)
  t.false(verifyCertifiedResponse({ receipt: receipts[2]!, proof: proveReceipt(receipts, 1), certificate }, subnet, counting).ok, 'a swapped receipt under a remembered certificate')
  // A forged signature is refused, and stays refused: nothing is remembered for it.
  const forged = certBy([0, 1, 2, 4, 6])
  forged.signatures[2] = Uint8Array.from(forged.signatures[2]!, (b, i) => i === 0 ? b ^ 1 : b)
  for (let i = 0; i < 2; i++) t.false(verifyCertifiedResponse({ receipt: receipts[3]!, proof: proveReceipt(receipts, 3), certificate: forged }, subnet, counting).ok)
  t.is(memo.size, 1)
  // Remembered for one subnet is not remembered for another.
  const other = makeSubnet(7, 'other').subnet
  t.not(certificateMemoKey(certificate, other), certificateMemoKey(certificate, subnet))
  t.false(verifyCertifiedResponse({ receipt: receipts[3]!, proof: proveReceipt(receipts, 3), certificate }, other, counting).ok)
})

test('certified responses and certificates round-trip through bytes; garbage is refused', t => {
  const certificate = certBy([1, 2, 3, 4, 5])
  const response = { receipt: receipts[0]!, proof: proveReceipt(receipts, 0), certificate }
  const decoded = decodeCertifiedResponse(encodeCertifiedResponse(response))
  t.true(decoded.ok)
  if (!decoded.ok) return
  t.true(verifyCertifiedResponse(decoded.value, subnet).ok)
  const cert = decodeCertificate(encodeCertificate(certificate))
  t.true(cert.ok)
  if (cert.ok) t.true(verifyCertificate(cert.value, subnet).ok)
  for (const bytes of [new Uint8Array(0), Uint8Array.of(0xff), encode({}), encode({ state: 1, signers: [], signatures: [] }), randomBytes(50)]) {
    t.false(decodeCertificate(bytes).ok)
    t.false(decodeCertifiedResponse(bytes).ok)
  }
  const over = decodeCertifiedResponse(new Uint8Array(certifiedResponseBytesMax + 1))
  t.false(over.ok)
  if (!over.ok) t.regex(over.error, new RegExp(`too large: ${certifiedResponseBytesMax + 1} > ${certifiedResponseBytesMax} bytes`))
  const zeroHeight = decodeCertificate(encode({ ...certificate, state: { ...state, height: 0 } }))
  t.false(zeroHeight.ok)
  if (!zeroHeight.ok) t.is(zeroHeight.error, 'certified height must be a u64 >= 1')
})
