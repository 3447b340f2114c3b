package dev.anchor.runtime;

import static dev.anchor.runtime.TestSandboxes.failure;
import static dev.anchor.runtime.TestSandboxes.id;
import static dev.anchor.runtime.TestSandboxes.resource;
import static dev.anchor.runtime.TestSandboxes.success;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class WasmRuntimeTest {
  static Sandbox sandbox;

  @BeforeAll
  static void start() {
    Path tmp = TestSandboxes.tempDir("wasm-test");
    // JS runs in-process here: these tests are about WASM and need no child JVMs.
    sandbox =
        Sandbox.start(
            TestSandboxes.config(tmp)
                .withNativeEnabled(false)
                .withJs(JsIsolation.IN_PROCESS, 1, 0, false)
                .withCaps(1 << 20, 1 << 20));
  }

  @AfterAll
  static void stop() {
    if (sandbox != null) sandbox.close();
  }

  static void assertWasmHealthy() {
    Outcome.Success s =
        success(sandbox.run(Job.wasm(id(), resource("prime.wasm"), "count", List.of(1000))));
    assertEquals("168", s.resultJson());
  }

  @Test
  void primeCountsTo78498() {
    Outcome.Success s =
        success(sandbox.run(Job.wasm(id(), resource("prime.wasm"), "count", List.of(1_000_000))));
    assertEquals("78498", s.resultJson());
    assertArrayEquals(
        new byte[] {(byte) 0xa2, 0x32, 0x01, 0x00}, s.resultBytes()); // 78498 as i32 LE
  }

  @Test
  void argumentsAreCheckedAgainstTheSignature() {
    assertEquals(
        "5000000000",
        success(
                sandbox.run(
                    Job.wasm(
                        id(),
                        resource("math.wasm"),
                        "add64",
                        List.of(2_000_000_000L, 3_000_000_000L))))
            .resultJson());
    assertEquals(
        "2.5",
        success(sandbox.run(Job.wasm(id(), resource("math.wasm"), "div", List.of(5, 2))))
            .resultJson());
    failure(
        sandbox.run(Job.wasm(id(), resource("prime.wasm"), "count", List.of(1.5))),
        FailureKind.BAD_PAYLOAD);
    failure(
        sandbox.run(Job.wasm(id(), resource("prime.wasm"), "count", List.of())),
        FailureKind.BAD_PAYLOAD);
    failure(
        sandbox.run(Job.wasm(id(), resource("prime.wasm"), "count", List.of(1L << 40))),
        FailureKind.BAD_PAYLOAD);
  }

  @Test
  void missingExportAndInvalidBytesAreBadPayload() {
    Outcome.Failure f =
        failure(
            sandbox.run(Job.wasm(id(), resource("prime.wasm"), "nope", List.of())),
            FailureKind.BAD_PAYLOAD);
    assertTrue(f.message().contains("count"), f.message());
    failure(
        sandbox.run(
            Job.wasm(id(), "not wasm".getBytes(StandardCharsets.UTF_8), "count", List.of(1))),
        FailureKind.BAD_PAYLOAD);
    byte[] truncated = java.util.Arrays.copyOf(resource("prime.wasm"), 40);
    failure(sandbox.run(Job.wasm(id(), truncated, "count", List.of(1))), FailureKind.BAD_PAYLOAD);
    failure(sandbox.run(Job.wasm(id(), null, "count", List.of(1))), FailureKind.BAD_PAYLOAD);
    assertWasmHealthy();
  }

  @Test
  void hostImportsAreRefused() {
    Outcome.Failure f =
        failure(
            sandbox.run(Job.wasm(id(), resource("imports-env.wasm"), "main", List.of())),
            FailureKind.BAD_PAYLOAD);
    assertTrue(f.message().contains("env.system"), f.message());
    // WASI functions are only linked when the task asks for WASI
    failure(
        sandbox.run(Job.wasm(id(), resource("wasi-hello.wasm"), "_start", List.of())),
        FailureKind.BAD_PAYLOAD);
  }

  @Test
  void trapIsCodeError() {
    Outcome.Failure f =
        failure(
            sandbox.run(Job.wasm(id(), resource("math.wasm"), "boom", List.of())),
            FailureKind.CODE_ERROR);
    assertTrue(f.message().toLowerCase().contains("unreachable"), f.message());
    assertWasmHealthy();
  }

  @Test
  void unboundedRecursionTrapsWithoutHarm() {
    Outcome.Failure f =
        failure(
            sandbox.run(Job.wasm(id(), resource("recurse.wasm"), "recurse", List.of(0))),
            FailureKind.CODE_ERROR);
    assertTrue(f.message().toLowerCase().contains("stack"), f.message());
    assertWasmHealthy();
  }

  @Test
  void infiniteLoopEndsAtItsDeadline() {
    Outcome.Failure f =
        failure(
            sandbox.run(
                Job.wasm(id(), resource("spin.wasm"), "spin", List.of()).withTimeoutMs(500)),
            FailureKind.TIMEOUT);
    assertTrue(f.durationMs() >= 500, f.toString());
    assertWasmHealthy();
  }

  @Test
  void unboundedMemoryGrowthStopsAtTheCap() {
    failure(
        sandbox.run(Job.wasm(id(), resource("grow.wasm"), "grow", List.of())),
        FailureKind.MEMORY_LIMIT);
    failure(
        sandbox.run(Job.wasm(id(), resource("grow.wasm"), "grow", List.of()).withMemoryMb(16)),
        FailureKind.MEMORY_LIMIT);
    assertWasmHealthy();
  }

  @Test
  void declaredMaximumAboveTheCapIsRefused() {
    Outcome.Failure f =
        failure(
            sandbox.run(Job.wasm(id(), resource("bigmax.wasm"), "main", List.of())),
            FailureKind.BAD_PAYLOAD);
    assertTrue(f.message().contains("maximum"), f.message());
  }

  @Test
  void cancelStopsARunningModule() throws Exception {
    String jobId = id();
    CompletableFuture<Outcome> run =
        CompletableFuture.supplyAsync(
            () ->
                sandbox.run(
                    Job.wasm(jobId, resource("spin.wasm"), "spin", List.of())
                        .withTimeoutMs(60_000)));
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!run.isDone() && System.nanoTime() < end) {
      sandbox.cancel(jobId);
      Thread.sleep(20);
    }
    failure(run.get(1, TimeUnit.SECONDS), FailureKind.CANCELLED);
    assertWasmHealthy();
  }

  @Test
  void wasiInputIsStdinAndStdoutIsTheResult() {
    Outcome.Success s =
        success(sandbox.run(Job.wasi(id(), resource("wasi-echo.wasm"), "{\"a\": [1, 2]}")));
    assertEquals("{\"a\": [1, 2]}", s.resultJson());
    assertArrayEquals("{\"a\": [1, 2]}".getBytes(StandardCharsets.UTF_8), s.resultBytes());
    Outcome.Success hello = success(sandbox.run(Job.wasi(id(), resource("wasi-hello.wasm"), null)));
    assertEquals("\"hello world\"", hello.resultJson());
    assertEquals("log line\n", hello.logs());
  }

  @Test
  void wasiExitCodeAndOutputFlood() {
    failure(sandbox.run(Job.wasi(id(), resource("wasi-exit.wasm"), null)), FailureKind.CODE_ERROR);
    failure(
        sandbox.run(Job.wasi(id(), resource("wasi-flood.wasm"), null)), FailureKind.OUTPUT_LIMIT);
    assertWasmHealthy();
  }

  @Test
  void deterministicModeRefusesClocksAndCanonicalisesNaN() {
    Job clock =
        Job.builder(id(), RuntimeKind.WASM)
            .wasm(resource("wasi-clock.wasm"))
            .wasi(true)
            .deterministic(true)
            .build();
    failure(sandbox.run(clock), FailureKind.REFUSED);
    success(sandbox.run(clock.toBuilder().deterministic(false).build()));
    Job nan =
        Job.builder(id(), RuntimeKind.WASM)
            .wasm(resource("math.wasm"))
            .entry("nan")
            .deterministic(true)
            .build();
    Outcome.Success s = success(sandbox.run(nan));
    assertEquals("\"NaN\"", s.resultJson());
    assertArrayEquals(new byte[] {0, 0, 0, 0, 0, 0, (byte) 0xf8, 0x7f}, s.resultBytes());
  }
}
