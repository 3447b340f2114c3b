package dev.anchor.queue;

import dev.anchor.config.StoreUnavailableException;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import io.lettuce.core.resource.Delay;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Opens Lettuce clients on a Redis URI and turns a failure to connect into one line naming the URI
 * (its password hidden). Lettuce honours what the URI says: {@code redis://:password@host:6379},
 * {@code redis://user:password@…} (Redis 6 ACLs), {@code rediss://} for TLS with the server's
 * certificate checked against the JVM's trust store.
 */
public final class RedisConnector {
  private RedisConnector() {}

  public static RedisClient client(String uri) {
    RedisURI parsed;
    try {
      parsed = RedisURI.create(uri);
    } catch (RuntimeException e) {
      throw new StoreUnavailableException(
          "invalid Redis URI " + redact(uri) + ": " + e.getMessage(), e);
    }
    parsed.setTimeout(Duration.ofSeconds(10));
    // Lettuce reconnects by itself, by default after delays doubling up to 30 s: a Redis back after
    // ten seconds would
    // wait up to another ten. Capped at a second, every connection is back within a second of the
    // server.
    ClientResources resources =
        DefaultClientResources.builder()
            .reconnectDelay(
                Delay.exponential(
                    Duration.ofMillis(10), Duration.ofSeconds(1), 2, TimeUnit.MILLISECONDS))
            .build();
    RedisClient client = new OwningClient(resources, parsed);
    client.setOptions(
        ClientOptions.builder()
            .socketOptions(
                SocketOptions.builder()
                    .connectTimeout(Duration.ofSeconds(5))
                    .keepAlive(true)
                    .build())
            .timeoutOptions(TimeoutOptions.enabled(Duration.ofSeconds(10)))
            // a command issued while the connection is down fails at once rather than waiting in an
            // unbounded buffer
            // for its timeout: the caller decides (a task retries its dispatch on a timer, a reader
            // loop waits a second)
            .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
            .build());
    return client;
  }

  /** A client that shuts down the resources (event loops, reconnect timer) it was made with. */
  private static final class OwningClient extends RedisClient {
    OwningClient(ClientResources resources, RedisURI uri) {
      super(resources, uri);
    }

    @Override
    public CompletableFuture<Void> shutdownAsync(
        long quietPeriod, long timeout, TimeUnit timeUnit) {
      return super.shutdownAsync(quietPeriod, timeout, timeUnit)
          .thenCompose(
              v -> {
                CompletableFuture<Void> done = new CompletableFuture<>();
                getResources()
                    .shutdown(quietPeriod, timeout, timeUnit)
                    .addListener(f -> done.complete(null));
                return done;
              });
    }
  }

  /** Connects and PINGs, or throws {@link StoreUnavailableException} within about five seconds. */
  public static StatefulRedisConnection<String, String> connectChecked(
      RedisClient client, String uri) {
    try {
      StatefulRedisConnection<String, String> c = client.connect();
      c.sync().ping();
      return c;
    } catch (RuntimeException e) {
      Throwable root = e;
      while (root.getCause() != null) root = root.getCause();
      throw new StoreUnavailableException(
          "cannot reach Redis at " + redact(uri) + ": " + root.getMessage(), e);
    }
  }

  /** The URI without its password, for logs and errors: {@code redis://:***@host:6379}. */
  public static String redact(String uri) {
    return uri == null ? null : uri.replaceAll("//[^@/]*@", "//***@");
  }
}
