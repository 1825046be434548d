// A hand-written WAT actor for the stack-bound tests: recursion to a depth its payload gives, through
// a light frame or a heavy one, and recursion through the host (realloc re-entered by the glue).

import { buildWatActor } from '../../../../node/runtime/builder.ts'

/**
 * update methods (payload: the depth as a u32 LE; the result echoes it):
 *   light  recurses through a function with one i32 param and no locals
 *   heavy  recurses through a function with 300 i64 locals kept live across the call
 *   put    stores k=v (so that `get` has a value to return)
 *   host   calls storage.get(k) from cabi_realloc, which the glue calls again to return the value:
 *          wasm -> host -> wasm without end, until the budget stops it
 */
export function deepWat (): string {
  const heavyLocals = Array.from({ length: 300 }, (_, i) => `(local $l${i} i64)`).join(' ')
  const heavyLoads = Array.from({ length: 300 }, (_, i) => `(local.set $l${i} (i64.load offset=${8 * i} (i32.const 4096)))`).join('\n    ')
  const heavySum = Array.from({ length: 300 }, (_, i) => `(local.set $acc (i64.add (local.get $acc) (local.get $l${i})))`).join('\n    ')
  return `(module
  (import "pylon:actor/storage@0.1.0" "get" (func $get (param i32 i32 i32)))
  (import "pylon:actor/storage@0.1.0" "set" (func $set (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 16384))
  (global $reenter (mut i32) (i32.const 0))
  (data (i32.const 256) "k")
  (data (i32.const 260) "v")
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (if (global.get $reenter) (then (call $get (i32.const 256) (i32.const 1) (i32.const 64))))
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get 3)))
    (local.get $p))
  (func $ok (param $ptr i32) (param $len i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (local.get $ptr))
    (i32.store (i32.const 24) (local.get $len))
    (i32.const 16))
  (func $light (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n)) (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $light (i32.sub (local.get $n) (i32.const 1)))))))
  (func $heavy (param $n i32) (result i64) (local $acc i64) ${heavyLocals}
    (if (i32.eqz (local.get $n)) (then (return (i64.const 0))))
    ${heavyLoads}
    (local.set $acc (call $heavy (i32.sub (local.get $n) (i32.const 1))))
    ${heavySum}
    (local.get $acc))
  (func (export "init") (param i32 i32) (result i32) (call $ok (i32.const 0) (i32.const 0)))
  (func (export "update") (param $m i32) (param $ml i32) (param $p i32) (param $pl i32) (result i32)
    (local $op i32)
    (local.set $op (i32.load8_u (local.get $m)))
    (if (i32.eq (local.get $op) (i32.const 108)) (then
      (i32.store (i32.const 1000) (call $light (i32.load (local.get $p))))
      (return (call $ok (i32.const 1000) (i32.const 4)))))
    (if (i32.eq (local.get $op) (i32.const 104)) (then
      (if (i32.eq (i32.load8_u offset=1 (local.get $m)) (i32.const 101)) (then
        (drop (call $heavy (i32.load (local.get $p))))
        (i32.store (i32.const 1000) (i32.load (local.get $p)))
        (return (call $ok (i32.const 1000) (i32.const 4)))))
      (global.set $reenter (i32.const 1))
      (call $get (i32.const 256) (i32.const 1) (i32.const 64))
      (return (call $ok (i32.const 0) (i32.const 0)))))
    (if (i32.eq (local.get $op) (i32.const 112)) (then
      (call $set (i32.const 256) (i32.const 1) (i32.const 260) (i32.const 1))
      (return (call $ok (i32.const 0) (i32.const 0)))))
    unreachable)
  (func (export "query") (param i32 i32 i32 i32) (result i32) (call $ok (i32.const 0) (i32.const 0)))
)`
}

export async function buildDeep (): Promise<Uint8Array> {
  return await buildWatActor(deepWat())
}

/** A depth as the u32 LE payload the methods above take. */
export function depth (n: number): Uint8Array {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setUint32(0, n, true)
  return bytes
}
