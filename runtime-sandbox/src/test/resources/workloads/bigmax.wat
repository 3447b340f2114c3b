;; Declares a maximum of 4 GiB of linear memory: refused above the cap.
(module
  (memory (export "memory") 1 65536)
  (func (export "main") (result i32) (i32.const 1)))
