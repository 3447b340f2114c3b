package dev.anchor.queue;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A redis-server child process for standalone mode: loopback only, a free port, a password generated at each start
 * (so another local user or process cannot read or inject jobs), append-only persistence in
 * {@code <data-dir>/redis}. Prefers the redis-server bundled with embedded-redis (a fixed 6.2 binary) and falls back
 * to one on the PATH. A previous incarnation killed with -9 leaves its redis-server behind; its pid file lets us stop
 * it before starting ours on the same files.
 */
public final class EmbeddedRedis implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EmbeddedRedis.class);
  private static final String BUNDLED = "/redis-server-6.2.6-v5-linux-amd64";

  private final Process process;
  private final int port;
  private final Path dir;
  private final String password;

  private EmbeddedRedis(Process process, int port, Path dir, String password) {
    this.process = process;
    this.port = port;
    this.dir = dir;
    this.password = password;
  }

  public static EmbeddedRedis start(Path dataDir) throws IOException {
    Path dir = dataDir.resolve("redis");
    Files.createDirectories(dir);
    stopLeftover(dir);
    return launch(dataDir, freePort(), newPassword());
  }

  /**
   * A new redis-server on this one's port, password and append-only files, for when this one died: clients holding
   * the URI reconnect to it unchanged. This one must have exited.
   */
  public EmbeddedRedis restarted() throws IOException {
    if (process.isAlive()) throw new IllegalStateException("redis-server pid " + process.pid() + " is still running");
    return launch(dir.getParent(), port, password);
  }

  /** Completes when the redis-server process exits, however it ends. */
  public java.util.concurrent.CompletableFuture<Process> exited() {
    return process.onExit();
  }

  private static EmbeddedRedis launch(Path dataDir, int port, String password) throws IOException {
    Path dir = dataDir.resolve("redis");
    Path binary = binary(dataDir);
    // the password goes in an owner-only config file, not on the command line, where `ps` would show it to anyone
    Path conf = dir.resolve("anchor-redis.conf");
    Files.deleteIfExists(conf);
    Files.createFile(conf, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(conf, "requirepass " + password + "\n");
    List<String> cmd = new ArrayList<>(List.of(binary.toString(), conf.toString(),
        "--port", String.valueOf(port), "--bind", "127.0.0.1", "--dir", dir.toString(),
        "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
        "--pidfile", dir.resolve("redis.pid").toString(), "--logfile", dir.resolve("redis.log").toString(),
        "--protected-mode", "yes", "--daemonize", "no"));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    EmbeddedRedis redis = new EmbeddedRedis(p, port, dir, password);
    redis.awaitReady(Duration.ofSeconds(20));
    Files.writeString(dir.resolve("anchor-redis.pid"), Long.toString(p.pid()));
    log.info("embedded redis-server {} on 127.0.0.1:{} (append-only files in {})", binary, port, dir);
    return redis;
  }

  /** With the password: {@code redis://:password@127.0.0.1:port} (base64url, nothing to escape). */
  public String uri() {
    return "redis://:" + password + "@127.0.0.1:" + port;
  }

  private static String newPassword() {
    byte[] b = new byte[24];
    new java.security.SecureRandom().nextBytes(b);
    return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  public int port() {
    return port;
  }

  public long pid() {
    return process.pid();
  }

  private void awaitReady(Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IOException("embedded redis-server exited with code " + process.exitValue()
            + " (see " + dir.resolve("redis.log") + ")");
      }
      try (Socket s = new Socket("127.0.0.1", port)) {
        s.setSoTimeout(2000);
        s.getOutputStream().write(("AUTH " + password + "\r\nPING\r\n").getBytes());
        // two replies, +OK then +PONG; while loading the append-only file redis answers -LOADING: wait for +PONG
        var in = new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream()));
        String auth = in.readLine();
        String ping = in.readLine();
        if ("+OK".equals(auth) && "+PONG".equals(ping)) return;
      } catch (IOException notYet) {
        // not listening yet
      }
      try {
        TimeUnit.MILLISECONDS.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while starting redis-server", e);
      }
    }
    process.destroyForcibly();
    throw new IOException("embedded redis-server did not answer PING within " + timeout.toSeconds() + " s");
  }

  private static void stopLeftover(Path dir) {
    Path pidFile = dir.resolve("anchor-redis.pid");
    if (!Files.exists(pidFile)) return;
    try {
      long pid = Long.parseLong(Files.readString(pidFile).trim());
      ProcessHandle.of(pid)
          .filter(h -> h.info().command().map(c -> c.contains("redis")).orElse(false))
          .ifPresent(h -> {
            log.warn("stopping redis-server pid {} left running by an earlier Anchor process on {}", pid, dir);
            h.destroy();
            h.onExit().orTimeout(10, TimeUnit.SECONDS).exceptionally(t -> {
              h.destroyForcibly();
              return h;
            }).join();
          });
      Files.deleteIfExists(pidFile);
    } catch (IOException | NumberFormatException e) {
      log.warn("ignoring unreadable {}: {}", pidFile, e.toString());
    }
  }

  private static Path binary(Path dataDir) throws IOException {
    String os = System.getProperty("os.name").toLowerCase();
    String arch = System.getProperty("os.arch");
    if (os.contains("linux") && (arch.equals("amd64") || arch.equals("x86_64"))) {
      try (InputStream in = EmbeddedRedis.class.getResourceAsStream(BUNDLED)) {
        if (in != null) {
          Path bin = dataDir.resolve("bin").resolve("redis-server");
          Files.createDirectories(bin.getParent());
          Path tmp = Files.createTempFile(bin.getParent(), "redis-server", ".tmp");
          Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
          Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
          Files.move(tmp, bin, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
          return bin;
        }
      }
    }
    for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      Path p = Path.of(d, "redis-server");
      if (Files.isExecutable(p)) return p;
    }
    throw new IOException("no redis-server for " + os + "/" + arch
        + ": install Redis or set ANCHOR_REDIS_URI to a running server");
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() {
    if (!process.isAlive()) return;
    process.destroy(); // SIGTERM: redis flushes its append-only file and exits
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
    try {
      Files.deleteIfExists(dir.resolve("anchor-redis.pid"));
    } catch (IOException ignored) {
      // a stale pid file is handled at the next start
    }
  }
}
