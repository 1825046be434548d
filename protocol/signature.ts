// Ed25519 signatures over domain-tagged canonical bytes. Pure: signing with a given key is
// deterministic (RFC 8032); key generation, which needs randomness, lives in node/.
//
// Signing is node:crypto's (OpenSSL). Verification is libsodium's (sodium-native), for two reasons:
// it verifies 1.4–2.5× as many signatures per second as OpenSSL on the machines measured (`npm run
// bench -- consensus` prints both), and verification is the largest single cost of a signed update;
// and its rule is the strict one every node must share so that replicas reach the same verdict on
// every envelope and vote: RFC 8032 with S < L, canonical encodings of A and R, and small-order A
// and R refused.

import { createPrivateKey, createPublicKey, sign as nodeSign } from 'node:crypto'
import sodium from 'sodium-native'
import { signingBytes } from './codec.ts'
import { ed25519PublicKeyBytes, publicKeyOfPeerId } from './ids.ts'
import { peerKeysCachedMax } from './limits.ts'

export const ed25519SignatureBytes = 64
export const ed25519SeedBytes = 32

// DER prefixes that wrap a raw 32-byte Ed25519 key as SPKI (public) or PKCS#8 (private seed).
const spkiPrefix = Buffer.from('302a300506032b6570032100', 'hex')
const pkcs8Prefix = Buffer.from('302e020100300506032b657004220420', 'hex')

/** Something that signs with an Ed25519 key: a node key or a client identity. */
export interface Signer {
  readonly publicKey: Uint8Array
  /** Peer id string of publicKey: a NodeId or a Principal. */
  readonly id: string
  sign (domain: string, value: unknown): Uint8Array
}

/**
 * Verifies `signature` over exactly `message` by a raw 32-byte Ed25519 key: the one verification
 * rule of the protocol (see the top of this file). False, never a throw, for any malformed input.
 */
export function verifyEd25519 (publicKey: Uint8Array, message: Uint8Array, signature: unknown): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== ed25519SignatureBytes) return false
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ed25519PublicKeyBytes) return false
  return sodium.crypto_sign_verify_detached(signature, message, publicKey)
}

/** Whether 32 bytes are a usable Ed25519 public key: canonical, on the curve, in the prime-order subgroup. */
export function isEd25519PublicKey (publicKey: Uint8Array): boolean {
  return publicKey.length === ed25519PublicKeyBytes && sodium.crypto_core_ed25519_is_valid_point(publicKey)
}

/** A signer from a 32-byte Ed25519 seed (the private key). */
export function signerFromSeed (seed: Uint8Array, id: (publicKey: Uint8Array) => string): Signer {
  if (seed.length !== ed25519SeedBytes) throw new RangeError(`ed25519 seed must be ${ed25519SeedBytes} bytes, got ${seed.length}`)
  const privateKey = createPrivateKey({ key: Buffer.concat([pkcs8Prefix, seed]), format: 'der', type: 'pkcs8' })
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' })
  const publicKey = new Uint8Array(spki.subarray(spkiPrefix.length))
  return {
    publicKey,
    id: id(publicKey),
    sign: (domain, value) => new Uint8Array(nodeSign(null, signingBytes(domain, value), privateKey))
  }
}

/** Verifies a signature; false (never a throw) for any malformed key or signature. */
export function verifySignature (publicKey: Uint8Array, domain: string, value: unknown, signature: unknown): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== ed25519SignatureBytes) return false // before encoding the value
  return verifyEd25519(publicKey, signingBytes(domain, value), signature)
}

/**
 * Keys of recent signers by peer id (client principals and node ids alike): parsing a peer id costs
 * a few µs, and the same clients and members sign again and again. A pure memo (a hit and a miss
 * give the same answer), bounded, oldest dropped first.
 */
const peerKeys = new Map<string, Uint8Array>()

/**
 * The key a peer id names, or undefined when it names no Ed25519 key. Whether those 32 bytes are a
 * usable point is left to verifyEd25519, so that a key is judged by one rule wherever it comes from.
 */
export function keyOfPeer (peerId: string): Uint8Array | undefined {
  let key = peerKeys.get(peerId)
  if (key !== undefined) return key
  const raw = publicKeyOfPeerId(peerId)
  if (!raw.ok) return undefined
  key = raw.value
  if (peerKeys.size >= peerKeysCachedMax) peerKeys.delete(peerKeys.keys().next().value!)
  peerKeys.set(peerId, key)
  return key
}

/** Whether keyOfPeer holds this peer id now (it then parses as an Ed25519 peer id). */
export function keyOfPeerHeld (peerId: string): boolean {
  return peerKeys.has(peerId)
}

/** Verifies a signature over `signed` bytes by the key that a peer id names; false (never a throw) for anything malformed. */
export function verifyBytesBy (peerId: string, signed: Uint8Array, signature: unknown): boolean {
  const key = keyOfPeer(peerId)
  return key !== undefined && verifyEd25519(key, signed, signature)
}

/** Verifies a signature by the key that a peer id (NodeId or Principal) names. */
export function verifyBy (peerId: string, domain: string, value: unknown, signature: unknown): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== ed25519SignatureBytes) return false
  return verifyBytesBy(peerId, signingBytes(domain, value), signature)
}
