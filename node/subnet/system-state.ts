// The subnet's own replicated bookkeeping, kept in the state tree under a reserved system actor
// (`<SubnetId>.0`: actorIdOf never issues index 0), so it is certified with the state root and
// survives restarts with the store: installed actors, the next actor index, the executed-request
// history (replay protection), the last block time and the outbox queue. Only key layout and
// record encodings live here; it never executes anything and never reads a clock.

import { decode, encode } from '../../protocol/codec.ts'
import type { ActorId, Principal, SubnetId } from '../../protocol/ids.ts'
import type { RequestId } from '../../protocol/ingress.ts'
import { err, ok, type Result } from '../../protocol/result.ts'

/** The reserved id whose storage holds the subnet's system records. */
export function systemActorOf (subnet: SubnetId): ActorId {
  return `${subnet}.0` as ActorId
}

const text = new TextEncoder()
const key = (s: string): Uint8Array => text.encode(s)

/** Fixed-width decimal so byte order equals numeric order (u64 has 20 digits). */
export function padded (n: bigint): string {
  return n.toString().padStart(20, '0')
}

export const systemKeys = {
  /** Next actor index to assign (u64, starts at 1). */
  nextIndex: key('next-index'),
  /** Consensus time (ms) of the last executed block. */
  lastTimeMs: key('last-time-ms'),
  /** Outbox queue: next sequence to assign and next to deliver. */
  outboxTail: key('outbox-tail'),
  outboxHead: key('outbox-head'),
  actor: (index: bigint): Uint8Array => key(`actor/${padded(index)}`),
  /** The first key past every actor record (`actor/` < `actor0`), the end of a listing. */
  actorsEnd: key('actor0'),
  /** An executed request → its expiry: the authority on replays until the request expires. */
  executed: (requestId: RequestId): Uint8Array => key(`executed/${requestId}`),
  /** The same requests ordered by expiry, so expired ones are pruned in bounded steps. */
  expiring: (expiryMs: bigint, requestId: RequestId): Uint8Array => key(`expiring/${padded(expiryMs)}/${requestId}`),
  expiringPrefix: key('expiring/'),
  /** Queued outbox message by sequence number. */
  outbox: (seq: bigint): Uint8Array => key(`outbox/${padded(seq)}`)
}

/** The first key past every `expiring/` entry with expiry <= `ms`. */
export function expiringEnd (ms: bigint): Uint8Array {
  return key(`expiring/${padded(ms + 1n)}/`)
}

/** The actor index an `actor/<padded>` key names. */
export function actorIndexOfKey (k: Uint8Array): bigint {
  const s = new TextDecoder().decode(k)
  return BigInt(s.slice(s.indexOf('/') + 1))
}

export function requestIdOfExpiringKey (k: Uint8Array): RequestId {
  const s = new TextDecoder().decode(k)
  return s.slice(s.lastIndexOf('/') + 1) as RequestId
}

/** What the subnet records about an installed actor. */
export interface ActorRecord {
  name: string
  /** Raw CID string of the component bytes (also in the store's code table). */
  code: string
  installer: Principal
  /** Installer first, then the install's list (deduplicated, in order). */
  controllers: Principal[]
  installedAt: bigint
  upgradedAt: bigint | null
}

export function encodeActorRecord (record: ActorRecord): Uint8Array {
  return encode({ ...record })
}

export function decodeActorRecord (bytes: Uint8Array): Result<ActorRecord> {
  const value = decode(bytes)
  if (!value.ok) return err(`actor record: ${value.error}`)
  const r = value.value as Record<string, unknown>
  if (typeof r !== 'object' || r === null || typeof r.name !== 'string' || typeof r.code !== 'string' || typeof r.installer !== 'string' ||
    !Array.isArray(r.controllers) || !r.controllers.every(c => typeof c === 'string')) return err('actor record has the wrong shape')
  return ok({
    name: r.name,
    code: r.code,
    installer: r.installer as Principal,
    controllers: r.controllers as Principal[],
    installedAt: BigInt(r.installedAt as number | bigint),
    upgradedAt: r.upgradedAt === null || r.upgradedAt === undefined ? null : BigInt(r.upgradedAt as number | bigint)
  })
}

/** An outbox message waiting in replicated state for a later block. */
export interface QueuedMessage {
  from: ActorId
  to: ActorId
  method: string
  payload: Uint8Array
  /** Deliver no earlier than this consensus time (ns); 0 = next block. */
  atNs: bigint
}

export function encodeQueued (message: QueuedMessage): Uint8Array {
  return encode({ from: message.from, to: message.to, method: message.method, payload: message.payload, atNs: message.atNs })
}

export function decodeQueued (bytes: Uint8Array): Result<QueuedMessage> {
  const value = decode(bytes)
  if (!value.ok) return err(`queued message: ${value.error}`)
  const r = value.value as Record<string, unknown>
  if (typeof r !== 'object' || r === null || typeof r.from !== 'string' || typeof r.to !== 'string' || typeof r.method !== 'string' || !(r.payload instanceof Uint8Array)) return err('queued message has the wrong shape')
  return ok({ from: r.from as ActorId, to: r.to as ActorId, method: r.method, payload: r.payload, atNs: BigInt(r.atNs as number | bigint) })
}

export function encodeU64 (n: bigint): Uint8Array {
  return encode(n)
}

/** A stored counter, or `fallback` when absent. Own state, so a bad value is corruption: throws. */
export function decodeU64 (bytes: Uint8Array | undefined, fallback: bigint): bigint {
  if (bytes === undefined) return fallback
  const value = decode(bytes)
  if (!value.ok || !(typeof value.value === 'bigint' || typeof value.value === 'number')) throw new Error('corrupt system counter in subnet state')
  return BigInt(value.value)
}
