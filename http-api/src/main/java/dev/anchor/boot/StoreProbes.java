package dev.anchor.boot;

import com.mongodb.client.MongoClient;
import dev.anchor.persistence.mongo.MongoStore;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.bson.Document;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether Redis and MongoDB answer, checked every {@code every} with a short timeout on connections
 * of its own and kept here, so {@code GET /health} and the submit routes answer from memory at once
 * whatever is down (a synchronous ping of a dead store waits for the driver's timeouts, seconds).
 * Also notices a Redis that came back, or restarted between two probes (its {@code run_id}
 * changed), and tells {@code onRedisBack}: the server may have lost its last writes, so the
 * coordinator checks its open tasks' jobs against the journal.
 */
final class StoreProbes implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StoreProbes.class);

  /** One store's last probe: {@code ok}, else what failed; {@code sinceMs} when it last changed. */
  record Probe(boolean ok, String error, long checkedAtMs, long sinceMs) {
    static final Probe UNKNOWN = new Probe(true, null, 0, 0);

    Probe next(boolean nowOk, String err, long now) {
      return new Probe(nowOk, err, now, nowOk == ok ? sinceMs : now);
    }
  }

  private final StatefulRedisConnection<String, String> redis;
  private final MongoClient mongo;
  private final String mongoDatabase;
  private final Duration timeout;
  private final Consumer<String> onRedisBack;
  private final ScheduledExecutorService probes =
      Executors.newScheduledThreadPool(
          2,
          r -> {
            Thread t = new Thread(r, "anchor-store-probe");
            t.setDaemon(true);
            return t;
          });
  private volatile Probe redisProbe = Probe.UNKNOWN;
  private volatile Probe mongoProbe = Probe.UNKNOWN;
  private volatile String redisRunId;

  /**
   * Probes in a row that got no answer in time. A store that refuses connections is down at once,
   * but one slow answer is as likely a starved machine (a busy CPU, a long GC) as a dead store, and
   * calling it down turns every submit away and sets off a check of every open task: only a second
   * timeout in a row counts.
   */
  private int redisTimeouts;

  private int mongoTimeouts;

  /**
   * @param mongoStore null where this JVM has no journal (a worker)
   */
  StoreProbes(
      Stores stores,
      MongoStore mongoStore,
      Duration every,
      Duration timeout,
      Consumer<String> onRedisBack) {
    this.redis = stores.redisCheck();
    this.redis.setTimeout(timeout);
    this.mongo = mongoStore == null ? null : mongoStore.probeClient(timeout);
    this.mongoDatabase = mongoStore == null ? null : mongoStore.databaseName();
    this.timeout = timeout;
    this.onRedisBack = onRedisBack;
    probeRedis();
    if (mongo != null) probeMongo();
    probes.scheduleWithFixedDelay(
        this::probeRedis, every.toMillis(), every.toMillis(), TimeUnit.MILLISECONDS);
    if (mongo != null) {
      probes.scheduleWithFixedDelay(
          this::probeMongo, every.toMillis(), every.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  Probe redis() {
    return redisProbe;
  }

  /** Always ok where there is no journal. */
  Probe mongo() {
    return mongoProbe;
  }

  private void probeRedis() {
    long now = System.currentTimeMillis();
    String runId = null;
    String error = null;
    try {
      String info = redis.async().info("server").get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      runId = field(info, "run_id");
    } catch (java.util.concurrent.TimeoutException e) {
      if (++redisTimeouts < 2) return;
      error = "no answer within " + timeout.toMillis() + " ms, twice in a row";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    } catch (Exception e) {
      Throwable t =
          e instanceof java.util.concurrent.ExecutionException && e.getCause() != null
              ? e.getCause()
              : e;
      error = t.getMessage() == null ? t.toString() : t.getMessage();
    }
    if (error == null) redisTimeouts = 0;
    Probe before = redisProbe;
    redisProbe = before.next(error == null, error, now);
    if (error != null) {
      if (before.ok()) log.warn("Redis is unreachable: {}", error);
      return;
    }
    String previous = redisRunId;
    redisRunId = runId;
    String why = null;
    if (!before.ok()) why = "Redis answers again after " + (now - before.sinceMs()) + " ms";
    else if (previous != null && runId != null && !previous.equals(runId))
      why = "Redis restarted (new run_id)";
    if (why != null) {
      log.warn("{}: checking every open task's job against the journal", why);
      try {
        onRedisBack.accept(why);
      } catch (RuntimeException e) {
        log.warn("could not start the check of open tasks: {}", e.toString());
      }
    }
  }

  private void probeMongo() {
    long now = System.currentTimeMillis();
    String error = null;
    try {
      mongo.getDatabase(mongoDatabase).runCommand(new Document("ping", 1));
    } catch (com.mongodb.MongoTimeoutException | com.mongodb.MongoSocketReadTimeoutException e) {
      if (++mongoTimeouts < 2) return;
      error = withoutClusterView("no answer in time, twice in a row: " + e.getMessage());
    } catch (RuntimeException e) {
      error = withoutClusterView(e.getMessage() == null ? e.toString() : e.getMessage());
    }
    if (error == null) mongoTimeouts = 0;
    Probe before = mongoProbe;
    mongoProbe = before.next(error == null, error, now);
    if (error != null && before.ok()) log.warn("MongoDB is unreachable: {}", error);
    if (error == null && !before.ok())
      log.warn("MongoDB answers again after {} ms", now - before.sinceMs());
  }

  /** The driver's message without its long dump of the cluster's state. */
  private static String withoutClusterView(String message) {
    int cut = message.indexOf(". Client view of cluster state");
    return cut > 0 ? message.substring(0, cut) : message;
  }

  private static String field(String info, String name) {
    for (String line : info.split("\r?\n")) {
      if (line.startsWith(name + ":")) return line.substring(name.length() + 1).trim();
    }
    return null;
  }

  @Override
  public void close() {
    probes.shutdownNow();
    if (mongo != null) mongo.close();
  }
}
