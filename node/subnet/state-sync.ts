// State sync of one subnet's store from its members: find a checkpoint above the store's height
// whose state root carries a state certificate of 2f+1 members, prove its height's block with a
// finalization, fetch every chunk (hash-checked on arrival, another member asked on failure) and
// import it in place of the old height. It never uses a byte it has not verified against the
// certificate, the finalization or the manifest's hashes, and never writes outside the store.

import { blockHash, bytesEqual, hex } from '../../protocol/consensus/messages.ts'
import { membershipOf, verifyCertificate as verifyFinalization } from '../../protocol/consensus/certificate.ts'
import { decodeCertificate, encodeCertificate, verifyCertificate, type StateCertificate } from '../../protocol/certification.ts'
import type { Height, NodeId } from '../../protocol/ids.ts'
import { stateSyncChunksInFlightMax, stateSyncPeerFailuresMax } from '../../protocol/limits.ts'
import { err, ok, type Result } from '../../protocol/result.ts'
import { manifestCid, type CheckpointManifest } from '../../protocol/state/checkpoint.ts'
import { sha256 } from '../../protocol/state/sha256.ts'
import type { FinalizedTip } from '../../protocol/consensus/replica.ts'
import type { Subnet } from '../../protocol/subnet.ts'
import { PylonError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { Net } from '../net/net.ts'
import type { Store } from '../store/store.ts'
import { decodeStoredBlock, decodeStoredCertificate, encodeStoredBlock } from '../consensus/application.ts'
import { requestCheckpoints, requestChunk, requestTip, type StateSyncRefusal, type StateSyncRequest, type TipProof } from './state-sync-protocol.ts'

/** Why a peer's answer was not used (counted per peer and in metrics). */
export type StateSyncFault = 'unreachable' | 'bad-list' | 'bad-certificate' | 'uncertified-manifest' | 'bad-tip' | 'bad-chunk' | 'missing-chunk'

export interface StateSyncMetrics {
  /** A member's answer was refused while syncing. */
  fault (fault: StateSyncFault): void
  /** A verified chunk arrived. */
  chunk (bytes: number): void
  /** A sync finished: the imported height and how long it took. */
  synced (height: bigint, seconds: number): void
  /** This node answered a member's request (server side). */
  served (kind: StateSyncRequest['kind'], bytes: number): void
  /** This node refused a stream (server side). */
  refused (reason: StateSyncRefusal): void
}

export const noStateSyncMetrics: StateSyncMetrics = { fault: () => {}, chunk: () => {}, synced: () => {}, served: () => {}, refused: () => {} }

/** Where a sync stands, for logs, metrics and status. */
export interface StateSyncProgress {
  phase: 'idle' | 'listing' | 'fetching' | 'done' | 'failed'
  /** The checkpoint being fetched (or fetched). */
  height?: bigint
  chunksDone: number
  chunksTotal: number
  bytes: number
  /** Answers refused by kind, over this sync's attempts. */
  faults: Partial<Record<StateSyncFault, number>>
  attempts: number
  error?: string
}

export interface StateSyncResult {
  manifest: CheckpointManifest
  tip: FinalizedTip
  certificate: StateCertificate
  chunks: number
  bytes: number
  seconds: number
  /** Members whose chunks were used. */
  peers: NodeId[]
}

/** No certified checkpoint above the store could be fetched from any member; a retry may succeed. */
export class StateSyncError extends PylonError {
  override name = 'StateSyncError'
}

export interface StateSyncComponents {
  net: Net
  logger: Logger
  metrics?: StateSyncMetrics
}

interface Candidate {
  manifest: CheckpointManifest
  certificate: StateCertificate
  /** Members that offered exactly this manifest (same CID). */
  peers: NodeId[]
}

export class StateSync {
  readonly subnet: Subnet
  readonly #c: StateSyncComponents
  readonly #metrics: StateSyncMetrics
  readonly #self: NodeId
  #progress: StateSyncProgress = { phase: 'idle', chunksDone: 0, chunksTotal: 0, bytes: 0, faults: {}, attempts: 0 }
  /** Failures per peer in the current attempt: past stateSyncPeerFailuresMax a peer is skipped. */
  #failures = new Map<NodeId, number>()

  constructor (subnet: Subnet, self: NodeId, components: StateSyncComponents) {
    this.subnet = subnet
    this.#self = self
    this.#c = components
    this.#metrics = components.metrics ?? noStateSyncMetrics
  }

  progress (): StateSyncProgress {
    return { ...this.#progress, faults: { ...this.#progress.faults } }
  }

  /**
   * One attempt: imports the highest certified checkpoint above `store.height` that some member
   * can serve, replacing the store's state (importCheckpoint with replace: the WAL stays). Pre: no
   * driver or service uses the store. Throws StateSyncError (store unchanged) when none could be.
   */
  async syncInto (store: Store, options: { signal?: AbortSignal } = {}): Promise<StateSyncResult> {
    const started = performance.now()
    this.#failures = new Map()
    this.#progress = { ...this.#progress, phase: 'listing', chunksDone: 0, chunksTotal: 0, bytes: 0, attempts: this.#progress.attempts + 1 }
    delete this.#progress.error
    delete this.#progress.height
    try {
      const candidates = await this.#candidates(BigInt(store.height), options.signal)
      if (candidates.length === 0) throw new StateSyncError('state-sync/none', `no member offers a certified checkpoint above height ${store.height}`, { retryable: true })
      let last = ''
      for (const candidate of candidates) {
        options.signal?.throwIfAborted()
        const imported = await this.#tryCandidate(store, candidate, options.signal)
        if (imported.ok) {
          const seconds = (performance.now() - started) / 1000
          this.#progress.phase = 'done'
          this.#metrics.synced(BigInt(candidate.manifest.height), seconds)
          return { manifest: candidate.manifest, tip: imported.value, certificate: candidate.certificate, chunks: candidate.manifest.chunks.length, bytes: this.#progress.bytes, seconds, peers: candidate.peers }
        }
        last = imported.error
        this.#c.logger.warn('state sync: checkpoint refused, trying the next', { height: candidate.manifest.height, error: imported.error })
      }
      throw new StateSyncError('state-sync/failed', `no certified checkpoint could be fetched: ${last}`, { retryable: true })
    } catch (error) {
      this.#progress.phase = 'failed'
      this.#progress.error = (error as Error).message
      throw error
    }
  }

  /** Asks every other member for its checkpoints; keeps those whose root a valid state certificate names, best first. */
  async #candidates (above: bigint, signal?: AbortSignal): Promise<Candidate[]> {
    const peers = this.subnet.memberIds.filter(id => id !== this.#self)
    const lists = await Promise.all(peers.map(async peer => {
      try {
        const offers = await requestCheckpoints(this.#c.net, peer, this.subnet.id, signal)
        if (!offers.ok) this.#fault(peer, 'bad-list', offers.error)
        return { peer, offers: offers.ok ? offers.value : [] }
      } catch (error) {
        this.#fault(peer, 'unreachable', (error as Error).message)
        return { peer, offers: [] }
      }
    }))
    // A valid certificate is the subnet's word on a height, whoever relayed it: collect them first.
    const certified = new Map<bigint, StateCertificate>()
    for (const { peer, offers } of lists) {
      for (const offer of offers) {
        // Heights at or below the store are of no use: their signatures are not worth checking.
        if (offer.certification === null || BigInt(offer.manifest.height) <= above || certified.has(BigInt(offer.manifest.height))) continue
        const cert = this.#checkCertification(offer.certification, offer.manifest.height)
        if (cert.ok) certified.set(BigInt(offer.manifest.height), cert.value)
        else this.#fault(peer, 'bad-certificate', cert.error)
      }
    }
    const byCid = new Map<string, Candidate>()
    for (const { peer, offers } of lists) {
      for (const { manifest } of offers) {
        if (BigInt(manifest.height) <= above) continue
        const certificate = certified.get(BigInt(manifest.height))
        if (certificate === undefined) continue // maybe certified later; not usable now
        if (!bytesEqual(certificate.state.stateRoot, manifest.stateRoot)) {
          this.#fault(peer, 'uncertified-manifest', `manifest of height ${manifest.height} has root ${hex(manifest.stateRoot)}, the certificate says ${hex(certificate.state.stateRoot)}`)
          continue
        }
        const cid = manifestCid(manifest).toString()
        const known = byCid.get(cid)
        if (known === undefined) byCid.set(cid, { manifest, certificate, peers: [peer] })
        else if (!known.peers.includes(peer)) known.peers.push(peer)
      }
    }
    return [...byCid.values()].sort((a, b) => Number(BigInt(b.manifest.height) - BigInt(a.manifest.height)) || b.peers.length - a.peers.length)
  }

  #checkCertification (bytes: Uint8Array, height: Height): Result<StateCertificate> {
    const decoded = decodeCertificate(bytes)
    if (!decoded.ok) return decoded
    const valid = verifyCertificate(decoded.value, this.subnet)
    if (!valid.ok) return valid
    if (decoded.value.state.height !== BigInt(height)) return err(`certificate is for height ${decoded.value.state.height}, the manifest for ${height}`)
    return ok(decoded.value)
  }

  async #tryCandidate (store: Store, candidate: Candidate, signal?: AbortSignal): Promise<Result<FinalizedTip>> {
    const { manifest } = candidate
    const proven = await this.#provenTip(manifest.height, candidate.peers, signal)
    if (!proven.ok) return proven
    this.#progress = { ...this.#progress, phase: 'fetching', height: BigInt(manifest.height), chunksDone: 0, chunksTotal: manifest.chunks.length, bytes: 0 }
    this.#c.logger.info('state sync: fetching a certified checkpoint', { height: manifest.height, chunks: manifest.chunks.length, entries: manifest.entries, peers: candidate.peers.length })
    const peers = candidate.peers
    // The import asks for chunks in order; the next few are already on their way (from different
    // members, round-robin), so the network and the store's staging writes overlap.
    const ahead = new Map<number, Promise<Uint8Array>>()
    const fetch = (index: number): void => {
      if (index >= manifest.chunks.length || ahead.has(index)) return
      const pending = this.#fetchChunk(manifest, index, peers, signal)
      pending.catch(() => {}) // awaited (and rethrown) when the import reaches it; never unhandled
      ahead.set(index, pending)
    }
    const source = {
      chunk: async (index: number): Promise<Uint8Array> => {
        for (let i = index; i < index + stateSyncChunksInFlightMax; i++) fetch(i)
        const bytes = await ahead.get(index)!
        ahead.delete(index)
        return bytes
      }
    }
    try {
      await store.importCheckpoint(manifest, source, {
        replace: true,
        ...(signal === undefined ? {} : { signal }),
        tip: { receiptsRoot: candidate.certificate.state.receiptsRoot, block: proven.value.block, certificate: proven.value.certificate, certification: encodeCertificate(candidate.certificate) }
      })
    } catch (error) {
      if (signal?.aborted === true) throw error
      return err(`import of height ${manifest.height}: ${(error as Error).message}`)
    }
    return ok(proven.value.tip)
  }

  /**
   * The block at `height`, proven final: a run of blocks from it, each the parent of the next, the
   * last named by a finalization of 2f+1 members. Asks the manifest's peers first, then the others.
   */
  async #provenTip (height: Height, preferred: NodeId[], signal?: AbortSignal): Promise<Result<{ tip: FinalizedTip, block: Uint8Array, certificate: Uint8Array }>> {
    const others = this.subnet.memberIds.filter(id => id !== this.#self && !preferred.includes(id))
    let last = 'no member could prove it'
    for (const peer of [...preferred, ...others]) {
      if (this.#skipped(peer)) continue
      let answer: Result<TipProof | undefined>
      try {
        answer = await requestTip(this.#c.net, peer, this.subnet.id, height, signal)
      } catch (error) {
        signal?.throwIfAborted()
        this.#fault(peer, 'unreachable', (error as Error).message)
        continue
      }
      if (answer.ok && answer.value === undefined) continue // it has no proof (pruned, or a long run): not a fault
      const checked = answer.ok ? this.#checkTip(height, answer.value!) : answer
      if (checked.ok) return checked
      last = checked.error
      this.#fault(peer, 'bad-tip', checked.error)
    }
    return err(`the block of height ${height}: ${last}`)
  }

  #checkTip (height: Height, proof: TipProof): Result<{ tip: FinalizedTip, block: Uint8Array, certificate: Uint8Array }> {
    let first: { tip: FinalizedTip, block: Uint8Array } | undefined
    let previous: Uint8Array | undefined
    for (const [i, bytes] of proof.blocks.entries()) {
      const decoded = decodeStoredBlock(bytes)
      if (!decoded.ok) return err(`tip proof block ${i}: ${decoded.error}`)
      const { block, hash } = decoded.value
      if (block.subnet !== this.subnet.id) return err(`tip proof block ${i} is of subnet ${block.subnet}`)
      if (block.height !== BigInt(height) + BigInt(i)) return err(`tip proof block ${i} has height ${block.height}, expected ${BigInt(height) + BigInt(i)}`)
      if (previous !== undefined && !bytesEqual(block.parent, previous)) return err(`tip proof block ${i} does not extend block ${i - 1}`)
      if (first === undefined) first = { tip: { height: block.height, view: block.view, hash }, block: encodeStoredBlock(block) }
      previous = blockHash(block)
    }
    const certificate = decodeStoredCertificate(proof.certificate)
    if (!certificate.ok) return err(`tip proof: ${certificate.error}`)
    if (!bytesEqual(certificate.value.block, previous)) return err('tip proof: the finalization names another block than the last of the run')
    const valid = verifyFinalization(membershipOf(this.subnet.id, this.subnet.memberIds), certificate.value)
    if (!valid.ok) return err(`tip proof: ${valid.error}`)
    return ok({ ...first!, certificate: proof.certificate })
  }

  /** Chunk `index`, checked against the manifest's size and sha256; members in turn, a bad one counted and skipped. */
  async #fetchChunk (manifest: CheckpointManifest, index: number, peers: NodeId[], signal?: AbortSignal): Promise<Uint8Array> {
    const expected = manifest.chunks[index]
    if (expected === undefined) throw new StateSyncError('state-sync/chunk', `chunk ${index} is not in the manifest`)
    const problems: string[] = []
    for (let turn = 0; turn < peers.length; turn++) {
      const peer = peers[(index + turn) % peers.length]!
      if (this.#skipped(peer)) continue
      let bytes: Uint8Array
      try {
        bytes = await requestChunk(this.#c.net, peer, this.subnet.id, { height: manifest.height, index }, signal)
      } catch (error) {
        signal?.throwIfAborted()
        this.#fault(peer, 'unreachable', (error as Error).message)
        problems.push(`${peer}: ${(error as Error).message}`)
        continue
      }
      if (bytes.length === 0) {
        this.#fault(peer, 'missing-chunk', `chunk ${index} of height ${manifest.height} is gone`)
        problems.push(`${peer}: does not hold it`)
        continue
      }
      if (bytes.length !== expected.bytes || !bytesEqual(sha256(bytes), expected.hash)) {
        this.#fault(peer, 'bad-chunk', `chunk ${index}: ${bytes.length} bytes hashing to ${hex(sha256(bytes)).slice(0, 16)}…, the manifest says ${expected.bytes} bytes, ${hex(expected.hash).slice(0, 16)}…`)
        problems.push(`${peer}: sent a chunk that fails its hash`)
        continue
      }
      this.#progress.chunksDone++
      this.#progress.bytes += bytes.length
      this.#metrics.chunk(bytes.length)
      return bytes
    }
    throw new StateSyncError('state-sync/chunk', `chunk ${index} of height ${manifest.height}: no member served it intact (${problems.join('; ') || 'every member skipped'})`)
  }

  #skipped (peer: NodeId): boolean {
    return (this.#failures.get(peer) ?? 0) >= stateSyncPeerFailuresMax
  }

  #fault (peer: NodeId, fault: StateSyncFault, detail: string): void {
    this.#failures.set(peer, (this.#failures.get(peer) ?? 0) + 1)
    this.#progress.faults[fault] = (this.#progress.faults[fault] ?? 0) + 1
    this.#metrics.fault(fault)
    this.#c.logger.warn('state sync: a member\'s answer was not used', { peer, fault, detail })
  }
}

/** Progress as JSON (the node status API and `pylon status`): the height as a decimal string. */
export function progressJson (progress: StateSyncProgress): Record<string, unknown> {
  return { ...progress, ...(progress.height === undefined ? {} : { height: progress.height.toString() }) }
}
