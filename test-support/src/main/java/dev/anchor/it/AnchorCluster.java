package dev.anchor.it;

import dev.anchor.persistence.mongo.EmbeddedMongoServer;
import dev.anchor.queue.EmbeddedRedis;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The JVMs of one end-to-end scenario, started through {@code ./anchor} and stopped (with the
 * stores it ran) also when the test fails: a standalone node, or a coordinator and N workers
 * sharing a real redis-server and a MongoDB-wire server run here.
 *
 * <p>As a JUnit 5 extension in a {@code static} field it starts before the first test of the class
 * and stops after the last (one node shared by the class's tests); in an instance field it starts
 * and stops around every test. Outside JUnit (the benches) call {@link #start()} and {@link
 * #close()}.
 *
 * <pre>{@code
 * @RegisterExtension
 * static final AnchorCluster cluster = AnchorCluster.coordinator().workers("w1", "w2");
 * }</pre>
 *
 * A scenario that kills and restarts JVMs uses {@link #manual()} and starts them itself with {@link
 * #startCoordinator()} and {@link #startWorker(String)}.
 */
public final class AnchorCluster
    implements BeforeAllCallback,
        AfterAllCallback,
        BeforeEachCallback,
        AfterEachCallback,
        AutoCloseable {
  /** How long a JVM may take to answer /health, and a cluster to see its workers online. */
  public static final Duration START_TIMEOUT = Duration.ofSeconds(240);

  private final boolean standalone;
  private final List<String> workerNames = new ArrayList<>();
  private final Map<String, String> env = new LinkedHashMap<>();
  private final Map<String, String> coordinatorEnv = new LinkedHashMap<>();
  private final Map<String, String> workerEnv = new LinkedHashMap<>();
  private final Map<String, Map<String, String>> oneWorkerEnv = new HashMap<>();
  private boolean manual;
  private boolean keepStores;

  private Path dir;
  private EmbeddedRedis redis;
  private EmbeddedMongoServer mongo;
  private int clusterPort;
  private int httpPort;
  private final List<AnchorProcess> processes = new ArrayList<>();
  private final Map<String, AnchorProcess> workers = new LinkedHashMap<>();
  private AnchorProcess node;
  private boolean startedForClass;

  private AnchorCluster(boolean standalone) {
    this.standalone = standalone;
  }

  /** One standalone node ({@code ./anchor standalone}) with its embedded stores. */
  public static AnchorCluster standalone() {
    return new AnchorCluster(true);
  }

  /**
   * A coordinator ({@code ./anchor coordinator}) with a redis-server and a MongoDB-wire server run
   * here; add workers with {@link #workers(String...)}.
   */
  public static AnchorCluster coordinator() {
    return new AnchorCluster(false);
  }

  /** Workers started with the coordinator, named {@code names} (ANCHOR_NODE_NAME). */
  public AnchorCluster workers(String... names) {
    workerNames.addAll(List.of(names));
    return this;
  }

  /** {@code key=value} in the environment of every JVM. */
  public AnchorCluster env(String key, String value) {
    env.put(key, value);
    return this;
  }

  /** {@code key=value} in the coordinators' environment only. */
  public AnchorCluster coordinatorEnv(String key, String value) {
    coordinatorEnv.put(key, value);
    return this;
  }

  /** {@code key=value} in every worker's environment. */
  public AnchorCluster workerEnv(String key, String value) {
    workerEnv.put(key, value);
    return this;
  }

  /** {@code key=value} in the environment of worker {@code name} alone. */
  public AnchorCluster workerEnv(String name, String key, String value) {
    oneWorkerEnv.computeIfAbsent(name, n -> new LinkedHashMap<>()).put(key, value);
    return this;
  }

  /** Only the stores (and ports) are made at start; the test starts and kills the JVMs itself. */
  public AnchorCluster manual() {
    manual = true;
    return this;
  }

  // ------------------------------------------------------------------ JUnit

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    startedForClass = true;
    start();
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    stop(context);
  }

  @Override
  public void beforeEach(ExtensionContext context) throws Exception {
    if (!startedForClass) start();
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    if (!startedForClass) stop(context);
  }

  private void stop(ExtensionContext context) throws Exception {
    boolean failed = context.getExecutionException().isPresent();
    if (failed) {
      keepStores = true;
      System.out.println("AnchorCluster: test failed; logs kept under " + dir);
    }
    close();
  }

  // ------------------------------------------------------------------ lifecycle

  /** Starts what was described (stores, coordinator, workers; or the standalone) and waits. */
  public AnchorCluster start() throws Exception {
    keepStores = false;
    dir = Files.createTempDirectory(standalone ? "anchor-standalone-" : "anchor-cluster-");
    clusterPort = AnchorProcess.freePort();
    httpPort = AnchorProcess.freePort();
    try {
      if (standalone) {
        node = startProcess("standalone", dir.resolve("data"), httpPort, env);
        node.awaitHealthy(START_TIMEOUT);
        return this;
      }
      redis = EmbeddedRedis.start(dir.resolve("redis-data"));
      mongo = EmbeddedMongoServer.inMemory();
      if (manual) return this;
      startCoordinator();
      for (String name : workerNames) startWorker(name);
      if (!workerNames.isEmpty()) api().awaitOnline(workerNames.size(), START_TIMEOUT);
      return this;
    } catch (Throwable e) {
      keepStores = true;
      close();
      throw e;
    }
  }

  /**
   * The stores and seed of this cluster, as every JVM of it gets them: ANCHOR_MONGO_URI,
   * ANCHOR_REDIS_URI, ANCHOR_SEED_NODES (the first coordinator's cluster port).
   */
  public Map<String, String> storeEnv() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("ANCHOR_MONGO_URI", mongo.connectionString());
    m.put("ANCHOR_REDIS_URI", redis.uri());
    m.put("ANCHOR_SEED_NODES", "127.0.0.1:" + clusterPort);
    m.putAll(env);
    return m;
  }

  /**
   * Starts the (first) coordinator on the seed's cluster port and this cluster's HTTP port, also
   * again after a {@link AnchorProcess#kill9()}, and waits until it is healthy.
   */
  public AnchorProcess startCoordinator() throws Exception {
    node = startCoordinator(clusterPort, httpPort, Map.of());
    return node;
  }

  /**
   * Starts a coordinator on {@code cluster} (port) and {@code http} (port) with {@code extraEnv}
   * (e.g. ANCHOR_SEED_NODES naming two coordinators), and waits until it is healthy.
   */
  public AnchorProcess startCoordinator(int cluster, int http, Map<String, String> extraEnv)
      throws Exception {
    Map<String, String> e = new HashMap<>(storeEnv());
    e.putAll(coordinatorEnv);
    e.put("ANCHOR_CLUSTER_PORT", Integer.toString(cluster));
    e.putAll(extraEnv);
    AnchorProcess p = startProcess("coordinator", dir.resolve("coordinator-" + cluster), http, e);
    p.awaitHealthy(START_TIMEOUT);
    return p;
  }

  /** Starts worker {@code name} (not awaited: see {@link ApiClient#awaitOnline}). */
  public AnchorProcess startWorker(String name) throws Exception {
    Map<String, String> e = new HashMap<>(storeEnv());
    e.put("ANCHOR_NODE_NAME", name);
    e.putAll(workerEnv);
    e.putAll(oneWorkerEnv.getOrDefault(name, Map.of()));
    AnchorProcess p = startProcess("worker", dir.resolve(name), AnchorProcess.freePort(), e);
    workers.put(name, p);
    return p;
  }

  private AnchorProcess startProcess(String role, Path data, int http, Map<String, String> e)
      throws IOException {
    AnchorProcess p = AnchorProcess.start(role, data, http, e);
    processes.add(p);
    return p;
  }

  /** The standalone node, or the coordinator started last by {@link #startCoordinator()}. */
  public AnchorProcess node() {
    return node;
  }

  /** The API of {@link #node()} with the operator token. */
  public ApiClient api() {
    return node.api();
  }

  public AnchorProcess worker(String name) {
    return workers.get(name);
  }

  /** The seed coordinator's cluster port. */
  public int clusterPort() {
    return clusterPort;
  }

  /** The HTTP port the (first) coordinator or the standalone listens on. */
  public int httpPort() {
    return httpPort;
  }

  /** A directory of this cluster's, removed after a passing test. */
  public Path dir() {
    return dir;
  }

  /** Stops every JVM started (SIGTERM, then SIGKILL), then the stores. */
  @Override
  public void close() throws Exception {
    Exception first = null;
    for (AnchorProcess p : processes) {
      try {
        p.close();
      } catch (Exception e) {
        if (first == null) first = e;
      }
    }
    processes.clear();
    workers.clear();
    if (mongo != null) mongo.close();
    if (redis != null) redis.close();
    mongo = null;
    redis = null;
    if (dir != null && !keepStores) deleteTree(dir);
    if (first != null) throw first;
  }

  static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) return;
    try (var files = Files.walk(root)) {
      files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
  }
}
