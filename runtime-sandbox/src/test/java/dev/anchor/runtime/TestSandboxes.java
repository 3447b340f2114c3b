package dev.anchor.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;

/** Shared helpers of the sandbox tests. */
final class TestSandboxes {
  private TestSandboxes() {}

  /**
   * Small limits so hostile cases end quickly: 128 MB per task, children capped at 256 + headroom.
   */
  static SandboxConfig config(Path tmp) {
    return SandboxConfig.defaults()
        .withLimits(30_000, 128, 60_000, 256)
        .withDirs(tmp.resolve("npm-cache"), tmp.resolve("work"))
        .withJs(JsIsolation.CHILD_JVM, 2, 256, true);
  }

  static Sandbox startJsReady(SandboxConfig config) {
    Sandbox s = Sandbox.start(config);
    assertTrue(s.awaitJsReady(Duration.ofMinutes(2)), "JS child JVMs did not become ready");
    return s;
  }

  static String id() {
    return UUID.randomUUID().toString();
  }

  static byte[] resource(String name) {
    try (InputStream in = TestSandboxes.class.getResourceAsStream("/workloads/" + name)) {
      if (in == null) throw new IllegalStateException("missing test resource " + name);
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String text(String name) {
    return new String(resource(name), StandardCharsets.UTF_8);
  }

  static Outcome.Success success(Outcome o) {
    return assertInstanceOf(Outcome.Success.class, o, () -> "expected success but got " + o);
  }

  static Outcome.Failure failure(Outcome o, FailureKind kind) {
    Outcome.Failure f =
        assertInstanceOf(Outcome.Failure.class, o, () -> "expected " + kind + " but got " + o);
    assertEquals(kind, f.kind(), () -> "unexpected failure " + f);
    return f;
  }

  /** After every hostile case: an ordinary task still gives the right answer. */
  static void assertHealthy(Sandbox s) {
    Outcome o = s.run(Job.js(id(), "const o = { n: 6 * 7 }; o", null));
    assertEquals("{\"n\":42}", success(o).resultJson());
  }

  static Path tempDir(String prefix) {
    try {
      return Files.createTempDirectory(prefix);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
