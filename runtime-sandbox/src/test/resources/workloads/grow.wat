;; Grows its memory (no declared maximum) until memory.grow fails, then traps: must end at the memory cap.
(module
  (memory (export "memory") 1)
  (func (export "grow") (result i32)
    (loop $l
      (if (i32.eq (memory.grow (i32.const 16)) (i32.const -1)) (then unreachable))
      (br $l))
    (i32.const 0)))
