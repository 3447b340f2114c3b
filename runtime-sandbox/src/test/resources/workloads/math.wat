;; Small numeric exports to check argument conversion and deterministic results.
(module
  (func (export "add64") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1)))
  (func (export "div") (param f64 f64) (result f64) (f64.div (local.get 0) (local.get 1)))
  (func (export "nan") (result f64) (f64.sub (f64.div (f64.const 0) (f64.const 0)) (f64.const 1)))
  (func (export "boom") (result i32) unreachable))
