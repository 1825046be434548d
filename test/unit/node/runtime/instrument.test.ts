// instrumentCoreModule: fuel checks trap deterministically, memory and table maxima are capped,
// unboundable modules are refused.

import test from 'ava'
import wabtInit from 'wabt'
import { capLimits, instrumentCoreModule } from '../../../../node/runtime/instrument.ts'

const wabt = await wabtInit()
/** What an instrumented module imports: the fuel global and the stack-weight global (see _stack.ts). */
const ours = (fuel: WebAssembly.Global): WebAssembly.Imports =>
  ({ 'pylon:fuel': { remaining: fuel }, 'pylon:stack': { used: new WebAssembly.Global({ value: 'i32', mutable: true }, 0) } })
const wasm = (wat: string): Uint8Array => wabt.parseWat('t.wat', wat, { threads: true, bulk_memory: true }).toBinary({}).buffer

const loop = wasm(`(module
  (func (export "sum") (param $n i32) (result i32) (local $acc i32)
    (block $done (loop $next
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $acc (i32.add (local.get $acc) (local.get $n)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $next)))
    (local.get $acc)))`)

function instantiate (bytes: Uint8Array, fuel: bigint): { sum: (n: number) => number, fuel: WebAssembly.Global } {
  const global = new WebAssembly.Global({ value: 'i64', mutable: true }, fuel)
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), ours(global))
  return { sum: instance.exports.sum as (n: number) => number, fuel: global }
}

test('instrumentCoreModule charges one unit per function entry and loop iteration, and the same every run', t => {
  const metered = instrumentCoreModule(loop)
  if (!metered.ok) return t.fail(metered.error)
  const used: bigint[] = []
  for (const n of [0, 10, 10]) {
    const run = instantiate(metered.value, 1_000_000n)
    t.is(run.sum(n), (n * (n + 1)) / 2)
    used.push(1_000_000n - (run.fuel.value as bigint))
  }
  t.true(used[1]! > used[0]!)
  t.is(used[1], used[2])
})

test('instrumentCoreModule traps with the fuel global at -1 when fuel runs out', t => {
  const metered = instrumentCoreModule(loop)
  if (!metered.ok) return t.fail(metered.error)
  const run = instantiate(metered.value, 50n)
  t.throws(() => run.sum(1_000_000), { instanceOf: WebAssembly.RuntimeError })
  t.is(run.fuel.value, -1n)
})

test('instrumentCoreModule keeps passive data segments valid: memory.init and data.drop run as before', t => {
  const passive = wasm(`(module (memory (export "memory") 1) (data $d "pylon")
    (func (export "sum") (param $n i32) (result i32)
      (memory.init $d (local.get $n) (i32.const 0) (i32.const 5))
      (data.drop $d)
      (i32.add (i32.load8_u (local.get $n)) (i32.load8_u offset=4 (local.get $n)))))`)
  const metered = instrumentCoreModule(passive)
  if (!metered.ok) return t.fail(metered.error)
  const run = instantiate(metered.value, 1_000_000n)
  t.is(run.sum(8), 'p'.charCodeAt(0) + 'n'.charCodeAt(0), 'the segment was copied')
  t.throws(() => run.sum(8), { instanceOf: WebAssembly.RuntimeError }, 'and dropped: a second memory.init of 5 bytes traps')
})

test('capLimits caps a declared memory maximum and adds one where none was declared', t => {
  for (const decl of ['(memory (export "m") 1)', '(memory (export "m") 1 65536)']) {
    const capped = capLimits(wasm(`(module ${decl})`), 4)
    if (!capped.ok) return t.fail(capped.error)
    const memory = new WebAssembly.Instance(new WebAssembly.Module(capped.value)).exports.m as WebAssembly.Memory
    t.is(memory.grow(3), 1)
    t.throws(() => memory.grow(1), { instanceOf: RangeError })
  }
})

test('capLimits refuses shared memory, an initial size over the cap, and garbage', t => {
  t.deepEqual(capLimits(wasm('(module (memory 1 2 shared))'), 4), { ok: false, error: 'shared memory is refused: actors are single-threaded' })
  t.deepEqual(capLimits(wasm('(module (memory 5))'), 4), { ok: false, error: 'initial memory too large: 5 > 4 pages' })
  t.deepEqual(capLimits(new Uint8Array([1, 2, 3]), 4), { ok: false, error: 'not a core wasm module' })
  const truncated = wasm('(module (memory 1))').slice(0, -1)
  t.false(capLimits(truncated, 4).ok)
})

test('capLimits caps tables', t => {
  const capped = capLimits(wasm('(module (table (export "t") 1 funcref))'), 4)
  t.true(capped.ok)
  t.deepEqual(capLimits(wasm('(module (table 1000000 funcref))'), 4), { ok: false, error: 'initial table too large: 1000000 > 100000 elements' })
})

const nanProbe = wasm(`(module
  (memory (export "m") 1)
  (func $nan (param $z f64) (result f64) (f64.div (local.get $z) (local.get $z)))
  (func (export "stored") (param $z f64) (result i64)
    (f64.store (i32.const 8) (call $nan (local.get $z)))
    (i64.load (i32.const 8)))
  (func (export "reinterpreted") (param $z f64) (result i64)
    (i64.reinterpret_f64 (call $nan (local.get $z))))
  (func (export "sign") (param $z f64) (result f64)
    (f64.copysign (f64.const 1) (f64.neg (call $nan (local.get $z)))))
  (func (export "stored32") (param $z f32) (result i32)
    (f32.store (i32.const 16) (f32.div (local.get $z) (local.get $z)))
    (i32.load (i32.const 16))))`)

test('instrumentCoreModule canonicalizes NaN bits wherever they escape (store, reinterpret, copysign)', t => {
  const metered = instrumentCoreModule(nanProbe)
  if (!metered.ok) return t.fail(metered.error)
  const fuel = new WebAssembly.Global({ value: 'i64', mutable: true }, 1_000_000n)
  const e = new WebAssembly.Instance(new WebAssembly.Module(metered.value), ours(fuel)).exports as Record<string, (z: number) => number | bigint>
  t.is(e.stored!(0), 0x7ff8000000000000n)
  t.is(e.reinterpreted!(0), 0x7ff8000000000000n)
  t.is(e.sign!(0), 1, 'a NaN lends the canonical (positive) sign, whatever the CPU produced or negation did')
  t.is(e.stored32!(0), 0x7fc00000)
})

test('instrumentCoreModule refuses float SIMD arithmetic (its NaNs differ by CPU)', t => {
  const simd = wasm('(module (func (export "f") (param v128 v128) (result v128) (f32x4.add (local.get 0) (local.get 1))))')
  const refused = instrumentCoreModule(simd)
  t.false(refused.ok)
  if (!refused.ok) t.regex(refused.error, /float SIMD or relaxed-SIMD binary operation \d+ is refused/)
})

const bulk = wasm(`(module
  (memory (export "m") 2)
  (func (export "fill") (param $n i32) (memory.fill (i32.const 0) (i32.const 7) (local.get $n)))
  (func (export "copy") (param $n i32) (memory.copy (i32.const 0) (i32.const 65536) (local.get $n))))`)

test('instrumentCoreModule charges memory.fill and memory.copy one unit per started 64 bytes, before they run', t => {
  const metered = instrumentCoreModule(bulk)
  if (!metered.ok) return t.fail(metered.error)
  const module = new WebAssembly.Module(metered.value)
  const run = (name: 'fill' | 'copy', n: number, fuel: bigint): { used: bigint, memory: Uint8Array, threw: boolean } => {
    const global = new WebAssembly.Global({ value: 'i64', mutable: true }, fuel)
    const instance = new WebAssembly.Instance(module, ours(global))
    let threw = false
    try {
      (instance.exports[name] as (n: number) => void)(n)
    } catch (error) {
      t.true(error instanceof WebAssembly.RuntimeError)
      threw = true
    }
    return { used: fuel - (global.value as bigint), memory: new Uint8Array((instance.exports.m as WebAssembly.Memory).buffer), threw }
  }
  for (const name of ['fill', 'copy'] as const) {
    const base = run(name, 0, 1_000n).used // the entry check alone
    t.is(run(name, 1, 1_000n).used - base, 1n)
    t.is(run(name, 64, 1_000n).used - base, 1n)
    t.is(run(name, 65, 1_000n).used - base, 2n)
    t.is(run(name, 65_536, 10_000n).used - base, 1_024n)
    // Not enough fuel for the length: the trap comes first, nothing is written, the global says out of fuel.
    const short = run(name, 65_536, 1_000n)
    t.true(short.threw)
    t.is(short.used, 1_000n + 1n) // the global is left at -1
    if (name === 'fill') t.is(short.memory[0], 0)
  }
  t.is(run('fill', 65_536, 10_000n).memory[65_535], 7, 'with the fuel, the fill runs')
})
