package dev.anchor.runtime;

import static dev.anchor.runtime.TestSandboxes.failure;
import static dev.anchor.runtime.TestSandboxes.id;
import static dev.anchor.runtime.TestSandboxes.success;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** JsIsolation.IN_PROCESS keeps every guarantee except the memory cap. */
class InProcessJsTest {
  static Sandbox sandbox;

  @BeforeAll
  static void start() {
    sandbox =
        Sandbox.start(
            TestSandboxes.config(TestSandboxes.tempDir("inproc-test"))
                .withNativeEnabled(false)
                .withJs(JsIsolation.IN_PROCESS, 1, 0, false));
  }

  @AfterAll
  static void stop() {
    if (sandbox != null) sandbox.close();
  }

  @Test
  void runsTasksInFreshContexts() {
    assertEquals("7", success(sandbox.run(Job.js(id(), "globalThis.x = 7; x", null))).resultJson());
    assertEquals(
        "\"undefined\"", success(sandbox.run(Job.js(id(), "typeof x", null))).resultJson());
    assertEquals("3", success(sandbox.run(Job.js(id(), "input.length", "[1,2,3]"))).resultJson());
  }

  @Test
  void deadlineAndHostAccessStillHold() {
    failure(sandbox.run(Job.js(id(), "for (;;) {}", null).withTimeoutMs(300)), FailureKind.TIMEOUT);
    failure(
        sandbox.run(Job.js(id(), "Java.type('java.lang.System').exit(1)", null)),
        FailureKind.CODE_ERROR);
    assertEquals("2", success(sandbox.run(Job.js(id(), "1 + 1", null))).resultJson());
  }

  @Test
  void codeThatNamesIntlHasItAndOtherCodeRunsWithout() {
    assertEquals(
        "\"1,234.5\"",
        success(sandbox.run(Job.js(id(), "new Intl.NumberFormat('en-US').format(1234.5)", null)))
            .resultJson());
    assertEquals(
        "\"1.234,5\"",
        success(sandbox.run(Job.js(id(), "(1234.5).toLocaleString('de-DE')", null))).resultJson());
    assertEquals(
        "-1", success(sandbox.run(Job.js(id(), "'a'.localeCompare('b')", null))).resultJson());
    // the documented trade-off: a realm without ECMA-402 for code that does not name it
    assertEquals(
        "\"undefined\"",
        success(sandbox.run(Job.js(id(), "typeof globalThis['In' + 'tl']", null))).resultJson());
  }
}
