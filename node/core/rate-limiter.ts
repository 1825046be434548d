// Per-key token buckets (one per principal) in a bounded map. Local admission control only: its
// fractional token counts never reach replicated state, so floats are fine here.

import { BoundedMap } from './bounded-map.ts'
import { assert } from './assert.ts'

export interface RateLimiterInit {
  /** Tokens added per second: the sustained rate. */
  ratePerSecond: number
  /** Bucket capacity: the burst a quiet key may spend at once. */
  burst: number
  /** Keys tracked; the least recently charged is forgotten (it comes back with a full bucket). */
  keysMax: number
}

interface Bucket { tokens: number, atMs: number }

export class RateLimiter {
  readonly #init: RateLimiterInit
  readonly #buckets: BoundedMap<string, Bucket>

  constructor (init: RateLimiterInit) {
    assert(init.ratePerSecond > 0 && init.burst >= 1, `rate limiter needs rate > 0 and burst >= 1, got ${init.ratePerSecond}/${init.burst}`)
    this.#init = init
    this.#buckets = new BoundedMap(init.keysMax)
  }

  get size (): number { return this.#buckets.size }

  /** Takes one token for `key` at `nowMs`; false (and nothing taken) when the bucket is empty. */
  take (key: string, nowMs: number): boolean {
    const { ratePerSecond, burst } = this.#init
    const bucket = this.#buckets.get(key) ?? { tokens: burst, atMs: nowMs }
    // A clock that steps backwards refills nothing rather than draining the bucket.
    const elapsedMs = Math.max(0, nowMs - bucket.atMs)
    const tokens = Math.min(burst, bucket.tokens + elapsedMs * ratePerSecond / 1000)
    if (tokens < 1) {
      this.#buckets.set(key, { tokens, atMs: Math.max(nowMs, bucket.atMs) })
      return false
    }
    this.#buckets.set(key, { tokens: tokens - 1, atMs: Math.max(nowMs, bucket.atMs) })
    return true
  }

  /** Milliseconds until `key` has a token again (0 when it has one now). */
  waitMs (key: string, nowMs: number): number {
    const bucket = this.#buckets.get(key)
    if (bucket === undefined) return 0
    const tokens = Math.min(this.#init.burst, bucket.tokens + Math.max(0, nowMs - bucket.atMs) * this.#init.ratePerSecond / 1000)
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) * 1000 / this.#init.ratePerSecond)
  }
}
