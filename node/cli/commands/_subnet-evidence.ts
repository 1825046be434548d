// `pylon subnet evidence SUBNET_ID`: lists the equivocation records a member stored (GET
// /v1/subnets/:id/evidence) and verifies each one here against the subnet's genesis members (fetched
// and checked by ApiClient.subnet). It never trusts the node's own `verified` and never hides a record.

import { membershipOf, type Membership } from '../../../protocol/consensus/certificate.ts'
import { encodeEvidence, verifyEvidence, type Evidence } from '../../../protocol/consensus/evidence.ts'
import { hashBytes, type Vote } from '../../../protocol/consensus/messages.ts'
import { parseSubnetId } from '../../../protocol/ids.ts'
import { apiEvidencePageMax } from '../../../protocol/limits.ts'
import { err, ok, type Result } from '../../../protocol/result.ts'
import { ed25519SignatureBytes } from '../../../protocol/signature.ts'
import { ApiClient } from '../client.ts'
import { resolveApiUrl, type ClientOptions } from '../daemon-client.ts'
import { CliError, emit, table } from '../output.ts'

/** A vote as GET /v1/subnets/:id/evidence shows it. */
interface VoteJson { kind: string, block: string | null, signature: string }

/** One record as the node sends it (its `verified` is the node's word; we check for ourselves). */
interface EvidenceJson {
  subnet: string
  view: string
  signer: number
  member: string | null
  first: VoteJson | null
  second: VoteJson | null
  verified?: boolean
  error?: string
  record?: string
}

/** What the command shows: the node's record, with `verified` and `error` from our own check. */
type CheckedEvidence = Omit<EvidenceJson, 'verified' | 'error'> & { verified: boolean, error?: string, nodeVerified: boolean | null }

export interface EvidenceFlags extends ClientOptions {
  limit?: string
}

/** The action of `pylon subnet evidence <id>` (subnet.ts declares the command and its options). */
export async function subnetEvidence (raw: string, flags: EvidenceFlags): Promise<void> {
  const id = parseSubnetId(raw)
  if (!id.ok) throw new CliError(`not a subnet id: ${JSON.stringify(raw.slice(0, 80))} (${id.error})`)
  const limit = flags.limit ?? String(apiEvidencePageMax)
  if (!/^\d{1,6}$/.test(limit) || Number(limit) < 1 || Number(limit) > apiEvidencePageMax) {
    throw new CliError(`--limit must be an integer in 1..${apiEvidencePageMax}, got ${JSON.stringify(limit.slice(0, 32))}`)
  }
  const client = new ApiClient(await resolveApiUrl(flags))
  // The genesis hashes to the id asked for, so the members (and keys) we check against are the subnet's.
  const { subnet } = await client.subnet(id.value)
  const membership = membershipOf(subnet.id, subnet.memberIds)
  const answer = await client.request<unknown>('GET', `/v1/subnets/${encodeURIComponent(id.value)}/evidence?limit=${limit}`)
  if (!Array.isArray(answer)) throw new CliError(`${client.url} answered GET /v1/subnets/${id.value}/evidence with something other than a list`, 'untrusted')
  const rows = answer.map(row => check(membership, row as EvidenceJson))
  const failed = rows.filter(r => !r.verified).length
  emit(flags.json, rows, () => {
    if (rows.length === 0) return `no equivocation evidence stored for subnet ${subnet.id} on ${client.url}`
    const lines = table(['VIEW', 'SIGNER', 'MEMBER', 'VOTES', 'CHECK'], rows.map(r => [
      String(r.view), String(r.signer), r.member ?? '?', `${r.first?.kind ?? '?'} / ${r.second?.kind ?? '?'}`, r.verified ? 'verified' : `NOT VERIFIED: ${r.error ?? ''}`
    ]))
    const summary = failed === 0
      ? `${rows.length} record${rows.length === 1 ? '' : 's'}, each verified against the ${membership.members.length} members of subnet ${subnet.id}`
      : `${failed} of ${rows.length} records do NOT verify against subnet ${subnet.id}'s members: they prove nothing about the member they name`
    return `${lines}\n${summary}`
  })
}

/** Our own verdict on one record as the node shows it: every field we print is what we check. */
function check (membership: Membership, row: EvidenceJson): CheckedEvidence {
  const shown: Omit<CheckedEvidence, 'verified' | 'error'> = {
    subnet: String(row?.subnet), view: String(row?.view), signer: row?.signer, member: row?.member ?? null,
    first: row?.first ?? null, second: row?.second ?? null, nodeVerified: typeof row?.verified === 'boolean' ? row.verified : null,
    ...(typeof row?.record === 'string' ? { record: row.record } : {})
  }
  const evidence = parseRow(row)
  if (!evidence.ok) return { ...shown, verified: false, error: `malformed: ${evidence.error}` }
  if (row.subnet !== membership.subnet) return { ...shown, verified: false, error: `listed for subnet ${String(row.subnet)}, not ${membership.subnet}` }
  const member = membership.members[evidence.value.signer]
  if (row.member !== member) return { ...shown, verified: false, error: `the node names member ${String(row.member)}, but signer ${evidence.value.signer} is ${member ?? 'no member'} in the genesis` }
  // The encoded record travels beside the fields for export: it must be exactly these fields' record.
  if (row.record !== undefined && (typeof row.record !== 'string' || !Buffer.from(row.record, 'base64').equals(encodeEvidence(membership.subnet, evidence.value)))) {
    return { ...shown, verified: false, error: 'the encoded record is not the record of the fields shown' }
  }
  const verified = verifyEvidence(membership, evidence.value)
  return verified.ok ? { ...shown, verified: true } : { ...shown, verified: false, error: verified.error }
}

function parseRow (row: EvidenceJson): Result<Evidence> {
  if (typeof row !== 'object' || row === null) return err('not a record')
  if (typeof row.view !== 'string' || !/^\d{1,20}$/.test(row.view)) return err(`view must be a decimal u64, got ${JSON.stringify(row.view)}`)
  if (!Number.isInteger(row.signer) || row.signer < 0) return err(`signer must be a member index, got ${JSON.stringify(row.signer)}`)
  const view = BigInt(row.view)
  const first = parseVote(row.first, view, row.signer, 'first')
  if (!first.ok) return first
  const second = parseVote(row.second, view, row.signer, 'second')
  if (!second.ok) return second
  return ok({ signer: row.signer, view, first: first.value, second: second.value })
}

function parseVote (vote: VoteJson | null, view: bigint, signer: number, which: string): Result<Vote> {
  if (typeof vote !== 'object' || vote === null) return err(`${which} vote is missing`)
  const { kind, block, signature } = vote
  if (kind !== 'notarize' && kind !== 'nullify' && kind !== 'finalize') return err(`${which} vote kind must be notarize, nullify or finalize, got ${JSON.stringify(kind)}`)
  if (typeof signature !== 'string' || !new RegExp(`^[0-9a-f]{${2 * ed25519SignatureBytes}}$`).test(signature)) return err(`${which} vote signature must be ${ed25519SignatureBytes} bytes of hex`)
  const parsed: Vote = { kind, view, signer, signature: Uint8Array.from(Buffer.from(signature, 'hex')) }
  if (kind === 'nullify') return block === null ? ok(parsed) : err(`${which} vote is a nullify and names a block`)
  if (typeof block !== 'string' || !new RegExp(`^[0-9a-f]{${2 * hashBytes}}$`).test(block)) return err(`${which} vote block must be ${hashBytes} bytes of hex`)
  return ok({ ...parsed, block: Uint8Array.from(Buffer.from(block, 'hex')) })
}
