package dev.anchor.persistence.mongo;

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import dev.anchor.persistence.mongo.h2.BsonH2Backend;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.h2.mvstore.MVStore;

/**
 * An in-process MongoDB wire-protocol server (mongo-java-server) bound to loopback, so a single
 * node runs without an external MongoDB. The file variant keeps its data in an H2 MVStore file
 * ({@code <data-dir>/mongo.mv}) that survives restarts (documents as BSON, see {@link
 * BsonH2Backend}); the in-memory variant is for tests and benchmarks.
 */
public final class EmbeddedMongoServer implements AutoCloseable {

  /** The data file name inside the data directory. */
  public static final String FILE_NAME = "mongo.mv";

  /**
   * When the file is forced to disk; what a power cut can lose (a kill -9 loses nothing under any
   * of them).
   */
  public enum FsyncPolicy {
    /** after every commit: nothing acknowledged is lost */
    ALWAYS,
    /** once a second, if anything was committed: up to about a second */
    EVERYSEC,
    /** never explicitly: whatever the OS had not written back */
    OFF;

    public static FsyncPolicy parse(String value) {
      try {
        return valueOf(value.trim().toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "anchor.mongo.embedded-fsync must be always, everysec or off, not \"" + value + "\"");
      }
    }
  }

  private MongoServer server;
  private boolean paused;
  private final MongoBackend backend;
  private final BsonH2Backend h2;
  private final Path file;
  private final InetSocketAddress address;
  private final FsyncPolicy fsync;
  private final AtomicBoolean unsynced = new AtomicBoolean();
  private final ScheduledExecutorService syncer;
  private volatile boolean closed;

  private EmbeddedMongoServer(
      MongoBackend backend, BsonH2Backend h2, Path file, String host, int port, FsyncPolicy fsync) {
    this.backend = backend;
    this.h2 = h2;
    this.file = file;
    this.fsync = fsync;
    this.server = new MongoServer(backend);
    try {
      server.bind(host, port);
    } catch (RuntimeException e) {
      backend.close();
      throw e;
    }
    this.address = server.getLocalAddress();
    if (h2 != null && fsync == FsyncPolicy.EVERYSEC) {
      syncer =
          Executors.newSingleThreadScheduledExecutor(
              r -> {
                Thread t = new Thread(r, "anchor-embedded-fsync");
                t.setDaemon(true);
                return t;
              });
      syncer.scheduleWithFixedDelay(this::syncIfCommitted, 1, 1, TimeUnit.SECONDS);
    } else {
      syncer = null;
    }
  }

  private void syncIfCommitted() {
    if (unsynced.getAndSet(false) && !closed) {
      try {
        h2.sync();
      } catch (RuntimeException e) {
        unsynced.set(true); // closing, or the disk failed: the next tick (or close) tries again
      }
    }
  }

  /** Starts an in-memory server on a free loopback port; everything is lost on {@link #close()}. */
  public static EmbeddedMongoServer inMemory() {
    return new EmbeddedMongoServer(
        new MemoryBackend(), null, null, "127.0.0.1", 0, FsyncPolicy.OFF);
  }

  /**
   * Starts a file-backed server on a free loopback port with its data in {@code
   * <dataDir>/mongo.mv}.
   */
  public static EmbeddedMongoServer inDirectory(Path dataDir) {
    return inDirectory(dataDir, 0);
  }

  /** Starts a file-backed server on the given loopback port (0 = any free port). */
  public static EmbeddedMongoServer inDirectory(Path dataDir, int port) {
    return inDirectory(dataDir, port, FsyncPolicy.EVERYSEC);
  }

  /**
   * Starts a file-backed server on the given loopback port (0 = any free port), forcing it to disk
   * as told.
   */
  public static EmbeddedMongoServer inDirectory(Path dataDir, int port, FsyncPolicy fsync) {
    try {
      Files.createDirectories(dataDir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create data directory " + dataDir.toAbsolutePath(), e);
    }
    Path file = dataDir.resolve(FILE_NAME).toAbsolutePath();
    MVStore store =
        new MVStore.Builder()
            .fileName(file.toString())
            // Larger write buffer and cache: the journal writes in batches, and the default 1 MB
            // auto-commit
            // buffer makes MVStore write pages to disk far more often than needed.
            .autoCommitBufferSize(16 * 1024)
            .cacheSize(64)
            .open();
    BsonH2Backend h2;
    try {
      h2 = new BsonH2Backend(store);
    } catch (RuntimeException e) {
      store.close();
      throw e;
    }
    return new EmbeddedMongoServer(h2, h2, file, "127.0.0.1", port, fsync);
  }

  /** {@code mongodb://127.0.0.1:<port>} */
  public String connectionString() {
    return "mongodb://" + address.getHostString() + ":" + address.getPort();
  }

  public int port() {
    return address.getPort();
  }

  /** The MVStore file, when file-backed. */
  public Optional<Path> file() {
    return Optional.ofNullable(file);
  }

  /**
   * Writes everything acknowledged so far to the file. MVStore otherwise commits in the background
   * about once a second, so without this a crash (not a clean close) could lose the last second of
   * acknowledged writes.
   */
  public void commit() {
    if (h2 != null && !closed) {
      h2.commit();
      if (fsync == FsyncPolicy.ALWAYS) {
        h2.sync();
      } else {
        unsynced.set(true);
      }
    }
  }

  /**
   * Drills only ({@code anchor.chaos}): stops accepting connections and drops the open ones, as an
   * unreachable MongoDB would, keeping the data; {@link #resumeListener()} opens the same port
   * again. mongo-java-server has no public call that drops its clients without closing the backend,
   * so its own private one is used.
   */
  public synchronized void pauseListener() {
    if (paused || closed) {
      return;
    }
    paused = true;
    server.stopListening();
    try {
      java.lang.reflect.Method closeClients = MongoServer.class.getDeclaredMethod("closeClients");
      closeClients.setAccessible(true);
      closeClients.invoke(server);
      for (String group : new String[] {"bossGroup", "workerGroup"}) {
        java.lang.reflect.Field f = MongoServer.class.getDeclaredField(group);
        f.setAccessible(true);
        if (f.get(server) instanceof io.netty.channel.EventLoopGroup g) {
          g.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
        }
      }
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot drop the embedded MongoDB server's connections", e);
    }
  }

  /** Listens again on the same port after {@link #pauseListener()}. */
  public synchronized void resumeListener() {
    if (!paused || closed) {
      return;
    }
    MongoServer next = new MongoServer(backend);
    next.bind(address.getHostString(), address.getPort());
    server = next;
    paused = false;
  }

  public synchronized boolean paused() {
    return paused;
  }

  /**
   * Stops listening, then closes the store (which commits and compacts the H2 file). Idempotent.
   */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (syncer != null) {
      syncer.shutdownNow();
    }
    try {
      server.shutdownNow(); // also closes the backend
    } catch (RuntimeException e) {
      backend.close();
      throw e;
    }
  }

  @Override
  public String toString() {
    return "EmbeddedMongoServer["
        + connectionString()
        + (file == null ? ", in-memory" : ", " + file)
        + "]";
  }
}
