// Runs one subnet's pure Simplex replica over the network: recovers it from the Store's WAL, feeds it
// one event at a time, and performs its actions strictly in order (a synced WAL append before any
// later send; a finalized block committed before anything after it). It never decides anything
// the replica decides, and never lets a non-member's bytes reach the replica.

import { lpStream } from '@libp2p/utils'
import { decodeFrameLength, readFrame } from '../net/frames.ts'
import { encode } from '../../protocol/codec.ts'
import { verifyMember, membershipOf, type Membership, type Verifier } from '../../protocol/consensus/certificate.ts'
import { decodeMessage, encodeMessage, hex, type Block, type Certificate, type Message } from '../../protocol/consensus/messages.ts'
import { encodeEvidence } from '../../protocol/consensus/evidence.ts'
import { recover, replicaStatus, step, type Action, type Event, type Evidence, type ReplicaState, type ReplicaStatus } from '../../protocol/consensus/replica.ts'
import { decodeWalRecord, encodeWalRecord, walRecordView, type WalRecord } from '../../protocol/consensus/wal.ts'
import type { Height, NodeId, SubnetId } from '../../protocol/ids.ts'
import {
  consensusCommitsPendingMax, consensusFetchItemsMax, consensusFetchPeers, consensusInboundPerPeerMax, consensusInboundQueueMax, consensusLocalQueueMax,
  consensusLookupDepthMax, consensusLookupQueueMax, consensusMessageBytesMax, consensusPayloadBytesMax, consensusStreamsMax,
  consensusVerifyCacheEntriesMax, consensusWalGroupEventsMax, consensusWalPruneRecordsMin
} from '../../protocol/limits.ts'
import type { Signer } from '../../protocol/signature.ts'
import type { Subnet } from '../../protocol/subnet.ts'
import { assert } from '../core/assert.ts'
import { BoundedMap } from '../core/bounded-map.ts'
import { BoundedQueue } from '../core/bounded-queue.ts'
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/startable.ts'
import type { Net, Stream } from '../net/net.ts'
import type { Store } from '../store/store.ts'
import { decodeStoredBlock, genesisHashOf, type ConsensusApplication } from './application.ts'
import { noConsensusMetrics, type ConsensusMetrics, type ConsensusRefusal } from './consensus-metrics.ts'
import { PeerLink } from './peer-link.ts'

/** The stream protocol of one subnet: the SubnetId in the id keeps subnets on one node apart. */
export function consensusProtocolOf (subnet: SubnetId): string {
  return `/pylon/consensus/1.0.0/${subnet}`
}

export interface ConsensusDriverComponents {
  net: Net
  /** The subnet's own store: its WAL, and the finalized blocks catch-up is served from. */
  store: Store
  clock: Clock
  logger: Logger
  /** The node key; it must be one of the subnet's members. */
  signer: Signer
  application: ConsensusApplication
  metrics?: ConsensusMetrics
}

export interface ConsensusDriverInit {
  /** The validated genesis: members (signer indexes, leader order) and Δ. */
  subnet: Subnet
  /** @default subnet.genesis.params.deltaMs */
  deltaMs?: number
  /** Called once if the driver halts (a broken invariant, a failed WAL write or finalize). */
  onFatal?: (error: Error) => void
  /**
   * Called when the replica is too far behind to catch up block by block (once per target). The
   * driver then orders nothing more; the owner state-syncs the store and starts a new driver.
   */
  onStateSyncNeeded?: (need: { finalizedHeight: bigint, targetView: bigint }) => void
}

/** What the driver reports beside the replica's own status. */
export interface ConsensusDriverStatus extends ReplicaStatus {
  running: boolean
  halted?: string
  refused: Record<ConsensusRefusal, number>
  dropped: number
  walRecords: number
  walSyncs: number
  /** Catch-up requests sent, and answers served from the store. */
  fetches: number
  lookupsServed: number
  inboundQueued: number
  stateSyncNeeded?: bigint
}

interface Inbound { from: number, message: Message }

/** Longest the pump runs before yielding to the event loop (a scheduling quantum, not a protocol bound). */
const pumpSliceMs = 20

export class ConsensusDriver implements Startable {
  readonly subnetId: SubnetId
  readonly protocol: string
  readonly membership: Membership
  readonly self: number
  readonly #c: ConsensusDriverComponents
  readonly #init: ConsensusDriverInit
  readonly #log: Logger
  readonly #metrics: ConsensusMetrics
  readonly #memberIndex = new Map<NodeId, number>()
  #state: ReplicaState | undefined
  #running = false
  #halted: Error | undefined
  #abort = new AbortController()
  readonly #local = new BoundedQueue<Event>(consensusLocalQueueMax)
  readonly #inbound = new BoundedQueue<Inbound>(consensusInboundQueueMax)
  readonly #pendingFrom: number[]
  #pumping = false
  #scheduled = false
  /** The chain of application commits (finalized heights in order); never rejects. */
  #commits: Promise<void> = Promise.resolve()
  #commitsPending = 0
  /** The chain of WAL prunes, each after the commits before it; never rejects. */
  #pruning: Promise<void> = Promise.resolve()
  readonly #timers = new Set<() => void>()
  readonly #links = new Map<number, PeerLink>()
  readonly #streams = new Set<Stream>()
  /** (seq, view) of each WAL record still stored, in append order: prune maps views to seqs. */
  #wal: Array<{ seq: bigint, view: bigint }> = []
  #walSyncs = 0
  #fetches = 0
  #lookupsServed = 0
  readonly #refused: Record<ConsensusRefusal, number> = { 'non-member': 0, oversized: 0, malformed: 0, 'queue-full': 0 }
  #dropped = 0
  #stateSyncNeeded: bigint | undefined
  /** Finalized block hash → height, for serving catch-up from the store (hashes are all a peer names). */
  readonly #heightOf = new BoundedMap<string, bigint>(consensusLookupDepthMax)
  /** Heights below this one have not been indexed in #heightOf yet (filled backwards on demand). */
  #indexedFrom = 1n
  readonly #lookups = new BoundedQueue<{ to: number, hashes: Uint8Array[] }>(consensusLookupQueueMax)
  #serving = false
  readonly #verifyCache = new BoundedMap<string, true>(consensusVerifyCacheEntriesMax)
  /** Stops the metrics showing this replica's counters; set while running. */
  #unwatchReplica: (() => void) | undefined

  constructor (components: ConsensusDriverComponents, init: ConsensusDriverInit) {
    const subnet = init.subnet
    this.#c = components
    this.#init = init
    this.subnetId = subnet.id
    this.protocol = consensusProtocolOf(subnet.id)
    this.membership = membershipOf(subnet.id, subnet.memberIds)
    this.self = subnet.memberIds.indexOf(components.signer.id as NodeId)
    if (this.self < 0) throw new RangeError(`node ${components.signer.id} is not a member of subnet ${subnet.id}`)
    subnet.memberIds.forEach((id, i) => this.#memberIndex.set(id, i))
    this.#pendingFrom = subnet.memberIds.map(() => 0)
    this.#log = components.logger
    this.#metrics = components.metrics ?? noConsensusMetrics
  }

  /**
   * Which driver serves a subnet's protocol on a Net. The Net cannot unregister a protocol, so it is
   * registered once per (Net, subnet) and routed to the driver running now: a subnet's driver can
   * be stopped and a new one started (restart from the WAL) in one process.
   */
  static readonly #routes = new WeakMap<Net, Map<string, ConsensusDriver>>()

  static #route (net: Net, protocol: string, driver: ConsensusDriver): void {
    let routes = ConsensusDriver.#routes.get(net)
    if (routes === undefined) ConsensusDriver.#routes.set(net, routes = new Map())
    const registered = routes.has(protocol) || ConsensusDriver.#handled.get(net)?.has(protocol) === true
    routes.set(protocol, driver)
    if (registered) return
    let handled = ConsensusDriver.#handled.get(net)
    if (handled === undefined) ConsensusDriver.#handled.set(net, handled = new Set())
    handled.add(protocol)
    // Membership is enforced per stream, not with a PeerGate: a gate refuses whole connections,
    // and a node needs connections to non-members for discovery, gossip and the DHT.
    net.handle(protocol, async (stream, peer) => {
      const current = ConsensusDriver.#routes.get(net)?.get(protocol)
      if (current === undefined) {
        stream.abort(new Error(`no consensus driver runs for ${protocol}`))
        return
      }
      await current.#serve(stream, peer)
    }, { inboundStreamsMax: consensusStreamsMax, outboundStreamsMax: consensusStreamsMax })
  }

  static readonly #handled = new WeakMap<Net, Set<string>>()

  // ── Lifecycle ───────────────────────────────────────────────────────────────────────────────────

  async start (): Promise<void> {
    if (this.#running) return
    assert(this.#halted === undefined, 'a halted driver cannot restart: build a new one from the store')
    const { store, application } = this.#c
    const records = await this.#readWal()
    const { tip, certificate } = await application.tip()
    this.#indexedFrom = tip.height + 1n
    const config = {
      membership: this.membership,
      self: this.self,
      signer: this.#c.signer,
      genesis: genesisHashOf(this.#init.subnet),
      deltaMs: this.#init.deltaMs ?? this.#init.subnet.genesis.params.deltaMs,
      verify: this.#verifier(),
      verifyPayloads: true,
      ...(this.#init.subnet.genesis.params.catchUpBlocksMax === undefined ? {} : { catchUpBlocksMax: this.#init.subnet.genesis.params.catchUpBlocksMax })
    }
    this.#state = recover(config, records, { tip, ...(certificate === undefined ? {} : { finalizedCertificate: certificate }) })
    this.#abort = new AbortController()
    this.#running = true
    const state = this.#state
    this.#unwatchReplica = this.#metrics.watchReplica?.(this.subnetId, () => state.counters)
    // Members are dialled by node id; the genesis addresses are hints (the transport authenticates
    // the id), so a member can be reached without trusting the DHT.
    for (const member of this.#init.subnet.genesis.members) {
      if (member.nodeId !== this.#c.signer.id && member.multiaddrs !== undefined) this.#c.net.addPeerAddresses(member.nodeId, member.multiaddrs)
    }
    ConsensusDriver.#route(this.#c.net, this.protocol, this)
    this.#log.info('consensus started', { subnet: this.subnetId, self: this.self, members: this.membership.members.length, height: tip.height, view: this.#state.view, walRecords: records.length, storeHeight: store.height })
    this.#pushLocal({ type: 'start' })
  }

  async stop (): Promise<void> {
    if (!this.#running) return
    this.#running = false
    this.#unwatchReplica?.()
    this.#unwatchReplica = undefined
    if (ConsensusDriver.#routes.get(this.#c.net)?.get(this.protocol) === this) ConsensusDriver.#routes.get(this.#c.net)!.delete(this.protocol)
    this.#abort.abort(new Error('consensus driver stopped'))
    for (const cancel of this.#timers) cancel()
    this.#timers.clear()
    for (const link of this.#links.values()) link.close()
    this.#links.clear()
    for (const stream of this.#streams) stream.abort(new Error('consensus driver stopped'))
    this.#streams.clear()
    this.#local.take(this.#local.length)
    this.#inbound.take(this.#inbound.length)
    this.#pendingFrom.fill(0)
    // Let an action in flight (a WAL append, a commit) settle before the store may be closed.
    for (let i = 0; this.#pumping && i < 1000; i++) await new Promise(resolve => setImmediate(resolve))
    await this.#commits
    await this.#pruning
    this.#log.info('consensus stopped', { subnet: this.subnetId })
  }

  status (): ConsensusDriverStatus {
    assert(this.#state !== undefined, 'status() before start()')
    return {
      ...replicaStatus(this.#state),
      running: this.#running,
      ...(this.#halted === undefined ? {} : { halted: this.#halted.message }),
      refused: { ...this.#refused },
      dropped: this.#dropped,
      walRecords: this.#wal.length,
      walSyncs: this.#walSyncs,
      fetches: this.#fetches,
      lookupsServed: this.#lookupsServed,
      inboundQueued: this.#inbound.length,
      ...(this.#stateSyncNeeded === undefined ? {} : { stateSyncNeeded: this.#stateSyncNeeded })
    }
  }

  async #readWal (): Promise<WalRecord[]> {
    const records: WalRecord[] = []
    this.#wal = []
    for await (const entry of this.#c.store.walEntries()) {
      const decoded = decodeWalRecord(entry.record)
      if (!decoded.ok) {
        // Own disk, written whole in one synced batch: a bad record is corruption. Skipping it keeps
        // every other own vote (so none is signed twice); it is dropped at the next prune.
        this.#log.error('skipping an undecodable WAL record', { subnet: this.subnetId, seq: entry.seq, error: decoded.error })
        this.#wal.push({ seq: entry.seq, view: 0n })
        continue
      }
      records.push(decoded.value)
      this.#wal.push({ seq: entry.seq, view: walRecordView(decoded.value) })
    }
    return records
  }

  /** Memoizes valid signatures: certificates repeat signatures this replica already saw as votes. */
  #verifier (): Verifier {
    return (membership, signer, domain, value, signature) => {
      const key = `${signer}|${domain}|${hex(signature)}|${hex(encode(value))}`
      if (this.#verifyCache.get(key) === true) return true
      const valid = verifyMember(membership, signer, domain, value, signature)
      if (valid) this.#verifyCache.set(key, true)
      return valid
    }
  }

  // ── Events in: one at a time, local events first ────────────────────────────────────────────────

  #pushLocal (event: Event): void {
    if (!this.#running) return
    // Local events are a few per view; a full queue means the loop is wedged, which is a bug.
    assert(this.#local.push(event), `consensus local event queue full (${consensusLocalQueueMax})`)
    this.#schedule()
  }

  #pushInbound (from: number, message: Message): void {
    if (this.#pendingFrom[from]! >= consensusInboundPerPeerMax || !this.#inbound.push({ from, message })) {
      this.#refuse('queue-full')
      return
    }
    this.#pendingFrom[from]!++
    this.#schedule()
  }

  /**
   * Runs the pump from the macrotask queue, never inline: replicas talking over in-process streams
   * (or a fast loopback) would otherwise chain microtasks forever and starve timers and sockets.
   */
  #schedule (): void {
    if (this.#pumping || this.#scheduled) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      void this.#pump()
    })
  }

  async #pump (): Promise<void> {
    if (this.#pumping) return
    this.#pumping = true
    try {
      let sliceStart = performance.now()
      while (this.#running && this.#halted === undefined) {
        if (performance.now() - sliceStart > pumpSliceMs) {
          // A long burst of events: let sockets and timers run between slices.
          await new Promise(resolve => setImmediate(resolve))
          sliceStart = performance.now()
        }
        if (!await this.#group(sliceStart)) break
      }
    } catch (error) {
      this.#fail(error as Error)
    } finally {
      this.#pumping = false
      // An event queued while the pump was finding its queues empty (an application answer is a
      // microtask) found it still running and did not schedule it: schedule it now.
      if (this.#running && this.#halted === undefined && (this.#local.length > 0 || this.#inbound.length > 0)) this.#schedule()
    }
  }

  #nextEvent (): Event | undefined {
    const event = this.#local.shift()
    if (event !== undefined) return event
    const inbound = this.#inbound.shift()
    if (inbound === undefined) return undefined
    this.#pendingFrom[inbound.from]!--
    return { type: 'message', from: inbound.from, message: inbound.message }
  }

  /**
   * Steps every queued event (up to consensusWalGroupEventsMax, within the slice) as one WAL group:
   * from the first record that must be synced on, records and actions wait; at the end the records
   * are appended in order, the last one synced (LevelDB syncs its log up to it, so every earlier
   * record is durable too), and only then do the waiting actions run, in order. Own votes are
   * still durable before they are sent; a group of k votes costs one fsync instead of k, and events
   * that arrive during that fsync form the next group. Returns false when no event was queued.
   */
  async #group (sliceStart: number): Promise<boolean> {
    const records: WalRecord[] = []
    const waiting: Action[] = []
    let events = 0
    for (let event = this.#nextEvent(); event !== undefined; event = this.#nextEvent()) {
      events++
      const { actions } = step(this.#state!, event)
      for (const action of actions) {
        if (!this.#running) return true
        if (action.type === 'persist' && (action.sync || records.length > 0)) records.push(action.record)
        else if (records.length > 0) waiting.push(action)
        else await this.#perform(action)
      }
      if (events >= consensusWalGroupEventsMax || performance.now() - sliceStart > pumpSliceMs) break
    }
    if (records.length > 0) await this.#persistGroup(records)
    for (const action of waiting) {
      if (!this.#running) break
      await this.#perform(action)
    }
    return events > 0
  }

  /** Appends a group's records in order; the last is synced, which makes all of them durable. */
  async #persistGroup (records: WalRecord[]): Promise<void> {
    const started = performance.now()
    for (const [i, record] of records.entries()) {
      const sync = i === records.length - 1
      const seq = await this.#c.store.walAppend(encodeWalRecord(record), { sync })
      this.#wal.push({ seq, view: walRecordView(record) })
    }
    this.#walSyncs++
    this.#metrics.walSynced(this.subnetId, (performance.now() - started) / 1000)
  }

  #fail (error: Error): void {
    if (this.#halted !== undefined) return
    this.#halted = error
    this.#log.error('consensus halted', { subnet: this.subnetId, error: error.message, stack: error.stack })
    void this.stop()
    this.#init.onFatal?.(error)
  }

  // ── Actions out, strictly in order ──────────────────────────────────────────────────────────────

  async #perform (action: Action): Promise<void> {
    switch (action.type) {
      case 'persist': return await this.#persist(action.record, action.sync)
      case 'send': return this.#send(action.to, encodeMessage(action.message))
      case 'setTimer': {
        const { view, timer } = action
        const cancel = this.#c.clock.setTimer(action.delayMs, () => {
          this.#timers.delete(cancel)
          this.#pushLocal({ type: 'timeout', view, timer })
        })
        this.#timers.add(cancel)
        return
      }
      case 'propose': return this.#propose(action.view, action.parent, action.height)
      case 'verify': return this.#verifyPayload(action.view, action.hash, action.block)
      case 'finalized': return await this.#finalize(action.height, action.hash, action.block, action.certificate)
      case 'fetch': {
        this.#fetches++
        const frame = encodeMessage(action.request)
        const peers = [...action.peers].sort(() => Math.random() - 0.5).slice(0, consensusFetchPeers)
        for (const peer of peers) this.#send(peer, frame)
        return
      }
      case 'lookup': {
        if (!this.#lookups.push({ to: action.to, hashes: action.hashes })) return // the asker retries
        void this.#serveLookups()
        return
      }
      case 'prune': return this.#schedulePrune(action.belowView)
      case 'evidence': {
        const { signer, view, first, second } = action.evidence
        this.#metrics.evidence(this.subnetId)
        this.#log.warn('equivocation evidence', { subnet: this.subnetId, signer, member: this.membership.members[signer], view, first: first.kind, second: second.kind })
        this.#keepEvidence(action.evidence)
        return
      }
      case 'stateSyncNeeded': {
        this.#stateSyncNeeded = action.target.view
        const hook = this.#init.onStateSyncNeeded
        this.#log[hook === undefined ? 'error' : 'warn']('replica is too far behind to catch up block by block: state sync from a checkpoint is needed', {
          subnet: this.subnetId, finalizedHeight: action.finalizedHeight, targetView: action.target.view, handled: hook !== undefined
        })
        hook?.({ finalizedHeight: action.finalizedHeight, targetView: action.target.view })
        return
      }
    }
  }

  /**
   * Stores an equivocation record in the subnet's store (GET /v1/subnets/:id/evidence reads it back)
   * without holding up the actions after it, a vote's send among them: unsynced (a record, not a
   * vote) and never awaited. A failed write is logged; consensus goes on without it.
   */
  #keepEvidence (evidence: Evidence): void {
    const { signer, view, first, second } = evidence
    const record = encodeEvidence(this.subnetId, evidence)
    this.#c.store.putEvidence({ view, signer, first: first.kind, second: second.kind }, record, { sync: false }).catch((error: unknown) => {
      this.#log.error('cannot store equivocation evidence', { subnet: this.subnetId, signer, view, error: (error as Error).message })
    })
  }

  /**
   * Own votes are fsynced before the next action (the send). Certificates are written unsynced:
   * LevelDB keeps the write order, so the next synced vote makes them durable too, and losing the
   * last ones in a power cut costs only a re-fetch, never a second vote.
   */
  /**
   * Hands a finalized block to the application in height order, without holding up the votes that
   * follow it: commits run one at a time on their own chain, at most consensusCommitsPendingMax
   * ahead. A prune (which drops WAL records the commits make redundant) runs after the chain.
   */
  async #finalize (height: bigint, hash: Uint8Array, block: Block, certificate: Certificate): Promise<void> {
    if (this.#commitsPending >= consensusCommitsPendingMax) await this.#commits
    this.#commitsPending++
    this.#commits = this.#commits.then(async () => {
      if (this.#halted !== undefined) return
      try {
        await this.#c.application.finalize(height, block, certificate)
      } catch (error) {
        this.#fail(new Error(`the application could not commit finalized height ${height}: ${(error as Error).message}`, { cause: error }))
        return
      } finally {
        this.#commitsPending--
      }
      this.#heightOf.set(hex(hash), height)
      this.#metrics.finalized(this.subnetId, height)
    })
  }

  async #persist (record: WalRecord, sync: boolean): Promise<void> {
    const started = performance.now()
    const seq = await this.#c.store.walAppend(encodeWalRecord(record), { sync })
    if (sync) {
      this.#walSyncs++
      this.#metrics.walSynced(this.subnetId, (performance.now() - started) / 1000)
    }
    this.#wal.push({ seq, view: walRecordView(record) })
  }

  /**
   * Prunes once every height finalized so far is committed (before that, a restart needs those
   * records to finalize them again), on a chain of its own: the pump used to wait for the commits
   * here, so every finalization held the next votes behind the execution of its block.
   */
  #schedulePrune (belowView: bigint): void {
    const committed = this.#commits
    this.#pruning = this.#pruning.then(async () => {
      await committed
      if (this.#running) await this.#prune(belowView)
    }).catch(error => { this.#fail(error as Error) })
  }

  /** Truncates the WAL prefix below `belowView`, once enough records are redundant to be worth a sync. */
  async #prune (belowView: bigint): Promise<void> {
    if (this.#halted !== undefined) return
    let keepFrom = this.#wal.findIndex(r => r.view >= belowView)
    if (keepFrom < 0) keepFrom = this.#wal.length
    if (keepFrom < consensusWalPruneRecordsMin) return
    const beforeSeq = keepFrom < this.#wal.length ? this.#wal[keepFrom]!.seq : this.#wal[keepFrom - 1]!.seq + 1n
    await this.#c.store.walTruncate(beforeSeq)
    this.#wal = this.#wal.slice(keepFrom)
  }

  #send (to: number | 'all', frame: Uint8Array): void {
    if (to !== 'all') {
      if (to !== this.self) this.#link(to).send(frame)
      return
    }
    for (let i = 0; i < this.membership.members.length; i++) if (i !== this.self) this.#link(i).send(frame)
  }

  #link (index: number): PeerLink {
    let link = this.#links.get(index)
    if (link === undefined) {
      link = new PeerLink({ net: this.#c.net, clock: this.#c.clock, logger: this.#log }, {
        peer: this.membership.members[index] as NodeId,
        protocol: this.protocol,
        onDrop: (reason, frames) => {
          this.#dropped += frames
          this.#metrics.dropped(this.subnetId, reason, frames)
        }
      })
      this.#links.set(index, link)
    }
    return link
  }

  #propose (view: bigint, parent: Uint8Array, height: bigint): void {
    this.#c.application.propose(parent, height, { signal: this.#abort.signal }).then(
      payload => { this.#pushLocal({ type: 'payload', view, payload }) },
      // No payload: the view's timers nullify it, as for a silent leader.
      error => { if (this.#running) this.#log.warn('application could not propose', { subnet: this.subnetId, view, height, error: (error as Error).message }) }
    )
  }

  #verifyPayload (view: bigint, hash: Uint8Array, block: Block): void {
    this.#c.application.verify(block, { signal: this.#abort.signal }).then(
      valid => { this.#pushLocal({ type: 'verified', view, block: hash, valid: valid === true }) },
      // An exception is not a verdict: leave the view to its timers rather than refuse a valid block.
      error => { if (this.#running) this.#log.warn('application could not verify a proposal', { subnet: this.subnetId, view, error: (error as Error).message }) }
    )
  }

  // ── Catch-up served from the store ──────────────────────────────────────────────────────────────

  async #serveLookups (): Promise<void> {
    if (this.#serving) return
    this.#serving = true
    try {
      for (let item = this.#lookups.shift(); item !== undefined && this.#running; item = this.#lookups.shift()) {
        const blocks = await this.#storedBlocks(item.hashes)
        if (blocks.length === 0 || !this.#running) continue
        this.#lookupsServed++
        this.#send(item.to, encodeMessage({ kind: 'blocks', blocks }))
      }
    } catch (error) {
      this.#log.warn('could not serve blocks from the store', { subnet: this.subnetId, error: (error as Error).message })
    } finally {
      this.#serving = false
    }
  }

  /** Each named finalized block and its ancestors (child first), within one message's bounds. */
  async #storedBlocks (hashes: Uint8Array[]): Promise<Block[]> {
    const blocks: Block[] = []
    let bytes = 0
    for (const hash of hashes.slice(0, consensusFetchItemsMax)) {
      const found = await this.#heightOfHash(hex(hash))
      for (let h = found; h !== undefined && h >= 1n && blocks.length < consensusFetchItemsMax; h--) {
        const record = await this.#c.store.getHeight(h as Height)
        const stored = record?.block == null ? undefined : decodeStoredBlock(record.block)
        if (stored === undefined || !stored.ok || bytes + stored.value.block.payload.length > consensusPayloadBytesMax) break
        blocks.push(stored.value.block)
        bytes += stored.value.block.payload.length
      }
    }
    assert(bytes <= consensusMessageBytesMax, 'a blocks answer fits one message')
    return blocks
  }

  /** Finds a finalized block's height, indexing the store backwards (at most consensusLookupDepthMax heights). */
  async #heightOfHash (key: string): Promise<bigint | undefined> {
    const known = this.#heightOf.get(key)
    if (known !== undefined) return known
    const floor = BigInt(this.#c.store.height) - BigInt(consensusLookupDepthMax) + 1n
    while (this.#indexedFrom > 1n && this.#indexedFrom > floor && this.#running) {
      const h = this.#indexedFrom - 1n
      const record = await this.#c.store.getHeight(h as Height)
      this.#indexedFrom = h
      if (record?.block == null) break
      const stored = decodeStoredBlock(record.block)
      if (!stored.ok) break
      const storedKey = hex(stored.value.hash)
      this.#heightOf.set(storedKey, h)
      if (storedKey === key) return h
    }
    return undefined
  }

  // ── Streams in: members only, bounded frames, garbage closes the stream ─────────────────────────

  async #serve (stream: Stream, peer: NodeId): Promise<void> {
    const from = this.#memberIndex.get(peer)
    if (!this.#running || from === undefined || from === this.self) {
      if (from === undefined) this.#refuse('non-member')
      stream.abort(new Error(from === undefined ? `${peer} is not a member of subnet ${this.subnetId}` : 'consensus driver not running'))
      return
    }
    this.#streams.add(stream)
    const lp = lpStream(stream, { lengthDecoder: decodeFrameLength, maxDataLength: consensusMessageBytesMax, maxBufferSize: consensusMessageBytesMax + 64 * 1024 })
    try {
      for (;;) {
        const frame = await readFrame(lp, this.#abort.signal)
        if (frame === 'end') return
        if (frame === 'oversized' || frame === 'malformed') {
          this.#refuse(frame)
          stream.abort(new Error(`${frame} frame length`))
          return
        }
        const message = decodeMessage(frame)
        if (!message.ok) {
          this.#refuse('malformed')
          this.#log.debug('malformed consensus frame; closing the stream', { subnet: this.subnetId, peer, error: message.error })
          stream.abort(new Error(`malformed consensus message: ${message.error}`))
          return
        }
        if (!this.#running) return
        this.#pushInbound(from, message.value)
      }
    } finally {
      this.#streams.delete(stream)
    }
  }

  #refuse (reason: ConsensusRefusal): void {
    this.#refused[reason]++
    this.#metrics.refused(this.subnetId, reason)
  }
}
