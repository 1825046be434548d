// The CLI's API client believes only what it can check: a certified response must verify against
// the genesis whose CID is the subnet id, and must say what the node's JSON says.

import test from 'ava'
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { certificateOf, encodeCertifiedResponse, signCertification, type CertifiedState } from '../../../../protocol/certification.ts'
import { actorIdOf, height, peerIdOfPublicKey, type NodeId, type Principal } from '../../../../protocol/ids.ts'
import { signIngress, type Ingress } from '../../../../protocol/ingress.ts'
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

const alice = signerFromSeed(randomBytes(32), peerIdOfPublicKey)
const bob = signerFromSeed(randomBytes(32), peerIdOfPublicKey)

/** `from`'s `inc` on the subnet's first actor: the same content, so the same RequestId, on every call. */
function inc (subnet: Subnet, from: Signer): Ingress {
  return signIngress({ kind: 'update', actor: actorIdOf(subnet.id, 1n), method: 'inc', payload: new Uint8Array(0), expiryMs: 1n << 42n, nonce: new Uint8Array(0), sender: from.id as Principal }, from)
}

/**
 * A certified answer at height 7, signed by `signerCount` members, whose receipts are bob's `inc`
 * (index 0, result "41") then alice's (index 1, result "42"): the answer of `who`'s request, with
 * JSON that agrees with that receipt.
 */
function answer (subnet: Subnet, signers: Signer[], signerCount = 3, who: 'alice' | 'bob' | 'delivery' = 'alice'): IngressResult {
  const actor = actorIdOf(subnet.id, 1n)
  const receipt = (index: number, result: string, requestId: Receipt['requestId']): Receipt =>
    ({ index, actor, method: 'inc', ok: true, result: new TextEncoder().encode(result), error: null, fuelUsed: 10n, logs: [], requestId })
  const list = [receipt(0, '41', inc(subnet, bob).requestId), receipt(1, '42', inc(subnet, alice).requestId), receipt(2, '43', null)]
  const receipts = list.map(encodeReceipt)
  const state: CertifiedState = { subnet: subnet.id, height: height(7n), stateRoot: new Uint8Array(32).fill(1), receiptsRoot: receiptsRoot(receipts) }
  const shares = new Map(signers.slice(0, signerCount).map((s, i) => [i, signCertification(state, s)]))
  const certificate = signerCount >= subnet.quorum
    ? certificateOf(subnet, { state, shares })
    : { ok: true as const, value: { state, signers: [...shares.keys()], signatures: [...shares.values()] } }
  if (!certificate.ok) throw new Error(certificate.error)
  const index = { bob: 0, alice: 1, delivery: 2 }[who]
  const certified = encodeCertifiedResponse({ receipt: receipts[index]!, proof: proveReceipt(receipts, index), certificate: certificate.value })
  const result = new TextDecoder().decode(list[index]!.result!)
  return {
    ok: true, status: 'certified', ingressId: 'x', requestId: 'y', subnet: subnet.id, height: '7', index, actor,
    receipt: { ok: true, method: 'inc', result: Buffer.from(result).toString('base64'), resultUtf8: result, error: null, fuelUsed: '10', logs: [] },
    certified: Buffer.from(certified).toString('base64')
  }
}

const untrusted = (message: RegExp) => ({ instanceOf: CliError, message })

test('verifyIngressResult accepts a quorum-certified receipt and returns what the certificate covers', t => {
  const { subnet, signers } = makeSubnet('a')
  const verified = verifyIngressResult(answer(subnet, signers), subnet, inc(subnet, alice))
  t.like(verified, { ok: true, method: 'inc', height: 7n, signers: 3, error: null, requestId: inc(subnet, alice).requestId })
  t.is(new TextDecoder().decode(verified.result!), '42')
})

test('verifyIngressResult refuses another request\'s certified receipt for the same actor and method', t => {
  const { subnet, signers } = makeSubnet('a')
  const mine = inc(subnet, alice)
  const theirs = inc(subnet, bob)
  // Bob's answer verifies for bob: it is certified, under the root, and agrees with its JSON…
  t.is(new TextDecoder().decode(verifyIngressResult(answer(subnet, signers, 3, 'bob'), subnet, theirs).result!), '41')
  // …so the only thing that tells alice it is not hers is the request it names.
  t.throws(() => verifyIngressResult(answer(subnet, signers, 3, 'bob'), subnet, mine),
    untrusted(new RegExp(`^certified receipt answers request ${theirs.requestId}, not ours \\(${mine.requestId}\\)$`)))
  // The same swap with the node's JSON naming alice's ids changes nothing: the JSON is not trusted.
  t.throws(() => verifyIngressResult({ ...answer(subnet, signers, 3, 'bob'), ingressId: mine.id, requestId: mine.requestId }, subnet, mine), untrusted(/answers request/))
  // A receipt that answers no request (an outbox delivery) answers no client either.
  t.throws(() => verifyIngressResult(answer(subnet, signers, 3, 'delivery'), subnet, mine), untrusted(/answers request none, not ours/))
})

test('verifyIngressResult refuses a certificate below quorum, another subnet\'s keys, and a JSON that lies', t => {
  const { subnet, signers } = makeSubnet('a')
  t.throws(() => verifyIngressResult(answer(subnet, signers, 2), subnet, inc(subnet, alice)), untrusted(/has 2 signatures, needs 3 of 4 members/))
  const other = makeSubnet('b')
  // Signed by other members under this subnet's name: the signatures do not verify against the genesis.
  const forged = answer({ ...other.subnet, id: subnet.id }, other.signers)
  t.throws(() => verifyIngressResult(forged, subnet, inc(subnet, alice)), untrusted(/bad certificate signature of member 0/))
  const lying = answer(subnet, signers)
  lying.receipt = { ...lying.receipt!, result: Buffer.from('43').toString('base64') }
  t.throws(() => verifyIngressResult(lying, subnet, inc(subnet, alice)), untrusted(/disagrees with the node's answer on result/))
  t.throws(() => verifyIngressResult({ ...answer(subnet, signers), height: '8' }, subnet, inc(subnet, alice)), untrusted(/on height/))
  t.throws(() => verifyIngressResult({ ...answer(subnet, signers), certified: undefined }, subnet, inc(subnet, alice)), untrusted(/carries no certified response/))
  t.throws(() => verifyIngressResult({ ...answer(subnet, signers), certified: 'AAAA' }, subnet, inc(subnet, alice)), untrusted(/certified response/))
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

test('ApiClient.submit sends the same envelope again when the node drops the connection and restarts, and fails at once when no daemon was ever there', async t => {
  const { subnet, signers } = makeSubnet('restart')
  const ingress = inc(subnet, alice)
  const bodies: Buffer[] = []
  const certified = answer(subnet, signers)
  let restarted = false
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks))
      if (!restarted) {
        // The node dies holding the wait: the connection drops, then nothing listens for a while.
        restarted = true
        req.socket.destroy()
        server.close()
        setTimeout(() => { server.listen(port, '127.0.0.1') }, 700)
        return
      }
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify(certified))
    })
  }
  const server = createServer(handler)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  t.teardown(() => { server.close() })
  const result = await new ApiClient(`http://127.0.0.1:${port}`).submit(ingress, { waitMs: 10_000 })
  t.is(result.status, 'certified')
  t.is(result.certified, certified.certified)
  t.true(bodies.length >= 2, `${bodies.length} submissions`)
  t.true(bodies.every(b => b.equals(ingress.bytes)), 'every submission is the same signed envelope')

  const started = Date.now()
  await t.throwsAsync(new ApiClient('http://127.0.0.1:9').submit(ingress, { waitMs: 10_000 }), { instanceOf: CliError, message: 'no daemon at http://127.0.0.1:9: is `pylon daemon` running?' })
  t.true(Date.now() - started < 5_000, 'no retries for a daemon never reached')
})
