package dev.anchor.task;

import dev.anchor.CborSerializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What a user submitted: the code to run and the conditions it needs. Immutable once journaled in
 * {@link TaskEntity.Submitted}. Absent optional parts are normalised here so every reader sees the
 * same defaults the task was accepted with.
 *
 * @param runtime e.g. "js", "python", "wasm"
 * @param wasmBase64 module bytes for the wasm runtime, otherwise null
 * @param args numeric arguments for the entry function
 * @param inputJson JSON text handed to the code, or null
 * @param timeoutMs execution limit enforced by the worker, or null for the worker's default
 * @param priority higher runs earlier
 * @param verification run on several distinct nodes and compare results, or null for a single run
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
    int priority,
    Verification verification)
    implements CborSerializable {

  public TaskSpec(
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
      int priority) {
    this(
        name,
        type,
        runtime,
        sourceCode,
        wasmBase64,
        entry,
        args,
        dependencies,
        inputJson,
        requirements,
        timeoutMs,
        retries,
        priority,
        null);
  }

  public TaskSpec {
    args = args == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(args));
    dependencies =
        dependencies == null
            ? List.of()
            : Collections.unmodifiableList(new ArrayList<>(dependencies));
    requirements = requirements == null ? Requirements.NONE : requirements;
    retries = retries == null ? RetryPolicy.DEFAULT : retries;
  }

  /** A spec with only the essentials; everything else takes its default. */
  public static TaskSpec of(String name, String runtime, String sourceCode) {
    return new TaskSpec(
        name, null, runtime, sourceCode, null, null, null, null, null, null, null, null, 0);
  }

  public TaskSpec withRetries(RetryPolicy policy) {
    return new TaskSpec(
        name,
        type,
        runtime,
        sourceCode,
        wasmBase64,
        entry,
        args,
        dependencies,
        inputJson,
        requirements,
        timeoutMs,
        policy,
        priority,
        verification);
  }

  public TaskSpec withVerification(Verification v) {
    return new TaskSpec(
        name,
        type,
        runtime,
        sourceCode,
        wasmBase64,
        entry,
        args,
        dependencies,
        inputJson,
        requirements,
        timeoutMs,
        retries,
        priority,
        v);
  }

  /**
   * SHA-256 of the code the task runs (source text or module bytes as submitted), for fraud
   * evidence.
   */
  public String codeHash() {
    String code = wasmBase64 != null ? wasmBase64 : sourceCode;
    return code == null ? null : dev.anchor.consensus.CanonicalResult.sha256Hex(code);
  }

  /**
   * Consensus verification: the task runs on {@code replicas} distinct nodes and completes when
   * {@code quorum} of them report the same canonical result; if that becomes impossible, more
   * replicas are dispatched up to {@code maxReplicas}, then the task fails as Unverifiable.
   *
   * @param policy {@link #FIXED} (always replicate) or {@link #ADAPTIVE}: run once on a proven
   *     node, replicate on an unproven one (BOINC's adaptive replication)
   */
  public record Verification(int replicas, int quorum, int maxReplicas, String policy)
      implements CborSerializable {
    public static final String FIXED = "fixed";
    public static final String ADAPTIVE = "adaptive";
    public static final int MAX_REPLICAS = 16;

    /**
     * Fills the defaults: quorum = majority, maxReplicas = replicas + 2, policy fixed; adaptive
     * replicates to 2.
     */
    public static Verification of(
        Integer replicas, Integer quorum, Integer maxReplicas, String policy) {
      String p = policy == null ? FIXED : policy;
      int r = replicas != null ? replicas : 2;
      int q = quorum != null ? quorum : r / 2 + 1;
      int m = maxReplicas != null ? maxReplicas : Math.min(MAX_REPLICAS, r + 2);
      return new Verification(r, q, m, p);
    }

    /** Why these values cannot be used, naming the field, or null when they can. */
    public String problem() {
      if (!FIXED.equals(policy) && !ADAPTIVE.equals(policy))
        return "policy: must be \"fixed\" or \"adaptive\"";
      if (replicas < 2 || replicas > MAX_REPLICAS) return "replicas: must be 2 to " + MAX_REPLICAS;
      if (quorum < 2 || quorum > replicas)
        return "quorum: must be 2 to replicas (" + replicas + ")";
      if (maxReplicas < replicas || maxReplicas > MAX_REPLICAS) {
        return "maxReplicas: must be replicas (" + replicas + ") to " + MAX_REPLICAS;
      }
      return null;
    }

    public boolean adaptive() {
      return ADAPTIVE.equals(policy);
    }
  }

  /** What a node must offer to take the task. */
  public record Requirements(double minRamGb, boolean gpuRequired) implements CborSerializable {
    public static final Requirements NONE = new Requirements(0, false);
  }

  /**
   * How often a failed task is tried again. The delay before attempt n+1 is {@code backoffMs *
   * 2^(n-1)}, capped at {@link #MAX_BACKOFF_MS}. A zero {@code attempts} or {@code backoffMs} (what
   * a JSON body that omits the field binds to) means the default (3 attempts, 2,000 ms); use 1
   * attempt to never retry.
   *
   * @param retryUserErrors errors raised by the user's own code are final unless this is set, since
   *     running the same code again normally fails the same way
   */
  public record RetryPolicy(int attempts, long backoffMs, boolean retryUserErrors)
      implements CborSerializable {
    public static final int DEFAULT_ATTEMPTS = 3;
    public static final long DEFAULT_BACKOFF_MS = 2_000;
    public static final long MAX_BACKOFF_MS = 3_600_000;
    public static final RetryPolicy DEFAULT =
        new RetryPolicy(DEFAULT_ATTEMPTS, DEFAULT_BACKOFF_MS, false);

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
