// The canonical-form check behind codec.ts decodeCanonical: walks dag-cbor bytes the decoder
// accepted and says why `encode` would write them differently. Reads only; never throws.

import { isUtf8 } from 'node:buffer'
import { CID } from 'multiformats/cid'
import { codecDepthMax } from './limits.ts'

/**
 * Why bytes that `decode` accepted are not what `encode` would write for their value, or undefined
 * when they are. The strict dag-cbor decoder already refuses over-long heads, indefinite lengths,
 * duplicate keys, non-string keys, tags other than 42, NaN and infinities and trailing bytes; this
 * walk (checked against the re-encoding by a differential test) refuses what it lets through:
 * - map keys out of dag-cbor order (shorter first, then bytewise);
 * - floats other than 64-bit, and 64-bit floats holding a safe integer (incl. -0): written as ints;
 * - `undefined` (0xf7), which decodes as null;
 * - text that is not valid UTF-8, or starts with a BOM (the decoder replaces or drops those);
 * - CIDs whose bytes are not the ones the CID re-encodes to (over-long varints, explicit v0).
 * Pre: `decode(bytes)` succeeded (so nesting is bounded); still never throws or reads out of bounds.
 */
export function nonCanonical (bytes: Uint8Array): string | undefined {
  const walk = new CanonicalWalk(bytes)
  const end = walk.item(0, 0)
  if (walk.why !== undefined) return walk.why
  return end === bytes.length ? undefined : `${bytes.length - end} trailing bytes`
}

class CanonicalWalk {
  why: string | undefined
  readonly #b: Uint8Array
  readonly #view: DataView
  constructor (bytes: Uint8Array) {
    this.#b = bytes
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  #fail (why: string): number {
    this.why ??= why
    return -1
  }

  /** The argument of the head at `at` (a length, count or tag) and where its content starts; -1 on error. */
  #head (at: number): [number, number] {
    const info = this.#b[at]! & 31
    if (info < 24) return [info, at + 1]
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0
    if (size === 0) return [this.#fail(`reserved or indefinite head 0x${this.#b[at]!.toString(16)} at byte ${at}`), -1]
    if (at + 1 + size > this.#b.length) return [this.#fail(`truncated head at byte ${at}`), -1]
    const value = size === 1 ? this.#b[at + 1]! : size === 2 ? this.#view.getUint16(at + 1) : size === 4 ? this.#view.getUint32(at + 1) : Number(this.#view.getBigUint64(at + 1))
    const floor = size === 1 ? 24 : size === 2 ? 0x100 : size === 4 ? 0x10000 : 0x100000000
    if (value < floor) return [this.#fail(`integer or length in more bytes than needed at byte ${at}`), -1]
    return [value, at + 1 + size]
  }

  /** Checks the item at `at`; returns where it ends, or -1 (with `why` set). */
  item (at: number, depth: number): number {
    if (at < 0 || at >= this.#b.length) return this.#fail(`truncated at byte ${at}`)
    if (depth > codecDepthMax) return this.#fail(`nested deeper than ${codecDepthMax} levels`)
    const initial = this.#b[at]!
    const major = initial >> 5
    if (major === 7) return this.#simple(at)
    const [arg, start] = this.#head(at)
    if (start < 0) return -1
    switch (major) {
      case 0: case 1: return start
      case 2: return this.#within(start, arg)
      case 3: return this.#text(start, arg)
      case 4: {
        let next = start
        for (let i = 0; i < arg && next >= 0; i++) next = this.item(next, depth + 1)
        return next
      }
      case 5: return this.#map(start, arg, depth)
      default: return this.#tag(at, arg, start)
    }
  }

  #within (start: number, length: number): number {
    return start + length <= this.#b.length ? start + length : this.#fail(`truncated at byte ${start}`)
  }

  #text (start: number, length: number): number {
    const end = this.#within(start, length)
    if (end < 0) return -1
    const b = this.#b
    let ascii = true
    for (let i = start; i < end && ascii; i++) ascii = b[i]! < 0x80
    if (ascii) return end
    if (!isUtf8(b.subarray(start, end))) return this.#fail(`text is not valid UTF-8 at byte ${start}`)
    if (length >= 3 && b[start] === 0xef && b[start + 1] === 0xbb && b[start + 2] === 0xbf) return this.#fail(`text starts with a byte order mark at byte ${start}`)
    return end
  }

  #map (start: number, count: number, depth: number): number {
    let next = start
    let previous = -1
    let previousLength = 0
    for (let i = 0; i < count; i++) {
      const keyAt = next
      if (keyAt >= this.#b.length) return this.#fail(`truncated at byte ${keyAt}`)
      if (this.#b[keyAt]! >> 5 !== 3) return this.#fail(`map key is not text at byte ${keyAt}`)
      const [length, keyStart] = this.#head(keyAt)
      if (keyStart < 0) return -1
      next = this.#text(keyStart, length)
      if (next < 0) return -1
      if (previous >= 0 && compareKeys(this.#b, previous, previousLength, keyStart, length) >= 0) return this.#fail(`map keys out of order at byte ${keyAt}`)
      previous = keyStart
      previousLength = length
      next = this.item(next, depth + 1)
      if (next < 0) return -1
    }
    return next
  }

  #tag (at: number, tag: number, start: number): number {
    if (tag !== 42) return this.#fail(`tag ${tag} at byte ${at} (dag-cbor has only 42, CID)`)
    if (start >= this.#b.length || this.#b[start]! >> 5 !== 2) return this.#fail(`CID at byte ${at} is not bytes`)
    const [length, bytesAt] = this.#head(start)
    if (bytesAt < 0) return -1
    const end = this.#within(bytesAt, length)
    if (end < 0) return -1
    const raw = this.#b.subarray(bytesAt, end)
    try {
      if (raw[0] !== 0 || !Buffer.from(CID.decode(raw.subarray(1)).bytes).equals(raw.subarray(1))) return this.#fail(`CID at byte ${at} is not in its canonical binary form`)
    } catch {
      return this.#fail(`bad CID at byte ${at}`)
    }
    return end
  }

  #simple (at: number): number {
    const initial = this.#b[at]!
    if (initial === 0xf4 || initial === 0xf5 || initial === 0xf6) return at + 1
    if (initial !== 0xfb) return this.#fail(`simple value or float 0x${initial.toString(16)} at byte ${at} (dag-cbor writes only false, true, null and 64-bit floats)`)
    if (at + 9 > this.#b.length) return this.#fail(`truncated float at byte ${at}`)
    const value = this.#view.getFloat64(at + 1)
    // encode writes safe integers (and -0, which equals 0) as integers, every other number as float64.
    if (Number.isNaN(value) || !Number.isFinite(value) || Number.isSafeInteger(value)) return this.#fail(`float ${value} at byte ${at} (written as an integer, or not allowed)`)
    return at + 9
  }
}

/** dag-cbor map key order: shorter UTF-8 first, then bytewise. */
function compareKeys (b: Uint8Array, a: number, aLength: number, c: number, cLength: number): number {
  if (aLength !== cLength) return aLength - cLength
  for (let i = 0; i < aLength; i++) {
    const d = b[a + i]! - b[c + i]!
    if (d !== 0) return d
  }
  return 0
}
