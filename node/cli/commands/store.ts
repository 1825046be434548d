// `pylon store verify|info|prove|export|import`: operator commands on a node's store (daemon data dir or
// an exec state dir). They open the store exclusively, so they refuse a store a running node holds.
// They never change a store except `import`, which fills an empty one only after checking it all.

import type { Command } from 'commander'
import { constants } from 'node:fs'
import { existsSync } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { resolveDataDir } from '../../config/config.ts'
import { checkpointChunkBytesMax, checkpointManifestBytesMax } from '../../../protocol/limits.ts'
import { decodeManifest, encodeManifest, manifestCid, type CheckpointManifest } from '../../../protocol/state/checkpoint.ts'
import { toHex } from '../../../protocol/state/merkle-trie.ts'
import { encodeStateProof, verifyStateProof } from '../../../protocol/state/state-proof.ts'
import { parseActorId } from '../../../protocol/ids.ts'
import { PylonError } from '../../core/errors.ts'
import { openStore } from '../../store/level-store.ts'
import { isLevelDbDir, resolveStoreDir, storeDirIn, subnetStoreDirIn } from '../../store/store-dir.ts'
import type { Store } from '../../store/store.ts'
import { CliError, emit } from '../output.ts'

interface StoreFlags { dataDir?: string, storeDir?: string, subnet?: string, json?: boolean }

const manifestFile = 'manifest.cbor'
const chunkFile = (index: number): string => `chunk-${String(index).padStart(6, '0')}.cbor`

export function register (program: Command): void {
  const group = program.command('store').description('check, back up and restore a node\'s state (LevelDB store)')
  const common = (command: Command): Command => command
    .option('--data-dir <dir>', 'data directory (its store/ subfolder), or an exec --state-dir (default: $PYLON_DATA_DIR or ~/.pylon)')
    .option('--store-dir <dir>', 'the LevelDB directory itself (overrides --data-dir)')
    .option('--subnet <id>', 'the store of this subnet in --data-dir (DATA_DIR/subnets/ID/store); default: the only one')
    .option('--json', 'print JSON')

  common(group.command('verify').description('recompute the state root from the stored entries and compare it with the recorded root'))
    .action(async (flags: StoreFlags) => {
      await withStore(existingStoreDir(flags), async store => {
        const report = await store.verify()
        const value = { ...report, recordedRoot: toHex(report.recordedRoot), computedRoot: toHex(report.computedRoot) }
        emit(flags.json, value, () => report.ok
          ? `ok: height ${report.height}, ${report.entries} entries, root ${value.recordedRoot}`
          : `MISMATCH at height ${report.height}\nrecorded root  ${value.recordedRoot}\ncomputed root  ${value.computedRoot}\nfirst difference: ${report.firstDifference}`)
        if (!report.ok) process.exitCode = 1
      })
    })

  common(group.command('info').description('print the store\'s height, state root and checkpoints'))
    .action(async (flags: StoreFlags) => {
      const dir = existingStoreDir(flags)
      await withStore(dir, async store => {
        const checkpoints = (await store.checkpoints()).map(m => ({ height: m.height, stateRoot: toHex(m.stateRoot), chunks: m.chunks.length, manifest: manifestCid(m).toString() }))
        const value = { storeDir: dir, height: store.height, stateRoot: toHex(store.stateRoot), checkpoints }
        emit(flags.json, value, () => [`store       ${dir}`, `height      ${value.height}`, `state root  ${value.stateRoot}`,
          ...checkpoints.map(c => `checkpoint  height ${c.height}, ${c.chunks} chunks, manifest ${c.manifest}`)].join('\n'))
      })
    })

  common(group.command('prove').description('print a Merkle proof of one key (present or absent) against the current state root, checked'))
    .requiredOption('--actor <id>', 'actor id')
    .requiredOption('--key <key>', 'storage key: text, or hex with a 0x prefix')
    .action(async (flags: StoreFlags & { actor: string, key: string }) => {
      const actor = parseActorId(flags.actor)
      if (!actor.ok) throw new CliError(actor.error)
      const key = flags.key.startsWith('0x') ? parseHex(flags.key.slice(2)) : new TextEncoder().encode(flags.key)
      await withStore(existingStoreDir(flags), async store => {
        const proof = await store.prove(actor.value, key)
        const checked = verifyStateProof(store.stateRoot, actor.value, key, proof)
        if (!checked.ok) throw new CliError(`the store produced a proof that does not verify: ${checked.error}; run pylon store verify`, 'store/corrupt')
        const encoded = encodeStateProof(proof)
        const value = { height: store.height, stateRoot: toHex(store.stateRoot), present: proof.value !== null, value: proof.value, steps: proof.steps.length, proofBytes: encoded.length, proof: encoded }
        emit(flags.json, value, () => `${value.present ? 'present' : 'absent'} at height ${value.height}, root ${value.stateRoot}\n` +
          (proof.value === null ? '' : `value 0x${toHex(proof.value)}\n`) + `proof ${value.proofBytes} bytes, ${value.steps} steps, verified: 0x${toHex(encoded)}`)
      })
    })

  common(group.command('export').description('write a checkpoint of the current height to a directory (backup, or seed for another node)'))
    .requiredOption('--out <dir>', 'directory to write manifest.cbor and chunk-NNNNNN.cbor into (created; must be empty)')
    .action(async (flags: StoreFlags & { out: string }) => {
      const out = resolve(flags.out)
      await ensureEmptyDir(out)
      await withStore(existingStoreDir(flags), async store => {
        const started = performance.now()
        const manifest = await store.checkpoint()
        let bytes = 0
        for (let i = 0; i < manifest.chunks.length; i++) {
          const chunk = await store.checkpointChunk(manifest.height, i)
          if (chunk === undefined) throw new CliError(`checkpoint of height ${manifest.height} lost chunk ${i}; run pylon store verify`, 'store/corrupt')
          await writeFileDurably(join(out, chunkFile(i)), chunk)
          bytes += chunk.length
        }
        await writeFileDurably(join(out, manifestFile), encodeManifest(manifest)) // last: no manifest, no export
        await syncDir(out)
        const value = summary(manifest, bytes, out, performance.now() - started)
        emit(flags.json, value, () => `exported height ${value.height}: ${value.entries} entries in ${value.chunks} chunks, ${mb(bytes)} MB to ${out}\nstate root ${value.stateRoot}\nmanifest   ${value.manifest}`)
      })
    })

  common(group.command('import').description('fill an EMPTY store from an exported checkpoint, checking every chunk and the root first'))
    .requiredOption('--from <dir>', 'directory written by `pylon store export`')
    .option('--expect-root <hex>', 'refuse unless the manifest\'s state root is this (e.g. a certified root)')
    .action(async (flags: StoreFlags & { from: string, expectRoot?: string }) => {
      const from = resolve(flags.from)
      const manifest = await readManifest(from)
      if (flags.expectRoot !== undefined && flags.expectRoot.toLowerCase() !== toHex(manifest.stateRoot)) {
        throw new CliError(`manifest state root ${toHex(manifest.stateRoot)} is not the expected ${flags.expectRoot}`, 'checkpoint/root')
      }
      const dir = importStoreDir(flags)
      const existed = existsSync(dir)
      await withStore(dir, async store => {
        const started = performance.now()
        let bytes = 0
        await store.importCheckpoint(manifest, {
          async chunk (index) {
            const chunk = await readBounded(join(from, chunkFile(index)), checkpointChunkBytesMax)
            bytes += chunk.length
            return chunk
          }
        })
        const value = { ...summary(manifest, bytes, from, performance.now() - started), storeDir: dir }
        emit(flags.json, value, () => `imported height ${value.height}: ${value.entries} entries, ${value.chunks} chunks checked, into ${dir}\nstate root ${value.stateRoot}\nmanifest   ${value.manifest}`)
      }).catch(async (error: unknown) => {
        // A refused import leaves no trace: not even the empty store it had to open to stage in.
        if (!existed) await rm(dir, { recursive: true, force: true })
        throw error
      })
    })
}

function parseHex (hex: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new CliError(`key is not hex: 0x${hex.slice(0, 32)}`)
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

function summary (manifest: CheckpointManifest, bytes: number, dir: string, elapsedMs: number): Record<string, unknown> & { height: bigint, entries: number, chunks: number, stateRoot: string, manifest: string } {
  return { dir, height: manifest.height, entries: manifest.entries, chunks: manifest.chunks.length, bytes, stateRoot: toHex(manifest.stateRoot), manifest: manifestCid(manifest).toString(), elapsedMs: Math.round(elapsedMs) }
}

function mb (bytes: number): string {
  return (bytes / 1e6).toFixed(2)
}

function existingStoreDir (flags: StoreFlags): string {
  if (flags.storeDir !== undefined) {
    const dir = resolve(flags.storeDir)
    if (!isLevelDbDir(dir)) throw new CliError(`no store in ${dir} (no LevelDB CURRENT file)`, 'store/missing')
    return dir
  }
  const found = resolveStoreDir(resolveDataDir(flags.dataDir), flags.subnet)
  if (!found.ok) throw new CliError(found.error, 'store/missing')
  return found.value
}

/** Import may create the store: --store-dir as given, an existing store, else DATA_DIR/store. */
function importStoreDir (flags: StoreFlags): string {
  if (flags.storeDir !== undefined) return resolve(flags.storeDir)
  const dataDir = resolveDataDir(flags.dataDir)
  if (flags.subnet !== undefined) return subnetStoreDirIn(dataDir, flags.subnet)
  const found = resolveStoreDir(dataDir)
  return found.ok ? found.value : storeDirIn(dataDir)
}

async function withStore (dir: string, work: (store: Store) => Promise<void>): Promise<void> {
  const store = await openStore(dir).catch((error: unknown) => {
    throw error instanceof PylonError ? new CliError(error.message, error.code) : error
  })
  try {
    await work(store)
  } catch (error) {
    throw error instanceof PylonError && !(error instanceof CliError) ? new CliError(error.message, error.code) : error
  } finally {
    await store.close()
  }
}

async function readManifest (from: string): Promise<CheckpointManifest> {
  const bytes = await readBounded(join(from, manifestFile), checkpointManifestBytesMax)
  const manifest = decodeManifest(bytes)
  if (!manifest.ok) throw new CliError(`${join(from, manifestFile)}: ${manifest.error}`, 'checkpoint/manifest')
  return manifest.value
}

/** Reads a file only if it is within `bytesMax`: a hostile export cannot make us load a huge file. */
async function readBounded (path: string, bytesMax: number): Promise<Uint8Array> {
  let size: number
  try {
    size = (await stat(path)).size
  } catch {
    throw new Error(`${path} not found`)
  }
  if (size > bytesMax) throw new Error(`${path} too large: ${size} > ${bytesMax} bytes`)
  return new Uint8Array(await readFile(path))
}

async function ensureEmptyDir (dir: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  const present = await readdir(dir)
  if (present.length > 0) throw new CliError(`export directory ${dir} is not empty (${present.length} entries); choose a new one`, 'usage')
}

/** tmp file → fsync → rename: a crash leaves either no file or the whole file. */
async function writeFileDurably (path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`
  const handle = await open(tmp, constants.O_CREAT | constants.O_WRONLY | constants.O_TRUNC, 0o644)
  try {
    await handle.writeFile(bytes)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(tmp, path)
}

async function syncDir (dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY)
  try { await handle.sync() } finally { await handle.close() }
}
