// Every bound in Pylon, each with the reason for its value. Over a bound is refused, never absorbed
// by growth. Relations between bounds are asserted when this module loads, so a bad edit fails fast.
// Sizes are bytes, times milliseconds, unless the name says otherwise.

import { assert } from './assert.ts'

const KiB = 1024
const MiB = 1024 * KiB

// ── Codec ───────────────────────────────────────────────────────────────────────────────────────
/** Largest dag-cbor value the codec will decode from anyone: a block of ingress plus headroom. */
export const codecBytesMax = 8 * MiB
/** Deepest nesting the codec accepts; real messages nest < 10 levels, a bomb nests thousands. */
export const codecDepthMax = 64
/** Longest domain tag used for signing bytes, e.g. "pylon/vote/v1". */
export const signingDomainBytesMax = 64

// ── Identity ────────────────────────────────────────────────────────────────────────────────────
/** Length of a NodeId / Principal string: base58btc of a 38-byte identity multihash is 52 chars. */
export const nodeIdCharsMax = 64
/** A CID string (base32 sha2-256 dag-cbor) is 59 chars; allow room for other bases. */
export const cidCharsMax = 128

assert(codecBytesMax >= 1 * MiB, 'codecBytesMax must hold at least a 1 MiB payload')
assert(signingDomainBytesMax < 256, 'domain tags are short strings')

// ── Network, discovery and capacity adverts (node/net, node/capacity, node/api) ─────────────────

// ── Actor runtime (node/runtime, contracts) ─────────────────────────────────────────────────────

// ── Store, Merkle state and checkpoints (node/store, protocol/state) ────────────────────────────

// ── Consensus (protocol/consensus, node/consensus) ──────────────────────────────────────────────

// ── Ingress, subnets and certification (protocol/ingress.ts, protocol/subnet.ts) ────────────────
