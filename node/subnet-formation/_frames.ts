// One request frame and one answer frame over a libp2p stream: length-prefixed dag-cbor, bounded
// in size and time. Private to node/subnet-formation. It never throws for a peer's bad bytes on
// the serving side; the asking side gets a Result.

import { lpStream } from '@libp2p/utils'
import { decode, encode } from '../../protocol/codec.ts'
import type { NodeId } from '../../protocol/ids.ts'
import { err, type Result } from '../../protocol/result.ts'
import type { Net, Stream } from '../net/net.ts'

export interface ExchangeOptions {
  bytesMax: number
  timeoutMs: number
  signal?: AbortSignal
}

/** Dials `peer`, sends `request`, reads one decoded answer. Every failure is an error string naming the peer. */
export async function exchange (net: Pick<Net, 'dial'>, peer: NodeId, protocol: string, request: unknown, options: ExchangeOptions): Promise<Result<unknown>> {
  const signal = options.signal === undefined ? AbortSignal.timeout(options.timeoutMs) : AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)])
  let stream: Stream | undefined
  try {
    stream = await net.dial(peer, protocol, { signal })
    const lp = lpStream(stream, { maxDataLength: options.bytesMax })
    await lp.write(encode(request), { signal })
    const frame = (await lp.read({ signal })).subarray()
    await stream.close({ signal }).catch(() => {})
    const answer = decode(frame, { bytesMax: options.bytesMax })
    return answer.ok ? answer : err(`bad answer from ${peer}: ${answer.error}`)
  } catch (error) {
    stream?.abort(error as Error)
    const reason = signal.aborted && !(options.signal?.aborted ?? false) ? `no answer within ${options.timeoutMs} ms` : (error as Error).message
    return err(`${peer}: ${reason}`)
  }
}

/**
 * Serves one request on an inbound stream: reads a bounded frame, hands the decoded value (or the
 * decode error) to `answer`, writes what it returns. Malformed frames are reported, not thrown.
 */
export async function serve (stream: Stream, options: Omit<ExchangeOptions, 'signal'>, answer: (request: Result<unknown>) => Promise<unknown>): Promise<void> {
  const signal = AbortSignal.timeout(options.timeoutMs)
  const lp = lpStream(stream, { maxDataLength: options.bytesMax })
  let request: Result<unknown>
  try {
    request = decode((await lp.read({ signal })).subarray(), { bytesMax: options.bytesMax })
  } catch (error) {
    // A broken length prefix, an over-long frame, or a peer that never finished its request.
    request = err(`unreadable frame: ${(error as Error).message}`)
  }
  try {
    await lp.write(encode(await answer(request)), { signal })
    await stream.close({ signal })
  } catch (error) {
    stream.abort(error as Error)
  }
}

export function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
}
