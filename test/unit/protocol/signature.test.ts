import test from 'ava'
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { parseNodeId, peerIdOfPublicKey, publicKeyOfPeerId } from '../../../protocol/ids.ts'
import { isEd25519PublicKey, signerFromSeed, verifyBy, verifyEd25519, verifySignature } from '../../../protocol/signature.ts'

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
  // A well-formed id whose 32 bytes are no curve point: refused each time (the key memo holds its bytes).
  const offCurve = peerIdOfPublicKey(new Uint8Array(32).fill(0xff))
  t.false(verifyBy(offCurve, 'pylon/test/v1', 1, new Uint8Array(64)))
  t.false(verifyBy(offCurve, 'pylon/test/v1', 1, new Uint8Array(64)))
})

test('parseNodeId refuses garbage, non-Ed25519 ids and over-long strings', t => {
  for (const bad of ['', 'x', 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N', 'z'.repeat(100), 42, null]) {
    t.false(parseNodeId(bad).ok, `accepted ${String(bad)}`)
  }
})

test('verifyEd25519 (libsodium) accepts what node:crypto (OpenSSL) signs, and refuses any changed bit', t => {
  for (let i = 0; i < 20; i++) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519')
    const raw = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32))
    const message = randomBytes(1 + i * 37)
    const signature = new Uint8Array(sign(null, message, privateKey))
    t.true(isEd25519PublicKey(raw))
    t.true(verifyEd25519(raw, message, signature))
    const bit = i * 29 % (64 * 8)
    const changed = signature.slice()
    changed[bit >> 3]! ^= 1 << (bit & 7)
    t.false(verifyEd25519(raw, message, changed), `signature bit ${bit}`)
    const other = message.slice()
    other[i % other.length]! ^= 0x80
    t.false(verifyEd25519(raw, other, signature))
  }
})

test('verifyEd25519 keeps the strict rule every replica shares: non-canonical S and small-order keys are refused', t => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const raw = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32))
  const message = new TextEncoder().encode('pylon')
  const signature = new Uint8Array(sign(null, message, privateKey))
  // S + L names the same scalar: RFC 8032 verifiers that skip the S < L check accept it (malleability).
  const L = 2n ** 252n + 27742317777372353535851937790883648493n
  let s = 0n
  for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(signature[32 + i]!)
  let sPlusL = s + L
  const malleated = signature.slice()
  for (let i = 0; i < 32; i++, sPlusL >>= 8n) malleated[32 + i] = Number(sPlusL & 0xffn)
  t.false(verifyEd25519(raw, message, malleated))
  // A point of order 8 and the identity: no signature by them counts, whatever the message.
  const smallOrder = [Buffer.from('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa', 'hex'), Uint8Array.of(1, ...new Uint8Array(31))]
  const identityR = Uint8Array.of(1, ...new Uint8Array(63)) // R = identity, S = 0: [S]B − [h]A = R whenever [h]A is the identity
  for (const key of smallOrder) {
    t.false(isEd25519PublicKey(new Uint8Array(key)))
    for (let i = 0; i < 32; i++) t.false(verifyEd25519(new Uint8Array(key), new TextEncoder().encode(`message ${i}`), identityR))
  }
})
