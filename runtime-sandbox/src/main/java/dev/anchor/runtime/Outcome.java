package dev.anchor.runtime;

import java.nio.charset.StandardCharsets;

/** The result of {@link Sandbox#run(Job)}: never an exception, always one of these two. */
public sealed interface Outcome permits Outcome.Success, Outcome.Failure {

  String logs();

  long durationMs();

  default boolean isSuccess() {
    return this instanceof Success;
  }

  /**
   * @param resultJson valid JSON text of the result
   * @param resultBytes the canonical bytes consensus verification compares (JS: UTF-8 of
   *     resultJson; WASM/native: the raw output bytes)
   */
  record Success(
      String resultJson, byte[] resultBytes, String logs, long durationMs, ResourceUse use)
      implements Outcome {
    public static Success ofJson(String json, String logs, long durationMs, ResourceUse use) {
      return new Success(json, json.getBytes(StandardCharsets.UTF_8), logs, durationMs, use);
    }

    @Override
    public String toString() {
      return "Success[result="
          + abbreviate(resultJson)
          + ", durationMs="
          + durationMs
          + ", use="
          + use
          + "]";
    }
  }

  /**
   * @param line the 1-based line in the user's source the error points at, when known
   */
  record Failure(FailureKind kind, String message, Integer line, String logs, long durationMs)
      implements Outcome {
    public boolean retryable() {
      return kind.retryableByDefault();
    }

    @Override
    public String toString() {
      return "Failure["
          + kind
          + ": "
          + message
          + (line == null ? "" : " (line " + line + ")")
          + ", durationMs="
          + durationMs
          + "]";
    }
  }

  private static String abbreviate(String s) {
    return s == null || s.length() <= 200
        ? s
        : s.substring(0, 200) + "...(" + s.length() + " chars)";
  }
}
