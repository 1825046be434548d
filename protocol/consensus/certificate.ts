// Subnet membership, quorum math, and signature checks for votes and certificates. Every vote is
// verified against the key its member index names; nothing here trusts a claimed signer.

import { signingBytes } from '../codec.ts'
import { publicKeyOfPeerId } from '../ids.ts'
import { consensusMembersMax } from '../limits.ts'
import { err, ok, type Result } from '../result.ts'
import { isEd25519PublicKey, verifyEd25519 } from '../signature.ts'
import { assert } from '../assert.ts'
import { bytesEqual, domains, hashBytes, voteKindOfCertificate, voteSigningValue, type Certificate, type Vote } from './messages.ts'

/** The replicas of one subnet, in the order that names them (signer index, leader rotation). */
export interface Membership {
  readonly subnet: string
  readonly members: readonly string[]
  /** f = ⌊(n−1)/3⌋: the Byzantine replicas tolerated. */
  readonly faults: number
  /** ⌊2n/3⌋+1 (= 2f+1 when n = 3f+1): any two quorums share an honest replica. */
  readonly quorum: number
  /** Raw 32-byte Ed25519 keys, by member index. */
  readonly keys: readonly Uint8Array[]
}

/**
 * Checks one signature by member `signer`. Injectable so a driver or simulator can memoize it
 * (verification is a pure function of its inputs, so a cache changes nothing but speed).
 */
export type Verifier = (membership: Membership, signer: number, domain: string, value: unknown, signature: Uint8Array) => boolean

export const verifyMember: Verifier = (membership, signer, domain, value, signature) => {
  const key = membership.keys[signer]
  return key !== undefined && verifyEd25519(key, signingBytes(domain, value), signature)
}

/** Builds the membership from trusted configuration (a genesis record); a bad id is a bug there. */
export function membershipOf (subnet: string, members: readonly string[]): Membership {
  assert(members.length >= 1 && members.length <= consensusMembersMax, `a subnet has 1..${consensusMembersMax} members, got ${members.length}`)
  assert(new Set(members).size === members.length, 'subnet members must be distinct')
  const keys = members.map(id => {
    const key = publicKeyOfPeerId(id)
    assert(key.ok && isEd25519PublicKey(key.value), `member ${id} is not an Ed25519 node id`)
    return key.value
  })
  const n = members.length
  return { subnet, members: [...members], faults: Math.floor((n - 1) / 3), quorum: Math.floor((2 * n) / 3) + 1, keys }
}

export function leaderOf (membership: Membership, view: bigint): number {
  return Number(view % BigInt(membership.members.length))
}

/** True if the vote is signed by the member it names, for this subnet. */
export function verifyVote (membership: Membership, vote: Vote, verify: Verifier = verifyMember): boolean {
  if (vote.signer >= membership.members.length) return false
  return verify(membership, vote.signer, domains[vote.kind], voteSigningValue(membership.subnet, vote.kind, vote.view, vote.block), vote.signature)
}

/**
 * Checks a certificate: known distinct signers (ascending), at least a quorum of them, and every
 * signature valid. The error names the first thing wrong.
 */
export function verifyCertificate (membership: Membership, cert: Certificate, verify: Verifier = verifyMember): Result<true> {
  const kind = voteKindOfCertificate[cert.kind]
  if (kind === undefined) return err(`unknown certificate kind ${String(cert.kind)}`)
  if ((kind === 'nullify') !== (cert.block === undefined)) return err(`${cert.kind} certificate ${kind === 'nullify' ? 'must not' : 'must'} name a block`)
  if (cert.block !== undefined && cert.block.length !== hashBytes) return err(`certificate block hash must be ${hashBytes} bytes`)
  if (cert.signers.length !== cert.signatures.length) return err('certificate signers and signatures differ in count')
  if (cert.signers.length < membership.quorum) return err(`${cert.kind} certificate has ${cert.signers.length} signers, needs ${membership.quorum}`)
  if (cert.signers.length > membership.members.length) return err(`certificate has ${cert.signers.length} signers > ${membership.members.length} members`)
  const value = voteSigningValue(membership.subnet, kind, cert.view, cert.block)
  for (let i = 0; i < cert.signers.length; i++) {
    const signer = cert.signers[i]!
    if (signer >= membership.members.length) return err(`certificate signer ${signer} is not a member (n = ${membership.members.length})`)
    if (i > 0 && signer <= cert.signers[i - 1]!) return err('certificate signers must be strictly ascending')
    if (!verify(membership, signer, domains[kind], value, cert.signatures[i]!)) return err(`certificate signature of member ${signer} is invalid`)
  }
  return ok(true)
}

/** Assembles a certificate from verified votes of one kind for one (view, block). */
export function certificateOf (kind: Certificate['kind'], view: bigint, block: Uint8Array | undefined, votes: ReadonlyMap<number, Uint8Array>): Certificate {
  const signers = [...votes.keys()].sort((a, b) => a - b)
  return { kind, view, ...(block === undefined ? {} : { block }), signers, signatures: signers.map(s => votes.get(s)!) }
}

/** Two certificates name the same decision (used to skip re-verifying one we hold). */
export function sameDecision (a: Certificate, b: Certificate): boolean {
  return a.kind === b.kind && a.view === b.view && bytesEqual(a.block, b.block)
}
