// The Store interface: everything a node keeps on disk (finalized heights, their blocks,
// certificates and receipts, actor state under a Merkle root, code by CID, the consensus WAL,
// equivocation evidence, metadata, checkpoints). Two implementations: openStore (LevelDB) and
// memoryStore (tests, sim).
// It never decides anything: consensus says what is final, the executor says what changed.

import type { VoteKind } from '../../protocol/consensus/messages.ts'
import type { ActorId, Height } from '../../protocol/ids.ts'
import type { StateWrite } from '../../protocol/receipt.ts'
import type { CheckpointManifest } from '../../protocol/state/checkpoint.ts'
import type { ReceiptProof } from '../../protocol/state/receipts-root.ts'
import type { StateProof } from '../../protocol/state/state-proof.ts'
import { PylonError } from '../core/errors.ts'

/** One storage write of the executor ({ actor, key, value }; `value: null` deletes the key). */
export type { StateWrite } from '../../protocol/receipt.ts'

/** A code blob named by its CID (a raw or dag-cbor sha2-256 CID of exactly these bytes). */
export interface CodeBlob {
  cid: string
  bytes: Uint8Array
}

/** Everything one finalized height changes. Blocks, certificates and receipts are opaque bytes here. */
export interface HeightCommit {
  /** Must be store.height + 1. */
  height: Height
  /** The finalized block, encoded (consensus owns its type). */
  block?: Uint8Array
  /** The finalization certificate, encoded. */
  certificate?: Uint8Array
  /** State writes in execution order; a later write to the same key wins. */
  writes: readonly StateWrite[]
  /** Encoded receipts in execution order; the receipts root is built over them. */
  receipts: readonly Uint8Array[]
  /** Code installed at this height, stored atomically with the height. */
  code?: readonly CodeBlob[]
}

export interface CommitResult {
  height: Height
  stateRoot: Uint8Array
  receiptsRoot: Uint8Array
}

/** What the store records for a committed height. */
export interface HeightRecord {
  height: Height
  stateRoot: Uint8Array
  receiptsRoot: Uint8Array
  receiptCount: number
  block: Uint8Array | null
  certificate: Uint8Array | null
  /** Replicas' signatures over (height, roots), added after the commit by putCertification. */
  certification: Uint8Array | null
}

export interface WalEntry {
  seq: bigint
  record: Uint8Array
}

/**
 * Where an evidence record is kept: listed by view, then signer; one record per key, so a member's
 * equivocation of one shape in one view is stored once however often peers repeat it.
 */
export interface EvidenceKey {
  view: bigint
  /** The member's index in the subnet's member list. */
  signer: number
  first: VoteKind
  second: VoteKind
}

export interface StoredEvidence {
  key: EvidenceKey
  record: Uint8Array
}

/** Where an import reads chunk bytes from: a directory (backup) or a peer (state sync). */
export interface ChunkSource {
  /** The bytes of chunk `index` of the manifest being imported; may be wrong: every chunk is checked. */
  chunk (index: number, options?: { signal?: AbortSignal }): Promise<Uint8Array>
}

export interface ImportOptions {
  signal?: AbortSignal
  /** @default false — true allows a non-empty store below manifest.height (state sync). */
  replace?: boolean
  /** What consensus needs at the imported height; its roots are not checked here (the caller verified them). */
  tip?: { receiptsRoot: Uint8Array, block: Uint8Array, certificate: Uint8Array, certification: Uint8Array }
}

export interface VerifyReport {
  ok: boolean
  height: Height
  /** The state root recorded for `height`. */
  recordedRoot: Uint8Array
  /** The root recomputed from the stored state entries alone. */
  computedRoot: Uint8Array
  entries: number
  /** The first difference found, in words, when !ok. */
  firstDifference?: string
}

export interface RangeOptions {
  /** First key included; default: the actor's first key. */
  start?: Uint8Array
  /** First key excluded; default: past the actor's last key. */
  end?: Uint8Array
  /** @default stateRangeEntriesMax — at most that many entries are returned. */
  limit?: number
  /**
   * A hint for ranges asked again and again from one start with a growing end (due timers, expired
   * history): the store also reads up to storeRangeReadAheadRows keys in [end, readAheadUntil) and
   * keeps them, current through commits, so later ranges from this start that end before the keys
   * it has not seen are answered from memory. Never changes what a range returns.
   */
  readAheadUntil?: Uint8Array
}

export interface CommitOptions {
  signal?: AbortSignal
  /**
   * Called once with the height's roots when they are known, before its batch is written (and
   * fsynced). They are a function of the committed store and the commit alone, so a crash before
   * the write leads to the same roots again: a replica may sign its certification share from them
   * while the write runs. Must not throw.
   */
  onRoots?: (roots: { stateRoot: Uint8Array, receiptsRoot: Uint8Array }) => void
}

export interface Store {
  /** The last committed height (0 for a fresh store). */
  readonly height: Height
  /** The state root after `height` (emptyRoot for a fresh store). */
  readonly stateRoot: Uint8Array

  /**
   * The value of `key` in `actor`'s storage at the latest committed batch, or undefined. Reads do
   * not wait for a commit in progress; prove() does, so its value and root belong together.
   */
  get (actor: ActorId, key: Uint8Array): Promise<Uint8Array | undefined>
  /** The values of several keys of `actor` in one read, in the order asked (undefined where absent). */
  getMany (actor: ActorId, keys: Uint8Array[]): Promise<Array<Uint8Array | undefined>>
  /** Entries of `actor` with start <= key < end in key order, at most `limit`. */
  range (actor: ActorId, options?: RangeOptions): Promise<Array<{ key: Uint8Array, value: Uint8Array }>>
  /** Every entry of `actor` in key order, read in pages (state of any size). */
  actorEntries (actor: ActorId): AsyncIterable<{ key: Uint8Array, value: Uint8Array }>

  /**
   * Applies one finalized height in ONE LevelDB batch written with { sync: true }: block,
   * certificate, state writes, trie nodes, receipts, code, roots and the new height. After a crash
   * the store is at the previous or this height, never between. Commits run one at a time.
   * Pre: commit.height === height + 1, every key/value/receipt within its limit (else StoreError,
   * nothing written). Post: height, stateRoot updated; returns the new roots.
   */
  commitHeight (commit: HeightCommit, options?: CommitOptions): Promise<CommitResult>
  /** The record of a committed height, or undefined (not committed, or before an imported checkpoint). */
  getHeight (height: Height): Promise<HeightRecord | undefined>
  /**
   * Stores the replicas' certification of a committed height's roots (synced) in a row of its own:
   * it neither waits for nor holds up commits, and getHeight(height).certification returns it once
   * this resolves. A later call replaces it. StoreError store/height for a height not in the store.
   */
  putCertification (height: Height, certification: Uint8Array): Promise<void>
  /** The stored certification of a height alone (one small row; getHeight also reads the block), or undefined. */
  certification (height: Height): Promise<Uint8Array | undefined>
  /** The encoded receipts of a committed height, in execution order. */
  receipts (height: Height): Promise<Uint8Array[]>
  /** Inclusion proof of receipt `index` of `height` against that height's receipts root. */
  proveReceipt (height: Height, index: number): Promise<ReceiptProof | undefined>

  /** Stores code under its CID (synced). Refuses bytes whose sha2-256 does not match the CID. */
  putCode (cid: string, bytes: Uint8Array): Promise<void>
  getCode (cid: string): Promise<Uint8Array | undefined>

  /**
   * Appends a consensus WAL record; returns its seq. With sync (the default) it resolves once the
   * record and every earlier one are fsynced; with { sync: false } once written (it survives a
   * process crash, not a power loss) — for records whose loss costs only a re-fetch. WAL calls are
   * ordered among themselves only: they never wait for a commit, checkpoint or import (the LevelDB
   * store keeps the WAL in a database of its own).
   */
  walAppend (record: Uint8Array, options?: { sync?: boolean }): Promise<bigint>
  /** WAL records in append order. */
  walEntries (): AsyncIterable<WalEntry>
  /** Deletes WAL records with seq < beforeSeq (synced). */
  walTruncate (beforeSeq: bigint): Promise<void>

  /**
   * Keeps one equivocation record (bytes consensus encodes and checks: protocol/consensus/evidence.ts)
   * under `key`, unless a record with that key is stored already (then returns false and writes
   * nothing). Beyond evidenceStoredMax records the lowest keys (oldest views) are dropped in the same
   * batch. Node-local like the WAL: never part of a height, kept across state sync. Written unsynced
   * unless asked (a record, not a vote: losing the last ones in a power cut loses no safety).
   * StoreError store/limit for a record over evidenceBytesMax or a key out of range.
   */
  putEvidence (key: EvidenceKey, record: Uint8Array, options?: { sync?: boolean }): Promise<boolean>
  /** Stored evidence records, highest view first (then highest signer), at most `limit` (default and at most evidenceStoredMax). */
  evidence (options?: { limit?: number }): Promise<StoredEvidence[]>
  /** How many evidence records are stored (at most evidenceStoredMax). */
  evidenceCount (): Promise<number>

  /** Node-local metadata (never part of the state root). */
  metaGet (name: string): Promise<Uint8Array | undefined>
  metaPut (name: string, value: Uint8Array): Promise<void>

  /** Inclusion or non-inclusion proof of (actor, key) against the current stateRoot. */
  prove (actor: ActorId, key: Uint8Array): Promise<StateProof>
  /** Proofs of several keys of `actor` against one state root, with the height it belongs to. */
  proveMany (actor: ActorId, keys: readonly Uint8Array[]): Promise<{ height: Height, stateRoot: Uint8Array, proofs: StateProof[] }>

  /** A checkpoint of the current height: reuses the stored one at this height or makes and stores one. */
  checkpoint (): Promise<CheckpointManifest>
  /** Stored checkpoints, newest first (at most checkpointsRetained). */
  checkpoints (): Promise<CheckpointManifest[]>
  /** Chunk `index` of the stored checkpoint at `height`. */
  checkpointChunk (height: Height, index: number): Promise<Uint8Array | undefined>
  /**
   * Fills an EMPTY store from a checkpoint: stages every chunk, checks each against the manifest's
   * hash and size, rebuilds the root and compares it with the manifest's; only then writes the state.
   * Any failure throws CheckpointError and leaves the store as it was (also after a crash mid-import).
   * With `replace` (state sync) the store may hold state below manifest.height: it is replaced
   * (state, trie, blocks, receipts, checkpoints; the WAL, code and metadata stay) once every chunk
   * is verified; a crash during that swap leaves an empty store with its WAL, which syncs again.
   * `tip` is recorded as the height record of manifest.height (block, finalization, certification).
   */
  importCheckpoint (manifest: CheckpointManifest, source: ChunkSource, options?: ImportOptions): Promise<void>

  /** Recomputes the state root from the stored entries and compares it with the recorded root. */
  verify (): Promise<VerifyReport>
  /** Idempotent. Post: the LevelDB lock is released. */
  close (): Promise<void>
}

/** Operational store errors. Codes: store/height, store/limit, store/closed, store/corrupt, store/code. */
export class StoreError extends PylonError {
  override name = 'StoreError'
}

/** A checkpoint that cannot be imported (missing or corrupt chunk, wrong root, non-empty store). */
export class CheckpointError extends PylonError {
  override name = 'CheckpointError'
}
