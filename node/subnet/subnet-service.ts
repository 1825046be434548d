// One subnet as one replicated computer: the ConsensusApplication the driver calls (mempool batch →
// proposal; payload check; finalized block → install/update/upgrade/delete → executeBlock → one
// store commit), then certification (sign the roots, gather 2f+1 member shares, store the
// certificate) and certified answers to waiting clients; plus read-only queries on committed state.
// Everything that decides state is a function of the block and the committed store alone; the
// local clock is read only to propose and to bound a proposal's time in verify. It never touches
// the network itself: the manager hands in how to publish shares and fetch code.

import { rawCidOf } from '../../protocol/codec.ts'
import { actorIdOf, actorIndexOf, height as toHeight, subnetOfActorId, type ActorId, type Height, type NodeId, type SubnetId } from '../../protocol/ids.ts'
import { checkExpiry, checksSignature, decodeIngress, ingressIdOf, selectBlockIngress, subnetOfIngress, type Ingress, type IngressError, type IngressId, type RequestId } from '../../protocol/ingress.ts'
import {
  actorCodeBytesMax, memberCertificateRequestHeightsMax, subnetBlockIngressMax, subnetCertificateAsksMax, subnetCertifyOrphanLagHeights, subnetBlockPayloadBytesMax, subnetProposeIdleWaitPercentOfDelta, subnetBlockTimeDriftMs, subnetCertifyHeightsMax,
  subnetHistoryPrunePerBlockMax, subnetOutboxDeliverPerBlockMax, subnetUncertifiedHeightsCachedMax, subnetOutboxQueueMax, subnetResultsMax, subnetTimersPerBlockMax, subnetWaitersMax,
  xnetAckPrunePerBlockMax, xnetBlockBytesMax, xnetCertificateWaitMs, xnetSliceBytesMax, xnetSliceMessagesMax, xnetSlicesPerBlockMax, xnetStreamMessagesMax
} from '../../protocol/limits.ts'
import { decodeReceipt, encodeReceipt, type ActorMessage, type BlockContext, type OutboxMessage, type Receipt, type StateWrite } from '../../protocol/receipt.ts'
import { err, ok, type Result } from '../../protocol/result.ts'
import type { Signer } from '../../protocol/signature.ts'
import { encodeGenesis, type Subnet } from '../../protocol/subnet.ts'
import {
  assembleCertificate, decodeCertificate, encodeCertificate, signCertification, verifyCertificate, verifyCertificationShare,
  type CertificationShare, type CertifiedResponse, type CertifiedState, type StateCertificate
} from '../../protocol/certification.ts'
import { decode, encode, sha256Bytes } from '../../protocol/codec.ts'
import type { Block, Certificate } from '../../protocol/consensus/messages.ts'
import { proveReceipts } from '../../protocol/state/receipts-root.ts'
import { assert } from '../core/assert.ts'
import { BoundedMap } from '../core/bounded-map.ts'
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import { encodeStoredBlock, encodeStoredCertificate, genesisHashOf, tipFromStore, type ApplicationTip, type ConsensusApplication } from '../consensus/application.ts'
import { Mempool, type MempoolRefusal } from '../ingress/mempool.ts'
import { executeBlock, executeQuery, type ExecutionState } from '../runtime/executor.ts'
import type { ActorLoader, CompiledActor } from '../runtime/loader.ts'
import { MemoryState, preloadState } from '../runtime/state-view.ts'
import type { Store } from '../store/store.ts'
import { decodePayload, encodePayload, type BlockPayload } from './payload.ts'
import type { SubnetMetrics } from './subnet-metrics.ts'
import { ReplayHistory, type HistoryChange, type HistoryRow } from './replay-history.ts'
import {
  actorIndexOfKey, decodeActorRecord, decodeTimer, decodeU64, encodeActorRecord, encodeHistoryRow, encodeTimer, encodeU64, keysAfter,
  systemActorOf, systemKeys, timersEnd, type ActorRecord, type Timer
} from './system-state.ts'
import {
  answerOf, decodeActorCall, decodeSlice, encodeActorCall, encodeSlice, methodRun, streamKeys, verifySlice,
  type ActorCall, type StreamSlice, type VerifiedSlice
} from '../../protocol/xnet.ts'

/** How the service reaches other members; the manager implements it over Net, tests with fakes. */
export interface SubnetTransport {
  /** Sends this replica's certification share to the other members (best effort). */
  publishShare (share: Uint8Array): Promise<void>
  /** Code bytes by raw CID from `peer`, or undefined; the service checks the CID itself. */
  fetchCode? (peer: NodeId, cid: string, options: { signal?: AbortSignal }): Promise<Uint8Array | undefined>
  /** Asks the other members for their stored certificates of these heights (committed here while their shares were lost: a restart, a catch-up). */
  requestCertificates? (heights: bigint[]): void
  /** Sends a stored certificate to the member that asked for it. */
  sendCertificate? (to: NodeId, certificate: Uint8Array): void
}

/** Where verified slices of other subnets' streams to this one wait for a proposal (node/subnet/xnet-links.ts). */
export interface XnetSource {
  /** The latest verified slice from each sending subnet. */
  slices (): Iterable<{ slice: StreamSlice, verified: VerifiedSlice }>
  /** Calls `listener` when a slice with news arrives; returns the unsubscribe. */
  onSlice (listener: () => void): () => void
}

export interface SubnetServiceInit {
  /**
   * How long an idle leader waits for a first envelope before proposing an empty block.
   * @default Δ × subnetProposeIdleWaitPercentOfDelta / 100 — see that limit; tests that drive
   * heights by hand pass 0.
   */
  proposeIdleWaitMs?: number
}

export interface SubnetServiceComponents {
  store: Store
  loader: ActorLoader
  signer: Signer
  clock: Clock
  logger: Logger
  transport: SubnetTransport
  /** The subnet's mempool; made here when absent. */
  mempool?: Mempool
  metrics?: SubnetMetrics
  /** Hears what each message of a committed height did (node/watch streams it to clients). */
  changes?: ChangeSink
  /** Slices of other subnets' streams to this one, for proposals. */
  xnet?: XnetSource
}

/** What one executed message of a committed height did, for watchers (nothing here is hashed or certified). */
export interface MessageChange {
  actor: ActorId
  /** Receipt index within the height. */
  index: number
  method: string
  /** The client principal, the sending actor (outbox delivery), or the installer (init). */
  caller: string
  ok: boolean
  /** Keys the message set or deleted, ascending (none when it failed; every key for a delete). */
  changedKeys: Uint8Array[]
}

/** Where the service reports committed heights; called after the commit, never awaited, must not throw. */
export interface ChangeSink {
  /** Whether anyone watches an actor of this subnet (else per-message keys are not collected). */
  watching (subnet: SubnetId): boolean
  committed (subnet: SubnetId, height: Height, changes: MessageChange[]): void
}

/** What a finalized envelope came to: the answer a waiting client gets. */
export interface IngressResult {
  status: 'certified' | 'skipped'
  ingressId: IngressId
  requestId: RequestId
  subnet: SubnetId
  height: Height
  /** Receipt index within the height (certified only). */
  index?: number
  actor?: ActorId
  receipt?: Receipt
  /** The certified response (certified only). */
  certified?: CertifiedResponse
  /** Why the block left it out (skipped only). */
  reason?: string
}

export interface QueryAnswer {
  receipt: Receipt
  height: Height
}

export type SubmitRefusal = MempoolRefusal
export interface SubnetInfo {
  id: SubnetId
  name: string
  members: readonly NodeId[]
  n: number
  f: number
  quorum: number
  height: Height
  stateRoot: Uint8Array
  certifiedHeight: Height
}

/** An actor as the API shows it. */
export interface ActorInfo extends ActorRecord {
  actor: ActorId
  subnet: SubnetId
}

interface PendingResult {
  height: Height
  index: number
  actor: ActorId
  receipt: Receipt
  ingressId: IngressId
  requestId: RequestId
}

type Step =
  | { kind: 'deliver', message: ActorCall }
  | { kind: 'timer', timer: Timer }
  | { kind: 'ingress', ingress: Ingress }

export class SubnetService implements ConsensusApplication {
  readonly subnet: Subnet
  readonly mempool: Mempool
  readonly #c: SubnetServiceComponents
  readonly #system: ActorId
  readonly #memberIndex: number
  readonly #genesisHash: Uint8Array
  /** The signed genesis as slices carry it. */
  readonly #genesisBytes: Uint8Array
  readonly #proposeIdleWaitMs: number
  /** Envelopes in proposed/verified blocks not yet finalized → that block's height: left out of new proposals. */
  readonly #inFlight = new Map<IngressId, bigint>()
  /** Certification shares by height, then signer. */
  readonly #shares = new Map<bigint, Map<number, CertificationShare>>()
  /** Heights whose certification runs now, and those a share reached meanwhile (checked again after). */
  readonly #certifying = new Set<bigint>()
  readonly #certifyAgain = new Set<bigint>()
  /** Certificates assembled and being written: their heights count as certified for result() already. */
  readonly #writing = new Map<bigint, StateCertificate>()
  /**
   * Heights certified here since start (the last subnetCertifyHeightsMax): a share arriving for one
   * can change nothing and is dropped before its Ed25519 check. With 4 members the fourth share of
   * every height arrives after the certificate, and each such check cost a verification plus a
   * store read of the height record (its block included) to find the height certified.
   */
  readonly #certified = new BoundedMap<bigint, true>(subnetCertifyHeightsMax)
  /** Roots and encoded receipts of heights committed here and not certified yet (from finalize). */
  readonly #uncertified = new BoundedMap<bigint, { stateRoot: Uint8Array, receiptsRoot: Uint8Array, receipts: Uint8Array[] }>(subnetUncertifiedHeightsCachedMax)
  /**
   * Heights committed since start and not certified yet (at most subnetCertifyHeightsMax, the
   * lowest dropped first) → how often their certificate was asked for, and at which certified
   * height last. One still here once a height subnetCertifyOrphanLagHeights above it is certified
   * gets no shares any more, so its stored certificate is asked from the members (again, up to
   * subnetCertificateAsksMax times, while it stays uncertified).
   */
  readonly #unconfirmed = new Map<bigint, { asks: number, at: bigint }>()
  readonly #results = new BoundedMap<IngressId, PendingResult | IngressResult>(subnetResultsMax)
  readonly #waiters = new Map<IngressId, Set<(result: IngressResult) => void>>()
  #waiterCount = 0
  #certifiedHeight = 0n
  #stopped = new AbortController()
  /** The finalize in progress, so stop() can let it settle before the store closes. */
  #finalizing: Promise<void> = Promise.resolve()
  /**
   * Envelopes of blocks this replica proposed or verified and has not finalized yet, by IngressId:
   * finalize skips their signature check (a pure function of the bytes). Dropped at finalize.
   */
  readonly #verified = new Map<IngressId, { ingress: Ingress, height: bigint }>()
  /** Code fetches in progress by CID. */
  readonly #fetching = new Map<string, Promise<boolean>>()
  /** Per sending subnet: the next stream message not yet in a proposed or verified block, and that block's height. */
  readonly #xnetInFlight = new Map<SubnetId, { next: bigint, height: bigint }>()
  /** Called after every commit and certificate (slice requests waiting for news). */
  readonly #progress = new Set<() => void>()
  /**
   * Payloads this replica proposed or verified, decoded, with their envelopes decoded and checked
   * here in block order, by the bytes object the driver hands back at finalize: its execution needs
   * no second decode, canonical re-encode or envelope hashing. Weak: it lives as long as the driver
   * holds the block.
   */
  readonly #payloads = new WeakMap<Uint8Array, { payload: BlockPayload, ingress: Ingress[] }>()
  /**
   * The committed replay history in memory (replay-history.ts): read from the store when first
   * needed after start() (which drops it: state sync replaces the store's state between a stop and
   * a start), changed only after a commit succeeds; dropped if one fails, so it is read again.
   */
  #history: ReplayHistory | undefined
  #historyLoad: Promise<ReplayHistory> | undefined

  constructor (subnet: Subnet, components: SubnetServiceComponents, init: SubnetServiceInit = {}) {
    this.subnet = subnet
    this.#c = components
    this.#proposeIdleWaitMs = init.proposeIdleWaitMs ?? Math.floor(subnet.genesis.params.deltaMs * subnetProposeIdleWaitPercentOfDelta / 100)
    this.#system = systemActorOf(subnet.id)
    this.#memberIndex = subnet.memberIds.indexOf(components.signer.id as NodeId)
    assert(this.#memberIndex >= 0, `${components.signer.id} is not a member of subnet ${subnet.id}`)
    this.#genesisHash = genesisHashOf(subnet)
    this.#genesisBytes = encodeGenesis(subnet)
    this.mempool = components.mempool ?? new Mempool({ clock: components.clock, logger: components.logger.child('mempool') }, { subnet: subnet.id, committed: id => this.committed(id) })
  }

  get store (): Store { return this.#c.store }

  /** Reads where certification stands (after a restart). */
  async start (): Promise<void> {
    this.#stopped = new AbortController()
    this.#dropHistory()
    const history = await this.#replayHistory()
    this.#c.logger.debug('replay history read', { rows: history.rows, requests: history.requests })
    for (let h = this.#c.store.height; h > 0n; h--) {
      const record = await this.#c.store.getHeight(toHeight(h))
      if (record?.certification != null) {
        this.#certifiedHeight = h
        this.#certified.set(h, true)
        break
      }
      if (this.#c.store.height - h >= BigInt(subnetCertifyHeightsMax)) break
    }
    // Heights committed before a stop and never certified: their shares were sent once and are
    // gone, so these would stay uncertified here forever. The members' stored certificates are asked
    // for instead (receiveCertificate keeps each that certifies the roots committed here).
    this.#unconfirmed.clear()
    const uncertified: bigint[] = []
    for (let h = BigInt(this.#c.store.height); h > this.#certifiedHeight && uncertified.length < subnetCertifyHeightsMax; h--) uncertified.unshift(h)
    for (const h of uncertified) this.#unconfirmed.set(h, { asks: 1, at: BigInt(this.#c.store.height) })
    this.#requestCertificates(uncertified)
  }

  /** Asks the members for their stored certificates of `heights`, in requests of at most memberCertificateRequestHeightsMax. */
  #requestCertificates (heights: bigint[]): void {
    if (heights.length > 0) this.#c.logger.debug('asking the members for certificates', { heights: heights.map(String) })
    for (let i = 0; i < heights.length; i += memberCertificateRequestHeightsMax) {
      this.#c.transport.requestCertificates?.(heights.slice(i, i + memberCertificateRequestHeightsMax))
    }
  }

  /**
   * After `certified` is certified: asks for the heights below it that no share will certify any
   * more, and again for those asked for subnetCertifyOrphanLagHeights certified heights ago and
   * still uncertified; a height asked for subnetCertificateAsksMax times is given up.
   */
  #askForOrphans (certified: bigint): void {
    const lag = BigInt(subnetCertifyOrphanLagHeights)
    const due: bigint[] = []
    for (const [h, entry] of this.#unconfirmed) {
      if (entry.asks === 0 ? h + lag > certified : certified < entry.at + lag) continue
      if (entry.asks >= subnetCertificateAsksMax) {
        this.#unconfirmed.delete(h)
        continue
      }
      entry.asks++
      entry.at = certified
      due.push(h)
    }
    this.#requestCertificates(due.sort((a, b) => (a < b ? -1 : 1)))
  }

  /** Post: no finalize is running (the store may be closed). */
  async stop (): Promise<void> {
    this.#stopped.abort()
    await this.#finalizing
    this.#dropHistory()
    for (const [id, set] of this.#waiters) for (const resolve of set) resolve({ status: 'skipped', ingressId: id, requestId: '' as RequestId, subnet: this.subnet.id, height: toHeight(0n), reason: 'node stopping' })
    this.#waiters.clear()
    this.#waiterCount = 0
  }

  info (): SubnetInfo {
    const { genesis } = this.subnet
    return {
      id: this.subnet.id, name: genesis.name, members: this.subnet.memberIds, n: genesis.n, f: genesis.f, quorum: this.subnet.quorum,
      height: this.#c.store.height, stateRoot: this.#c.store.stateRoot, certifiedHeight: toHeight(this.#certifiedHeight)
    }
  }

  // ── Client side ────────────────────────────────────────────────────────────────────────────

  /** Admits a client envelope into the mempool (listeners gossip it to the other members). */
  submit (bytes: Uint8Array): Result<Ingress, IngressError<SubmitRefusal>> {
    const added = this.mempool.add(bytes)
    if (added.ok) this.#wantCode(added.value, [])
    return added
  }

  /**
   * submit() for a message the caller already decoded and signature-checked (the API decodes every
   * envelope to route it): one Ed25519 verification per envelope per node, not two.
   * Pre: `ingress` came from decodeIngress or signIngress.
   */
  submitVerified (ingress: Ingress): Result<Ingress, IngressError<SubmitRefusal>> {
    const added = this.mempool.addVerified(ingress)
    if (added.ok) this.#wantCode(added.value, [])
    return added
  }

  /** Stores uploaded code so installs can name it; other members fetch it from here. */
  async putCode (bytes: Uint8Array): Promise<Result<string>> {
    if (bytes.length === 0) return err('code is empty')
    if (bytes.length > actorCodeBytesMax) return err(`code too large: ${bytes.length} > ${actorCodeBytesMax} bytes`)
    const cid = rawCidOf(bytes).toString()
    await this.#c.store.putCode(cid, bytes)
    return ok(cid)
  }

  async getCode (cid: string): Promise<Uint8Array | undefined> {
    return await this.#c.store.getCode(cid)
  }

  /** The result of a finalized envelope, if this node remembers it (certified ones with their proof). */
  async result (id: IngressId): Promise<IngressResult | 'pending' | undefined> {
    const known = this.#results.get(id)
    if (known === undefined) return this.mempool.has(id) || this.#inFlight.has(id) ? 'pending' : undefined
    if ('status' in known) return known
    if (known.height > this.#certifiedHeight) {
      const writing = this.#writing.get(known.height)
      return writing === undefined ? 'pending' : await this.#certifiedResult(known, writing) ?? 'pending'
    }
    return await this.#certifiedResult(known) ?? 'pending'
  }

  /**
   * Whether a committed block executed this request and its replay-history row is still in the
   * state (the pool refuses it as a replay: mempool.ts `committed`). False while the history is
   * being read again (after a failed commit); a block then skips the request itself.
   */
  committed (requestId: RequestId): boolean {
    return this.#history?.has(requestId) === true
  }

  /**
   * The certified result of a request this node executed but no longer remembers (#results is
   * memory, lost in a restart; bounded by subnetResultsMax): the replay history names its height,
   * the height's stored receipts hold its receipt, and the stored certificate certifies them. For a
   * client that asks again with the same envelope after losing its answer. 'pending' while the
   * height has no certificate here; undefined when no committed block executed the request (or its
   * history row was pruned, which happens only after the request expired), or when this node holds
   * no receipts of that height (a state sync brought its state past it without them).
   */
  async storedResult (ingress: Ingress): Promise<IngressResult | 'pending' | undefined> {
    const history = await this.#replayHistory()
    const height = history.heightOf(ingress.requestId)
    if (height === undefined || height > this.#c.store.height) return undefined
    const receipts = await this.#c.store.receipts(toHeight(height))
    if (receipts.length === 0) return undefined
    for (const bytes of receipts) {
      const receipt = decodeReceipt(bytes)
      assert(receipt.ok, `height ${height} holds an unreadable receipt: ${receipt.ok ? '' : receipt.error}`)
      if (receipt.value.requestId !== ingress.requestId) continue
      const pending: PendingResult = { height: toHeight(height), index: receipt.value.index, actor: receipt.value.actor, receipt: receipt.value, ingressId: ingress.id, requestId: ingress.requestId }
      return await this.#certifiedResult(pending, this.#writing.get(height), receipts) ?? 'pending'
    }
    // The history names the height, yet none of its receipts answers the request: corruption.
    assert(false, `the replay history places request ${ingress.requestId} at height ${height}, whose receipts do not answer it`)
  }

  /** Waits up to `ms` for the envelope's result; undefined on timeout. */
  async wait (id: IngressId, ms: number, signal?: AbortSignal): Promise<IngressResult | undefined> {
    const now = await this.result(id)
    if (now !== undefined && now !== 'pending') return now
    if (this.#waiterCount >= subnetWaitersMax) return undefined
    return await new Promise<IngressResult | undefined>(resolve => {
      let set = this.#waiters.get(id)
      if (set === undefined) this.#waiters.set(id, set = new Set())
      const done = (result: IngressResult | undefined): void => {
        cancel()
        signal?.removeEventListener('abort', onAbort)
        if (set.delete(settle)) this.#waiterCount--
        if (set.size === 0 && this.#waiters.get(id) === set) this.#waiters.delete(id)
        resolve(result)
      }
      const settle = (result: IngressResult): void => done(result)
      const onAbort = (): void => done(undefined)
      set.add(settle)
      this.#waiterCount++
      const cancel = this.#c.clock.setTimer(ms, () => done(undefined))
      signal?.addEventListener('abort', onAbort, { once: true })
      // Its height may have been certified (and its waiters answered) between the check above and
      // now: a waiter that came just too late would otherwise wait out its whole bound.
      this.result(id).then(result => { if (result !== undefined && result !== 'pending' && set.has(settle)) settle(result) }, () => {})
    })
  }

  /**
   * Runs a signed query envelope against the latest committed state (no consensus): its bytes, or
   * the message the caller already decoded and verified (the API does, to route it).
   */
  async query (envelope: Uint8Array | Ingress): Promise<Result<QueryAnswer, { reason: string, message: string }>> {
    const decoded = envelope instanceof Uint8Array ? decodeIngress(envelope, this.#c.clock.now()) : ok(envelope)
    if (!decoded.ok) return decoded
    const { content } = decoded.value
    if (content.kind !== 'query') return err({ reason: 'malformed', message: `a query envelope must have kind "query", got "${content.kind}" (send updates to /v1/ingress)` })
    if (subnetOfIngress(content) !== this.subnet.id) return err({ reason: 'wrong-subnet', message: `actor ${content.actor} is on subnet ${subnetOfIngress(content)}, not ${this.subnet.id}` })
    const height = this.#c.store.height
    const record = await this.#record(content.actor)
    if (record === undefined) return err({ reason: 'unknown-actor', message: `actor not installed: ${content.actor}` })
    const code = await this.#load(record.code, [])
    if (!code.ok) return err({ reason: 'unknown-actor', message: `actor ${content.actor}: code ${record.code}: ${code.error}` })
    const storage = await preloadState(this.#c.store, [content.actor])
    const lastTimeMs = decodeU64(await this.#c.store.get(this.#system, systemKeys.lastTimeMs), 0n)
    const block: BlockContext = { height, timeNs: lastTimeMs * 1_000_000n, seed: new Uint8Array(32) }
    const state: ExecutionState = { storage, code: actor => actor === content.actor ? code.value : undefined }
    const receipt = executeQuery(state, { actor: content.actor, caller: content.sender, method: content.method, payload: content.payload }, block)
    return ok({ receipt, height })
  }

  /** An installed actor's record, or undefined. */
  async actor (actor: ActorId): Promise<ActorInfo | undefined> {
    const record = await this.#record(actor)
    return record === undefined ? undefined : { actor, subnet: this.subnet.id, ...record }
  }

  /**
   * Installed actors in index order, read from the replicated records at the latest committed
   * height: at most `limit`, starting after index `after` (0 = from the first). Deleted actors are
   * absent (their record is removed).
   */
  async actors (options: { after?: bigint, limit: number }): Promise<ActorInfo[]> {
    const entries = await this.#c.store.range(this.#system, { start: systemKeys.actor((options.after ?? 0n) + 1n), end: systemKeys.actorsEnd, limit: options.limit })
    return entries.map(({ key, value }) => {
      const record = decodeActorRecord(value)
      assert(record.ok, 'corrupt actor record in subnet state')
      return { actor: actorIdOf(this.subnet.id, actorIndexOfKey(key)), subnet: this.subnet.id, ...record.value }
    })
  }

  // ── Streams between subnets ────────────────────────────────────────────────────────────────

  /** How many messages of `from`'s stream to this subnet the committed state has consumed. */
  async consumedFrom (from: SubnetId): Promise<bigint> {
    return decodeU64(await this.#c.store.get(this.#system, streamKeys.consumed(from)), 0n)
  }

  /**
   * An encoded slice of this subnet's stream to `to` from message `next`, proven against a
   * certified state; undefined when nothing is new before `waitMs` passes: no message at or past
   * `have` fits the slice, and this subnet's consumption of `to`'s stream still equals `acked`.
   * A long poll: it waits for commits until there is news.
   */
  async sliceFor (to: SubnetId, request: { next: bigint, have?: bigint, acked: bigint }, waitMs: number, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    const deadline = this.#c.clock.now() + waitMs
    for (;;) {
      const progressed = this.#nextProgress(deadline - this.#c.clock.now(), signal)
      const slice = await this.#sliceNow(to, request.next, request.have ?? request.next, request.acked)
      if (slice !== undefined) return slice
      if (this.#c.clock.now() >= deadline || signal?.aborted === true || this.#stopped.signal.aborted) return undefined
      await progressed
    }
  }

  async #sliceNow (to: SubnetId, next: bigint, have: bigint, acked: bigint): Promise<Uint8Array | undefined> {
    const store = this.#c.store
    const sys = this.#system
    const head = decodeU64(await store.get(sys, streamKeys.head(to)), 0n)
    const tail = decodeU64(await store.get(sys, streamKeys.tail(to)), 0n)
    const consumed = decodeU64(await store.get(sys, streamKeys.consumed(to)), 0n)
    const from = next > head ? next : head // below head: acknowledged and gone
    if ((from >= tail || tail <= have) && consumed === acked) return undefined
    // Pick messages by size before proving them; a proof costs its value plus ~40 bytes a level.
    let budget = xnetSliceBytesMax - this.#genesisBytes.length - 16 * 1024
    const entries = from < tail ? await store.range(sys, { start: streamKeys.message(to, from), end: streamKeys.message(to, tail), limit: xnetSliceMessagesMax }) : []
    let count = 0
    for (const { value } of entries) {
      budget -= value.length + 4096
      if (budget < 0) break
      count++
    }
    if (from + BigInt(count) <= have && consumed === acked) return undefined // nothing past what the asker holds fits
    const proven = await store.proveMany(sys, [...entries.slice(0, count).map(e => e.key), streamKeys.consumed(to)])
    const certificate = await this.#certificateAt(proven.height, xnetCertificateWaitMs)
    if (certificate === undefined || !Buffer.from(certificate.state.stateRoot).equals(proven.stateRoot)) return undefined
    const messages: StreamSlice['messages'] = []
    for (let i = 0; i < count; i++) {
      const proof = proven.proofs[i]!
      if (proof.value === null) break // acknowledged and removed between the read and the proof
      messages.push({ seq: from + BigInt(i), proof })
    }
    return encodeSlice({ genesis: this.#genesisBytes, certificate, messages, ack: proven.proofs.at(-1)! })
  }

  /** The certificate of a committed height, waiting up to `waitMs` for it. */
  async #certificateAt (height: Height, waitMs: number): Promise<StateCertificate | undefined> {
    const deadline = this.#c.clock.now() + waitMs
    for (;;) {
      const progressed = this.#nextProgress(deadline - this.#c.clock.now())
      const record = await this.#c.store.getHeight(height)
      if (record?.certification != null) {
        const decoded = decodeCertificate(record.certification)
        assert(decoded.ok, `height ${height} has an unreadable certificate`)
        return decoded.value
      }
      if (record === undefined || this.#c.clock.now() >= deadline || this.#stopped.signal.aborted) return undefined
      await progressed
    }
  }

  /** Resolves at the next commit or certificate, after `ms`, or on abort. */
  async #nextProgress (ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0 || signal?.aborted === true || this.#stopped.signal.aborted) return
    const { promise, resolve } = Promise.withResolvers<void>()
    this.#progress.add(resolve)
    const cancel = this.#c.clock.setTimer(ms, resolve)
    const onAbort = (): void => resolve()
    signal?.addEventListener('abort', onAbort, { once: true })
    this.#stopped.signal.addEventListener('abort', onAbort, { once: true })
    try {
      await promise
    } finally {
      this.#progress.delete(resolve)
      cancel()
      signal?.removeEventListener('abort', onAbort)
      this.#stopped.signal.removeEventListener('abort', onAbort)
    }
  }

  #notifyProgress (): void {
    for (const resolve of [...this.#progress]) resolve()
  }

  // ── ConsensusApplication ───────────────────────────────────────────────────────────────────

  async tip (): Promise<ApplicationTip> {
    return await tipFromStore(this.#c.store, this.#genesisHash)
  }

  async propose (_parent: Uint8Array, height: bigint, options: { signal?: AbortSignal }): Promise<Uint8Array> {
    const finalized = this.#c.store.height
    for (const [id, h] of this.#inFlight) if (h <= finalized) this.#inFlight.delete(id)
    for (const [from, entry] of this.#xnetInFlight) if (entry.height <= finalized) this.#xnetInFlight.delete(from)
    let xnet = await this.#proposableSlices(height)
    let batch = await this.#proposable(xnet)
    if (batch.length === 0 && xnet.length === 0 && this.#proposeIdleWaitMs > 0 && !await this.#messagesDue()) {
      // An empty height costs every replica two synced votes, a commit, signatures and a
      // certification: an idle 4-node devnet made 17 of them a second on 2 cores. Waiting for a
      // first envelope (well inside the 2Δ leader timeout) keeps an idle subnet nearly idle;
      // a loaded one never waits, since its pool is not empty.
      await this.#firstAccepted(this.#proposeIdleWaitMs, options.signal)
      xnet = await this.#proposableSlices(height)
      batch = await this.#proposable(xnet)
    }
    for (const ingress of batch) {
      this.#inFlight.set(ingress.id, height)
      this.#remember(ingress, height)
    }
    const payload: BlockPayload = { timeMs: BigInt(Math.floor(this.#c.clock.now())), ingress: batch.map(i => i.bytes), xnet }
    const bytes = encodePayload(payload)
    this.#payloads.set(bytes, { payload, ingress: batch })
    return bytes
  }

  /**
   * Slices worth a block: each trimmed to the messages this subnet has not consumed and no block in
   * flight carries, kept when that leaves messages or an ack that frees some of our stream.
   */
  async #proposableSlices (height: bigint): Promise<Uint8Array[]> {
    const source = this.#c.xnet
    if (source === undefined) return []
    const store = this.#c.store
    const sys = this.#system
    const out: Uint8Array[] = []
    let room = xnetBlockBytesMax
    for (const { slice, verified } of source.slices()) {
      if (out.length >= xnetSlicesPerBlockMax) break
      const from = verified.from
      const consumed = decodeU64(await store.get(sys, streamKeys.consumed(from)), 0n)
      const inFlight = this.#xnetInFlight.get(from)?.next ?? 0n
      const next = consumed > inFlight ? consumed : inFlight
      const first = slice.messages.findIndex(m => m.seq >= next)
      const messages = first >= 0 && slice.messages[first]!.seq === next ? slice.messages.slice(first) : []
      const head = decodeU64(await store.get(sys, streamKeys.head(from)), 0n)
      const tail = decodeU64(await store.get(sys, streamKeys.tail(from)), 0n)
      const freesStream = verified.acked > head && head < tail
      if (messages.length === 0 && !freesStream) continue
      const bytes = encodeSlice({ ...slice, messages })
      if (bytes.length > room) continue
      room -= bytes.length
      out.push(bytes)
      if (messages.length > 0) this.#markSliceInFlight(from, messages.at(-1)!.seq + 1n, height)
    }
    return out
  }

  #markSliceInFlight (from: SubnetId, next: bigint, height: bigint): void {
    const known = this.#xnetInFlight.get(from)
    if (known === undefined || known.next < next) this.#xnetInFlight.set(from, { next, height: known !== undefined && known.height > height ? known.height : height })
  }

  /**
   * Whether the committed state holds messages the next block delivers on its own: queued calls or
   * answers, or a timer due by now. An idle leader must not wait for envelopes then.
   */
  async #messagesDue (): Promise<boolean> {
    const store = this.#c.store
    const sys = this.#system
    if (decodeU64(await store.get(sys, systemKeys.outboxHead), 0n) < decodeU64(await store.get(sys, systemKeys.outboxTail), 0n)) return true
    const nowNs = BigInt(Math.floor(this.#c.clock.now())) * 1_000_000n
    return (await store.range(sys, { start: systemKeys.timersPrefix, end: timersEnd(nowNs), limit: 1, readAheadUntil: timersAfter })).length > 0
  }

  /** The envelopes a proposal may carry now: pooled, not in flight, their code (if any) at hand. */
  async #proposable (xnet: Uint8Array[]): Promise<Ingress[]> {
    // Room for the map around the envelopes and slices: a few bytes per entry plus the time.
    const room = subnetBlockPayloadBytesMax - 32 - subnetBlockIngressMax * 5 - xnet.reduce((sum, bytes) => sum + bytes.length + 5, 0)
    const taken = this.mempool.take(subnetBlockIngressMax, room, { exclude: id => this.#inFlight.has(id) })
    const batch: Ingress[] = []
    for (const ingress of taken) {
      const code = codeOf(ingress)
      // An install whose code this node lacks waits in the pool until the code arrives.
      if (code !== undefined && await this.#c.store.getCode(code) === undefined) {
        this.#wantCode(ingress, [])
        continue
      }
      batch.push(ingress)
    }
    return batch
  }

  /** Resolves when the mempool accepts an envelope, after waitMs, or on abort: whichever is first. */
  async #firstAccepted (waitMs: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return
    const { promise, resolve } = Promise.withResolvers<void>()
    const stopListening = this.mempool.onAccepted(() => { resolve() })
    const stopSlices = this.#c.xnet?.onSlice(() => { resolve() })
    const cancelTimer = this.#c.clock.setTimer(waitMs, resolve)
    signal?.addEventListener('abort', () => { resolve() }, { once: true })
    try {
      await promise
    } finally {
      stopListening()
      stopSlices?.()
      cancelTimer()
    }
  }

  async verify (block: Block, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    if (block.payload.length === 0) return true
    const payload = decodePayload(block.payload)
    if (!payload.ok) return this.#refuseBlock(block, payload.error)
    const skew = Number(payload.value.timeMs) - this.#c.clock.now()
    // The one clock-dependent check: it keeps a faulty leader from moving time far ahead (which
    // would expire every message and the replay history) or back; Simplex nullifies on refusal.
    if (Math.abs(skew) > subnetBlockTimeDriftMs) return this.#refuseBlock(block, `block time is ${skew} ms from this replica's clock (allowed ±${subnetBlockTimeDriftMs} ms)`)
    const blockTimeMs = Number(payload.value.timeMs)
    const codes = new Set<string>()
    const decoded: Ingress[] = []
    for (const [i, bytes] of payload.value.ingress.entries()) {
      // An envelope this node's mempool admitted was signature-checked then, or left unchecked
      // where checksSignature lets this member skip it; only its expiry is judged again, at the
      // block's time (a pure memo keyed by the hash of the exact bytes). One not pooled is decoded
      // here, its signature checked under the same rule.
      const pooled = this.mempool.get(ingressIdOf(bytes))
      const one = pooled !== undefined && Buffer.from(pooled.bytes).equals(bytes) ? checkAt(pooled, blockTimeMs) : decodeIngress(bytes, blockTimeMs, { checkSignature: this.checksSignature })
      if (!one.ok) return this.#refuseBlock(block, `envelope ${i}: ${one.error.message}`)
      decoded.push(one.value)
      const { content } = one.value
      if (content.kind === 'query') return this.#refuseBlock(block, `envelope ${i} is a query`)
      if (subnetOfIngress(content) !== this.subnet.id) return this.#refuseBlock(block, `envelope ${i} is for subnet ${subnetOfIngress(content)}`)
      const code = codeOf(one.value)
      if (code !== undefined) codes.add(code)
    }
    const senders = new Set<SubnetId>()
    for (const [i, bytes] of payload.value.xnet.entries()) {
      const slice = decodeSlice(bytes)
      const verified = slice.ok ? verifySlice(slice.value, this.subnet.id) : slice
      if (!verified.ok) return this.#refuseBlock(block, `slice ${i}: ${verified.error}`)
      if (senders.has(verified.value.from)) return this.#refuseBlock(block, `slice ${i}: a second slice from subnet ${verified.value.from}`)
      senders.add(verified.value.from)
      const last = verified.value.messages.at(-1)
      if (last !== undefined) this.#markSliceInFlight(verified.value.from, last.seq + 1n, block.height)
    }
    // Every voter holds the code its block installs, so f+1 honest members can serve it at finalize.
    for (const cid of codes) {
      if (await this.#c.store.getCode(cid) !== undefined) continue
      const fetched = await this.#fetchCode(cid, [block.proposer as NodeId, ...this.subnet.memberIds], options.signal)
      if (!fetched) return this.#refuseBlock(block, `code ${cid} is not available from the proposer or any member`)
    }
    for (const ingress of decoded) {
      this.#inFlight.set(ingress.id, block.height)
      this.#remember(ingress, block.height)
    }
    this.#payloads.set(block.payload, { payload: payload.value, ingress: decoded })
    return true
  }

  async finalize (heightIn: bigint, block: Block, certificate: Certificate): Promise<void> {
    const running = this.#finalize(heightIn, block, certificate)
    this.#finalizing = running.catch(() => {})
    await running
  }

  async #finalize (heightIn: bigint, block: Block, certificate: Certificate): Promise<void> {
    const store = this.#c.store
    if (heightIn <= store.height) return // already committed before a restart
    assert(heightIn === store.height + 1n, `finalize height ${heightIn} is not the next (store at ${store.height})`)
    const height = toHeight(heightIn)
    const startedMs = performance.now()
    const executed = await this.#execute(height, block)
    const receipts = executed.receipts.map(encodeReceipt)
    let commit: Awaited<ReturnType<Store['commitHeight']>>
    try {
      commit = await store.commitHeight({
        height,
        block: encodeStoredBlock(block),
        certificate: encodeStoredCertificate(certificate),
        writes: executed.writes,
        receipts
      }, {
        // The share goes out while the batch is fsynced rather than after: the roots are a function
        // of the finalized blocks, so a crash before the write computes the same ones again and
        // this member can never sign two different states for one height. Its own certificate still
        // waits for its commit (#tryCertifyOnce reads the committed record).
        onRoots: roots => { this.#shareRoots(height, roots) }
      })
    } catch (error) {
      this.#dropHistory() // whatever the store holds now, the next height reads it again
      throw error
    }
    // Onto the history the block was executed against; if that was dropped meanwhile, none is held.
    if (this.#history === executed.history.of) executed.history.of.apply(executed.history)
    else this.#dropHistory()
    this.#uncertified.set(heightIn, { stateRoot: commit.stateRoot, receiptsRoot: commit.receiptsRoot, receipts })
    this.mempool.markFinalized(executed.ingress)
    this.#notifyProgress()
    this.#publishChanges(height, executed.changes)
    const failed = executed.receipts.filter(r => !r.ok).length
    this.#c.metrics?.finalized(this.subnet.id, heightIn, { ok: executed.receipts.length - failed, failed, skipped: executed.skipped.length }, (performance.now() - startedMs) / 1000)
    for (const [id, h] of this.#inFlight) if (h <= heightIn) this.#inFlight.delete(id)
    for (const [id, entry] of this.#verified) if (entry.height <= heightIn) this.#verified.delete(id)
    for (const [from, entry] of this.#xnetInFlight) if (entry.height <= heightIn) this.#xnetInFlight.delete(from)
    if (!this.#unconfirmed.has(heightIn)) this.#unconfirmed.set(heightIn, { asks: 0, at: 0n })
    if (this.#unconfirmed.size > subnetCertifyHeightsMax) this.#unconfirmed.delete([...this.#unconfirmed.keys()].reduce((a, b) => (a < b ? a : b)))
    for (const pending of executed.results) this.#results.set(pending.ingressId, pending)
    for (const skipped of executed.skipped) {
      // A copy of an envelope that already ran (twice in one block, or again in a later block after
      // a view change) must not replace the first run's result: the client waits for that one.
      const known = this.#results.get(skipped.ingressId)
      if (known !== undefined && !('status' in known && known.status === 'skipped')) continue
      this.#results.set(skipped.ingressId, skipped)
      this.#notify(skipped)
    }
    await this.#tryCertify(height)
  }

  /** Signs this member's certification share of `height` and sends it to the others (not awaited: it must not hold up consensus). */
  #shareRoots (height: Height, roots: { stateRoot: Uint8Array, receiptsRoot: Uint8Array }): void {
    const state: CertifiedState = { subnet: this.subnet.id, height, ...roots }
    const share: CertificationShare = { state, signer: this.#memberIndex, signature: signCertification(state, this.#c.signer) }
    void this.#c.transport.publishShare(encodeShare(share)).catch(error => { this.#c.logger.debug('share not published', { height, error }) })
    this.#addShare(share)
  }

  // ── Certification ──────────────────────────────────────────────────────────────────────────

  /**
   * A member lacks the certificates of these heights: sends it each one stored here. One small row
   * read per height (at most memberCertificateRequestHeightsMax a request), so a request costs a
   * member little more than the answer it gets.
   */
  async answerCertificateRequest (heights: readonly bigint[], from: NodeId): Promise<void> {
    const answered: string[] = []
    for (const h of heights) {
      if (h < 1n || h > this.#c.store.height) continue
      const certification = await this.#c.store.certification(toHeight(h))
      if (certification === undefined) continue
      this.#c.transport.sendCertificate?.(from, certification)
      answered.push(String(h))
    }
    this.#c.logger.debug('answered a certificate request', { from, asked: heights.map(String), answered })
  }

  /**
   * A certificate a member sent for a height this node committed and has not certified (asked for
   * at start, or once the height was orphaned). Stored only if it verifies against the genesis members and certifies exactly the
   * roots committed here. Returns false for bytes that are not a valid certificate of this subnet;
   * one that can change nothing is dropped before its signature checks.
   */
  async receiveCertificate (bytes: Uint8Array): Promise<boolean> {
    const decoded = decodeCertificate(bytes)
    if (!decoded.ok || decoded.value.state.subnet !== this.subnet.id) return false
    const height = decoded.value.state.height
    if (height < 1n || height > this.#c.store.height || this.#certified.has(height) || this.#writing.has(height)) return true
    const record = await this.#c.store.getHeight(height)
    if (record === undefined || record.certification !== null) return true
    const cert = verifyCertificate(decoded.value, this.subnet)
    if (!cert.ok) return false
    if (!Buffer.from(cert.value.state.stateRoot).equals(record.stateRoot) || !Buffer.from(cert.value.state.receiptsRoot).equals(record.receiptsRoot)) {
      this.#c.logger.error('members certified other roots than this replica committed', { height })
      return true
    }
    await this.#c.store.putCertification(height, encodeCertificate(cert.value))
    this.#c.logger.debug('stored a certificate a member sent', { height: String(height) })
    // Clients may wait on this height (a request it caught up on, resent to this replica): a
    // certificate from the members answers them as one formed from shares does.
    await this.#answerWaiters(toHeight(height), cert.value, this.#uncertified.get(height)?.receipts)
    this.#certifiedHere(height)
    return true
  }

  /** Records that `height`'s certificate is stored here: forgets what awaited it and moves the certified height. */
  #certifiedHere (height: bigint): void {
    this.#uncertified.delete(height)
    this.#unconfirmed.delete(height)
    this.#shares.delete(height)
    this.#certified.set(height, true)
    if (height > this.#certifiedHeight) this.#certifiedHeight = height
    this.#notifyProgress()
    this.#c.metrics?.certified(this.subnet.id, this.#certifiedHeight)
  }

  /**
   * A share from anywhere (gossip): its verdict may decide whether it travels further, so it is
   * always checked. Returns false for a share that is malformed, names no member or another subnet,
   * or does not verify. A valid share that can change nothing (its height certified here or being
   * written, its signer's share held, outside the buffered window) is dropped after the check.
   */
  async receiveShare (bytes: Uint8Array): Promise<boolean> {
    return await this.#receiveShare(bytes, false)
  }

  /**
   * A share from a member's own authenticated stream (the member channel), where the verdict only
   * counts refusals. A share that can change nothing is dropped BEFORE its Ed25519 check and
   * returns true: with 4 members the fourth share of every height arrives after the certificate,
   * and its check (plus a store read to find the height certified) was a third of a replica's
   * certification work. Malformed shares, unknown signers and other subnets still return false;
   * a share that is kept is verified first, as always.
   */
  async receiveMemberShare (bytes: Uint8Array): Promise<boolean> {
    return await this.#receiveShare(bytes, true)
  }

  async #receiveShare (bytes: Uint8Array, dropUnchecked: boolean): Promise<boolean> {
    const share = decodeShare(bytes)
    if (share === undefined || this.subnet.memberIds[share.signer] === undefined || share.state.subnet !== this.subnet.id) return false
    const h = share.state.height
    const useless = this.#certified.has(h) || this.#writing.has(h) || this.#shares.get(h)?.has(share.signer) === true ||
      // Heights below the last certified one may still lack their own certificate (shares arrive in
      // any order), so they are buffered too, except far behind the commit or far ahead (bounded memory).
      h + BigInt(subnetCertifyHeightsMax) < this.#c.store.height || h > this.#c.store.height + BigInt(subnetCertifyHeightsMax)
    if (useless && dropUnchecked) return true
    if (!verifyCertificationShare(this.subnet, share)) return false
    if (useless) return true
    this.#addShare(share)
    if (h <= this.#c.store.height) await this.#tryCertify(toHeight(h))
    return true
  }

  #addShare (share: CertificationShare): void {
    const h = share.state.height
    let byHeight = this.#shares.get(h)
    if (byHeight === undefined) {
      if (this.#shares.size >= subnetCertifyHeightsMax) {
        const lowest = [...this.#shares.keys()].reduce((a, b) => (a < b ? a : b))
        this.#shares.delete(lowest)
      }
      this.#shares.set(h, byHeight = new Map())
    }
    if (!byHeight.has(share.signer)) byHeight.set(share.signer, share)
  }

  /**
   * One certification of a height at a time: every share arriving while it runs used to start its
   * own (each writing the certificate and proving every waiter's receipt again).
   */
  async #tryCertify (height: Height): Promise<void> {
    if (this.#certifying.has(height)) {
      this.#certifyAgain.add(height)
      return
    }
    this.#certifying.add(height)
    try {
      do {
        this.#certifyAgain.delete(height)
        await this.#tryCertifyOnce(height)
      } while (this.#certifyAgain.has(height))
    } finally {
      this.#certifying.delete(height)
      this.#certifyAgain.delete(height)
    }
  }

  async #tryCertifyOnce (height: Height): Promise<void> {
    const byHeight = this.#shares.get(height)
    if (byHeight === undefined) return
    // Committed here since the last start and not certified yet: no store read (the entry leaves
    // once certified, so a late share for a certified height finds the store's certificate below).
    const record = this.#uncertified.get(height) ?? await this.#c.store.getHeight(height)
    if (record === undefined) return
    if ('certification' in record && record.certification !== null) {
      this.#shares.delete(height)
      this.#certified.set(height, true)
      this.#unconfirmed.delete(height)
      return
    }
    const state: CertifiedState = { subnet: this.subnet.id, height, stateRoot: record.stateRoot, receiptsRoot: record.receiptsRoot }
    const matching = new Map<number, Uint8Array>()
    for (const share of byHeight.values()) {
      if (Buffer.from(share.state.stateRoot).equals(state.stateRoot) && Buffer.from(share.state.receiptsRoot).equals(state.receiptsRoot)) matching.set(share.signer, share.signature)
    }
    if (matching.size < this.subnet.quorum) {
      if (byHeight.size - matching.size > this.subnet.genesis.f) this.#c.logger.error('members disagree on the state of a height', { height, agreeing: matching.size, differing: byHeight.size - matching.size })
      return
    }
    // Every share in #shares was verified on arrival (receiveShare) or is this replica's own.
    const cert = assembleCertificate(this.subnet, { state, shares: matching })
    if (!cert.ok) return
    // Waiting clients are answered while the certificate is written: it verifies on its own (2f+1
    // member signatures), so its fsync need not be on their path; result() answers from it too
    // meanwhile. What reads certification from the store (the certified height, progress
    // listeners) waits for the write.
    const stored = this.#c.store.putCertification(height, encodeCertificate(cert.value))
    this.#writing.set(height, cert.value)
    try {
      await this.#answerWaiters(height, cert.value, 'receipts' in record ? record.receipts : undefined)
    } finally {
      await stored
      this.#uncertified.delete(height)
      this.#writing.delete(height)
    }
    this.#certifiedHere(height)
    this.#askForOrphans(height)
  }

  /** Sends every client waiting on a result of `height` its certified response. */
  async #answerWaiters (height: Height, certificate: StateCertificate, heldReceipts?: Uint8Array[]): Promise<void> {
    // Waiting clients are few beside the remembered results: look them up, not the other way round.
    const answered: PendingResult[] = []
    for (const id of this.#waiters.keys()) {
      const known = this.#results.get(id)
      if (known !== undefined && !('status' in known) && known.height === height) answered.push(known)
    }
    if (answered.length === 0) return
    // One read of the height's receipts and one tree for all its waiters (a proof each used to
    // re-read and re-hash every receipt of the height: quadratic in the block size).
    const receipts = heldReceipts ?? await this.#c.store.receipts(height)
    const proofs = proveReceipts(receipts, answered.map(p => p.index))
    for (const [i, pending] of answered.entries()) {
      this.#notify({
        status: 'certified', ingressId: pending.ingressId, requestId: pending.requestId, subnet: this.subnet.id, height: pending.height,
        index: pending.index, actor: pending.actor, receipt: pending.receipt,
        // The bytes the proof was made over (encoded once, at finalize), not a second encoding.
        certified: { receipt: receipts[pending.index]!, proof: proofs[i]!, certificate }
      })
    }
  }

  /** The certified answer, or undefined while its height has no certificate (some heights never get one, e.g. shares lost during catch-up). */
  async #certifiedResult (pending: PendingResult, known?: StateCertificate, heldReceipts?: Uint8Array[]): Promise<IngressResult | undefined> {
    let certificate = known
    if (certificate === undefined) {
      // The certification row alone: getHeight would read the height's whole block too.
      const stored = await this.#c.store.certification(pending.height)
      if (stored === undefined) return undefined
      const decoded = decodeCertificate(stored)
      assert(decoded.ok, `height ${pending.height} has an unreadable certificate`)
      certificate = decoded.value
    }
    const receipts = heldReceipts ?? await this.#c.store.receipts(pending.height)
    assert(pending.index < receipts.length, `no receipt ${pending.index} at height ${pending.height}`)
    return {
      status: 'certified', ingressId: pending.ingressId, requestId: pending.requestId, subnet: this.subnet.id, height: pending.height,
      index: pending.index, actor: pending.actor, receipt: pending.receipt,
      // The stored bytes the proof is made over, not a second encoding.
      certified: { receipt: receipts[pending.index]!, proof: proveReceipts(receipts, [pending.index])[0]!, certificate }
    }
  }

  #notify (result: IngressResult): void {
    const set = this.#waiters.get(result.ingressId)
    if (set === undefined) return
    for (const resolve of [...set]) resolve(result)
  }

  // ── Execution ──────────────────────────────────────────────────────────────────────────────

  /** Executes a finalized block against the committed store: a function of the two alone. */
  async #execute (height: Height, block: Block): Promise<{ writes: StateWrite[], receipts: Receipt[], ingress: Ingress[], results: PendingResult[], skipped: IngressResult[], history: HistoryChange & { of: ReplayHistory }, changes?: MessageChange[] }> {
    const store = this.#c.store
    const sys = this.#system
    const held = block.payload.length === 0 ? undefined : this.#payloads.get(block.payload)
    const payload = block.payload.length === 0 ? { timeMs: 0n, ingress: [], xnet: [] } : held?.payload ?? unwrapPayload(block.payload, this.#c.logger)
    // Reads run together wherever one does not depend on another: each is a round trip to LevelDB's
    // thread pool, and a block of one update used to wait for some twenty of them in a row.
    const counters = await Promise.all([systemKeys.lastTimeMs, systemKeys.outboxHead, systemKeys.outboxTail, systemKeys.nextIndex, systemKeys.timerSeq].map(async k => await store.get(sys, k)))
    const lastTimeMs = decodeU64(counters[0], 0n)
    const timeMs = payload.timeMs > lastTimeMs ? payload.timeMs : lastTimeMs
    const system = new SystemWrites(sys)
    system.set(systemKeys.lastTimeMs, encodeU64(timeMs))

    // Replay history: answered from memory, which equals the committed rows (replay-history.ts);
    // requests repeated within this block are caught by selectBlockIngress itself.
    const history = await this.#replayHistory()
    let head = decodeU64(counters[1], 0n)
    let tail = decodeU64(counters[2], 0n)
    const timeNs = timeMs * 1_000_000n
    const [queued, due] = await Promise.all([
      head < tail ? store.range(sys, { start: systemKeys.outbox(head), end: systemKeys.outbox(tail), limit: subnetOutboxDeliverPerBlockMax }) : [],
      store.range(sys, { start: systemKeys.timersPrefix, end: timersEnd(timeNs), limit: subnetTimersPerBlockMax, readAheadUntil: timersAfter })
    ])
    const selection = selectBlockIngress(payload.ingress, {
      subnet: this.subnet.id, blockTimeMs: Number(timeMs), executed: id => history.has(id), verified: id => this.#verified.get(id)?.ingress,
      ...(held === undefined ? {} : { decoded: held.ingress })
    })

    // Prune rows whose every request has expired, in bounded steps (an envelope past its expiry is
    // refused as expired before any replay check, so a pruned row can let nothing run twice); then
    // one row for this block's requests. The history in memory changes only once the commit succeeds.
    const historyChange: HistoryChange = { removed: history.expired(timeMs, subnetHistoryPrunePerBlockMax) }
    for (const row of historyChange.removed) system.delete(row.key)
    if (selection.execute.length > 0) {
      let maxExpiryMs = 0n
      for (const ingress of selection.execute) if (ingress.content.expiryMs > maxExpiryMs) maxExpiryMs = ingress.content.expiryMs
      const row: HistoryRow = { key: systemKeys.expiring(maxExpiryMs, height), maxExpiryMs, height, requests: selection.execute.map(i => i.requestId) }
      system.set(row.key, encodeHistoryRow(selection.execute.map(i => ({ expiryMs: i.content.expiryMs, requestId: i.requestId }))))
      historyChange.added = row
    }

    // Messages between actors come first: the same-subnet queue in order, then due timers, then
    // the other subnets' streams; client envelopes after them.
    const steps: Step[] = []
    for (const { key, value } of queued) {
      const message = decodeActorCall(value)
      assert(message.ok, `corrupt queued message in subnet state: ${message.ok ? '' : message.error}`)
      steps.push({ kind: 'deliver', message: message.value })
      system.delete(key)
      head++
    }
    setCounter(system, systemKeys.outboxHead, counters[1], head)
    for (const { key, value } of due) {
      const timer = decodeTimer(value)
      assert(timer.ok, 'corrupt timer in subnet state')
      steps.push({ kind: 'timer', timer: timer.value })
      system.delete(key)
    }
    const streams = new Streams(store, sys, system)
    for (const bytes of payload.xnet) {
      // Checked again here (a pure function of the bytes) rather than trusted from verify: every
      // replica executes exactly the slices that verify, in block order, once per sender.
      const slice = decodeSlice(bytes)
      const verified = slice.ok ? verifySlice(slice.value, this.subnet.id) : slice
      if (!verified.ok || streams.seen(verified.value.from)) continue
      const { from, messages, acked } = verified.value
      let consumed = await streams.consumed(from)
      for (const { seq, message } of messages) {
        if (seq < consumed) continue // delivered from an earlier slice
        if (seq > consumed) break // a gap: the rest waits for a slice that fills it
        steps.push({ kind: 'deliver', message })
        consumed++
      }
      streams.setConsumed(from, consumed)
      await streams.acknowledge(from, acked)
    }
    for (const ingress of selection.execute) steps.push({ kind: 'ingress', ingress })

    // Everything execution needs, read before it starts (execution itself is synchronous).
    const touched = new Set<ActorId>()
    const codeCids = new Set<string>()
    for (const step of steps) {
      const content = step.kind === 'ingress' ? step.ingress.content : undefined
      const target = step.kind === 'deliver' ? step.message.to : step.kind === 'timer' ? step.timer.actor : content !== undefined && content.kind !== 'install' ? content.actor : undefined
      if (target !== undefined) touched.add(target)
      if (content?.kind === 'install' || content?.kind === 'upgrade') codeCids.add(content.code.toString())
    }
    const [records, storage] = await Promise.all([
      Promise.all([...touched].map(async actor => [actor, await this.#record(actor)] as const)).then(entries => new Map<ActorId, ActorRecord | undefined>(entries)),
      preloadState(store, touched)
    ])
    for (const record of records.values()) if (record !== undefined) codeCids.add(record.code)
    const compiled = new Map<string, Result<CompiledActor>>()
    const loads = [...codeCids].sort().map(async cid => [cid, await this.#load(cid, this.subnet.memberIds, true)] as const)
    for (const [cid, loaded] of await Promise.all(loads)) compiled.set(cid, loaded)

    let nextIndex = decodeU64(counters[3], 1n)
    const seedBase = block.parent
    const actorWrites: StateWrite[] = []
    const receipts: Receipt[] = []
    const results: PendingResult[] = []
    const outbox: OutboxMessage[] = []
    /** Answers to the calls this block delivered, in receipt order. */
    const answers: ActorCall[] = []
    let segment: Array<{ message: ActorMessage, ingress?: Ingress, call?: ActorCall }> = []
    let segmentNo = 0
    const codeOfActor = (actor: ActorId): CompiledActor | undefined => {
      const record = records.get(actor)
      const code = record === undefined ? undefined : compiled.get(record.code)
      return code?.ok === true ? code.value : undefined
    }
    const pushReceipt = (receipt: Receipt, ingress?: Ingress): void => {
      const index = receipts.length
      const numbered = { ...receipt, index }
      receipts.push(numbered)
      if (ingress !== undefined) results.push({ height, index, actor: numbered.actor, receipt: numbered, ingressId: ingress.id, requestId: ingress.requestId })
    }
    // What watchers see of each receipt (by index): who called and which keys it set or deleted.
    const watched = this.#c.changes?.watching(this.subnet.id) === true
    const callers = new Map<number, string>()
    const keysAt = new Map<number, Uint8Array[]>()
    // Messages run in segments between system operations, so an upgrade or install is seen by
    // every later message of the block and never by an earlier one.
    const flush = (): void => {
      if (segment.length === 0) return
      const context: BlockContext = { height, timeNs, seed: sha256Bytes(encode([seedBase, segmentNo++])) }
      const base = receipts.length
      const outcome = executeBlock({ storage, code: codeOfActor }, segment.map(s => s.message), context, watched ? (i, keys) => { keysAt.set(base + i, keys) } : undefined)
      if (watched) for (const [i, s] of segment.entries()) callers.set(base + i, s.ingress?.content.sender ?? s.message.caller)
      storage.apply(outcome.writes)
      actorWrites.push(...outcome.writes)
      outbox.push(...outcome.outbox)
      for (const [i, receipt] of outcome.receipts.entries()) {
        pushReceipt(receipt, segment[i]!.ingress)
        const call = segment[i]!.call
        if (call?.kind === 'call') answers.push(answerOf(call, receipt.ok ? { ok: true, result: receipt.result! } : { ok: false, error: receipt.error! }))
      }
      segment = []
    }
    const systemReceipt = (ingress: Ingress, actor: ActorId, method: string, error: string | null): void => {
      flush()
      pushReceipt({ index: 0, actor, method, ok: error === null, result: error === null ? new Uint8Array(0) : null, error, fuelUsed: 0n, logs: [], requestId: ingress.requestId }, ingress)
    }

    for (const step of steps) {
      if (step.kind === 'deliver') {
        const { message } = step
        // A delivery answers no client request: its receipt names none.
        segment.push({ message: { kind: 'update', actor: message.to, caller: message.from, method: methodRun(message), payload: message.payload, requestId: null }, call: message })
        continue
      }
      if (step.kind === 'timer') {
        const { timer } = step
        segment.push({ message: { kind: 'update', actor: timer.actor, caller: timer.actor, method: timer.method, payload: timer.payload, requestId: null } })
        continue
      }
      const { ingress } = step
      const content = ingress.content
      if (content.kind === 'update') {
        segment.push({ message: { kind: 'update', actor: content.actor, caller: content.sender, method: content.method, payload: content.payload, requestId: ingress.requestId }, ingress })
      } else if (content.kind === 'install') {
        const actor = actorIdOf(this.subnet.id, nextIndex++)
        const code = compiled.get(content.code.toString())
        if (code?.ok !== true) {
          systemReceipt(ingress, actor, '$install', `code ${content.code.toString()} does not load: ${code?.ok === false ? code.error : 'unavailable'}`)
          continue
        }
        flush()
        const controllers = [content.sender, ...content.controllers.filter(c => c !== content.sender)]
        records.set(actor, { name: content.name, code: content.code.toString(), installer: content.sender, controllers, installedAt: height, upgradedAt: null })
        segment.push({ message: { kind: 'init', actor, caller: '', method: '', payload: content.arg, requestId: ingress.requestId }, ingress })
        flush()
        const receipt = receipts.at(-1)!
        if (receipt.ok) system.set(systemKeys.actor(actorIndexOf(actor)), encodeActorRecord(records.get(actor)!))
        else records.set(actor, undefined) // a failed init installs nothing; its index stays used
      } else if (content.kind === 'query') {
        continue // selectBlockIngress never lets one through
      } else {
        const record = records.get(content.actor)
        const verb = content.kind
        if (record === undefined) {
          systemReceipt(ingress, content.actor, `$${verb}`, `actor not installed: ${content.actor}`)
        } else if (!record.controllers.includes(content.sender)) {
          systemReceipt(ingress, content.actor, `$${verb}`, `not a controller: ${content.sender} may not ${verb} ${content.actor} (controllers: ${record.controllers.join(', ')})`)
        } else if (content.kind === 'upgrade') {
          const code = compiled.get(content.code.toString())
          if (code?.ok !== true) {
            systemReceipt(ingress, content.actor, '$upgrade', `code ${content.code.toString()} does not load: ${code?.ok === false ? code.error : 'unavailable'}`)
            continue
          }
          flush()
          const upgraded = { ...record, code: content.code.toString(), upgradedAt: height as bigint }
          records.set(content.actor, upgraded)
          system.set(systemKeys.actor(actorIndexOf(content.actor)), encodeActorRecord(upgraded))
          systemReceipt(ingress, content.actor, '$upgrade', null)
        } else {
          flush()
          for (const [key] of storage.range(content.actor, new Uint8Array(0), new Uint8Array(0), Number.MAX_SAFE_INTEGER)) {
            actorWrites.push({ actor: content.actor, key, value: null })
            // The $delete receipt comes next (flush above emptied the segment): its index is receipts.length.
            if (watched) keysAt.set(receipts.length, keysAt.get(receipts.length) ?? []).get(receipts.length)!.push(key)
            storage.delete(content.actor, key)
          }
          records.set(content.actor, undefined)
          system.delete(systemKeys.actor(actorIndexOf(content.actor)))
          systemReceipt(ingress, content.actor, '$delete', null)
        }
      }
    }
    flush()
    setCounter(system, systemKeys.nextIndex, counters[3], nextIndex)

    // What this block sends waits in replicated state for a later block: calls and answers to this
    // subnet's actors in the queue, to other subnets' actors in the stream to that subnet, timers by
    // due time. A call that cannot be queued is answered at once with a reject, so every call gets
    // exactly one answer; answers themselves are bounded by the calls they answer.
    const rejected: ActorCall[] = []
    const enqueue = async (message: ActorCall): Promise<void> => {
      const to = subnetOfActorId(message.to)
      if (to !== this.subnet.id) {
        if (await streams.append(to, message)) return
        rejected.push(answerOf(message, { ok: false, error: `the stream to subnet ${to} is full: ${xnetStreamMessagesMax} messages are not yet acknowledged` }))
        return
      }
      if (message.kind === 'call' && tail - head >= BigInt(subnetOutboxQueueMax)) {
        rejected.push(answerOf(message, { ok: false, error: `the message queue of subnet ${this.subnet.id} is full (${subnetOutboxQueueMax} messages)` }))
        return
      }
      system.set(systemKeys.outbox(tail), encodeActorCall(message))
      tail++
    }
    for (const answer of answers) await enqueue(answer)
    const timerSeqBefore = decodeU64(counters[4], 0n)
    let timerSeq = timerSeqBefore
    for (const message of outbox) {
      if (message.atNs !== null) {
        system.set(systemKeys.timer(message.atNs, timerSeq++), encodeTimer({ actor: message.from, method: message.method, payload: message.payload }))
        continue
      }
      await enqueue({ kind: 'call', from: message.from, to: message.to, method: message.method, payload: message.payload })
    }
    // A reject goes back to a sender of this subnet, through the queue and past its bound.
    for (const reject of rejected) {
      system.set(systemKeys.outbox(tail), encodeActorCall(reject))
      tail++
    }
    if (timerSeq !== timerSeqBefore) system.set(systemKeys.timerSeq, encodeU64(timerSeq))
    setCounter(system, systemKeys.outboxTail, counters[2], tail)

    const skipped: IngressResult[] = []
    for (const entry of selection.skipped) {
      const bytes = payload.ingress[entry.index]!
      skipped.push({ status: 'skipped', ingressId: ingressIdOf(bytes), requestId: '' as RequestId, subnet: this.subnet.id, height, reason: `${entry.reason}: ${entry.message}` })
    }
    const changes = watched ? changesOf(receipts, callers, keysAt, results, selection.execute) : undefined
    return { writes: [...actorWrites, ...system.writes()], receipts, ingress: selection.execute, results, skipped, history: { ...historyChange, of: history }, changes }
  }

  /** Tells watchers what a committed height did; their trouble is logged, never reaches consensus. */
  #publishChanges (height: Height, changes: MessageChange[] | undefined): void {
    if (changes === undefined || changes.length === 0) return
    try {
      this.#c.changes?.committed(this.subnet.id, height, changes)
    } catch (error) {
      this.#c.logger.warn('watchers failed to take a committed height', { height, error })
    }
  }

  /** The record of an installed actor of this subnet, or undefined. */
  async #record (actor: ActorId): Promise<ActorRecord | undefined> {
    if (subnetOfActorId(actor) !== this.subnet.id) return undefined
    const index = actorIndexOf(actor)
    if (index < 1n) return undefined
    const bytes = await this.#c.store.get(this.#system, systemKeys.actor(index))
    if (bytes === undefined) return undefined
    const record = decodeActorRecord(bytes)
    assert(record.ok, `corrupt actor record for ${actor}`)
    return record.value
  }

  /**
   * Compiled code by CID. `persist` (finalize): the bytes MUST be obtained, so it keeps asking
   * members until one answers or the service stops; whether code loads is then a function of its
   * bytes alone, the same on every replica.
   */
  async #load (cid: string, sourcesIn: readonly NodeId[], persist = false): Promise<Result<CompiledActor>> {
    const held = this.#c.loader.cached(cid)
    if (held !== undefined) return await held
    let bytes = await this.#c.store.getCode(cid)
    // Only other members can supply it; a one-member subnet's replica verified it held the code.
    const sources = sourcesIn.filter(peer => peer !== this.#c.signer.id)
    for (let attempt = 0; bytes === undefined && sources.length > 0; attempt++) {
      if (await this.#fetchCode(cid, sources, this.#stopped.signal)) bytes = await this.#c.store.getCode(cid)
      if (bytes !== undefined || !persist) break
      if (this.#stopped.signal.aborted) throw new Error(`subnet ${this.subnet.id} stopped while fetching code ${cid}`)
      this.#c.logger.warn('code of a finalized block not available yet; retrying', { cid, attempt })
      await new Promise<void>(resolve => this.#c.clock.setTimer(Math.min(1000 * 2 ** attempt, 30_000), resolve))
    }
    if (bytes === undefined) {
      assert(!persist || sources.length === 0, 'unreachable')
      return err(`code ${cid} is not available`)
    }
    return await this.#c.loader.load(bytes)
  }

  /**
   * Fetches code from the first source that has it; true once the store holds it. One fetch per
   * CID at a time, bound to the service's life, not the caller's: a large component takes longer
   * than a view, and a verify aborted at the view's timeout must not throw the transfer away.
   */
  async #fetchCode (cid: string, sources: readonly NodeId[], signal?: AbortSignal): Promise<boolean> {
    let fetching = this.#fetching.get(cid)
    if (fetching === undefined) {
      fetching = this.#fetchFrom(cid, sources, this.#stopped.signal).finally(() => { this.#fetching.delete(cid) })
      this.#fetching.set(cid, fetching)
    }
    if (signal === undefined) return await fetching
    if (signal.aborted) return false
    return await new Promise<boolean>(resolve => {
      const onAbort = (): void => resolve(false)
      signal.addEventListener('abort', onAbort, { once: true })
      fetching.then(resolve, () => resolve(false)).finally(() => signal.removeEventListener('abort', onAbort))
    })
  }

  async #fetchFrom (cid: string, sources: readonly NodeId[], signal: AbortSignal): Promise<boolean> {
    const fetch = this.#c.transport.fetchCode
    if (fetch === undefined) return false
    for (const peer of new Set(sources)) {
      if (peer === this.#c.signer.id) continue
      try {
        const bytes = await fetch(peer, cid, { signal })
        if (bytes === undefined) continue
        if (rawCidOf(bytes).toString() !== cid) {
          this.#c.logger.warn('peer sent code that does not match its CID', { peer, cid })
          continue
        }
        await this.#c.store.putCode(cid, bytes)
        return true
      } catch (error) {
        if (signal?.aborted === true) return false
        this.#c.logger.warn('code fetch from a member failed', { peer, cid, error: (error as Error).message })
      }
    }
    return false
  }

  /** Starts fetching an install's code in the background when this node lacks it. */
  #wantCode (ingress: Ingress, from: readonly NodeId[]): void {
    const code = codeOf(ingress)
    if (code === undefined || this.#c.transport.fetchCode === undefined) return
    void (async () => {
      if (await this.#c.store.getCode(code) !== undefined) return
      await this.#fetchCode(code, [...from, ...this.subnet.memberIds], this.#stopped.signal)
    })().catch(error => { this.#c.logger.debug('background code fetch failed', { code, error }) })
  }

  /**
   * Whether this replica already holds the envelope with this id: verified in a block it proposed
   * or voted for, or finalized and remembered. A member's copy that arrives after the block (common
   * at load) then costs a hash instead of a second signature check, and is not pooled again.
   */
  /**
   * Whether this member checks the client signature of a request before voting for a block that
   * carries it (protocol/ingress.ts checksSignature: f members of n skip each request). For the
   * mempool's envelopes relayed by members and for verify(); envelopes from clients are always checked.
   */
  readonly checksSignature = (requestId: RequestId): boolean =>
    checksSignature(requestId, this.#memberIndex, this.subnet.memberIds.length, this.subnet.genesis.f)

  holds (id: IngressId): boolean {
    return this.#verified.has(id) || this.#results.has(id)
  }

  /** Called by the manager for envelopes gossiped in: fetch their code from the sender first. */
  gossiped (ingress: Ingress, from: string | undefined): void {
    this.#wantCode(ingress, from === undefined ? [] : [from as NodeId])
  }

  /** Bounded by count; past it finalize just checks the signature again. */
  #remember (ingress: Ingress, height: bigint): void {
    if (this.#verified.size < subnetBlockIngressMax * 8) this.#verified.set(ingress.id, { ingress, height })
  }

  /** The replay history, read from the committed store if it is not held (one read at a time). */
  async #replayHistory (): Promise<ReplayHistory> {
    if (this.#history !== undefined) return this.#history
    const loading = this.#historyLoad ?? (this.#historyLoad = ReplayHistory.load(this.#c.store, this.#system))
    try {
      const history = await loading
      // Unless dropped meanwhile (a start after a state replacement reads the new state).
      if (this.#historyLoad === loading) this.#history = history
      return history
    } finally {
      if (this.#historyLoad === loading) this.#historyLoad = undefined
    }
  }

  /** Forgets the history in memory: the next use reads the committed store again. */
  #dropHistory (): void {
    this.#history = undefined
    this.#historyLoad = undefined
  }

  #refuseBlock (block: Block, why: string): false {
    this.#c.logger.warn('block payload refused', { height: block.height, view: block.view, proposer: block.proposer, why })
    return false
  }
}

/** The first key past every timer: how far a due-read may read ahead. */
const timersAfter = keysAfter(systemKeys.timersPrefix)

/**
 * Writes a counter unless the committed state already holds exactly that value: an unchanged row
 * still cost its hashes and a trie walk in the commit (most blocks move neither end of the queue
 * nor the actor index). An absent counter is written even at its default, as always, so the state
 * and its root are the same as when every block wrote them.
 */
function setCounter (system: SystemWrites, key: Uint8Array, stored: Uint8Array | undefined, value: bigint): void {
  const bytes = encodeU64(value)
  if (stored !== undefined && Buffer.from(stored).equals(bytes)) return
  system.set(key, bytes)
}

/** System writes of one block, one per key (a later set or delete wins). */
class SystemWrites {
  readonly #actor: ActorId
  readonly #writes = new Map<string, StateWrite>()
  constructor (actor: ActorId) { this.#actor = actor }
  set (key: Uint8Array, value: Uint8Array): void { this.#writes.set(Buffer.from(key).toString('latin1'), { actor: this.#actor, key, value }) }
  delete (key: Uint8Array): void { this.#writes.set(Buffer.from(key).toString('latin1'), { actor: this.#actor, key, value: null }) }
  writes (): StateWrite[] { return [...this.#writes.values()] }
}

/**
 * One block's view of this subnet's streams to and from other subnets: counters read from the
 * committed store once, changes written through the block's system writes.
 */
class Streams {
  readonly #store: Store
  readonly #sys: ActorId
  readonly #system: SystemWrites
  readonly #counters = new Map<string, bigint>()
  readonly #seen = new Set<SubnetId>()

  constructor (store: Store, sys: ActorId, system: SystemWrites) {
    this.#store = store
    this.#sys = sys
    this.#system = system
  }

  /** Whether a slice from `from` was already taken in this block (one per sender). */
  seen (from: SubnetId): boolean {
    if (this.#seen.has(from)) return true
    this.#seen.add(from)
    return false
  }

  async consumed (from: SubnetId): Promise<bigint> { return await this.#get(streamKeys.consumed(from)) }
  setConsumed (from: SubnetId, n: bigint): void { this.#set(streamKeys.consumed(from), n) }

  /** Appends to the stream to `to`; false for a call when the stream is full (answers always fit). */
  async append (to: SubnetId, message: ActorCall): Promise<boolean> {
    const head = await this.#get(streamKeys.head(to))
    const tail = await this.#get(streamKeys.tail(to))
    if (message.kind === 'call' && tail - head >= BigInt(xnetStreamMessagesMax)) return false
    this.#system.set(streamKeys.message(to, tail), encodeActorCall(message))
    this.#set(streamKeys.tail(to), tail + 1n)
    return true
  }

  /** `to` consumed `acked` messages of our stream to it: remove them, in bounded steps. */
  async acknowledge (to: SubnetId, acked: bigint): Promise<void> {
    const head = await this.#get(streamKeys.head(to))
    const tail = await this.#get(streamKeys.tail(to))
    const upTo = acked < tail ? acked : tail
    if (upTo <= head) return
    const end = upTo - head > BigInt(xnetAckPrunePerBlockMax) ? head + BigInt(xnetAckPrunePerBlockMax) : upTo
    for (let seq = head; seq < end; seq++) this.#system.delete(streamKeys.message(to, seq))
    this.#set(streamKeys.head(to), end)
  }

  async #get (key: Uint8Array): Promise<bigint> {
    const name = Buffer.from(key).toString('latin1')
    let value = this.#counters.get(name)
    if (value === undefined) this.#counters.set(name, value = decodeU64(await this.#store.get(this.#sys, key), 0n))
    return value
  }

  #set (key: Uint8Array, value: bigint): void {
    const name = Buffer.from(key).toString('latin1')
    if (this.#counters.get(name) === value) return
    this.#counters.set(name, value)
    this.#system.set(key, encodeU64(value))
  }
}

/** One MessageChange per receipt; system receipts ($upgrade, $delete, …) name the envelope's sender. */
function changesOf (receipts: Receipt[], callers: Map<number, string>, keysAt: Map<number, Uint8Array[]>, results: PendingResult[], executed: Ingress[]): MessageChange[] {
  const sender = new Map<IngressId, string>(executed.map(i => [i.id, i.content.sender]))
  const ingressAt = new Map(results.map(r => [r.index, r.ingressId]))
  return receipts.map(r => {
    const id = ingressAt.get(r.index)
    const caller = callers.get(r.index) ?? (id === undefined ? '' : sender.get(id) ?? '')
    return { actor: r.actor, index: r.index, method: r.method, caller, ok: r.ok, changedKeys: r.ok ? keysAt.get(r.index) ?? [] : [] }
  })
}

/** A verified envelope judged at another time: only its expiry can change. */
function checkAt (ingress: Ingress, nowMs: number): Result<Ingress, IngressError> {
  const expiry = checkExpiry(ingress.content.expiryMs, nowMs)
  return expiry.ok ? ok(ingress) : expiry
}

function codeOf (ingress: Ingress): string | undefined {
  const { content } = ingress
  return content.kind === 'install' || content.kind === 'upgrade' ? content.code.toString() : undefined
}

/** A finalized payload that does not decode executes as empty: every replica decides alike. */
function unwrapPayload (bytes: Uint8Array, logger: Logger): BlockPayload {
  const payload = decodePayload(bytes)
  if (payload.ok) return payload.value
  logger.error('finalized block has an undecodable payload; executing it as empty', { error: payload.error })
  return { timeMs: 0n, ingress: [], xnet: [] }
}

export function encodeShare (share: CertificationShare): Uint8Array {
  return encode({ state: share.state, signer: share.signer, signature: share.signature })
}

/** Decodes an untrusted share (shape only; the caller verifies the signature). */
export function decodeShare (bytes: Uint8Array): CertificationShare | undefined {
  const value = decode(bytes, { bytesMax: 1024 })
  if (!value.ok) return undefined
  const v = value.value as Record<string, unknown>
  if (typeof v !== 'object' || v === null || !Number.isSafeInteger(v.signer) || !(v.signature instanceof Uint8Array)) return undefined
  const s = v.state as Record<string, unknown>
  if (typeof s !== 'object' || s === null || typeof s.subnet !== 'string' || !(typeof s.height === 'bigint' || Number.isSafeInteger(s.height)) ||
    !(s.stateRoot instanceof Uint8Array) || !(s.receiptsRoot instanceof Uint8Array)) return undefined
  const h = BigInt(s.height as number | bigint)
  if (h < 1n) return undefined
  return { state: { subnet: s.subnet as SubnetId, height: toHeight(h), stateRoot: s.stateRoot, receiptsRoot: s.receiptsRoot }, signer: v.signer as number, signature: v.signature }
}

