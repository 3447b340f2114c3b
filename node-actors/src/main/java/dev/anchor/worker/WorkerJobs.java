package dev.anchor.worker;

import dev.anchor.runtime.Job;
import dev.anchor.runtime.RuntimeKind;
import dev.anchor.task.TaskSpec;
import java.util.Base64;

/** Turns a task's spec into the sandbox's job for one attempt. */
final class WorkerJobs {
  private WorkerJobs() {}

  static String jobId(String taskId, int attempt) {
    return taskId + "#" + attempt;
  }

  static Job toJob(
      String taskId, int attempt, TaskSpec spec, long defaultTimeoutMs, long memoryMb) {
    RuntimeKind kind = RuntimeKind.parse(spec.runtime() == null ? "js" : spec.runtime());
    byte[] wasm =
        spec.wasmBase64() == null
            ? null
            : Base64.getDecoder().decode(spec.wasmBase64().replaceAll("\\s", ""));
    long timeout =
        spec.timeoutMs() != null && spec.timeoutMs() > 0 ? spec.timeoutMs() : defaultTimeoutMs;
    return new Job(
        jobId(taskId, attempt),
        kind,
        spec.sourceCode(),
        wasm,
        spec.entry(),
        spec.args(),
        spec.dependencies(),
        spec.inputJson(),
        timeout,
        memoryMb,
        false,
        kind == RuntimeKind.WASM);
  }
}
