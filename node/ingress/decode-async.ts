// Envelope decoding with the Ed25519 check on libuv's thread pool instead of the event loop: the
// parse (a few µs) stays here, the ~100 µs verification runs beside it. Ingress is most of a
// replica's CPU, and done inline it held consensus messages, WAL completions and sockets behind
// every burst of envelopes; on a many-core rack the checks also run in parallel. Same verdicts
// as protocol's decodeIngress, which stays the synchronous path (and the reference).

import { verify } from 'node:crypto'
import { badSignature, parseIngress, type DecodeIngressOptions, type Ingress, type IngressError, type SignatureCheck } from '../../protocol/ingress.ts'
import { ingressVerifyJobsMax } from '../../protocol/limits.ts'
import { ok, type Result } from '../../protocol/result.ts'

export async function decodeIngressAsync (bytes: Uint8Array, nowMs: number, options: DecodeIngressOptions = {}): Promise<Result<Ingress, IngressError>> {
  const parsed = parseIngress(bytes, nowMs, options)
  if (!parsed.ok) return parsed
  const { ingress, check } = parsed.value
  return await verifyOffThread(check) ? ok(ingress) : badSignature(ingress)
}

/** Checks waiting for a slot, oldest first, and how many slots are taken. */
const waiting: Array<() => void> = []
let running = 0

/**
 * The signature check as a thread-pool job; false (never a rejection) for anything that fails.
 * At most ingressVerifyJobsMax run at once: LevelDB's reads and the consensus WAL's fsyncs share
 * the pool, and a block's worth of checks queued at once would hold a vote behind them.
 */
export async function verifyOffThread ({ key, signed, signature }: SignatureCheck): Promise<boolean> {
  if (key === undefined) return false
  if (running < ingressVerifyJobsMax) running++
  else await new Promise<void>(resolve => { waiting.push(resolve) }) // a finishing check hands its slot over
  try {
    return await new Promise<boolean>(resolve => {
      try {
        verify(null, signed, key, signature, (error, valid) => { resolve(error === null && valid) })
      } catch {
        resolve(false)
      }
    })
  } finally {
    const next = waiting.shift()
    if (next === undefined) running--
    else next()
  }
}
