package dev.anchor.runtime;

import static dev.anchor.runtime.TestSandboxes.failure;
import static dev.anchor.runtime.TestSandboxes.id;
import static dev.anchor.runtime.TestSandboxes.success;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class NativeRuntimeTest {
  static Sandbox sandbox;

  @BeforeAll
  static void start() {
    Path tmp = TestSandboxes.tempDir("native-test");
    sandbox =
        Sandbox.start(
            TestSandboxes.config(tmp)
                .withJs(JsIsolation.IN_PROCESS, 1, 0, false)
                .withCaps(1 << 20, 1 << 20));
    Assumptions.assumeTrue(
        sandbox.available().contains(RuntimeKind.NATIVE), "node and npm are not installed");
  }

  @AfterAll
  static void stop() {
    if (sandbox != null) sandbox.close();
  }

  static void assertNativeHealthy() {
    assertEquals(
        "{\"ok\":true}",
        success(
                sandbox.run(
                    Job.nativeJs(id(), "console.log(JSON.stringify({ ok: true }))", null, null)))
            .resultJson());
  }

  @Test
  void stdinIsInputStdoutIsResultStderrIsLogs() {
    Outcome.Success s =
        success(
            sandbox.run(
                Job.nativeJs(
                    id(),
                    """
                let s = '';
                process.stdin.on('data', d => s += d);
                process.stdin.on('end', () => {
                  const x = JSON.parse(s);
                  console.error('adding');
                  console.log(JSON.stringify({ sum: x.a + x.b }));
                });
                """,
                    null,
                    "{\"a\":1,\"b\":2}")));
    assertEquals("{\"sum\":3}", s.resultJson());
    assertEquals("{\"sum\":3}\n", new String(s.resultBytes()));
    assertEquals("adding\n", s.logs());
    assertEquals(
        "\"plain text\"",
        success(sandbox.run(Job.nativeJs(id(), "console.log('plain text')", null, null)))
            .resultJson());
  }

  @Test
  void environmentIsScrubbed() {
    assertEquals(
        "[\"HOME\",\"LANG\",\"PATH\"]",
        success(
                sandbox.run(
                    Job.nativeJs(
                        id(),
                        "console.log(JSON.stringify(Object.keys(process.env).sort()))",
                        null,
                        null)))
            .resultJson());
  }

  @Test
  void errorsAreCodeErrorsWithLine() {
    Outcome.Failure f =
        failure(
            sandbox.run(Job.nativeJs(id(), "const a = 1;\nthrow new Error('kaput');", null, null)),
            FailureKind.CODE_ERROR);
    assertTrue(f.message().contains("kaput"), f.message());
    assertEquals(2, f.line());
    failure(sandbox.run(Job.nativeJs(id(), "process.exit(3)", null, null)), FailureKind.CODE_ERROR);
  }

  @Test
  void npmDependencyIsInstalledOnceAndShared() throws Exception {
    String src =
        "const isNumber = require('is-number'); console.log(JSON.stringify([isNumber(5), isNumber('x')]))";
    List<CompletableFuture<Outcome>> runs = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      runs.add(
          CompletableFuture.supplyAsync(
              () ->
                  sandbox.run(
                      Job.nativeJs(id(), src, List.of("is-number"), null).withTimeoutMs(30_000))));
    }
    for (CompletableFuture<Outcome> run : runs) {
      Outcome o = run.get(5, TimeUnit.MINUTES);
      if (o instanceof Outcome.Failure f
          && f.kind() == FailureKind.INTERNAL
          && f.message().contains("npm")) {
        Assumptions.abort("npm registry unreachable: " + f.message());
      }
      assertEquals("[true,false]", success(o).resultJson());
    }
  }

  @Test
  void dependencySpecsThatAreNotRegistryPackagesAreBadPayload() {
    failure(
        sandbox.run(Job.nativeJs(id(), "1", List.of("../../etc"), null)), FailureKind.BAD_PAYLOAD);
    failure(
        sandbox.run(Job.nativeJs(id(), "1", List.of("--registry=http://127.0.0.1:1"), null)),
        FailureKind.BAD_PAYLOAD);
    failure(
        sandbox.run(Job.nativeJs(id(), "1", List.of("git+https://example.invalid/x.git"), null)),
        FailureKind.BAD_PAYLOAD);
  }

  @Test
  void deadlineKillsTheWholeProcessTree() throws Exception {
    Outcome.Failure f =
        failure(
            sandbox.run(
                Job.nativeJs(
                        id(),
                        """
                const { spawn } = require('child_process');
                const kids = [
                  spawn('sleep', ['30']),
                  spawn('sleep', ['31'], { detached: true }),
                  spawn('sh', ['-c', 'sleep 32 & echo PID $! >&2; wait'], { stdio: ['ignore', 'ignore', 'inherit'] }),
                ];
                for (const k of kids) console.error('PID ' + k.pid);
                setInterval(() => {}, 1000);
                """,
                        null,
                        null)
                    .withTimeoutMs(2_000)),
            FailureKind.TIMEOUT);
    List<Long> pids = new ArrayList<>();
    Matcher m = Pattern.compile("PID (\\d+)").matcher(f.logs());
    while (m.find()) pids.add(Long.parseLong(m.group(1)));
    assertEquals(4, pids.size(), "expected 4 child pids in logs: " + f.logs());
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (pids.stream().anyMatch(NativeRuntimeTest::alive) && System.nanoTime() < end)
      Thread.sleep(50);
    for (long pid : pids) assertFalse(alive(pid), "process " + pid + " survived the deadline");
    assertNativeHealthy();
  }

  private static boolean alive(long pid) {
    return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
  }

  @Test
  void outputFloodIsOutputLimit() {
    failure(
        sandbox.run(
            Job.nativeJs(
                id(),
                "const fs = require('fs'); const b = 'x'.repeat(65536); for (;;) fs.writeSync(1, b);",
                null,
                null)),
        FailureKind.OUTPUT_LIMIT);
    assertNativeHealthy();
  }

  @Test
  void cancelKillsTheTask() throws Exception {
    String jobId = id();
    CompletableFuture<Outcome> run =
        CompletableFuture.supplyAsync(
            () ->
                sandbox.run(
                    Job.nativeJs(jobId, "setInterval(() => {}, 1000)", null, null)
                        .withTimeoutMs(60_000)));
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!run.isDone() && System.nanoTime() < end) {
      sandbox.cancel(jobId);
      Thread.sleep(20);
    }
    failure(run.get(1, TimeUnit.SECONDS), FailureKind.CANCELLED);
  }

  @Test
  void operatorCanDisableNative() {
    try (Sandbox off = Sandbox.start(sandbox.config().withNativeEnabled(false))) {
      assertFalse(off.available().contains(RuntimeKind.NATIVE));
      failure(off.run(Job.nativeJs(id(), "console.log(1)", null, null)), FailureKind.REFUSED);
    }
  }
}
