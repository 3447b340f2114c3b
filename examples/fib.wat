;; The WASM example of the README: fib(n) = the n-th Fibonacci number, iteratively, in 64 bits.
;; Built with WABT's wat2wasm (the npm package `wabt`, 1.0.37):
;;   npx -y -p wabt@1.0.37 wat2wasm examples/fib.wat -o examples/fib.wasm
;; It exports one function, so a task may omit `entry` (see README "Runtimes: input and output").
(module
  (func (export "fib") (param $n i32) (result i64)
    (local $a i64) (local $b i64) (local $t i64)
    (local.set $b (i64.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.le_s (local.get $n) (i32.const 0)))
        (local.set $t (i64.add (local.get $a) (local.get $b)))
        (local.set $a (local.get $b))
        (local.set $b (local.get $t))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $a)))
