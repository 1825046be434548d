;; spin: every update loops forever. It exists to show that fuel, not a wall-clock timeout, stops
;; a runaway actor: the message fails with "out of fuel", fuelUsed equals the limit, and the
;; node goes on with the next message.
(module
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "init") (param i32 i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.const 16))
  (func (export "update") (param i32 i32 i32 i32) (result i32)
    (loop $forever (br $forever))
    (i32.const 16))
  (func (export "query") (param i32 i32 i32 i32) (result i32)
    (loop $forever (br $forever))
    (i32.const 16))
)
