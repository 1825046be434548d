// The host side of contracts/wit/actor.wit: storage, context and outbox for the call in progress.
// Deterministic by construction: time and randomness come from the block, storage from the
// preloaded view, and every function charges fuel for its work. Never reads a clock, Math.random,
// a file or the network. Refusals throw ActorTrap (the message fails with its text).

import { encode, sha256Bytes } from '../../protocol/codec.ts'
import { parseActorId, type ActorId } from '../../protocol/ids.ts'
import {
  actorLogLineBytesMax, actorLogLinesMax, actorMethodCharsMax, actorOutboxPerCallMax, actorPayloadBytesMax,
  actorRandomBytesMax, actorRangeEntriesMax
} from '../../protocol/limits.ts'
import type { BlockContext, OutboxMessage } from '../../protocol/receipt.ts'
import { callMethodCharsMax } from '../../protocol/xnet.ts'
import type { ActorStorage } from './actor-storage.ts'
import { ActorTrap, OutOfFuel } from './actor-trap.ts'
import type { HostImports } from './loader.ts'

/** Fuel every host call costs before its bytes: a host call is ~100× a wasm step. */
export const hostCallFuel = 100n
/** Fuel per byte a host call moves (keys, values, payloads, random bytes, log text). */
export const hostByteFuel = 1n

/** Everything the host needs to serve the call in progress. */
export interface CallContext {
  actor: ActorId
  caller: string
  block: BlockContext
  /** Position of the message in its block: seeds `random`. */
  index: number
  readOnly: boolean
  storage: ActorStorage
  fuel: WebAssembly.Global
  outbox: OutboxMessage[]
  logs: string[]
  /** Random blocks drawn so far in this call. */
  randomCounter: number
}

/** Where an instance's imports find the call in progress; the executor sets and clears `current`. */
export interface CallSlot {
  current: CallContext | undefined
}

/** Takes `units` of fuel; when there is not enough, marks the instance out of fuel and traps. */
export function chargeFuel (fuel: WebAssembly.Global, units: bigint): void {
  const left = fuel.value as bigint
  if (left < units) {
    fuel.value = -1n
    throw new OutOfFuel()
  }
  fuel.value = left - units
}

/** The imports of one instance. They serve whatever call `slot.current` names. */
export function createHostImports (slot: CallSlot): HostImports {
  const call = (what: string, bytes: number): CallContext => {
    const c = slot.current
    if (c === undefined) throw new ActorTrap(`${what} called outside a message (from start code)`)
    chargeFuel(c.fuel, hostCallFuel + BigInt(bytes) * hostByteFuel)
    return c
  }
  const writable = (c: CallContext, what: string): void => {
    if (c.readOnly) throw new ActorTrap(`${what} in a query: storage is read-only`)
  }
  return {
    'pylon:actor/storage': {
      get (key) {
        const c = call('storage.get', bytesOf(key, 'storage.get key'))
        const value = c.storage.get(key)
        if (value !== undefined) chargeFuel(c.fuel, BigInt(value.length) * hostByteFuel)
        return value
      },
      set (key, value) {
        const c = call('storage.set', bytesOf(key, 'storage.set key') + bytesOf(value, 'storage.set value'))
        writable(c, 'storage.set')
        c.storage.set(key, value)
      },
      delete (key) {
        const c = call('storage.delete', bytesOf(key, 'storage.delete key'))
        writable(c, 'storage.delete')
        c.storage.delete(key)
      },
      range (start, end, limit) {
        const c = call('storage.range', bytesOf(start, 'storage.range start') + bytesOf(end, 'storage.range end'))
        if (typeof limit !== 'number') throw new ActorTrap('storage.range limit must be a u32')
        const entries = c.storage.range(start, end, Math.min(limit, actorRangeEntriesMax))
        let bytes = 0
        for (const [k, v] of entries) bytes += k.length + v.length
        chargeFuel(c.fuel, BigInt(bytes) * hostByteFuel)
        return entries
      }
    },
    'pylon:actor/context': {
      selfId: () => call('context.self-id', 0).actor,
      caller: () => call('context.caller', 0).caller,
      now: () => call('context.now', 0).block.timeNs,
      random (len) {
        if (typeof len !== 'number' || len > actorRandomBytesMax) throw new ActorTrap(`context.random length too large: ${String(len)} > ${actorRandomBytesMax} bytes`)
        return seededRandom(call('context.random', len), len)
      },
      log (line) {
        if (typeof line !== 'string') throw new ActorTrap('context.log line must be a string')
        const bytes = Buffer.byteLength(line)
        const c = call('context.log', bytes)
        if (bytes > actorLogLineBytesMax) throw new ActorTrap(`log line too long: ${bytes} > ${actorLogLineBytesMax} bytes`)
        if (c.logs.length >= actorLogLinesMax) throw new ActorTrap(`too many log lines: more than ${actorLogLinesMax} in one call`)
        c.logs.push(line)
      }
    },
    'pylon:actor/outbox': {
      send (to, method, payload) {
        const c = call('outbox.send', bytesOf(payload, 'outbox.send payload'))
        const target = parseActorId(to)
        if (!target.ok) throw new ActorTrap(`outbox.send: ${target.error}`)
        // The answer runs as `reject:<method>` on the sender: the method leaves room for the prefix.
        queue(c, { from: c.actor, to: target.value, method: checkMethod(method, callMethodCharsMax), payload: checkPayload(payload), atNs: null })
      },
      schedule (atNs, method, payload) {
        const c = call('outbox.schedule', bytesOf(payload, 'outbox.schedule payload'))
        if (typeof atNs !== 'bigint') throw new ActorTrap('outbox.schedule time must be a u64')
        queue(c, { from: c.actor, to: c.actor, method: checkMethod(method, actorMethodCharsMax), payload: checkPayload(payload), atNs })
      }
    }
  }
}

function bytesOf (value: unknown, what: string): number {
  if (!(value instanceof Uint8Array)) throw new ActorTrap(`${what} must be bytes`)
  return value.length
}

function checkMethod (method: unknown, charsMax: number): string {
  if (typeof method !== 'string' || method.length === 0 || method.length > charsMax) {
    throw new ActorTrap(`outbox method must be 1..${charsMax} characters`)
  }
  return method
}

function checkPayload (payload: Uint8Array): Uint8Array {
  if (payload.length > actorPayloadBytesMax) throw new ActorTrap(`outbox payload too large: ${payload.length} > ${actorPayloadBytesMax} bytes`)
  return payload.slice()
}

function queue (c: CallContext, message: OutboxMessage): void {
  if (c.outbox.length >= actorOutboxPerCallMax) throw new ActorTrap(`too many outbox messages: more than ${actorOutboxPerCallMax} in one call`)
  c.outbox.push(message)
}

/**
 * `len` bytes of SHA-256 in counter mode over a per-message seed:
 * seed = sha256(dag-cbor ["pylon/random/v1", block seed, actor, message index]),
 * block i = sha256(seed ‖ u32be(i)). Unpredictable before the block seed is known, equal on replicas.
 */
export function seededRandom (c: CallContext, len: number): Uint8Array {
  const seed = sha256Bytes(encode(['pylon/random/v1', c.block.seed, c.actor, c.index]))
  const out = new Uint8Array(len)
  const input = new Uint8Array(seed.length + 4)
  input.set(seed)
  for (let at = 0; at < len; at += 32) {
    new DataView(input.buffer).setUint32(seed.length, c.randomCounter++)
    out.set(sha256Bytes(input).subarray(0, Math.min(32, len - at)), at)
  }
  return out
}
