// The canonical codec: dag-cbor for everything that is hashed, signed or sent, with size and depth
// limits on decode, domain-tagged signing bytes, and sha2-256 CIDs. Never hash JSON.

import * as dagCbor from '@ipld/dag-cbor'
import { createHash } from 'node:crypto'
import { base32 } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { codecBytesMax, codecDepthMax, signingDomainBytesMax } from './limits.ts'
import { err, ok, type Result } from './result.ts'

export { CID }

export interface DecodeOptions {
  /** @default codecBytesMax */
  bytesMax?: number
}

/** Canonical dag-cbor bytes of a value. Throws on values dag-cbor cannot represent (a bug). */
export function encode (value: unknown): Uint8Array {
  return dagCbor.encode(value)
}

/** Decodes untrusted bytes: refuses over-size input before parsing, garbage, and deep nesting. */
export function decode (bytes: Uint8Array, options: DecodeOptions = {}): Result<unknown> {
  const bytesMax = options.bytesMax ?? codecBytesMax
  if (!(bytes instanceof Uint8Array)) return err('message must be bytes')
  if (bytes.length > bytesMax) return err(`message too large: ${bytes.length} > ${bytesMax} bytes`)
  if (bytes.length === 0) return err('message is empty')
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (e) {
    return err(`malformed dag-cbor: ${e instanceof RangeError ? 'nested too deeply' : (e as Error).message}`)
  }
  const depth = depthOf(value)
  if (depth > codecDepthMax) return err(`message nested too deeply: ${depth} > ${codecDepthMax} levels`)
  return ok(value)
}

/**
 * Decodes untrusted bytes that must be the canonical encoding of their value: exactly what
 * `encode` writes for it (sorted keys, shortest heads, no floats standing in for integers…), so the
 * bytes, and every hash of them, are a function of the value. Checked by encoding the value again:
 * a few µs, and no second CBOR reader to keep in step with the codec.
 */
export function decodeCanonical (bytes: Uint8Array, options: DecodeOptions = {}): Result<unknown> {
  const decoded = decode(bytes, options)
  if (!decoded.ok) return decoded
  let again: Uint8Array
  try {
    again = encode(decoded.value)
  } catch (e) {
    return err(`not canonical dag-cbor: the value does not encode again (${(e as Error).message})`)
  }
  return Buffer.from(again.buffer, again.byteOffset, again.byteLength).equals(bytes) ? decoded : err('not canonical dag-cbor: encoding the value again gives other bytes')
}

/** Iterative so that a hostile value cannot overflow the stack while being measured. */
function depthOf (root: unknown): number {
  let deepest = 0
  const stack: Array<[unknown, number]> = [[root, 1]]
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!
    if (depth > deepest) deepest = depth
    if (depth > codecDepthMax) return depth
    if (value === null || typeof value !== 'object' || value instanceof Uint8Array || CID.asCID(value) !== null) continue
    for (const child of Object.values(value)) stack.push([child, depth + 1])
  }
  return deepest
}

/**
 * The bytes a signature covers: `[domain, value]` in dag-cbor. The domain tag ("pylon/vote/v1")
 * keeps a signature made for one purpose from being replayed as another.
 */
export function signingBytes (domain: string, value: unknown): Uint8Array {
  if (domain.length === 0 || domain.length > signingDomainBytesMax || !domain.startsWith('pylon/')) {
    throw new RangeError(`signing domain must start with "pylon/" and be at most ${signingDomainBytesMax} characters: ${domain}`)
  }
  return dagCbor.encode([domain, value])
}

/** SHA-256 of bytes. */
export function sha256Bytes (bytes: Uint8Array): Uint8Array {
  const digest = sha256.digest(bytes)
  if (digest instanceof Promise) throw new Error('sha256 must be synchronous here')
  return digest.digest
}

/** Hex SHA-256 of bytes (node's hash: a fifth of the cost of multiformats' digest wrapper). */
export function sha256Hex (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

// CIDv1, dag-cbor, sha2-256 multihash of 32 bytes: the 4 bytes before the digest.
const dagCborSha256Prefix = Uint8Array.of(1, dagCbor.code, sha256.code, 32)

/**
 * `cidOfBytes(bytes).toString()` (base32, the CIDv1 default) without building the CID object:
 * the string names messages on hot paths. A test pins it to the CID construction.
 */
export function cidStringOfBytes (bytes: Uint8Array): string {
  const cid = new Uint8Array(dagCborSha256Prefix.length + 32)
  cid.set(dagCborSha256Prefix)
  cid.set(createHash('sha256').update(bytes).digest(), dagCborSha256Prefix.length)
  return base32.encode(cid)
}

/** The CID (dag-cbor, sha2-256) of already-encoded bytes. */
export function cidOfBytes (bytes: Uint8Array): CID {
  const digest = sha256.digest(bytes)
  if (digest instanceof Promise) throw new Error('sha256 must be synchronous here')
  return CID.createV1(dagCbor.code, digest)
}

/** The CID of a value's canonical encoding. */
export function cidOf (value: unknown): CID {
  return cidOfBytes(encode(value))
}

/** Raw-bytes CID (codec 0x55): names code and other opaque blobs. */
export function rawCidOf (bytes: Uint8Array): CID {
  const digest = sha256.digest(bytes)
  if (digest instanceof Promise) throw new Error('sha256 must be synchronous here')
  return CID.createV1(0x55, digest)
}
