// The block payload a subnet's leader proposes: its clock reading, a batch of signed envelopes and
// slices of other subnets' streams to this one, as canonical dag-cbor. Owns only the encoding and its bounds; it never judges envelopes (that is
// selectBlockIngress at finalize) and never throws on untrusted bytes.

import { decode, encode } from '../../protocol/codec.ts'
import { ingressBytesMax, subnetBlockIngressMax, subnetBlockPayloadBytesMax, xnetSliceBytesMax, xnetSlicesPerBlockMax } from '../../protocol/limits.ts'
import { err, ok, type Result } from '../../protocol/result.ts'

export interface BlockPayload {
  /** The proposer's clock (ms since the epoch); execution uses max(this, previous block time). */
  timeMs: bigint
  /** Signed ingress envelopes, in execution order. */
  ingress: Uint8Array[]
  /** Encoded stream slices (protocol/xnet.ts), at most one per sending subnet; checked in verify. */
  xnet: Uint8Array[]
}

export function encodePayload (payload: BlockPayload): Uint8Array {
  return encode({ timeMs: payload.timeMs, ingress: payload.ingress, xnet: payload.xnet })
}

/** Decodes untrusted payload bytes: size, canonical form, exact shape and per-entry bounds. */
export function decodePayload (bytes: Uint8Array): Result<BlockPayload> {
  if (!(bytes instanceof Uint8Array)) return err('payload must be bytes')
  if (bytes.length > subnetBlockPayloadBytesMax) return err(`payload too large: ${bytes.length} > ${subnetBlockPayloadBytesMax} bytes`)
  const decoded = decode(bytes, { bytesMax: subnetBlockPayloadBytesMax })
  if (!decoded.ok) return err(`payload: ${decoded.error}`)
  // One payload, one encoding: a block hash must not have twins with other bytes and equal meaning.
  if (!Buffer.from(encode(decoded.value)).equals(bytes)) return err('payload is not canonical dag-cbor')
  const value = decoded.value
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) return err('payload must be a map of exactly { timeMs, ingress, xnet }')
  const record = value as Record<string, unknown>
  const keys = Object.keys(record)
  if (keys.length !== 3 || !Object.hasOwn(record, 'timeMs') || !Object.hasOwn(record, 'ingress') || !Object.hasOwn(record, 'xnet')) return err('payload must be a map of exactly { timeMs, ingress, xnet }')
  const time = record.timeMs
  if (!(typeof time === 'bigint' || (typeof time === 'number' && Number.isSafeInteger(time))) || BigInt(time) < 0n) return err('payload timeMs must be a non-negative integer')
  const list = record.ingress
  if (!Array.isArray(list)) return err('payload ingress must be a list of envelopes')
  if (list.length > subnetBlockIngressMax) return err(`payload holds ${list.length} envelopes > ${subnetBlockIngressMax}`)
  for (const [i, entry] of list.entries()) {
    if (!(entry instanceof Uint8Array)) return err(`payload envelope ${i} must be bytes`)
    if (entry.length > ingressBytesMax) return err(`payload envelope ${i} too large: ${entry.length} > ${ingressBytesMax} bytes`)
  }
  const xnet = record.xnet
  if (!Array.isArray(xnet)) return err('payload xnet must be a list of slices')
  if (xnet.length > xnetSlicesPerBlockMax) return err(`payload holds ${xnet.length} slices > ${xnetSlicesPerBlockMax}`)
  for (const [i, entry] of xnet.entries()) {
    if (!(entry instanceof Uint8Array)) return err(`payload slice ${i} must be bytes`)
    if (entry.length > xnetSliceBytesMax) return err(`payload slice ${i} too large: ${entry.length} > ${xnetSliceBytesMax} bytes`)
  }
  return ok({ timeMs: BigInt(time), ingress: list as Uint8Array[], xnet: xnet as Uint8Array[] })
}
