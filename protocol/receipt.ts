// What execution takes and gives, shared by the runtime, the store and consensus: actor messages,
// the block context, state writes, receipts and outbox messages, with their canonical encodings.
// Pure types and functions: no I/O, no clock, no randomness.

import { decode, encode } from './codec.ts'
import { parseActorId, type ActorId, type Height } from './ids.ts'
import type { RequestId } from './ingress.ts'
import { err, ok, type Result } from './result.ts'

/** Facts of the block every replica executes identically. */
export interface BlockContext {
  height: Height
  /** Consensus time of the block in nanoseconds since the epoch (what actors see as `now`). */
  timeNs: bigint
  /** Unpredictable before the block, equal on replicas (e.g. the hash of the finalized parent). */
  seed: Uint8Array
}

/** One call to execute: `init` runs at install with `payload` as its argument; `update` otherwise. */
export interface ActorMessage {
  kind: 'init' | 'update'
  actor: ActorId
  /** A client principal, another actor's id, or "" (init from the system). */
  caller: string
  /** "" for init. */
  method: string
  payload: Uint8Array
  /** At most actorFuelPerMessageMax; @default actorFuelPerMessageMax. */
  fuelLimit?: bigint
  /**
   * The client request this message executes, copied into its receipt (Receipt.requestId): the
   * envelope's RequestId for an update, and for an install's init. null when no client sent it
   * (outbox deliveries, `pylon exec`'s local runs, queries).
   */
  requestId: RequestId | null
}

/** A storage change: `value: null` deletes. Applied by the store only after the whole block ran. */
export interface StateWrite {
  actor: ActorId
  key: Uint8Array
  value: Uint8Array | null
}

/** A message an actor asked to send; delivered in a later block. `atNs` null means "next block". */
export interface OutboxMessage {
  from: ActorId
  to: ActorId
  method: string
  payload: Uint8Array
  atNs: bigint | null
}

/** The outcome of one message. Every field is deterministic and part of the receipts root. */
export interface Receipt {
  /** Position of the message in its block (0-based); queries use 0. */
  index: number
  actor: ActorId
  method: string
  ok: boolean
  /** The update's or query's result bytes when ok (empty for init), else null. */
  result: Uint8Array | null
  /** The actor's error, or the runtime's ("out of fuel", a limit, a trap), when not ok. */
  error: string | null
  /** Fuel charged, including on failure; equals the limit when the message ran out. */
  fuelUsed: bigint
  /** Diagnostic lines the actor logged (kept on failure too: they explain it). */
  logs: string[]
  /**
   * The request this receipt answers, so a certified receipt cannot be handed to another client as
   * the answer to theirs (the certificate covers it through the receipts root). The RequestId of
   * the executed ingress envelope (update, install, upgrade, delete); null for a message no client
   * sent: outbox deliveries, queries, `pylon exec`'s local runs.
   * The RequestId and not the IngressId: replay protection keys on the RequestId, and a request
   * names its subnet and expiry, so a subnet writes at most one receipt per RequestId ever; a
   * re-signed or re-encoded copy of a request is the same request, and the client that sent one
   * copy must accept the receipt of whichever copy ran. The IngressId names exact bytes (what
   * blocks list), not the request.
   */
  requestId: RequestId | null
}

/** What executing a block produces; the store commits writes and receipts in one batch. */
export interface BlockOutcome {
  /** Net changes of the block, sorted by actor id then key bytes, one per (actor, key). */
  writes: StateWrite[]
  /** One per message, in block order. */
  receipts: Receipt[]
  /** Sent by successful messages, in block order. */
  outbox: OutboxMessage[]
  /** Total fuel charged to the block. */
  fuelUsed: bigint
}

/** Canonical encoding of a receipt (dag-cbor): the bytes the receipts tree hashes. */
export function encodeReceipt (receipt: Receipt): Uint8Array {
  return encode({
    index: receipt.index,
    actor: receipt.actor,
    method: receipt.method,
    ok: receipt.ok,
    result: receipt.result,
    error: receipt.error,
    fuelUsed: receipt.fuelUsed,
    logs: receipt.logs,
    requestId: receipt.requestId
  })
}

/**
 * A receipt from its encodeReceipt bytes (a store's receipts of a height, read back to answer a
 * request after a restart). Refuses bytes that are not exactly the canonical receipt shape.
 */
export function decodeReceipt (bytes: Uint8Array): Result<Receipt> {
  const decoded = decode(bytes)
  if (!decoded.ok) return decoded
  const r = decoded.value as Record<string, unknown>
  const fields = ['index', 'actor', 'method', 'ok', 'result', 'error', 'fuelUsed', 'logs', 'requestId']
  if (r === null || typeof r !== 'object' || Object.keys(r).length !== fields.length || fields.some(f => !Object.hasOwn(r, f))) return err('receipt must be a map of exactly ' + fields.join(', '))
  const actor = parseActorId(r.actor)
  if (!actor.ok) return err(`receipt actor: ${actor.error}`)
  const fuel = r.fuelUsed
  if (!Number.isSafeInteger(r.index) || (r.index as number) < 0 || typeof r.method !== 'string' || typeof r.ok !== 'boolean' ||
      !(r.result === null || r.result instanceof Uint8Array) || !(r.error === null || typeof r.error === 'string') ||
      !((typeof fuel === 'number' && Number.isSafeInteger(fuel) && fuel >= 0) || (typeof fuel === 'bigint' && fuel >= 0n)) ||
      !Array.isArray(r.logs) || !r.logs.every(l => typeof l === 'string') || !(r.requestId === null || typeof r.requestId === 'string')) {
    return err('receipt fields have the wrong types')
  }
  return ok({
    index: r.index as number, actor: actor.value, method: r.method, ok: r.ok, result: r.result, error: r.error,
    fuelUsed: BigInt(fuel), logs: r.logs as string[], requestId: r.requestId as RequestId | null
  })
}

/** Canonical encoding of a write set: used to compare executions byte for byte. */
export function encodeWrites (writes: StateWrite[]): Uint8Array {
  return encode(writes.map(w => [w.actor, w.key, w.value]))
}

/** Bytewise order of keys (what LevelDB and storage.range use). */
export function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!
  }
  return a.length - b.length
}
