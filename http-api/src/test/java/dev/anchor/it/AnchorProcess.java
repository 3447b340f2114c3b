package dev.anchor.it;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * An Anchor JVM started through the real launcher ({@code ./anchor ROLE}) in a child process, with
 * its output in a log file. Tests stop it (SIGTERM, then SIGKILL) also when they fail; {@link
 * #kill9()} simulates a crash.
 */
final class AnchorProcess implements AutoCloseable {
  static final Path HOME =
      Path.of(System.getProperty("anchor.home", "..")).toAbsolutePath().normalize();
  static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /**
   * The API secret of every JVM a test starts (a test passes ANCHOR_JWT_SECRET="" for a node
   * without one).
   */
  static final String SECRET = "anchor-it-secret-0123456789-0123456789-0123456789";

  /**
   * An operator token signed with {@link #SECRET}, as {@code ./anchor token --roles
   * submit,read,operate} makes.
   */
  static final String TOKEN = token("submit,read,operate");

  final Process process;
  final Path log;
  final int httpPort;
  final Path dataDir;

  private AnchorProcess(Process process, Path log, int httpPort, Path dataDir) {
    this.process = process;
    this.log = log;
    this.httpPort = httpPort;
    this.dataDir = dataDir;
  }

  static AnchorProcess start(String role, Path dataDir, int httpPort, Map<String, String> extraEnv)
      throws IOException {
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

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  String url(String path) {
    return "http://127.0.0.1:" + httpPort + path;
  }

  /** Polls GET /health until it answers 200, the process dies, or the deadline passes. */
  void awaitHealthy(Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive())
        throw new AssertionError("anchor exited with " + process.exitValue() + ":\n" + output());
      try {
        HttpResponse<String> r = get("/health");
        if (r.statusCode() == 200) return;
      } catch (IOException notYet) {
        // not listening yet
      }
      TimeUnit.MILLISECONDS.sleep(250);
    }
    throw new AssertionError("not healthy within " + timeout + ":\n" + output());
  }

  /**
   * A token signed with the test secret by the code behind {@code ./anchor token}, for the roles
   * listed.
   */
  static String token(String roles) {
    var config =
        com.typesafe.config.ConfigFactory.parseMap(
                Map.of(
                    "anchor.auth.jwt-secret",
                    SECRET,
                    "anchor.auth.mode",
                    "on",
                    "anchor.auth.public-key-file",
                    "",
                    "anchor.auth.jwks-url",
                    "",
                    "anchor.auth.algorithm",
                    "",
                    "anchor.auth.issuer",
                    "",
                    "anchor.auth.audience",
                    ""))
            .withFallback(com.typesafe.config.ConfigFactory.load());
    return new dev.anchor.auth.TokenIssuer(dev.anchor.auth.AuthConfig.from(config))
        .issue("it", dev.anchor.auth.ApiRole.parseList(roles), Duration.ofHours(2));
  }

  /**
   * A request to this node's API carrying the operator token, as every client of a secured API
   * does.
   */
  static HttpRequest.Builder authorized(URI uri) {
    return HttpRequest.newBuilder(uri).header("Authorization", "Bearer " + TOKEN);
  }

  HttpResponse<String> get(String path) throws IOException, InterruptedException {
    return HTTP.send(
        authorized(URI.create(url(path))).timeout(Duration.ofSeconds(20)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> post(String path, String json) throws IOException, InterruptedException {
    return HTTP.send(
        authorized(URI.create(url(path)))
            .timeout(Duration.ofSeconds(20))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  String output() {
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
  void kill9() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  boolean waitForExit(Duration timeout) throws InterruptedException {
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
  static void stopLeftoverRedis(Path dataDir) {
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

  static Map<String, String> env(String... kv) {
    Map<String, String> m = new HashMap<>();
    for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
    return m;
  }
}
