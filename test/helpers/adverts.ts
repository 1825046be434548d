// Test helpers that build real, signed capacity adverts from fresh Ed25519 keys.

import { randomBytes } from 'node:crypto'
import { signCapacityAdvert, type CapacityAdvert, type SignedCapacityAdvert } from '../../protocol/capacity.ts'
import { peerIdOfPublicKey, type NodeId } from '../../protocol/ids.ts'
import { signerFromSeed, type Signer } from '../../protocol/signature.ts'

export function newSigner (): Signer {
  return signerFromSeed(randomBytes(32), peerIdOfPublicKey)
}

/** A valid advert body for `signer`, issued at `nowMs` and living `ttlMs`; fields overridable. */
export function advertFor (signer: Signer, nowMs: number, overrides: Partial<CapacityAdvert> = {}, ttlMs = 60_000): CapacityAdvert {
  return {
    nodeId: signer.id as NodeId,
    seq: BigInt(nowMs),
    issuedAtMs: BigInt(nowMs),
    expiresAtMs: BigInt(nowMs + ttlMs),
    multiaddrs: ['/ip4/127.0.0.1/tcp/4001'],
    cores: 8,
    memoryBytes: 32n * 1024n ** 3n,
    diskFreeBytes: 500n * 1024n ** 3n,
    loadPermille: 250,
    score: 123_456_789n,
    labels: { rack: 'r1', region: 'eu-west', operator: 'acme' },
    version: '0.1.0',
    actorSlotsFree: 100,
    subnets: [],
    ...overrides
  }
}

export function signedAdvert (signer: Signer, nowMs: number, overrides: Partial<CapacityAdvert> = {}, ttlMs = 60_000): SignedCapacityAdvert {
  return signCapacityAdvert(advertFor(signer, nowMs, overrides, ttlMs), signer)
}
