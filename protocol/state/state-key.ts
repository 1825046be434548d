// Where an (actor, key) pair lives: its row key in the store and its 256-bit path in the Merkle
// trie. Pure; never touches storage. Both encodings are injective, so two pairs never collide.

import { sha256 } from './sha256.ts'
import type { ActorId } from '../ids.ts'
import { actorIdCharsMax, stateKeyBytesMax } from '../limits.ts'
import { err, ok, type Result } from '../result.ts'

/** A trie path is sha256 of the row key: 32 bytes, 256 bits, read most significant bit first. */
export const pathBytes = 32
export const pathBits = pathBytes * 8

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * The row key of (actor, key): `u8 length(actor) ‖ actor (utf-8) ‖ key`. The length prefix keeps
 * ("ab", "c") and ("a", "bc") apart, and all keys of one actor are contiguous and sorted by key,
 * which is what `range` needs.
 */
export function rowKey (actor: ActorId, key: Uint8Array): Uint8Array {
  const actorBytes = actorPrefix(actor)
  const row = new Uint8Array(actorBytes.length + key.length)
  row.set(actorBytes)
  row.set(key, actorBytes.length)
  return row
}

/** The prefix shared by every row of one actor. */
export function actorPrefix (actor: ActorId): Uint8Array {
  const name = utf8.encode(actor)
  if (name.length === 0 || name.length > actorIdCharsMax) throw new RangeError(`actor id must be 1..${actorIdCharsMax} bytes, got ${name.length}`)
  const prefix = new Uint8Array(1 + name.length)
  prefix[0] = name.length
  prefix.set(name, 1)
  return prefix
}

/** Splits a row key back into (actor, key); an error for bytes no rowKey produced. */
export function parseRowKey (row: Uint8Array): Result<{ actor: ActorId, key: Uint8Array }> {
  const length = row[0]
  if (length === undefined || length === 0 || length > actorIdCharsMax || row.length < 1 + length) return err('row key has a bad actor length')
  if (row.length - 1 - length > stateKeyBytesMax) return err(`key too long: ${row.length - 1 - length} > ${stateKeyBytesMax} bytes`)
  try {
    return ok({ actor: utf8Decoder.decode(row.subarray(1, 1 + length)) as ActorId, key: row.slice(1 + length) })
  } catch {
    return err('row key has an actor id that is not utf-8')
  }
}

/** The trie path of (actor, key): sha256 of its row key, so paths spread evenly (depth ≈ log2 n). */
export function statePath (actor: ActorId, key: Uint8Array): Uint8Array {
  return sha256(rowKey(actor, key))
}

/** Bit i (0 = most significant bit of byte 0) of a path. */
export function bitAt (path: Uint8Array, i: number): 0 | 1 {
  return ((path[i >> 3]! >> (7 - (i & 7))) & 1) as 0 | 1
}

/** The first bit where two paths differ, or pathBits when they are equal. */
export function firstDifferingBit (a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < pathBytes; i++) {
    const x = a[i]! ^ b[i]!
    if (x !== 0) return i * 8 + Math.clz32(x) - 24
  }
  return pathBits
}

/** Byte-wise order of two byte strings (negative, zero, positive), as LevelDB sorts keys. */
export function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!
  }
  return a.length - b.length
}

export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareBytes(a, b) === 0
}

/** Refuses a key or value over its bound, naming the value and the limit. */
export function checkKey (key: Uint8Array): Result<Uint8Array> {
  if (!(key instanceof Uint8Array)) return err('storage key must be bytes')
  if (key.length > stateKeyBytesMax) return err(`storage key too long: ${key.length} > ${stateKeyBytesMax} bytes`)
  return ok(key)
}
