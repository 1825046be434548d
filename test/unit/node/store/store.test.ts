// Runs the one Store suite (_store-suite.ts) against the LevelDB store and the in-memory store.
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore } from '../../../../node/store/level-store.ts'
import { memoryStore } from '../../../../node/store/memory-store.ts'
import { storeSuite } from './_store-suite.ts'

storeSuite(test, 'LevelDB store', async (t, init) => {
  const dir = await mkdtemp(join(tmpdir(), 'pylon-store-'))
  const store = await openStore(dir, init)
  t.teardown(async () => { await store.close(); await rm(dir, { recursive: true, force: true }) })
  return store
})

storeSuite(test, 'memory store', async (t, init) => {
  const store = await memoryStore(init)
  t.teardown(async () => { await store.close() })
  return store
})
