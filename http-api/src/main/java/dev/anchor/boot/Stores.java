package dev.anchor.boot;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import dev.anchor.config.AnchorSettings;
import dev.anchor.config.StoreUnavailableException;
import dev.anchor.queue.QueueAddress;
import dev.anchor.queue.RedisConnector;
import dev.anchor.queue.RedisSupervisor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * The two stores a JVM needs: Redis for every role (the job queue), MongoDB for coordinators (the
 * journal). Embedded defaults run the same client code as production, only against servers this JVM
 * started.
 */
public final class Stores implements AutoCloseable {
  private final RedisSupervisor embeddedRedis;
  private final String redisUri;
  private final RedisClient redisClient;
  private final StatefulRedisConnection<String, String> redisCheck;
  private final boolean needsMongo;
  private final QueueAddress.Address workerAddress;
  private final AtomicBoolean closed = new AtomicBoolean();

  private Stores(
      RedisSupervisor embeddedRedis,
      String redisUri,
      RedisClient client,
      StatefulRedisConnection<String, String> check,
      boolean needsMongo,
      QueueAddress.Address workerAddress) {
    this.embeddedRedis = embeddedRedis;
    this.redisUri = redisUri;
    this.redisClient = client;
    this.redisCheck = check;
    this.needsMongo = needsMongo;
    this.workerAddress = workerAddress;
  }

  /**
   * Where an embedded Redis listens: {@code bind} (an address, or 0.0.0.0) and {@code port} (0 =
   * the kept one).
   */
  record EmbeddedListen(String bind, int port, String advertisedHost) {
    static final EmbeddedListen LOOPBACK = new EmbeddedListen("127.0.0.1", 0, "127.0.0.1");

    /**
     * {@code configuredBind} empty = the cluster host: the embedded Redis is reachable exactly
     * where the cluster port is, so a standalone opened to other machines (ANCHOR_CLUSTER_HOST)
     * lets their workers reach its queue too.
     */
    static EmbeddedListen of(String configuredBind, int port, String clusterHost) {
      String bind =
          configuredBind == null || configuredBind.isBlank() ? clusterHost : configuredBind.trim();
      try {
        bind = java.net.InetAddress.getByName(bind).getHostAddress();
      } catch (java.net.UnknownHostException e) {
        throw new IllegalArgumentException(
            "ANCHOR_EMBEDDED_REDIS_BIND (or ANCHOR_CLUSTER_HOST) '"
                + bind
                + "' is not an address of this machine");
      }
      if (port < 0 || port > 65535)
        throw new IllegalArgumentException("ANCHOR_EMBEDDED_REDIS_PORT " + port + " is not a port");
      boolean wildcard = bind.equals("0.0.0.0") || bind.equals("0:0:0:0:0:0:0:0");
      return new EmbeddedListen(wildcard ? "0.0.0.0" : bind, port, wildcard ? clusterHost : bind);
    }

    boolean loopbackOnly() {
      return bind.startsWith("127.") || bind.equals("0:0:0:0:0:0:0:1");
    }
  }

  static Stores open(AnchorSettings settings, boolean needsMongo) throws IOException {
    return open(settings, needsMongo, EmbeddedListen.LOOPBACK);
  }

  static Stores open(AnchorSettings settings, boolean needsMongo, EmbeddedListen listen)
      throws IOException {
    RedisSupervisor embedded = null;
    String uri = settings.redisUri();
    QueueAddress.Address forWorkers = new QueueAddress.Address(uri, "");
    if (settings.embeddedRedis()) {
      // supervised: killed or crashed, it is started again on the same port, password and
      // append-only file
      embedded = RedisSupervisor.start(settings.dataDir(), listen.bind(), listen.port());
      uri = embedded.uri();
      forWorkers =
          new QueueAddress.Address(
              embedded.uri(listen.advertisedHost()),
              listen.loopbackOnly()
                  ? "the standalone's embedded Redis listens on "
                      + listen.bind()
                      + " only (workers on this machine reach it, "
                      + "others do not): start the standalone with ANCHOR_CLUSTER_HOST=<an address of it that workers reach> "
                      + "(its Redis then listens there too) or ANCHOR_EMBEDDED_REDIS_BIND=0.0.0.0"
                  : "");
    }
    return connect(uri, embedded, needsMongo, forWorkers);
  }

  /** A worker's stores: the Redis it learned from the cluster (or was given), nothing embedded. */
  static Stores open(String redisUri) {
    return connect(redisUri, null, false, new QueueAddress.Address(redisUri, ""));
  }

  private static Stores connect(
      String uri, RedisSupervisor embedded, boolean needsMongo, QueueAddress.Address forWorkers) {
    RedisClient client = RedisConnector.client(uri);
    try {
      StatefulRedisConnection<String, String> check = RedisConnector.connectChecked(client, uri);
      return new Stores(embedded, uri, client, check, needsMongo, forWorkers);
    } catch (RuntimeException e) {
      client.shutdown();
      if (embedded != null) embedded.close();
      throw e;
    }
  }

  /** What a coordinator tells workers that ask where the queue is (see {@link QueueAddress}). */
  QueueAddress.Address workerAddress() {
    return workerAddress;
  }

  /**
   * Settings the actor system must see: the Redis URI actually in use (an embedded server's port is
   * chosen now).
   */
  Config configOverrides() {
    return ConfigFactory.empty()
        .withValue("anchor.redis.uri", ConfigValueFactory.fromAnyRef(redisUri));
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

  /**
   * One PING, answered within the connection's command timeout; {@link StoreProbes} keeps the
   * cached answer.
   */
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

  /**
   * The supervisor of the embedded redis-server; null when Redis is external (ANCHOR_REDIS_URI).
   */
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
