;; pong: the receiving half of the ping–pong example, written by hand as the core module of a
;; component targeting pylon:actor/actor (like counter-wat: small, fast to load, and the same CID on
;; every build). It answers whoever sends it `ping`; it never sends anything itself.
;;
;;   update `ping`  (any payload) counts the ping and returns "pong <n>", n = pings so far. When the
;;                  caller is an actor that used outbox.send, the subnet delivers that result back to
;;                  it as `reply:ping`; a client calling `ping` directly just gets the text.
;;   query  `count` the number of pings, as decimal text.
;;   anything else  fails with "unknown method".
;;
;; The count lives under the key "count" as 8 bytes little-endian: the layout counter-wat uses, so
;; upgrading pong to counter-wat keeps the count (the README tour shows it) and counter-wat's `get`
;; reads it. No allocator beyond a bump pointer: an instance lives for one block at most.
(module
  (import "pylon:actor/storage@0.1.0" "get" (func $storage_get (param i32 i32 i32)))
  (import "pylon:actor/storage@0.1.0" "set" (func $storage_set (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  ;; Fixed areas: 0..12 storage.get's return area (option tag u8, ptr, len); 16..28 our result
  ;; (result tag u8: 0 ok / 1 err, ptr, len); 200..208 an i64 being written; 256.. constants.
  (data (i32.const 256) "count")           ;; key and query method, 5 bytes
  (data (i32.const 264) "ping")            ;; update method, 4 bytes
  (data (i32.const 272) "pong ")           ;; result prefix, 5 bytes
  (data (i32.const 288) "unknown method")  ;; 14 bytes
  (global $heap (mut i32) (i32.const 1024))

  ;; The canonical ABI allocator the host passes arguments (and storage values) through: a bump
  ;; allocator that grows memory when needed (the runtime caps growth at its page limit).
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

  ;; True when the bytes at (a, alen) equal the bytes at (b, blen).
  (func $eq (param $a i32) (param $alen i32) (param $b i32) (param $blen i32) (result i32)
    (local $i i32)
    (if (i32.ne (local.get $alen) (local.get $blen)) (then (return (i32.const 0))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $alen)))
        (if (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $i))) (i32.load8_u (i32.add (local.get $b) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))

  ;; The stored count, or 0 when the key is absent (or not 8 bytes).
  (func $read (result i64)
    (call $storage_get (i32.const 256) (i32.const 5) (i32.const 0))
    (if (result i64) (i32.and (i32.load8_u (i32.const 0)) (i32.eq (i32.load (i32.const 8)) (i32.const 8)))
      (then (i64.load (i32.load (i32.const 4))))
      (else (i64.const 0))))

  ;; Writes the decimal digits of n so that they END just before `end`; returns where they start.
  (func $decimal (param $n i64) (param $end i32) (result i32)
    (local $p i32)
    (local.set $p (local.get $end))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $n) (i64.const 10)))))
      (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $n) (i64.const 0))))
    (local.get $p))

  ;; Fills the result area with ok(bytes at ptr, len) and returns its address.
  (func $ok (param $ptr i32) (param $len i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (local.get $ptr))
    (i32.store (i32.const 24) (local.get $len))
    (i32.const 16))

  (func $err_unknown (result i32)
    (i32.store8 (i32.const 16) (i32.const 1))
    (i32.store (i32.const 20) (i32.const 288))
    (i32.store (i32.const 24) (i32.const 14))
    (i32.const 16))

  (func (export "init") (param i32 i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.const 16))

  ;; `ping`: count += 1, answer "pong <count>". The digits are written at 600..640 and the prefix
  ;; copied in front of them, so the answer is one contiguous run of bytes.
  (func (export "update") (param $m i32) (param $mlen i32) (param $p i32) (param $plen i32) (result i32)
    (local $n i64)
    (local $start i32)
    (if (result i32) (call $eq (local.get $m) (local.get $mlen) (i32.const 264) (i32.const 4))
      (then
        (local.set $n (i64.add (call $read) (i64.const 1)))
        (i64.store (i32.const 200) (local.get $n))
        (call $storage_set (i32.const 256) (i32.const 5) (i32.const 200) (i32.const 8))
        (local.set $start (i32.sub (call $decimal (local.get $n) (i32.const 640)) (i32.const 5)))
        (memory.copy (local.get $start) (i32.const 272) (i32.const 5))
        (call $ok (local.get $start) (i32.sub (i32.const 640) (local.get $start))))
      (else (call $err_unknown))))

  ;; `count`: the number of pings so far, as decimal text.
  (func (export "query") (param $m i32) (param $mlen i32) (param $p i32) (param $plen i32) (result i32)
    (local $start i32)
    (if (result i32) (call $eq (local.get $m) (local.get $mlen) (i32.const 256) (i32.const 5))
      (then
        (local.set $start (call $decimal (call $read) (i32.const 640)))
        (call $ok (local.get $start) (i32.sub (i32.const 640) (local.get $start))))
      (else (call $err_unknown))))
)
