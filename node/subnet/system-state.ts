// The subnet's own replicated bookkeeping, kept in the state tree under a reserved system actor
// (`<SubnetId>.0`: actorIdOf never issues index 0), so it is certified with the state root and
// survives restarts with the store: installed actors, the next actor index, the executed-request
// history (replay protection: one row per block), the last block time, the same-subnet message queue and timers.
// Streams to other subnets live here too, but their key layout is protocol (protocol/xnet.ts:
// other subnets verify proofs of them). Only key layout and record encodings live here; it never
// executes anything and never reads a clock.

import { decode, encode } from '../../protocol/codec.ts'
import type { ActorId, Principal } from '../../protocol/ids.ts'
import { padded, systemActorOf } from '../../protocol/xnet.ts'
import type { RequestId } from '../../protocol/ingress.ts'
import { err, ok, type Result } from '../../protocol/result.ts'

export { padded, systemActorOf }

const text = new TextEncoder()
const key = (s: string): Uint8Array => text.encode(s)

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
  /**
   * The requests one block executed (encodeHistoryRow), the authority on replays until the last of
   * them expires: ordered by that block's latest request expiry, then height, so expired rows are
   * pruned in bounded steps. One row per block, not per request: a per-request row cost every
   * update two trie path rewrites (written, then deleted at expiry), ~14 % of replica CPU under load.
   */
  expiring: (maxExpiryMs: bigint, height: bigint): Uint8Array => key(`expiring/${padded(maxExpiryMs)}/${padded(height)}`),
  expiringPrefix: key('expiring/'),
  /** Queued same-subnet call or answer (an encoded ActorCall) by sequence number. */
  outbox: (seq: bigint): Uint8Array => key(`outbox/${padded(seq)}`),
  /** Next timer sequence number: orders timers due at the same time by when they were set. */
  timerSeq: key('timer-seq'),
  /** A timer (outbox.schedule), ordered by due time then sequence. */
  timer: (atNs: bigint, seq: bigint): Uint8Array => key(`timer/${padded(atNs)}/${padded(seq)}`),
  timersPrefix: key('timer/')
}

/** The first key past every timer due at or before `ns`. */
export function timersEnd (ns: bigint): Uint8Array {
  return key(`timer/${padded(ns + 1n)}/`)
}

/** The first key past every key that starts with `prefix` (which does not end in 0xff: ascii). */
export function keysAfter (prefix: Uint8Array): Uint8Array {
  const end = prefix.slice()
  end[end.length - 1]!++
  return end
}

/** The first key past every `expiring/` row whose (latest) expiry is <= `ms`. */
export function expiringEnd (ms: bigint): Uint8Array {
  return key(`expiring/${padded(ms + 1n)}/`)
}

/** The expiry and height an `expiring/<expiry>/<height>` key names. */
export function historyKeyOf (k: Uint8Array): { maxExpiryMs: bigint, height: bigint } {
  const parts = new TextDecoder().decode(k).split('/')
  return { maxExpiryMs: BigInt(parts[1]!), height: BigInt(parts[2]!) }
}

/** One executed request of a history row. */
export interface HistoryEntry {
  expiryMs: bigint
  requestId: RequestId
}

/** Bytes of one history entry: expiry (u64, big-endian) then the request id's 32 raw bytes. */
export const historyEntryBytes = 40
const requestIdPattern = /^[0-9a-f]{64}$/

/**
 * A block's executed requests as one row value: fixed-size entries in execution order, no framing
 * (the value's length says how many). Pre: every request id is a lowercase sha256 hex string (as
 * decodeIngress makes them); anything else is a bug and throws, never a silently shortened id.
 */
export function encodeHistoryRow (entries: readonly HistoryEntry[]): Uint8Array {
  const bytes = new Uint8Array(entries.length * historyEntryBytes)
  const view = new DataView(bytes.buffer)
  for (const [i, { expiryMs, requestId }] of entries.entries()) {
    if (!requestIdPattern.test(requestId)) throw new Error(`history row: request id is not a sha256 hex string: ${requestId}`)
    view.setBigUint64(i * historyEntryBytes, expiryMs)
    bytes.set(Buffer.from(requestId, 'hex'), i * historyEntryBytes + 8)
  }
  return bytes
}

/** Own state, so a bad value is corruption; callers assert. */
export function decodeHistoryRow (bytes: Uint8Array): Result<HistoryEntry[]> {
  if (bytes.length === 0 || bytes.length % historyEntryBytes !== 0) return err(`history row of ${bytes.length} bytes is not a whole number of ${historyEntryBytes}-byte entries`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const entries: HistoryEntry[] = []
  for (let at = 0; at < bytes.length; at += historyEntryBytes) {
    entries.push({ expiryMs: view.getBigUint64(at), requestId: Buffer.from(bytes.buffer, bytes.byteOffset + at + 8, 32).toString('hex') as RequestId })
  }
  return ok(entries)
}

/** The actor index an `actor/<padded>` key names. */
export function actorIndexOfKey (k: Uint8Array): bigint {
  const s = new TextDecoder().decode(k)
  return BigInt(s.slice(s.indexOf('/') + 1))
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

/** A timer set by outbox.schedule: runs update `method` on `actor` (caller: the actor itself). */
export interface Timer {
  actor: ActorId
  method: string
  payload: Uint8Array
}

export function encodeTimer (timer: Timer): Uint8Array {
  return encode({ actor: timer.actor, method: timer.method, payload: timer.payload })
}

/** Own state, so a bad value is corruption; callers assert. */
export function decodeTimer (bytes: Uint8Array): Result<Timer> {
  const value = decode(bytes)
  if (!value.ok) return err(`timer: ${value.error}`)
  const r = value.value as Record<string, unknown>
  if (typeof r !== 'object' || r === null || typeof r.actor !== 'string' || typeof r.method !== 'string' || !(r.payload instanceof Uint8Array)) return err('timer has the wrong shape')
  return ok({ actor: r.actor as ActorId, method: r.method, payload: r.payload })
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
