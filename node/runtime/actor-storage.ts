// One actor's storage during one block: the preloaded base view, the block's committed writes,
// and the current message's writes on top, so reads see earlier writes of the block and a failed
// message is undone by dropping its layer. Enforces the key, value and per-actor quota bounds.
// Never touches disk: the net change comes out as StateWrite[] for the store to apply.

import type { ActorId } from '../../protocol/ids.ts'
import { actorKeyBytesMax, actorStorageBytesMax, actorValueBytesMax } from '../../protocol/limits.ts'
import type { StateWrite } from '../../protocol/receipt.ts'
import { ActorTrap } from './actor-trap.ts'
import { keyBytes, keyString, type StateView } from './state-view.ts'

export class ActorStorage {
  readonly actor: ActorId
  readonly #base: StateView
  readonly #block = new Map<string, Uint8Array | null>()
  readonly #message = new Map<string, Uint8Array | null>()
  #bytes: number
  #blockBytes: number
  readonly #quotaBytes: number

  constructor (base: StateView, actor: ActorId, quotaBytes = actorStorageBytesMax) {
    this.#base = base
    this.actor = actor
    this.#bytes = base.storageBytes(actor)
    this.#blockBytes = this.#bytes
    this.#quotaBytes = quotaBytes
  }

  /** Bytes (keys + values) the actor holds with the current message's writes. */
  get bytes (): number { return this.#bytes }

  get (key: Uint8Array): Uint8Array | undefined {
    checkKey(key)
    return this.#read(keyString(key), key)
  }

  set (key: Uint8Array, value: Uint8Array): void {
    checkKey(key)
    if (value.length > actorValueBytesMax) throw new ActorTrap(`storage value too large: ${value.length} > ${actorValueBytesMax} bytes`)
    const k = keyString(key)
    const old = this.#read(k, key)
    const bytes = this.#bytes - (old === undefined ? 0 : key.length + old.length) + key.length + value.length
    if (bytes > this.#quotaBytes) throw new ActorTrap(`storage quota exceeded: ${bytes} > ${this.#quotaBytes} bytes`)
    this.#bytes = bytes
    this.#message.set(k, value.slice())
  }

  delete (key: Uint8Array): void {
    checkKey(key)
    const k = keyString(key)
    const old = this.#read(k, key)
    if (old === undefined) return
    this.#bytes -= key.length + old.length
    this.#message.set(k, null)
  }

  /** Entries start <= key < end (empty end: unbounded), ascending, at most `limit`. */
  range (start: Uint8Array, end: Uint8Array, limit: number): Array<[Uint8Array, Uint8Array]> {
    checkKey(start)
    if (end.length > 0) checkKey(end)
    if (limit <= 0) return []
    const from = keyString(start)
    const to = end.length === 0 ? undefined : keyString(end)
    const inRange = (k: string): boolean => k >= from && (to === undefined || k < to)
    const overlay = new Map<string, Uint8Array | null>()
    for (const layer of [this.#block, this.#message]) {
      for (const [k, v] of layer) if (inRange(k)) overlay.set(k, v)
    }
    // The base may lose up to overlay.size of its first entries to the overlay, so ask for that many more.
    const merged = new Map<string, Uint8Array>()
    for (const [key, value] of this.#base.range(this.actor, start, end, limit + overlay.size)) {
      const k = keyString(key)
      if (!overlay.has(k)) merged.set(k, value)
    }
    for (const [k, v] of overlay) if (v !== null) merged.set(k, v)
    return [...merged.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, limit).map(k => [keyBytes(k), merged.get(k)!])
  }

  /** Keys the current message set or deleted, ascending (for watchers; not part of any hash). */
  messageKeys (): Uint8Array[] {
    return [...this.#message.keys()].sort().map(keyBytes)
  }

  /** The current message succeeded: its writes join the block's. */
  commitMessage (): void {
    for (const [k, v] of this.#message) this.#block.set(k, v)
    this.#message.clear()
    this.#blockBytes = this.#bytes
  }

  /** The current message failed: its writes vanish. */
  rollbackMessage (): void {
    this.#message.clear()
    this.#bytes = this.#blockBytes
  }

  /** The block's net changes against the base, one per key that really changed. */
  writes (): StateWrite[] {
    const out: StateWrite[] = []
    for (const [k, v] of this.#block) {
      const key = keyBytes(k)
      const before = this.#base.get(this.actor, key)
      if (v === null ? before === undefined : before !== undefined && equalBytes(before, v)) continue
      out.push({ actor: this.actor, key, value: v })
    }
    return out
  }

  #read (k: string, key: Uint8Array): Uint8Array | undefined {
    if (this.#message.has(k)) return this.#message.get(k) ?? undefined
    if (this.#block.has(k)) return this.#block.get(k) ?? undefined
    return this.#base.get(this.actor, key)
  }
}

function checkKey (key: Uint8Array): void {
  if (key.length > actorKeyBytesMax) throw new ActorTrap(`storage key too large: ${key.length} > ${actorKeyBytesMax} bytes`)
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
