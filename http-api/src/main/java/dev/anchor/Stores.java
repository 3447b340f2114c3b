package dev.anchor;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import dev.anchor.config.AnchorSettings;
import dev.anchor.config.StoreUnavailableException;
import dev.anchor.queue.RedisSupervisor;
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
  private final RedisSupervisor embeddedRedis;
  private final String redisUri;
  private final RedisClient redisClient;
  private final StatefulRedisConnection<String, String> redisCheck;
  private final boolean needsMongo;
  private final AtomicBoolean closed = new AtomicBoolean();

  private Stores(RedisSupervisor embeddedRedis, String redisUri, RedisClient client,
                 StatefulRedisConnection<String, String> check, boolean needsMongo) {
    this.embeddedRedis = embeddedRedis;
    this.redisUri = redisUri;
    this.redisClient = client;
    this.redisCheck = check;
    this.needsMongo = needsMongo;
  }

  static Stores open(AnchorSettings settings, boolean needsMongo) throws IOException {
    RedisSupervisor embedded = null;
    String uri = settings.redisUri();
    if (settings.embeddedRedis()) {
      // supervised: killed or crashed, it is started again on the same port, password and append-only file
      embedded = RedisSupervisor.start(settings.dataDir());
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

  /** One PING, answered within the connection's command timeout; {@link StoreProbes} keeps the cached answer. */
  public boolean redisHealthy() {
    try {
      return "PONG".equals(redisCheck.sync().ping());
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** The connection of the health probe ({@link StoreProbes}), nothing else uses it. */
  StatefulRedisConnection<String, String> redisCheck() {
    return redisCheck;
  }

  /** The supervisor of the embedded redis-server; null when Redis is external (ANCHOR_REDIS_URI). */
  public RedisSupervisor embeddedRedis() {
    return embeddedRedis;
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
