package dev.anchor.runtime;

import java.util.List;
import java.util.Objects;

/**
 * One task for the sandbox. Fields a runtime does not use are null. {@code timeoutMs} and {@code
 * memoryMb} of 0 (or less) mean "the sandbox default"; values above the operator maximum are
 * refused.
 *
 * @param sourceCode JS task body (JS, NATIVE)
 * @param wasm module bytes (WASM)
 * @param entry exported function to call (WASM; default "_start" with WASI, else required)
 * @param args numeric arguments for the WASM export
 * @param dependencies npm package specs installed before a NATIVE task ("is-number",
 *     "lodash@4.17.21")
 * @param inputJson JSON text given to the task (JS global {@code input}; WASI and native: stdin),
 *     or null
 * @param wasi run the WASM module with WASI: input on stdin, stdout is the result
 * @param deterministic WASM: canonical NaNs and no clock/random imports, so equal inputs give equal
 *     bytes everywhere
 */
public record Job(
    String jobId,
    RuntimeKind runtime,
    String sourceCode,
    byte[] wasm,
    String entry,
    List<Number> args,
    List<String> dependencies,
    String inputJson,
    long timeoutMs,
    long memoryMb,
    boolean wasi,
    boolean deterministic) {

  public Job {
    Objects.requireNonNull(jobId, "jobId");
    Objects.requireNonNull(runtime, "runtime");
    args = args == null ? List.of() : List.copyOf(args);
    dependencies = dependencies == null ? List.of() : List.copyOf(dependencies);
  }

  public static Job js(String jobId, String source, String inputJson) {
    return builder(jobId, RuntimeKind.JS).source(source).input(inputJson).build();
  }

  public static Job wasm(String jobId, byte[] module, String entry, List<Number> args) {
    return builder(jobId, RuntimeKind.WASM).wasm(module).entry(entry).args(args).build();
  }

  public static Job wasi(String jobId, byte[] module, String inputJson) {
    return builder(jobId, RuntimeKind.WASM).wasm(module).wasi(true).input(inputJson).build();
  }

  public static Job nativeJs(
      String jobId, String source, List<String> dependencies, String inputJson) {
    return builder(jobId, RuntimeKind.NATIVE)
        .source(source)
        .dependencies(dependencies)
        .input(inputJson)
        .build();
  }

  public static Builder builder(String jobId, RuntimeKind runtime) {
    return new Builder(jobId, runtime);
  }

  public Builder toBuilder() {
    return new Builder(jobId, runtime)
        .source(sourceCode)
        .wasm(wasm)
        .entry(entry)
        .args(args)
        .dependencies(dependencies)
        .input(inputJson)
        .timeoutMs(timeoutMs)
        .memoryMb(memoryMb)
        .wasi(wasi)
        .deterministic(deterministic);
  }

  public Job withTimeoutMs(long ms) {
    return toBuilder().timeoutMs(ms).build();
  }

  public Job withMemoryMb(long mb) {
    return toBuilder().memoryMb(mb).build();
  }

  @Override
  public String toString() {
    return "Job["
        + jobId
        + ", "
        + runtime
        + (entry == null ? "" : ", entry=" + entry)
        + ", timeoutMs="
        + timeoutMs
        + ", memoryMb="
        + memoryMb
        + (wasi ? ", wasi" : "")
        + (deterministic ? ", deterministic" : "")
        + "]";
  }

  public static final class Builder {
    private final String jobId;
    private final RuntimeKind runtime;
    private String source;
    private byte[] wasm;
    private String entry;
    private List<Number> args = List.of();
    private List<String> dependencies = List.of();
    private String input;
    private long timeoutMs;
    private long memoryMb;
    private boolean wasi;
    private boolean deterministic;

    private Builder(String jobId, RuntimeKind runtime) {
      this.jobId = jobId;
      this.runtime = runtime;
    }

    public Builder source(String v) {
      source = v;
      return this;
    }

    public Builder wasm(byte[] v) {
      wasm = v;
      return this;
    }

    public Builder entry(String v) {
      entry = v;
      return this;
    }

    public Builder args(List<Number> v) {
      args = v;
      return this;
    }

    public Builder dependencies(List<String> v) {
      dependencies = v;
      return this;
    }

    public Builder input(String v) {
      input = v;
      return this;
    }

    public Builder timeoutMs(long v) {
      timeoutMs = v;
      return this;
    }

    public Builder memoryMb(long v) {
      memoryMb = v;
      return this;
    }

    public Builder wasi(boolean v) {
      wasi = v;
      return this;
    }

    public Builder deterministic(boolean v) {
      deterministic = v;
      return this;
    }

    public Job build() {
      return new Job(
          jobId,
          runtime,
          source,
          wasm,
          entry,
          args,
          dependencies,
          input,
          timeoutMs,
          memoryMb,
          wasi,
          deterministic);
    }
  }
}
