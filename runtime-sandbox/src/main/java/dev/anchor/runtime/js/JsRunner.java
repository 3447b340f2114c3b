package dev.anchor.runtime.js;

import dev.anchor.runtime.Outcome;

/** Executes JS tasks; the sandbox holds one. */
public interface JsRunner extends AutoCloseable {
  Outcome run(JsRequest request);

  void cancel(String jobId);

  @Override
  void close();
}
