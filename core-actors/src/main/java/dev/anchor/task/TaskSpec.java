package dev.anchor.task;

import dev.anchor.CborSerializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What a user submitted: the code to run and the conditions it needs. Immutable once journaled in
 * {@link TaskEntity.Submitted}. Absent optional parts are normalised here so every reader sees the same
 * defaults the task was accepted with.
 *
 * @param runtime    e.g. "js", "python", "wasm"
 * @param wasmBase64 module bytes for the wasm runtime, otherwise null
 * @param args       numeric arguments for the entry function
 * @param inputJson  JSON text handed to the code, or null
 * @param timeoutMs  execution limit enforced by the worker, or null for the worker's default
 * @param priority   higher runs earlier
 */
public record TaskSpec(
    String name,
    String type,
    String runtime,
    String sourceCode,
    String wasmBase64,
    String entry,
    List<Number> args,
    List<String> dependencies,
    String inputJson,
    Requirements requirements,
    Long timeoutMs,
    RetryPolicy retries,
    int priority)
    implements CborSerializable {

  public TaskSpec {
    args = args == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(args));
    dependencies = dependencies == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(dependencies));
    requirements = requirements == null ? Requirements.NONE : requirements;
    retries = retries == null ? RetryPolicy.DEFAULT : retries;
  }

  /** A spec with only the essentials; everything else takes its default. */
  public static TaskSpec of(String name, String runtime, String sourceCode) {
    return new TaskSpec(name, null, runtime, sourceCode, null, null, null, null, null, null, null, null, 0);
  }

  public TaskSpec withRetries(RetryPolicy policy) {
    return new TaskSpec(name, type, runtime, sourceCode, wasmBase64, entry, args, dependencies, inputJson,
        requirements, timeoutMs, policy, priority);
  }

  /** What a node must offer to take the task. */
  public record Requirements(double minRamGb, boolean gpuRequired) implements CborSerializable {
    public static final Requirements NONE = new Requirements(0, false);
  }

  /**
   * How often a failed task is tried again. The delay before attempt n+1 is {@code backoffMs * 2^(n-1)}, capped
   * at {@link #MAX_BACKOFF_MS}. A zero {@code attempts} or {@code backoffMs} (what a JSON body that omits the
   * field binds to) means the default (3 attempts, 2,000 ms); use 1 attempt to never retry.
   *
   * @param retryUserErrors errors raised by the user's own code are final unless this is set, since running the
   *                        same code again normally fails the same way
   */
  public record RetryPolicy(int attempts, long backoffMs, boolean retryUserErrors) implements CborSerializable {
    public static final int DEFAULT_ATTEMPTS = 3;
    public static final long DEFAULT_BACKOFF_MS = 2_000;
    public static final long MAX_BACKOFF_MS = 3_600_000;
    public static final RetryPolicy DEFAULT = new RetryPolicy(DEFAULT_ATTEMPTS, DEFAULT_BACKOFF_MS, false);

    public RetryPolicy {
      if (attempts <= 0) attempts = DEFAULT_ATTEMPTS;
      if (backoffMs <= 0) backoffMs = DEFAULT_BACKOFF_MS;
    }

    public RetryPolicy(int attempts, long backoffMs) {
      this(attempts, backoffMs, false);
    }

    /** Delay before the attempt that follows failed attempt {@code failedAttempt} (1-based). */
    public long delayAfterAttempt(int failedAttempt) {
      long delay = backoffMs;
      for (int i = 1; i < failedAttempt && delay < MAX_BACKOFF_MS; i++) delay *= 2;
      return Math.min(delay, MAX_BACKOFF_MS);
    }
  }
}
