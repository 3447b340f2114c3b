package dev.anchor.queue;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real redis-server (the embedded one standalone mode runs) for the tests of one class, with a
 * client and one connection, stopped after the class also when a test fails:
 *
 * <pre>{@code
 * @RegisterExtension static final RealRedis redis = new RealRedis();
 * }</pre>
 *
 * The class's own {@code @AfterAll} runs first, so what it built on the client is closed before the
 * client is.
 */
public final class RealRedis implements BeforeAllCallback, AfterAllCallback {
  private Path dir;
  private EmbeddedRedis server;
  private RedisClient client;
  private StatefulRedisConnection<String, String> connection;

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    dir = Files.createTempDirectory("anchor-redis-test-");
    server = EmbeddedRedis.start(dir);
    client = RedisConnector.client(server.uri());
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    if (connection != null) connection.close();
    if (client != null) client.shutdown();
    if (server != null) server.close();
    connection = null;
    client = null;
    server = null;
    if (dir != null) {
      try (var files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  /** redis://… with the server's port and password. */
  public String uri() {
    return server.uri();
  }

  public RedisClient client() {
    return client;
  }

  /** One connection of the class's tests, opened at first use. */
  public synchronized StatefulRedisConnection<String, String> connection() {
    if (connection == null) connection = client.connect();
    return connection;
  }
}
