import test from 'ava'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { parseNodeId, peerIdOfPublicKey, publicKeyOfPeerId } from '../../../protocol/ids.ts'
import { signerFromSeed, verifyBy, verifySignature } from '../../../protocol/signature.ts'

test('peerIdOfPublicKey matches libp2p peer ids', async t => {
  const key = await generateKeyPair('Ed25519')
  const signer = signerFromSeed(key.raw.subarray(0, 32), peerIdOfPublicKey)
  t.is(signer.id, peerIdFromPrivateKey(key).toString())
  const back = publicKeyOfPeerId(signer.id)
  t.true(back.ok)
  if (back.ok) t.deepEqual(back.value, signer.publicKey)
})

test('verifyBy accepts the signer and refuses a changed value, domain, signer or signature', t => {
  const a = signerFromSeed(randomBytes(32), peerIdOfPublicKey)
  const b = signerFromSeed(randomBytes(32), peerIdOfPublicKey)
  const sig = a.sign('pylon/test/v1', { n: 1n })
  t.true(verifyBy(a.id, 'pylon/test/v1', { n: 1n }, sig))
  t.false(verifyBy(a.id, 'pylon/test/v1', { n: 2n }, sig))
  t.false(verifyBy(a.id, 'pylon/other/v1', { n: 1n }, sig))
  t.false(verifyBy(b.id, 'pylon/test/v1', { n: 1n }, sig))
  const flipped = sig.slice()
  flipped[0] = (flipped[0] ?? 0) ^ 1
  t.false(verifyBy(a.id, 'pylon/test/v1', { n: 1n }, flipped))
})

test('verifySignature returns false for malformed keys and signatures, never throws', t => {
  t.false(verifySignature(new Uint8Array(31), 'pylon/test/v1', 1, new Uint8Array(64)))
  t.false(verifySignature(new Uint8Array(32), 'pylon/test/v1', 1, new Uint8Array(63)))
  t.false(verifySignature(new Uint8Array(32), 'pylon/test/v1', 1, 'nope'))
  t.false(verifyBy('not-a-peer-id', 'pylon/test/v1', 1, new Uint8Array(64)))
  // A well-formed id whose 32 bytes are no curve point: refused each time (the key memo keeps no failure).
  const offCurve = peerIdOfPublicKey(new Uint8Array(32).fill(0xff))
  t.false(verifyBy(offCurve, 'pylon/test/v1', 1, new Uint8Array(64)))
  t.false(verifyBy(offCurve, 'pylon/test/v1', 1, new Uint8Array(64)))
})

test('parseNodeId refuses garbage, non-Ed25519 ids and over-long strings', t => {
  for (const bad of ['', 'x', 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N', 'z'.repeat(100), 42, null]) {
    t.false(parseNodeId(bad).ok, `accepted ${String(bad)}`)
  }
})
