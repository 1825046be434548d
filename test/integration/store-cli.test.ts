// `pylon store verify|export|import` as an operator runs them: real processes on real LevelDB
// directories, in both layouts (daemon DATA_DIR/store and an exec state dir opened directly).
import test from 'ava'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { height, type ActorId } from '../../protocol/ids.ts'
import { toHex } from '../../protocol/state/merkle-trie.ts'
import { rowKey } from '../../protocol/state/state-key.ts'
import { openStore } from '../../node/store/level-store.ts'

const actor = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy.3' as ActorId
const te = new TextEncoder()
const main = join(import.meta.dirname, '..', '..', 'node', 'cli', 'main.ts')

function pylon (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise(resolve => {
    execFile(process.execPath, [main, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : (typeof error.code === 'number' ? error.code : 1), stdout, stderr })
    })
  })
}

async function makeStore (dir: string, heights: number): Promise<string> {
  const store = await openStore(dir)
  for (let h = 1; h <= heights; h++) {
    await store.commitHeight({ height: height(h), writes: Array.from({ length: 3000 }, (_, i) => ({ actor, key: te.encode(`k${h}-${i}`), value: new Uint8Array(200).fill(h) })), receipts: [] })
  }
  const root = toHex(store.stateRoot)
  await store.close()
  return root
}

test('pylon store: verify, export and import across layouts; corruption is named and refused', async t => {
  t.timeout(110_000)
  const base = await mkdtemp(join(tmpdir(), 'pylon-store-cli-'))
  t.teardown(async () => { await rm(base, { recursive: true, force: true }) })
  const dataDir = join(base, 'node-a')
  const root = await makeStore(join(dataDir, 'store'), 3) // daemon layout: DATA_DIR/store

  const verified = await pylon('store', 'verify', '--data-dir', dataDir, '--json')
  t.is(verified.code, 0, verified.stderr)
  const report = JSON.parse(verified.stdout)
  t.is(report.ok, true)
  t.is(report.recordedRoot, root)
  t.is(report.entries, 9000)

  const out = join(base, 'backup')
  const exported = await pylon('store', 'export', '--data-dir', dataDir, '--out', out, '--json')
  t.is(exported.code, 0, exported.stderr)
  const summary = JSON.parse(exported.stdout)
  t.is(summary.stateRoot, root)
  t.true(summary.chunks >= 2, `only ${summary.chunks} chunks`)

  // Import into an exec-style state dir (opened directly with --store-dir), then verify it.
  const execDir = join(base, 'exec-state')
  const imported = await pylon('store', 'import', '--store-dir', execDir, '--from', out)
  t.is(imported.code, 0, imported.stderr)
  t.regex(imported.stdout, new RegExp(`imported height 3: 9000 entries, ${summary.chunks} chunks checked`))
  const second = await pylon('store', 'verify', '--data-dir', execDir) // --data-dir finds a LevelDB dir itself
  t.is(second.code, 0, second.stderr)
  t.regex(second.stdout, new RegExp(`ok: height 3, 9000 entries, root ${root}`))

  // A corrupted chunk and a missing chunk are refused by name; the target store stays empty.
  const chunk1 = join(out, 'chunk-000001.cbor')
  const good = await readFile(chunk1)
  const bad = Buffer.from(good)
  bad[100]! ^= 0xff
  await writeFile(chunk1, bad)
  const corrupt = await pylon('store', 'import', '--data-dir', join(base, 'node-b'), '--from', out)
  t.is(corrupt.code, 1)
  t.regex(corrupt.stderr, new RegExp(`pylon: chunk 1 of ${summary.chunks} is corrupt: sha256 [0-9a-f]{64}, manifest says [0-9a-f]{64}`))
  await unlink(chunk1)
  const missing = await pylon('store', 'import', '--data-dir', join(base, 'node-b'), '--from', out, '--json')
  t.is(missing.code, 1)
  t.regex(JSON.parse(missing.stdout).error, new RegExp(`chunk 1 of ${summary.chunks} is missing: .*chunk-000001.cbor not found`))
  t.false(existsSync(join(base, 'node-b', 'store')), 'a refused import left a store behind')
  // Into an existing empty store: refused, and the store stays empty.
  await (await openStore(join(base, 'node-c', 'store'))).close()
  const refused = await pylon('store', 'import', '--data-dir', join(base, 'node-c'), '--from', out)
  t.is(refused.code, 1)
  const untouched = await openStore(join(base, 'node-c', 'store'), { createIfMissing: false })
  t.is(BigInt(untouched.height), 0n)
  t.deepEqual(await untouched.range(actor, { limit: 1 }), [])
  await untouched.close()

  // A value changed behind the store's back: verify exits non-zero and names the key.
  const db = new Level<Uint8Array, Uint8Array>(join(dataDir, 'store'), { keyEncoding: 'view', valueEncoding: 'view' })
  await db.sublevel<Uint8Array, Uint8Array>('state', { keyEncoding: 'view', valueEncoding: 'view' }).put(rowKey(actor, te.encode('k2-5')), te.encode('evil'))
  await db.close()
  const mismatch = await pylon('store', 'verify', '--data-dir', dataDir)
  t.is(mismatch.code, 1)
  t.regex(mismatch.stdout, /MISMATCH at height 3/)
  t.regex(mismatch.stdout, new RegExp(`first difference: actor ${actor.replace('.', '\\.')} key 0x${toHex(te.encode('k2-5'))}: recorded value hash`))

  const none = await pylon('store', 'verify', '--data-dir', join(base, 'nowhere'))
  t.is(none.code, 1)
  t.regex(none.stderr, /no store in .*nowhere/)
})
