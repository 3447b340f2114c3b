package dev.anchor.queue;

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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A redis-server child process for standalone mode: loopback unless told another bind address (so
 * workers on other machines can reach it), a port chosen once and kept in {@code
 * <data-dir>/redis/port} (or a configured one), a generated password kept in an owner-only config
 * file (so another local user or process cannot read or inject jobs, and workers that learned it
 * keep working across restarts), append-only persistence in {@code <data-dir>/redis}. Prefers the
 * redis-server bundled with embedded-redis (a fixed 6.2 binary) and falls back to one on the PATH.
 * A previous incarnation killed with -9 leaves its redis-server behind; its pid file lets us stop
 * it before starting ours on the same files, once proven to be that leftover (see {@link
 * #stopLeftover}).
 */
public final class EmbeddedRedis implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EmbeddedRedis.class);
  private static final String BUNDLED = "/redis-server-6.2.6-v5-linux-amd64";

  private final Process process;
  private final int port;
  private final Path dir;
  private final String password;
  private final String bind;

  private EmbeddedRedis(Process process, int port, Path dir, String password, String bind) {
    this.process = process;
    this.port = port;
    this.dir = dir;
    this.password = password;
    this.bind = bind;
  }

  /** On loopback, at the port kept from the last start (or a free one). */
  public static EmbeddedRedis start(Path dataDir) throws IOException {
    return start(dataDir, LOOPBACK, 0);
  }

  /**
   * @param bind the address to listen on besides loopback ({@code 127.0.0.1} = loopback only,
   *     {@code 0.0.0.0} = every interface)
   * @param port the port, or 0 for the one kept in {@code <data-dir>/redis/port} from the last
   *     start (a free one the first time, or when another process took it)
   */
  public static EmbeddedRedis start(Path dataDir, String bind, int port) throws IOException {
    Path dir = dataDir.resolve("redis").toAbsolutePath().normalize();
    Files.createDirectories(dir);
    stopLeftover(dir);
    int chosen = port > 0 ? port : keptPort(dir);
    return launch(dataDir, bind, chosen, keptPassword(dir.resolve("anchor-redis.conf")));
  }

  /**
   * A new redis-server on this one's port, password and append-only files, for when this one died:
   * clients holding the URI reconnect to it unchanged. This one must have exited.
   */
  public EmbeddedRedis restarted() throws IOException {
    if (process.isAlive())
      throw new IllegalStateException("redis-server pid " + process.pid() + " is still running");
    return launch(dir.getParent(), bind, port, password);
  }

  /** Completes when the redis-server process exits, however it ends. */
  public java.util.concurrent.CompletableFuture<Process> exited() {
    return process.onExit();
  }

  private static EmbeddedRedis launch(Path dataDir, String bind, int port, String password)
      throws IOException {
    Path dir = dataDir.resolve("redis").toAbsolutePath().normalize();
    Path binary = binary(dataDir);
    Path conf = dir.resolve("anchor-redis.conf");
    // the password goes in an owner-only config file, not on the command line, where `ps` would
    // show it to anyone
    Files.deleteIfExists(conf);
    Files.createFile(
        conf, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(conf, "requirepass " + password + "\n");
    String bindArg =
        bind == null || bind.isBlank() || bind.equals(LOOPBACK)
            ? LOOPBACK
            : bind.equals("0.0.0.0") ? "0.0.0.0" : bind + " " + LOOPBACK;
    List<String> cmd =
        new ArrayList<>(
            List.of(
                binary.toString(),
                conf.toString(),
                "--port",
                String.valueOf(port),
                "--bind",
                bindArg,
                "--dir",
                dir.toString(),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--pidfile",
                dir.resolve("redis.pid").toString(),
                "--logfile",
                dir.resolve("redis.log").toString(),
                "--protected-mode",
                "yes",
                "--daemonize",
                "no"));
    Process p =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start();
    EmbeddedRedis redis = new EmbeddedRedis(p, port, dir, password, bindArg);
    redis.awaitReady(Duration.ofSeconds(20));
    Files.writeString(dir.resolve("anchor-redis.pid"), Long.toString(p.pid()));
    Files.writeString(dir.resolve("port"), Integer.toString(port));
    log.info(
        "embedded redis-server {} on {} port {} (append-only files in {})",
        binary,
        bindArg,
        port,
        dir);
    return redis;
  }

  private static final String LOOPBACK = "127.0.0.1";

  /** With the password: {@code redis://:password@127.0.0.1:port} (base64url, nothing to escape). */
  public String uri() {
    return uri(LOOPBACK);
  }

  /**
   * The URI with another host, for clients on other machines (the address this server also listens
   * on).
   */
  public String uri(String host) {
    return "redis://:" + password + "@" + host + ":" + port;
  }

  /**
   * The addresses given to {@code --bind}: {@code 127.0.0.1} alone when only local clients can
   * connect.
   */
  public String bind() {
    return bind;
  }

  /**
   * The port of the last start when there is one and it is free, so workers that learned it can
   * reconnect.
   */
  private static int keptPort(Path dir) throws IOException {
    Path file = dir.resolve("port");
    if (Files.exists(file)) {
      try {
        int kept = Integer.parseInt(Files.readString(file).trim());
        try (ServerSocket s = new ServerSocket()) {
          s.setReuseAddress(true);
          s.bind(new java.net.InetSocketAddress(kept));
          return kept;
        } catch (IOException taken) {
          log.warn(
              "the embedded Redis's port {} from the last start is taken by another process; using a new one "
                  + "(workers learn it from the cluster when they join again)",
              kept);
        }
      } catch (NumberFormatException e) {
        log.warn("ignoring unreadable {}", file);
      }
    }
    return freePort();
  }

  /** The password of the last start (in the owner-only config file), else a new one. */
  private static String keptPassword(Path conf) {
    try {
      if (Files.exists(conf)) {
        for (String line : Files.readAllLines(conf)) {
          if (line.startsWith("requirepass ") && line.length() > 20)
            return line.substring(12).trim();
        }
      }
    } catch (IOException e) {
      log.warn("cannot read {} ({}): a new Redis password is generated", conf, e.toString());
    }
    return newPassword();
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
        throw new IOException(
            "embedded redis-server exited with code "
                + process.exitValue()
                + " (see "
                + dir.resolve("redis.log")
                + ")");
      }
      try (Socket s = new Socket("127.0.0.1", port)) {
        s.setSoTimeout(2000);
        s.getOutputStream().write(("AUTH " + password + "\r\nPING\r\n").getBytes());
        // two replies, +OK then +PONG; while loading the append-only file redis answers -LOADING:
        // wait for +PONG
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
    throw new IOException(
        "embedded redis-server did not answer PING within " + timeout.toSeconds() + " s");
  }

  /**
   * Stops the redis-server a crashed Anchor left on these files, once proven to be that: a
   * redis-server whose working directory is this one (redis chdirs to its {@code --dir}; a pid
   * reused by an unrelated process does not match), and whose parent is no live Anchor JVM (a
   * running standalone's Redis is not stale: starting a second node on its data dir is refused
   * instead).
   */
  static void stopLeftover(Path dir) throws IOException {
    Path pidFile = dir.resolve("anchor-redis.pid");
    if (!Files.exists(pidFile)) return;
    try {
      long pid = Long.parseLong(Files.readString(pidFile).trim());
      java.util.Optional<ProcessHandle> ours = ProcessHandle.of(pid).filter(h -> isRedisOf(h, dir));
      if (ours.isPresent()) {
        java.util.Optional<ProcessHandle> owner =
            ours.get().parent().filter(p -> p.isAlive() && commandLine(p).contains("dev.anchor"));
        if (owner.isPresent()) {
          throw new IOException(
              "the data directory "
                  + dir.getParent()
                  + " is in use by a running Anchor (pid "
                  + owner.get().pid()
                  + ", its Redis pid "
                  + pid
                  + "): stop it, or give this one another ANCHOR_DATA_DIR");
        }
      } else {
        log.info(
            "{} names pid {}, which is not an Anchor redis-server on {} (gone, or reused): nothing to stop",
            pidFile,
            pid,
            dir);
      }
      ours.ifPresent(
          h -> {
            log.warn(
                "stopping redis-server pid {} left running by an earlier Anchor process on {}",
                pid,
                dir);
            h.destroy();
            h.onExit()
                .orTimeout(10, TimeUnit.SECONDS)
                .exceptionally(
                    t -> {
                      h.destroyForcibly();
                      return h;
                    })
                .join();
          });
      Files.deleteIfExists(pidFile);
    } catch (NumberFormatException e) {
      log.warn("ignoring unreadable {}: {}", pidFile, e.toString());
    }
  }

  /**
   * A redis-server working in {@code dir}: /proc on Linux; elsewhere only its command can be
   * checked.
   */
  static boolean isRedisOf(ProcessHandle h, Path dir) {
    Path proc = Path.of("/proc", Long.toString(h.pid()));
    if (Files.isDirectory(proc)) {
      try {
        String exe = Files.readSymbolicLink(proc.resolve("exe")).getFileName().toString();
        Path cwd = Files.readSymbolicLink(proc.resolve("cwd"));
        return exe.startsWith("redis-server")
            && cwd.normalize().equals(dir.toAbsolutePath().normalize());
      } catch (IOException | RuntimeException notOurs) {
        return false; // gone meanwhile, or another user's process
      }
    }
    return h.info().command().map(c -> c.contains("redis-server")).orElse(false);
  }

  /**
   * The process's arguments joined by spaces: /proc/PID/cmdline on Linux (complete even for other
   * users' processes we may see), else what the JDK reports.
   */
  static String commandLine(ProcessHandle h) {
    try {
      byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(h.pid()), "cmdline"));
      return new String(raw, java.nio.charset.StandardCharsets.UTF_8).replace('\0', ' ');
    } catch (IOException | RuntimeException e) {
      return h.info().commandLine().orElse("");
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
    throw new IOException(
        "no redis-server for "
            + os
            + "/"
            + arch
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
      if (!process.waitFor(10, TimeUnit.SECONDS))
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
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
