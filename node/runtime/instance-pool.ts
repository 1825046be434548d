// Keeps instances of one compiled actor for reuse, each reset on release to exactly the state a fresh
// instantiation leaves: every memory's bytes, every mutable global, every table (see instrument.ts,
// exportState), with nothing of the jco glue's closure able to carry anything over (checkGlueState).
// It never hands out an instance it could not reset exactly: such an instance is dropped and the
// next acquire instantiates afresh. It never runs actor code itself.

import { actorInstancePoolBytesMax, actorInstancePoolIdleMax, actorInstantiateFuelMax } from '../../protocol/limits.ts'
import { err, ok, type Result } from '../../protocol/result.ts'
import { assert } from '../core/assert.ts'
import type { CallSlot } from './host.ts'
import { stateExportPrefix, stateMarkerExport } from './instrument.ts'
import type { ActorInstance } from './loader.ts'

/** What an instance is bound to for its whole life: the slot its imports serve, its fuel and stack globals. */
export interface InstanceBinding {
  readonly slot: CallSlot
  readonly fuel: WebAssembly.Global
  readonly stack: WebAssembly.Global
}

/** An instance lent to one session; set `fuel` and `stack` and `slot.current` before every call. */
export interface InstanceLease extends InstanceBinding {
  readonly instance: ActorInstance
}

/** An instance, or what instantiating one threw (with the globals it ran against, to describe it). */
export type Acquired = { ok: true, lease: InstanceLease } | { ok: false, error: unknown, binding: InstanceBinding }

/**
 * Instantiates with the given binding; when `cores` is given, pushes every core instance created,
 * in order. Throws whatever instantiation throws.
 */
export type Instantiator = (binding: InstanceBinding, cores?: WebAssembly.Instance[]) => ActorInstance

/** Bytes of memory held because of pooling, shared by every pool of one loader. */
export interface PoolBudget {
  bytesMax: number
  bytesHeld: number
}

export interface InstancePoolInit {
  /** Why instances of this code can never be reset exactly (its glue keeps state), or undefined. */
  unresettable?: string
  budget: PoolBudget
  /** @default actorInstancePoolIdleMax */
  idleMax?: number
}

/** Counters, for tests and the benchmark. */
export interface PoolStats {
  fresh: number
  reused: number
  /** Leases given back and dropped (a failed call, grown memory, full pool or budget, closed pool). */
  dropped: number
  idle: number
  /** Memory bytes one reset copies back (the initial images of the last snapshot taken). */
  resetBytes: number
}

/** The state a fresh instance has right after instantiation, and where it lives. */
interface Snapshot {
  memories: Array<{ memory: WebAssembly.Memory, image: Uint8Array }>
  tables: Array<{ table: WebAssembly.Table, length: number }>
  globals: Array<{ global: WebAssembly.Global, value: unknown }>
  /** Bytes this snapshot keeps alive because of pooling: each memory twice (live and image). */
  bytes: number
}

export class InstancePool {
  readonly #instantiate: Instantiator
  #unresettable: string | undefined
  readonly #budget: PoolBudget
  readonly #idleMax: number
  readonly #idle: InstanceLease[] = []
  /** Leases this pool can reset, with their snapshots; a lease missing here is dropped on release. */
  readonly #snapshots = new WeakMap<InstanceLease, Snapshot>()
  #closed = false
  readonly stats: PoolStats = { fresh: 0, reused: 0, dropped: 0, idle: 0, resetBytes: 0 }

  constructor (instantiate: Instantiator, init: InstancePoolInit) {
    this.#instantiate = instantiate
    this.#unresettable = init.unresettable
    this.#budget = init.budget
    this.#idleMax = init.idleMax ?? actorInstancePoolIdleMax
    assert(Number.isInteger(this.#idleMax) && this.#idleMax >= 0, `idleMax must be a non-negative integer, got ${this.#idleMax}`)
  }

  /** Why this pool never reuses an instance, or undefined when it can. */
  get unresettable (): string | undefined { return this.#unresettable }

  /**
   * An instance in the state of a fresh one: a reset idle instance, else a fresh instantiation (run
   * with the fuel global at actorInstantiateFuelMax and the stack global at 0).
   */
  acquire (): Acquired {
    const idle = this.#idle.pop()
    if (idle !== undefined) {
      this.stats.idle = this.#idle.length
      this.stats.reused++
      return { ok: true, lease: idle }
    }
    const slot: CallSlot = { current: undefined }
    const binding: InstanceBinding = {
      slot,
      fuel: new WebAssembly.Global({ value: 'i64', mutable: true }, actorInstantiateFuelMax),
      stack: new WebAssembly.Global({ value: 'i32', mutable: true }, 0)
    }
    const cores: WebAssembly.Instance[] = []
    let instance: ActorInstance
    try {
      instance = this.#instantiate(binding, cores)
    } catch (error) {
      return { ok: false, error, binding }
    }
    this.stats.fresh++
    const lease: InstanceLease = { ...binding, instance }
    if (this.#unresettable === undefined && !this.#closed) {
      const snapshot = takeSnapshot(cores)
      // A function of the code alone: the same on every try, so it is not tried again.
      if (!snapshot.ok) this.#unresettable = snapshot.error
      else if (this.#budget.bytesHeld + snapshot.value.bytes <= this.#budget.bytesMax) {
        this.#budget.bytesHeld += snapshot.value.bytes
        this.#snapshots.set(lease, snapshot.value)
        this.stats.resetBytes = snapshot.value.bytes / 2
      }
    }
    return { ok: true, lease }
  }

  /**
   * Gives a lease back. `reusable` false (the caller trusts nothing of it: its block threw part-way)
   * drops it; otherwise it is reset and kept when the reset is exact and there is room, else
   * dropped. How its last call ended (returned, trapped, ran out of fuel) does not matter: the
   * reset restores all of its state.
   * Pre: the lease came from this pool's acquire and is not used again by the caller.
   */
  release (lease: InstanceLease, reusable: boolean): void {
    const snapshot = this.#snapshots.get(lease)
    if (snapshot === undefined) {
      this.stats.dropped++
      return
    }
    if (!reusable || this.#closed || this.#idle.length >= this.#idleMax || !restore(snapshot)) {
      this.#forget(lease, snapshot)
      return
    }
    assert(lease.slot.current === undefined, 'a lease was released during a call')
    assert(!this.#idle.includes(lease), 'a lease was released twice') // two sessions would share one instance
    this.#idle.push(lease)
    this.stats.idle = this.#idle.length
  }

  /** Drops every idle instance and every lease released later (the loader evicted this code). */
  close (): void {
    this.#closed = true
    for (const lease of this.#idle.splice(0)) this.#forget(lease, this.#snapshots.get(lease)!)
    this.stats.idle = 0
  }

  #forget (lease: InstanceLease, snapshot: Snapshot): void {
    this.#snapshots.delete(lease)
    this.#budget.bytesHeld -= snapshot.bytes
    assert(this.#budget.bytesHeld >= 0, `pool budget went negative: ${this.#budget.bytesHeld}`)
    this.stats.dropped++
  }
}

/**
 * The state of freshly instantiated core instances, or why it cannot be restored exactly: a core
 * module without the marker (its state is not all exported), or a float global holding a NaN
 * (JS may not give its bits back unchanged).
 */
export function takeSnapshot (cores: WebAssembly.Instance[]): Result<Snapshot> {
  const snapshot: Snapshot = { memories: [], tables: [], globals: [], bytes: 0 }
  for (const [index, core] of cores.entries()) {
    if (!(core.exports[stateMarkerExport] instanceof WebAssembly.Global)) return err(`core instance ${index} does not export all its state`)
    for (const [name, value] of Object.entries(core.exports)) {
      if (!name.startsWith(stateExportPrefix)) continue
      if (value instanceof WebAssembly.Memory) {
        const image = new Uint8Array(value.buffer).slice()
        snapshot.memories.push({ memory: value, image })
        snapshot.bytes += 2 * image.length
      } else if (value instanceof WebAssembly.Table) {
        snapshot.tables.push({ table: value, length: value.length })
      } else if (value instanceof WebAssembly.Global) {
        const held = value.value
        if (typeof held === 'number' && Number.isNaN(held)) return err(`core instance ${index}: global ${name} holds a NaN`)
        snapshot.globals.push({ global: value, value: held })
      } else {
        return err(`core instance ${index}: ${name} is not a memory, table or global`)
      }
    }
  }
  return ok(snapshot)
}

/**
 * Puts every memory, table and global back as the snapshot has it; false (nothing to rely on) when
 * that cannot be exact: a memory or table changed size (neither can shrink).
 */
export function restore (snapshot: Snapshot): boolean {
  for (const { memory, image } of snapshot.memories) if (memory.buffer.byteLength !== image.length) return false
  for (const { table, length } of snapshot.tables) if (table.length !== length) return false
  for (const { memory, image } of snapshot.memories) new Uint8Array(memory.buffer).set(image)
  for (const { global, value } of snapshot.globals) global.value = value as number | bigint
  return true
}

/**
 * Whether jco's glue keeps nothing in its closure that one call could leave for a later one. The
 * glue jco 1.10.2 emits for the Pylon world (no resources, no async, no streams) holds, at its top
 * level: `dv` (a DataView cache, re-derived whenever the memory's buffer differs), `utf8EncodedLen`
 * (written right before each read), the core exports, memory, realloc and post-return functions
 * (fixed at instantiation), a finished generator and an unused promise; plus immutable constants.
 * Any other declaration there (a handle table, a resource counter, a flag a later jco adds) may be
 * state, and makes every instance of the component fresh. So does glue that creates wasm memories,
 * tables or globals itself (state no core instance exports).
 */
export function checkGlueState (source: string): Result<void> {
  if (/new WebAssembly\.(Memory|Table|Global)\b/.test(source)) return err('the glue creates wasm memories, tables or globals itself')
  for (const line of source.split('\n')) {
    // The instantiate closure's top level is indented 2 spaces, the init generator's 4 (utf8Encode's locals too).
    const declared = /^(?: {2}| {4})(let|var|const)\s+(.*)$/.exec(line)
    if (declared === null) continue
    const names = declared[2]!.startsWith('{')
      ? [] // `const { get, set } = imports[...]`: the host functions, bound once
      : declared[2]!.replace(/[=;].*$/, '').split(',').map(name => name.trim()).filter(name => name !== '')
    for (const name of names) {
      const allowed = declared[1] === 'const' ? glueConstants : glueVariables
      if (!allowed.test(name)) return err(`the glue declares ${declared[1]} ${name}, which may keep state between calls`)
    }
  }
  return ok(undefined)
}

const glueVariables = /^(dv|utf8EncodedLen|buf|ptr|gen|exports\d+|memory\d+|realloc\d+|postReturn\d+|exports\d+(Init|Update|Query)|promise|resolve|reject)$/
const glueConstants = /^(dataView|toUint64|utf8Decoder|utf8Encoder|module\d+|maybeSyncReturn)$/

/** The pool bound of a loader: at most actorInstancePoolBytesMax held at once across its pools. */
export function newPoolBudget (bytesMax = actorInstancePoolBytesMax): PoolBudget {
  return { bytesMax, bytesHeld: 0 }
}
