// Branded identifiers that cross module boundaries, and their parsers for untrusted strings.
// NodeId and Principal are both libp2p-style peer ids of an Ed25519 key (the same derivation),
// so any holder of the id can check a signature without a key directory.

import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import { actorIdCharsMax, cidCharsMax, nodeIdCharsMax } from './limits.ts'
import { err, ok, type Result } from './result.ts'

declare const brand: unique symbol
type Brand<T, B extends string> = T & { readonly [brand]: B }

/** A node: the peer id of its libp2p Ed25519 key. */
export type NodeId = Brand<string, 'NodeId'>
/** A client or actor caller: the peer id of its Ed25519 identity key. */
export type Principal = Brand<string, 'Principal'>
/** A subnet: the CID (string) of its signed genesis record. */
export type SubnetId = Brand<string, 'SubnetId'>
/**
 * An actor: `<SubnetId>.<index>`, the subnet that hosts it and the decimal u64 position of its
 * install among that subnet's installs (1, 2, …), assigned in block order by execution so every
 * replica derives the same id. Routing needs no table: any node reads the subnet from the id,
 * fetches that subnet's genesis from anyone (self-certifying: its CID is the SubnetId and every
 * member signed it) and forwards the call to a member. `subnetOfActorId` does the split.
 */
export type ActorId = Brand<string, 'ActorId'>
/** A finalized position in a subnet's chain, starting at 1 (0 is genesis). */
export type Height = Brand<bigint, 'Height'>
/** A Simplex view number, starting at 1. */
export type View = Brand<bigint, 'View'>

export const ed25519PublicKeyBytes = 32

// libp2p's PublicKey protobuf { Type: Ed25519 (1), Data: 32 bytes } behind an identity multihash.
const keyPrefix = Uint8Array.of(0x00, 0x24, 0x08, 0x01, 0x12, 0x20)

/** The peer id string of an Ed25519 public key (matches libp2p's `peerIdFromPublicKey`). */
export function peerIdOfPublicKey (publicKey: Uint8Array): string {
  if (publicKey.length !== ed25519PublicKeyBytes) throw new RangeError(`ed25519 public key must be 32 bytes, got ${publicKey.length}`)
  const bytes = new Uint8Array(keyPrefix.length + publicKey.length)
  bytes.set(keyPrefix)
  bytes.set(publicKey, keyPrefix.length)
  return base58btc.encode(bytes).slice(1) // peer ids drop the multibase prefix
}

/** The Ed25519 public key inside a peer id string, or an error for anything else. */
export function publicKeyOfPeerId (id: string): Result<Uint8Array> {
  if (typeof id !== 'string' || id.length === 0 || id.length > nodeIdCharsMax) return err(`peer id must be 1..${nodeIdCharsMax} characters`)
  let bytes: Uint8Array
  try {
    bytes = base58btc.decode('z' + id)
  } catch {
    return err(`peer id is not base58btc: ${JSON.stringify(id.slice(0, 16))}`)
  }
  if (bytes.length !== keyPrefix.length + ed25519PublicKeyBytes) return err('peer id is not an Ed25519 key id')
  for (let i = 0; i < keyPrefix.length; i++) {
    if (bytes[i] !== keyPrefix[i]) return err('peer id is not an Ed25519 key id')
  }
  return ok(bytes.slice(keyPrefix.length))
}

export function parseNodeId (value: unknown): Result<NodeId> {
  if (typeof value !== 'string') return err('node id must be a string')
  const key = publicKeyOfPeerId(value)
  return key.ok ? ok(value as NodeId) : err(`bad node id: ${key.error}`)
}

export function parsePrincipal (value: unknown): Result<Principal> {
  if (typeof value !== 'string') return err('principal must be a string')
  const key = publicKeyOfPeerId(value)
  return key.ok ? ok(value as Principal) : err(`bad principal: ${key.error}`)
}

function parseCidString (value: unknown, what: string): Result<string> {
  if (typeof value !== 'string' || value.length === 0 || value.length > cidCharsMax) return err(`${what} must be a CID string of 1..${cidCharsMax} characters`)
  try {
    return ok(CID.parse(value).toString())
  } catch {
    return err(`${what} is not a CID: ${JSON.stringify(value.slice(0, 16))}`)
  }
}

export function parseSubnetId (value: unknown): Result<SubnetId> {
  return parseCidString(value, 'subnet id') as Result<SubnetId>
}

const u64Max = (1n << 64n) - 1n

/** Parses `<SubnetId>.<index>`: a CID, a dot, and a canonical decimal (no leading zeros) in 1..2^64-1. */
export function parseActorId (value: unknown): Result<ActorId> {
  if (typeof value !== 'string' || value.length === 0 || value.length > actorIdCharsMax) return err(`actor id must be a string of 1..${actorIdCharsMax} characters`)
  const dot = value.lastIndexOf('.')
  if (dot < 0) return err(`actor id must be <subnet>.<index>: ${JSON.stringify(value.slice(0, 24))}`)
  const subnet = parseSubnetId(value.slice(0, dot))
  if (!subnet.ok) return err(`bad actor id: ${subnet.error}`)
  const digits = value.slice(dot + 1)
  if (!/^[1-9][0-9]{0,19}$/.test(digits) || BigInt(digits) > u64Max) return err(`actor index must be a decimal in 1..${u64Max}: ${JSON.stringify(digits.slice(0, 24))}`)
  return ok(`${subnet.value}.${digits}` as ActorId)
}

/** The id of the index-th actor installed on a subnet (index ≥ 1). */
export function actorIdOf (subnet: SubnetId, index: bigint): ActorId {
  if (index < 1n || index > u64Max) throw new RangeError(`actor index must be in 1..${u64Max}, got ${index}`)
  return `${subnet}.${index}` as ActorId
}

/** The subnet that hosts an actor: the routing step. Pre: `actor` came from parseActorId/actorIdOf. */
export function subnetOfActorId (actor: ActorId): SubnetId {
  return actor.slice(0, actor.lastIndexOf('.')) as SubnetId
}

/** The actor's install index within its subnet. Pre: `actor` came from parseActorId/actorIdOf. */
export function actorIndexOf (actor: ActorId): bigint {
  return BigInt(actor.slice(actor.lastIndexOf('.') + 1))
}

export function height (value: bigint | number): Height {
  const h = BigInt(value)
  if (h < 0n) throw new RangeError(`height must be >= 0, got ${h}`)
  return h as Height
}

export function view (value: bigint | number): View {
  const v = BigInt(value)
  if (v < 0n) throw new RangeError(`view must be >= 0, got ${v}`)
  return v as View
}
