package dev.anchor.runtime.nativejs;

import dev.anchor.runtime.FailureKind;
import dev.anchor.runtime.Job;
import dev.anchor.runtime.Outcome;
import dev.anchor.runtime.ResourceUse;
import dev.anchor.runtime.SandboxConfig;
import dev.anchor.runtime.internal.CappedOutputStream;
import dev.anchor.runtime.internal.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The unsandboxed tier: the task's source runs under Node.js as a child process in a fresh working
 * directory, with its npm dependencies linked in from {@link DependencyCache}. stdin is the input,
 * stdout the result, stderr the logs. The process tree is killed at the deadline, on cancel, past
 * the output cap, and after the task ends. The environment holds PATH, HOME (the working directory)
 * and little else.
 */
public final class NativeRunner implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(NativeRunner.class);
  private static final Pattern TASK_LINE = Pattern.compile("task\\.js:(\\d+)");

  private final SandboxConfig config;
  private final String node;
  private final DependencyCache deps;
  private final Map<String, Running> running = new ConcurrentHashMap<>();

  private static final class Running {
    final Process process;
    final AtomicReference<FailureKind> stopReason = new AtomicReference<>();

    Running(Process process) {
      this.process = process;
    }

    void stop(FailureKind reason) {
      if (stopReason.compareAndSet(null, reason)) ProcessTree.kill(process);
    }
  }

  private NativeRunner(SandboxConfig config, String node, String npm) {
    this.config = config;
    this.node = node;
    this.deps = new DependencyCache(config.npmCacheDir(), npm);
  }

  /**
   * A runner when both node and npm answer {@code --version}, else null (NATIVE is then
   * unavailable).
   */
  public static NativeRunner probe(SandboxConfig config) {
    String node = versionOk(config.nodeCommand());
    String npm = versionOk(config.npmCommand());
    if (node == null || npm == null) {
      log.info("native runtime unavailable: node={} npm={}", node, npm);
      return null;
    }
    return new NativeRunner(config, config.nodeCommand(), config.npmCommand());
  }

  private static String versionOk(String command) {
    try {
      ProcessBuilder pb = new ProcessBuilder(command, "--version").redirectErrorStream(true);
      scrubEnvironment(pb.environment(), Path.of(System.getProperty("java.io.tmpdir")));
      Process p = pb.start();
      p.getOutputStream().close();
      byte[] out = p.getInputStream().readNBytes(200);
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return null;
      }
      return p.exitValue() == 0 ? new String(out, StandardCharsets.UTF_8).strip() : null;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  /** PATH and HOME only: a task must not inherit the worker's secrets. */
  static void scrubEnvironment(Map<String, String> env, Path home) {
    String path = env.getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin");
    env.clear();
    env.put("PATH", path);
    env.put("HOME", home.toString());
    env.put("LANG", "C.UTF-8");
  }

  public void cancel(String jobId) {
    Running r = running.get(jobId);
    if (r != null) r.stop(FailureKind.CANCELLED);
  }

  public Outcome run(Job job, long timeoutMs) {
    long start = System.nanoTime();
    if (job.sourceCode() == null || job.sourceCode().isBlank()) {
      return fail(FailureKind.BAD_PAYLOAD, "no source code", null, "", start);
    }
    Path dir = null;
    try {
      Path nodeModules = null;
      if (!job.dependencies().isEmpty()) {
        try {
          nodeModules = deps.ensure(job.dependencies());
        } catch (DependencyCache.InstallException e) {
          return fail(
              e.userError ? FailureKind.BAD_PAYLOAD : FailureKind.INTERNAL,
              e.getMessage(),
              null,
              "",
              start);
        }
      }
      long runStart = System.nanoTime();
      dir = Files.createDirectories(config.workDir()).resolve("native-" + UUID.randomUUID());
      Files.createDirectories(dir);
      Files.writeString(dir.resolve("task.js"), job.sourceCode());
      if (nodeModules != null) Files.createSymbolicLink(dir.resolve("node_modules"), nodeModules);
      return execute(job, dir, timeoutMs, runStart);
    } catch (IOException e) {
      return fail(FailureKind.INTERNAL, "native runtime: " + e, null, "", start);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return fail(FailureKind.CANCELLED, "interrupted", null, "", start);
    } finally {
      if (dir != null) deleteTree(dir);
    }
  }

  private Outcome execute(Job job, Path dir, long timeoutMs, long start)
      throws IOException, InterruptedException {
    long memoryMb = job.memoryMb() > 0 ? job.memoryMb() : config.defaultMemoryMb();
    List<String> cmd =
        ProcessTree.inOwnGroup(List.of(node, "--max-old-space-size=" + memoryMb, "task.js"));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile());
    scrubEnvironment(pb.environment(), dir);
    Process p = pb.start();
    Running r = new Running(p);
    if (running.putIfAbsent(job.jobId(), r) != null) {
      ProcessTree.kill(p);
      return fail(
          FailureKind.REFUSED,
          "a job with id " + job.jobId() + " is already running",
          null,
          "",
          start);
    }
    CappedOutputStream stdout = new CappedOutputStream(config.resultCapBytes());
    CappedOutputStream stderr = new CappedOutputStream(config.logCapBytes());
    Thread outPump =
        pump(p.getInputStream(), stdout, () -> r.stop(FailureKind.OUTPUT_LIMIT), "native-out");
    Thread errPump = pump(p.getErrorStream(), stderr, null, "native-err");
    try {
      try (OutputStream in = p.getOutputStream()) {
        if (job.inputJson() != null) in.write(job.inputJson().getBytes(StandardCharsets.UTF_8));
      } catch (IOException ignored) {
        // the script exited without reading its input
      }
      boolean exited = p.waitFor(timeoutMs, TimeUnit.MILLISECONDS);
      if (!exited) r.stop(FailureKind.TIMEOUT);
      else ProcessTree.killLeftovers(p);
      outPump.join(5_000);
      errPump.join(5_000);
      String logs = stderr.text();
      FailureKind reason = r.stopReason.get();
      if (reason != null) {
        String msg =
            switch (reason) {
              case TIMEOUT ->
                  "task exceeded its deadline of " + timeoutMs + " ms (process tree killed)";
              case OUTPUT_LIMIT ->
                  "stdout exceeded the cap of " + config.resultCapBytes() + " bytes";
              case CANCELLED -> "task was cancelled";
              default -> "task was stopped: " + reason;
            };
        return fail(reason, msg, null, logs, start);
      }
      int code = p.exitValue();
      if (code != 0) {
        if (logs.contains("heap out of memory") || logs.contains("JavaScript heap out of memory")) {
          return fail(
              FailureKind.MEMORY_LIMIT,
              "task exceeded its memory cap of " + memoryMb + " MB",
              null,
              logs,
              start);
        }
        Matcher m = TASK_LINE.matcher(logs);
        Integer line = m.find() ? Integer.valueOf(m.group(1)) : null;
        return fail(
            FailureKind.CODE_ERROR,
            "node exited with code " + code + lastLine(logs),
            line,
            logs,
            start);
      }
      byte[] out = stdout.bytes();
      String json = Json.fromOutput(new String(out, StandardCharsets.UTF_8));
      return new Outcome.Success(
          json, out, logs, ms(start), new ResourceUse(0, out.length, logs.length()));
    } finally {
      running.remove(job.jobId(), r);
      if (p.isAlive()) ProcessTree.kill(p);
    }
  }

  private static String lastLine(String logs) {
    List<String> lines = logs.strip().lines().filter(l -> !l.isBlank()).toList();
    for (String l : lines) {
      if (l.matches("^\\w*Error\\b.*") || l.startsWith("Error")) return ": " + l;
    }
    return lines.isEmpty() ? "" : ": " + lines.get(lines.size() - 1);
  }

  private static Thread pump(
      InputStream in, CappedOutputStream out, Runnable onOverflow, String name) {
    Thread t =
        new Thread(
            () -> {
              byte[] buf = new byte[8192];
              try (in) {
                int n;
                while ((n = in.read(buf)) >= 0) {
                  out.write(buf, 0, n);
                  if (onOverflow != null && out.truncated()) {
                    onOverflow.run();
                    return;
                  }
                }
              } catch (IOException ignored) {
                // process killed
              }
            },
            name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  private static Outcome fail(
      FailureKind kind, String message, Integer line, String logs, long start) {
    return new Outcome.Failure(kind, message, line, logs, ms(start));
  }

  private static long ms(long startNanos) {
    return (System.nanoTime() - startNanos) / 1_000_000;
  }

  static void deleteTree(Path dir) {
    if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return;
    try (var s = Files.walk(dir)) {
      List<Path> all = new ArrayList<>(s.toList());
      all.sort(Comparator.reverseOrder());
      for (Path p : all) Files.deleteIfExists(p);
    } catch (IOException ignored) {
      // best effort
    }
  }

  @Override
  public void close() {
    running.values().forEach(r -> r.stop(FailureKind.CANCELLED));
  }
}
