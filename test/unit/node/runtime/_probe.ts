// A hand-written probe actor for runtime tests: each update method exercises one host function
// or limit. Built from WAT in-process (milliseconds), so tests need no prebuilt file.

import { buildWatActor } from '../../../../node/runtime/builder.ts'

/**
 * update methods (first byte of the name decides):
 *   w… writes k=v then traps          x… writes k=v and succeeds
 *   s… sends payload[0] outbox messages to `target`
 *   S… schedules "ping" to itself 1000 ns after the block time
 *   r… returns random(16) ‖ now (u64 LE)
 *   d… recurses without end (stopped by the stack budget)
 *   g… grows memory 16 pages at a time, then 1, until refused; returns memory.size (u32 LE)
 * query: writes k=v (must be refused).
 */
export function probeWat (target: string): string {
  const id = JSON.stringify(target).slice(1, -1)
  return `(module
  (import "pylon:actor/storage@0.1.0" "set" (func $set (param i32 i32 i32 i32)))
  (import "pylon:actor/context@0.1.0" "random" (func $random (param i32 i32)))
  (import "pylon:actor/context@0.1.0" "now" (func $now (result i64)))
  (import "pylon:actor/outbox@0.1.0" "send" (func $send (param i32 i32 i32 i32 i32 i32)))
  (import "pylon:actor/outbox@0.1.0" "schedule" (func $schedule (param i64 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 256) "k")
  (data (i32.const 260) "v")
  (data (i32.const 300) "ping")
  (data (i32.const 512) "${id}")
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get 3)))
    (local.get $p))
  (func $ok (param $ptr i32) (param $len i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (local.get $ptr))
    (i32.store (i32.const 24) (local.get $len))
    (i32.const 16))
  (func $deep (param $n i32) (result i32)
    (call $deep (i32.add (local.get $n) (i32.const 1))))
  (func (export "init") (param i32 i32) (result i32) (call $ok (i32.const 0) (i32.const 0)))
  (func (export "update") (param $m i32) (param $ml i32) (param $p i32) (param $pl i32) (result i32)
    (local $op i32) (local $i i32)
    (local.set $op (i32.load8_u (local.get $m)))
    (if (i32.eq (local.get $op) (i32.const 119)) (then
      (call $set (i32.const 256) (i32.const 1) (i32.const 260) (i32.const 1))
      unreachable))
    (if (i32.eq (local.get $op) (i32.const 120)) (then
      (call $set (i32.const 256) (i32.const 1) (i32.const 260) (i32.const 1))
      (return (call $ok (i32.const 0) (i32.const 0)))))
    (if (i32.eq (local.get $op) (i32.const 115)) (then
      (loop $more
        (if (i32.lt_u (local.get $i) (i32.load8_u (local.get $p))) (then
          (call $send (i32.const 512) (i32.const ${Buffer.byteLength(target)}) (i32.const 300) (i32.const 4) (i32.const 260) (i32.const 1))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $more))))
      (return (call $ok (i32.const 0) (i32.const 0)))))
    (if (i32.eq (local.get $op) (i32.const 114)) (then
      (call $random (i32.const 16) (i32.const 32))
      (memory.copy (i32.const 1000) (i32.load (i32.const 32)) (i32.const 16))
      (i64.store (i32.const 1016) (call $now))
      (return (call $ok (i32.const 1000) (i32.const 24)))))
    (if (i32.eq (local.get $op) (i32.const 83)) (then
      (call $schedule (i64.add (call $now) (i64.const 1000)) (i32.const 300) (i32.const 4) (i32.const 260) (i32.const 1))
      (return (call $ok (i32.const 0) (i32.const 0)))))
    (if (i32.eq (local.get $op) (i32.const 100)) (then
      (return (call $deep (i32.const 0)))))
    (if (i32.eq (local.get $op) (i32.const 103)) (then
      (loop $grow (br_if $grow (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
      (loop $one (br_if $one (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
      (i32.store (i32.const 1000) (memory.size))
      (return (call $ok (i32.const 1000) (i32.const 4)))))
    unreachable)
  (func (export "query") (param i32 i32 i32 i32) (result i32)
    (call $set (i32.const 256) (i32.const 1) (i32.const 260) (i32.const 1))
    (call $ok (i32.const 0) (i32.const 0)))
)`
}

export async function buildProbe (target: string): Promise<Uint8Array> {
  return await buildWatActor(probeWat(target))
}
