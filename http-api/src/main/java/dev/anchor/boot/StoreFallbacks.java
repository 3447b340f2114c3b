package dev.anchor.boot;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * The reference system's settings, read when the ANCHOR_* variable is unset (or empty), so a
 * deployment configured for it runs Anchor unchanged: REDIS_HOST / REDIS_PORT / REDIS_PASSWORD for
 * ANCHOR_REDIS_URI, PORT for ANCHOR_PORT, NODE_ENV for ANCHOR_ENV. (MONGO_URI and JWT_SECRET are
 * plain fallbacks in application.conf.)
 */
final class StoreFallbacks {
  private StoreFallbacks() {}

  static Config apply(Config config, Map<String, String> env) {
    if (!present(env, "ANCHOR_PORT") && present(env, "PORT")) {
      String port = env.get("PORT").trim();
      if (!port.matches("\\d{1,5}") || Integer.parseInt(port) > 65535) {
        throw new IllegalArgumentException("PORT '" + port + "' is not a port number");
      }
      config =
          config.withValue(
              "anchor.http.port", ConfigValueFactory.fromAnyRef(Integer.parseInt(port)));
    }
    if (!present(env, "ANCHOR_ENV") && present(env, "NODE_ENV")) {
      config =
          config.withValue(
              "anchor.environment", ConfigValueFactory.fromAnyRef(env.get("NODE_ENV").trim()));
    }
    if (present(env, "ANCHOR_REDIS_URI") || !present(env, "REDIS_HOST")) return config;
    return config.withValue("anchor.redis.uri", ConfigValueFactory.fromAnyRef(redisUri(env)));
  }

  /**
   * {@code anchor.environment = development} (ANCHOR_ENV, or the reference system's NODE_ENV) logs
   * Anchor's own classes at DEBUG unless ANCHOR_LOG_LEVEL says otherwise; {@code production} (the
   * default) and any other value change nothing. Answers whether it changed the level.
   */
  static boolean applyLogging(Config config, Map<String, String> env) {
    if (present(env, "ANCHOR_LOG_LEVEL")
        || !"development".equalsIgnoreCase(config.getString("anchor.environment"))) {
      return false;
    }
    if (org.slf4j.LoggerFactory.getLogger("dev.anchor")
        instanceof ch.qos.logback.classic.Logger l) {
      l.setLevel(ch.qos.logback.classic.Level.DEBUG);
      return true;
    }
    return false;
  }

  static String redisUri(Map<String, String> env) {
    String host = env.get("REDIS_HOST").trim();
    String port = present(env, "REDIS_PORT") ? env.get("REDIS_PORT").trim() : "6379";
    if (!port.matches("\\d{1,5}"))
      throw new IllegalArgumentException("REDIS_PORT '" + port + "' is not a port number");
    if (!host.matches("[A-Za-z0-9.\\-]+|\\[[0-9A-Fa-f:.]+]")) {
      throw new IllegalArgumentException("REDIS_HOST '" + host + "' is not a host name or address");
    }
    // percent-encoded, so a password holding @ : / or % survives the URI; Lettuce decodes it
    String auth =
        present(env, "REDIS_PASSWORD")
            ? ":"
                + URLEncoder.encode(env.get("REDIS_PASSWORD"), StandardCharsets.UTF_8)
                    .replace("+", "%20")
                + "@"
            : "";
    return "redis://" + auth + host + ":" + port;
  }

  private static boolean present(Map<String, String> env, String name) {
    return env.get(name) != null && !env.get(name).isBlank();
  }
}
