package dev.anchor.queue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the standalone's embedded redis-server running: when it exits without being asked to
 * (killed, crashed, out of memory), a new one is started on the same port, password and append-only
 * file, so every Lettuce connection reconnects to it by itself and finds the jobs the file kept.
 * Restarts back off from {@code minBackoff} to {@code maxBackoff} while they keep failing (a port
 * taken meanwhile, a full disk) and start short again once a server stayed up for a minute.
 */
public final class RedisSupervisor implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RedisSupervisor.class);
  private static final Duration STABLE_AFTER = Duration.ofMinutes(1);

  private final Duration minBackoff;
  private final Duration maxBackoff;
  private final ScheduledExecutorService restarter =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "anchor-redis-supervisor");
            t.setDaemon(true);
            return t;
          });
  private final AtomicInteger restarts = new AtomicInteger();
  private volatile EmbeddedRedis current;
  private volatile long startedAtNanos;
  private volatile boolean closed;
  private Duration backoff;

  private RedisSupervisor(EmbeddedRedis first, Duration minBackoff, Duration maxBackoff) {
    this.current = first;
    this.minBackoff = minBackoff;
    this.maxBackoff = maxBackoff;
    this.backoff = minBackoff;
    this.startedAtNanos = System.nanoTime();
  }

  /** Starts the embedded redis-server in {@code dataDir} and watches it. */
  public static RedisSupervisor start(Path dataDir) throws IOException {
    return start(dataDir, Duration.ofMillis(200), Duration.ofSeconds(10));
  }

  /**
   * Starts it listening on {@code bind} at {@code port} (see {@link EmbeddedRedis#start(Path,
   * String, int)}).
   */
  public static RedisSupervisor start(Path dataDir, String bind, int port) throws IOException {
    return start(
        EmbeddedRedis.start(dataDir, bind, port), Duration.ofMillis(200), Duration.ofSeconds(10));
  }

  public static RedisSupervisor start(Path dataDir, Duration minBackoff, Duration maxBackoff)
      throws IOException {
    return start(EmbeddedRedis.start(dataDir), minBackoff, maxBackoff);
  }

  private static RedisSupervisor start(
      EmbeddedRedis first, Duration minBackoff, Duration maxBackoff) {
    RedisSupervisor s = new RedisSupervisor(first, minBackoff, maxBackoff);
    s.watch(s.current);
    return s;
  }

  private void watch(EmbeddedRedis redis) {
    redis
        .exited()
        .thenAccept(
            p -> {
              if (closed) return;
              log.error(
                  "embedded redis-server pid {} exited with code {}; restarting it on port {} from its append-only file",
                  p.pid(),
                  p.exitValue(),
                  redis.port());
              restarter.execute(() -> restart(redis));
            });
  }

  /** Runs on the restarter thread only. */
  private void restart(EmbeddedRedis dead) {
    if (closed) return;
    if (System.nanoTime() - startedAtNanos > STABLE_AFTER.toNanos()) backoff = minBackoff;
    Duration wait = backoff;
    backoff =
        backoff.multipliedBy(2).compareTo(maxBackoff) > 0 ? maxBackoff : backoff.multipliedBy(2);
    try {
      TimeUnit.MILLISECONDS.sleep(wait.toMillis());
    } catch (InterruptedException e) {
      return; // closing
    }
    if (closed) return;
    try {
      EmbeddedRedis next = dead.restarted();
      current = next;
      startedAtNanos = System.nanoTime();
      int n = restarts.incrementAndGet();
      log.warn(
          "embedded redis-server restarted (restart {}) as pid {} on port {}",
          n,
          next.pid(),
          next.port());
      if (closed) {
        next.close();
        return;
      }
      watch(next);
    } catch (IOException | RuntimeException e) {
      log.error(
          "restarting the embedded redis-server failed, trying again in {}: {}",
          backoff,
          e.toString());
      if (!closed) restarter.execute(() -> restart(dead));
    }
  }

  /** The URI of the server, the same across restarts. */
  public String uri() {
    return current.uri();
  }

  /** The URI with another host, for clients on other machines. */
  public String uri(String host) {
    return current.uri(host);
  }

  public int port() {
    return current.port();
  }

  /**
   * The pid of the redis-server running now (or the one that just died, until its successor is up).
   */
  public long pid() {
    return current.pid();
  }

  /** How many times the server was restarted since this JVM started it. */
  public int restarts() {
    return restarts.get();
  }

  @Override
  public void close() {
    closed = true;
    restarter.shutdownNow();
    try {
      restarter.awaitTermination(25, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    current.close();
  }
}
