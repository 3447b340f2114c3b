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
import java.util.concurrent.TimeUnit;
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
 * #startCoordinator()} and {@link #startWorker(String)}; a standalone is restarted on its data dir
 * with {@link #restart()}. A scenario whose tests need different nodes starts one per test in a
 * try-with-resources block: {@code try (AnchorCluster c = AnchorCluster.standalone().start())}.
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
  private final Map<String, ClusterKeyStores.Identity> tlsOf = new HashMap<>();
  private final List<Long> adopted = new ArrayList<>();
  private boolean manual;
  private boolean keepStores;
  private boolean externalRedis;
  private boolean tls;
  private int fixedHttpPort;
  private ClusterKeyStores keyStores;

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

  /**
   * The HTTP port of the standalone or the (first) coordinator, chosen by the test (e.g. {@link
   * AnchorProcess#reservePort()}) so that its environment can name it too.
   */
  public AnchorCluster httpPort(int port) {
    fixedHttpPort = port;
    return this;
  }

  /**
   * The standalone uses a redis-server run here (ANCHOR_REDIS_URI) instead of its embedded one, so
   * that the test can kill it ({@link #killRedis()}) and bring it back ({@link
   * #restartRedis(boolean)}). A coordinator's cluster always has one.
   */
  public AnchorCluster externalRedis() {
    externalRedis = true;
    return this;
  }

  /**
   * Cluster membership over TLS: the key stores are made with keytool at start ({@link
   * ClusterKeyStores}) and every JVM holds the cluster's, unless {@link #tls(String,
   * ClusterKeyStores.Identity)} says otherwise for a worker.
   */
  public AnchorCluster tls() {
    tls = true;
    return this;
  }

  /** Worker {@code name} of a TLS cluster holds {@code identity} (a stranger's, or none). */
  public AnchorCluster tls(String name, ClusterKeyStores.Identity identity) {
    tls = true;
    tlsOf.put(name, identity);
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
    httpPort = fixedHttpPort > 0 ? fixedHttpPort : AnchorProcess.freePort();
    try {
      if (tls) keyStores = ClusterKeyStores.make(dir.resolve("tls"));
      if (standalone) {
        if (externalRedis) redis = EmbeddedRedis.start(dir.resolve("redis-data"));
        node = startProcess("standalone", dir.resolve("data"), httpPort, standaloneEnv());
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

  private Map<String, String> standaloneEnv() {
    Map<String, String> e = new LinkedHashMap<>();
    if (redis != null) e.put("ANCHOR_REDIS_URI", redis.uri());
    e.putAll(env);
    return e;
  }

  /**
   * Stops the standalone (SIGTERM; after a {@link AnchorProcess#kill9()} this stops the
   * redis-server the crash left) and starts it again on the same data dir, port and environment,
   * waiting until it is healthy.
   */
  public AnchorProcess restart() throws Exception {
    if (!standalone) throw new IllegalStateException("restart() is a standalone's");
    node.close();
    processes.remove(node);
    node = startProcess("standalone", dir.resolve("data"), httpPort, standaloneEnv());
    node.awaitHealthy(START_TIMEOUT);
    return node;
  }

  private Map<String, String> tlsEnv(ClusterKeyStores.Identity identity) {
    return keyStores == null ? Map.of() : keyStores.env(identity);
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
    Map<String, String> e = new HashMap<>(tlsEnv(ClusterKeyStores.Identity.CLUSTER));
    e.putAll(storeEnv());
    e.putAll(coordinatorEnv);
    e.put("ANCHOR_CLUSTER_PORT", Integer.toString(cluster));
    e.putAll(extraEnv);
    AnchorProcess p = startProcess("coordinator", dir.resolve("coordinator-" + cluster), http, e);
    p.awaitHealthy(START_TIMEOUT);
    return p;
  }

  /** Starts worker {@code name} (not awaited: see {@link ApiClient#awaitOnline}). */
  public AnchorProcess startWorker(String name) throws Exception {
    Map<String, String> e =
        new HashMap<>(tlsEnv(tlsOf.getOrDefault(name, ClusterKeyStores.Identity.CLUSTER)));
    e.putAll(storeEnv());
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

  /** The redis-server run here (a cluster's, or a standalone's with {@link #externalRedis()}). */
  public EmbeddedRedis redis() {
    return redis;
  }

  /** Kills the redis-server run here with SIGKILL and waits until it is gone. */
  public void killRedis() throws Exception {
    ProcessHandle.of(redis.pid()).ifPresent(ProcessHandle::destroyForcibly);
    redis.exited().get(30, TimeUnit.SECONDS);
  }

  /**
   * Starts the killed redis-server again on its port and password, with its append-only files, or
   * without them ({@code keepData} false: every job, consumer group and placement is gone).
   */
  public EmbeddedRedis restartRedis(boolean keepData) throws Exception {
    if (!keepData) {
      try (var files = Files.list(dir.resolve("redis-data").resolve("redis"))) {
        for (Path f : files.toList())
          if (f.getFileName().toString().startsWith("appendonly")) deleteTree(f);
      }
    }
    redis = redis.restarted();
    return redis;
  }

  /**
   * A process the cluster's JVMs started that must not outlive the test, also when the JVM that
   * started it was killed (an app whose worker died): killed with the cluster.
   */
  public void adopt(long pid) {
    if (pid > 0) adopted.add(pid);
  }

  /** Stops every JVM started (SIGTERM, then SIGKILL), then the stores. */
  @Override
  public void close() throws Exception {
    Exception first = null;
    for (long pid : adopted) ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    adopted.clear();
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
