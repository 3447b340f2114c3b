package dev.anchor.bench;

import dev.anchor.runtime.FailureKind;
import dev.anchor.runtime.Job;
import dev.anchor.runtime.JsIsolation;
import dev.anchor.runtime.Outcome;
import dev.anchor.runtime.RuntimeKind;
import dev.anchor.runtime.Sandbox;
import dev.anchor.runtime.SandboxConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The prime-1m workload (count primes below 1,000,000: 78498) in each runtime of the sandbox, plus
 * C and Node.js references when gcc and node exist. One line per runtime: {@code RESULT runtime=js
 * prime1m_ms=… cold_ms=… overhead_ms=…}
 *
 * <ul>
 *   <li>prime1m_ms: median of the second half of 20 warm runs (the same task source again and
 *       again);
 *   <li>cold_ms: the first run of the workload in a freshly started sandbox (for JS: in a child JVM
 *       that is started and warmed with a generic workload, but has never seen this source);
 *       start_ms is what starting took;
 *   <li>overhead_ms: median wall time of an empty task through {@code Sandbox.run}, i.e. the
 *       per-task cost.
 * </ul>
 *
 * System properties: {@code anchor.bench.only} (comma-separated subset of js, js-inprocess, wasm,
 * native, reference), {@code anchor.bench.jsWorkers} (JS child JVMs, default as the sandbox's).
 * Workload directory: first argument, else system property {@code anchor.bench.primeDir}, else
 * {@code ../shared/anchors/prime-bench} from the working directory (the repository root).
 */
public final class RuntimesBench {
  /**
   * Warm runs; the figure is the median of the second half (with two JS children each needs ~7 runs
   * to settle).
   */
  private static final int WARM_RUNS = 20;

  private static final int EMPTY_RUNS = 300;

  private RuntimesBench() {}

  public static void main(String[] args) throws Exception {
    Path dir = workloadDir(args);
    String primeJs = Files.readString(dir.resolve("prime.js"));
    byte[] primeWasm = Files.readAllBytes(dir.resolve("prime.wasm"));
    Path tmp = Files.createTempDirectory("anchor-bench");
    SandboxConfig base = SandboxConfig.defaults().withDirs(tmp.resolve("npm"), tmp.resolve("work"));
    int jsWorkers = Integer.getInteger("anchor.bench.jsWorkers", base.jsWorkers());
    base = base.withJs(base.jsIsolation(), jsWorkers, base.jsHeapHeadroomMb(), base.jsWarmup());
    // -Danchor.bench.only=js,wasm,... runs a subset
    String only = System.getProperty("anchor.bench.only", "js,js-inprocess,wasm,native,reference");
    System.out.println(
        "# prime-bench from "
            + dir.toAbsolutePath().normalize()
            + ", "
            + Runtime.getRuntime().availableProcessors()
            + " cores, java "
            + System.getProperty("java.version")
            + ", JVMCI "
            + (System.getProperty("jdk.module.upgrade.path") != null ? "on" : "off"));

    List<String> parts = List.of(only.split(","));
    if (parts.contains("js")) jsBench("js", base, primeJs);
    if (parts.contains("js-inprocess"))
      jsBench("js-inprocess", base.withJs(JsIsolation.IN_PROCESS, 1, 0, true), primeJs);
    if (parts.contains("wasm")) wasmBench(base, primeWasm);
    if (parts.contains("native")) nativeBench(base, primeJs);
    if (parts.contains("reference")) references(dir, tmp);
  }

  private static void jsBench(String name, SandboxConfig config, String primeJs)
      throws InterruptedException {
    long t0 = System.nanoTime();
    try (Sandbox sandbox = Sandbox.start(config)) {
      if (!sandbox.awaitJsReady(Duration.ofMinutes(3))) {
        System.out.println("RESULT runtime=" + name + " error=js_workers_not_ready");
        return;
      }
      long startMs = ms(t0);
      double cold = timed(sandbox, Job.js(id(), primeJs, null), "78498");
      double[] warm = new double[WARM_RUNS];
      for (int i = 0; i < WARM_RUNS; i++)
        warm[i] = timed(sandbox, Job.js(id(), primeJs, null), "78498");
      System.out.println(
          "# "
              + name
              + " warm runs ms: "
              + Arrays.stream(warm).mapToObj(RuntimesBench::fmt).toList());
      double overhead = emptyOverhead(sandbox, () -> Job.js(id(), "0", null));
      double b2b = backToBack(sandbox, () -> Job.js(id(), "0", null));
      // How far past its deadline an infinite loop is stopped.
      long d0 = System.nanoTime();
      Outcome loop = sandbox.run(Job.js(id(), "while (true) {}", null).withTimeoutMs(1_000));
      double overshoot = (System.nanoTime() - d0) / 1e6 - 1_000;
      String extra =
          " deadline_overshoot_ms="
              + fmt(overshoot)
              + (kind(loop) == FailureKind.TIMEOUT ? "" : " deadline_error=" + loop);
      if (config.jsIsolation() == JsIsolation.CHILD_JVM) {
        extra += " child_rss_mb=" + childRssMb();
        long b0 = System.nanoTime();
        Outcome bomb =
            sandbox.run(
                Job.js(id(), "const a = []; for (;;) a.push(new Array(1e6).fill(1.5));", null));
        extra += " memory_bomb_stop_ms=" + ms(b0) + " memory_bomb=" + kind(bomb);
      }
      System.out.println(
          "RESULT runtime="
              + name
              + (config.jsIsolation() == JsIsolation.CHILD_JVM
                  ? " workers=" + config.jsWorkers()
                  : "")
              + " prime1m_ms="
              + fmt(median(secondHalf(warm)))
              + " min_ms="
              + fmt(min(warm))
              + " cold_ms="
              + fmt(cold)
              + " start_ms="
              + startMs
              + " overhead_ms="
              + fmt(overhead)
              + " back_to_back_ms="
              + fmt(b2b)
              + extra);
    } catch (RuntimeException e) {
      System.out.println("RESULT runtime=" + name + " error=" + e.toString().replace(' ', '_'));
    }
  }

  private static void wasmBench(SandboxConfig config, byte[] primeWasm)
      throws InterruptedException {
    try (Sandbox sandbox = Sandbox.start(config.withJs(JsIsolation.IN_PROCESS, 1, 0, false))) {
      double cold = timed(sandbox, Job.wasm(id(), primeWasm, "count", List.of(1_000_000)), "78498");
      double[] warm = new double[WARM_RUNS];
      for (int i = 0; i < WARM_RUNS; i++) {
        warm[i] = timed(sandbox, Job.wasm(id(), primeWasm, "count", List.of(1_000_000)), "78498");
      }
      double overhead =
          emptyOverhead(sandbox, () -> Job.wasm(id(), primeWasm, "count", List.of(2)));
      double b2b = backToBack(sandbox, () -> Job.wasm(id(), primeWasm, "count", List.of(2)));
      byte[] spin = {
        0, 'a', 's', 'm', 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7f, 3, 2, 1, 0, 7, 8, 1, 4, 's', 'p',
        'i', 'n', 0, 0, 10, 11, 1, 9, 0, 3, 0x40, 0x0c, 0, 0x0b, 0x41, 0, 0x0b
      };
      long d0 = System.nanoTime();
      Outcome loop = sandbox.run(Job.wasm(id(), spin, "spin", List.of()).withTimeoutMs(1_000));
      double overshoot = (System.nanoTime() - d0) / 1e6 - 1_000;
      System.out.println(
          "RESULT runtime=wasm prime1m_ms="
              + fmt(median(secondHalf(warm)))
              + " min_ms="
              + fmt(min(warm))
              + " cold_ms="
              + fmt(cold)
              + " overhead_ms="
              + fmt(overhead)
              + " back_to_back_ms="
              + fmt(b2b)
              + " deadline_overshoot_ms="
              + fmt(overshoot)
              + (kind(loop) == FailureKind.TIMEOUT ? "" : " deadline_error=" + loop));
    } catch (RuntimeException e) {
      System.out.println("RESULT runtime=wasm error=" + e.toString().replace(' ', '_'));
    }
  }

  private static void nativeBench(SandboxConfig config, String primeJs) {
    try (Sandbox sandbox = Sandbox.start(config.withJs(JsIsolation.IN_PROCESS, 1, 0, false))) {
      if (!sandbox.available().contains(RuntimeKind.NATIVE)) {
        System.out.println("RESULT runtime=native skipped=node_or_npm_missing");
        return;
      }
      String src = primeJs + "\n;console.log(JSON.stringify(count(1000000)));\n";
      double cold = timed(sandbox, Job.nativeJs(id(), src, null, null), "78498");
      double[] warm = new double[5];
      for (int i = 0; i < warm.length; i++)
        warm[i] = timed(sandbox, Job.nativeJs(id(), src, null, null), "78498");
      double[] empty = new double[20];
      for (int i = 0; i < empty.length; i++)
        empty[i] = timed(sandbox, Job.nativeJs(id(), "console.log(0)", null, null), "0");
      System.out.println(
          "RESULT runtime=native prime1m_ms="
              + fmt(median(warm))
              + " min_ms="
              + fmt(min(warm))
              + " cold_ms="
              + fmt(cold)
              + " overhead_ms="
              + fmt(median(empty))
              + " note=each_task_is_a_new_node_process");
    } catch (RuntimeException e) {
      System.out.println("RESULT runtime=native error=" + e.toString().replace(' ', '_'));
    }
  }

  private static void references(Path dir, Path tmp) {
    try {
      Path bin = tmp.resolve("prime-c");
      if (run(List.of("gcc", "-O2", "-o", bin.toString(), dir.resolve("prime.c").toString()))
          != null) {
        printReference("c", run(List.of(bin.toString())));
      } else {
        System.out.println("RESULT runtime=c skipped=gcc_missing");
      }
      String node = run(List.of("node", dir.resolve("node-run.js").toString()));
      if (node != null) printReference("node", node);
      else System.out.println("RESULT runtime=node skipped=node_missing");
    } catch (Exception e) {
      System.out.println("RESULT runtime=reference error=" + e.toString().replace(' ', '_'));
    }
  }

  private static void printReference(String name, String output) {
    Matcher m = Pattern.compile("ms=([0-9.]+)").matcher(output == null ? "" : output);
    List<Double> times = new ArrayList<>();
    while (m.find()) times.add(Double.parseDouble(m.group(1)));
    if (times.isEmpty()) {
      System.out.println("RESULT runtime=" + name + " error=no_output");
      return;
    }
    double[] t = times.stream().mapToDouble(Double::doubleValue).toArray();
    System.out.println(
        "RESULT runtime="
            + name
            + " prime1m_ms="
            + fmt(median(t))
            + " min_ms="
            + fmt(min(t))
            + " cold_ms="
            + fmt(t[0])
            + " reference=true");
  }

  private static String run(List<String> cmd) {
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      p.getOutputStream().close();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return null;
      }
      return p.exitValue() == 0 ? out : null;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  private interface JobFactory {
    Job next();
  }

  /**
   * Median wall time of an empty task. Tasks are spaced 5 ms apart, as tasks arriving from a queue
   * are: the figure is the latency a task pays, not the sandbox's saturated throughput (see {@link
   * #backToBack}).
   */
  private static double emptyOverhead(Sandbox sandbox, JobFactory jobs)
      throws InterruptedException {
    for (int i = 0; i < 50; i++) sandbox.run(jobs.next());
    double[] t = new double[EMPTY_RUNS];
    for (int i = 0; i < EMPTY_RUNS; i++) {
      Thread.sleep(5);
      long s = System.nanoTime();
      Outcome o = sandbox.run(jobs.next());
      t[i] = (System.nanoTime() - s) / 1e6;
      if (!o.isSuccess()) throw new IllegalStateException("empty task failed: " + o);
    }
    return median(t);
  }

  /** Mean time per empty task when tasks are issued back to back from one thread. */
  private static double backToBack(Sandbox sandbox, JobFactory jobs) {
    long s = System.nanoTime();
    for (int i = 0; i < EMPTY_RUNS; i++) sandbox.run(jobs.next());
    return (System.nanoTime() - s) / 1e6 / EMPTY_RUNS;
  }

  private static double timed(Sandbox sandbox, Job job, String expected) {
    long s = System.nanoTime();
    Outcome o = sandbox.run(job);
    double ms = (System.nanoTime() - s) / 1e6;
    if (!(o instanceof Outcome.Success ok) || !ok.resultJson().equals(expected)) {
      throw new IllegalStateException(job.runtime() + " gave " + o + " instead of " + expected);
    }
    return ms;
  }

  /** Resident memory of this JVM's child processes (the JS child JVMs), summed, from /proc. */
  private static long childRssMb() {
    long kb = 0;
    for (ProcessHandle h : ProcessHandle.current().children().toList()) {
      try {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(h.pid()), "status"))) {
          if (line.startsWith("VmRSS:")) kb += Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
      } catch (IOException | RuntimeException ignored) {
        // not Linux, or the child just ended
      }
    }
    return kb / 1024;
  }

  private static FailureKind kind(Outcome o) {
    return o instanceof Outcome.Failure f ? f.kind() : null;
  }

  private static Path workloadDir(String[] args) {
    if (args.length > 0) return Path.of(args[0]);
    String prop = System.getProperty("anchor.bench.primeDir");
    if (prop != null) return Path.of(prop);
    Path p = Path.of("..", "shared", "anchors", "prime-bench");
    if (Files.isDirectory(p)) return p;
    Path up = Path.of("..", "..", "shared", "anchors", "prime-bench");
    return Files.isDirectory(up) ? up : p;
  }

  private static String id() {
    return UUID.randomUUID().toString();
  }

  private static long ms(long startNanos) {
    return (System.nanoTime() - startNanos) / 1_000_000;
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  private static double[] secondHalf(double[] v) {
    return Arrays.copyOfRange(v, v.length / 2, v.length);
  }

  private static double min(double[] v) {
    return Arrays.stream(v).min().orElse(Double.NaN);
  }

  private static String fmt(double v) {
    return String.format(Locale.ROOT, v < 10 ? "%.3f" : "%.1f", v);
  }
}
