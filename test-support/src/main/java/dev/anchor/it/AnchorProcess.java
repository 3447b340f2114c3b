package dev.anchor.it;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * An Anchor JVM started through the real launcher ({@code ./anchor ROLE}) in a child process, with
 * its output in a log file. Tests stop it (SIGTERM, then SIGKILL) also when they fail; {@link
 * #kill9()} simulates a crash.
 */
public final class AnchorProcess implements AutoCloseable {
  /** The repository root holding {@code ./anchor} (system property {@code anchor.home}). */
  public static final Path HOME =
      Path.of(System.getProperty("anchor.home", "..")).toAbsolutePath().normalize();

  public static final HttpClient HTTP = ApiClient.HTTP;

  /**
   * The API secret of every JVM a test starts (a test passes ANCHOR_JWT_SECRET="" for a node
   * without one).
   */
  public static final String SECRET = "anchor-it-secret-0123456789-0123456789-0123456789";

  private static final Map<String, String> TOKENS = new ConcurrentHashMap<>();

  /** An operator token signed with {@link #SECRET} by {@code ./anchor token}. */
  public static final String TOKEN = token("submit,read,operate");

  public final Process process;
  public final Path log;
  public final int httpPort;
  public final Path dataDir;
  private final ApiClient api;

  private AnchorProcess(Process process, Path log, int httpPort, Path dataDir) {
    this.process = process;
    this.log = log;
    this.httpPort = httpPort;
    this.dataDir = dataDir;
    this.api = new ApiClient("http://127.0.0.1:" + httpPort, TOKEN, this::output);
  }

  /**
   * Starts {@code ./anchor ROLE} with its data under {@code dataDir}, its API on {@code httpPort}
   * (loopback), free cluster and management ports, the test secret and {@code extraEnv} on top.
   */
  public static AnchorProcess start(
      String role, Path dataDir, int httpPort, Map<String, String> extraEnv) throws IOException {
    Files.createDirectories(dataDir);
    Path log = Files.createTempFile(dataDir.getParent(), "anchor-" + role + "-", ".log");
    ProcessBuilder pb =
        new ProcessBuilder("bash", HOME.resolve("anchor").toString(), role)
            .directory(HOME.toFile())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile());
    Map<String, String> env = pb.environment();
    env.put("ANCHOR_SKIP_BUILD", "1");
    env.put("ANCHOR_DATA_DIR", dataDir.toString());
    env.put("ANCHOR_PORT", Integer.toString(httpPort));
    env.put("ANCHOR_HTTP_HOST", "127.0.0.1");
    env.putIfAbsent("ANCHOR_CLUSTER_PORT", Integer.toString(freePort()));
    // Pekko Management's default port would clash between the JVMs of one test
    env.put("ANCHOR_MANAGEMENT_PORT", Integer.toString(freePort()));
    env.put("ANCHOR_JAVA_OPTS", "-Xmx768m");
    env.put("ANCHOR_JWT_SECRET", SECRET);
    env.putAll(extraEnv);
    return new AnchorProcess(pb.start(), log, httpPort, dataDir);
  }

  public static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** {@link #freePort()} for a field initialiser. */
  public static int reservePort() {
    try {
      return freePort();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  public String url(String path) {
    return api.url(path);
  }

  /** This node's API with the operator token. */
  public ApiClient api() {
    return api;
  }

  /** Polls GET /health until it answers 200, the process dies, or the deadline passes. */
  public AnchorProcess awaitHealthy(Duration timeout) throws Exception {
    try {
      Poll.until(
          "GET /health 200 from " + url(""),
          timeout,
          () -> {
            if (!process.isAlive())
              throw new AssertionError(
                  "anchor exited with " + process.exitValue() + ":\n" + output());
            return api.get("/health").statusCode();
          },
          status -> status == 200);
    } catch (AssertionError e) {
      if (!process.isAlive()) throw e;
      throw new AssertionError(e.getMessage() + "\n" + output(), e);
    }
    return this;
  }

  /**
   * A token for the roles listed, made by {@code ./anchor token} with the test secret, as an
   * operator makes one (one launcher run per distinct list).
   */
  public static String token(String roles) {
    return TOKENS.computeIfAbsent(roles, AnchorProcess::mint);
  }

  private static String mint(String roles) {
    try {
      ProcessBuilder pb =
          new ProcessBuilder(
                  "bash",
                  HOME.resolve("anchor").toString(),
                  "token",
                  "--roles",
                  roles,
                  "--ttl",
                  "12h",
                  "--sub",
                  "it")
              .directory(HOME.toFile())
              .redirectErrorStream(false);
      pb.environment().put("ANCHOR_SKIP_BUILD", "1");
      pb.environment().put("ANCHOR_JWT_SECRET", SECRET);
      Process p = pb.start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0 || out.isEmpty())
        throw new IllegalStateException("./anchor token --roles " + roles + " failed: " + err);
      return out;
    } catch (IOException e) {
      throw new IllegalStateException("./anchor token could not run", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted minting a token", e);
    }
  }

  /**
   * A request to {@code uri} carrying the operator token, as every client of a secured API does.
   */
  public static HttpRequest.Builder authorized(URI uri) {
    return HttpRequest.newBuilder(uri).header("Authorization", "Bearer " + TOKEN);
  }

  public HttpResponse<String> get(String path) throws IOException, InterruptedException {
    return api.get(path);
  }

  public HttpResponse<String> post(String path, String json)
      throws IOException, InterruptedException {
    return api.post(path, json);
  }

  public String output() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return "(no output: " + e + ")";
    }
  }

  /**
   * A crash: SIGKILL, no shutdown hooks. The embedded redis-server it started is left behind, as in
   * a real crash.
   */
  public void kill9() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  /**
   * Sends {@code SIGSTOP}, {@code SIGCONT}, … to this JVM alone ({@code ./anchor} execs the JVM, so
   * the process is the JVM).
   */
  public void signal(String sig) throws IOException, InterruptedException {
    Process kill =
        new ProcessBuilder("kill", "-" + sig, Long.toString(process.pid())).inheritIO().start();
    if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0)
      throw new AssertionError("kill -" + sig + " " + process.pid() + " failed");
  }

  /**
   * Freezes this JVM (SIGSTOP) as a hung machine or a long GC pause would, runs {@code whileFrozen}
   * (which waits for what the cluster does meanwhile) and thaws it (SIGCONT), also when {@code
   * whileFrozen} throws, so no test leaves a stopped JVM behind.
   */
  public <T> T frozen(java.util.concurrent.Callable<T> whileFrozen) throws Exception {
    signal("STOP");
    try {
      return whileFrozen.call();
    } finally {
      signal("CONT");
    }
  }

  /**
   * Polls this JVM's output until it contains {@code text}; fails at once when the JVM exited
   * without writing it.
   */
  public String awaitOutput(String text, Duration timeout) throws Exception {
    return Poll.until(
        "'" + text + "' in the output of " + log,
        timeout,
        () -> {
          String out = output();
          if (!out.contains(text) && !process.isAlive())
            throw new AssertionError(
                "exited with " + process.exitValue() + " without '" + text + "':\n" + out);
          return out;
        },
        out -> out.contains(text));
  }

  public boolean waitForExit(Duration timeout) throws InterruptedException {
    return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public void close() throws Exception {
    List<ProcessHandle> children = new ArrayList<>(process.toHandle().descendants().toList());
    if (process.isAlive()) {
      process.destroy();
      if (!process.waitFor(30, TimeUnit.SECONDS))
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    for (ProcessHandle c : children) {
      if (c.isAlive()) c.destroyForcibly();
    }
    stopLeftoverRedis(dataDir);
  }

  /**
   * An embedded redis-server orphaned by a kill -9 that no restart cleaned up: ours, known by its
   * pid file.
   */
  public static void stopLeftoverRedis(Path dataDir) {
    Path pid = dataDir.resolve("redis").resolve("anchor-redis.pid");
    try {
      if (Files.exists(pid)) {
        ProcessHandle.of(Long.parseLong(Files.readString(pid).trim()))
            .ifPresent(ProcessHandle::destroyForcibly);
      }
    } catch (IOException | NumberFormatException ignored) {
      // nothing to stop
    }
  }

  public static Map<String, String> env(String... kv) {
    Map<String, String> m = new HashMap<>();
    for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
    return m;
  }
}
