;; Unbounded recursion: must trap (stack overflow) without harming the worker.
(module
  (func $f (export "recurse") (param i32) (result i32)
    (i32.add (call $f (i32.add (local.get 0) (i32.const 1))) (i32.const 1))))
