// Equivocation evidence as a record anyone can check: its canonical encoding (dag-cbor, both votes
// in their wire form, and the subnet they were signed for), the decoder for stored or fetched bytes,
// and verifyEvidence. Pure: no I/O. Decoding never throws on bad bytes, and nothing decoded is
// trusted until verifyEvidence has checked both signatures and that the votes really conflict.

import { assert } from '../assert.ts'
import { decodeCanonical, encode } from '../codec.ts'
import { cidCharsMax, evidenceBytesMax } from '../limits.ts'
import { err, ok, type Result } from '../result.ts'
import { verifyMember, verifyVote, type Membership, type Verifier } from './certificate.ts'
import { bytesEqual, hex, messageValue, parseVote, type Vote } from './messages.ts'
import type { Evidence } from './replica.ts'

export type { Evidence } from './replica.ts'

/** Evidence as stored or fetched: the subnet names the members (and the signing domain) it is checked against. */
export interface EvidenceRecord {
  subnet: string
  evidence: Evidence
}

/**
 * The canonical bytes of a record: `{ subnet, first, second }`, each vote exactly as it travels on
 * the wire (messages.ts), so a stored record can be handed to anyone and checked with the subnet's
 * genesis alone. The signer and view are the votes' own: the record cannot name others.
 * Pre: evidence.signer and evidence.view are those of both votes' first (replica.ts builds it so).
 */
export function encodeEvidence (subnet: string, evidence: Evidence): Uint8Array {
  assert(evidence.first.signer === evidence.signer && evidence.first.view === evidence.view, 'evidence names the signer and view of its first vote')
  return encode({ subnet, first: messageValue(evidence.first), second: messageValue(evidence.second) })
}

/**
 * Decodes bytes from a disk or a peer into a record whose shape is checked; its signatures and its
 * conflict are NOT (verifyEvidence does that). Refuses, with a Result naming what is wrong: more than
 * evidenceBytesMax bytes, non-canonical or malformed dag-cbor, unknown fields, malformed votes.
 */
export function decodeEvidence (bytes: Uint8Array): Result<EvidenceRecord> {
  const decoded = decodeCanonical(bytes, { bytesMax: evidenceBytesMax })
  if (!decoded.ok) return err(`evidence: ${decoded.error}`)
  const value = decoded.value
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) return err('evidence must be a map')
  const record = value as Record<string, unknown>
  for (const key of Object.keys(record)) {
    if (key !== 'subnet' && key !== 'first' && key !== 'second') return err(`evidence has unknown field ${JSON.stringify(key.slice(0, 32))}`)
  }
  const subnet = record['subnet']
  if (typeof subnet !== 'string' || subnet.length === 0 || subnet.length > cidCharsMax) return err(`evidence subnet must be a string of 1..${cidCharsMax} characters`)
  const first = parseVote(record['first'])
  if (!first.ok) return err(`evidence first vote: ${first.error}`)
  const second = parseVote(record['second'])
  if (!second.ok) return err(`evidence second vote: ${second.error}`)
  return ok({ subnet, evidence: { signer: first.value.signer, view: first.value.view, first: first.value, second: second.value } })
}

/**
 * Whether two votes of one member in one view could not both come from an honest replica, by the
 * rules replica.ts records evidence under: two votes of one kind for different blocks, or a nullify
 * and a finalize (in either order). A notarize beside a nullify is allowed (a timeout after voting).
 */
export function conflictOf (first: Vote, second: Vote): Result<true> {
  if (first.kind === second.kind) {
    if (first.kind === 'nullify') return err('two nullify votes of one view do not conflict: they sign the same value')
    if (bytesEqual(first.block, second.block)) return err(`the votes do not conflict: both ${first.kind} block ${first.block === undefined ? 'none' : hex(first.block)}`)
    return ok(true)
  }
  const kinds = [first.kind, second.kind]
  if (kinds.includes('nullify') && kinds.includes('finalize')) return ok(true)
  return err(`the votes do not conflict: ${first.kind} and ${second.kind} in one view are allowed`)
}

/**
 * Checks that `evidence` proves a member equivocated: both votes name the same member and view as
 * the record, that member is in `membership`, the votes conflict (conflictOf), and both signatures
 * are that member's for membership.subnet. The error names the first thing wrong.
 */
export function verifyEvidence (membership: Membership, evidence: Evidence, verify: Verifier = verifyMember): Result<true> {
  const { signer, view, first, second } = evidence
  if (first.signer !== signer || second.signer !== signer) return err(`the votes are not one member's: signers ${first.signer} and ${second.signer}, the record names ${signer}`)
  if (first.view !== view || second.view !== view) return err(`the votes are not of one view: views ${first.view} and ${second.view}, the record names ${view}`)
  if (!Number.isInteger(signer) || signer < 0 || signer >= membership.members.length) return err(`signer ${signer} is not a member of subnet ${membership.subnet} (n = ${membership.members.length})`)
  const conflict = conflictOf(first, second)
  if (!conflict.ok) return conflict
  if (!verifyVote(membership, first, verify)) return err(`the first vote (${first.kind}) is not signed by member ${signer} for subnet ${membership.subnet}`)
  if (!verifyVote(membership, second, verify)) return err(`the second vote (${second.kind}) is not signed by member ${signer} for subnet ${membership.subnet}`)
  return ok(true)
}
