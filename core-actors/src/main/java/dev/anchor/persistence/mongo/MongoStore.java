package dev.anchor.persistence.mongo;

import com.mongodb.ConnectionString;
import com.mongodb.MongoClientSettings;
import com.mongodb.MongoException;
import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import com.mongodb.client.MongoDatabase;
import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.AbstractExtensionId;
import org.apache.pekko.actor.ClassicActorSystemProvider;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.Extension;
import org.apache.pekko.actor.ExtensionIdProvider;
import org.bson.Document;
import org.bson.UuidRepresentation;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One MongoDB client per actor system, shared by the journal, the snapshot store and anyone else
 * who needs MongoDB. {@code anchor.mongo.uri = "embedded"} starts an {@link EmbeddedMongoServer}
 * with its file in {@code <anchor.data-dir>/mongo.mv}; {@code "embedded-memory"} starts an
 * in-memory one (tests, benchmarks); anything else is a MongoDB connection string. Creating the
 * extension pings the server, so {@code MongoStore.get(system)} at startup fails fast (within
 * {@code anchor.mongo.server-selection-timeout}) with a {@link MongoStoreUnavailableException}
 * naming the URI. Everything is closed when the actor system terminates.
 */
public final class MongoStore implements Extension {

  public static final String EMBEDDED = "embedded";
  public static final String EMBEDDED_MEMORY = "embedded-memory";

  private static final Logger log = LoggerFactory.getLogger(MongoStore.class);

  public static final Id ID = new Id();

  public static final class Id extends AbstractExtensionId<MongoStore>
      implements ExtensionIdProvider {
    private Id() {}

    @Override
    public MongoStore createExtension(ExtendedActorSystem system) {
      MongoStore store = open(system.settings().config());
      system.registerOnTermination(store::close);
      return store;
    }

    @Override
    public Id lookup() {
      return ID;
    }
  }

  /** The store of this actor system (typed or classic), created and connected on first use. */
  public static MongoStore get(ClassicActorSystemProvider system) {
    return ID.get(system.classicSystem());
  }

  private final MongoClient client;
  private final MongoDatabase database;
  private final EmbeddedMongoServer embedded;
  private final String description;
  private final Duration timeout;
  private final String connection;
  private volatile boolean closed;

  private MongoStore(
      MongoClient client,
      String databaseName,
      EmbeddedMongoServer embedded,
      String description,
      Duration timeout,
      String connection) {
    this.connection = connection;
    this.client = client;
    this.database = client.getDatabase(databaseName);
    this.embedded = embedded;
    this.description = description;
    this.timeout = timeout;
  }

  /**
   * Opens a store outside of an actor system (tools, benchmarks), reading the {@code anchor.*} keys
   * of the given configuration; the caller closes it.
   */
  public static MongoStore open(Config config) {
    Config mongo = config.getConfig("anchor.mongo");
    String uri = mongo.getString("uri").trim();
    String databaseName = mongo.getString("database");
    Duration timeout =
        mongo.hasPath("server-selection-timeout")
            ? mongo.getDuration("server-selection-timeout")
            : Duration.ofSeconds(5);
    EmbeddedMongoServer embedded = null;
    String description;
    String connection;
    if (uri.equals(EMBEDDED) || uri.equals(EMBEDDED_MEMORY)) {
      try {
        embedded =
            uri.equals(EMBEDDED)
                ? EmbeddedMongoServer.inDirectory(
                    Path.of(config.getString("anchor.data-dir")),
                    0,
                    EmbeddedMongoServer.FsyncPolicy.parse(
                        mongo.hasPath("embedded-fsync")
                            ? mongo.getString("embedded-fsync")
                            : "everysec"))
                : EmbeddedMongoServer.inMemory();
      } catch (RuntimeException e) {
        throw new MongoStoreUnavailableException(
            "cannot start the embedded MongoDB server (anchor.mongo.uri = \""
                + uri
                + "\", anchor.data-dir = \""
                + config.getString("anchor.data-dir")
                + "\"): "
                + e.getMessage(),
            e);
      }
      connection = embedded.connectionString();
      description = embedded.toString();
      log.info("started {}", embedded);
    } else {
      connection = uri;
      description = "MongoDB at " + redact(uri);
    }
    MongoClient client;
    try {
      MongoClientSettings settings =
          MongoClientSettings.builder()
              .applyConnectionString(new ConnectionString(connection))
              .uuidRepresentation(UuidRepresentation.STANDARD)
              .applyToClusterSettings(
                  b -> b.serverSelectionTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS))
              .applyToSocketSettings(
                  b -> b.connectTimeout((int) timeout.toMillis(), TimeUnit.MILLISECONDS))
              .build();
      client = MongoClients.create(settings);
    } catch (RuntimeException e) {
      if (embedded != null) {
        embedded.close();
      }
      throw new MongoStoreUnavailableException(
          "invalid MongoDB connection string in anchor.mongo.uri ("
              + redact(uri)
              + "): "
              + e.getMessage(),
          e);
    }
    MongoStore store =
        new MongoStore(client, databaseName, embedded, description, timeout, connection);
    try {
      store.ping();
    } catch (RuntimeException e) {
      store.close();
      throw e;
    }
    return store;
  }

  public MongoClient client() {
    return client;
  }

  public MongoDatabase database() {
    return database;
  }

  /**
   * The embedded server, when {@code anchor.mongo.uri} is {@code embedded} or {@code
   * embedded-memory}.
   */
  public Optional<EmbeddedMongoServer> embedded() {
    return Optional.ofNullable(embedded);
  }

  /**
   * Round trip to the server; throws {@link MongoStoreUnavailableException} naming the store when
   * unreachable.
   */
  public void ping() {
    try {
      database.runCommand(new Document("ping", 1));
    } catch (MongoException e) {
      throw new MongoStoreUnavailableException(
          description
              + " (anchor.mongo.uri) is unreachable within "
              + timeout.toMillis()
              + " ms: "
              + e.getMessage(),
          e);
    }
  }

  /**
   * A client of its own for a health probe: every call fails within {@code timeout} when the server
   * is unreachable or does not answer, where the store's client waits for the server-selection
   * timeout (seconds). The caller closes it.
   */
  public MongoClient probeClient(Duration timeout) {
    int ms = (int) timeout.toMillis();
    return MongoClients.create(
        MongoClientSettings.builder()
            .applyConnectionString(new ConnectionString(connection))
            .applyToClusterSettings(b -> b.serverSelectionTimeout(ms, TimeUnit.MILLISECONDS))
            .applyToSocketSettings(
                b ->
                    b.connectTimeout(ms, TimeUnit.MILLISECONDS)
                        .readTimeout(ms, TimeUnit.MILLISECONDS))
            .applyToServerSettings(
                b ->
                    b.heartbeatFrequency(Math.max(500, ms), TimeUnit.MILLISECONDS)
                        .minHeartbeatFrequency(100, TimeUnit.MILLISECONDS))
            .build());
  }

  public String databaseName() {
    return database.getName();
  }

  /**
   * Makes acknowledged writes durable where the server needs to be told (the embedded H2 file); a
   * no-op for a real MongoDB and the in-memory server.
   */
  public void flush() {
    if (embedded != null && !closed) {
      embedded.commit();
    }
  }

  public String description() {
    return description;
  }

  /** Closes the client and, if embedded, the server and its file. Idempotent. */
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      client.close();
    } finally {
      if (embedded != null) {
        embedded.close();
        log.info("stopped {}", embedded);
      }
    }
  }

  @Override
  public String toString() {
    return "MongoStore[" + description + "]";
  }

  /** The URI without user name and password, for messages. */
  static String redact(String uri) {
    try {
      ConnectionString cs = new ConnectionString(uri);
      String scheme = uri.startsWith("mongodb+srv://") ? "mongodb+srv://" : "mongodb://";
      return scheme
          + String.join(",", cs.getHosts())
          + "/"
          + (cs.getDatabase() == null ? "" : cs.getDatabase());
    } catch (RuntimeException e) {
      return uri.replaceAll("//[^@/]*@", "//***@");
    }
  }
}
