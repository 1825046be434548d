// Opens the LevelDB-backed Store on a directory. Owns only opening and its errors; the store's
// logic is kv-store.ts. Never opens a directory that another process holds (LevelDB's lock).

import { KvStore, type StoreInit } from './kv-store.ts'
import { LevelKv } from './_level-kv.ts'
import { StoreError, type Store } from './store.ts'

export interface OpenStoreInit extends StoreInit {
  /** @default true — false refuses a directory that holds no store yet (operator commands). */
  createIfMissing?: boolean
}

/** Opens (or creates) the store in `dir`, recovering from any interrupted commit, checkpoint or import. */
export async function openStore (dir: string, init: OpenStoreInit = {}): Promise<Store & { kind: 'leveldb' | 'memory' }> {
  let kv: LevelKv
  try {
    kv = await LevelKv.open(dir, { createIfMissing: init.createIfMissing ?? true })
  } catch (error) {
    const code = (error as { code?: string, cause?: { code?: string } }).cause?.code ?? (error as { code?: string }).code
    if (code === 'LEVEL_LOCKED') throw new StoreError('store/locked', `store ${dir} is in use by another process (is a daemon or exec running on it?)`, { retryable: true, cause: error })
    throw new StoreError('store/open', `cannot open store ${dir}: ${(error as Error).message}`, { cause: error })
  }
  try {
    return await KvStore.open(kv, init)
  } catch (error) {
    await kv.close()
    throw error
  }
}
