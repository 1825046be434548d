// The one Store implementation, over an ordered key-value space (LevelDB or memory). It owns the
// row layout, atomic heights, the trie's persistence, checkpoints and recovery on open. It never
// interprets blocks, certificates or receipts: those are bytes that consensus and the runtime own.
//
// Layout (space → key → value), format 3 (meta "store/format"):
//   meta         "store/height" → u64 BE, "store/root" → 32 B, "store/importing" → marker, "store/format" → u8;
//                other names: metaPut
//   blocks       u64 height → dag-cbor [2, stateRoot, receiptsRoot, receiptCount, block, certificate]
//   certs        u64 height → certification bytes (written after the height, on its own: see putCertification)
//   receipts     u64 height ‖ u32 first index → (u32 BE length ‖ receipt)*   (one row per ~storeReceiptPageBytes)
//   state        row key (u8 len ‖ actor ‖ key) → value            (get/range read here)
//   leaves       trie path (sha256 of row key) → row key            (path-ordered walk for checkpoints/verify)
//   nodes        node hash → node bytes (merkle-trie.ts)           (only the latest root's trie is kept)
//   code         CID string (utf-8) → bytes
//   wal          u64 seq → record                                   (its own LevelDB in dir/wal: _level-kv.ts)
//   checkpoints  0x00 ‖ u64 height → manifest; 0x01 ‖ u64 height ‖ u32 index → chunk
//   staging      u32 index → chunk bytes of an import being verified
//   evidence     u64 view ‖ u16 signer ‖ u8 first kind ‖ u8 second kind → evidence record (protocol/consensus/evidence.ts);
//                kinds 0 notarize, 1 nullify, 2 finalize; at most evidenceStoredMax rows, the lowest views dropped first.
//                Added within format 3: a store written before it has no rows there (no evidence), and
//                an older build never reads the space, so neither needs a format bump or a migration.
//
// Ordering: four independent chains. Commits, checkpoints, imports, proofs and verify run one at a
// time on the commit chain; the WAL (its own space, seq counters and database) on the WAL chain, so
// a vote's fsync waits neither for a height's trie work nor for its batch; certifications on their
// own chain, which an import's install also holds (it replaces the certs space); evidence on its
// own chain (its duplicate check, count and drop of the oldest read and write together). Evidence is
// node-local like the WAL: a replacing import (state sync) keeps it.
//
// Caching: committed rows read by get, small actors read whole (actorEntries) and ranges read with
// readAheadUntil are kept in memory (_state-cache.ts); each commit updates them once its batch
// lands, a failed commit and an import empty them, and a read that overlapped a commit is not kept.

import { sha256 } from '../../protocol/state/sha256.ts'
import { createHash } from 'node:crypto'
import { CID, encode, decode } from '../../protocol/codec.ts'
import { height as toHeight, type ActorId, type Height } from '../../protocol/ids.ts'
import {
  checkpointChunkBytesTarget, checkpointIntervalHeights, checkpointsRetained, codecBytesMax, consensusMembersMax, evidenceBytesMax, evidenceStoredMax,
  receiptBytesMax, receiptsPerHeightMax,
  stateRangeEntriesMax, stateValueBytesMax, stateWritesPerHeightMax, storeCodeBytesMax, storeMetaBytesMax, storeMetaNameCharsMax, storeNodeCacheEntriesMax,
  storeRangeReadAheadRows, storeReadPageRows, storeReceiptPageBytes, storeTrieKeptLevels, storeWriteBatchOps,
  walRecordBytesMax, walRecordsMax
} from '../../protocol/limits.ts'
import { decodeChunk, encodeChunk, encodeManifest, decodeManifest, type CheckpointChunk, type CheckpointManifest, type StateEntry } from '../../protocol/state/checkpoint.ts'
import { decodeNode, emptyRoot, TrieUpdate, toHex, type TrieNodeSource } from '../../protocol/state/merkle-trie.ts'
import { emptyReceiptsRoot, proveReceipt, receiptsRoot, type ReceiptProof } from '../../protocol/state/receipts-root.ts'
import { provePath, type StateProof } from '../../protocol/state/state-proof.ts'
import { actorPrefix, bytesEqual, checkKey, compareBytes, parseRowKey, rowKey } from '../../protocol/state/state-key.ts'
import type { VoteKind } from '../../protocol/consensus/messages.ts'
import { TrieBuilder } from '../../protocol/state/trie-builder.ts'
import { assert } from '../core/assert.ts'
import { silentLogger, type Logger } from '../core/logger.ts'
import type { KvOp, OrderedKv } from './_kv.ts'
import { NodeCache } from './_node-cache.ts'
import { StateCache } from './_state-cache.ts'
import {
  CheckpointError, StoreError, type ChunkSource, type CommitOptions, type CommitResult, type EvidenceKey, type HeightCommit, type HeightRecord, type ImportOptions, type RangeOptions,
  type Store, type StoredEvidence, type VerifyReport, type WalEntry
} from './store.ts'

export interface StoreInit {
  /** @default checkpointIntervalHeights — 0 turns automatic checkpoints off (benchmarks, exec). */
  checkpointIntervalHeights?: number
  logger?: Logger
}

const metaHeight = utf8('store/height')
const metaRoot = utf8('store/root')
const metaImporting = utf8('store/importing')
const metaFormat = utf8('store/format')
/**
 * 3: the WAL in its own LevelDB. 2: certifications in their own space, receipts in pages.
 * 1 (no marker): certifications inside the height record, one row per receipt.
 */
const storeFormat = 3
const reservedMetaPrefix = 'store/'
/** What a replacing import (state sync) swaps out: everything of the old height but WAL, code and metadata. */
const replacedSpaces = ['state', 'leaves', 'nodes', 'blocks', 'certs', 'receipts', 'checkpoints'] as const
const prefetchWritesMin = 16 // below this, reading nodes one by one costs less than a level-by-level walk
const yieldWritesMin = 256 // from this many writes a commit's CPU stretches are worth splitting (~5 ms)

/** Lets timers and I/O callbacks (consensus messages, WAL completions) run between long CPU stretches. */
async function yieldToLoop (): Promise<void> {
  await new Promise<void>(resolve => { setImmediate(resolve) })
}

export class KvStore implements Store {
  height: Height = toHeight(0)
  stateRoot: Uint8Array = emptyRoot
  readonly #kv: OrderedKv
  readonly #interval: number
  readonly #logger: Logger
  readonly #cache = new NodeCache(storeNodeCacheEntriesMax)
  /**
   * Committed rows and small actors' whole state, as read: every height reads the same counters and
   * records and preloads the same actors, each a LevelDB round trip (an iterator for a preload).
   * Updated by each commit once its batch lands, emptied by a failed commit and by an import.
   */
  readonly #state = new StateCache()
  readonly #nodes: TrieNodeSource
  /** The last committed trie update: its decoded top levels are where the next commit starts. */
  #trie: TrieUpdate | undefined
  /** Commits, checkpoints, imports, proofs, verify: whatever reads or writes the state and heights. */
  readonly #commits = new Chain()
  /** WAL appends and truncation: its own key space and seq counters, never waiting for a commit. */
  readonly #wal = new Chain()
  /** Certifications; an import's install holds it too, as it replaces the certs space. */
  readonly #certs = new Chain()
  /** Evidence writes: each one's duplicate check, the count and the drop of the oldest belong together. */
  readonly #evidenceChain = new Chain()
  /** Evidence rows stored; counted on first use (at most evidenceStoredMax keys read once), then kept. */
  #evidenceCount: number | undefined
  #closed = false
  /**
   * The lowest height from which every height up to the head was committed by this process (so its
   * record exists), or undefined: lets putCertification skip a read per height. Reset on open and import.
   */
  #recordsFrom: bigint | undefined
  #walNext = 0n
  #walFirst = 0n

  private constructor (kv: OrderedKv, init: StoreInit) {
    this.#kv = kv
    this.#interval = init.checkpointIntervalHeights ?? checkpointIntervalHeights
    this.#logger = init.logger ?? silentLogger
    assert(Number.isInteger(this.#interval) && this.#interval >= 0, `checkpointIntervalHeights must be a non-negative integer, got ${this.#interval}`)
    this.#nodes = { getNode: async hash => await this.#getNode(hash), getNodes: async hashes => await this.#getNodes(hashes) }
  }

  /** Opens a store over `kv`, finishing or undoing whatever a crash interrupted. */
  static async open (kv: OrderedKv, init: StoreInit = {}): Promise<KvStore> {
    const store = new KvStore(kv, init)
    await store.#recover()
    return store
  }

  get kind (): 'leveldb' | 'memory' { return this.#kv.kind }

  // ── Reads ──────────────────────────────────────────────────────────────────────────────────────

  async get (actor: ActorId, key: Uint8Array): Promise<Uint8Array | undefined> {
    this.#checkOpen()
    const row = rowKey(actor, this.#key(key))
    const name = cacheKey(row)
    const cached = this.#state.row(actor, key, name)
    if (cached !== undefined) return cached ?? undefined
    const generation = this.#state.generation
    const value = await this.#kv.get('state', row)
    this.#state.keepRow(generation, name, value)
    return value
  }

  /** Cached rows are answered from memory; the rest in one read, not kept (a block's history lookups name new keys). */
  async getMany (actor: ActorId, keys: Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    this.#checkOpen()
    if (keys.length === 0) return []
    const rows = keys.map(key => rowKey(actor, this.#key(key)))
    const out = rows.map((row, i) => this.#state.row(actor, keys[i]!, cacheKey(row)))
    const missing = out.flatMap((value, i) => value === undefined ? [i] : [])
    const found = missing.length === 0 ? [] : await this.#kv.getMany('state', missing.map(i => rows[i]!))
    missing.forEach((index, j) => { out[index] = found[j] })
    return out.map(value => value ?? undefined)
  }

  async range (actor: ActorId, options: RangeOptions = {}): Promise<Array<{ key: Uint8Array, value: Uint8Array }>> {
    this.#checkOpen()
    const limit = options.limit ?? stateRangeEntriesMax
    if (!Number.isInteger(limit) || limit < 0 || limit > stateRangeEntriesMax) throw new StoreError('store/limit', `range limit must be 0..${stateRangeEntriesMax}, got ${limit}`)
    const start = options.start === undefined ? new Uint8Array(0) : this.#key(options.start)
    const end = options.end === undefined ? undefined : this.#key(options.end)
    const until = options.readAheadUntil === undefined ? undefined : this.#key(options.readAheadUntil)
    // An empty or inverted range holds nothing. It is answered here: a read-ahead from its end would
    // start below its start and keep a window whose entries lie outside it (a later read of a key in
    // the window then found it absent).
    if (end !== undefined && Buffer.compare(end, start) <= 0) return []
    const cached = this.#state.range(actor, start, end, limit)
    if (cached !== undefined) return cached
    const prefix = actorPrefix(actor)
    const gte = concat(prefix, start)
    const lt = end === undefined ? prefixEnd(prefix) : concat(prefix, end)
    const out: Array<{ key: Uint8Array, value: Uint8Array }> = []
    if (limit === 0) return out
    const generation = this.#state.generation
    for await (const [row, value] of this.#kv.entries('state', { gte, lt, limit })) out.push({ key: row.slice(prefix.length), value })
    // What the read saw whole is kept for the next ranges from this start: an actor's whole state
    // (preloading), or, when asked, the range plus the keys just past it.
    if (out.length < limit && end === undefined && options.start === undefined) {
      this.#state.keepRange(generation, actor, start, undefined, out)
    } else if (out.length < limit && end !== undefined && until !== undefined && cacheKey(until) > cacheKey(end)) {
      const ahead: Array<{ key: Uint8Array, value: Uint8Array }> = []
      for await (const [row, value] of this.#kv.entries('state', { gte: lt, lt: concat(prefix, until), limit: storeRangeReadAheadRows + 1 })) ahead.push({ key: row.slice(prefix.length), value })
      const upper = ahead.length > storeRangeReadAheadRows ? ahead.pop()!.key : until
      this.#state.keepRange(generation, actor, start, upper, [...out, ...ahead])
    }
    return out
  }

  async * actorEntries (actor: ActorId): AsyncIterable<{ key: Uint8Array, value: Uint8Array }> {
    let start: Uint8Array | undefined
    for (;;) {
      // The first page, when it is the whole state, is kept by range() if small: preloading reads it every block.
      const page = await this.range(actor, start === undefined ? {} : { start })
      yield * page
      if (page.length < stateRangeEntriesMax) return
      start = concat(page[page.length - 1]!.key, Uint8Array.of(0)) // the next key after the last
    }
  }

  async getHeight (h: Height): Promise<HeightRecord | undefined> {
    this.#checkOpen()
    const [bytes, certification] = await Promise.all([this.#kv.get('blocks', u64(h)), this.#kv.get('certs', u64(h))])
    return bytes === undefined ? undefined : { ...decodeHeightRecord(h, bytes), certification: certification ?? null }
  }

  async receipts (h: Height): Promise<Uint8Array[]> {
    this.#checkOpen()
    const out: Uint8Array[] = []
    for await (const [, page] of this.#kv.entries('receipts', { gte: u64(h), lt: u64(BigInt(h) + 1n) })) unpackReceipts(h, page, out)
    return out
  }

  async proveReceipt (h: Height, index: number): Promise<ReceiptProof | undefined> {
    const list = await this.receipts(h)
    return Number.isInteger(index) && index >= 0 && index < list.length ? proveReceipt(list, index) : undefined
  }

  async getCode (cid: string): Promise<Uint8Array | undefined> {
    this.#checkOpen()
    return await this.#kv.get('code', utf8(cid))
  }

  async prove (actor: ActorId, key: Uint8Array): Promise<StateProof> {
    // Under the commit lock so that the root and the rows read belong to the same height.
    return await this.#commits.run(() => this.#checkOpen(), async () => await this.#prove(actor, key))
  }

  async proveMany (actor: ActorId, keys: readonly Uint8Array[]): Promise<{ height: Height, stateRoot: Uint8Array, proofs: StateProof[] }> {
    return await this.#commits.run(() => this.#checkOpen(), async () => {
      const proofs: StateProof[] = []
      for (const key of keys) proofs.push(await this.#prove(actor, key))
      return { height: this.height, stateRoot: this.stateRoot, proofs }
    })
  }

  async #prove (actor: ActorId, key: Uint8Array): Promise<StateProof> {
    const path = sha256(rowKey(actor, this.#key(key)))
    const { leaf, steps } = await provePath(this.#nodes, this.stateRoot, path)
    if (leaf === null || !bytesEqual(leaf.path, path)) return { value: null, leaf, steps }
    const value = await this.#kv.get('state', rowKey(actor, key))
    if (value === undefined || !bytesEqual(sha256(value), leaf.valueHash)) throw new StoreError('store/corrupt', `state row of ${actor} disagrees with its trie leaf; run pylon store verify`)
    return { value, leaf, steps }
  }

  // ── The height commit ──────────────────────────────────────────────────────────────────────────

  async commitHeight (commit: HeightCommit, options: CommitOptions = {}): Promise<CommitResult> {
    return await this.#commits.run(() => this.#checkOpen(), async () => {
      options.signal?.throwIfAborted()
      const expected = BigInt(this.height) + 1n
      if (BigInt(commit.height) !== expected) throw new StoreError('store/height', `commit of height ${commit.height} refused: the store is at ${this.height}, next is ${expected}`)
      this.#checkCommit(commit)
      const ops: KvOp[] = []
      const writes = lastWriteWins(commit.writes)
      // From here on a failure leaves #trie unset: the next commit starts again from the root hash.
      const update = this.#startTrieUpdate()
      if (writes.length >= prefetchWritesMin) await update.prefetch(writes.map(w => w.path))
      for (const write of writes) await this.#applyWrite(update, write, ops)
      // Awaits of loaded nodes are microtasks: without these the applying, hashing and batch filling
      // of a large height would be one 50+ ms stretch that no consensus message could interrupt.
      const large = writes.length >= yieldWritesMin
      if (large) await yieldToLoop()
      const root = update.root // hashes the changed nodes
      if (large) await yieldToLoop()
      // Deletions first: a node dropped and rebuilt identically in this height is in both lists.
      for (const hash of update.deleted) ops.push({ type: 'del', space: 'nodes', key: hash })
      for (const { hash, bytes } of update.created) ops.push({ type: 'put', space: 'nodes', key: hash, value: bytes })
      const rRoot = receiptsRoot(commit.receipts)
      for (const page of receiptPages(commit.receipts)) ops.push({ type: 'put', space: 'receipts', key: concat(u64(commit.height), u32(page.first)), value: page.bytes })
      for (const blob of commit.code ?? []) ops.push({ type: 'put', space: 'code', key: utf8(blob.cid), value: blob.bytes })
      const record: StoredHeight = { stateRoot: root, receiptsRoot: rRoot, receiptCount: commit.receipts.length, block: commit.block ?? null, certificate: commit.certificate ?? null }
      ops.push({ type: 'put', space: 'blocks', key: u64(commit.height), value: encodeHeightRecord(record) })
      ops.push(...headOps(commit.height, root))
      options.signal?.throwIfAborted()
      options.onRoots?.({ stateRoot: root, receiptsRoot: rRoot })
      try {
        await this.#kv.batch(ops, { sync: true })
      } catch (error) {
        this.#state.clear() // whether any of it landed is unknown: read the database again
        throw error
      }
      this.#state.applyCommit(writes)
      this.height = commit.height
      this.stateRoot = root
      this.#trie = update
      this.#recordsFrom ??= BigInt(commit.height)
      // New nodes are the likeliest to be walked again by the next heights.
      for (const { hash, bytes } of update.created) this.#cache.set(cacheKey(hash), bytes)
      if (this.#interval > 0 && BigInt(commit.height) % BigInt(this.#interval) === 0n) await this.#checkpointBestEffort()
      return { height: commit.height, stateRoot: root, receiptsRoot: rRoot }
    })
  }

  /** A trie update from the head: continuing the last commit's decoded top when there is one. */
  #startTrieUpdate (): TrieUpdate {
    const previous = this.#trie
    this.#trie = undefined
    if (previous === undefined) return new TrieUpdate(this.#nodes, this.stateRoot)
    assert(bytesEqual(previous.root, this.stateRoot), 'the kept trie is of another root than the head')
    return previous.next(storeTrieKeptLevels)
  }

  async #applyWrite (update: TrieUpdate, write: { row: Uint8Array, path: Uint8Array, value: Uint8Array | null }, ops: KvOp[]): Promise<void> {
    const path = write.path
    if (write.value === null) {
      if (await update.delete(path) === 'deleted') {
        ops.push({ type: 'del', space: 'state', key: write.row }, { type: 'del', space: 'leaves', key: path })
      }
      return
    }
    const outcome = await update.set(path, sha256(write.value))
    if (outcome === 'unchanged') return
    ops.push({ type: 'put', space: 'state', key: write.row, value: write.value })
    if (outcome === 'created') ops.push({ type: 'put', space: 'leaves', key: path, value: write.row })
  }

  #checkCommit (commit: HeightCommit): void {
    if (commit.writes.length > stateWritesPerHeightMax) throw new StoreError('store/limit', `too many writes in height ${commit.height}: ${commit.writes.length} > ${stateWritesPerHeightMax}`)
    for (const write of commit.writes) {
      this.#key(write.key) // the actor is checked where its row key is made (lastWriteWins)
      if (write.value !== null && !(write.value instanceof Uint8Array)) throw new StoreError('store/limit', 'a storage value must be bytes or null')
      if (write.value !== null && write.value.length > stateValueBytesMax) throw new StoreError('store/limit', `storage value too large: ${write.value.length} > ${stateValueBytesMax} bytes`)
    }
    if (commit.receipts.length > receiptsPerHeightMax) throw new StoreError('store/limit', `too many receipts in height ${commit.height}: ${commit.receipts.length} > ${receiptsPerHeightMax}`)
    for (const receipt of commit.receipts) {
      if (receipt.length > receiptBytesMax) throw new StoreError('store/limit', `receipt too large: ${receipt.length} > ${receiptBytesMax} bytes`)
    }
    for (const bytes of [commit.block, commit.certificate]) {
      if (bytes !== undefined && bytes.length > codecBytesMax) throw new StoreError('store/limit', `block or certificate too large: ${bytes.length} > ${codecBytesMax} bytes`)
    }
    for (const blob of commit.code ?? []) checkCode(blob.cid, blob.bytes)
  }

  /**
   * Its own row and its own chain: it never rewrites the height record (a whole block) and never
   * waits for or holds up a commit. A commit of a later height may land first; getHeight shows
   * the certification once this resolves.
   */
  async putCertification (h: Height, certification: Uint8Array): Promise<void> {
    if (!(certification instanceof Uint8Array) || certification.length > codecBytesMax) throw new StoreError('store/limit', `certification too large: ${certification?.length} > ${codecBytesMax} bytes`)
    await this.#certs.run(() => this.#checkOpen(), async () => {
      // Heights above the head are not committed; below an imported checkpoint they have no record.
      const known = this.#recordsFrom !== undefined && BigInt(h) >= this.#recordsFrom
      if (BigInt(h) > BigInt(this.height) || (!known && !await this.#kv.has('blocks', u64(h)))) throw new StoreError('store/height', `cannot certify height ${h}: it is not committed`)
      await this.#kv.batch([{ type: 'put', space: 'certs', key: u64(h), value: certification }], { sync: true })
    })
  }

  async certification (h: Height): Promise<Uint8Array | undefined> {
    this.#checkOpen()
    return await this.#kv.get('certs', u64(h))
  }

  async putCode (cid: string, bytes: Uint8Array): Promise<void> {
    this.#checkOpen()
    checkCode(cid, bytes)
    await this.#kv.batch([{ type: 'put', space: 'code', key: utf8(cid), value: bytes }], { sync: true })
  }

  // ── WAL and metadata ───────────────────────────────────────────────────────────────────────────

  async walAppend (record: Uint8Array, options: { sync?: boolean } = {}): Promise<bigint> {
    // The WAL chain keeps records in seq order and each batch issued after the previous one
    // resolved, so a synced append also makes every earlier unsynced one durable (LevelDB's log).
    return await this.#wal.run(() => this.#checkOpen(), async () => {
      if (!(record instanceof Uint8Array) || record.length === 0 || record.length > walRecordBytesMax) throw new StoreError('store/limit', `WAL record must be 1..${walRecordBytesMax} bytes, got ${record?.length}`)
      if (this.#walNext - this.#walFirst >= BigInt(walRecordsMax)) throw new StoreError('store/limit', `WAL full: ${walRecordsMax} records; truncate after each finalized height`)
      const seq = this.#walNext
      await this.#kv.batch([{ type: 'put', space: 'wal', key: u64(seq), value: record }], { sync: options.sync ?? true })
      this.#walNext = seq + 1n
      return seq
    })
  }

  async * walEntries (): AsyncIterable<WalEntry> {
    this.#checkOpen()
    for await (const [key, record] of this.#kv.entries('wal')) yield { seq: readU64(key), record }
  }

  async walTruncate (beforeSeq: bigint): Promise<void> {
    await this.#wal.run(() => this.#checkOpen(), async () => {
      const ops: KvOp[] = []
      for await (const [key] of this.#kv.entries('wal', { lt: u64(beforeSeq) })) ops.push({ type: 'del', space: 'wal', key })
      await this.#kv.batch(ops, { sync: true })
      if (beforeSeq > this.#walFirst) this.#walFirst = beforeSeq < this.#walNext ? beforeSeq : this.#walNext
    })
  }

  // ── Equivocation evidence ──────────────────────────────────────────────────────────────────────

  async putEvidence (key: EvidenceKey, record: Uint8Array, options: { sync?: boolean } = {}): Promise<boolean> {
    const row = evidenceRow(key)
    if (!(record instanceof Uint8Array) || record.length === 0 || record.length > evidenceBytesMax) {
      throw new StoreError('store/limit', `evidence record must be 1..${evidenceBytesMax} bytes, got ${record?.length}`)
    }
    return await this.#evidenceChain.run(() => this.#checkOpen(), async () => {
      if (await this.#kv.has('evidence', row)) return false
      const count = await this.#countEvidence()
      // Over the bound, the lowest keys of the stored ones and this one go: when this one is the
      // oldest of all, it is dropped at once (not stored) rather than pushing out a newer view.
      const excess = count + 1 - evidenceStoredMax
      const lowest: Uint8Array[] = []
      if (excess > 0) for await (const [old] of this.#kv.entries('evidence', { limit: excess })) lowest.push(old)
      const dropped = [...lowest, row].sort(compareBytes).slice(0, Math.max(0, excess))
      const keep = !dropped.includes(row)
      const ops: KvOp[] = dropped.filter(old => old !== row).map(old => ({ type: 'del', space: 'evidence', key: old }))
      if (keep) ops.push({ type: 'put', space: 'evidence', key: row, value: record })
      await this.#kv.batch(ops, { sync: options.sync ?? false })
      this.#evidenceCount = count + (keep ? 1 : 0) - (dropped.length - (keep ? 0 : 1))
      return keep
    })
  }

  async evidence (options: { limit?: number } = {}): Promise<StoredEvidence[]> {
    this.#checkOpen()
    const limit = options.limit ?? evidenceStoredMax
    if (!Number.isInteger(limit) || limit < 0 || limit > evidenceStoredMax) throw new StoreError('store/limit', `evidence limit must be 0..${evidenceStoredMax}, got ${limit}`)
    const out: StoredEvidence[] = []
    if (limit === 0) return out
    for await (const [row, record] of this.#kv.entries('evidence', { reverse: true, limit })) out.push({ key: readEvidenceRow(row), record })
    return out
  }

  async evidenceCount (): Promise<number> {
    return await this.#evidenceChain.run(() => this.#checkOpen(), async () => await this.#countEvidence())
  }

  /** Runs on the evidence chain. */
  async #countEvidence (): Promise<number> {
    if (this.#evidenceCount === undefined) {
      let count = 0
      for await (const _ of this.#kv.entries('evidence')) count++
      this.#evidenceCount = count
    }
    return this.#evidenceCount
  }

  async metaGet (name: string): Promise<Uint8Array | undefined> {
    this.#checkOpen()
    return await this.#kv.get('meta', utf8(checkMetaName(name)))
  }

  async metaPut (name: string, value: Uint8Array): Promise<void> {
    this.#checkOpen()
    if (value.length > storeMetaBytesMax) throw new StoreError('store/limit', `metadata value too large: ${value.length} > ${storeMetaBytesMax} bytes`)
    await this.#kv.batch([{ type: 'put', space: 'meta', key: utf8(checkMetaName(name)), value }], { sync: true })
  }

  // ── Checkpoints ────────────────────────────────────────────────────────────────────────────────

  async checkpoint (): Promise<CheckpointManifest> {
    return await this.#commits.run(() => this.#checkOpen(), async () => await this.#makeCheckpoint())
  }

  async checkpoints (): Promise<CheckpointManifest[]> {
    this.#checkOpen()
    const out: CheckpointManifest[] = []
    for await (const [, bytes] of this.#kv.entries('checkpoints', { gte: Uint8Array.of(0), lt: Uint8Array.of(1), reverse: true })) out.push(this.#ownManifest(bytes))
    return out
  }

  async checkpointChunk (h: Height, index: number): Promise<Uint8Array | undefined> {
    this.#checkOpen()
    if (!Number.isInteger(index) || index < 0 || index >= 2 ** 32) return undefined
    return await this.#kv.get('checkpoints', chunkKey(h, index))
  }

  /** A failed automatic checkpoint must not fail the height, which is already durable. */
  async #checkpointBestEffort (): Promise<void> {
    try {
      await this.#makeCheckpoint()
    } catch (error) {
      this.#logger.error('checkpoint failed', { height: this.height, error })
    }
  }

  /** Pre: holds the lock. Writes chunks unsynced, then the manifest synced: no manifest, no checkpoint. */
  async #makeCheckpoint (): Promise<CheckpointManifest> {
    const h = this.height
    const existing = await this.#kv.get('checkpoints', manifestKey(h))
    if (existing !== undefined) return this.#ownManifest(existing)
    await this.#kv.clear('checkpoints', { gte: chunkKey(h, 0), lt: chunkKey(toHeight(BigInt(h) + 1n), 0) })
    const chunks: CheckpointManifest['chunks'] = []
    const writer = new BatchWriter(this.#kv)
    const addChunk = async (chunk: CheckpointChunk): Promise<void> => {
      const bytes = encodeChunk(chunk)
      await writer.put({ type: 'put', space: 'checkpoints', key: chunkKey(h, chunks.length), value: bytes })
      chunks.push({ hash: sha256(bytes), bytes: bytes.length })
    }
    const builder = new TrieBuilder()
    let entries: StateEntry[] = []
    let size = 0
    for await (const { path, row, value } of this.#leafRows()) {
      const parsed = parseRowKey(row)
      if (!parsed.ok || value === undefined || !bytesEqual(sha256(row), path)) throw new StoreError('store/corrupt', `state row for trie path ${toHex(path)} is missing or malformed; run pylon store verify`)
      builder.add(path, sha256(value))
      entries.push({ ...parsed.value, value })
      size += row.length + value.length + 16 // 16 covers the entry's cbor framing
      if (size >= checkpointChunkBytesTarget) {
        await addChunk({ kind: 'state', entries })
        entries = []
        size = 0
      }
    }
    if (entries.length > 0) await addChunk({ kind: 'state', entries })
    const root = builder.finish()
    if (!bytesEqual(root, this.stateRoot)) throw new StoreError('store/corrupt', `stored state rebuilds root ${toHex(root)}, recorded ${toHex(this.stateRoot)}; run pylon store verify`)
    for await (const [cidBytes, blob] of this.#kv.entries('code')) {
      const parts = Math.max(1, Math.ceil(blob.length / checkpointChunkBytesTarget))
      for (let part = 0; part < parts; part++) {
        await addChunk({ kind: 'code', cid: fromUtf8(cidBytes), part, parts, bytes: blob.subarray(part * checkpointChunkBytesTarget, (part + 1) * checkpointChunkBytesTarget) })
      }
    }
    await writer.flush()
    const manifest: CheckpointManifest = { height: h, stateRoot: root, entries: builder.count, chunks }
    await this.#kv.batch([{ type: 'put', space: 'checkpoints', key: manifestKey(h), value: encodeManifest(manifest) }], { sync: true })
    await this.#pruneCheckpoints()
    return manifest
  }

  async #pruneCheckpoints (): Promise<void> {
    const heights: Height[] = []
    for await (const [key] of this.#kv.entries('checkpoints', { gte: Uint8Array.of(0), lt: Uint8Array.of(1), reverse: true })) heights.push(toHeight(readU64(key.subarray(1))))
    for (const h of heights.slice(checkpointsRetained)) {
      await this.#kv.batch([{ type: 'del', space: 'checkpoints', key: manifestKey(h) }], { sync: true })
      await this.#kv.clear('checkpoints', { gte: chunkKey(h, 0), lt: chunkKey(toHeight(BigInt(h) + 1n), 0) })
    }
  }

  async importCheckpoint (manifest: CheckpointManifest, source: ChunkSource, options: ImportOptions = {}): Promise<void> {
    await this.#commits.run(() => this.#checkOpen(), async () => {
      if (options.replace === true) {
        if (BigInt(manifest.height) <= BigInt(this.height)) throw new CheckpointError('checkpoint/not-ahead', `a replacing import must move forward: checkpoint height ${manifest.height} <= store height ${this.height}`)
      } else if (BigInt(this.height) !== 0n || !bytesEqual(this.stateRoot, emptyRoot) || await this.#hasRows('leaves') || await this.#hasRows('blocks')) {
        throw new CheckpointError('checkpoint/not-empty', `import needs an empty store; this one is at height ${this.height}`)
      }
      if (manifest.chunks.length === 0 && (manifest.entries !== 0 || !bytesEqual(manifest.stateRoot, emptyRoot))) throw new CheckpointError('checkpoint/manifest', 'manifest lists no chunks but a non-empty state')
      await this.#kv.clear('staging')
      try {
        await this.#stageAndVerify(manifest, source, options.signal)
      } catch (error) {
        await this.#kv.clear('staging')
        throw error
      }
      // The install replaces the certs space: no certification may land between its clear and its
      // head (it would name a height the new store has no record of). The WAL is not touched.
      await this.#certs.run(() => this.#checkOpen(), async () => { await this.#installStaged(manifest, options) })
    })
  }

  /** Pass 1: fetch every chunk, check it against the manifest, rebuild the root. Touches only staging. */
  async #stageAndVerify (manifest: CheckpointManifest, source: ChunkSource, signal: AbortSignal | undefined): Promise<void> {
    const builder = new TrieBuilder()
    const writer = new BatchWriter(this.#kv)
    const code = new CodeAssembler()
    const total = manifest.chunks.length
    for (let i = 0; i < total; i++) {
      signal?.throwIfAborted()
      let bytes: Uint8Array
      try {
        bytes = await source.chunk(i, signal === undefined ? {} : { signal })
      } catch (error) {
        throw new CheckpointError('checkpoint/chunk-missing', `chunk ${i} of ${total} is missing: ${(error as Error).message}`, { cause: error })
      }
      const chunk = checkChunk(manifest, i, bytes)
      if (chunk.kind === 'state') {
        if (code.started) throw new CheckpointError('checkpoint/chunk-order', `chunk ${i} of ${total}: state chunk after a code chunk`)
        for (const entry of chunk.entries) {
          const path = sha256(rowKey(entry.actor, entry.key))
          try {
            builder.add(path, sha256(entry.value))
          } catch {
            throw new CheckpointError('checkpoint/chunk-order', `chunk ${i} of ${total}: entries are not in increasing trie-path order`)
          }
        }
      } else {
        const error = code.add(chunk)
        if (error !== undefined) throw new CheckpointError('checkpoint/code', `chunk ${i} of ${total}: ${error}`)
      }
      await writer.put({ type: 'put', space: 'staging', key: u32(i), value: bytes })
    }
    if (code.pending) throw new CheckpointError('checkpoint/code', 'the last code blob is missing parts')
    await writer.flush()
    const root = builder.finish()
    if (!bytesEqual(root, manifest.stateRoot)) throw new CheckpointError('checkpoint/root', `chunks rebuild state root ${toHex(root)}, manifest says ${toHex(manifest.stateRoot)}`)
    if (builder.count !== manifest.entries) throw new CheckpointError('checkpoint/manifest', `chunks hold ${builder.count} entries, manifest says ${manifest.entries}`)
  }

  /**
   * Pass 2: write the verified state. The "importing" marker goes first (synced), the new head last
   * (synced); a crash in between is undone on open, which the empty-store precondition makes exact.
   */
  async #installStaged (manifest: CheckpointManifest, options: ImportOptions): Promise<void> {
    const h = manifest.height
    // From here the old heights' records and state may go (replace): a failure part way must not leave them assumed.
    this.#recordsFrom = undefined
    this.#state.clear()
    await this.#kv.batch([{ type: 'put', space: 'meta', key: metaImporting, value: u64(h) }], { sync: true })
    // A replacing import drops the old height's rows after the marker: a crash from here on is
    // undone to an empty store (WAL kept), never to a mix of two heights.
    if (options.replace === true) for (const space of replacedSpaces) await this.#kv.clear(space)
    const writer = new BatchWriter(this.#kv)
    const builder = new TrieBuilder((hash, bytes) => { writer.push({ type: 'put', space: 'nodes', key: hash, value: bytes }) })
    for await (const [key, bytes] of this.#kv.entries('staging')) {
      const index = readU32(key)
      const chunk = checkChunk(manifest, index, bytes) // staged bytes are re-checked: the disk may lie too
      if (chunk.kind === 'state') {
        for (const entry of chunk.entries) {
          const row = rowKey(entry.actor, entry.key)
          const path = sha256(row)
          builder.add(path, sha256(entry.value))
          writer.push({ type: 'put', space: 'state', key: row, value: entry.value }, { type: 'put', space: 'leaves', key: path, value: row })
        }
      }
      writer.push({ type: 'put', space: 'checkpoints', key: chunkKey(h, index), value: bytes })
      await writer.flushIfFull()
    }
    const root = builder.finish() // emits the last spine nodes, so it goes before the final flush
    await writer.flush()
    await this.#installCode()
    assert(bytesEqual(root, manifest.stateRoot), 'staged chunks rebuilt a different root than when they were verified')
    const tip = options.tip
    await this.#kv.batch([
      ...headOps(h, root),
      { type: 'put', space: 'checkpoints', key: manifestKey(h), value: encodeManifest(manifest) },
      ...(tip === undefined
        ? []
        : [
            { type: 'put' as const, space: 'blocks' as const, key: u64(h), value: encodeHeightRecord({ stateRoot: root, receiptsRoot: tip.receiptsRoot, receiptCount: 0, block: tip.block, certificate: tip.certificate }) },
            { type: 'put' as const, space: 'certs' as const, key: u64(h), value: tip.certification }
          ]),
      { type: 'del', space: 'meta', key: metaImporting }
    ], { sync: true })
    await this.#kv.clear('staging')
    this.#trie = undefined
    this.#state.clear() // reads during the install may have kept rows of a state between two heights
    this.height = h
    this.stateRoot = root
  }

  /** Reassembles staged code chunks (already verified against their CIDs) into the code space. */
  async #installCode (): Promise<void> {
    const code = new CodeAssembler()
    for await (const [, bytes] of this.#kv.entries('staging')) {
      const chunk = decodeChunk(bytes)
      if (!chunk.ok || chunk.value.kind !== 'code') continue
      assert(code.add(chunk.value) === undefined, 'staged code chunks were verified')
      for (const blob of code.take()) await this.#kv.batch([{ type: 'put', space: 'code', key: utf8(blob.cid), value: blob.bytes }], { sync: false })
    }
  }

  // ── Verification ───────────────────────────────────────────────────────────────────────────────

  async verify (): Promise<VerifyReport> {
    return await this.#commits.run(() => this.#checkOpen(), async () => {
      const recordedRoot = this.stateRoot
      const base = { height: this.height, recordedRoot }
      const record = await this.getHeight(this.height)
      const builder = new TrieBuilder()
      let leafCount = 0
      for await (const { path, row, value } of this.#leafRows()) {
        const parsed = parseRowKey(row)
        if (!parsed.ok || !bytesEqual(sha256(row), path)) return { ...base, ok: false, computedRoot: builder.finish(), entries: leafCount, firstDifference: `trie path ${toHex(path)} indexes a malformed row key` }
        if (value === undefined) return { ...base, ok: false, computedRoot: builder.finish(), entries: leafCount, firstDifference: `${describe(parsed.value)}: in the trie index but its state row is missing` }
        builder.add(path, sha256(value))
        leafCount++
      }
      const computedRoot = builder.finish()
      const report = { ...base, computedRoot, entries: leafCount }
      const orphan = await this.#firstOrphanRow()
      if (orphan !== undefined) return { ...report, ok: false, firstDifference: orphan }
      if (record !== undefined && !bytesEqual(record.stateRoot, recordedRoot)) {
        return { ...report, ok: false, firstDifference: `height ${this.height} record says root ${toHex(record.stateRoot)}, the store head says ${toHex(recordedRoot)}` }
      }
      if (bytesEqual(computedRoot, recordedRoot)) return { ...report, ok: true }
      return { ...report, ok: false, firstDifference: await this.#firstTrieDifference() }
    })
  }

  /** A state row with no trie leaf: a write that reached the rows but not the trie. */
  async #firstOrphanRow (): Promise<string | undefined> {
    const page: Uint8Array[] = []
    const check = async (): Promise<string | undefined> => {
      const found = await this.#kv.getMany('leaves', page.map(row => sha256(row)))
      const index = found.findIndex(v => v === undefined)
      const row = page[index]
      page.length = 0
      if (row === undefined) return undefined
      const parsed = parseRowKey(row)
      return `${parsed.ok ? describe(parsed.value) : `row ${toHex(row)}`}: has a state row but no trie leaf`
    }
    for await (const [row] of this.#kv.entries('state')) {
      page.push(row)
      if (page.length >= storeReadPageRows) {
        const found = await check()
        if (found !== undefined) return found
      }
    }
    return await check()
  }

  /** Walks the recorded trie and the stored rows in path order side by side; names the first mismatch. */
  async #firstTrieDifference (): Promise<string> {
    const recorded = this.#recordedLeaves()[Symbol.asyncIterator]()
    const stored = this.#leafRows()[Symbol.asyncIterator]()
    for (;;) {
      const r = await recorded.next()
      const s = await stored.next()
      if (r.done === true && s.done === true) return 'the recorded trie and the stored rows agree, yet the roots differ: the trie is malformed'
      if (r.done !== true && 'error' in r.value) return r.value.error
      const rLeaf = r.done === true ? undefined : r.value as { path: Uint8Array, valueHash: Uint8Array }
      const sRow = s.done === true ? undefined : s.value
      const name = (row: Uint8Array): string => { const p = parseRowKey(row); return p.ok ? describe(p.value) : `row ${toHex(row)}` }
      if (rLeaf === undefined) return `${name(sRow!.row)}: stored, but absent from the recorded trie`
      if (sRow === undefined || toHex(rLeaf.path) < toHex(sRow.path)) return `trie path ${toHex(rLeaf.path)}: in the recorded trie, but no state row`
      if (toHex(rLeaf.path) > toHex(sRow.path)) return `${name(sRow.row)}: stored, but absent from the recorded trie`
      if (sRow.value === undefined || !bytesEqual(sha256(sRow.value), rLeaf.valueHash)) return `${name(sRow.row)}: recorded value hash ${toHex(rLeaf.valueHash)}, stored value hashes to ${sRow.value === undefined ? 'nothing' : toHex(sha256(sRow.value))}`
    }
  }

  /** Leaves of the recorded trie in path order, each node checked against its hash. */
  async * #recordedLeaves (): AsyncIterable<{ path: Uint8Array, valueHash: Uint8Array } | { error: string }> {
    if (bytesEqual(this.stateRoot, emptyRoot)) return
    const stack: Uint8Array[] = [this.stateRoot]
    while (stack.length > 0) {
      const hash = stack.pop()!
      const bytes = await this.#kv.get('nodes', hash)
      const node = bytes === undefined ? undefined : decodeNode(bytes)
      if (bytes === undefined || node === undefined || !bytesEqual(sha256(bytes), hash)) {
        yield { error: `trie node ${toHex(hash)} is missing or does not match its hash` }
        return
      }
      if (node.kind === 'leaf') yield node
      else stack.push(node.right, node.left)
    }
  }

  /** The leaf index in path order, with each leaf's state row, read in pages. */
  async * #leafRows (): AsyncIterable<{ path: Uint8Array, row: Uint8Array, value: Uint8Array | undefined }> {
    let page: Array<[Uint8Array, Uint8Array]> = []
    const flush = async (): Promise<Array<{ path: Uint8Array, row: Uint8Array, value: Uint8Array | undefined }>> => {
      const values = await this.#kv.getMany('state', page.map(([, row]) => row))
      const out = page.map(([path, row], i) => ({ path, row, value: values[i] }))
      page = []
      return out
    }
    for await (const entry of this.#kv.entries('leaves')) {
      page.push(entry)
      if (page.length >= storeReadPageRows) yield * await flush()
    }
    if (page.length > 0) yield * await flush()
  }

  // ── Lifecycle and helpers ──────────────────────────────────────────────────────────────────────

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all([this.#commits.idle(), this.#wal.idle(), this.#certs.idle(), this.#evidenceChain.idle()])
    await this.#kv.close()
  }

  /** Brings the store to a consistent state after whatever a crash interrupted. */
  async #recover (): Promise<void> {
    const importing = await this.#kv.get('meta', metaImporting)
    if (importing !== undefined) {
      // An import crashed after its marker: the store was empty before (or, for a replacing import,
      // its old height was already being dropped), so emptying it is exact; the WAL stays.
      this.#logger.warn('undoing an interrupted checkpoint import', { height: readU64(importing) })
      for (const space of [...replacedSpaces, 'code'] as const) await this.#kv.clear(space)
      await this.#kv.batch([{ type: 'del', space: 'meta', key: metaImporting }, { type: 'del', space: 'meta', key: metaHeight }, { type: 'del', space: 'meta', key: metaRoot }], { sync: true })
    }
    await this.#kv.clear('staging')
    const h = await this.#kv.get('meta', metaHeight)
    const root = await this.#kv.get('meta', metaRoot)
    assert((h === undefined) === (root === undefined), 'store head has a height without a root or the reverse')
    await this.#checkFormat(h !== undefined)
    this.height = toHeight(h === undefined ? 0n : readU64(h))
    this.stateRoot = root ?? emptyRoot
    await this.#dropUnfinishedCheckpoints()
    for await (const [key] of this.#kv.entries('wal', { limit: 1 })) this.#walFirst = readU64(key)
    for await (const [key] of this.#kv.entries('wal', { limit: 1, reverse: true })) this.#walNext = readU64(key) + 1n
    if (this.#walNext < this.#walFirst) this.#walNext = this.#walFirst
    // A crash between a checkpoint height's commit and its checkpoint: the state is still that height's.
    if (this.#interval > 0 && BigInt(this.height) > 0n && BigInt(this.height) % BigInt(this.#interval) === 0n) await this.#checkpointBestEffort()
  }

  /** Marks a new store with the format it is written in; refuses a store of another format. */
  async #checkFormat (hasHead: boolean): Promise<void> {
    const format = await this.#kv.get('meta', metaFormat)
    if (format === undefined && !hasHead && !await this.#hasRows('blocks') && !await this.#hasRows('leaves')) {
      await this.#kv.batch([{ type: 'put', space: 'meta', key: metaFormat, value: Uint8Array.of(storeFormat) }], { sync: true })
      return
    }
    const found = format === undefined ? 1 : format[0]
    if (found !== storeFormat) {
      throw new StoreError('store/format', `the store is in on-disk format ${found}, this build reads format ${storeFormat}: remove it and let the node sync again (or import a checkpoint)`)
    }
  }

  /** Chunks written by a checkpoint whose manifest never landed. */
  async #dropUnfinishedCheckpoints (): Promise<void> {
    let from: Uint8Array = Uint8Array.of(1)
    for (;;) {
      let next: Height | undefined
      for await (const [key] of this.#kv.entries('checkpoints', { gte: from, lt: Uint8Array.of(2), limit: 1 })) next = toHeight(readU64(key.subarray(1, 9)))
      if (next === undefined) return
      const after = toHeight(BigInt(next) + 1n)
      if (await this.#kv.get('checkpoints', manifestKey(next)) === undefined) await this.#kv.clear('checkpoints', { gte: chunkKey(next, 0), lt: chunkKey(after, 0) })
      from = chunkKey(after, 0)
    }
  }

  async #hasRows (space: 'leaves' | 'blocks'): Promise<boolean> {
    for await (const _ of this.#kv.entries(space, { limit: 1 })) return true
    return false
  }

  async #getNodes (hashes: Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    const out = hashes.map(hash => this.#cache.get(cacheKey(hash)))
    const missing = out.flatMap((bytes, i) => bytes === undefined ? [i] : [])
    const found = await this.#kv.getMany('nodes', missing.map(i => hashes[i]!))
    missing.forEach((index, j) => {
      const bytes = found[j]
      out[index] = bytes
      if (bytes !== undefined) this.#cache.set(cacheKey(hashes[index]!), bytes)
    })
    return out
  }

  async #getNode (hash: Uint8Array): Promise<Uint8Array | undefined> {
    const key = cacheKey(hash)
    const cached = this.#cache.get(key)
    if (cached !== undefined) return cached
    const bytes = await this.#kv.get('nodes', hash)
    if (bytes !== undefined) this.#cache.set(key, bytes)
    return bytes
  }

  #ownManifest (bytes: Uint8Array): CheckpointManifest {
    const manifest = decodeManifest(bytes)
    if (!manifest.ok) throw new StoreError('store/corrupt', `stored checkpoint manifest is unreadable: ${manifest.error}`)
    return manifest.value
  }

  #key (key: Uint8Array): Uint8Array {
    const checked = checkKey(key)
    if (!checked.ok) throw new StoreError('store/limit', checked.error)
    return key
  }

  #checkOpen (): void {
    if (this.#closed) throw new StoreError('store/closed', 'the store is closed')
  }
}

/** Runs tasks one at a time in call order; a failed task does not stop the ones after it. */
class Chain {
  #tail: Promise<unknown> = Promise.resolve()

  /** `check` runs at once (e.g. refuses a closed store before queueing), `task` after every earlier task. */
  async run<T> (check: () => void, task: () => Promise<T>): Promise<T> {
    check()
    const run = this.#tail.then(task)
    this.#tail = run.catch(() => undefined)
    return await run
  }

  /** Resolves once every task queued so far has settled. */
  async idle (): Promise<void> {
    await this.#tail
  }
}

/** Collects ops and writes them unsynced in bounded batches; only the final marker batch syncs. */
class BatchWriter {
  readonly #kv: OrderedKv
  #ops: KvOp[] = []
  #bytes = 0

  constructor (kv: OrderedKv) { this.#kv = kv }

  push (...ops: KvOp[]): void {
    for (const op of ops) {
      this.#ops.push(op)
      this.#bytes += op.key.length + (op.type === 'put' ? op.value.length : 0)
    }
  }

  async put (op: KvOp): Promise<void> {
    this.push(op)
    await this.flushIfFull()
  }

  async flushIfFull (): Promise<void> {
    if (this.#ops.length >= storeWriteBatchOps || this.#bytes >= 8 * checkpointChunkBytesTarget) await this.flush()
  }

  async flush (): Promise<void> {
    const ops = this.#ops
    this.#ops = []
    this.#bytes = 0
    await this.#kv.batch(ops, { sync: false })
  }
}

/** Checks code chunks part by part: consecutive parts of one CID, whose bytes hash to that CID. */
class CodeAssembler {
  started = false
  #cid: string | undefined
  #parts: Uint8Array[] = []
  #expected = 0
  #hash = createHash('sha256')
  #done: Array<{ cid: string, bytes: Uint8Array }> = []

  get pending (): boolean { return this.#cid !== undefined }

  /** Returns an error message, or undefined when the part fits. */
  add (chunk: Extract<CheckpointChunk, { kind: 'code' }>): string | undefined {
    this.started = true
    if (this.#cid === undefined) {
      if (chunk.part !== 0) return `code ${chunk.cid} starts at part ${chunk.part}, not 0`
      this.#cid = chunk.cid
      this.#expected = chunk.parts
      this.#parts = []
      this.#hash = createHash('sha256')
    } else if (chunk.cid !== this.#cid || chunk.parts !== this.#expected || chunk.part !== this.#parts.length) {
      return `code part ${chunk.part}/${chunk.parts} of ${chunk.cid} out of order`
    }
    this.#parts.push(chunk.bytes)
    this.#hash.update(chunk.bytes)
    const size = this.#parts.reduce((n, p) => n + p.length, 0)
    if (size > storeCodeBytesMax) return `code ${chunk.cid} too large: more than ${storeCodeBytesMax} bytes`
    if (this.#parts.length < this.#expected) return undefined
    const error = cidDigestError(chunk.cid, new Uint8Array(this.#hash.digest()))
    if (error !== undefined) return error
    const bytes = new Uint8Array(size)
    let offset = 0
    for (const part of this.#parts) { bytes.set(part, offset); offset += part.length }
    this.#done.push({ cid: chunk.cid, bytes })
    this.#cid = undefined
    return undefined
  }

  take (): Array<{ cid: string, bytes: Uint8Array }> {
    const done = this.#done
    this.#done = []
    return done
  }
}

function checkChunk (manifest: CheckpointManifest, index: number, bytes: Uint8Array): CheckpointChunk {
  const expected = manifest.chunks[index]
  const total = manifest.chunks.length
  if (expected === undefined) throw new CheckpointError('checkpoint/chunk', `chunk ${index} is not in the manifest (${total} chunks)`)
  if (bytes.length !== expected.bytes) throw new CheckpointError('checkpoint/chunk-corrupt', `chunk ${index} of ${total} is corrupt: ${bytes.length} bytes, manifest says ${expected.bytes}`)
  const hash = sha256(bytes)
  if (!bytesEqual(hash, expected.hash)) throw new CheckpointError('checkpoint/chunk-corrupt', `chunk ${index} of ${total} is corrupt: sha256 ${toHex(hash)}, manifest says ${toHex(expected.hash)}`)
  const chunk = decodeChunk(bytes)
  if (!chunk.ok) throw new CheckpointError('checkpoint/chunk-corrupt', `chunk ${index} of ${total}: ${chunk.error}`)
  return chunk.value
}

function cidDigestError (cid: string, digest: Uint8Array): string | undefined {
  let parsed: CID
  try {
    parsed = CID.parse(cid)
  } catch {
    return `code name is not a CID: ${JSON.stringify(cid.slice(0, 64))}`
  }
  if (parsed.multihash.code !== 0x12) return `code CID ${cid} is not sha2-256`
  return bytesEqual(parsed.multihash.digest, digest) ? undefined : `code bytes do not hash to their CID ${cid}`
}

function checkCode (cid: string, bytes: Uint8Array): void {
  if (!(bytes instanceof Uint8Array) || bytes.length > storeCodeBytesMax) throw new StoreError('store/limit', `code too large: ${bytes?.length} > ${storeCodeBytesMax} bytes`)
  const error = cidDigestError(cid, sha256(bytes))
  if (error !== undefined) throw new StoreError('store/code', error)
}

function checkMetaName (name: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > storeMetaNameCharsMax) throw new StoreError('store/limit', `metadata name must be 1..${storeMetaNameCharsMax} characters`)
  if (name.startsWith(reservedMetaPrefix)) throw new StoreError('store/limit', `metadata names starting with "${reservedMetaPrefix}" belong to the store: ${name}`)
  return name
}

/** The last write to each (actor, key) wins; the trie sees each row once. Throws for a bad actor id. */
function lastWriteWins (writes: HeightCommit['writes']): Array<{ actor: ActorId, key: Uint8Array, row: Uint8Array, name: string, path: Uint8Array, value: Uint8Array | null }> {
  const byRow = new Map<string, { actor: ActorId, key: Uint8Array, row: Uint8Array, name: string, value: Uint8Array | null }>()
  // A height's writes name few actors (thousands of writes, a handful of actors): encode each once.
  const prefixes = new Map<ActorId, Uint8Array>()
  for (const write of writes) {
    let prefix = prefixes.get(write.actor)
    if (prefix === undefined) prefixes.set(write.actor, prefix = actorPrefix(write.actor))
    const row = new Uint8Array(prefix.length + write.key.length)
    row.set(prefix)
    row.set(write.key, prefix.length)
    const name = cacheKey(row)
    byRow.delete(name)
    byRow.set(name, { actor: write.actor, key: write.key, row, name, value: write.value })
  }
  return [...byRow.values()].map(w => ({ ...w, path: sha256(w.row) }))
}

function headOps (h: Height, root: Uint8Array): KvOp[] {
  return [{ type: 'put', space: 'meta', key: metaHeight, value: u64(h) }, { type: 'put', space: 'meta', key: metaRoot, value: root }]
}

/** A height record as stored: the certification lives in the certs space. */
type StoredHeight = Omit<HeightRecord, 'height' | 'certification'>

function encodeHeightRecord (r: StoredHeight): Uint8Array {
  return encode([2, r.stateRoot, r.receiptsRoot, r.receiptCount, r.block, r.certificate])
}

function decodeHeightRecord (h: Height, bytes: Uint8Array): Omit<HeightRecord, 'certification'> {
  const decoded = decode(bytes)
  const v = decoded.ok ? decoded.value : undefined
  if (!Array.isArray(v) || v.length !== 6 || v[0] !== 2) throw new StoreError('store/corrupt', `height ${h} record is unreadable`)
  const [, stateRoot, rRoot, receiptCount, block, certificate] = v as [number, Uint8Array, Uint8Array, number, Uint8Array | null, Uint8Array | null]
  return { height: h, stateRoot, receiptsRoot: rRoot ?? emptyReceiptsRoot, receiptCount, block, certificate }
}

/**
 * Receipts in rows of about storeReceiptPageBytes, keyed by their first index: a height of a
 * thousand small receipts is one row, not a thousand (each row costs a LevelDB op), while a height
 * of large ones still never makes one huge value.
 */
function receiptPages (receipts: readonly Uint8Array[]): Array<{ first: number, bytes: Uint8Array }> {
  const pages: Array<{ first: number, bytes: Uint8Array }> = []
  let first = 0
  while (first < receipts.length) {
    let end = first
    let size = 0
    while (end < receipts.length && (end === first || size + 4 + receipts[end]!.length <= storeReceiptPageBytes)) size += 4 + receipts[end++]!.length
    const bytes = new Uint8Array(size)
    const view = new DataView(bytes.buffer)
    let offset = 0
    for (let i = first; i < end; i++) {
      view.setUint32(offset, receipts[i]!.length)
      bytes.set(receipts[i]!, offset + 4)
      offset += 4 + receipts[i]!.length
    }
    pages.push({ first, bytes })
    first = end
  }
  return pages
}

/** Appends the receipts of one stored page to `out`; a page that does not parse is corruption. */
function unpackReceipts (h: Height, page: Uint8Array, out: Uint8Array[]): void {
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength)
  let offset = 0
  while (offset < page.length) {
    const length = offset + 4 <= page.length ? view.getUint32(offset) : -1
    if (length < 0 || offset + 4 + length > page.length) throw new StoreError('store/corrupt', `receipts of height ${h} are unreadable; run pylon store verify`)
    out.push(page.subarray(offset + 4, offset + 4 + length))
    offset += 4 + length
  }
}

/** A node hash as a short Map key (latin1: one char per byte, cheaper than hex). */
function cacheKey (hash: Uint8Array): string {
  return Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString('latin1')
}

function describe (at: { actor: ActorId, key: Uint8Array }): string {
  return `actor ${at.actor} key 0x${toHex(at.key)}`
}

const evidenceKindCodes: Record<VoteKind, number> = { notarize: 0, nullify: 1, finalize: 2 }
const evidenceKinds: readonly VoteKind[] = ['notarize', 'nullify', 'finalize']
const evidenceRowBytes = 12

/** u64 view ‖ u16 signer ‖ u8 first kind ‖ u8 second kind: byte order is view, then signer. */
function evidenceRow (key: EvidenceKey): Uint8Array {
  const { view, signer } = key
  if (typeof view !== 'bigint' || view < 0n || view >= 2n ** 64n) throw new StoreError('store/limit', `evidence view must be a u64, got ${String(view)}`)
  if (!Number.isInteger(signer) || signer < 0 || signer >= consensusMembersMax) throw new StoreError('store/limit', `evidence signer must be a member index 0..${consensusMembersMax - 1}, got ${signer}`)
  const first = evidenceKindCodes[key.first]
  const second = evidenceKindCodes[key.second]
  if (first === undefined || second === undefined) throw new StoreError('store/limit', `evidence kinds must be notarize, nullify or finalize, got ${String(key.first)} and ${String(key.second)}`)
  const row = new Uint8Array(evidenceRowBytes)
  const data = new DataView(row.buffer)
  data.setBigUint64(0, view)
  data.setUint16(8, signer)
  row[10] = first
  row[11] = second
  return row
}

function readEvidenceRow (row: Uint8Array): EvidenceKey {
  const first = evidenceKinds[row[10] ?? 255]
  const second = evidenceKinds[row[11] ?? 255]
  if (row.length !== evidenceRowBytes || first === undefined || second === undefined) throw new StoreError('store/corrupt', `evidence row key ${toHex(row)} is unreadable`)
  const data = new DataView(row.buffer, row.byteOffset, row.byteLength)
  return { view: data.getBigUint64(0), signer: data.getUint16(8), first, second }
}

function manifestKey (h: Height): Uint8Array { return concat(Uint8Array.of(0), u64(h)) }
function chunkKey (h: Height, index: number): Uint8Array { return concat(Uint8Array.of(1), u64(h), u32(index)) }

function u64 (value: bigint): Uint8Array {
  const bytes = new Uint8Array(8)
  new DataView(bytes.buffer).setBigUint64(0, BigInt(value))
  return bytes
}
function readU64 (bytes: Uint8Array): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0)
}
function u32 (value: number): Uint8Array {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setUint32(0, value)
  return bytes
}
function readU32 (bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0)
}
function concat (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const part of parts) { out.set(part, offset); offset += part.length }
  return out
}
/** The first key after every key that starts with `prefix` (the prefix never ends in 0xff: utf-8). */
function prefixEnd (prefix: Uint8Array): Uint8Array {
  const end = new Uint8Array(prefix)
  end[end.length - 1]!++
  return end
}
function utf8 (text: string): Uint8Array { return new TextEncoder().encode(text) }
function fromUtf8 (bytes: Uint8Array): string { return new TextDecoder().decode(bytes) }
