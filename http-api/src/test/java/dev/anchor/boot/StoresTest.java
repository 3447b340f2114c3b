package dev.anchor.boot;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigFactory;
import dev.anchor.config.AnchorSettings;
import dev.anchor.config.StoreUnavailableException;
import dev.anchor.queue.RedisConnector;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The embedded Redis wants its generated password and listens on loopback; Redis credentials in
 * URIs and env.
 */
class StoresTest {
  static Path dir;
  static Stores stores;
  static RedisURI uri;

  @BeforeAll
  static void open() throws Exception {
    dir = Files.createTempDirectory("anchor-stores-test");
    AnchorSettings settings =
        AnchorSettings.from(
            ConfigFactory.parseMap(
                    Map.of("anchor.data-dir", dir.toString(), "anchor.redis.uri", "embedded"))
                .withFallback(ConfigFactory.load()));
    stores = Stores.open(settings, false);
    uri = RedisURI.create(stores.redisUri());
  }

  @AfterAll
  static void close() throws Exception {
    if (stores != null) stores.close();
    try (var files = Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
  }

  static String password(RedisURI u) {
    var c = u.getCredentialsProvider().resolveCredentials().block();
    return c == null || !c.hasPassword() ? null : new String(c.getPassword());
  }

  @Test
  void aClientWithoutThePasswordIsRefused() throws Exception {
    assertNotNull(
        password(uri),
        "the embedded Redis has a password: " + RedisConnector.redact(stores.redisUri()));
    try (Socket s = new Socket("127.0.0.1", uri.getPort())) {
      s.getOutputStream().write("PING\r\n".getBytes());
      String reply = new BufferedReader(new InputStreamReader(s.getInputStream())).readLine();
      assertTrue(reply.startsWith("-NOAUTH"), reply);
    }
    String bare = "redis://127.0.0.1:" + uri.getPort();
    RedisClient client = RedisConnector.client(bare);
    try {
      StoreUnavailableException e =
          assertThrows(
              StoreUnavailableException.class, () -> RedisConnector.connectChecked(client, bare));
      assertTrue(e.getMessage().contains("NOAUTH"), e.getMessage());
    } finally {
      client.shutdown();
    }
    assertTrue(stores.redisHealthy(), "Anchor's own client has the password");
  }

  @Test
  void itListensOnLoopbackOnly() throws Exception {
    try (var c = stores.redisClient().connect()) {
      assertEquals("127.0.0.1", c.sync().configGet("bind").get("bind"));
      assertEquals("yes", c.sync().configGet("protected-mode").get("protected-mode"));
    }
  }

  @Test
  void theReferenceSystemsRedisVariablesMakeAUriThatConnects() throws Exception {
    String password = password(uri);
    String composed =
        StoreFallbacks.redisUri(
            Map.of(
                "REDIS_HOST",
                "127.0.0.1",
                "REDIS_PORT",
                Integer.toString(uri.getPort()),
                "REDIS_PASSWORD",
                password));
    RedisClient client = RedisConnector.client(composed);
    try (var c = RedisConnector.connectChecked(client, composed)) {
      assertEquals("PONG", c.sync().ping());
    } finally {
      client.shutdown();
    }
    var config =
        StoreFallbacks.apply(
            ConfigFactory.load(), Map.of("REDIS_HOST", "queue", "REDIS_PASSWORD", "p@ss:w/rd %+"));
    RedisURI parsed = RedisURI.create(config.getString("anchor.redis.uri"));
    assertEquals("queue", parsed.getHost());
    assertEquals(6379, parsed.getPort());
    assertEquals("p@ss:w/rd %+", password(parsed), "special characters survive the URI");
    // ANCHOR_REDIS_URI wins; without REDIS_HOST nothing changes
    assertEquals(
        ConfigFactory.load().getString("anchor.redis.uri"),
        StoreFallbacks.apply(
                ConfigFactory.load(),
                Map.of("ANCHOR_REDIS_URI", "redis://x:1", "REDIS_HOST", "queue"))
            .getString("anchor.redis.uri"));
    assertThrows(
        IllegalArgumentException.class,
        () -> StoreFallbacks.redisUri(Map.of("REDIS_HOST", "q", "REDIS_PORT", "x")));
  }

  @Test
  void passwordsStayOutOfMessages() {
    assertEquals("redis://***@host:6379", RedisConnector.redact("redis://:secret@host:6379"));
    assertEquals(
        "rediss://***@host:6380/0", RedisConnector.redact("rediss://user:secret@host:6380/0"));
    StoreUnavailableException e =
        assertThrows(
            StoreUnavailableException.class,
            () -> {
              RedisClient c = RedisConnector.client("redis://:secret@127.0.0.1:1");
              try {
                RedisConnector.connectChecked(c, "redis://:secret@127.0.0.1:1");
              } finally {
                c.shutdown();
              }
            });
    assertFalse(e.getMessage().contains("secret"), e.getMessage());
  }
}
