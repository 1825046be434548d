// One subnet's direct member-to-member channel for what every member must see but consensus does
// not order: client envelopes a member admitted (ingress relay) and certification shares, and the
// stored certificates a restarted member asks for (the shares it missed are never sent again). One
// long-lived length-prefixed stream per member (PeerLink: bounded outbox, batched writes), members
// only, checked per stream. It never decides what is valid: the sinks (mempool, share check) do.

import { lpStream } from '@libp2p/utils'
import { decodeFrameLength, readFrame } from '../net/frames.ts'
import { decode, encode } from '../../protocol/codec.ts'
import type { NodeId, SubnetId } from '../../protocol/ids.ts'
import {
  memberCertificateBytesMax, memberCertificateHeightsBurst, memberCertificateHeightsPerSecond, memberCertificateRequestHeightsMax, memberFrameBytesMax,
  memberOutboxBytesMax, memberOutboxFramesMax, memberShareBytesMax, memberStreamsMax, subnetMembersMax
} from '../../protocol/limits.ts'
import type { Subnet } from '../../protocol/subnet.ts'
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import { RateLimiter } from '../core/rate-limiter.ts'
import type { Startable } from '../core/startable.ts'
import type { Net, Stream } from '../net/net.ts'
import { PeerLink } from './peer-link.ts'

/** The stream protocol of one subnet's member channel (the SubnetId keeps subnets on one node apart). */

/** Longest a member stream delivers frames before letting other work run (a scheduling quantum, not a protocol bound). */
const deliverSliceMs = 2

export function memberProtocolOf (subnet: SubnetId): string {
  return `/pylon/members/1.0.0/${subnet}`
}

/** The first byte of every frame. */
export const frameKinds = { ingress: 1, share: 2, certificateRequest: 3, certificate: 4 } as const

/**
 * Why a member's input was refused; each is counted. A refused frame closes the stream unless it is
 * `bad-…` (a sink's verdict on a well-formed frame) or `rate-limited` (a certificate request past
 * the member's allowance: the heights beyond it are not answered; the asker asks again later).
 */
export type MemberRefusal = 'non-member' | 'oversized' | 'malformed' | 'bad-ingress' | 'bad-share' | 'bad-certificate' | 'rate-limited'

export interface MemberChannelComponents {
  net: Net
  clock: Clock
  logger: Logger
}

export interface MemberChannelInit {
  subnet: Subnet
  /** This node (a member). */
  self: NodeId
  /**
   * An envelope a member relayed: admit it (mempool). Returns false when it was refused for being
   * bytes no honest member relays (malformed, bad signature…); a late or repeated one is not that.
   */
  onIngress: (bytes: Uint8Array, from: NodeId) => boolean
  /** A certification share from a member; false when it is not a valid member share. */
  onShare: (bytes: Uint8Array, from: NodeId) => Promise<boolean>
  /**
   * A member asks for the stored certificates of these heights (at most memberCertificateRequestHeightsMax,
   * within its allowance). Awaited: that member's next frames wait for the answer, so one member
   * never has more than one request being answered.
   */
  onCertificateRequest?: (heights: bigint[], from: NodeId) => Promise<void> | void
  /** A state certificate a member sent (asked for); false when it is not a valid certificate of this subnet. */
  onCertificate?: (bytes: Uint8Array, from: NodeId) => Promise<boolean>
}

export interface MemberChannelStatus {
  refused: Record<MemberRefusal, number>
  dropped: number
  /** Frames received and handed to a sink, by kind. */
  received: { ingress: number, share: number, certificateRequest: number, certificate: number }
  /** Frames written to member streams (all links). */
  sent: number
}

export class MemberChannel implements Startable {
  readonly protocol: string
  readonly #c: MemberChannelComponents
  readonly #init: MemberChannelInit
  readonly #members: ReadonlySet<NodeId>
  readonly #links = new Map<NodeId, PeerLink>()
  readonly #streams = new Set<Stream>()
  #running = false
  #abort = new AbortController()
  readonly #refused: Record<MemberRefusal, number> = { 'non-member': 0, oversized: 0, malformed: 0, 'bad-ingress': 0, 'bad-share': 0, 'bad-certificate': 0, 'rate-limited': 0 }
  /** Certificate-request heights each member may still have answered (one token per height). */
  readonly #certificateAllowance = new RateLimiter({ ratePerSecond: memberCertificateHeightsPerSecond, burst: memberCertificateHeightsBurst, keysMax: subnetMembersMax })
  #dropped = 0
  readonly #received = { ingress: 0, share: 0, certificateRequest: 0, certificate: 0 }

  constructor (components: MemberChannelComponents, init: MemberChannelInit) {
    this.#c = components
    this.#init = init
    this.protocol = memberProtocolOf(init.subnet.id)
    this.#members = new Set(init.subnet.memberIds)
    if (!this.#members.has(init.self)) throw new RangeError(`node ${init.self} is not a member of subnet ${init.subnet.id}`)
  }

  /**
   * The Net cannot unregister a protocol, so it is registered once per (Net, subnet) and routed to
   * the channel running now (a subnet can be stopped and served again in one process).
   */
  static readonly #routes = new WeakMap<Net, Map<string, MemberChannel>>()

  static #route (net: Net, protocol: string, channel: MemberChannel): void {
    let routes = MemberChannel.#routes.get(net)
    if (routes === undefined) MemberChannel.#routes.set(net, routes = new Map())
    const registered = routes.has(protocol)
    routes.set(protocol, channel)
    if (registered) return
    // Membership is checked per stream (as for consensus), not with a PeerGate: a node keeps
    // connections to non-members for discovery and the DHT.
    net.handle(protocol, async (stream, peer) => {
      const current = MemberChannel.#routes.get(net)?.get(protocol)
      if (current === undefined || !current.#running) {
        stream.abort(new Error(`no member channel runs for ${protocol}`))
        return
      }
      await current.#serve(stream, peer)
    }, { inboundStreamsMax: memberStreamsMax, outboundStreamsMax: memberStreamsMax })
  }

  async start (): Promise<void> {
    if (this.#running) return
    this.#abort = new AbortController()
    this.#running = true
    // Keep the route entry even when stopped: the protocol stays registered on the Net.
    MemberChannel.#route(this.#c.net, this.protocol, this)
  }

  async stop (): Promise<void> {
    if (!this.#running) return
    this.#running = false
    this.#abort.abort(new Error('member channel stopped'))
    for (const link of this.#links.values()) link.close()
    this.#links.clear()
    for (const stream of this.#streams) stream.abort(new Error('member channel stopped'))
    this.#streams.clear()
  }

  status (): MemberChannelStatus {
    let sent = 0
    for (const link of this.#links.values()) sent += link.sent
    return { refused: { ...this.#refused }, dropped: this.#dropped, received: { ...this.#received }, sent }
  }

  /** Relays an envelope this node admitted from a client (or a non-member relay) to every other member. */
  sendIngress (bytes: Uint8Array): void {
    this.#sendAll(frameOf(frameKinds.ingress, bytes))
  }

  /** Sends this replica's certification share to every other member. */
  sendShare (bytes: Uint8Array): void {
    this.#sendAll(frameOf(frameKinds.share, bytes))
  }

  /** Asks every other member for its stored certificates of `heights` (this node committed them but never certified them). */
  requestCertificates (heights: readonly bigint[]): void {
    if (heights.length === 0) return
    if (heights.length > memberCertificateRequestHeightsMax) throw new RangeError(`at most ${memberCertificateRequestHeightsMax} heights per certificate request, got ${heights.length}`)
    this.#sendAll(frameOf(frameKinds.certificateRequest, encode(heights)))
  }

  /** Sends one stored certificate to the member that asked for it. */
  sendCertificate (to: NodeId, bytes: Uint8Array): void {
    if (this.#running && to !== this.#init.self && this.#members.has(to)) this.#link(to).send(frameOf(frameKinds.certificate, bytes))
  }

  #sendAll (frame: Uint8Array): void {
    if (!this.#running) return
    for (const member of this.#init.subnet.memberIds) {
      if (member !== this.#init.self) this.#link(member).send(frame)
    }
  }

  #link (member: NodeId): PeerLink {
    let link = this.#links.get(member)
    if (link === undefined) {
      link = new PeerLink({ net: this.#c.net, clock: this.#c.clock, logger: this.#c.logger }, {
        peer: member,
        protocol: this.protocol,
        bounds: { framesMax: memberOutboxFramesMax, bytesMax: memberOutboxBytesMax, frameBytesMax: memberFrameBytesMax },
        onDrop: (_reason, frames) => { this.#dropped += frames }
      })
      this.#links.set(member, link)
    }
    return link
  }

  // ── Streams in: members only, bounded frames, garbage closes the stream ─────────────────────────

  async #serve (stream: Stream, peer: NodeId): Promise<void> {
    if (!this.#members.has(peer) || peer === this.#init.self) {
      this.#refuse('non-member')
      stream.abort(new Error(`${peer} is not a member of subnet ${this.#init.subnet.id}`))
      return
    }
    this.#streams.add(stream)
    const lp = lpStream(stream, { lengthDecoder: decodeFrameLength, maxDataLength: memberFrameBytesMax, maxBufferSize: memberFrameBytesMax + 64 * 1024 })
    try {
      let sliceStart = performance.now()
      for (;;) {
        if (performance.now() - sliceStart > deliverSliceMs) {
          // Buffered frames resolve as microtasks: a burst of envelopes (a signature check each)
          // would hold the consensus pump and the sockets until it drained.
          await new Promise(resolve => setImmediate(resolve))
          sliceStart = performance.now()
        }
        const frame = await readFrame(lp, this.#abort.signal)
        if (frame === 'end') return
        if (frame === 'oversized' || frame === 'malformed') {
          this.#refuse(frame)
          stream.abort(new Error(`${frame} frame length`))
          return
        }
        if (!this.#running) return
        const why = await this.#deliver(frame, peer)
        if (why !== undefined) {
          this.#c.logger.debug('malformed member frame; closing the stream', { subnet: this.#init.subnet.id, peer, why })
          stream.abort(new Error(`malformed member frame: ${why}`))
          return
        }
      }
    } finally {
      this.#streams.delete(stream)
    }
  }

  /** Hands one frame to its sink; returns why the frame itself is malformed (the stream then closes). */
  async #deliver (frame: Uint8Array, peer: NodeId): Promise<string | undefined> {
    if (frame.length < 2) {
      this.#refuse('malformed')
      return `a frame needs a kind byte and a body (got ${frame.length} bytes)`
    }
    const body = frame.subarray(1)
    switch (frame[0]) {
      case frameKinds.ingress:
        this.#received.ingress++
        if (!this.#init.onIngress(body, peer)) this.#refuse('bad-ingress')
        return undefined
      case frameKinds.share:
        if (body.length > memberShareBytesMax) {
          this.#refuse('oversized')
          return `a share of ${body.length} bytes > ${memberShareBytesMax}`
        }
        this.#received.share++
        if (!await this.#init.onShare(body, peer)) this.#refuse('bad-share')
        return undefined
      case frameKinds.certificateRequest: {
        const heights = heightsOf(body)
        if (typeof heights === 'string') {
          this.#refuse('malformed')
          return heights
        }
        this.#received.certificateRequest++
        const nowMs = this.#c.clock.now()
        let allowed = 0
        while (allowed < heights.length && this.#certificateAllowance.take(peer, nowMs)) allowed++
        if (allowed < heights.length) this.#refuse('rate-limited')
        if (allowed > 0) await this.#init.onCertificateRequest?.(heights.slice(0, allowed), peer)
        return undefined
      }
      case frameKinds.certificate:
        if (body.length > memberCertificateBytesMax) {
          this.#refuse('oversized')
          return `a certificate of ${body.length} bytes > ${memberCertificateBytesMax}`
        }
        this.#received.certificate++
        if (this.#init.onCertificate !== undefined && !await this.#init.onCertificate(body, peer)) this.#refuse('bad-certificate')
        return undefined
      default:
        this.#refuse('malformed')
        return `unknown frame kind ${frame[0]}`
    }
  }

  #refuse (reason: MemberRefusal): void {
    this.#refused[reason]++
  }
}

function frameOf (kind: number, body: Uint8Array): Uint8Array {
  const frame = new Uint8Array(body.length + 1)
  frame[0] = kind
  frame.set(body, 1)
  return frame
}

/** The heights of a certificate request (dag-cbor list of non-negative integers), or why it is malformed. */
function heightsOf (body: Uint8Array): bigint[] | string {
  // A CBOR list head and each u64 in it take at most 9 bytes.
  const decoded = decode(body, { bytesMax: memberCertificateRequestHeightsMax * 9 + 9 })
  if (!decoded.ok) return `certificate request: ${decoded.error}`
  const value = decoded.value
  if (!Array.isArray(value) || value.length === 0 || value.length > memberCertificateRequestHeightsMax) return `a certificate request names 1..${memberCertificateRequestHeightsMax} heights`
  const heights: bigint[] = []
  for (const h of value) {
    if (!((typeof h === 'number' && Number.isSafeInteger(h) && h >= 1) || (typeof h === 'bigint' && h >= 1n))) return 'certificate request heights must be positive integers'
    heights.push(BigInt(h))
  }
  return heights
}
