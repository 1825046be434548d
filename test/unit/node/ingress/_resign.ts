// Test helper: a second, equally valid Ed25519 signature over the same bytes. RFC 8032 derives the
// nonce r from key and message, but a verifier cannot tell, so a signer may pick any r:
// R = r·B, S = r + SHA-512(R ‖ A ‖ M)·a mod L.

import { createHash } from 'node:crypto'
import { ed25519 } from '@noble/curves/ed25519.js'

export function signWithNonce (seed: Uint8Array, message: Uint8Array, r: bigint): Uint8Array {
  const { scalar, pointBytes } = ed25519.utils.getExtendedPublicKey(seed)
  const L = ed25519.Point.Fn.ORDER
  const R = ed25519.Point.BASE.multiply(r).toBytes()
  const k = BigInt('0x' + Buffer.from(createHash('sha512').update(R).update(pointBytes).update(message).digest()).reverse().toString('hex')) % L
  const S = (r + k * scalar) % L
  const sBytes = Buffer.from(S.toString(16).padStart(64, '0'), 'hex').reverse()
  return new Uint8Array(Buffer.concat([R, sBytes]))
}
