package dev.anchor;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import dev.anchor.config.AnchorSettings;
import dev.anchor.config.StoreUnavailableException;
import dev.anchor.queue.EmbeddedRedis;
import dev.anchor.queue.RedisConnector;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import org.apache.pekko.actor.typed.ActorSystem;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The two stores a JVM needs: Redis for every role (the job queue), MongoDB for coordinators (the journal).
 * Embedded defaults run the same client code as production, only against servers this JVM started.
 */
public final class Stores implements AutoCloseable {
  private final EmbeddedRedis embeddedRedis;
  private final String redisUri;
  private final RedisClient redisClient;
  private final StatefulRedisConnection<String, String> redisCheck;
  private final boolean needsMongo;
  private final AtomicBoolean closed = new AtomicBoolean();

  private Stores(EmbeddedRedis embeddedRedis, String redisUri, RedisClient client,
                 StatefulRedisConnection<String, String> check, boolean needsMongo) {
    this.embeddedRedis = embeddedRedis;
    this.redisUri = redisUri;
    this.redisClient = client;
    this.redisCheck = check;
    this.needsMongo = needsMongo;
  }

  static Stores open(AnchorSettings settings, boolean needsMongo) throws IOException {
    EmbeddedRedis embedded = null;
    String uri = settings.redisUri();
    if (settings.embeddedRedis()) {
      embedded = EmbeddedRedis.start(settings.dataDir());
      uri = embedded.uri();
    }
    RedisClient client = RedisConnector.client(uri);
    try {
      StatefulRedisConnection<String, String> check = RedisConnector.connectChecked(client, uri);
      return new Stores(embedded, uri, client, check, needsMongo);
    } catch (RuntimeException e) {
      client.shutdown();
      if (embedded != null) embedded.close();
      throw e;
    }
  }

  /** Settings the actor system must see: the Redis URI actually in use (an embedded server's port is chosen now). */
  Config configOverrides() {
    return ConfigFactory.empty().withValue("anchor.redis.uri", ConfigValueFactory.fromAnyRef(redisUri));
  }

  /** Opens the MongoDB side inside the actor system and fails fast when it is unreachable. */
  void attach(ActorSystem<?> system) {
    if (!needsMongo) return;
    try {
      dev.anchor.persistence.mongo.MongoStore.get(system).ping();
    } catch (dev.anchor.persistence.mongo.MongoStoreUnavailableException e) {
      throw new StoreUnavailableException(e.getMessage(), e);
    }
  }

  public String redisUri() {
    return redisUri;
  }

  public RedisClient redisClient() {
    return redisClient;
  }

  public boolean redisHealthy() {
    try {
      return "PONG".equals(redisCheck.sync().ping());
    } catch (RuntimeException e) {
      return false;
    }
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) return;
    try {
      redisCheck.close();
      redisClient.shutdown();
    } catch (RuntimeException ignored) {
      // closing anyway
    }
    if (embeddedRedis != null) embeddedRedis.close();
  }
}
