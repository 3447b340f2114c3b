package dev.anchor;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * The reference system's REDIS_HOST / REDIS_PORT / REDIS_PASSWORD, read when ANCHOR_REDIS_URI is not set, so a
 * deployment configured for it runs Anchor unchanged. (Its MONGO_URI is a plain fallback in application.conf.)
 */
final class StoreFallbacks {
  private StoreFallbacks() {}

  static Config apply(Config config, Map<String, String> env) {
    if (present(env, "ANCHOR_REDIS_URI") || !present(env, "REDIS_HOST")) return config;
    return config.withValue("anchor.redis.uri", ConfigValueFactory.fromAnyRef(redisUri(env)));
  }

  static String redisUri(Map<String, String> env) {
    String host = env.get("REDIS_HOST").trim();
    String port = present(env, "REDIS_PORT") ? env.get("REDIS_PORT").trim() : "6379";
    if (!port.matches("\\d{1,5}")) throw new IllegalArgumentException("REDIS_PORT '" + port + "' is not a port number");
    if (!host.matches("[A-Za-z0-9.\\-]+|\\[[0-9A-Fa-f:.]+]")) {
      throw new IllegalArgumentException("REDIS_HOST '" + host + "' is not a host name or address");
    }
    // percent-encoded, so a password holding @ : / or % survives the URI; Lettuce decodes it
    String auth = present(env, "REDIS_PASSWORD")
        ? ":" + URLEncoder.encode(env.get("REDIS_PASSWORD"), StandardCharsets.UTF_8).replace("+", "%20") + "@" : "";
    return "redis://" + auth + host + ":" + port;
  }

  private static boolean present(Map<String, String> env, String name) {
    return env.get(name) != null && !env.get(name).isBlank();
  }
}
