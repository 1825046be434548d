// One outbound consensus link to one member: a bounded queue of encoded frames and one long-lived
// length-prefixed stream, re-dialled after a failure. It never reads from the stream and never
// blocks its caller: a full queue drops its oldest frames (the replica's retry timers resend).

import { lpStream } from '@libp2p/utils'
import type { NodeId } from '../../protocol/ids.ts'
import {
  consensusMessageBytesMax, consensusOutboxBytesMax, consensusOutboxFramesMax, consensusRedialMs, consensusWriteTimeoutMs, netDialTimeoutMs
} from '../../protocol/limits.ts'
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import type { Net, Stream } from '../net/net.ts'

export interface PeerLinkComponents { net: Net, clock: Clock, logger: Logger }

export interface PeerLinkInit {
  peer: NodeId
  protocol: string
  /** Called for each frame dropped (queue full, stream failed): a metric, never a decision. */
  onDrop: (reason: 'outbox-full' | 'write-failed' | 'dial-failed', frames: number) => void
  /** The link's bounds; the consensus ones by default (the member channel passes its own). */
  bounds?: PeerLinkBounds
}

/** How much one link may queue and carry (all from protocol/limits.ts). */
export interface PeerLinkBounds {
  framesMax: number
  bytesMax: number
  frameBytesMax: number
}

const consensusBounds: PeerLinkBounds = { framesMax: consensusOutboxFramesMax, bytesMax: consensusOutboxBytesMax, frameBytesMax: consensusMessageBytesMax }

type Lp = ReturnType<typeof lpStream<Stream>>

export class PeerLink {
  readonly peer: NodeId
  readonly #c: PeerLinkComponents
  readonly #init: PeerLinkInit
  readonly #bounds: PeerLinkBounds
  #frames: Uint8Array[] = []
  #bytes = 0
  #stream: Stream | undefined
  #lp: Lp | undefined
  #flushing = false
  #flushScheduled = false
  #closed = false
  #retryAtMs = 0
  #cancelRetry: (() => void) | undefined
  readonly #abort = new AbortController()
  /** Aborts the current stream's pending write: on close, or when the write is stuck. */
  #streamAbort: AbortController | undefined
  /** When the write in progress began (clock ms), undefined between writes. */
  #writingSince: number | undefined
  #cancelWatchdog: (() => void) | undefined
  /** Frames written to the stream (for tests and status). */
  sent = 0

  constructor (components: PeerLinkComponents, init: PeerLinkInit) {
    this.#c = components
    this.#init = init
    this.#bounds = init.bounds ?? consensusBounds
    this.peer = init.peer
  }

  get queued (): number { return this.#frames.length }
  get connected (): boolean { return this.#lp !== undefined }

  /** Queues one frame (already encoded; shared between links, never mutated) and starts writing. */
  send (frame: Uint8Array): void {
    if (this.#closed) return
    let dropped = 0
    while (this.#frames.length > 0 && (this.#frames.length >= this.#bounds.framesMax || this.#bytes + frame.length > this.#bounds.bytesMax)) {
      this.#bytes -= this.#frames.shift()!.length
      dropped++
    }
    if (dropped > 0) this.#init.onDrop('outbox-full', dropped)
    this.#frames.push(frame)
    this.#bytes += frame.length
    this.#scheduleFlush()
  }

  /**
   * Writes on the next macrotask, not now: every frame queued meanwhile (a vote to all members,
   * the sends of a WAL group, envelopes admitted in one tick) goes out in the same write, and each
   * write costs a yamux frame, a Noise encryption and a socket syscall.
   */
  #scheduleFlush (): void {
    if (this.#flushScheduled || this.#flushing) return
    this.#flushScheduled = true
    setImmediate(() => {
      this.#flushScheduled = false
      void this.#flush()
    })
  }

  close (): void {
    this.#closed = true
    this.#abort.abort(new Error('consensus link closed'))
    this.#streamAbort?.abort(new Error('consensus link closed'))
    this.#cancelRetry?.()
    this.#cancelWatchdog?.()
    this.#frames = []
    this.#bytes = 0
    const stream = this.#stream
    this.#stream = undefined
    this.#lp = undefined
    if (stream !== undefined) stream.close().catch(() => { stream.abort(new Error('consensus link closed')) })
  }

  /** Writes everything queued, one batch per write; one flush runs at a time. */
  async #flush (): Promise<void> {
    if (this.#flushing || this.#closed) return
    this.#flushing = true
    try {
      while (this.#frames.length > 0 && !this.#closed) {
        const lp = this.#lp ?? await this.#connect()
        if (lp === undefined) return
        const batch = this.#frames
        this.#frames = []
        this.#bytes = 0
        try {
          // A member that stops reading must not hold its link forever: the watchdog replaces the
          // stream. (A timeout signal per write cost a timer and two AbortSignals per frame batch.)
          this.#writingSince = this.#c.clock.now()
          this.#armWatchdog(consensusWriteTimeoutMs)
          await lp.writeV(batch, { signal: this.#streamAbort!.signal })
          this.sent += batch.length
        } catch (error) {
          if (this.#closed) return
          this.#init.onDrop('write-failed', batch.length)
          this.#c.logger.debug('consensus stream failed', { peer: this.peer, error: (error as Error).message })
          this.#reset(error as Error)
        } finally {
          this.#writingSince = undefined
        }
      }
    } finally {
      this.#flushing = false
    }
  }

  async #connect (): Promise<Lp | undefined> {
    const now = this.#c.clock.now()
    if (now < this.#retryAtMs) {
      this.#scheduleRetry(this.#retryAtMs - now)
      return undefined
    }
    try {
      const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(netDialTimeoutMs)])
      const stream = await this.#c.net.dial(this.peer, this.#init.protocol, { signal })
      if (this.#closed) {
        stream.abort(new Error('consensus link closed'))
        return undefined
      }
      this.#stream = stream
      this.#streamAbort = new AbortController()
      this.#lp = lpStream(stream, { maxDataLength: this.#bounds.frameBytesMax })
      // The peer never writes on this stream: if it ends or fails, the next write re-dials.
      stream.addEventListener('close', () => { if (this.#stream === stream) this.#reset() })
      return this.#lp
    } catch (error) {
      if (this.#closed) return undefined
      // While the member is unreachable its frames go stale; drop them rather than replay old views.
      this.#init.onDrop('dial-failed', this.#frames.length)
      this.#frames = []
      this.#bytes = 0
      this.#retryAtMs = this.#c.clock.now() + consensusRedialMs
      this.#c.logger.debug('consensus dial failed', { peer: this.peer, error: (error as Error).message })
      return undefined
    }
  }

  #reset (error?: Error): void {
    const stream = this.#stream
    this.#stream = undefined
    this.#lp = undefined
    if (stream !== undefined && error !== undefined) stream.abort(error)
  }

  /**
   * One timer per link at a time, not one per write: when it fires it aborts a write that has been
   * pending for consensusWriteTimeoutMs, or waits for the rest of that time if a newer write is pending.
   */
  #armWatchdog (delayMs: number): void {
    if (this.#cancelWatchdog !== undefined) return
    this.#cancelWatchdog = this.#c.clock.setTimer(delayMs, () => {
      this.#cancelWatchdog = undefined
      const since = this.#writingSince
      if (since === undefined || this.#closed) return
      const pendingMs = this.#c.clock.now() - since
      if (pendingMs >= consensusWriteTimeoutMs) this.#streamAbort?.abort(new Error(`write pending for ${pendingMs} ms: the member stopped reading`))
      else this.#armWatchdog(consensusWriteTimeoutMs - pendingMs)
    })
  }

  #scheduleRetry (delayMs: number): void {
    if (this.#cancelRetry !== undefined) return
    this.#cancelRetry = this.#c.clock.setTimer(delayMs, () => {
      this.#cancelRetry = undefined
      void this.#flush()
    })
  }
}
