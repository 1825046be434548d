// Checkpoint manifests and chunks: the format in which a state moves between nodes (state sync,
// backup and restore). Pure types and canonical codecs; checking a whole checkpoint against its
// manifest is the store's import. Decoders take untrusted bytes and never throw.
//
// A checkpoint of height h is a manifest and its chunks. State chunks come first and hold the
// state's entries in increasing trie-path order (so an importer rebuilds the root in one pass,
// memory bounded by the trie depth); code chunks follow and hold code blobs by CID, split in parts.
// The manifest names every chunk by sha256 and size, and the state root the entries must rebuild.
// Its CID is what consensus signs, so a certified manifest makes every chunk checkable on arrival.

import { CID, cidOfBytes, decode, encode } from '../codec.ts'
import { height as toHeight, type ActorId, type Height } from '../ids.ts'
import { actorIdCharsMax, checkpointChunkBytesMax, cidCharsMax, checkpointChunksMax, checkpointManifestBytesMax, stateKeyBytesMax, stateValueBytesMax } from '../limits.ts'
import { err, ok, type Result } from '../result.ts'

export interface CheckpointManifest {
  height: Height
  stateRoot: Uint8Array
  /** Number of state entries over all state chunks. */
  entries: number
  chunks: Array<{ hash: Uint8Array, bytes: number }>
}

export interface StateEntry { actor: ActorId, key: Uint8Array, value: Uint8Array }
export type CheckpointChunk =
  | { kind: 'state', entries: StateEntry[] }
  | { kind: 'code', cid: string, part: number, parts: number, bytes: Uint8Array }

/** Canonical bytes: dag-cbor `[1, height, stateRoot, entries, [[sha256, size], …]]`. */
export function encodeManifest (manifest: CheckpointManifest): Uint8Array {
  return encode([1, manifest.height, manifest.stateRoot, manifest.entries, manifest.chunks.map(c => [c.hash, c.bytes])])
}

/** The CID of a manifest: what a checkpoint is named and signed by. */
export function manifestCid (manifest: CheckpointManifest): CID {
  return cidOfBytes(encodeManifest(manifest))
}

export function decodeManifest (bytes: Uint8Array): Result<CheckpointManifest> {
  const decoded = decode(bytes, { bytesMax: checkpointManifestBytesMax })
  if (!decoded.ok) return err(`checkpoint manifest: ${decoded.error}`)
  const v = decoded.value
  if (!Array.isArray(v) || v.length !== 5 || v[0] !== 1) return err('checkpoint manifest: expected [1, height, stateRoot, entries, chunks]')
  const [, height, stateRoot, entries, chunks] = v as unknown[]
  if ((typeof height !== 'number' && typeof height !== 'bigint') || BigInt(height) < 0n || (typeof height === 'number' && !Number.isSafeInteger(height))) return err('checkpoint manifest: height must be a non-negative integer')
  if (!(stateRoot instanceof Uint8Array) || stateRoot.length !== 32) return err('checkpoint manifest: state root must be 32 bytes')
  if (!Number.isSafeInteger(entries) || (entries as number) < 0) return err('checkpoint manifest: entries must be a non-negative integer')
  if (!Array.isArray(chunks)) return err('checkpoint manifest: chunks must be a list')
  if (chunks.length > checkpointChunksMax) return err(`checkpoint manifest: too many chunks: ${chunks.length} > ${checkpointChunksMax}`)
  const parsed: CheckpointManifest['chunks'] = []
  for (const chunk of chunks) {
    if (!Array.isArray(chunk) || chunk.length !== 2 || !(chunk[0] instanceof Uint8Array) || chunk[0].length !== 32 ||
      !Number.isSafeInteger(chunk[1]) || chunk[1] < 1 || chunk[1] > checkpointChunkBytesMax) {
      return err(`checkpoint manifest: chunk ${parsed.length} must be [32-byte sha256, size 1..${checkpointChunkBytesMax}]`)
    }
    parsed.push({ hash: chunk[0], bytes: chunk[1] })
  }
  return ok({ height: toHeight(BigInt(height)), stateRoot, entries: entries as number, chunks: parsed })
}

/** Canonical bytes of a chunk: `[1, "s", [[actor, key, value], …]]` or `[1, "c", cid, part, parts, bytes]`. */
export function encodeChunk (chunk: CheckpointChunk): Uint8Array {
  if (chunk.kind === 'state') return encode([1, 's', chunk.entries.map(e => [e.actor, e.key, e.value])])
  return encode([1, 'c', chunk.cid, chunk.part, chunk.parts, chunk.bytes])
}

/** Decodes an untrusted chunk, checking types and bounds (its hash is checked against the manifest first). */
export function decodeChunk (bytes: Uint8Array): Result<CheckpointChunk> {
  const decoded = decode(bytes, { bytesMax: checkpointChunkBytesMax })
  if (!decoded.ok) return err(`checkpoint chunk: ${decoded.error}`)
  const v = decoded.value
  if (!Array.isArray(v) || v[0] !== 1) return err('checkpoint chunk: expected [1, kind, …]')
  if (v[1] === 's' && v.length === 3 && Array.isArray(v[2])) {
    const entries: StateEntry[] = []
    for (const entry of v[2] as unknown[]) {
      if (!Array.isArray(entry) || entry.length !== 3 || typeof entry[0] !== 'string' || entry[0].length === 0 || entry[0].length > actorIdCharsMax ||
        !(entry[1] instanceof Uint8Array) || !(entry[2] instanceof Uint8Array)) {
        return err(`checkpoint chunk: entry ${entries.length} must be [actor, key bytes, value bytes]`)
      }
      if (entry[1].length > stateKeyBytesMax) return err(`checkpoint chunk: entry ${entries.length} key too long: ${entry[1].length} > ${stateKeyBytesMax} bytes`)
      if (entry[2].length > stateValueBytesMax) return err(`checkpoint chunk: entry ${entries.length} value too large: ${entry[2].length} > ${stateValueBytesMax} bytes`)
      entries.push({ actor: entry[0] as ActorId, key: entry[1], value: entry[2] })
    }
    return ok({ kind: 'state', entries })
  }
  if (v[1] === 'c' && v.length === 6) {
    const [, , cid, part, parts, blob] = v as unknown[]
    if (typeof cid !== 'string' || cid.length === 0 || cid.length > cidCharsMax) return err('checkpoint chunk: code CID must be a string')
    if (!Number.isSafeInteger(parts) || (parts as number) < 1 || (parts as number) > checkpointChunksMax) return err(`checkpoint chunk: parts must be 1..${checkpointChunksMax}`)
    if (!Number.isSafeInteger(part) || (part as number) < 0 || (part as number) >= (parts as number)) return err('checkpoint chunk: part must be 0..parts-1')
    if (!(blob instanceof Uint8Array)) return err('checkpoint chunk: code part must be bytes')
    return ok({ kind: 'code', cid, part: part as number, parts: parts as number, bytes: blob })
  }
  return err('checkpoint chunk: unknown kind')
}
