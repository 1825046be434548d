// LevelDB-only behaviour: persistence across reopen, the directory lock, recovery on open, and
// verify finding corruption planted directly in the LevelDB files.
import test, { type ExecutionContext } from 'ava'
import { Level } from 'level'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sha256Bytes } from '../../../../protocol/codec.ts'
import { height, type ActorId } from '../../../../protocol/ids.ts'
import { emptyRoot, toHex } from '../../../../protocol/state/merkle-trie.ts'
import { rowKey } from '../../../../protocol/state/state-key.ts'
import { openStore } from '../../../../node/store/level-store.ts'
import { StoreError } from '../../../../node/store/store.ts'
import { commitWrites, put } from './_store-suite.ts'

const actor = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy.7' as ActorId
const b = (text: string): Uint8Array => new TextEncoder().encode(text)

async function tempDir (t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pylon-level-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

/** Opens the raw LevelDB under a store to plant corruption. */
interface RawSpace { put: (key: Uint8Array, value: Uint8Array) => Promise<void>, del: (key: Uint8Array) => Promise<void> }
async function raw (dir: string, edit: (sub: (name: string) => RawSpace) => Promise<void>): Promise<void> {
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  try {
    await edit(name => db.sublevel<Uint8Array, Uint8Array>(name, { keyEncoding: 'view', valueEncoding: 'view' }) as unknown as RawSpace)
  } finally {
    await db.close()
  }
}

test('openStore keeps height, root, state and WAL sequence across a reopen', async t => {
  const dir = await tempDir(t)
  const store = await openStore(dir)
  await commitWrites(store, [put('a', '1'), put('b', '2')])
  await commitWrites(store, [put('c', '3')])
  await store.walAppend(b('w0'))
  const root = toHex(store.stateRoot)
  await store.close()
  const again = await openStore(dir)
  t.teardown(async () => { await again.close() })
  t.is(BigInt(again.height), 2n)
  t.is(toHex(again.stateRoot), root)
  t.deepEqual(await again.get(actor, b('c')), b('3'))
  t.is(await again.walAppend(b('w1')), 1n)
  // The WAL is a LevelDB of its own inside the store directory (its fsyncs queue behind no commit).
  t.true(existsSync(join(dir, 'wal', 'CURRENT')))
  await commitWrites(again, [put('d', '4')])
  t.true((await again.verify()).ok)
})

test('openStore refuses a directory another handle holds, naming it', async t => {
  const dir = await tempDir(t)
  const store = await openStore(dir)
  t.teardown(async () => { await store.close() })
  const error = await t.throwsAsync(openStore(dir), { instanceOf: StoreError })
  t.is(error?.code, 'store/locked')
  t.regex(error!.message, /in use by another process/)
})

test('openStore with createIfMissing false refuses an empty directory', async t => {
  const dir = await tempDir(t)
  await t.throwsAsync(openStore(join(dir, 'nothing-here'), { createIfMissing: false }), { instanceOf: StoreError, message: /cannot open store/ })
})

test('verify names a value changed behind the trie\'s back', async t => {
  const dir = await tempDir(t)
  const store = await openStore(dir)
  await commitWrites(store, Array.from({ length: 40 }, (_, i) => put(`k${i}`, `v${i}`)))
  await store.close()
  await raw(dir, async sub => { await sub('state').put(rowKey(actor, b('k17')), b('tampered')) })
  const reopened = await openStore(dir)
  t.teardown(async () => { await reopened.close() })
  const report = await reopened.verify()
  t.false(report.ok)
  t.is(report.firstDifference, `actor ${actor} key 0x${toHex(b('k17'))}: recorded value hash ${toHex(sha256Bytes(b('v17')))}, stored value hashes to ${toHex(sha256Bytes(b('tampered')))}`)
  t.not(toHex(report.computedRoot), toHex(report.recordedRoot))
})

test('verify names a state row that lost its trie leaf and a leaf whose row is gone', async t => {
  const dir = await tempDir(t)
  const store = await openStore(dir)
  await commitWrites(store, [put('a', '1'), put('b', '2')])
  await store.close()
  await raw(dir, async sub => { await sub('state').put(rowKey(actor, b('ghost')), b('x')) })
  let reopened = await openStore(dir)
  let report = await reopened.verify()
  t.false(report.ok)
  t.is(report.firstDifference, `actor ${actor} key 0x${toHex(b('ghost'))}: has a state row but no trie leaf`)
  await reopened.close()
  await raw(dir, async sub => { await sub('state').del(rowKey(actor, b('ghost'))); await sub('state').del(rowKey(actor, b('a'))) })
  reopened = await openStore(dir)
  t.teardown(async () => { await reopened.close() })
  report = await reopened.verify()
  t.false(report.ok)
  t.is(report.firstDifference, `actor ${actor} key 0x${toHex(b('a'))}: in the trie index but its state row is missing`)
})

test('openStore undoes an import that crashed after its marker, leaving an empty store', async t => {
  const dir = await tempDir(t)
  await raw(dir, async sub => {
    await sub('meta').put(b('store/importing'), new Uint8Array(8))
    await sub('state').put(rowKey(actor, b('half')), b('imported'))
    await sub('nodes').put(new Uint8Array(32), new Uint8Array(65))
    await sub('staging').put(new Uint8Array(4), b('chunk'))
  })
  const store = await openStore(dir)
  t.teardown(async () => { await store.close() })
  t.is(BigInt(store.height), 0n)
  t.is(toHex(store.stateRoot), toHex(emptyRoot))
  t.is(await store.get(actor, b('half')), undefined)
  t.true((await store.verify()).ok)
  await commitWrites(store, [put('a', '1')])
  t.is(BigInt(store.height), 1n)
})

test('openStore makes the checkpoint a crash skipped at a checkpoint height, and drops chunks without a manifest', async t => {
  const dir = await tempDir(t)
  const store = await openStore(dir, { checkpointIntervalHeights: 0 })
  for (let i = 0; i < 4; i++) await commitWrites(store, [put(`k${i}`, 'v')])
  await store.close()
  await raw(dir, async sub => {
    const orphan = new Uint8Array(13)
    orphan[0] = 1
    orphan[8] = 2 // chunk row of height 2, whose manifest never landed
    await sub('checkpoints').put(orphan, b('partial chunk'))
  })
  const reopened = await openStore(dir, { checkpointIntervalHeights: 4 })
  t.teardown(async () => { await reopened.close() })
  t.deepEqual((await reopened.checkpoints()).map(m => m.height), [4n])
  t.is(await reopened.checkpointChunk(height(2), 0), undefined)
})

test('NodeCache never holds more than its bound and keeps recently used entries', async t => {
  const { NodeCache } = await import('../../../../node/store/_node-cache.ts')
  const cache = new NodeCache(100)
  for (let i = 0; i < 1000; i++) {
    cache.set(`k${i}`, Uint8Array.of(i & 0xff))
    cache.get('k0') // kept alive by use
    t.true(cache.size <= 100, `size ${cache.size} at ${i}`)
  }
  t.deepEqual(cache.get('k0'), Uint8Array.of(0))
  t.deepEqual(cache.get('k999'), Uint8Array.of(999 & 0xff))
  t.is(cache.get('k500'), undefined)
})

test('a certification survives a reopen, and a store of another on-disk format is refused by name', async t => {
  const dir = await tempDir(t)
  const store = await openStore(dir)
  await commitWrites(store, [put('a', '1')])
  await store.putCertification(height(1), b('cert-1'))
  await store.close()
  const again = await openStore(dir)
  t.deepEqual((await again.getHeight(height(1)))!.certification, b('cert-1'))
  await again.close()
  // Format 1 kept no format marker: a store with a head and no marker is from before.
  await raw(dir, async sub => { await sub('meta').del(b('store/format')) })
  await t.throwsAsync(openStore(dir), { instanceOf: StoreError, message: /on-disk format 1, this build reads format 3/ })
  await raw(dir, async sub => { await sub('meta').put(b('store/format'), Uint8Array.of(2)) })
  await t.throwsAsync(openStore(dir), { instanceOf: StoreError, message: /on-disk format 2, this build reads format 3/ })
})
