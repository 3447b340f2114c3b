package dev.anchor.boot;

import dev.anchor.persistence.mongo.EmbeddedMongoServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fault injection for drills and tests ({@code anchor.chaos.enabled}, ANCHOR_CHAOS=on, never in
 * production): while the file {@code <data-dir>/chaos/mongo-unreachable} exists, the embedded
 * MongoDB server stops listening and drops its connections, so the node sees its journal
 * unreachable exactly as with a real outage; deleting the file brings the listener back on the same
 * port. A file, not an API route, so nothing reachable over the network can turn it on.
 */
final class ChaosSwitch implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ChaosSwitch.class);
  static final String MONGO_UNREACHABLE = "mongo-unreachable";

  private final ScheduledExecutorService poller =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "anchor-chaos-switch");
            t.setDaemon(true);
            return t;
          });

  private ChaosSwitch(Path dir, EmbeddedMongoServer mongo) {
    Path flag = dir.resolve(MONGO_UNREACHABLE);
    poller.scheduleWithFixedDelay(
        () -> {
          try {
            boolean down = Files.exists(flag);
            if (down && !mongo.paused()) {
              log.warn("CHAOS: {} exists, the embedded MongoDB server stops listening", flag);
              mongo.pauseListener();
            } else if (!down && mongo.paused()) {
              mongo.resumeListener();
              log.warn("CHAOS: {} removed, the embedded MongoDB server listens again", flag);
            }
          } catch (RuntimeException e) {
            log.warn("CHAOS: switching the embedded MongoDB server failed: {}", e.toString());
          }
        },
        100,
        100,
        TimeUnit.MILLISECONDS);
  }

  /** Starts watching when chaos is on and the journal is the embedded server; null otherwise. */
  static ChaosSwitch startIfEnabled(
      boolean enabled, Path dataDir, java.util.Optional<EmbeddedMongoServer> mongo) {
    if (!enabled) return null;
    if (mongo.isEmpty()) {
      log.warn("CHAOS is on but MongoDB is not the embedded server: nothing to switch");
      return null;
    }
    Path dir = dataDir.resolve("chaos");
    try {
      Files.createDirectories(dir);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    log.warn(
        "CHAOS is on (ANCHOR_CHAOS): creating {}/{} makes the embedded MongoDB unreachable",
        dir,
        MONGO_UNREACHABLE);
    return new ChaosSwitch(dir, mongo.get());
  }

  @Override
  public void close() {
    poller.shutdownNow();
  }
}
