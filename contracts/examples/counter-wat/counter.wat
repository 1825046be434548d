;; counter-wat: the counter example written by hand, as the core module of a component targeting
;; pylon:actor/actor. `inc` (update) adds one and returns the new count, `get` (query) returns it;
;; results are the decimal count as UTF-8 text, like the JS counter. The count is stored under the
;; key "count" as 8 bytes little-endian. No allocator beyond a bump pointer: an instance lives for
;; one block at most, so nothing needs freeing.
(module
  (import "pylon:actor/storage@0.1.0" "get" (func $storage_get (param i32 i32 i32)))
  (import "pylon:actor/storage@0.1.0" "set" (func $storage_set (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  ;; 0..12: return area of storage.get (option tag, ptr, len); 16..28: our result (tag, ptr, len)
  (data (i32.const 32) "count")
  (data (i32.const 128) "unknown method")
  (global $heap (mut i32) (i32.const 1024))

  ;; The canonical ABI allocator the host uses to pass arguments in: a bump allocator that grows
  ;; memory when needed (growth is capped by the runtime's page limit).
  (func $realloc (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (i32.and (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get $align))))
    (global.set $heap (i32.add (local.get $ptr) (local.get $size)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (if (i32.eq (memory.grow (i32.add (i32.shr_u (i32.sub (global.get $heap) (i32.mul (memory.size) (i32.const 65536))) (i32.const 16)) (i32.const 1))) (i32.const -1))
        (then unreachable))))
    (if (i32.ne (local.get $old_size) (i32.const 0))
      (then (memory.copy (local.get $ptr) (local.get $old) (local.get $old_size))))
    (local.get $ptr))

  ;; The stored count, or 0 when the key is absent.
  (func $read (result i64)
    (call $storage_get (i32.const 32) (i32.const 5) (i32.const 0))
    (if (result i64) (i32.and (i32.load8_u (i32.const 0)) (i32.eq (i32.load (i32.const 8)) (i32.const 8)))
      (then (i64.load (i32.load (i32.const 4))))
      (else (i64.const 0))))

  ;; Writes ok(decimal text of n) into the result area and returns its address.
  (func $ok_decimal (param $n i64) (result i32)
    (local $p i32)
    (local.set $p (i32.const 84))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $n) (i64.const 10)))))
      (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $n) (i64.const 0))))
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (local.get $p))
    (i32.store (i32.const 24) (i32.sub (i32.const 84) (local.get $p)))
    (i32.const 16))

  (func $err_unknown (result i32)
    (i32.store8 (i32.const 16) (i32.const 1))
    (i32.store (i32.const 20) (i32.const 128))
    (i32.store (i32.const 24) (i32.const 14))
    (i32.const 16))

  ;; True when the method name at (ptr, len) is the three bytes b0 b1 b2.
  (func $is3 (param $ptr i32) (param $len i32) (param $b0 i32) (param $b1 i32) (param $b2 i32) (result i32)
    (i32.and (i32.eq (local.get $len) (i32.const 3))
      (i32.and (i32.eq (i32.load8_u (local.get $ptr)) (local.get $b0))
        (i32.and (i32.eq (i32.load8_u offset=1 (local.get $ptr)) (local.get $b1))
                 (i32.eq (i32.load8_u offset=2 (local.get $ptr)) (local.get $b2))))))

  (func (export "init") (param i32 i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.const 16))

  (func (export "update") (param $m i32) (param $mlen i32) (param $p i32) (param $plen i32) (result i32)
    (local $n i64)
    (if (result i32) (call $is3 (local.get $m) (local.get $mlen) (i32.const 105) (i32.const 110) (i32.const 99)) ;; "inc"
      (then
        (local.set $n (i64.add (call $read) (i64.const 1)))
        (i64.store (i32.const 200) (local.get $n))
        (call $storage_set (i32.const 32) (i32.const 5) (i32.const 200) (i32.const 8))
        (call $ok_decimal (local.get $n)))
      (else (call $err_unknown))))

  (func (export "query") (param $m i32) (param $mlen i32) (param $p i32) (param $plen i32) (result i32)
    (if (result i32) (call $is3 (local.get $m) (local.get $mlen) (i32.const 103) (i32.const 101) (i32.const 116)) ;; "get"
      (then (call $ok_decimal (call $read)))
      (else (call $err_unknown))))
)
