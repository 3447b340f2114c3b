package dev.anchor.runtime;

import static dev.anchor.runtime.TestSandboxes.assertHealthy;
import static dev.anchor.runtime.TestSandboxes.failure;
import static dev.anchor.runtime.TestSandboxes.id;
import static dev.anchor.runtime.TestSandboxes.success;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class JsRuntimeTest {
  static Path tmp;
  static Sandbox sandbox;

  @BeforeAll
  static void start() {
    tmp = TestSandboxes.tempDir("js-test");
    sandbox = TestSandboxes.startJsReady(TestSandboxes.config(tmp).withNativeEnabled(false));
  }

  @AfterAll
  static void stop() {
    if (sandbox != null) sandbox.close();
  }

  @Test
  void resultIsJsonOfLastExpressionWithInputAndLogs() {
    Outcome.Success s =
        success(
            sandbox.run(
                Job.js(
                    id(),
                    "console.log('summing', input.xs.length);\nconst sum = input.xs.reduce((a, b) => a + b, 0);\n({ sum, name: input.name })",
                    "{\"xs\":[1,2,3],\"name\":\"é\"}")));
    assertEquals("{\"sum\":6,\"name\":\"é\"}", s.resultJson());
    assertArrayEquals(s.resultJson().getBytes(StandardCharsets.UTF_8), s.resultBytes());
    assertEquals("summing 3\n", s.logs());
  }

  @Test
  void undefinedResultIsNullAndInputIsNullWhenAbsent() {
    assertEquals("null", success(sandbox.run(Job.js(id(), "undefined", null))).resultJson());
    assertEquals("true", success(sandbox.run(Job.js(id(), "input === null", null))).resultJson());
  }

  @Test
  void promiseResultIsAwaited() {
    assertEquals(
        "42",
        success(sandbox.run(Job.js(id(), "Promise.resolve(21).then(x => x * 2)", null)))
            .resultJson());
    assertEquals(
        "{\"ok\":true}",
        success(
                sandbox.run(
                    Job.js(
                        id(),
                        "(async () => { await null; await Promise.resolve(1); return { ok: true }; })()",
                        null)))
            .resultJson());
  }

  @Test
  void rejectedPromiseIsCodeError() {
    Outcome.Failure f =
        failure(
            sandbox.run(
                Job.js(
                    id(),
                    "async function f() {\n  await null;\n  throw new TypeError('nope');\n}\nf()",
                    null)),
            FailureKind.CODE_ERROR);
    assertTrue(f.message().contains("nope"), f.message());
    assertEquals(3, f.line());
  }

  @Test
  void thrownErrorIsCodeErrorWithLine() {
    Outcome.Failure f =
        failure(
            sandbox.run(Job.js(id(), "let a = 1;\n\nthrow new Error('boom');", null)),
            FailureKind.CODE_ERROR);
    assertTrue(f.message().contains("boom"), f.message());
    assertEquals(3, f.line());
    assertFalse(f.retryable());
  }

  @Test
  void syntaxErrorIsCodeErrorWithLine() {
    Outcome.Failure f =
        failure(
            sandbox.run(Job.js(id(), "let a = 1;\nlet b = = 2;\n", null)), FailureKind.CODE_ERROR);
    assertTrue(
        f.message().contains("SyntaxError") || f.message().contains("Expected"), f.message());
    assertEquals(2, f.line());
    assertHealthy(sandbox);
  }

  @Test
  void invalidInputJsonIsBadPayload() {
    failure(sandbox.run(Job.js(id(), "input", "{not json")), FailureKind.BAD_PAYLOAD);
  }

  @Test
  void primeWorkloadCounts78498() {
    // Generous deadline: a first, not yet compiled run on a loaded 2-core machine can take seconds.
    Outcome.Success s =
        success(
            sandbox.run(Job.js(id(), TestSandboxes.text("prime.js"), null).withTimeoutMs(60_000)));
    assertEquals("78498", s.resultJson());
    assertEquals(
        "168",
        success(sandbox.run(Job.js(id(), TestSandboxes.text("prime.js"), "1000"))).resultJson());
  }

  @Test
  void limitsAboveOperatorMaximumAreRefused() {
    failure(sandbox.run(Job.js(id(), "1", null).withTimeoutMs(61_000)), FailureKind.REFUSED);
    failure(sandbox.run(Job.js(id(), "1", null).withMemoryMb(257)), FailureKind.REFUSED);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "Java.type('java.lang.Runtime').getRuntime().exec('id')",
        "Polyglot.eval('python', 'print(1)')",
        "Polyglot.import('x')",
        "require('fs').readFileSync('/etc/passwd', 'utf8')",
        "process.env.PATH",
        "process.exit(3)",
        "fetch('http://127.0.0.1:1/')",
        "new XMLHttpRequest()",
        "import('fs')",
        "load('/etc/passwd')",
        "read('/etc/passwd')",
        "readFully('/etc/passwd')",
        "Packages.java.lang.System.exit(1)",
        "java.lang.System.exit(1)",
        "new Worker('x.js')",
        "setTimeout(() => 1, 1)",
        "Graal.versionJS",
        "quit(2)",
      })
  void hostCapabilitiesAreUnreachable(String code) {
    Outcome o = sandbox.run(Job.js(id(), code, null));
    failure(o, FailureKind.CODE_ERROR);
    assertHealthy(sandbox);
  }

  @Test
  void infiniteLoopEndsAtItsDeadline() {
    Outcome.Failure f =
        failure(
            sandbox.run(Job.js(id(), "while (true) {}", null).withTimeoutMs(1_000)),
            FailureKind.TIMEOUT);
    assertTrue(f.durationMs() >= 1_000, "stopped before its deadline: " + f);
    assertHealthy(sandbox);
  }

  @Test
  void allocationBombHitsTheMemoryCapNotTheWorker() {
    // The deadline is far away so that only the memory cap can end these tasks.
    Outcome o =
        sandbox.run(
            Job.js(id(), "const a = []; for (;;) { a.push(new Array(1e6)); }", null)
                .withTimeoutMs(60_000));
    failure(o, FailureKind.MEMORY_LIMIT);
    assertHealthy(sandbox);
    Outcome filled =
        sandbox.run(
            Job.js(id(), "const a = []; for (;;) { a.push(new Array(1e6).fill(1.5)); }", null)
                .withTimeoutMs(60_000));
    failure(filled, FailureKind.MEMORY_LIMIT);
    assertHealthy(sandbox);
  }

  @Test
  void deepRecursionIsCodeError() {
    // Repeated: later runs of the same source execute compiled frames, which are smaller and
    // recurse deeper.
    for (int i = 0; i < 3; i++) {
      Outcome.Failure f =
          failure(
              sandbox.run(Job.js(id(), "function f(n) { return f(n + 1) + 1; }\nf(0)", null)),
              FailureKind.CODE_ERROR);
      assertTrue(f.message().contains("stack"), f.message());
    }
    assertHealthy(sandbox);
  }

  @Test
  void hugeStringResultIsOutputLimit() {
    failure(
        sandbox.run(Job.js(id(), "'x'.repeat(100 * 1024 * 1024)", null)), FailureKind.OUTPUT_LIMIT);
    failure(
        sandbox.run(Job.js(id(), "['y'.repeat(17 * 1024 * 1024)]", null)),
        FailureKind.OUTPUT_LIMIT);
    assertHealthy(sandbox);
  }

  @Test
  void logsAreCappedAndTheTaskStillSucceeds() {
    Outcome.Success s =
        success(
            sandbox.run(
                Job.js(
                    id(),
                    "const line = 'y'.repeat(1023); for (let i = 0; i < 3000; i++) console.log(line); 'done'",
                    null)));
    assertEquals("\"done\"", s.resultJson());
    assertTrue(s.logs().length() < (1 << 20) + 200, "logs not capped: " + s.logs().length());
    assertTrue(s.logs().contains("output truncated"));
  }

  @Test
  void globalsDoNotLeakBetweenTasks() {
    success(sandbox.run(Job.js(id(), "globalThis.leak = 'secret'; var v = 1; 1", null)));
    for (int i = 0;
        i < 4;
        i++) { // more than the number of children, so one of them reuses its engine
      assertEquals(
          "\"undefined undefined\"",
          success(sandbox.run(Job.js(id(), "typeof leak + ' ' + typeof v", null))).resultJson());
    }
  }

  @Test
  void prototypePollutionDoesNotReachTheNextTask() {
    success(
        sandbox.run(
            Job.js(
                id(),
                "Object.prototype.polluted = 'yes'; Array.prototype.map = () => 'evil'; JSON.stringify = () => '{'; 1",
                null)));
    for (int i = 0; i < 4; i++) {
      assertEquals(
          "[true,[2]]",
          success(
                  sandbox.run(
                      Job.js(id(), "[({}).polluted === undefined, [1].map(x => x + 1)]", null)))
              .resultJson());
    }
  }

  @Test
  void taskThatBreaksJsonStillGivesValidJson() {
    assertEquals(
        "{\"a\":1}",
        success(sandbox.run(Job.js(id(), "JSON.stringify = () => '{'; ({ a: 1 })", null)))
            .resultJson());
  }

  @Test
  void cancelStopsARunningTask() throws Exception {
    String jobId = id();
    CompletableFuture<Outcome> run =
        CompletableFuture.supplyAsync(
            () -> sandbox.run(Job.js(jobId, "while (true) {}", null).withTimeoutMs(60_000)));
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!run.isDone() && System.nanoTime() < end) {
      sandbox.cancel(jobId);
      Thread.sleep(20);
    }
    failure(run.get(1, TimeUnit.SECONDS), FailureKind.CANCELLED);
    assertHealthy(sandbox);
  }

  @Test
  void concurrentTasksEachGetTheirOwnResult() throws Exception {
    java.util.List<CompletableFuture<Outcome>> runs = new java.util.ArrayList<>();
    for (int i = 0; i < 8; i++) {
      String in = Integer.toString(i);
      runs.add(
          CompletableFuture.supplyAsync(
              () -> sandbox.run(Job.js(id(), "globalThis.mine = input; mine * 2", in))));
    }
    for (int i = 0; i < 8; i++) {
      assertEquals(
          Integer.toString(i * 2), success(runs.get(i).get(2, TimeUnit.MINUTES)).resultJson());
    }
  }

  @Test
  void childJvmsRunWithTheJit() {
    // surefire passes anchor.sandbox.compilerJar; without the JIT every JS task would be ~10x
    // slower
    assertTrue(sandbox.jsJitEnabled());
  }

  @Test
  void runtimeNamesParse() {
    assertEquals(RuntimeKind.JS, RuntimeKind.parse("isolated-vm"));
    assertEquals(RuntimeKind.WASM, RuntimeKind.parse("WASM"));
    assertEquals(RuntimeKind.NATIVE, RuntimeKind.parse("native"));
    IllegalArgumentException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            IllegalArgumentException.class, () -> RuntimeKind.parse("python"));
    assertTrue(e.getMessage().contains("python"));
  }
}
