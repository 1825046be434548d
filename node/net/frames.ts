// Reading one length-prefixed frame from a long-lived stream, with the libp2p utils' errors sorted
// into what a protocol counts and refuses: a length prefix past the bound, one that does not parse,
// or simply the end of the stream. Owns no stream: the caller aborts or keeps it.

import type { LengthPrefixedStream } from '@libp2p/utils'

/** A frame, or why there is none: the stream ended (or `signal` fired), or its length prefix broke the bound or did not parse. */
export type FrameRead = Uint8Array | 'end' | 'oversized' | 'malformed'

export async function readFrame (lp: LengthPrefixedStream, signal: AbortSignal): Promise<FrameRead> {
  try {
    return (await lp.read({ signal })).subarray()
  } catch (error) {
    const name = (error as Error).name
    if (name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError' || name === 'StreamBufferError') return 'oversized'
    if (name === 'InvalidMessageLengthError') return 'malformed'
    return 'end' // the peer closed or reconnected, or our stop
  }
}

/** Thrown while a length prefix is still incomplete: one shared object, so no stack trace is captured per frame. */
const lengthIncomplete = new RangeError('length prefix incomplete')

/**
 * lpStream's `lengthDecoder` for long-lived streams: the unsigned varint length of the frame, read
 * from the bytes received so far. lpStream reads the prefix a byte at a time and asks again after
 * a RangeError; uint8-varint's decoder signals "more bytes" with a new RangeError (stack trace and
 * all) for every frame of 128 bytes or more: 1.8 % of a replica's CPU under load. This one throws a
 * single shared RangeError instead, and a prefix of more than 8 bytes (which uint8-varint never
 * accepts, and lpStream would keep reading) ends the read as InvalidDataLengthLengthError.
 */
export function decodeFrameLength (prefix: { byteLength: number, get (index: number): number }): number {
  const bytes = Math.min(prefix.byteLength, 8)
  let length = 0
  let scale = 1
  for (let i = 0; i < bytes; i++) {
    const byte = prefix.get(i)
    length += (byte & 0x7f) * scale
    if (byte < 0x80) return length
    scale *= 0x80
  }
  if (prefix.byteLength >= 8) throw Object.assign(new Error(`length prefix longer than 8 bytes`), { name: 'InvalidDataLengthLengthError' })
  throw lengthIncomplete
}

/**
 * Noise's frame length (a 2-byte big-endian prefix), decoded without an Error per TCP read. Noise's
 * own decoder throws a new RangeError whenever fewer than 2 bytes are buffered, which is the end of
 * every chunk the socket delivers: its stack trace (walking optimized frames) was 4 % of a replica's
 * CPU under load. This one throws the shared RangeError instead (the decoder only tests the type).
 */
export function decodeUint16Length (prefix: Uint8Array | { byteLength: number, get (index: number): number }): number {
  if (prefix.byteLength < 2) throw lengthIncomplete
  return prefix instanceof Uint8Array ? (prefix[0]! << 8) | prefix[1]! : (prefix.get(0) << 8) | prefix.get(1)
}
