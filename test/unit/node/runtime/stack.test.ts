// The deterministic stack bound (node/runtime/_stack.ts): recursion just below the budget runs,
// one frame more fails "stack budget exhausted" with the same receipt in separate processes and
// under each V8 tier; the weight grows with the frame; host re-entry counts; every call starts
// from an empty budget; modules the bound cannot cover are refused.

import { fileURLToPath } from 'node:url'
import test from 'ava'
import { runNode } from '../../../helpers/run-node.ts'
import wabtInit from 'wabt'
import { executeBlock } from '../../../../node/runtime/executor.ts'
import { instrumentCoreModule } from '../../../../node/runtime/instrument.ts'
import { actorStackBudget, actorStackFrameWeightMax } from '../../../../protocol/limits.ts'
import { decode } from '../../../../protocol/codec.ts'
import type { Receipt } from '../../../../protocol/receipt.ts'
import { actorA, blockAt, loadCode, stateWith, update } from './_fixtures.ts'
import { buildDeep, depth } from './_deep.ts'

const wabt = await wabtInit()
const wasm = (wat: string): Uint8Array => wabt.parseWat('t.wat', wat, { tail_call: true, exceptions: true }).toBinary({}).buffer
const state = stateWith({ [actorA]: await loadCode(await buildDeep()) })
state.storage.apply(executeBlock(state, [update(actorA, 'put')], blockAt(1)).writes)
const run = (method: string, n: number): Receipt => executeBlock(state, [update(actorA, method, depth(n))], blockAt(2)).receipts[0]!

/** The deepest recursion that still succeeds, by bisection (the outcome is monotonic in depth). */
function deepest (method: string): number {
  let [ok, fails] = [0, 1 << 16]
  while (ok + 1 < fails) {
    const mid = (ok + fails) >> 1
    if (run(method, mid).ok) ok = mid
    else fails = mid
  }
  return ok
}

const light = deepest('light')
const heavy = deepest('heavy')

test('recursion to the deepest depth the budget allows succeeds; one frame more fails "stack budget exhausted"', t => {
  const below = run('light', light)
  t.true(below.ok, below.error ?? '')
  t.is(new DataView(below.result!.buffer, below.result!.byteOffset).getUint32(0, true), light)
  const above = run('light', light + 1)
  t.deepEqual([above.ok, above.error], [false, 'stack budget exhausted'])
  // Charged the fuel it used, like any trap (not the whole limit), and short of a full recursion.
  t.true(above.fuelUsed > 0n && above.fuelUsed < below.fuelUsed)
  // A light frame weighs a few units: the bound allows thousands of calls, not a handful.
  t.true(light > actorStackBudget / 64 && light < actorStackBudget, `light depth ${light}`)
})

test('the weight grows with the frame: 300 live i64 locals allow far fewer calls than none', t => {
  t.true(heavy * 20 < light, `heavy ${heavy}, light ${light}`)
  t.true(heavy > 10)
  t.deepEqual([run('heavy', heavy).ok, run('heavy', heavy + 1).error], [true, 'stack budget exhausted'])
})

test('wasm -> host -> wasm re-entry (the glue calling cabi_realloc) counts against the budget', t => {
  const receipt = run('host', 0)
  t.deepEqual([receipt.ok, receipt.error], [false, 'stack budget exhausted'])
  t.deepEqual([receipt, run('host', 0)].map(r => r.fuelUsed), [receipt.fuelUsed, receipt.fuelUsed])
})

test('every call starts from an empty budget: a message that exhausted it leaves the next one the whole budget', t => {
  const outcome = executeBlock(state, [
    update(actorA, 'light', depth(light + 1)), update(actorA, 'light', depth(light)),
    update(actorA, 'host'), update(actorA, 'light', depth(light))
  ], blockAt(3))
  t.deepEqual(outcome.receipts.map(r => r.error), ['stack budget exhausted', null, 'stack budget exhausted', null])
})

const child = fileURLToPath(new URL('./_stack-child.ts', import.meta.url))

async function runChild (flags: string[]): Promise<string> {
  return await runNode([...flags, child, String(light), String(heavy)], { timeoutMs: 100_000, name: flags.join(' ') || 'default tiering' }) // generous: other suites load the machine
}

test('the same receipts, byte for byte, in separate processes under Liftoff only, TurboFan only and default tiering', async t => {
  const runs: string[] = []
  // Two at a time: the box has two cores shared with other work.
  runs.push(...await Promise.all([runChild(['--liftoff-only']), runChild(['--no-liftoff'])]))
  runs.push(...await Promise.all([runChild([]), runChild([])]))
  const errors = runs[0]!.trim().split('\n').map(line => {
    const decoded = decode(Buffer.from(line, 'hex'))
    return decoded.ok ? (decoded.value as { error: string | null }).error : `undecodable: ${decoded.error}`
  })
  t.deepEqual(errors, [null, 'stack budget exhausted', null, 'stack budget exhausted', 'stack budget exhausted', null])
  for (const other of runs.slice(1)) t.is(other, runs[0]!)
})

test('instrumentCoreModule refuses what the stack bound cannot cover: tail calls, exception handling, a frame over the cap', t => {
  t.deepEqual(instrumentCoreModule(wasm('(module (func $f (param i32) (return_call $f (local.get 0))))')),
    { ok: false, error: 'function 0: tail calls are refused: the stack bound counts every call as a frame' })
  t.deepEqual(instrumentCoreModule(wasm('(module (tag $e) (func $f (try (do (throw $e)) (catch_all))))')),
    { ok: false, error: 'function 0: exception handling is refused: a throw unwinds frames without giving back their stack weight' })
  const locals = Array.from({ length: actorStackFrameWeightMax }, () => '(local i64)').join(' ')
  const heavy = instrumentCoreModule(wasm(`(module (func $f ${locals}))`))
  t.false(heavy.ok)
  if (!heavy.ok) t.regex(heavy.error, new RegExp(`^function 0: stack frame too heavy: weight \\d+ > ${actorStackFrameWeightMax} `))
})

test('instrumentCoreModule leaves functions that call nothing uncounted: a module of leaves imports no stack counter', t => {
  const leaves = instrumentCoreModule(wasm('(module (func (export "f") (param i32) (result i32) (i32.mul (local.get 0) (local.get 0))))'))
  const caller = instrumentCoreModule(wasm('(module (func $g) (func (export "f") (call $g)))'))
  if (!leaves.ok || !caller.ok) return t.fail('refused')
  const imports = (bytes: Uint8Array): string[] => WebAssembly.Module.imports(new WebAssembly.Module(bytes)).map(i => `${i.module}.${i.name}`)
  t.deepEqual(imports(leaves.value), ['pylon:fuel.remaining'])
  t.deepEqual(imports(caller.value), ['pylon:fuel.remaining', 'pylon:stack.used'])
})

test('instrumentCoreModule gives the weight back on every exit: fall-through, return, br/br_if/br_table to the function label, multi-value', t => {
  const exits = wasm(`(module
    (func $leaf (result i32) (i32.const 7))
    (func (export "fall") (result i32) (call $leaf))
    (func (export "early") (param i32) (result i32)
      (if (local.get 0) (then (return (i32.add (call $leaf) (i32.const 1)))))
      (call $leaf))
    (func (export "void") (param i32)
      (if (local.get 0) (then (drop (call $leaf)) (return)))
      (drop (call $leaf)))
    (func (export "br") (param i32) (result i32)
      (drop (call $leaf))
      (br_if 0 (i32.const 2) (local.get 0))
      (br 0 (i32.const 3)))
    (func (export "table") (param i32) (result i32)
      (drop (call $leaf))
      (block $a (br_table $a 0 (local.get 0)))
      (i32.const 4))
    (func (export "pair") (param i32) (result i32 i32)
      (if (local.get 0) (then (return (call $leaf) (i32.const 9))))
      (call $leaf) (i32.const 8)))`)
  const metered = instrumentCoreModule(exits)
  if (!metered.ok) return t.fail(metered.error)
  const used = new WebAssembly.Global({ value: 'i32', mutable: true }, 0)
  const fuel = new WebAssembly.Global({ value: 'i64', mutable: true }, 1_000_000n)
  const e = new WebAssembly.Instance(new WebAssembly.Module(metered.value), { 'pylon:fuel': { remaining: fuel }, 'pylon:stack': { used } }).exports as Record<string, (x?: number) => unknown>
  const calls: Array<[string, number, unknown]> = [
    ['fall', 0, 7], ['early', 1, 8], ['early', 0, 7], ['void', 1, undefined], ['void', 0, undefined],
    ['br', 1, 2], ['br', 0, 3], ['table', 0, 4], ['table', 1, 4], ['pair', 1, [7, 9]], ['pair', 0, [7, 8]]
  ]
  for (const [name, arg, expected] of calls) {
    used.value = 100
    t.deepEqual(e[name]!(arg), expected, `${name}(${arg})`)
    t.is(used.value, 100, `${name}(${arg}) gave its weight back`)
  }
  // They are counted: with the budget already held, the entry check traps and marks the global.
  used.value = actorStackBudget
  t.throws(() => e.fall!(), { instanceOf: WebAssembly.RuntimeError })
  t.is(used.value, -1)
})
