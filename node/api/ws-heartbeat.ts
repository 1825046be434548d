// Pings a server's open WebSockets every interval and terminates any that did not answer the
// previous ping (a dead TCP peer otherwise holds its slot forever). Owns no socket's life otherwise.

import type { WebSocket } from 'ws'
import type { Clock } from '../core/clock.ts'

export class WebSocketHeartbeat {
  readonly #clock: Clock
  readonly #intervalMs: number
  /** Watched sockets → answered the last ping. */
  readonly #alive = new Map<WebSocket, boolean>()
  #cancel: (() => void) | undefined

  constructor (clock: Clock, intervalMs: number) {
    this.#clock = clock
    this.#intervalMs = intervalMs
  }

  start (): void {
    this.#cancel?.()
    this.#schedule()
  }

  stop (): void {
    this.#cancel?.()
    this.#cancel = undefined
  }

  /** Watches `ws` until it closes. */
  watch (ws: WebSocket): void {
    this.#alive.set(ws, true)
    ws.on('pong', () => { if (this.#alive.has(ws)) this.#alive.set(ws, true) })
    ws.on('close', () => { this.#alive.delete(ws) })
  }

  #schedule (): void {
    this.#cancel = this.#clock.setTimer(this.#intervalMs, () => {
      for (const [ws, alive] of this.#alive) {
        if (!alive) {
          ws.terminate()
          continue
        }
        this.#alive.set(ws, false)
        ws.ping()
      }
      this.#schedule()
    })
  }
}
