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
