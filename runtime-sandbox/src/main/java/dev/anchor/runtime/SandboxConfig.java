package dev.anchor.runtime;

import java.nio.file.Path;

/**
 * Operator settings of a {@link Sandbox}. {@link #defaults()} reproduces the reference system: 30 s
 * and 128 MB per task, overridable per task up to 10 min and 1024 MB.
 *
 * @param defaultTimeoutMs deadline of a task that does not ask for one
 * @param defaultMemoryMb memory cap of a task that does not ask for one (JS heap, WASM linear
 *     memory)
 * @param maxTimeoutMs largest deadline a task may ask for (larger requests are REFUSED)
 * @param maxMemoryMb largest memory cap a task may ask for (larger requests are REFUSED)
 * @param logCapBytes logs beyond this are dropped (the task still succeeds; logs end with a
 *     truncation note)
 * @param resultCapBytes a larger result fails the task with OUTPUT_LIMIT
 * @param nativeEnabled whether the unsandboxed NATIVE tier may run at all
 * @param nodeCommand Node.js executable for NATIVE
 * @param npmCommand npm executable for NATIVE dependencies
 * @param npmCacheDir content-addressed installs of dependency sets, shared by all NATIVE tasks
 * @param workDir fresh per-task directories of NATIVE tasks and WASI stdio files
 * @param jsIsolation where JS runs; see {@link JsIsolation}
 * @param jsWorkers number of JS child JVMs (= JS tasks running at once)
 * @param jsHeapHeadroomMb heap a JS child gets on top of {@code maxMemoryMb} for GraalJS and its
 *     compiler
 * @param jsWarmup warm each JS child's compiler before it takes tasks (makes first runs fast)
 * @param wasmSlots WASM tasks running at once (each slot owns one wasmtime Engine)
 */
public record SandboxConfig(
    long defaultTimeoutMs,
    long defaultMemoryMb,
    long maxTimeoutMs,
    long maxMemoryMb,
    int logCapBytes,
    int resultCapBytes,
    boolean nativeEnabled,
    String nodeCommand,
    String npmCommand,
    Path npmCacheDir,
    Path workDir,
    JsIsolation jsIsolation,
    int jsWorkers,
    int jsHeapHeadroomMb,
    boolean jsWarmup,
    int wasmSlots) {

  public static SandboxConfig defaults() {
    Path work = Path.of(System.getProperty("java.io.tmpdir"), "anchor-sandbox");
    int cores = Runtime.getRuntime().availableProcessors();
    return new SandboxConfig(
        30_000,
        128,
        600_000,
        1024,
        1 << 20,
        16 << 20,
        true,
        "node",
        "npm",
        work.resolve("npm-cache"),
        work.resolve("work"),
        JsIsolation.CHILD_JVM,
        Math.max(2, cores),
        256,
        true,
        Math.max(4, 2 * cores));
  }

  public SandboxConfig {
    if (defaultTimeoutMs <= 0 || maxTimeoutMs < defaultTimeoutMs) {
      throw new IllegalArgumentException("need 0 < defaultTimeoutMs <= maxTimeoutMs");
    }
    if (defaultMemoryMb <= 0 || maxMemoryMb < defaultMemoryMb) {
      throw new IllegalArgumentException("need 0 < defaultMemoryMb <= maxMemoryMb");
    }
    if (jsWorkers < 1 || wasmSlots < 1) {
      throw new IllegalArgumentException("jsWorkers and wasmSlots must be at least 1");
    }
  }

  public SandboxConfig withDefaultTimeoutMs(long v) {
    return new SandboxConfig(
        v,
        defaultMemoryMb,
        Math.max(v, maxTimeoutMs),
        maxMemoryMb,
        logCapBytes,
        resultCapBytes,
        nativeEnabled,
        nodeCommand,
        npmCommand,
        npmCacheDir,
        workDir,
        jsIsolation,
        jsWorkers,
        jsHeapHeadroomMb,
        jsWarmup,
        wasmSlots);
  }

  public SandboxConfig withLimits(
      long defaultTimeoutMs, long defaultMemoryMb, long maxTimeoutMs, long maxMemoryMb) {
    return new SandboxConfig(
        defaultTimeoutMs,
        defaultMemoryMb,
        maxTimeoutMs,
        maxMemoryMb,
        logCapBytes,
        resultCapBytes,
        nativeEnabled,
        nodeCommand,
        npmCommand,
        npmCacheDir,
        workDir,
        jsIsolation,
        jsWorkers,
        jsHeapHeadroomMb,
        jsWarmup,
        wasmSlots);
  }

  public SandboxConfig withCaps(int logCapBytes, int resultCapBytes) {
    return new SandboxConfig(
        defaultTimeoutMs,
        defaultMemoryMb,
        maxTimeoutMs,
        maxMemoryMb,
        logCapBytes,
        resultCapBytes,
        nativeEnabled,
        nodeCommand,
        npmCommand,
        npmCacheDir,
        workDir,
        jsIsolation,
        jsWorkers,
        jsHeapHeadroomMb,
        jsWarmup,
        wasmSlots);
  }

  public SandboxConfig withNativeEnabled(boolean v) {
    return new SandboxConfig(
        defaultTimeoutMs,
        defaultMemoryMb,
        maxTimeoutMs,
        maxMemoryMb,
        logCapBytes,
        resultCapBytes,
        v,
        nodeCommand,
        npmCommand,
        npmCacheDir,
        workDir,
        jsIsolation,
        jsWorkers,
        jsHeapHeadroomMb,
        jsWarmup,
        wasmSlots);
  }

  public SandboxConfig withDirs(Path npmCacheDir, Path workDir) {
    return new SandboxConfig(
        defaultTimeoutMs,
        defaultMemoryMb,
        maxTimeoutMs,
        maxMemoryMb,
        logCapBytes,
        resultCapBytes,
        nativeEnabled,
        nodeCommand,
        npmCommand,
        npmCacheDir,
        workDir,
        jsIsolation,
        jsWorkers,
        jsHeapHeadroomMb,
        jsWarmup,
        wasmSlots);
  }

  public SandboxConfig withJs(
      JsIsolation isolation, int workers, int heapHeadroomMb, boolean warmup) {
    return new SandboxConfig(
        defaultTimeoutMs,
        defaultMemoryMb,
        maxTimeoutMs,
        maxMemoryMb,
        logCapBytes,
        resultCapBytes,
        nativeEnabled,
        nodeCommand,
        npmCommand,
        npmCacheDir,
        workDir,
        isolation,
        workers,
        heapHeadroomMb,
        warmup,
        wasmSlots);
  }

  public SandboxConfig withWasmSlots(int v) {
    return new SandboxConfig(
        defaultTimeoutMs,
        defaultMemoryMb,
        maxTimeoutMs,
        maxMemoryMb,
        logCapBytes,
        resultCapBytes,
        nativeEnabled,
        nodeCommand,
        npmCommand,
        npmCacheDir,
        workDir,
        jsIsolation,
        jsWorkers,
        jsHeapHeadroomMb,
        jsWarmup,
        v);
  }

  /** The deadline a job gets, or -1 when it asks for more than the operator maximum. */
  long effectiveTimeoutMs(Job job) {
    if (job.timeoutMs() <= 0) return defaultTimeoutMs;
    return job.timeoutMs() > maxTimeoutMs ? -1 : job.timeoutMs();
  }

  /** The memory cap a job gets, or -1 when it asks for more than the operator maximum. */
  long effectiveMemoryMb(Job job) {
    if (job.memoryMb() <= 0) return defaultMemoryMb;
    return job.memoryMb() > maxMemoryMb ? -1 : job.memoryMb();
  }
}
