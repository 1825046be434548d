// A hand-written actor that keeps state in its instance across calls (a mutable global, a counter
// in linear memory and its bump allocator), for the instance-pool tests. Built from WAT in-process.

import { buildWatActor } from '../../../../node/runtime/builder.ts'

/**
 * update methods (first byte of the name decides); each result is u32 LE global ‖ u32 LE memory counter:
 *   b… adds one to both, stores them under "k"      p… returns them unchanged
 *   t… adds one to both, then traps                 s… adds one to both, then spins until out of fuel
 *   g… grows memory by one page, adds one to both (a grown instance cannot be reset)
 * query: returns them unchanged.
 */
export const stickyWat = `(module
  (import "pylon:actor/storage@0.1.0" "set" (func $set (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (global $count (mut i32) (i32.const 0))
  (data (i32.const 256) "k")
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get 3)))
    (local.get $p))
  (func $bump
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (i32.store (i32.const 2048) (i32.add (i32.load (i32.const 2048)) (i32.const 1))))
  (func $state (result i32)
    (i32.store (i32.const 1000) (global.get $count))
    (i32.store (i32.const 1004) (i32.load (i32.const 2048)))
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (i32.const 1000))
    (i32.store (i32.const 24) (i32.const 8))
    (i32.const 16))
  (func (export "init") (param i32 i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.const 16))
  (func (export "update") (param $m i32) (param $ml i32) (param $p i32) (param $pl i32) (result i32)
    (local $op i32)
    (local.set $op (i32.load8_u (local.get $m)))
    (if (i32.eq (local.get $op) (i32.const 112)) (then (return (call $state))))
    (call $bump)
    (if (i32.eq (local.get $op) (i32.const 98)) (then
      (drop (call $state))
      (call $set (i32.const 256) (i32.const 1) (i32.const 1000) (i32.const 8))
      (return (call $state))))
    (if (i32.eq (local.get $op) (i32.const 116)) (then unreachable))
    (if (i32.eq (local.get $op) (i32.const 115)) (then (loop $spin (br $spin))))
    (if (i32.eq (local.get $op) (i32.const 103)) (then
      (drop (memory.grow (i32.const 1)))
      (return (call $state))))
    unreachable)
  (func (export "query") (param i32 i32 i32 i32) (result i32) (call $state))
)`

export async function buildSticky (): Promise<Uint8Array> {
  return await buildWatActor(stickyWat)
}

/** The (global, memory counter) pair a sticky result holds. */
export function stickyState (result: Uint8Array | null): [number, number] {
  if (result === null || result.length !== 8) return [-1, -1]
  const view = new DataView(result.buffer, result.byteOffset, 8)
  return [view.getUint32(0, true), view.getUint32(4, true)]
}
