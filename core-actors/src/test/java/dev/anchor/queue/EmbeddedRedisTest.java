package dev.anchor.queue;

import static org.junit.jupiter.api.Assertions.*;

import io.lettuce.core.RedisClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The embedded Redis keeps its address across restarts (workers that learned it reconnect) and
 * stops a leftover redis-server only when it is proven to be a stale one of this data dir, never an
 * unrelated or a live one.
 */
class EmbeddedRedisTest {
  @TempDir Path dir;
  final List<Process> started = new ArrayList<>();

  @AfterEach
  void stopStarted() throws Exception {
    for (Process p : started) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aRestartKeepsPortAndPassword() throws Exception {
    String first;
    try (EmbeddedRedis redis = EmbeddedRedis.start(dir)) {
      first = redis.uri();
    }
    try (EmbeddedRedis redis = EmbeddedRedis.start(dir)) {
      assertEquals(first, redis.uri(), "same port and password after a restart");
      assertEquals("PONG", ping(redis.uri()));
    }
  }

  @Test
  void aConfiguredPortAndBindAreUsed() throws Exception {
    int port = EmbeddedRedis.freePort();
    try (EmbeddedRedis redis = EmbeddedRedis.start(dir, "0.0.0.0", port)) {
      assertEquals(port, redis.port());
      assertEquals("0.0.0.0", redis.bind());
      assertTrue(redis.uri("localhost").endsWith("@localhost:" + port), redis.uri("localhost"));
      assertEquals("PONG", ping(redis.uri()));
    }
    assertEquals(
        Integer.toString(port), Files.readString(dir.resolve("redis").resolve("port")).trim());
  }

  @Test
  void aPidFileNamingAnUnrelatedProcessKillsNothing() throws Exception {
    Files.createDirectories(dir.resolve("redis"));
    Process unrelated = start(new ProcessBuilder("sleep", "300"));
    Files.writeString(
        dir.resolve("redis").resolve("anchor-redis.pid"), Long.toString(unrelated.pid()));
    try (EmbeddedRedis redis = EmbeddedRedis.start(dir)) {
      assertEquals("PONG", ping(redis.uri()));
      assertTrue(unrelated.isAlive(), "a live process that is not our redis-server is left alone");
    }
  }

  @Test
  void aStaleRedisOfThisDataDirIsStopped() throws Exception {
    String uri;
    try (EmbeddedRedis redis = EmbeddedRedis.start(dir)) {
      uri = redis.uri();
    }
    // what a kill -9 of the JVM leaves: its redis-server on these files, its parent gone (the shell
    // exits at once)
    Path redisDir = dir.resolve("redis").toAbsolutePath();
    Process shell =
        start(
            new ProcessBuilder(
                "bash",
                "-c",
                "\"$0\" \"$1\" --port \"$2\" --dir \"$3\" --daemonize no "
                    + ">/dev/null 2>&1 & echo $!",
                dir.resolve("bin/redis-server").toString(),
                redisDir.resolve("anchor-redis.conf").toString(),
                redisDir.resolve("port").toFile().exists()
                    ? Files.readString(redisDir.resolve("port")).trim()
                    : "0",
                redisDir.toString()));
    long leftover = Long.parseLong(new String(shell.getInputStream().readAllBytes()).trim());
    shell.waitFor(10, TimeUnit.SECONDS);
    Files.writeString(redisDir.resolve("anchor-redis.pid"), Long.toString(leftover));
    awaitPing(uri);
    try (EmbeddedRedis redis = EmbeddedRedis.start(dir)) {
      assertFalse(
          ProcessHandle.of(leftover).map(ProcessHandle::isAlive).orElse(false),
          "the leftover was stopped");
      assertEquals(uri, redis.uri());
      assertEquals("PONG", ping(redis.uri()));
    } finally {
      ProcessHandle.of(leftover).ifPresent(ProcessHandle::destroyForcibly);
    }
  }

  @Test
  void aRedisWhoseAnchorStillRunsIsNotKilled() throws Exception {
    String uri;
    try (EmbeddedRedis redis = EmbeddedRedis.start(dir)) {
      uri = redis.uri();
    }
    Path redisDir = dir.resolve("redis").toAbsolutePath();
    // a live owner: a parent process whose command line names dev.anchor, as a running standalone's
    // JVM does
    Process owner =
        start(
            new ProcessBuilder(
                "bash",
                "-c",
                "\"$0\" \"$1\" --port \"$2\" --dir \"$3\" --daemonize no "
                    + ">/dev/null 2>&1 & echo $!; wait # dev.anchor.AnchorMain standalone",
                dir.resolve("bin/redis-server").toString(),
                redisDir.resolve("anchor-redis.conf").toString(),
                Files.readString(redisDir.resolve("port")).trim(),
                redisDir.toString()));
    long live =
        Long.parseLong(
            new java.io.BufferedReader(new java.io.InputStreamReader(owner.getInputStream()))
                .readLine()
                .trim());
    Files.writeString(redisDir.resolve("anchor-redis.pid"), Long.toString(live));
    awaitPing(uri);
    IOException refused = assertThrows(IOException.class, () -> EmbeddedRedis.start(dir).close());
    assertTrue(refused.getMessage().contains("in use by a running Anchor"), refused.getMessage());
    assertTrue(
        ProcessHandle.of(live).map(ProcessHandle::isAlive).orElse(false),
        "the live Redis keeps running");
    assertEquals("PONG", ping(uri));
    ProcessHandle.of(live).ifPresent(ProcessHandle::destroyForcibly);
  }

  private Process start(ProcessBuilder pb) throws IOException {
    Process p = pb.redirectErrorStream(true).start();
    started.add(p);
    return p;
  }

  private static String ping(String uri) {
    RedisClient client = RedisConnector.client(uri);
    try (var c = client.connect()) {
      return c.sync().ping();
    } finally {
      client.shutdown();
    }
  }

  private static void awaitPing(String uri) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (true) {
      try {
        if ("PONG".equals(ping(uri))) return;
      } catch (RuntimeException notYet) {
        if (System.nanoTime() > deadline) throw notYet;
      }
      TimeUnit.MILLISECONDS.sleep(100);
    }
  }
}
