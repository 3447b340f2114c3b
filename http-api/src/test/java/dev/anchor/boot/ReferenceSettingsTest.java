package dev.anchor.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigResolveOptions;
import java.io.File;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The reference system's environment variables (PORT, MONGO_URI, REDIS_HOST/PORT/PASSWORD,
 * JWT_SECRET, NODE_ENV) are read when the ANCHOR_* one is unset; the ANCHOR_* one wins. Resolved as
 * AnchorMain does: application.conf with the given environment, then {@link StoreFallbacks}.
 */
class ReferenceSettingsTest {
  private static Config load(Map<String, String> env) {
    Config file =
        ConfigFactory.parseFile(
            new File("../application.conf"), ConfigParseOptions.defaults().setAllowMissing(false));
    // the environment as root keys, where ${?NAME} finds them (and not the real environment of this
    // JVM)
    Config resolved =
        file.withFallback(ConfigFactory.parseMap(env))
            .resolve(ConfigResolveOptions.defaults().setUseSystemEnvironment(false));
    return StoreFallbacks.apply(resolved, env);
  }

  @Test
  void referenceNamesAreFallbacks() {
    Config c =
        load(
            Map.of(
                "PORT",
                "8080",
                "MONGO_URI",
                "mongodb://db/anchor",
                "REDIS_HOST",
                "queue",
                "REDIS_PORT",
                "6380",
                "REDIS_PASSWORD",
                "pw",
                "JWT_SECRET",
                "s".repeat(32),
                "NODE_ENV",
                "development"));
    assertEquals(8080, c.getInt("anchor.http.port"));
    assertEquals("mongodb://db/anchor", c.getString("anchor.mongo.uri"));
    assertEquals("redis://:pw@queue:6380", c.getString("anchor.redis.uri"));
    assertEquals("s".repeat(32), c.getString("anchor.auth.jwt-secret"));
    assertEquals("development", c.getString("anchor.environment"));
  }

  @Test
  void anchorNamesWin() {
    Config c =
        load(
            Map.of(
                "PORT",
                "8080",
                "ANCHOR_PORT",
                "5001",
                "MONGO_URI",
                "mongodb://db/anchor",
                "ANCHOR_MONGO_URI",
                "embedded-memory",
                "REDIS_HOST",
                "queue",
                "ANCHOR_REDIS_URI",
                "redis://other:1",
                "JWT_SECRET",
                "s".repeat(32),
                "ANCHOR_JWT_SECRET",
                "a".repeat(32),
                "NODE_ENV",
                "development",
                "ANCHOR_ENV",
                "production"));
    assertEquals(5001, c.getInt("anchor.http.port"));
    assertEquals("embedded-memory", c.getString("anchor.mongo.uri"));
    assertEquals("redis://other:1", c.getString("anchor.redis.uri"));
    assertEquals("a".repeat(32), c.getString("anchor.auth.jwt-secret"));
    assertEquals("production", c.getString("anchor.environment"));
    assertFalse(StoreFallbacks.applyLogging(c, Map.of()));
  }

  @Test
  void defaultsAndBadValues() {
    Config c = load(Map.of());
    assertEquals(5000, c.getInt("anchor.http.port"));
    assertEquals("production", c.getString("anchor.environment"));
    assertThrows(IllegalArgumentException.class, () -> load(Map.of("PORT", "http")));
    assertThrows(IllegalArgumentException.class, () -> load(Map.of("PORT", "70000")));
    // an empty ANCHOR_PORT counts as unset
    assertEquals(8081, load(Map.of("ANCHOR_PORT", "", "PORT", "8081")).getInt("anchor.http.port"));
  }
}
