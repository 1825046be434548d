// Time, handed in: real components get systemClock, tests and the simulator a controlled one.

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now (): number
  /** Calls fn after ms; returns a cancel function. */
  setTimer (ms: number, fn: () => void): () => void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer (ms, fn) {
    const timer = setTimeout(fn, ms)
    timer.unref?.()
    return () => clearTimeout(timer)
  }
}

/** A clock that moves only when told to: for unit tests. */
export class ManualClock implements Clock {
  #now: number
  #timers: Array<{ at: number, fn: () => void, id: number }> = []
  #nextId = 0

  constructor (startMs = 1_700_000_000_000) {
    this.#now = startMs
  }

  now (): number {
    return this.#now
  }

  setTimer (ms: number, fn: () => void): () => void {
    const id = this.#nextId++
    this.#timers.push({ at: this.#now + ms, fn, id })
    return () => { this.#timers = this.#timers.filter(t => t.id !== id) }
  }

  /** Advances time, firing due timers in time order. */
  advance (ms: number): void {
    const until = this.#now + ms
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at || a.id - b.id)
      const next = this.#timers[0]
      if (next === undefined || next.at > until) break
      this.#timers.shift()
      this.#now = next.at
      next.fn()
    }
    this.#now = until
  }
}
