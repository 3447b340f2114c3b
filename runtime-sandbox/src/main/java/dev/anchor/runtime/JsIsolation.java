package dev.anchor.runtime;

/** Where JavaScript tasks execute. */
public enum JsIsolation {
  /**
   * In a pool of sandbox child JVMs, one task at a time per child, each child with its own -Xmx: a
   * memory bomb ends that child, never the worker. The default.
   */
  CHILD_JVM,
  /**
   * In the worker JVM itself. Deadline, cancellation, output caps and isolation between tasks still
   * hold, but there is NO memory cap (GraalVM Community has no per-context heap limit). For trusted
   * code and for measuring the cost of the child JVMs only.
   */
  IN_PROCESS
}
