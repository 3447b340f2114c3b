package dev.anchor.config;

import com.typesafe.config.Config;
import java.nio.file.Path;

/**
 * The anchor.* settings the launcher needs (anchor.mongo.* belongs to MongoStore, which reads it
 * itself).
 */
public record AnchorSettings(
    Path dataDir, String httpHost, int httpPort, String redisUri, String nodeName) {

  public static final String EMBEDDED = "embedded";

  public static AnchorSettings from(Config root) {
    Config c = root.getConfig("anchor");
    return new AnchorSettings(
        Path.of(c.getString("data-dir")).toAbsolutePath().normalize(),
        c.getString("http.host"),
        c.getInt("http.port"),
        c.getString("redis.uri"),
        c.getString("node.name"));
  }

  public boolean embeddedRedis() {
    return EMBEDDED.equalsIgnoreCase(redisUri);
  }
}
