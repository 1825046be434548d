// The network side of streams between subnets, over `/pylon/xnet/1.0.0`. Serving: any node may ask
// a member of subnet A for a slice of A's stream to B (the data is certified and public); the
// member long-polls its SubnetService until there is news. Pulling: for each subnet B this node
// serves, an inbox keeps one long poll open to a member of every other known subnet A, verifies
// what comes back, and holds the latest slice from each for B's proposals. It never decides what
// a block contains and never trusts a slice it has not verified.

import { lpStream } from '@libp2p/utils'
import { decode, encode } from '../../protocol/codec.ts'
import type { NodeId, SubnetId } from '../../protocol/ids.ts'
import { xnetLongPollMs, xnetDirectoryScanMs, xnetPolledSubnetsMax, xnetRequestTimeoutMs, xnetRetryMs, xnetSliceBytesMax, xnetStreamsMax } from '../../protocol/limits.ts'
import type { Subnet } from '../../protocol/subnet.ts'
import { decodeSlice, decodeSliceRequest, encodeSliceRequest, verifySlice, type StreamSlice, type VerifiedSlice } from '../../protocol/xnet.ts'
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import type { Net, Stream } from '../net/net.ts'
import type { SubnetService, XnetSource } from './subnet-service.ts'

export const xnetProtocol = '/pylon/xnet/1.0.0'


export interface XnetLinksComponents {
  net: Net
  clock: Clock
  logger: Logger
}

export interface XnetHooks {
  /** The service of a subnet this node serves, or undefined. */
  served (id: SubnetId): SubnetService | undefined
  /** Every subnet this node knows (served and learned), for polling. */
  directory (): Subnet[]
}

export class XnetLinks {
  readonly #c: XnetLinksComponents
  readonly #hooks: XnetHooks

  constructor (components: XnetLinksComponents, hooks: XnetHooks) {
    this.#c = components
    this.#hooks = hooks
    components.net.handle(xnetProtocol, async (stream) => { await this.#serve(stream) }, { inboundStreamsMax: xnetStreamsMax, outboundStreamsMax: xnetStreamsMax })
  }

  /** An inbox for served subnet `subnet`: hand it to the subnet's service, start it with the service, stop it before. */
  inbox (subnet: Subnet): XnetInbox {
    return new XnetInbox(this.#c, this.#hooks, subnet)
  }

  /** Answers one slice request: `{ slice: bytes | null }` or `{ error }`. */
  async #serve (stream: Stream): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: xnetSliceBytesMax + 1024, maxBufferSize: xnetSliceBytesMax + 2048 })
    const signal = AbortSignal.timeout(xnetLongPollMs + xnetRequestTimeoutMs)
    try {
      const request = decodeSliceRequest((await lp.read({ signal })).subarray())
      let answer: Record<string, unknown>
      if (!request.ok) answer = { error: request.error }
      else {
        const { from, to, next, have, acked, waitMs } = request.value
        const service = this.#hooks.served(from)
        if (service === undefined) answer = { error: `not a member of subnet ${from}` }
        else if (from === to) answer = { error: 'a subnet has no stream to itself' }
        else answer = { slice: await service.sliceFor(to, { next, have, acked }, Math.min(waitMs, xnetLongPollMs), signal) ?? null }
      }
      await lp.write(encode(answer), { signal })
      await stream.close({ signal })
    } catch (error) {
      stream.abort(error as Error)
    }
  }
}

/**
 * The slices waiting for one served subnet's proposals: one poll loop per other known subnet,
 * each asking one member at a time (moving on after a failure or a bad slice).
 */
export class XnetInbox implements XnetSource {
  readonly #c: XnetLinksComponents
  readonly #hooks: XnetHooks
  readonly #subnet: Subnet
  #service: SubnetService | undefined
  readonly #latest = new Map<SubnetId, { slice: StreamSlice, verified: VerifiedSlice }>()
  readonly #polling = new Set<SubnetId>()
  readonly #listeners = new Set<() => void>()
  #stopped = new AbortController()
  #cancelScan: (() => void) | undefined
  #warnedFull = false
  /** Slices refused after verification failed, by sending subnet (shown in logs; a member sending one is skipped). */
  refused = 0

  constructor (components: XnetLinksComponents, hooks: XnetHooks, subnet: Subnet) {
    this.#c = components
    this.#hooks = hooks
    this.#subnet = subnet
  }

  slices (): Iterable<{ slice: StreamSlice, verified: VerifiedSlice }> {
    return this.#latest.values()
  }

  onSlice (listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  /** Starts polling for `service` (the served subnet's service, which reads this inbox). */
  start (service: SubnetService): void {
    this.#service = service
    this.#stopped = new AbortController()
    this.#scan()
  }

  stop (): void {
    this.#stopped.abort()
    this.#cancelScan?.()
  }

  #scan (): void {
    if (this.#stopped.signal.aborted) return
    const self = this.#subnet.id
    for (const subnet of this.#hooks.directory()) {
      if (subnet.id === self || this.#polling.has(subnet.id)) continue
      if (this.#polling.size >= xnetPolledSubnetsMax) {
        if (!this.#warnedFull) this.#c.logger.warn('not polling more subnets for messages: the bound is reached', { subnet: self, polled: this.#polling.size, bound: xnetPolledSubnetsMax })
        this.#warnedFull = true
        break
      }
      this.#polling.add(subnet.id)
      void this.#poll(subnet).finally(() => { this.#polling.delete(subnet.id) })
    }
    this.#cancelScan = this.#c.clock.setTimer(xnetDirectoryScanMs, () => { this.#scan() })
  }

  /** Long-polls `from` for its stream to this subnet until stopped. */
  async #poll (from: Subnet): Promise<void> {
    const self = this.#subnet
    const service = this.#service!
    const log = this.#c.logger.child('xnet')
    // Spread the receiving members over the sending subnet's members.
    let member = Math.max(0, self.memberIds.indexOf(this.#c.net.nodeId)) % from.memberIds.length
    while (!this.#stopped.signal.aborted) {
      const peer = from.memberIds[member]!
      try {
        const held = this.#latest.get(from.id)
        const next = await service.consumedFrom(from.id)
        // Ask from what this subnet has not consumed; news is only a message past the held ones or a moved ack.
        const lastHeld = held?.verified.messages.at(-1)?.seq
        const have = lastHeld !== undefined && lastHeld >= next ? lastHeld + 1n : next
        const acked = held?.verified.acked ?? 0n
        const request = { from: from.id, to: self.id, next, have, acked, waitMs: xnetLongPollMs }
        // A node that serves both subnets reads the sending one's service directly.
        const local = peer === this.#c.net.nodeId ? this.#hooks.served(from.id) : undefined
        const bytes = local !== undefined
          ? await local.sliceFor(self.id, request, request.waitMs, this.#stopped.signal)
          : await this.#request(peer, from, request)
        if (bytes === undefined) continue
        const slice = decodeSlice(bytes)
        const verified = slice.ok ? verifySlice(slice.value, self.id) : slice
        if (!slice.ok || !verified.ok || verified.value.from !== from.id) {
          this.refused++
          log.warn('slice refused; asking another member', { from: from.id, peer, error: verified.ok ? `slice is from ${verified.value.from}` : verified.error })
          member = (member + 1) % from.memberIds.length
          await this.#sleep(xnetRetryMs)
          continue
        }
        // A fresh slice starts at what is not consumed and has a newer certificate: it replaces the held one.
        this.#latest.set(from.id, { slice: slice.value, verified: verified.value })
        for (const listener of [...this.#listeners]) listener()
      } catch (error) {
        if (this.#stopped.signal.aborted) return
        log.debug('slice request failed; asking another member', { from: from.id, peer, error: (error as Error).message })
        member = (member + 1) % from.memberIds.length
        await this.#sleep(xnetRetryMs)
      }
    }
  }

  /** One request; undefined when the member had nothing new within its long poll. */
  async #request (peer: NodeId, subnet: Subnet, request: Parameters<typeof encodeSliceRequest>[0]): Promise<Uint8Array | undefined> {
    const hint = subnet.genesis.members.find(m => m.nodeId === peer)?.multiaddrs
    if (hint !== undefined) this.#c.net.addPeerAddresses(peer, hint)
    const signal = AbortSignal.any([AbortSignal.timeout(request.waitMs + xnetRequestTimeoutMs), this.#stopped.signal])
    const stream = await this.#c.net.dial(peer, xnetProtocol, { signal })
    try {
      const lp = lpStream(stream, { maxDataLength: xnetSliceBytesMax + 1024, maxBufferSize: xnetSliceBytesMax + 2048 })
      await lp.write(encodeSliceRequest(request), { signal })
      const answer = decode((await lp.read({ signal })).subarray(), { bytesMax: xnetSliceBytesMax + 1024 })
      await stream.close({ signal }).catch(() => {})
      if (!answer.ok) throw new Error(`bad answer: ${answer.error}`)
      const a = answer.value as Record<string, unknown>
      if (typeof a !== 'object' || a === null) throw new Error('bad answer: not a map')
      if (typeof a.error === 'string') throw new Error(a.error)
      if (a.slice === null) return undefined
      if (!(a.slice instanceof Uint8Array)) throw new Error('bad answer: slice must be bytes or null')
      return a.slice
    } catch (error) {
      stream.abort(error as Error)
      throw error
    }
  }

  async #sleep (ms: number): Promise<void> {
    await new Promise<void>(resolve => {
      const cancel = this.#c.clock.setTimer(ms, resolve)
      this.#stopped.signal.addEventListener('abort', () => { cancel(); resolve() }, { once: true })
    })
  }
}

