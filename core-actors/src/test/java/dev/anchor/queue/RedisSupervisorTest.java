package dev.anchor.queue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The supervised embedded redis-server comes back after kill -9 on its port, password and
 * append-only file.
 */
class RedisSupervisorTest {
  @TempDir Path dir;

  @Test
  void aKilledServerIsRestartedWhereClientsFindItWithItsData() throws Exception {
    try (RedisSupervisor redis = RedisSupervisor.start(dir)) {
      RedisClient client = RedisConnector.client(redis.uri());
      try (StatefulRedisConnection<String, String> c = client.connect()) {
        c.sync().set("anchor:test", "kept");
        Path aof = dir.resolve("redis").resolve("appendonly.aof");
        // the append-only file is synced once a second: wait until the write is on disk before the
        // crash
        awaitTrue(
            () -> Files.exists(aof) && Files.readString(aof).contains("anchor:test"),
            Duration.ofSeconds(10));
        long first = redis.pid();
        String uri = redis.uri();
        ProcessHandle.of(first).orElseThrow().destroyForcibly();
        awaitTrue(() -> redis.restarts() == 1, Duration.ofSeconds(30));
        assertNotEquals(first, redis.pid());
        assertEquals(uri, redis.uri(), "same port and password: clients reconnect unchanged");
        // the same connection, reconnected by Lettuce, reads what the file kept
        awaitTrue(
            () -> {
              try {
                return "kept".equals(c.sync().get("anchor:test"));
              } catch (RuntimeException stillReconnecting) {
                return false;
              }
            },
            Duration.ofSeconds(30));
      } finally {
        client.shutdown();
      }
    }
  }

  interface Check {
    boolean ok() throws Exception;
  }

  static void awaitTrue(Check check, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!check.ok()) {
      assertTrue(System.nanoTime() < deadline, "not within " + timeout);
      TimeUnit.MILLISECONDS.sleep(50);
    }
  }
}
