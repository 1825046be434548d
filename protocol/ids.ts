// Branded identifiers that cross module boundaries, and their parsers for untrusted strings.
// NodeId and Principal are both libp2p-style peer ids of an Ed25519 key (the same derivation),
// so any holder of the id can check a signature without a key directory.

import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import { cidCharsMax, nodeIdCharsMax } from './limits.ts'
import { err, ok, type Result } from './result.ts'

declare const brand: unique symbol
type Brand<T, B extends string> = T & { readonly [brand]: B }

/** A node: the peer id of its libp2p Ed25519 key. */
export type NodeId = Brand<string, 'NodeId'>
/** A client or actor caller: the peer id of its Ed25519 identity key. */
export type Principal = Brand<string, 'Principal'>
/** A subnet: the CID (string) of its signed genesis record. */
export type SubnetId = Brand<string, 'SubnetId'>
/** An actor: a CID string naming its install record (which names its subnet). */
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

export function parseActorId (value: unknown): Result<ActorId> {
  return parseCidString(value, 'actor id') as Result<ActorId>
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
