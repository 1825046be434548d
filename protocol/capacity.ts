// Signed capacity adverts: their shape, canonical encoding, signing and validation of untrusted
// bytes. Pure: time comes in as `nowMs`; replay detection (which needs memory) is the book's job.

import { decode, encode } from './codec.ts'
import { parseNodeId, type NodeId } from './ids.ts'
import {
  advertClockSkewMsMax, advertLabelCharsMax, advertMultiaddrsMax, advertSubnetsMax, advertTtlMsMax,
  capacityAdvertBytesMax, multiaddrCharsMax
} from './limits.ts'
import { err, ok, type Result } from './result.ts'
import { verifyBy, type Signer } from './signature.ts'

/** The signing domain: a capacity signature can never be replayed as any other message. */
export const capacityDomain = 'pylon/capacity/v1'
/** The gossipsub topic adverts travel on. */
export const capacityTopic = 'pylon/capacity/1'
/** The request/response protocol a node answers with its book (or its own advert). */
export const capacityProtocol = '/pylon/capacity/1.0.0'

export interface CapacityLabels {
  rack: string
  region: string
  operator: string
}

/** What a node says about itself. Integers only: u64 quantities are bigint, u32 are number. */
export interface CapacityAdvert {
  nodeId: NodeId
  /** Strictly increasing per node across restarts; an equal or older seq is a replay. */
  seq: bigint
  issuedAtMs: bigint
  expiresAtMs: bigint
  multiaddrs: string[]
  cores: number
  memoryBytes: bigint
  diskFreeBytes: bigint
  /** 1-minute load average per core, in thousandths (1000 = every core busy). */
  loadPermille: number
  /** Measured compute speed: iterations per second of a fixed WebAssembly loop. */
  score: bigint
  labels: CapacityLabels
  version: string
  actorSlotsFree: number
  subnets: string[]
}

export interface SignedCapacityAdvert {
  advert: CapacityAdvert
  signature: Uint8Array
}

/** Why an advert was refused: a stable label for metrics, and a sentence for logs. */
export type AdvertRejectReason = 'oversized' | 'malformed' | 'forged' | 'expired' | 'premature' | 'replayed'
export interface AdvertRejection {
  reason: AdvertRejectReason
  message: string
}

const advertKeys = ['actorSlotsFree', 'cores', 'diskFreeBytes', 'expiresAtMs', 'issuedAtMs', 'labels', 'loadPermille',
  'memoryBytes', 'multiaddrs', 'nodeId', 'score', 'seq', 'subnets', 'version'] as const
const labelKeys = ['operator', 'rack', 'region'] as const
const u32Max = 0xffff_ffff
const u64Max = (1n << 64n) - 1n

export function signCapacityAdvert (advert: CapacityAdvert, signer: Signer): SignedCapacityAdvert {
  if (signer.id !== advert.nodeId) throw new RangeError(`advert names ${advert.nodeId} but the signer is ${signer.id}`)
  return { advert, signature: signer.sign(capacityDomain, advert) }
}

export function encodeCapacityAdvert (signed: SignedCapacityAdvert): Uint8Array {
  return encode({ advert: signed.advert, signature: signed.signature })
}

export interface ValidateOptions {
  /** The receiver's clock, milliseconds since the Unix epoch. */
  nowMs: number
}

/**
 * Decodes and checks untrusted advert bytes: size, shape, bounds, signature by the named node,
 * and time (not expired, not issued too far ahead, lifetime within advertTtlMsMax).
 */
export function decodeCapacityAdvert (bytes: Uint8Array, options: ValidateOptions): Result<SignedCapacityAdvert, AdvertRejection> {
  if (!(bytes instanceof Uint8Array)) return reject('malformed', 'advert must be bytes')
  if (bytes.length > capacityAdvertBytesMax) return reject('oversized', `advert too large: ${bytes.length} > ${capacityAdvertBytesMax} bytes`)
  const decoded = decode(bytes, { bytesMax: capacityAdvertBytesMax })
  if (!decoded.ok) return reject('malformed', `advert: ${decoded.error}`)
  return validateCapacityAdvert(decoded.value, options)
}

/** Checks an already-decoded value (e.g. one element of an exchange answer). */
export function validateCapacityAdvert (value: unknown, options: ValidateOptions): Result<SignedCapacityAdvert, AdvertRejection> {
  if (!isRecord(value) || !hasExactly(value, ['advert', 'signature'])) return reject('malformed', 'advert must be {advert, signature}')
  const shaped = parseAdvert(value.advert)
  if (!shaped.ok) return reject('malformed', `advert: ${shaped.error}`)
  const advert = shaped.value
  if (!verifyBy(advert.nodeId, capacityDomain, advert, value.signature)) return reject('forged', `advert signature does not verify for ${advert.nodeId}`)
  const now = BigInt(Math.trunc(options.nowMs))
  if (advert.expiresAtMs <= now) return reject('expired', `advert of ${advert.nodeId} expired at ${advert.expiresAtMs} <= now ${now}`)
  if (advert.issuedAtMs > now + BigInt(advertClockSkewMsMax)) return reject('premature', `advert of ${advert.nodeId} issued ${advert.issuedAtMs - now} ms in the future > ${advertClockSkewMsMax} ms`)
  return ok({ advert, signature: value.signature as Uint8Array })
}

/** The shape and bounds of an advert body, without signature or time checks. */
export function parseAdvert (value: unknown): Result<CapacityAdvert> {
  if (!isRecord(value)) return err('body must be a map')
  if (!hasExactly(value, advertKeys)) return err(`body must have exactly the fields ${advertKeys.join(', ')}`)
  const nodeId = parseNodeId(value.nodeId)
  if (!nodeId.ok) return err(nodeId.error)
  const u64s = ['seq', 'issuedAtMs', 'expiresAtMs', 'memoryBytes', 'diskFreeBytes', 'score'] as const
  const big: Partial<Record<typeof u64s[number], bigint>> = {}
  for (const key of u64s) {
    const v = asU64(value[key])
    if (v === undefined) return err(`${key} must be an integer in 0..2^64-1`)
    big[key] = v
  }
  for (const key of ['cores', 'loadPermille', 'actorSlotsFree'] as const) {
    if (!isU32(value[key])) return err(`${key} must be an integer in 0..${u32Max}`)
  }
  if (big.expiresAtMs! <= big.issuedAtMs!) return err('expiresAtMs must be after issuedAtMs')
  const ttl = big.expiresAtMs! - big.issuedAtMs!
  if (ttl > BigInt(advertTtlMsMax)) return err(`lifetime too long: ${ttl} > ${advertTtlMsMax} ms`)
  const multiaddrs = stringList(value.multiaddrs, 'multiaddrs', advertMultiaddrsMax, multiaddrCharsMax)
  if (!multiaddrs.ok) return multiaddrs
  const subnets = stringList(value.subnets, 'subnets', advertSubnetsMax, advertLabelCharsMax * 2)
  if (!subnets.ok) return subnets
  if (!isShortString(value.version, advertLabelCharsMax)) return err(`version must be a string of at most ${advertLabelCharsMax} characters`)
  const labels = value.labels
  if (!isRecord(labels) || !hasExactly(labels, labelKeys)) return err('labels must be {rack, region, operator}')
  for (const key of labelKeys) {
    if (!isShortString(labels[key], advertLabelCharsMax)) return err(`labels.${key} must be a string of at most ${advertLabelCharsMax} characters`)
  }
  return ok({
    nodeId: nodeId.value,
    seq: big.seq!,
    issuedAtMs: big.issuedAtMs!,
    expiresAtMs: big.expiresAtMs!,
    multiaddrs: multiaddrs.value,
    cores: value.cores as number,
    memoryBytes: big.memoryBytes!,
    diskFreeBytes: big.diskFreeBytes!,
    loadPermille: value.loadPermille as number,
    score: big.score!,
    labels: { rack: labels.rack as string, region: labels.region as string, operator: labels.operator as string },
    version: value.version as string,
    actorSlotsFree: value.actorSlotsFree as number,
    subnets: subnets.value
  })
}

/** The newer of two adverts of one node (higher seq wins), for DHT record selection. */
export function isNewerAdvert (candidate: CapacityAdvert, current: CapacityAdvert): boolean {
  return candidate.seq > current.seq
}

function reject (reason: AdvertRejectReason, message: string): Result<never, AdvertRejection> {
  return err({ reason, message })
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array)
}

function hasExactly (value: Record<string, unknown>, keys: readonly string[]): boolean {
  const own = Object.keys(value)
  return own.length === keys.length && keys.every(k => Object.hasOwn(value, k))
}

// dag-cbor decodes integers up to 2^53-1 as number and larger ones as bigint; both encode to the
// same canonical bytes, so accepting either keeps signatures intact.
function asU64 (value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value >= 0n && value <= u64Max ? value : undefined
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value)
  return undefined
}

function isU32 (value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= u32Max
}

function isShortString (value: unknown, charsMax: number): value is string {
  return typeof value === 'string' && value.length <= charsMax
}

function stringList (value: unknown, name: string, itemsMax: number, charsMax: number): Result<string[]> {
  if (!Array.isArray(value)) return err(`${name} must be a list`)
  if (value.length > itemsMax) return err(`${name}: too many: ${value.length} > ${itemsMax}`)
  for (const item of value) {
    if (typeof item !== 'string' || item.length === 0 || item.length > charsMax) return err(`${name}: each must be a string of 1..${charsMax} characters`)
  }
  return ok(value as string[])
}
