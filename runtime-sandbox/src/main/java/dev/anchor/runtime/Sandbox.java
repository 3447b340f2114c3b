package dev.anchor.runtime;

import dev.anchor.runtime.js.ChildJvmCommand;
import dev.anchor.runtime.js.InProcessJsRunner;
import dev.anchor.runtime.js.JsChildPool;
import dev.anchor.runtime.js.JsRequest;
import dev.anchor.runtime.js.JsRunner;
import dev.anchor.runtime.nativejs.NativeRunner;
import dev.anchor.runtime.wasm.WasmRunner;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs untrusted tasks in the JS, WASM and NATIVE runtimes under per-task limits. {@link #run(Job)}
 * blocks, is thread-safe, never throws, and many calls may run at once; {@link #cancel(String)}
 * stops a running job promptly.
 */
public final class Sandbox implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Sandbox.class);

  private final SandboxConfig config;
  private final JsRunner js;
  private final JsChildPool jsPool;
  private final WasmRunner wasm;
  private final NativeRunner nativeRunner;
  private final Map<String, RuntimeKind> running = new ConcurrentHashMap<>();
  private volatile boolean closed;

  private Sandbox(SandboxConfig config) {
    this.config = config;
    if (config.jsIsolation() == JsIsolation.IN_PROCESS) {
      this.jsPool = null;
      this.js = new InProcessJsRunner(config.logCapBytes(), config.jsWarmup());
    } else {
      this.jsPool =
          new JsChildPool(
              ChildJvmCommand.detect(),
              config.jsWorkers(),
              config.maxMemoryMb() + config.jsHeapHeadroomMb(),
              config.logCapBytes(),
              config.jsWarmup());
      this.js = jsPool;
    }
    this.wasm = new WasmRunner(config);
    this.nativeRunner = config.nativeEnabled() ? NativeRunner.probe(config) : null;
    log.info("sandbox started: runtimes {}", available());
  }

  public static Sandbox start(SandboxConfig config) {
    return new Sandbox(config);
  }

  /** The runtimes this sandbox can run: NATIVE only when enabled and node and npm were found. */
  public Set<RuntimeKind> available() {
    Set<RuntimeKind> s = EnumSet.of(RuntimeKind.JS, RuntimeKind.WASM);
    if (nativeRunner != null) s.add(RuntimeKind.NATIVE);
    return s;
  }

  public SandboxConfig config() {
    return config;
  }

  /**
   * Waits until the JS child JVMs (in-process: the engine) have started and warmed up, so that the
   * next JS tasks do not pay for it. Optional: {@link #run} waits by itself. Returns false if they
   * are not ready in time.
   */
  public boolean awaitJsReady(Duration timeout) {
    try {
      if (jsPool == null) return ((InProcessJsRunner) js).awaitWarm(timeout.toMillis());
      return jsPool.awaitReady(config.jsWorkers(), timeout.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * Whether JS is JIT-compiled (the JS child JVMs, or this JVM in-process, found JVMCI and the
   * Graal compiler). False means the interpreter, about 10x slower: the launcher's flags or jars
   * are missing. Known once a child is ready (see {@link #awaitJsReady}).
   */
  public boolean jsJitEnabled() {
    return jsPool != null
        ? jsPool.compilationEnabled()
        : ((InProcessJsRunner) js).compilationEnabled();
  }

  public Outcome run(Job job) {
    long start = System.nanoTime();
    if (closed) return refused("the sandbox is closed", start);
    long timeoutMs = config.effectiveTimeoutMs(job);
    if (timeoutMs < 0) {
      return refused(
          "timeoutMs "
              + job.timeoutMs()
              + " is above the operator maximum of "
              + config.maxTimeoutMs(),
          start);
    }
    long memoryMb = config.effectiveMemoryMb(job);
    if (memoryMb < 0) {
      return refused(
          "memoryMb "
              + job.memoryMb()
              + " is above the operator maximum of "
              + config.maxMemoryMb(),
          start);
    }
    if (running.putIfAbsent(job.jobId(), job.runtime()) != null) {
      return refused("a job with id " + job.jobId() + " is already running", start);
    }
    try {
      return switch (job.runtime()) {
        case JS ->
            js.run(
                new JsRequest(
                    job.jobId(),
                    job.sourceCode(),
                    job.inputJson(),
                    timeoutMs,
                    memoryMb,
                    config.logCapBytes(),
                    config.resultCapBytes()));
        case WASM -> wasm.run(job, timeoutMs, memoryMb);
        case NATIVE ->
            nativeRunner == null
                ? refused(
                    "the native runtime is "
                        + (config.nativeEnabled()
                            ? "unavailable (node and npm not found)"
                            : "disabled by the operator"),
                    start)
                : nativeRunner.run(job, timeoutMs);
      };
    } catch (Throwable t) {
      log.error("sandbox failure running {}", job, t);
      return new Outcome.Failure(
          FailureKind.INTERNAL, "sandbox failure: " + t, null, "", ms(start));
    } finally {
      running.remove(job.jobId());
    }
  }

  /**
   * Stops the job if it is running; its {@link #run} then returns a CANCELLED failure. Unknown ids
   * are ignored.
   */
  public void cancel(String jobId) {
    RuntimeKind kind = running.get(jobId);
    if (kind == null) return;
    switch (kind) {
      case JS -> js.cancel(jobId);
      case WASM -> wasm.cancel(jobId);
      case NATIVE -> {
        if (nativeRunner != null) nativeRunner.cancel(jobId);
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    running.keySet().forEach(this::cancel);
    js.close();
    wasm.close();
    if (nativeRunner != null) nativeRunner.close();
  }

  private static Outcome refused(String message, long start) {
    return new Outcome.Failure(FailureKind.REFUSED, message, null, "", ms(start));
  }

  private static long ms(long startNanos) {
    return (System.nanoTime() - startNanos) / 1_000_000;
  }
}
