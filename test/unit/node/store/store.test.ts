// Runs the one Store suite (_store-suite.ts) against the LevelDB store and the in-memory store.
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KvStore } from '../../../../node/store/kv-store.ts'
import { LevelKv } from '../../../../node/store/_level-kv.ts'
import { MemoryKv } from '../../../../node/store/_memory-kv.ts'
import { openStore } from '../../../../node/store/level-store.ts'
import { memoryStore } from '../../../../node/store/memory-store.ts'
import { storeSuite } from './_store-suite.ts'

storeSuite(test, 'LevelDB store', async (t, init, wrap) => {
  const dir = await mkdtemp(join(tmpdir(), 'pylon-store-'))
  // A wrapped backend (a test gating its batches) goes under the same store logic openStore uses.
  const store = wrap === undefined ? await openStore(dir, init) : await KvStore.open(wrap(await LevelKv.open(dir, { createIfMissing: true })), init)
  t.teardown(async () => { await store.close(); await rm(dir, { recursive: true, force: true }) })
  return store
})

storeSuite(test, 'memory store', async (t, init, wrap) => {
  const store = wrap === undefined ? await memoryStore(init) : await KvStore.open(wrap(new MemoryKv()), init)
  t.teardown(async () => { await store.close() })
  return store
})
