package dev.anchor.runtime;

/** Why a task did not produce a result. */
public enum FailureKind {
  /** The task ran past its deadline and was stopped. */
  TIMEOUT,
  /** The task exceeded its memory cap (JS heap, WASM linear memory). */
  MEMORY_LIMIT,
  /** The result (or WASI/native stdout) exceeded the result cap. */
  OUTPUT_LIMIT,
  /** The user code threw, trapped or exited non-zero. */
  CODE_ERROR,
  /**
   * The sandbox refused the task (runtime unavailable or disabled, limits above the operator
   * maximum).
   */
  REFUSED,
  /** {@link Sandbox#cancel(String)} stopped the task. */
  CANCELLED,
  /**
   * The payload itself is unusable: invalid module bytes, missing export, wrong argument types, bad
   * input JSON.
   */
  BAD_PAYLOAD,
  /** A fault of the sandbox or its worker processes, not of the task. */
  INTERNAL;

  /**
   * Whether running the same task again could succeed. Failures caused by the task itself (its
   * code, its payload, its limits) repeat deterministically, so only sandbox-side faults are
   * retryable.
   */
  public boolean retryableByDefault() {
    return this == INTERNAL;
  }
}
