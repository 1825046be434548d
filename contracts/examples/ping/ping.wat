;; ping: the sending half of the ping–pong example, written by hand as the core module of a
;; component targeting pylon:actor/actor (like counter-wat: small, fast to load, and the same CID on
;; every build). It shows actor-to-actor messages: outbox.send, and the one answer every sent
;; message gets back, whether the target is on this subnet or another.
;;
;;   update `start`        payload = an ActorId (UTF-8), e.g. a pong's. Sends `ping` (empty
;;                         payload) to it through the outbox, remembers it as the actor to hear
;;                         from, counts `sent`, returns "sent ping <sent> to <id>". The message
;;                         leaves only if this update succeeds, and arrives in a later block.
;;   update `reply:ping`   the subnet's delivery of the target's answer: payload = its result bytes
;;                         (pong says "pong <n>"). Counts `replies`, keeps the payload as `last`.
;;   update `reject:ping`  the answer when the target failed, does not exist, or could not be
;;                         reached: payload = the error text. Counts `rejects`, keeps it as `last`.
;;   query  `stats`        "sent=<n> replies=<n> rejects=<n> last=<last answer>".
;;   anything else         fails with "unknown method".
;;
;; Both answers are accepted only from the actor `start` named last (caller() is the answering
;; actor's id), so a client cannot fake a reply by calling `reply:ping` itself. A second `start` to
;; another actor before the first answer arrives makes that first answer fail (answers get no
;; answer, so nothing loops). Counters are 8-byte little-endian u64 values under "sent", "replies",
;; "rejects"; "last" and "to" hold bytes. No allocator beyond a bump pointer: an instance lives for
;; one block at most.
(module
  (import "pylon:actor/storage@0.1.0" "get" (func $storage_get (param i32 i32 i32)))
  (import "pylon:actor/storage@0.1.0" "set" (func $storage_set (param i32 i32 i32 i32)))
  (import "pylon:actor/context@0.1.0" "caller" (func $caller (param i32)))
  (import "pylon:actor/outbox@0.1.0" "send" (func $send (param i32 i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  ;; Fixed areas: 0..12 storage.get's return area (option tag u8, ptr, len); 16..28 our result
  ;; (result tag u8: 0 ok / 1 err, ptr, len); 200..208 an i64 being written; 208..216 caller()'s
  ;; return area (ptr, len); 256..528 constants; 600..640 decimal digits being formatted.
  (data (i32.const 256) "sent")                                    ;; 4
  (data (i32.const 264) "replies")                                 ;; 7
  (data (i32.const 272) "rejects")                                 ;; 7
  (data (i32.const 280) "last")                                    ;; 4
  (data (i32.const 288) "to")                                      ;; 2
  (data (i32.const 296) "start")                                   ;; 5
  (data (i32.const 304) "reply:ping")                              ;; 10
  (data (i32.const 320) "reject:ping")                             ;; 11
  (data (i32.const 336) "stats")                                   ;; 5
  (data (i32.const 344) "ping")                                    ;; 4
  (data (i32.const 352) "unknown method")                          ;; 14
  (data (i32.const 368) "sent=")                                   ;; 5
  (data (i32.const 376) " replies=")                               ;; 9
  (data (i32.const 392) " rejects=")                               ;; 9
  (data (i32.const 408) " last=")                                  ;; 6
  (data (i32.const 416) "start needs a pong actor id as payload")  ;; 38
  (data (i32.const 456) "answer not from the pinged actor")        ;; 32
  (data (i32.const 496) "sent ping ")                              ;; 10
  (data (i32.const 512) " to ")                                    ;; 4
  (global $heap (mut i32) (i32.const 1024))
  ;; Write cursor of the result being assembled (see $begin / $put).
  (global $out (mut i32) (i32.const 0))

  ;; The canonical ABI allocator the host passes arguments (and storage values, caller()) through:
  ;; a bump allocator that grows memory when needed (the runtime caps growth at its page limit).
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

  ;; The u64 under `key`, or 0 when absent (or not 8 bytes).
  (func $get_u64 (param $key i32) (param $klen i32) (result i64)
    (call $storage_get (local.get $key) (local.get $klen) (i32.const 0))
    (if (result i64) (i32.and (i32.load8_u (i32.const 0)) (i32.eq (i32.load (i32.const 8)) (i32.const 8)))
      (then (i64.load (i32.load (i32.const 4))))
      (else (i64.const 0))))

  ;; Adds one to the u64 under `key` and returns the new value.
  (func $bump (param $key i32) (param $klen i32) (result i64)
    (local $n i64)
    (local.set $n (i64.add (call $get_u64 (local.get $key) (local.get $klen)) (i64.const 1)))
    (i64.store (i32.const 200) (local.get $n))
    (call $storage_set (local.get $key) (local.get $klen) (i32.const 200) (i32.const 8))
    (local.get $n))

  ;; Starts a result of at most `size` bytes in fresh memory; returns its start.
  (func $begin (param $size i32) (result i32)
    (global.set $out (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (local.get $size)))
    (global.get $out))

  ;; Appends the bytes at (ptr, len) to the result being assembled.
  (func $put (param $ptr i32) (param $len i32)
    (memory.copy (global.get $out) (local.get $ptr) (local.get $len))
    (global.set $out (i32.add (global.get $out) (local.get $len))))

  ;; Appends the decimal text of n (at most 20 digits), formatted at 600..640 first.
  (func $put_decimal (param $n i64)
    (local $p i32)
    (local.set $p (i32.const 640))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $n) (i64.const 10)))))
      (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $n) (i64.const 0))))
    (call $put (local.get $p) (i32.sub (i32.const 640) (local.get $p))))

  ;; Fills the result area with ok(bytes at ptr, len) / err(text at ptr, len); returns its address.
  (func $ok (param $ptr i32) (param $len i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (local.get $ptr))
    (i32.store (i32.const 24) (local.get $len))
    (i32.const 16))
  (func $err (param $ptr i32) (param $len i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 1))
    (i32.store (i32.const 20) (local.get $ptr))
    (i32.store (i32.const 24) (local.get $len))
    (i32.const 16))

  ;; Whether caller() is the actor the last `start` pinged (stored under "to").
  (func $from_target (result i32)
    (call $caller (i32.const 208))
    (call $storage_get (i32.const 288) (i32.const 2) (i32.const 0))
    (if (result i32) (i32.load8_u (i32.const 0))
      (then (call $eq (i32.load (i32.const 208)) (i32.load (i32.const 212)) (i32.load (i32.const 4)) (i32.load (i32.const 8))))
      (else (i32.const 0))))

  ;; An answer from the pinged actor: count it under `counter` and keep its payload as "last".
  (func $answer (param $counter i32) (param $clen i32) (param $p i32) (param $plen i32) (result i32)
    (if (i32.eqz (call $from_target)) (then (return (call $err (i32.const 456) (i32.const 32)))))
    (drop (call $bump (local.get $counter) (local.get $clen)))
    (call $storage_set (i32.const 280) (i32.const 4) (local.get $p) (local.get $plen))
    (call $ok (i32.const 0) (i32.const 0)))

  (func (export "init") (param i32 i32) (result i32)
    (call $ok (i32.const 0) (i32.const 0)))

  (func (export "update") (param $m i32) (param $mlen i32) (param $p i32) (param $plen i32) (result i32)
    (local $n i64)
    (local $start i32)
    ;; start: remember the target, send it `ping`, answer "sent ping <n> to <id>".
    (if (call $eq (local.get $m) (local.get $mlen) (i32.const 296) (i32.const 5))
      (then
        (if (i32.eqz (local.get $plen)) (then (return (call $err (i32.const 416) (i32.const 38)))))
        (call $storage_set (i32.const 288) (i32.const 2) (local.get $p) (local.get $plen))
        ;; An id that is not an ActorId traps here, failing this update: nothing is sent or kept.
        (call $send (local.get $p) (local.get $plen) (i32.const 344) (i32.const 4) (i32.const 0) (i32.const 0))
        (local.set $n (call $bump (i32.const 256) (i32.const 4)))
        (local.set $start (call $begin (i32.add (local.get $plen) (i32.const 64))))
        (call $put (i32.const 496) (i32.const 10))
        (call $put_decimal (local.get $n))
        (call $put (i32.const 512) (i32.const 4))
        (call $put (local.get $p) (local.get $plen))
        (return (call $ok (local.get $start) (i32.sub (global.get $out) (local.get $start))))))
    (if (call $eq (local.get $m) (local.get $mlen) (i32.const 304) (i32.const 10))
      (then (return (call $answer (i32.const 264) (i32.const 7) (local.get $p) (local.get $plen)))))
    (if (call $eq (local.get $m) (local.get $mlen) (i32.const 320) (i32.const 11))
      (then (return (call $answer (i32.const 272) (i32.const 7) (local.get $p) (local.get $plen)))))
    (call $err (i32.const 352) (i32.const 14)))

  ;; stats: "sent=<n> replies=<n> rejects=<n> last=<bytes>".
  (func (export "query") (param $m i32) (param $mlen i32) (param $p i32) (param $plen i32) (result i32)
    (local $sent i64)
    (local $replies i64)
    (local $rejects i64)
    (local $last i32)
    (local $lastlen i32)
    (local $start i32)
    (if (i32.eqz (call $eq (local.get $m) (local.get $mlen) (i32.const 336) (i32.const 5)))
      (then (return (call $err (i32.const 352) (i32.const 14)))))
    (local.set $sent (call $get_u64 (i32.const 256) (i32.const 4)))
    (local.set $replies (call $get_u64 (i32.const 264) (i32.const 7)))
    (local.set $rejects (call $get_u64 (i32.const 272) (i32.const 7)))
    ;; Read "last" after the counters: every storage.get reuses the return area at 0.
    (call $storage_get (i32.const 280) (i32.const 4) (i32.const 0))
    (if (i32.load8_u (i32.const 0))
      (then
        (local.set $last (i32.load (i32.const 4)))
        (local.set $lastlen (i32.load (i32.const 8)))))
    ;; Three labels (29 bytes) and three numbers (at most 20 digits each) fit in 96 bytes.
    (local.set $start (call $begin (i32.add (local.get $lastlen) (i32.const 96))))
    (call $put (i32.const 368) (i32.const 5))
    (call $put_decimal (local.get $sent))
    (call $put (i32.const 376) (i32.const 9))
    (call $put_decimal (local.get $replies))
    (call $put (i32.const 392) (i32.const 9))
    (call $put_decimal (local.get $rejects))
    (call $put (i32.const 408) (i32.const 6))
    (call $put (local.get $last) (local.get $lastlen))
    (call $ok (local.get $start) (i32.sub (global.get $out) (local.get $start))))
)
