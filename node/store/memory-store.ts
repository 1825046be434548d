// The in-memory Store: the same logic as the LevelDB store over sorted maps, for unit tests and the
// deterministic simulator. Never use it where state must survive the process.

import { KvStore, type StoreInit } from './kv-store.ts'
import { MemoryKv } from './_memory-kv.ts'
import type { Store } from './store.ts'

export async function memoryStore (init: StoreInit = {}): Promise<Store & { kind: 'leveldb' | 'memory' }> {
  return await KvStore.open(new MemoryKv(), init)
}
