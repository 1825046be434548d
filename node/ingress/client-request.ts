// Builds a client's signed ingress message: fills in the sender, a random nonce and an expiry from
// the caller's clock. Used by the CLI (call, deploy) and tests; it never sends anything.

import { randomBytes } from 'node:crypto'
import type { Principal } from '../../protocol/ids.ts'
import { signIngress, type Ingress, type IngressContent } from '../../protocol/ingress.ts'
import { ingressTtlMaxMs } from '../../protocol/limits.ts'
import type { Signer } from '../../protocol/signature.ts'
import { assert } from '../core/assert.ts'

type WithoutEnvelopeFields<T> = T extends unknown ? Omit<T, 'expiryMs' | 'nonce' | 'sender'> : never
/** A content without the fields this module fills in. */
export type IngressBody = WithoutEnvelopeFields<IngressContent>

export interface ClientRequestInit {
  /** The client's clock, ms since the Unix epoch. */
  nowMs: number
  /** @default 4 minutes — a minute under the 5-minute bound, so a client clock running ahead is still accepted. */
  ttlMs?: number
  /** @default 16 random bytes */
  nonce?: Uint8Array
}

export const clientRequestTtlMs = ingressTtlMaxMs - 60_000

/** Signs `body` as `signer`, expiring ttlMs after nowMs. Throws on content over its limits (caller's bug or bad user input checked earlier). */
export function clientRequest (signer: Signer, body: IngressBody, init: ClientRequestInit): Ingress {
  const ttlMs = init.ttlMs ?? clientRequestTtlMs
  assert(Number.isInteger(ttlMs) && ttlMs > 0 && ttlMs <= ingressTtlMaxMs, `ttlMs must be an integer in 1..${ingressTtlMaxMs}, got ${ttlMs}`)
  const content = { ...body, expiryMs: BigInt(Math.floor(init.nowMs) + ttlMs), nonce: init.nonce ?? new Uint8Array(randomBytes(16)), sender: signer.id as Principal } as IngressContent
  return signIngress(content, signer)
}
