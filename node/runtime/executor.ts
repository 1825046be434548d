// The executor: runs a block's messages against a synchronous state view and returns the write
// set, receipts and outbox — and runs queries read-only. Pure given its inputs: no clock, no
// randomness, no I/O, no wall-clock timeout; fuel alone bounds the work. It never writes state:
// the store applies the returned writes afterwards, in one batch.
//
// One instance per (block, actor), taken at the actor's first message in the block. After a
// message fails (trap, fuel, limit, the actor's own error) its instance is given back and the next
// message of that actor gets one in the state of a fresh instantiation: a failed call leaves memory
// in an unknown state, and every replica starts the next message from the fresh state alike.
// "Fresh" means in the state of a fresh instantiation: the compiled actor's pool hands out either a
// new instance or one reset exactly to that state (instance-pool.ts); nothing a previous block,
// query or failed call left in wasm memory, globals, tables or the glue is visible, whether or not
// a replica restarted.
//
// Determinism rules this relies on (each enforced elsewhere in node/runtime):
//  - Only storage persists; time is block.timeNs, randomness is seeded from block.seed, the actor
//    and the message index (host.ts); no WASI import exists to reach anything else (loader.ts).
//  - Fuel, not time, bounds work: checks at function entry, loop iterations and returns, host
//    calls charged by bytes (instrument.ts, host.ts); out of fuel charges the whole limit.
//  - NaNs are canonicalized where their bits escape, float/relaxed SIMD is refused (_nan.ts): we
//    canonicalize rather than refuse floats because JS actors are a float-heavy engine.
//  - Storage is synchronous inside wasm while LevelDB is async, so the caller PRELOADS each touched
//    actor's entries (bounded by actorStorageBytesMax) into a StateView before the block; writes
//    stay in per-message layers here and leave as one sorted write set (actor-storage.ts).
//  - Call depth is bounded deterministically: every wasm function weighs its frame on entry into
//    one stack global and traps "stack budget exhausted" past actorStackBudget, a function of the
//    module bytes alone, reached before V8's native stack can overflow in any tier (_stack.ts,
//    limits.ts). A trap gives no weight back, so the global is set to 0 before every call into an
//    instance (as fuel is set). Such a message is charged the fuel it used, like any trap.
//    Should V8 still overflow (a bug in that bound), the message fails with "call stack exhausted",
//    charged its whole fuel limit and keeping no logs, so replicas that overflow at least agree.

import type { ActorId } from '../../protocol/ids.ts'
import {
  actorFuelPerBlockMax, actorFuelPerMessageMax, actorMessagesPerBlockMax,
  actorMethodCharsMax, actorPayloadBytesMax, actorResultBytesMax
} from '../../protocol/limits.ts'
import { compareBytes, type ActorMessage, type BlockContext, type BlockOutcome, type OutboxMessage, type Receipt, type StateWrite } from '../../protocol/receipt.ts'
import { assert } from '../core/assert.ts'
import { ActorStorage } from './actor-storage.ts'
import { ActorTrap } from './actor-trap.ts'
import { stackBudgetExhausted } from './_stack.ts'
import type { CallContext } from './host.ts'
import type { InstanceLease } from './instance-pool.ts'
import type { CompiledActor } from './loader.ts'
import type { StateView } from './state-view.ts'

/** What a block executes against; the caller prepares both before calling (both synchronous). */
export interface ExecutionState {
  /** Preloaded storage of every actor the block's messages name. */
  storage: StateView
  /** The compiled code of an installed actor, or undefined when none is installed. */
  code (actor: ActorId): CompiledActor | undefined
}

/** Hears the storage keys a successful message set or deleted, by its index in the block's messages. */
export type WrittenKeys = (index: number, keys: Uint8Array[]) => void

/** A read-only call: what `executeQuery` takes. */
export interface QueryMessage {
  actor: ActorId
  caller: string
  method: string
  payload: Uint8Array
  /** @default actorFuelPerMessageMax */
  fuelLimit?: bigint
}

/**
 * One actor's life within a block (or a query): its storage layers and, while healthy, an instance
 * lent by the code's pool with its fuel global, its stack global (the weight held by the frames of
 * the call in progress, see _stack.ts; -1 after a budget trap) and the slot its imports serve.
 */
class Session {
  readonly storage: ActorStorage
  readonly code: CompiledActor
  lease: InstanceLease | undefined

  constructor (state: ExecutionState, actor: ActorId, code: CompiledActor) {
    this.storage = new ActorStorage(state.storage, actor)
    this.code = code
  }

  /** The live instance, taking one if needed; a string when instantiation traps. */
  ensureInstance (): InstanceLease | string {
    if (this.lease !== undefined) return this.lease
    // A fresh instantiation runs start code with actorInstantiateFuelMax and an empty stack.
    const acquired = this.code.pool.acquire()
    if (!acquired.ok) return `instantiation failed: ${describeError(acquired.error, acquired.binding.fuel, acquired.binding.stack)}`
    this.lease = acquired.lease
    return this.lease
  }

  /**
   * Gives the instance back to the pool, which resets it (or drops it when it cannot). `reusable`
   * false only when the block threw part-way (a bug): then nothing of it is trusted.
   */
  drop (reusable: boolean): void {
    if (this.lease === undefined) return
    const lease = this.lease
    this.lease = undefined
    this.code.pool.release(lease, reusable)
  }
}

/**
 * Executes `messages` in order. Reads see earlier successful writes of the same block. Post:
 * receipts.length === messages.length; writes are sorted (actor, key) with one entry per key.
 * `written`, when given, hears the keys each successful message set or deleted (its index in
 * `messages`); it changes nothing executed (watchers use it).
 */
export function executeBlock (state: ExecutionState, messages: ActorMessage[], block: BlockContext, written?: WrittenKeys): BlockOutcome {
  assert(messages.length <= actorMessagesPerBlockMax, `block has ${messages.length} > ${actorMessagesPerBlockMax} messages`)
  const sessions = new Map<ActorId, Session>()
  const receipts: Receipt[] = []
  const outbox: OutboxMessage[] = []
  let blockFuelLeft = actorFuelPerBlockMax
  let completed = false
  try {
    for (const [index, message] of messages.entries()) {
      const receipt = runMessage(state, sessions, message, block, index, blockFuelLeft, outbox, false, written)
      blockFuelLeft -= receipt.fuelUsed
      receipts.push(receipt)
    }
    completed = true
  } finally {
    // Instances of a block that threw part-way (a bug, or a throwing `written`) are not reused.
    for (const session of sessions.values()) session.drop(completed)
  }
  const writes: StateWrite[] = []
  for (const session of sessions.values()) writes.push(...session.storage.writes())
  writes.sort((a, b) => (a.actor < b.actor ? -1 : a.actor > b.actor ? 1 : compareBytes(a.key, b.key)))
  return { writes, receipts, outbox, fuelUsed: actorFuelPerBlockMax - blockFuelLeft }
}

/** Runs a query against `state` with storage read-only: a write fails the query. */
export function executeQuery (state: ExecutionState, query: QueryMessage, block: BlockContext): Receipt {
  // A query answers no request through consensus and is never certified: its receipt names none.
  const message: ActorMessage = { kind: 'update', ...query, requestId: null }
  const sessions = new Map<ActorId, Session>()
  let receipt: Receipt | undefined
  try {
    receipt = runMessage(state, sessions, message, block, 0, actorFuelPerMessageMax, [], true)
    return receipt
  } finally {
    for (const session of sessions.values()) session.drop(receipt !== undefined)
  }
}

function runMessage (state: ExecutionState, sessions: Map<ActorId, Session>, message: ActorMessage, block: BlockContext,
  index: number, blockFuelLeft: bigint, outbox: OutboxMessage[], readOnly = false, written?: WrittenKeys): Receipt {
  const fail = (error: string, fuelUsed = 0n, logs: string[] = []): Receipt =>
    ({ index, actor: message.actor, method: message.method, ok: false, result: null, error, fuelUsed, logs, requestId: message.requestId })
  const refused = checkMessage(message)
  if (refused !== undefined) return fail(refused)
  let session = sessions.get(message.actor)
  if (session === undefined) {
    const code = state.code(message.actor)
    if (code === undefined) return fail(`actor not installed: ${message.actor}`)
    session = new Session(state, message.actor, code)
    sessions.set(message.actor, session)
  }
  const limit = min(message.fuelLimit ?? actorFuelPerMessageMax, blockFuelLeft)
  if (limit <= 0n) return fail(`block fuel exhausted: the block already used ${actorFuelPerBlockMax} units`)
  const lease = session.ensureInstance()
  if (typeof lease === 'string') return fail(lease)
  const { instance, slot, fuel, stack } = lease

  const call: CallContext = {
    actor: message.actor, caller: message.caller, block, index, readOnly, storage: session.storage,
    fuel, outbox: [], logs: [], randomCounter: 0
  }
  slot.current = call
  fuel.value = limit
  // A trapped call gives back no stack weight; each call starts from an empty stack.
  stack.value = 0
  let result: Uint8Array | undefined
  let error: string | undefined
  try {
    if (message.kind === 'init') {
      instance.init(message.payload)
      result = new Uint8Array(0)
    } else {
      result = readOnly ? instance.query(message.method, message.payload) : instance.update(message.method, message.payload)
    }
  } catch (caught) {
    error = describeError(caught, fuel, stack)
  } finally {
    slot.current = undefined
  }
  const left = fuel.value as bigint
  let fuelUsed = left < 0n ? limit : limit - left
  if (error === stackExhausted) {
    // Where V8's native stack runs out depends on frame sizes that differ between its compiler
    // tiers, so the fuel and logs reached before it differ between replicas: charge the whole
    // limit and keep no logs, so that every replica that overflows writes the same receipt.
    fuelUsed = limit
    call.logs.length = 0
  }
  if (result !== undefined && !(result instanceof Uint8Array)) error = 'the actor returned something other than bytes'
  else if (result !== undefined && result.length > actorResultBytesMax) error = `result too large: ${result.length} > ${actorResultBytesMax} bytes`
  if (error !== undefined || result === undefined) {
    session.storage.rollbackMessage()
    // The reset restores every piece of wasm state (the instrumenter's marker guarantees it is all
    // exported) and the glue keeps none (checkGlueState), so how the call ended does not matter: a
    // trapped instance comes back exactly as fresh, for 0.3 ms instead of a 6-17 ms JS instantiation.
    session.drop(true)
    return fail(error ?? 'no result', fuelUsed, call.logs)
  }
  written?.(index, session.storage.messageKeys())
  session.storage.commitMessage()
  outbox.push(...call.outbox)
  return { index, actor: message.actor, method: message.method, ok: true, result, error: null, fuelUsed, logs: call.logs, requestId: message.requestId }
}

/** Why a message is refused before it runs, or undefined. */
function checkMessage (message: ActorMessage): string | undefined {
  if (message.payload.length > actorPayloadBytesMax) return `payload too large: ${message.payload.length} > ${actorPayloadBytesMax} bytes`
  if (message.method.length > actorMethodCharsMax) return `method name too long: ${message.method.length} > ${actorMethodCharsMax} characters`
  if (message.kind === 'update' && message.method.length === 0) return 'method name is empty'
  const fuel = message.fuelLimit
  if (fuel !== undefined && (fuel <= 0n || fuel > actorFuelPerMessageMax)) return `fuel limit out of range: ${fuel} not in 1..${actorFuelPerMessageMax}`
  return undefined
}

/**
 * The receipt text for anything a call throws. The fuel global at -1 means the instance ran out,
 * the stack global at -1 that it passed the stack budget (either trap itself just says
 * "unreachable"); jco's ComponentError carries the actor's own `err`.
 */
function describeError (error: unknown, fuel: WebAssembly.Global, stack: WebAssembly.Global): string {
  if ((fuel.value as bigint) < 0n) return 'out of fuel'
  if ((stack.value as number) === -1) return stackBudgetExhausted
  if (error instanceof ActorTrap) return error.message
  if (error instanceof Error && 'payload' in error) return String((error as Error & { payload: unknown }).payload)
  if (error instanceof WebAssembly.RuntimeError) return `trap: ${error.message}`
  if (error instanceof RangeError && /call stack/i.test(error.message)) return stackExhausted
  if (error instanceof RangeError) return `trap: ${error.message}`
  return `trap: ${error instanceof Error ? error.message : String(error)}`
}

/** The error text of a native stack overflow (deep wasm recursion). */
const stackExhausted = 'call stack exhausted'

function min (a: bigint, b: bigint): bigint {
  return a < b ? a : b
}
