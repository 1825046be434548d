// The ingress pool of one node for one subnet: admits signed client messages (checked, deduplicated,
// rate-limited, bounded), hands batches to the proposer and forgets them once finalized. It never
// does I/O: gossip and consensus reach it through add/onAccepted/take/markFinalized.

import { checkExpiry, decodeIngress, ingressIdOf, subnetOfIngress, verifyIngressSignature, type Ingress, type IngressError, type IngressId, type IngressRefusal, type RequestId } from '../../protocol/ingress.ts'
import type { SubnetId } from '../../protocol/ids.ts'
import {
  ingressBytesMax, mempoolBytesMax, mempoolCountMax, mempoolPrincipalBurst, mempoolPrincipalRatePerSecond,
  mempoolPrincipalsMax, mempoolPruneIntervalMs, mempoolSeenMax
} from '../../protocol/limits.ts'
import { err, ok, type Result } from '../../protocol/result.ts'
import { assert } from '../core/assert.ts'
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import { RateLimiter } from '../core/rate-limiter.ts'

/** Why add() refused a message: the decoder's reasons plus the pool's own. Stable metric labels. */
export type MempoolRefusal = IngressRefusal
  | 'query' // queries never go through consensus
  | 'wrong-subnet' // the message runs on another subnet: route it there instead
  | 'duplicate' // these exact bytes are already pooled
  | 'replay' // this request (same content, any signature) is pooled or was finalized, and has not expired
  | 'rate-limited' // the sender's token bucket is empty
  | 'full' // the pool or its replay memory is at its bound

export const mempoolRefusals: readonly MempoolRefusal[] = ['too-large', 'malformed', 'bad-signature', 'expired', 'expiry-too-far', 'query', 'wrong-subnet', 'duplicate', 'replay', 'rate-limited', 'full']

/** Counters the metrics endpoint exports; PrometheusMempoolMetrics (mempool-metrics.ts) is the real one. */
export interface MempoolMetrics {
  accepted (): void
  refused (reason: MempoolRefusal): void
}

export interface MempoolComponents {
  clock: Clock
  logger: Logger
  metrics?: MempoolMetrics
}

export interface MempoolInit {
  /** The subnet this pool serves; messages for others are refused ('wrong-subnet'). Unset: any. */
  subnet?: SubnetId
  /** @default mempoolCountMax */
  countMax?: number
  /** @default mempoolBytesMax */
  bytesMax?: number
  /** @default mempoolSeenMax — request ids remembered against replay until they expire. */
  seenMax?: number
  /** @default mempoolPrincipalsMax */
  principalsMax?: number
  /** @default mempoolPrincipalRatePerSecond */
  ratePerSecond?: number
  /** @default mempoolPrincipalBurst */
  burst?: number
  /**
   * Whether a committed block executed this request (the subnet's replay history). The pool's own
   * replay memory starts empty with the process: without this, a client resubmitting a request
   * after a restart got it pooled and proposed again, only for its block to skip it. @default none
   */
  committed?: (requestId: RequestId) => boolean
}

export type AcceptedListener = (ingress: Ingress, from: string | undefined) => void

export interface AddOptions {
  /**
   * Whether to verify the signature of the request with this RequestId (protocol/ingress.ts
   * checksSignature: a member relaying an envelope to the f members that need not check it). A
   * message admitted unchecked is checked by take() before a proposal carries it. @default all
   */
  checkSignature?: (requestId: RequestId) => boolean
  /** ingressIdOf(bytes), when the caller already hashed these exact bytes (it is not checked). */
  id?: IngressId
}

export interface TakeOptions {
  /** Messages to leave out, e.g. those already in a notarized but not yet finalized block. */
  exclude?: (id: IngressId) => boolean
}

export class Mempool {
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #metrics: MempoolMetrics | undefined
  readonly #subnet: SubnetId | undefined
  readonly #countMax: number
  readonly #bytesMax: number
  readonly #seenMax: number
  readonly #committed: ((requestId: RequestId) => boolean) | undefined
  readonly #rate: RateLimiter
  /** Pooled messages in arrival order (Map iteration order), which is the order take() offers. */
  readonly #pool = new Map<IngressId, Ingress>()
  /** Pooled messages whose signature add() left unchecked (AddOptions.checkSignature): take() checks them. */
  readonly #unchecked = new Set<IngressId>()
  /** The pooled message of each request: a block may finalize the request under another signature. */
  readonly #byRequest = new Map<RequestId, IngressId>()
  /** Request ids of pooled and finalized messages → their expiry (ms): the replay memory. */
  readonly #seen = new Map<RequestId, number>()
  /**
   * The same ids by the second their expiry falls in (expiryMs rounded up to a whole second), so a
   * prune visits only the expired ones; a scan of the whole memory cost milliseconds each second.
   */
  readonly #seenBySecond = new Map<number, RequestId[]>()
  readonly #listeners = new Set<AcceptedListener>()
  readonly #counts: Record<MempoolRefusal | 'accepted', number>
  #bytes = 0
  #prunedAtMs = -Infinity

  constructor (components: MempoolComponents, init: MempoolInit = {}) {
    this.#clock = components.clock
    this.#logger = components.logger
    this.#metrics = components.metrics
    this.#subnet = init.subnet
    this.#countMax = init.countMax ?? mempoolCountMax
    this.#bytesMax = init.bytesMax ?? mempoolBytesMax
    this.#seenMax = init.seenMax ?? mempoolSeenMax
    this.#committed = init.committed
    assert(this.#countMax > 0 && this.#bytesMax >= ingressBytesMax, `mempool must hold one full message: countMax ${this.#countMax}, bytesMax ${this.#bytesMax}`)
    assert(this.#seenMax >= this.#countMax, `replay memory (${this.#seenMax}) must cover the pool (${this.#countMax})`)
    this.#rate = new RateLimiter({
      ratePerSecond: init.ratePerSecond ?? mempoolPrincipalRatePerSecond,
      burst: init.burst ?? mempoolPrincipalBurst,
      keysMax: init.principalsMax ?? mempoolPrincipalsMax
    })
    this.#counts = Object.fromEntries([...mempoolRefusals, 'accepted'].map(k => [k, 0])) as Record<MempoolRefusal | 'accepted', number>
  }

  get size (): number { return this.#pool.size }
  get bytes (): number { return this.#bytes }
  has (id: IngressId): boolean { return this.#pool.has(id) }
  get (id: IngressId): Ingress | undefined { return this.#pool.get(id) }
  /** Accepted and refused counts by reason since start. */
  counts (): Readonly<Record<MempoolRefusal | 'accepted', number>> { return { ...this.#counts } }

  /** Subscribes to newly accepted messages (to gossip them to subnet peers); returns unsubscribe. */
  onAccepted (listener: AcceptedListener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  /**
   * Admits the untrusted envelope `bytes` received from `from` (a peer id, or undefined for the
   * local API): decodes and verifies it (its signature only where `options.checkSignature` says so;
   * take() checks the rest before proposing), then admits it as addVerified does.
   * Post: on ok the message is pooled and listeners were told; on error nothing changed except the
   * refusal counter (and, for a verified sender, nothing else either: rate tokens are spent only on
   * accepted messages).
   */
  add (bytes: Uint8Array, from?: string, options: AddOptions = {}): Result<Ingress, IngressError<MempoolRefusal>> {
    const nowMs = this.#clock.now()
    this.#maybePrune(nowMs)
    // Cheap checks first: an exact duplicate costs a hash, never a signature verification.
    const id = bytes instanceof Uint8Array && bytes.length <= ingressBytesMax ? options.id ?? ingressIdOf(bytes) : undefined
    if (id !== undefined && this.#pool.has(id)) return this.#refuse('duplicate', `duplicate message ${id}`)
    const check = options.checkSignature
    const decoded = decodeIngress(bytes, nowMs, { ...(id === undefined ? {} : { id }), ...(check === undefined ? {} : { checkSignature: check }) })
    if (!decoded.ok) return this.#refuse(decoded.error.reason, decoded.error.message)
    const admitted = this.#admit(decoded.value, from, nowMs)
    if (admitted.ok && check?.(decoded.value.requestId) === false) this.#unchecked.add(decoded.value.id)
    return admitted
  }

  /** Whether a pooled message's signature is still unchecked (AddOptions.checkSignature). */
  unchecked (id: IngressId): boolean { return this.#unchecked.has(id) }

  /**
   * Admits a message this node already decoded and signature-checked from its bytes (the API does,
   * to route it), so its signature is not verified a second time. Every other check of add() still
   * runs, the expiry window again at this pool's clock. Pre: `ingress` came from decodeIngress (or
   * signIngress), never built by hand: its id, requestId and content must be those of its bytes.
   * Post: as add().
   */
  addVerified (ingress: Ingress, from?: string): Result<Ingress, IngressError<MempoolRefusal>> {
    const nowMs = this.#clock.now()
    this.#maybePrune(nowMs)
    if (this.#pool.has(ingress.id)) return this.#refuse('duplicate', `duplicate message ${ingress.id}`)
    const expiry = checkExpiry(ingress.content.expiryMs, nowMs)
    if (!expiry.ok) return this.#refuse(expiry.error.reason, expiry.error.message)
    return this.#admit(ingress, from, nowMs)
  }

  /** The checks after decoding (kind, subnet, replay, bounds, rate) and the insert. */
  #admit (ingress: Ingress, from: string | undefined, nowMs: number): Result<Ingress, IngressError<MempoolRefusal>> {
    const { bytes, content } = ingress
    if (content.kind === 'query') return this.#refuse('query', 'queries do not go through consensus: send them to a replica\'s query endpoint')
    const subnet = subnetOfIngress(content)
    if (this.#subnet !== undefined && subnet !== this.#subnet) return this.#refuse('wrong-subnet', `message is for subnet ${subnet}, this pool serves ${this.#subnet}`)
    if (this.#seen.has(ingress.requestId)) return this.#refuse('replay', `replayed request ${ingress.requestId}: already pooled or finalized, remembered until it expires`)
    if (this.#committed?.(ingress.requestId) === true) return this.#refuse('replay', `replayed request ${ingress.requestId}: a committed block executed it`)
    if (this.#pool.size >= this.#countMax || this.#bytes + bytes.length > this.#bytesMax) {
      return this.#refuse('full', `mempool full: ${this.#pool.size}/${this.#countMax} messages, ${this.#bytes + bytes.length} > ${this.#bytesMax} bytes; retry later`)
    }
    if (this.#seen.size >= this.#seenMax) return this.#refuse('full', `replay memory full: ${this.#seen.size}/${this.#seenMax} ids until they expire; retry later`)
    if (!this.#rate.take(content.sender, nowMs)) {
      return this.#refuse('rate-limited', `rate limited: principal ${content.sender} may send again in ${this.#rate.waitMs(content.sender, nowMs)} ms`)
    }
    this.#pool.set(ingress.id, ingress)
    this.#byRequest.set(ingress.requestId, ingress.id)
    this.#bytes += ingress.bytes.length
    this.#remember(ingress.requestId, Number(content.expiryMs))
    this.#counts.accepted++
    this.#metrics?.accepted()
    for (const listener of this.#listeners) {
      try {
        listener(ingress, from)
      } catch (error) {
        this.#logger.warn('accepted-message listener failed', { error })
      }
    }
    return ok(ingress)
  }

  /**
   * Up to `countMax` messages whose sizes sum to at most `bytesMax`, oldest first, for a proposal.
   * Leaves them pooled (a proposal may be nullified); drops the expired ones it meets, and checks
   * the signature of any admitted unchecked, dropping a forged one (counted 'bad-signature') and
   * forgetting its request id, so the genuine message can still come in.
   */
  take (countMax: number, bytesMax: number, options: TakeOptions = {}): Ingress[] {
    const now = BigInt(Math.floor(this.#clock.now()))
    const batch: Ingress[] = []
    let bytes = 0
    for (const [id, ingress] of this.#pool) {
      if (batch.length >= countMax) break
      if (ingress.content.expiryMs <= now) {
        this.#remove(id)
        continue
      }
      if (options.exclude?.(id) === true || bytes + ingress.bytes.length > bytesMax) continue
      if (this.#unchecked.has(id)) {
        if (!verifyIngressSignature(ingress)) {
          this.#remove(id)
          this.#seen.delete(ingress.requestId)
          this.#refuse('bad-signature', `bad signature: not by sender ${ingress.content.sender}`)
          continue
        }
        this.#unchecked.delete(id)
      }
      batch.push(ingress)
      bytes += ingress.bytes.length
    }
    return batch
  }

  /**
   * Forgets the messages of a finalized block and remembers their request ids until they expire,
   * also for messages this pool never held (they reached the leader through another node).
   */
  markFinalized (messages: Iterable<Ingress>): void {
    const nowMs = this.#clock.now()
    this.#maybePrune(nowMs)
    for (const ingress of messages) {
      this.#remove(ingress.id)
      const pooled = this.#byRequest.get(ingress.requestId)
      if (pooled !== undefined) this.#remove(pooled)
      const expiryMs = Number(ingress.content.expiryMs)
      if (expiryMs <= nowMs || this.#seen.has(ingress.requestId)) continue
      // Beyond the bound the id is not remembered here; the executor's replicated ingress history
      // still refuses a replay, so this costs only a wasted proposal slot, never a second execution.
      if (this.#seen.size >= this.#seenMax) {
        this.#logger.warn('replay memory full; finalized request not remembered', { requestId: ingress.requestId })
        continue
      }
      this.#remember(ingress.requestId, expiryMs)
    }
  }

  /** Drops expired messages and forgets expired request ids; returns how many messages it dropped. */
  prune (): number {
    const nowMs = this.#clock.now()
    this.#prunedAtMs = nowMs
    let dropped = 0
    for (const [id, ingress] of this.#pool) {
      if (Number(ingress.content.expiryMs) <= nowMs) {
        this.#remove(id)
        dropped++
      }
    }
    // Seconds that ended by now hold only expired ids (each id is remembered once); in the second
    // now falls in, each id is judged by its own expiry.
    const current = Math.ceil(nowMs / 1000)
    for (const [second, ids] of this.#seenBySecond) {
      if (second > current) continue
      if (second * 1000 <= nowMs) {
        for (const requestId of ids) this.#seen.delete(requestId)
        this.#seenBySecond.delete(second)
        continue
      }
      const kept = ids.filter(requestId => {
        if (this.#seen.get(requestId)! > nowMs) return true
        this.#seen.delete(requestId)
        return false
      })
      if (kept.length < ids.length) this.#seenBySecond.set(second, kept)
    }
    return dropped
  }

  /** Request ids currently remembered against replay (pooled + finalized, unexpired). */
  get rememberedCount (): number { return this.#seen.size }

  /** Pre: requestId is not remembered yet. */
  #remember (requestId: RequestId, expiryMs: number): void {
    this.#seen.set(requestId, expiryMs)
    const second = Math.ceil(expiryMs / 1000)
    const ids = this.#seenBySecond.get(second)
    if (ids === undefined) this.#seenBySecond.set(second, [requestId])
    else ids.push(requestId)
  }

  #maybePrune (nowMs: number): void {
    if (nowMs - this.#prunedAtMs >= mempoolPruneIntervalMs) this.prune()
  }

  #remove (id: IngressId): void {
    const ingress = this.#pool.get(id)
    if (ingress === undefined) return
    this.#pool.delete(id)
    this.#unchecked.delete(id)
    if (this.#byRequest.get(ingress.requestId) === id) this.#byRequest.delete(ingress.requestId)
    this.#bytes -= ingress.bytes.length
  }

  #refuse (reason: MempoolRefusal, message: string): Result<never, IngressError<MempoolRefusal>> {
    this.#counts[reason]++
    this.#metrics?.refused(reason)
    return err({ reason, message })
  }
}
