// A subnet's genesis record (members, fault bound, parameters), its member signatures, the SubnetId
// derived from it, and quorum math. Pure: validation never throws on untrusted input, and nothing
// here reads a clock (the creation time is an input).

import { cidOfBytes, decode, encode } from './codec.ts'
import { parseNodeId, type NodeId, type SubnetId, type View } from './ids.ts'
import {
  subnetDeltaMaxMs, subnetDeltaMinMs, subnetMembersMax, subnetMultiaddrCharsMax, subnetMultiaddrsMax, subnetNameCharsMax,
  subnetRecordBytesMax, consensusBlocksMax, subnetCatchUpBlocksMin, subnetCheckpointIntervalHeightsMin
} from './limits.ts'
import { err, ok, type Result } from './result.ts'
import { ed25519SignatureBytes, verifyBy, type Signer } from './signature.ts'

/** Domain tag of a member's signature over a genesis record. */
export const genesisDomain = 'pylon/genesis/v1'

export interface GenesisMember {
  nodeId: NodeId
  /** Where the member listens, as a hint for dialing; membership is the nodeId alone. */
  multiaddrs?: string[]
}

export interface SubnetParams {
  /** Simplex Δ: the message-delay bound its timers are built on (leader 2Δ, advance 3Δ). */
  deltaMs: number
  /** Heights between checkpoints on every member. @default checkpointIntervalHeights (limits.ts) — smaller for tests of state sync. */
  checkpointIntervalHeights?: number
  /** Blocks a replica walks back before it state-syncs instead. @default consensusBlocksMax (limits.ts). */
  catchUpBlocksMax?: number
}

export interface Genesis {
  /** A human name; two subnets may share one (the SubnetId tells them apart). */
  name: string
  /** Sorted by nodeId, strictly ascending: one member set has one encoding, and the order names leaders. */
  members: GenesisMember[]
  /** Byzantine members tolerated. */
  f: number
  /** Members: exactly 3f + 1 (f = 0 is a one-node development subnet). */
  n: number
  /** Consensus time of creation: ms since the Unix epoch, chosen by whoever proposed the genesis. */
  createdMs: bigint
  params: SubnetParams
}

/** A genesis and every member's signature over it; signatures[i] is by members[i]. */
export interface SignedGenesis {
  genesis: Genesis
  signatures: Uint8Array[]
}

/** A validated subnet: its id, record and derived facts. Only validateGenesis/decodeGenesis make one. */
export interface Subnet extends SignedGenesis {
  /** CID of the canonical encoding of the signed genesis: self-certifying, anyone may serve it. */
  readonly id: SubnetId
  /** Member node ids in genesis order: the index is a member's signer number in certificates. */
  readonly memberIds: readonly NodeId[]
  readonly quorum: number
}

/** f = ⌊(n−1)/3⌋: Byzantine members a subnet of n tolerates. */
export function faults (n: number): number {
  return Math.floor((n - 1) / 3)
}

/**
 * ⌊2n/3⌋ + 1, which is 2f + 1 when n = 3f + 1: any two quorums overlap in at least f + 1 members,
 * so in at least one honest one. (The same formula as protocol/consensus membershipOf.)
 */
export function quorum (n: number): number {
  return Math.floor((2 * n) / 3) + 1
}

/** The leader of a view: round-robin over the sorted member list (view mod n, as consensus does). */
export function leaderOf (subnet: Pick<Subnet, 'memberIds'>, view: View | bigint): NodeId {
  return subnet.memberIds[Number(view % BigInt(subnet.memberIds.length))]!
}

export interface GenesisInit {
  name: string
  members: GenesisMember[]
  createdMs: bigint
  params: SubnetParams
}

/** Builds a genesis from a chosen member set: sorts members and derives n and f. Throws on bad input (caller's bug). */
export function genesisOf (init: GenesisInit): Genesis {
  const members = [...init.members].sort((a, b) => compareIds(a.nodeId, b.nodeId))
  const n = members.length
  const genesis: Genesis = { name: init.name, members, f: faults(n), n, createdMs: init.createdMs, params: init.params }
  const checked = parseGenesis(wireOf(genesis))
  if (!checked.ok) throw new RangeError(`invalid genesis: ${checked.error}`)
  return checked.value
}

/**
 * A member's signature over a genesis. Whether to agree to it (capacity, placement) is decided in
 * node/subnet before calling this. Pre: the signer is a member (else a bug: throws).
 */
export function signGenesis (genesis: Genesis, signer: Signer): Uint8Array {
  if (!genesis.members.some(m => m.nodeId === signer.id)) throw new RangeError(`${signer.id} is not a member of genesis ${genesis.name}`)
  return signer.sign(genesisDomain, wireOf(genesis))
}

/** Canonical bytes of a signed genesis: what the SubnetId names and what peers exchange. */
export function encodeGenesis (signed: SignedGenesis): Uint8Array {
  return encode({ genesis: wireOf(signed.genesis), signatures: signed.signatures })
}

/** Collects member signatures (any order, by node id) into a validated subnet. */
export function assembleGenesis (genesis: Genesis, signatures: ReadonlyMap<string, Uint8Array>): Result<Subnet> {
  const ordered: Uint8Array[] = []
  for (const member of genesis.members) {
    const signature = signatures.get(member.nodeId)
    if (signature === undefined) return err(`genesis lacks the signature of member ${member.nodeId}`)
    ordered.push(signature)
  }
  return validateGenesis({ genesis: wireOf(genesis), signatures: ordered })
}

/** Decodes untrusted signed-genesis bytes: size, canonical dag-cbor, shape, limits, every signature. */
export function decodeGenesis (bytes: Uint8Array): Result<Subnet> {
  if (!(bytes instanceof Uint8Array)) return err('genesis must be bytes')
  if (bytes.length > subnetRecordBytesMax) return err(`genesis too large: ${bytes.length} > ${subnetRecordBytesMax} bytes`)
  const decoded = decode(bytes, { bytesMax: subnetRecordBytesMax })
  if (!decoded.ok) return err(`genesis: ${decoded.error}`)
  // The id is the hash of these bytes, so only the canonical encoding may stand for a subnet.
  if (!Buffer.from(encode(decoded.value)).equals(bytes)) return err('genesis is not canonical dag-cbor')
  return validateGenesis(decoded.value)
}

/**
 * Validates a signed genesis given as a decoded value: n = 3f + 1 within bounds, members valid,
 * sorted and unique, parameters within bounds, and one valid signature per member.
 */
export function validateGenesis (value: unknown): Result<Subnet> {
  if (!isRecord(value) || !hasOnlyKeys(value, ['genesis', 'signatures'])) return err('signed genesis must be a map of exactly { genesis, signatures }')
  const genesis = parseGenesis(value.genesis)
  if (!genesis.ok) return genesis
  const { members, n } = genesis.value
  const signatures = value.signatures
  if (!Array.isArray(signatures) || signatures.length !== n) return err(`genesis needs ${n} signatures (one per member), got ${Array.isArray(signatures) ? signatures.length : typeof signatures}`)
  const wire = value.genesis
  for (let i = 0; i < n; i++) {
    const signature = signatures[i]
    const member = members[i]!.nodeId
    if (!(signature instanceof Uint8Array) || signature.length !== ed25519SignatureBytes) return err(`genesis signature ${i} must be ${ed25519SignatureBytes} bytes`)
    if (!verifyBy(member, genesisDomain, wire, signature)) return err(`bad genesis signature of member ${i} (${member})`)
  }
  const signed: SignedGenesis = { genesis: genesis.value, signatures: signatures as Uint8Array[] }
  const id = cidOfBytes(encodeGenesis(signed)).toString() as SubnetId
  return ok({ ...signed, id, memberIds: members.map(m => m.nodeId), quorum: quorum(n) })
}

/** Checks an unsigned genesis given as a decoded value (a proposal a member is asked to sign): shape, n = 3f + 1, sorted members, bounds. */
export function parseGenesis (value: unknown): Result<Genesis> {
  if (!isRecord(value) || !hasOnlyKeys(value, ['name', 'members', 'f', 'n', 'createdMs', 'params'])) return err('genesis must be a map of exactly { name, members, f, n, createdMs, params }')
  const { name, members, f, n, createdMs, params } = value
  if (typeof name !== 'string' || name.length === 0 || name.length > subnetNameCharsMax) return err(`subnet name must be 1..${subnetNameCharsMax} characters`)
  if (!Number.isSafeInteger(f) || (f as number) < 0) return err(`f must be a non-negative integer, got ${String(f)}`)
  if (!Number.isSafeInteger(n) || n !== 3 * (f as number) + 1) return err(`n must be 3f+1 = ${3 * (f as number) + 1} for f = ${f as number}, got ${String(n)}`)
  if ((n as number) > subnetMembersMax) return err(`too many members: ${n as number} > ${subnetMembersMax}`)
  if (!Array.isArray(members) || members.length !== n) return err(`genesis lists ${Array.isArray(members) ? members.length : 'no'} members but n = ${n as number}`)
  const parsed: GenesisMember[] = []
  for (const [i, entry] of members.entries()) {
    const member = parseMember(entry, i)
    if (!member.ok) return member
    const previous = parsed[i - 1]
    if (previous !== undefined) {
      const order = compareIds(previous.nodeId, member.value.nodeId)
      if (order === 0) return err(`duplicate member ${member.value.nodeId}`)
      if (order > 0) return err(`members must be sorted by node id: ${member.value.nodeId} after ${previous.nodeId}`)
    }
    parsed.push(member.value)
  }
  if (!(typeof createdMs === 'bigint' || Number.isSafeInteger(createdMs)) || BigInt(createdMs as number | bigint) < 0n) return err('createdMs must be a non-negative integer')
  const parsedParams = parseParams(params)
  if (!parsedParams.ok) return parsedParams
  return ok({ name, members: parsed, f: f as number, n: n as number, createdMs: BigInt(createdMs as number | bigint), params: parsedParams.value })
}

/** Δ is required; the state-sync params are optional (absent from the encoding when unset, so older genesis bytes keep their CID). */
function parseParams (params: unknown): Result<SubnetParams> {
  const optional = ['checkpointIntervalHeights', 'catchUpBlocksMax']
  if (!isRecord(params) || !Object.hasOwn(params, 'deltaMs') || Object.keys(params).some(k => k !== 'deltaMs' && !optional.includes(k))) return err('params must be a map of { deltaMs, checkpointIntervalHeights?, catchUpBlocksMax? }')
  const { deltaMs, checkpointIntervalHeights: interval, catchUpBlocksMax: window } = params
  if (!Number.isSafeInteger(deltaMs) || (deltaMs as number) < subnetDeltaMinMs || (deltaMs as number) > subnetDeltaMaxMs) return err(`deltaMs must be an integer in ${subnetDeltaMinMs}..${subnetDeltaMaxMs}, got ${String(deltaMs)}`)
  const out: SubnetParams = { deltaMs: deltaMs as number }
  if (window !== undefined) {
    if (!Number.isSafeInteger(window) || (window as number) < subnetCatchUpBlocksMin || (window as number) > consensusBlocksMax) return err(`catchUpBlocksMax must be an integer in ${subnetCatchUpBlocksMin}..${consensusBlocksMax}, got ${String(window)}`)
    out.catchUpBlocksMax = window as number
  }
  if (interval !== undefined) {
    const windowMax = out.catchUpBlocksMax ?? consensusBlocksMax
    if (!Number.isSafeInteger(interval) || (interval as number) < subnetCheckpointIntervalHeightsMin || (interval as number) >= windowMax) {
      return err(`checkpointIntervalHeights must be an integer in ${subnetCheckpointIntervalHeightsMin}..${windowMax - 1} (below the catch-up window), got ${String(interval)}`)
    }
    out.checkpointIntervalHeights = interval as number
  }
  return ok(out)
}

function parseMember (value: unknown, i: number): Result<GenesisMember> {
  if (!isRecord(value) || !Object.hasOwn(value, 'nodeId') || Object.keys(value).some(k => k !== 'nodeId' && k !== 'multiaddrs')) return err(`member ${i} must be a map of { nodeId, multiaddrs? }`)
  const nodeId = parseNodeId(value.nodeId)
  if (!nodeId.ok) return err(`member ${i}: ${nodeId.error}`)
  if (value.multiaddrs === undefined) return ok({ nodeId: nodeId.value })
  const addrs = value.multiaddrs
  if (!Array.isArray(addrs) || addrs.length > subnetMultiaddrsMax) return err(`member ${i}: multiaddrs must be a list of at most ${subnetMultiaddrsMax}`)
  if (!addrs.every(a => typeof a === 'string' && a.startsWith('/') && a.length <= subnetMultiaddrCharsMax)) return err(`member ${i}: each multiaddr must be a string starting with "/" of at most ${subnetMultiaddrCharsMax} characters`)
  return ok({ nodeId: nodeId.value, multiaddrs: addrs as string[] })
}

/** Canonical wire form: optional multiaddrs omitted, never `undefined`. */
function wireOf (genesis: Genesis): Record<string, unknown> {
  return {
    ...genesis,
    members: genesis.members.map(m => m.multiaddrs === undefined ? { nodeId: m.nodeId } : { nodeId: m.nodeId, multiaddrs: m.multiaddrs }),
    params: {
      deltaMs: genesis.params.deltaMs,
      ...(genesis.params.checkpointIntervalHeights === undefined ? {} : { checkpointIntervalHeights: genesis.params.checkpointIntervalHeights }),
      ...(genesis.params.catchUpBlocksMax === undefined ? {} : { catchUpBlocksMax: genesis.params.catchUpBlocksMax })
    }
  }
}

/** Byte order of the id strings (code-unit order equals byte order for base58's ASCII alphabet). */
function compareIds (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
}

function hasOnlyKeys (value: Record<string, unknown>, keys: readonly string[]): boolean {
  const own = Object.keys(value)
  return own.length === keys.length && keys.every(key => Object.hasOwn(value, key))
}
