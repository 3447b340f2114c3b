package dev.anchor.queue;

import dev.anchor.config.StoreUnavailableException;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;

import java.time.Duration;

/**
 * Opens Lettuce clients on a Redis URI and turns a failure to connect into one line naming the URI (its password
 * hidden). Lettuce honours what the URI says: {@code redis://:password@host:6379}, {@code redis://user:password@…}
 * (Redis 6 ACLs), {@code rediss://} for TLS with the server's certificate checked against the JVM's trust store.
 */
public final class RedisConnector {
  private RedisConnector() {}

  public static RedisClient client(String uri) {
    RedisURI parsed;
    try {
      parsed = RedisURI.create(uri);
    } catch (RuntimeException e) {
      throw new StoreUnavailableException("invalid Redis URI " + redact(uri) + ": " + e.getMessage(), e);
    }
    parsed.setTimeout(Duration.ofSeconds(10));
    RedisClient client = RedisClient.create(parsed);
    client.setOptions(ClientOptions.builder()
        .socketOptions(SocketOptions.builder().connectTimeout(Duration.ofSeconds(5)).keepAlive(true).build())
        .timeoutOptions(TimeoutOptions.enabled(Duration.ofSeconds(10)))
        .build());
    return client;
  }

  /** Connects and PINGs, or throws {@link StoreUnavailableException} within about five seconds. */
  public static StatefulRedisConnection<String, String> connectChecked(RedisClient client, String uri) {
    try {
      StatefulRedisConnection<String, String> c = client.connect();
      c.sync().ping();
      return c;
    } catch (RuntimeException e) {
      Throwable root = e;
      while (root.getCause() != null) root = root.getCause();
      throw new StoreUnavailableException("cannot reach Redis at " + redact(uri) + ": " + root.getMessage(), e);
    }
  }

  /** The URI without its password, for logs and errors: {@code redis://:***@host:6379}. */
  public static String redact(String uri) {
    return uri == null ? null : uri.replaceAll("//[^@/]*@", "//***@");
  }
}
