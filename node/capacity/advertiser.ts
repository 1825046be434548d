// Publishes this node's signed capacity advert: at start, every interval, and early when its
// addresses or labels change; on gossip, into its own book, and into the DHT. It never signs an
// advert whose seq is not greater than every earlier one (SequenceSource persists it).

import { capacityTopic, encodeCapacityAdvert, signCapacityAdvert, type CapacityAdvert, type CapacityLabels } from '../../protocol/capacity.ts'
import type { NodeId } from '../../protocol/ids.ts'
import { advertChangeCheckMs, advertLabelCharsMax, advertMultiaddrsMax, advertSubnetsMax, dhtOperationTimeoutMs, multiaddrCharsMax } from '../../protocol/limits.ts'
import type { Signer } from '../../protocol/signature.ts'
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/startable.ts'
import type { Net } from '../net/net.ts'
import type { AdvertBook } from './advert-book.ts'
import { capacityRecordKey } from './capacity-sync.ts'
import type { CapacityMetrics } from './capacity-metrics.ts'
import type { MachineProbe } from './probe.ts'
import type { SequenceSource } from './sequence-file.ts'

export interface AdvertiserComponents {
  net: Pick<Net, 'nodeId' | 'multiaddrs' | 'publish' | 'putRecord'>
  signer: Signer
  book: AdvertBook
  clock: Clock
  logger: Logger
  metrics: CapacityMetrics
  sequence: SequenceSource
  probe: () => Promise<MachineProbe>
  /** Subnets this node serves, for the advert: placement skips nodes that are full. @default none */
  subnets?: () => string[]
}

export interface AdvertiserInit {
  labels: CapacityLabels
  version: string
  /** Measured once by the daemon (compute-score.ts). */
  score: bigint
  /** @default 30_000 — fresh enough for placement, ~1 small message per node per 30 s. */
  intervalMs?: number
  /** @default 4 × intervalMs — an advert survives three lost republishes. */
  ttlMs?: number
  /** @default 0 until the runtime reports real slots. */
  actorSlotsFree?: number
}

export class Advertiser implements Startable {
  readonly #c: AdvertiserComponents
  readonly #init: AdvertiserInit
  readonly #intervalMs: number
  readonly #ttlMs: number
  #cancelTimers: Array<() => void> = []
  #lastPublishedMs = 0
  #lastShape = ''
  #publishing: Promise<void> | undefined
  #dhtPutInFlight = false
  #running = false

  constructor (components: AdvertiserComponents, init: AdvertiserInit) {
    this.#c = components
    this.#init = init
    this.#intervalMs = init.intervalMs ?? 30_000
    this.#ttlMs = init.ttlMs ?? 4 * this.#intervalMs
  }

  async start (): Promise<void> {
    this.#running = true
    await this.publish()
    const check = (): void => {
      if (!this.#running) return
      const due = this.#c.clock.now() - this.#lastPublishedMs >= this.#intervalMs || this.#shape() !== this.#lastShape
      if (due) this.publish().catch(error => { this.#c.logger.warn('advert publish failed', { error }) })
      this.#cancelTimers = [this.#c.clock.setTimer(Math.min(advertChangeCheckMs, this.#intervalMs), check)]
    }
    this.#cancelTimers = [this.#c.clock.setTimer(Math.min(advertChangeCheckMs, this.#intervalMs), check)]
  }

  async stop (): Promise<void> {
    this.#running = false
    for (const cancel of this.#cancelTimers) cancel()
    this.#cancelTimers = []
    await this.#publishing
  }

  /** Signs and publishes a fresh advert now (serialized: one at a time). */
  async publish (): Promise<void> {
    while (this.#publishing !== undefined) await this.#publishing
    this.#publishing = this.#publishOnce()
    try {
      await this.#publishing
    } finally {
      this.#publishing = undefined
    }
  }

  async #publishOnce (): Promise<void> {
    const advert = await this.#build()
    const bytes = encodeCapacityAdvert(signCapacityAdvert(advert, this.#c.signer))
    const stored = this.#c.book.offerBytes(bytes, 'self')
    if (!stored.ok) this.#c.logger.error('own advert refused by own book', { error: stored.error })
    this.#lastPublishedMs = this.#c.clock.now()
    this.#lastShape = this.#shape()
    this.#c.metrics.published.inc()
    const recipients = await this.#c.net.publish(capacityTopic, bytes)
    this.#c.logger.debug('advert published', { seq: advert.seq, recipients })
    this.#putInDht(advert.nodeId, bytes)
  }

  async #build (): Promise<CapacityAdvert> {
    const now = this.#c.clock.now()
    const machine = await this.#c.probe()
    return {
      nodeId: this.#c.net.nodeId,
      seq: await this.#c.sequence.next(now),
      issuedAtMs: BigInt(now),
      expiresAtMs: BigInt(now + this.#ttlMs),
      multiaddrs: this.#c.net.multiaddrs().filter(a => a.length <= multiaddrCharsMax).slice(0, advertMultiaddrsMax),
      cores: machine.cores,
      memoryBytes: machine.memoryBytes,
      diskFreeBytes: machine.diskFreeBytes,
      loadPermille: machine.loadPermille,
      score: this.#init.score,
      labels: this.#init.labels,
      version: this.#init.version,
      actorSlotsFree: this.#init.actorSlotsFree ?? 0,
      subnets: this.#subnets()
    }
  }

  /** What, when it changes, is worth an early republish: addresses and served subnets (labels are fixed per run). */
  #shape (): string {
    return `${this.#c.net.multiaddrs().join(' ')}|${this.#subnets().join(' ')}`
  }

  /** Served subnets within the advert's bounds (each id fits; never more than advertSubnetsMax). */
  #subnets (): string[] {
    return (this.#c.subnets?.() ?? []).filter(id => id.length > 0 && id.length <= advertLabelCharsMax * 2).slice(0, advertSubnetsMax)
  }

  /** Best effort and at most one at a time: the DHT copy only serves nodes that missed the gossip. */
  #putInDht (nodeId: NodeId, bytes: Uint8Array): void {
    if (this.#dhtPutInFlight) return
    this.#dhtPutInFlight = true
    this.#c.net.putRecord(capacityRecordKey(nodeId), bytes, { signal: AbortSignal.timeout(dhtOperationTimeoutMs) })
      .catch(error => { this.#c.logger.debug('advert DHT put failed', { error: (error as Error).message }) })
      .finally(() => { this.#dhtPutInFlight = false })
  }
}
