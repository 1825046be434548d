import test from 'ava'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { resolveStoreDir, subnetStoreDirIn, subnetStoresIn } from '../../../../node/store/store-dir.ts'
import { tempDir } from './_harness.ts'

/** A directory that looks like a LevelDB store (its CURRENT file), without opening LevelDB. */
async function fakeStore (dir: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'CURRENT'), 'MANIFEST-000001\n')
}

test('--data-dir picks the only subnet store, asks for --subnet among several, and names what it looked for', async t => {
  const { dir, remove } = await tempDir()
  t.teardown(remove)
  const none = resolveStoreDir(dir)
  t.false(none.ok)
  if (!none.ok) t.regex(none.error, /^no store in .*\/subnets\/\*\/store\)$/)
  await fakeStore(subnetStoreDirIn(dir, 'bafyA'))
  t.deepEqual(resolveStoreDir(dir), { ok: true, value: subnetStoreDirIn(dir, 'bafyA') })
  await fakeStore(subnetStoreDirIn(dir, 'bafyB'))
  t.deepEqual(subnetStoresIn(dir), ['bafyA', 'bafyB'])
  const several = resolveStoreDir(dir)
  t.false(several.ok)
  if (!several.ok) t.is(several.error, `${dir} holds 2 subnet stores; pick one with --subnet: bafyA, bafyB`)
  t.deepEqual(resolveStoreDir(dir, 'bafyB'), { ok: true, value: subnetStoreDirIn(dir, 'bafyB') })
  const missing = resolveStoreDir(dir, 'bafyC')
  t.false(missing.ok)
  if (!missing.ok) t.regex(missing.error, /no store for subnet bafyC .* subnets with a store here: bafyA, bafyB$/)
  // The daemon's own store still wins when there is no --subnet.
  await fakeStore(join(dir, 'store'))
  t.deepEqual(resolveStoreDir(dir), { ok: true, value: join(dir, 'store') })
})
