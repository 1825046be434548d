// Ed25519 signatures over domain-tagged canonical bytes. Pure: signing with a given key is
// deterministic (RFC 8032); key generation, which needs randomness, lives in node/.

import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto'
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

export function publicKeyObject (publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([spkiPrefix, publicKey]), format: 'der', type: 'spki' })
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
  if (!(signature instanceof Uint8Array) || signature.length !== ed25519SignatureBytes) return false
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ed25519PublicKeyBytes) return false
  try {
    return nodeVerify(null, signingBytes(domain, value), publicKeyObject(publicKey), signature)
  } catch {
    return false
  }
}

/**
 * Key objects of recent signers by peer id (client principals and node ids alike): building one from
 * raw bytes costs about a third of a verification, and the same clients and members sign again and
 * again. A pure memo (a hit and a miss give the same answer), bounded, oldest dropped first.
 */
const peerKeys = new Map<string, KeyObject>()

/** The verification key a peer id names, or undefined when it names no usable Ed25519 key. */
export function keyOfPeer (peerId: string): KeyObject | undefined {
  let key = peerKeys.get(peerId)
  if (key !== undefined) return key
  const raw = publicKeyOfPeerId(peerId)
  if (!raw.ok) return undefined
  try {
    key = publicKeyObject(raw.value) // throws for 32 bytes that are not a curve point
  } catch {
    return undefined
  }
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
  if (!(signature instanceof Uint8Array) || signature.length !== ed25519SignatureBytes) return false
  const key = keyOfPeer(peerId)
  try {
    return key !== undefined && nodeVerify(null, signed, key, signature)
  } catch {
    return false
  }
}

/** Verifies a signature by the key that a peer id (NodeId or Principal) names. */
export function verifyBy (peerId: string, domain: string, value: unknown, signature: unknown): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== ed25519SignatureBytes) return false
  return verifyBytesBy(peerId, signingBytes(domain, value), signature)
}
