// Test helper: builds a state trie in memory from (actor, key, value) triples through TrieUpdate.
import { sha256Bytes } from '../../../../protocol/codec.ts'
import type { ActorId } from '../../../../protocol/ids.ts'
import { emptyRoot, toHex, TrieUpdate, type TrieNodeSource } from '../../../../protocol/state/merkle-trie.ts'
import { statePath } from '../../../../protocol/state/state-key.ts'

export class MapNodes implements TrieNodeSource {
  readonly nodes = new Map<string, Uint8Array>()
  getNode (hash: Uint8Array): Uint8Array | undefined { return this.nodes.get(toHex(hash)) }
}

export interface Write { actor: ActorId, key: Uint8Array, value: Uint8Array | null }

/** Applies writes as one batch over `nodes` from `root`; persists created nodes, removes deleted ones. */
export async function applyWrites (nodes: MapNodes, root: Uint8Array, writes: Write[]): Promise<Uint8Array> {
  return await applyUpdate(new TrieUpdate(nodes, root), nodes, writes)
}

/** Applies writes through `update` and persists its created and deleted nodes into `nodes`. */
export async function applyUpdate (update: TrieUpdate, nodes: MapNodes, writes: Write[]): Promise<Uint8Array> {
  for (const w of writes) {
    const path = statePath(w.actor, w.key)
    if (w.value === null) await update.delete(path)
    else await update.set(path, sha256Bytes(w.value))
  }
  for (const hash of update.deleted) nodes.nodes.delete(toHex(hash))
  for (const { hash, bytes } of update.created) nodes.nodes.set(toHex(hash), bytes)
  return update.root
}

export async function trieOf (writes: Write[]): Promise<{ nodes: MapNodes, root: Uint8Array }> {
  const nodes = new MapNodes()
  return { nodes, root: await applyWrites(nodes, emptyRoot, writes) }
}

export const actorA = 'bafyreiactora.1' as ActorId
export const actorB = 'bafyreiactorb.2' as ActorId
