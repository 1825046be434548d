// `pylon store verify|export|import` as an operator runs them: real processes on real LevelDB
// directories, in both layouts (daemon DATA_DIR/store and an exec state dir opened directly).
import test, { type ExecutionContext } from 'ava'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { height, type ActorId } from '../../protocol/ids.ts'
import { toHex } from '../../protocol/state/merkle-trie.ts'
import { rowKey } from '../../protocol/state/state-key.ts'
import { decodeStateProof, verifyStateProof } from '../../protocol/state/state-proof.ts'
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

async function tempBase (t: ExecutionContext): Promise<string> {
  const base = await mkdtemp(join(tmpdir(), 'pylon-store-cli-'))
  t.teardown(async () => { await rm(base, { recursive: true, force: true }) })
  return base
}

/** A daemon-layout data dir with 3 heights, exported to base/backup by the CLI. */
async function exported (t: ExecutionContext, base: string): Promise<{ dataDir: string, root: string, out: string, chunks: number }> {
  const dataDir = join(base, 'node-a')
  const root = await makeStore(join(dataDir, 'store'), 3)
  const out = join(base, 'backup')
  const result = await pylon('store', 'export', '--data-dir', dataDir, '--out', out, '--json')
  t.is(result.code, 0, result.stderr)
  const summary = JSON.parse(result.stdout)
  t.is(summary.stateRoot, root)
  t.true(summary.chunks >= 2, `only ${summary.chunks} chunks`)
  return { dataDir, root, out, chunks: summary.chunks }
}

test('pylon store verify, export, import and prove across the daemon and exec layouts', async t => {
  t.timeout(240_000)
  const base = await tempBase(t)
  const { dataDir, root, out, chunks } = await exported(t, base)
  const verified = await pylon('store', 'verify', '--data-dir', dataDir, '--json')
  t.is(verified.code, 0, verified.stderr)
  const report = JSON.parse(verified.stdout)
  t.is(report.ok, true)
  t.is(report.recordedRoot, root)
  t.is(report.entries, 9000)

  // Import into an exec-style state dir (opened directly with --store-dir), then verify it.
  const execDir = join(base, 'exec-state')
  const imported = await pylon('store', 'import', '--store-dir', execDir, '--from', out)
  t.is(imported.code, 0, imported.stderr)
  t.regex(imported.stdout, new RegExp(`imported height 3: 9000 entries, ${chunks} chunks checked`))
  const second = await pylon('store', 'verify', '--data-dir', execDir) // --data-dir finds a LevelDB dir itself
  t.is(second.code, 0, second.stderr)
  t.regex(second.stdout, new RegExp(`ok: height 3, 9000 entries, root ${root}`))

  // A proof from the operator command verifies with the root alone.
  const proved = await pylon('store', 'prove', '--data-dir', dataDir, '--actor', actor, '--key', 'k2-5', '--json')
  t.is(proved.code, 0, proved.stderr)
  const decoded = decodeStateProof(new Uint8Array(Buffer.from(JSON.parse(proved.stdout).proof, 'hex')))
  t.true(decoded.ok)
  if (decoded.ok) t.deepEqual(verifyStateProof(Buffer.from(root, 'hex'), actor, te.encode('k2-5'), decoded.value), { ok: true, value: new Uint8Array(200).fill(2) })
})

test('pylon store import refuses a corrupted or missing chunk by name and leaves the target as it was', async t => {
  t.timeout(240_000)
  const base = await tempBase(t)
  const { out, chunks } = await exported(t, base)
  const chunk1 = join(out, 'chunk-000001.cbor')
  const bad = Buffer.from(await readFile(chunk1))
  bad[100]! ^= 0xff
  await writeFile(chunk1, bad)
  const corrupt = await pylon('store', 'import', '--data-dir', join(base, 'node-b'), '--from', out)
  t.is(corrupt.code, 1)
  t.regex(corrupt.stderr, new RegExp(`pylon: chunk 1 of ${chunks} is corrupt: sha256 [0-9a-f]{64}, manifest says [0-9a-f]{64}`))
  t.false(existsSync(join(base, 'node-b', 'store')), 'a refused import left a store behind')
  // Into an existing empty store, with the chunk now missing: refused, and the store stays empty.
  await unlink(chunk1)
  await (await openStore(join(base, 'node-c', 'store'))).close()
  const missing = await pylon('store', 'import', '--data-dir', join(base, 'node-c'), '--from', out, '--json')
  t.is(missing.code, 1)
  t.regex(JSON.parse(missing.stdout).error, new RegExp(`chunk 1 of ${chunks} is missing: .*chunk-000001.cbor not found`))
  const untouched = await openStore(join(base, 'node-c', 'store'), { createIfMissing: false })
  t.is(BigInt(untouched.height), 0n)
  t.deepEqual(await untouched.range(actor, { limit: 1 }), [])
  await untouched.close()
})

test('pylon store verify names a value changed behind the store\'s back; prove refuses it too', async t => {
  t.timeout(240_000)
  const base = await tempBase(t)
  const dataDir = join(base, 'node-a')
  await makeStore(join(dataDir, 'store'), 2)
  const db = new Level<Uint8Array, Uint8Array>(join(dataDir, 'store'), { keyEncoding: 'view', valueEncoding: 'view' })
  await db.sublevel<Uint8Array, Uint8Array>('state', { keyEncoding: 'view', valueEncoding: 'view' }).put(rowKey(actor, te.encode('k2-5')), te.encode('evil'))
  await db.close()
  const mismatch = await pylon('store', 'verify', '--data-dir', dataDir)
  t.is(mismatch.code, 1)
  t.regex(mismatch.stdout, /MISMATCH at height 2/)
  t.regex(mismatch.stdout, new RegExp(`first difference: actor ${actor.replace('.', '\\.')} key 0x${toHex(te.encode('k2-5'))}: recorded value hash`))
  const refusedProof = await pylon('store', 'prove', '--data-dir', dataDir, '--actor', actor, '--key', 'k2-5')
  t.is(refusedProof.code, 1)
  t.regex(refusedProof.stderr, /disagrees with its trie leaf; run pylon store verify/)
  const none = await pylon('store', 'verify', '--data-dir', join(base, 'nowhere'))
  t.is(none.code, 1)
  t.regex(none.stderr, /no store in .*nowhere/)
})
