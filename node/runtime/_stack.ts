// The deterministic call-stack bound for one binaryen module (private to node/runtime: instrument.ts
// calls it). It never runs the module and never consults V8: every number here is a function of the
// module bytes and of the bounds in protocol/limits.ts, so every replica traps at the same call.
//
// Why: V8 throws "Maximum call stack size exceeded" at a depth set by its native frame sizes, which
// differ between its tiers (Liftoff, TurboFan, inlining) and so between replicas. Instead each
// defined function, on entry, adds a weight to ONE imported mutable i32 global, `pylon:stack`.`used`
// (shared by every core module of a component, like fuel), and traps with the global at -1 when that
// would pass actorStackBudget; every exit gives the weight back. The weight bounds the function's
// native frame in every tier (see frameWeight); the budget, plus one frame of the heaviest weight
// accepted, times the most bytes per unit measured, with a factor 2 of margin, leaves V8 312 KiB
// of its 984 KiB stack (protocol/limits.ts), so V8's own limit is never reached first. A trap
// unwinds without giving weights back, so the executor sets the global to 0 before every call.

import binaryen from 'binaryen'
import {
  actorStackBudget, actorStackFrameBaseWeight, actorStackFrameWeightMax, actorStackInstructionsPerUnit
} from '../../protocol/limits.ts'
import { err, ok, type Result } from '../../protocol/result.ts'
import { access, childrenOf, kindOf, walk } from './_nan.ts'

export const stackImportModule = 'pylon:stack'
export const stackImportName = 'used'
/** The receipt error of a message that ran out of stack budget (the global is then -1). */
export const stackBudgetExhausted = 'stack budget exhausted'

/** What a function's frame is made of, in value slots (a v128 is two slots of 8 bytes). */
export interface FrameShape {
  paramSlots: number
  localSlots: number
  /** The most operand-stack slots live at once, an upper bound from the expression tree. */
  stackSlots: number
  /** Expressions in the body: TurboFan may keep a value per pure expression alive across a call. */
  instructions: number
  /** Whether the body calls anything but our fuel helpers (a direct, indirect or host call). */
  calls: boolean
}

export interface BoundStackOptions {
  /** @default actorStackBudget — other values only in tests of the bound. */
  budget?: number
  /**
   * @default false — true only to measure: every entry also raises the imported mutable i32
   * `pylon:stack`.`peak` to the weight then held, so a run shows how close it came to the budget.
   */
  peak?: boolean
}

/**
 * Adds the budget check at the entry of every defined function that calls anything but `leaves`
 * (our own fuel helpers, which call nothing) and gives the weight back at every exit: the
 * fall-through end, every `return`, and branches to the function's outermost label (they leave the
 * wrapped body, so they reach the give-back too). Refuses what it cannot bound: tail calls (a frame that replaces itself
 * would need the weight given back before the call) and exception handling (a throw unwinds frames
 * without giving their weights back, and a catch would keep running with them counted).
 */
export function boundStack (module: binaryen.Module, leaves: Set<string>, options: BoundStackOptions = {}): Result<{ functions: number }> {
  const budget = options.budget ?? actorStackBudget
  const used = 'pylon$stack_used'
  const peak = 'pylon$stack_peak'
  // Imported only by a module with a counted function: one whose functions all call nothing
  // needs no counter (and a caller instantiating it by hand need not provide one).
  const importCounter = (): void => {
    module.addGlobalImport(used, stackImportModule, stackImportName, binaryen.i32, true)
    if (options.peak === true) module.addGlobalImport(peak, stackImportModule, 'peak', binaryen.i32, true)
  }
  const functions: number[] = []
  for (let i = 0; i < module.getNumFunctions(); i++) functions.push(module.getFunctionByIndex(i))
  let bounded = 0
  for (const func of functions) {
    const info = binaryen.getFunctionInfo(func)
    if (info.module !== '' || info.body === 0 || leaves.has(info.name)) continue
    const results = info.results
    const valued = results !== binaryen.none
    const shape = frameShape(func, leaves)
    if (!shape.ok) return err(`function ${info.name}: ${shape.error}`)
    // Counted with the two temporaries added below (the result and the counter on entry).
    const weight = frameWeight(shape.value) + slotsOf(results) + 1
    // V8 reserves a frame before the entry check below can run: one frame must fit past the budget.
    if (weight > actorStackFrameWeightMax) return err(`function ${info.name}: stack frame too heavy: weight ${weight} > ${actorStackFrameWeightMax} (params, locals, operand stack and 1 per ${actorStackInstructionsPerUnit} instructions)`)
    // A function that calls nothing is only ever the top frame, never under another: the bound
    // already leaves room for one frame of the heaviest weight past the budget (V8 reserves a frame
    // before its entry check runs), so a leaf needs no counting. This keeps small helpers, which
    // TurboFan inlines, as cheap as before (a counted leaf doubled a leaf-call loop's time).
    if (!shape.value.calls) continue
    if (bounded === 0) importCounter()
    const result = valued ? addLocal(func, results) : -1
    // The counter as it was on entry, restored on exit: exact, since every call made in between
    // either returned (restoring its own) or trapped (ending the message). Under TurboFan this cut
    // recursive fib's overhead from 1.42x to 1.2x (one load fewer per exit, no subtraction).
    const saved = addLocal(func, binaryen.i32)
    const get = (): number => module.global.get(used, binaryen.i32)
    const giveBack = (): number => module.global.set(used, module.local.get(saved, binaryen.i32))
    // A budget under the weight (tests only) makes B - w negative: every call of the function traps.
    const enter = module.block(null, [
      module.local.set(saved, get()),
      module.if(module.i32.gt_s(module.local.get(saved, binaryen.i32), module.i32.const(budget - weight)),
        module.block(null, [module.global.set(used, module.i32.const(-1)), module.unreachable()])),
      module.global.set(used, module.i32.add(module.local.get(saved, binaryen.i32), module.i32.const(weight))),
      options.peak === true
        ? module.if(module.i32.gt_s(get(), module.global.get(peak, binaryen.i32)), module.global.set(peak, get()))
        : module.nop()
    ], binaryen.none)
    // Each `return v` becomes `return (block (local.set $r v) give-back (local.get $r))`: the
    // counter is restored after v is computed (v may call), right before the frame goes.
    const walked = walk(info.body, (expr, kind) => {
      if (kind !== 'Return') return undefined
      const value = access('Return', 'getValue', expr)
      access('Return', 'setValue', expr, valued
        ? module.block(null, [module.local.set(result, value), giveBack(), module.local.get(result, results)], results)
        : module.block(null, [giveBack()], binaryen.none))
      return undefined
    })
    if (!walked.ok) return err(`function ${info.name}: ${walked.error}`)
    const body = valued
      ? module.block(null, [enter, module.local.set(result, info.body), giveBack(), module.local.get(result, results)], results)
      : module.block(null, [enter, info.body, giveBack()], binaryen.none)
    ;(binaryen as unknown as { Function: { setBody: (f: number, b: number) => void } }).Function.setBody(func, body)
    bounded++
  }
  return ok({ functions: bounded })
}

/**
 * A function's stack weight in units: a base for the frame's fixed part (return address, frame
 * pointer, instance, Liftoff's spill area header) plus a unit per slot of params, locals and the
 * operand stack (Liftoff spills each to its own slot; TurboFan keeps at most these live across a
 * call in its own code) plus a unit per actorStackInstructionsPerUnit expressions (TurboFan's value
 * numbering may reuse a pure value computed before a call after it, one spill slot each).
 */
export function frameWeight (shape: FrameShape): number {
  return actorStackFrameBaseWeight + shape.paramSlots + shape.localSlots + shape.stackSlots +
    Math.ceil(shape.instructions / actorStackInstructionsPerUnit)
}

/** The frame shape of one defined function, or why it cannot be bounded; calls to `helpers` do not count as calls. */
export function frameShape (func: number, helpers: Set<string> = new Set()): Result<FrameShape> {
  const info = binaryen.getFunctionInfo(func)
  let localSlots = 0
  for (const type of info.vars) localSlots += slotsOf(type)
  // Post-order over the tree: every node's (result slots, peak height) once its children are done.
  // Height of a node: the most slots live while it runs, with each child's siblings' results held
  // at once (an upper bound that ignores evaluation order: exact where at most one child yields).
  const pending: Array<{ expr: number, children: number, visited: boolean }> = []
  const done: Array<{ slots: number, height: number }> = []
  let instructions = 0
  let calls = false
  pending.push({ expr: info.body, children: 0, visited: false })
  while (pending.length > 0) {
    const top = pending[pending.length - 1]!
    if (!top.visited) {
      const kind = kindOf(top.expr)
      if (kind === undefined) return err(`unsupported wasm expression kind ${binaryen.getExpressionId(top.expr)}`)
      if (kind === 'Try' || kind === 'Throw' || kind === 'Rethrow') return err('exception handling is refused: a throw unwinds frames without giving back their stack weight')
      if ((kind === 'Call' || kind === 'CallIndirect') && Boolean(access(kind, 'isReturn', top.expr))) return err('tail calls are refused: the stack bound counts every call as a frame')
      instructions++
      if (kind === 'CallIndirect' || (kind === 'Call' && !helpers.has(access('Call', 'getTarget', top.expr) as unknown as string))) calls = true
      top.visited = true
      const kids = childrenOf(top.expr, kind)
      top.children = kids.length
      for (let i = kids.length - 1; i >= 0; i--) pending.push({ expr: kids[i]!, children: 0, visited: false })
      continue
    }
    pending.pop()
    const kids = done.splice(done.length - top.children, top.children)
    let sum = 0
    for (const kid of kids) sum += kid.slots
    const slots = slotsOf(binaryen.getExpressionType(top.expr))
    let height = slots
    for (const kid of kids) height = Math.max(height, sum - kid.slots + kid.height)
    done.push({ slots, height })
  }
  let paramSlots = 0
  for (const type of binaryen.expandType(info.params)) paramSlots += slotsOf(type)
  return ok({ paramSlots, localSlots, stackSlots: done[0]!.height, instructions, calls })
}

const slotCache = new Map<number, number>()

/** 8-byte slots a value of `type` takes: v128 two, every other value type one, none/unreachable zero. */
function slotsOf (type: number): number {
  let slots = slotCache.get(type)
  if (slots === undefined) {
    slots = 0
    if (type !== binaryen.none && type !== binaryen.unreachable) {
      for (const single of binaryen.expandType(type)) slots += single === binaryen.v128 ? 2 : 1
    }
    slotCache.set(type, slots)
  }
  return slots
}

function addLocal (func: number, type: number): number {
  return (binaryen as unknown as { _BinaryenFunctionAddVar: (f: number, t: number) => number })._BinaryenFunctionAddVar(func, type)
}
