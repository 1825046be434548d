// The CLI's API client believes only what it can check: a certified response must verify against
// the genesis whose CID is the subnet id, and must say what the node's JSON says.

import test from 'ava'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { certificateOf, encodeCertifiedResponse, signCertification, type CertifiedState } from '../../../../protocol/certification.ts'
import { actorIdOf, height, peerIdOfPublicKey, type NodeId } from '../../../../protocol/ids.ts'
import { encodeReceipt, type Receipt } from '../../../../protocol/receipt.ts'
import { signerFromSeed, type Signer } from '../../../../protocol/signature.ts'
import { proveReceipt, receiptsRoot } from '../../../../protocol/state/receipts-root.ts'
import { assembleGenesis, encodeGenesis, genesisOf, signGenesis, type Subnet } from '../../../../protocol/subnet.ts'
import { ApiClient, payloadOf, verifyIngressResult, type IngressResult } from '../../../../node/cli/client.ts'
import { CliError } from '../../../../node/cli/output.ts'

function makeSubnet (name: string): { subnet: Subnet, signers: Signer[] } {
  const signers = Array.from({ length: 4 }, () => signerFromSeed(randomBytes(32), peerIdOfPublicKey))
  const genesis = genesisOf({ name, members: signers.map(s => ({ nodeId: s.id as NodeId })), createdMs: 1n, params: { deltaMs: 100 } })
  const subnet = assembleGenesis(genesis, new Map(signers.map(s => [s.id, signGenesis(genesis, s)])))
  if (!subnet.ok) throw new Error(subnet.error)
  // Certificates name signers by genesis order, which sorts members by id.
  const ordered = subnet.value.memberIds.map(id => signers.find(s => s.id === id)!)
  return { subnet: subnet.value, signers: ordered }
}

/** A certified answer for one `inc` at height 7, signed by `signerCount` members. */
function answer (subnet: Subnet, signers: Signer[], signerCount = 3): IngressResult {
  const actor = actorIdOf(subnet.id, 1n)
  const receipt: Receipt = { index: 1, actor, method: 'inc', ok: true, result: new TextEncoder().encode('42'), error: null, fuelUsed: 10n, logs: [] }
  const receipts = [encodeReceipt({ ...receipt, index: 0, method: 'other' }), encodeReceipt(receipt)]
  const state: CertifiedState = { subnet: subnet.id, height: height(7n), stateRoot: new Uint8Array(32).fill(1), receiptsRoot: receiptsRoot(receipts) }
  const shares = new Map(signers.slice(0, signerCount).map((s, i) => [i, signCertification(state, s)]))
  const certificate = signerCount >= subnet.quorum
    ? certificateOf(subnet, { state, shares })
    : { ok: true as const, value: { state, signers: [...shares.keys()], signatures: [...shares.values()] } }
  if (!certificate.ok) throw new Error(certificate.error)
  const certified = encodeCertifiedResponse({ receipt: receipts[1]!, proof: proveReceipt(receipts, 1), certificate: certificate.value })
  return {
    ok: true, status: 'certified', ingressId: 'x', requestId: 'y', subnet: subnet.id, height: '7', index: 1, actor,
    receipt: { ok: true, method: 'inc', result: Buffer.from('42').toString('base64'), resultUtf8: '42', error: null, fuelUsed: '10', logs: [] },
    certified: Buffer.from(certified).toString('base64')
  }
}

const untrusted = (message: RegExp) => ({ instanceOf: CliError, message })

test('verifyIngressResult accepts a quorum-certified receipt and returns what the certificate covers', t => {
  const { subnet, signers } = makeSubnet('a')
  const verified = verifyIngressResult(answer(subnet, signers), subnet)
  t.like(verified, { ok: true, method: 'inc', height: 7n, signers: 3, error: null })
  t.is(new TextDecoder().decode(verified.result!), '42')
})

test('verifyIngressResult refuses a certificate below quorum, another subnet\'s keys, and a JSON that lies', t => {
  const { subnet, signers } = makeSubnet('a')
  t.throws(() => verifyIngressResult(answer(subnet, signers, 2), subnet), untrusted(/has 2 signatures, needs 3 of 4 members/))
  const other = makeSubnet('b')
  // Signed by other members under this subnet's name: the signatures do not verify against the genesis.
  const forged = answer({ ...other.subnet, id: subnet.id }, other.signers)
  t.throws(() => verifyIngressResult(forged, subnet), untrusted(/bad certificate signature of member 0/))
  const lying = answer(subnet, signers)
  lying.receipt = { ...lying.receipt!, result: Buffer.from('43').toString('base64') }
  t.throws(() => verifyIngressResult(lying, subnet), untrusted(/disagrees with the node's answer on result/))
  t.throws(() => verifyIngressResult({ ...answer(subnet, signers), height: '8' }, subnet), untrusted(/on height/))
  t.throws(() => verifyIngressResult({ ...answer(subnet, signers), certified: undefined }, subnet), untrusted(/carries no certified response/))
  t.throws(() => verifyIngressResult({ ...answer(subnet, signers), certified: 'AAAA' }, subnet), untrusted(/certified response/))
})

test('ApiClient.subnet refuses a genesis that does not hash to the subnet id asked for', async t => {
  const a = makeSubnet('a')
  const b = makeSubnet('b')
  const server = createServer((req, res) => {
    // A lying node: asked for subnet a, it serves b's (valid, signed) genesis.
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ id: a.subnet.id, genesis: Buffer.from(encodeGenesis(b.subnet)).toString('base64') }))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const client = new ApiClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
  await t.throwsAsync(client.subnet(a.subnet.id), untrusted(new RegExp(`sent the genesis of ${b.subnet.id} when asked for ${a.subnet.id}`)))
})

test('ApiClient names the daemon that is not there, and payloadOf names the size and the limit', async t => {
  await t.throwsAsync(new ApiClient('http://127.0.0.1:9').subnets(), { message: 'no daemon at http://127.0.0.1:9: is `pylon daemon` running?' })
  t.throws(() => payloadOf('x'.repeat(2 * 1024 * 1024)), { message: /^payload too large: 2097152 > \d+ bytes$/ })
  t.is(payloadOf('héllo').length, 6)
})
