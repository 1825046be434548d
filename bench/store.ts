// Store benchmark (`npm run bench -- store [--quick]`): synced heights per second at 1, 100 and
// 1,000 writes per height; WAL append and certification latency while heights commit; root update
// cost per write at 1k, 100k and 1M keys beside log2 n; proof size; checkpoint export and import
// MB/s. Real LevelDB in a temp dir; removed afterwards.

import { sha256 } from '../protocol/state/sha256.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { actorIdOf, height, type SubnetId } from '../protocol/ids.ts'
import { encodeChunk, type CheckpointManifest, type StateEntry } from '../protocol/state/checkpoint.ts'
import { checkpointChunkBytesTarget, storeNodeCacheEntriesMax } from '../protocol/limits.ts'
import { encodeStateProof } from '../protocol/state/state-proof.ts'
import { compareBytes, rowKey } from '../protocol/state/state-key.ts'
import { TrieBuilder } from '../protocol/state/trie-builder.ts'
import { TrieUpdate } from '../protocol/state/merkle-trie.ts'
import { openStore } from '../node/store/level-store.ts'
import type { StateWrite, Store } from '../node/store/store.ts'

const actor = actorIdOf('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' as SubnetId, 1n)
const te = new TextEncoder()
const valueBytes = 64
const keyOf = (i: number): Uint8Array => te.encode(`key-${i}`)
const valueOf = (i: number, round: number): Uint8Array => new Uint8Array(valueBytes).fill((i + round) & 0xff)

async function tempStore (dirs: string[]): Promise<Store> {
  const dir = await mkdtemp(join(tmpdir(), 'pylon-bench-store-'))
  dirs.push(dir)
  return await openStore(dir, { checkpointIntervalHeights: 0 })
}

async function commit (store: Store, writes: StateWrite[]): Promise<void> {
  await store.commitHeight({ height: height(BigInt(store.height) + 1n), writes, receipts: [] })
}

/** n entries as a checkpoint (chunks in trie-path order), built in memory: the bulk loader. */
function syntheticCheckpoint (n: number): { manifest: CheckpointManifest, chunks: Uint8Array[] } {
  const order = Array.from({ length: n }, (_, i) => ({ i, path: sha256(rowKey(actor, keyOf(i))) }))
  order.sort((a, b) => compareBytes(a.path, b.path))
  const builder = new TrieBuilder()
  const chunks: Uint8Array[] = []
  let entries: StateEntry[] = []
  let size = 0
  for (const { i, path } of order) {
    const value = valueOf(i, 0)
    builder.add(path, sha256(value))
    entries.push({ actor, key: keyOf(i), value })
    size += actor.length + 16 + valueBytes + 16
    if (size >= checkpointChunkBytesTarget) { chunks.push(encodeChunk({ kind: 'state', entries })); entries = []; size = 0 }
  }
  if (entries.length > 0) chunks.push(encodeChunk({ kind: 'state', entries }))
  const manifest = { height: height(1), stateRoot: builder.finish(), entries: n, chunks: chunks.map(c => ({ hash: sha256(c), bytes: c.length })) }
  return { manifest, chunks }
}

async function heightsPerSecond (dirs: string[]): Promise<void> {
  process.stdout.write('\nsynced heights (one LevelDB batch with sync: true each), on a 10k-key state\n')
  process.stdout.write('writes/height   heights/s   writes/s    ms/height\n')
  const store = await tempStore(dirs)
  for (let i = 0; i < 10; i++) await commit(store, Array.from({ length: 1000 }, (_, j) => ({ actor, key: keyOf(i * 1000 + j), value: valueOf(j, 0) })))
  for (const [perHeight, heights] of [[1, 200], [100, 100], [1000, 30]] as const) {
    const started = performance.now()
    for (let h = 0; h < heights; h++) {
      await commit(store, Array.from({ length: perHeight }, (_, j) => { const k = (h * 7919 + j * 104729) % 10_000; return { actor, key: keyOf(k), value: valueOf(k, h + 1) } }))
    }
    const seconds = (performance.now() - started) / 1000
    process.stdout.write(`${String(perHeight).padStart(13)}   ${(heights / seconds).toFixed(0).padStart(9)}   ${(heights * perHeight / seconds).toFixed(0).padStart(8)}   ${(seconds * 1000 / heights).toFixed(2).padStart(10)}\n`)
  }
  await store.close()
}

const percentile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0

/**
 * What consensus sees of the store while execution commits: synced WAL appends (votes) issued one
 * after another, and the certification of each height written as the next one commits, with and
 * without heights of 1,000 writes committing back to back on a 10k-key state (with a block of 200 KB).
 */
async function walDuringCommits (dirs: string[]): Promise<void> {
  process.stdout.write('\nconsensus writes while heights of 1,000 writes commit (synced; ms)\n')
  process.stdout.write('                      WAL appends   p50     p99     max      certifications   p50     p99\n')
  const store = await tempStore(dirs)
  for (let i = 0; i < 10; i++) await commit(store, Array.from({ length: 1000 }, (_, j) => ({ actor, key: keyOf(i * 1000 + j), value: valueOf(j, 0) })))
  const block = new Uint8Array(200_000).fill(7)
  const measure = async (heights: number): Promise<void> => {
    let done = heights === 0
    const appends: number[] = []
    const certifications: number[] = []
    const appender = (async () => {
      for (let i = 0; i < 400 && (!done || i < 50); i++) {
        const started = performance.now()
        await store.walAppend(valueOf(i, 0))
        appends.push(performance.now() - started)
      }
    })()
    const pending: Array<Promise<void>> = []
    for (let h = 0; h < heights; h++) {
      const next = BigInt(store.height) + 1n
      const committed = store.commitHeight({ height: height(next), block, writes: Array.from({ length: 1000 }, (_, j) => { const k = (h * 7919 + j * 104729) % 10_000; return { actor, key: keyOf(k), value: valueOf(k, h + 1) } }), receipts: [] })
      if (next > 1n) {
        const started = performance.now()
        pending.push(store.putCertification(height(next - 1n), new Uint8Array(2_000).fill(1)).then(() => { certifications.push(performance.now() - started) }))
      }
      await committed
    }
    await Promise.all(pending)
    done = true
    await appender
    await store.walTruncate(BigInt(Number.MAX_SAFE_INTEGER))
    const label = heights === 0 ? 'alone' : `beside ${heights} heights`
    const f = (ms: number): string => ms.toFixed(2).padStart(6)
    process.stdout.write(`${label.padEnd(20)}  ${String(appends.length).padStart(11)}  ${f(percentile(appends, 0.5))}  ${f(percentile(appends, 0.99))}  ${f(Math.max(...appends))}   ${String(certifications.length).padStart(14)}  ${certifications.length === 0 ? '     -       -' : `${f(percentile(certifications, 0.5))}  ${f(percentile(certifications, 0.99))}`}\n`)
  }
  await measure(0)
  await measure(20)
  await store.close()
}

async function atSize (n: number, dirs: string[]): Promise<{ n: number, usPerWrite: number, proofBytes: number, proofSteps: number, importMBps: number, exportMBps: number, importKeysPerSec: number, exportKeysPerSec: number }> {
  const { manifest, chunks } = syntheticCheckpoint(n)
  const totalBytes = chunks.reduce((s, c) => s + c.length, 0)
  const store = await tempStore(dirs)
  let started = performance.now()
  await store.importCheckpoint(manifest, { chunk: async i => chunks[i]! })
  const importSeconds = (performance.now() - started) / 1000
  const importMBps = totalBytes / 1e6 / importSeconds
  // Root update cost: heights of 1,000 overwrites of random existing keys (trie rewrite + batch).
  const heights = 20
  let round = 1
  let state = 12345
  const next = (): number => { state = (state * 1103515245 + 12345) & 0x7fffffff; return state % n }
  await commit(store, Array.from({ length: 1000 }, () => { const k = next(); return { actor, key: keyOf(k), value: valueOf(k, round) } })) // warm the node cache
  started = performance.now()
  for (let h = 0; h < heights; h++) {
    round++
    await commit(store, Array.from({ length: 1000 }, () => { const k = next(); return { actor, key: keyOf(k), value: valueOf(k, round) } }))
  }
  const usPerWrite = (performance.now() - started) * 1000 / (heights * 1000)
  let proofBytes = 0
  let proofSteps = 0
  for (let i = 0; i < 100; i++) {
    const proof = await store.prove(actor, keyOf(next()))
    proofBytes += encodeStateProof(proof).length
    proofSteps += proof.steps.length
  }
  started = performance.now()
  const exported = await store.checkpoint()
  const exportSeconds = (performance.now() - started) / 1000
  const exportMBps = exported.chunks.reduce((s, c) => s + c.bytes, 0) / 1e6 / exportSeconds
  await store.close()
  return { n, usPerWrite, proofBytes: proofBytes / 100, proofSteps: proofSteps / 100, importMBps, exportMBps, importKeysPerSec: n / importSeconds, exportKeysPerSec: n / exportSeconds }
}

/**
 * The trie alone (nodes in a Map, no I/O): the algorithmic cost of a root update at n keys.
 * Batches of one write rewrite the whole path (≈ log2 n nodes); batches of 1,000 share the upper
 * levels, so they hash ≈ log2(n / 1000) + 1 nodes per write.
 */
async function trieOnly (n: number, batchWrites: number, writes: number): Promise<{ usPerWrite: number, hashedPerWrite: number }> {
  const nodes = new Map<string, Uint8Array>()
  const key = (hash: Uint8Array): string => Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString('latin1')
  const order = Array.from({ length: n }, (_, i) => sha256(rowKey(actor, keyOf(i))))
  order.sort(compareBytes)
  const builder = new TrieBuilder((hash, bytes) => { nodes.set(key(hash), bytes) })
  for (const path of order) builder.add(path, sha256(valueOf(0, 0)))
  let root = builder.finish()
  const source = { getNode: (hash: Uint8Array) => nodes.get(key(hash)) }
  let state = 777
  const next = (): number => { state = (state * 1103515245 + 12345) & 0x7fffffff; return state % n }
  // Paths and values are made before the clock starts: only the trie's own work is timed.
  const work = Array.from({ length: writes }, (_, w) => { const k = next(); return { path: sha256(rowKey(actor, keyOf(k))), valueHash: sha256(valueOf(k, w + 1)) } })
  let hashed = 0
  // CPU time, not wall time: this part never waits, and the bench box is shared (2 cores, busy).
  const started = process.cpuUsage()
  for (let b = 0; b < writes; b += batchWrites) {
    const update = new TrieUpdate(source, root)
    for (let w = b; w < b + batchWrites; w++) await update.set(work[w]!.path, work[w]!.valueHash)
    for (const hash of update.deleted) nodes.delete(key(hash))
    for (const node of update.created) { nodes.set(key(node.hash), node.bytes); hashed++ }
    root = update.root
  }
  const used = process.cpuUsage(started)
  return { usPerWrite: (used.user + used.system) / writes, hashedPerWrite: hashed / writes }
}

export default async function (args: string[]): Promise<void> {
  // --quick skips the 1M-key case; --sizes=N,N,… picks the state sizes.
  const sizesArg = args.find(a => a.startsWith('--sizes='))
  const sizes = sizesArg !== undefined ? sizesArg.slice(8).split(',').map(Number) : args.includes('--quick') ? [1_000, 10_000, 100_000] : [1_000, 100_000, 1_000_000]
  const dirs: string[] = []
  try {
    await heightsPerSecond(dirs)
    await walDuringCommits(dirs)
    process.stdout.write('\nroot update cost of the trie alone (nodes in memory, no I/O; CPU µs)\n')
    process.stdout.write('keys        log2 n   1 write/batch: µs/write  nodes hashed  hashed ÷ log2 n  µs ÷ log2 n   1,000 writes/batch: µs/write  nodes hashed\n')
    for (const n of sizes) {
      const single = await trieOnly(n, 1, 5_000)
      const batched = await trieOnly(n, 1000, 20_000)
      const log2 = Math.log2(n)
      process.stdout.write(`${String(n).padEnd(10)}  ${log2.toFixed(1).padStart(6)}   ${single.usPerWrite.toFixed(1).padStart(21)}  ${single.hashedPerWrite.toFixed(1).padStart(12)}  ${(single.hashedPerWrite / log2).toFixed(2).padStart(15)}  ${(single.usPerWrite / log2).toFixed(2).padStart(11)}   ${batched.usPerWrite.toFixed(1).padStart(28)}  ${batched.hashedPerWrite.toFixed(1).padStart(12)}\n`)
    }
    process.stdout.write(`\nthe same through the LevelDB store (heights of 1,000 overwrites, synced), proofs, checkpoints (${valueBytes}-byte values)\n`)
    process.stdout.write('keys        µs/write   log2 n   µs/write ÷ log2 n   proof bytes   proof steps   import MB/s (keys/s)   export MB/s (keys/s)\n')
    for (const n of sizes) {
      const r = await atSize(n, dirs)
      const log2 = Math.log2(n)
      process.stdout.write(`${String(n).padEnd(10)}  ${r.usPerWrite.toFixed(1).padStart(8)}   ${log2.toFixed(1).padStart(6)}   ${(r.usPerWrite / log2).toFixed(2).padStart(17)}   ${r.proofBytes.toFixed(0).padStart(11)}   ${r.proofSteps.toFixed(1).padStart(11)}   ${r.importMBps.toFixed(1).padStart(11)} (${(r.importKeysPerSec / 1000).toFixed(0)}k)   ${r.exportMBps.toFixed(1).padStart(11)} (${(r.exportKeysPerSec / 1000).toFixed(0)}k)\n`)
    }
    process.stdout.write('\nA flat "hashed ÷ log2 n" column means the work per update grows with log n, not n; time per node\n' +
      'still rises somewhat with n (a larger heap misses CPU caches more). Through the store,\n' +
      `nodes past the cache (${storeNodeCacheEntriesMax} nodes) are LevelDB reads, so the larger states also pay disk reads per write.\n`)
  } finally {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true })
  }
}
