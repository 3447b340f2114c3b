package dev.anchor.runtime.js;

import dev.anchor.runtime.FailureKind;
import dev.anchor.runtime.Outcome;
import dev.anchor.runtime.ResourceUse;

/**
 * What the executor answers; {@code failure == null} means success and {@code resultJson} is set.
 */
public record JsReply(
    String jobId,
    FailureKind failure,
    String resultJson,
    String message,
    int line,
    String logs,
    long durationMs,
    long memoryBytes) {

  static JsReply success(
      String jobId, String json, String logs, long durationMs, long memoryBytes) {
    return new JsReply(jobId, null, json, null, -1, logs, durationMs, memoryBytes);
  }

  static JsReply failure(
      String jobId, FailureKind kind, String message, int line, String logs, long durationMs) {
    return new JsReply(jobId, kind, null, message, line, logs, durationMs, 0);
  }

  public Outcome toOutcome() {
    if (failure == null) {
      return Outcome.Success.ofJson(
          resultJson,
          logs,
          durationMs,
          new ResourceUse(memoryBytes, resultJson.length(), logs.length()));
    }
    return new Outcome.Failure(failure, message, line > 0 ? line : null, logs, durationMs);
  }
}
