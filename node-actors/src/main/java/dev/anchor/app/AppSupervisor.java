package dev.anchor.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.runtime.nativejs.NativeProcesses;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one incarnation of an app on this node and keeps it running: writes its files into its own
 * working directory, links its npm dependencies from the native runtime's content-addressed cache,
 * starts it (Node.js with {@code --max-old-space-size}, or the app's {@code command} through {@code
 * /bin/sh -c}) as the leader of its own process group with a scrubbed environment plus {@code
 * PORT}, probes it over HTTP, and restarts it with exponential backoff when it exits or stops
 * answering. An app that crashes {@link Settings#maxCrashes()} times in a row without staying
 * healthy for {@link Settings#stableAfter()} ends {@link Phase#Failed}. Its output (stdout and
 * stderr) is kept in a ring buffer of {@link Settings#logLines()} lines.
 *
 * <p>Every change of phase, process, health or restart count is handed to {@code onChange}.
 */
public final class AppSupervisor implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AppSupervisor.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int MAX_LINE = 4096;

  public enum Phase {
    Installing,
    Starting,
    Running,
    Backoff,
    Failed,
    Stopped
  }

  /**
   * @param appsDir working directories ({@code <appsDir>/<appId>}) and pid files of this node's
   *     apps
   * @param healthFailures consecutive failed probes of a healthy app before it is restarted
   * @param startGrace how long a new process may take to answer its first probe
   * @param maxCrashes consecutive crashes (without a stable run between) before the app is Failed
   * @param stableAfter healthy this long resets the crash count (and the backoff)
   */
  public record Settings(
      String nodeCommand,
      String npmCommand,
      Path npmCacheDir,
      Path appsDir,
      Duration healthInterval,
      int healthFailures,
      Duration startGrace,
      Duration backoffInitial,
      Duration backoffMax,
      int maxCrashes,
      Duration stableAfter,
      int logLines) {

    public static Settings defaults(String node, String npm, Path npmCacheDir, Path appsDir) {
      return new Settings(
          node,
          npm,
          npmCacheDir,
          appsDir,
          Duration.ofSeconds(1),
          3,
          Duration.ofSeconds(30),
          Duration.ofSeconds(1),
          Duration.ofSeconds(30),
          5,
          Duration.ofSeconds(30),
          1000);
    }
  }

  /** What the supervisor knows right now. */
  public record Snapshot(
      String appId,
      int incarnation,
      Phase phase,
      Long pid,
      Integer port,
      String portNote,
      boolean healthy,
      int restarts,
      Integer exitCode,
      String memoryLimit,
      String cpuLimit,
      String message) {}

  private final String appId;
  private final int incarnation;
  private final AppSpec spec;
  private final Settings settings;
  private final Consumer<Snapshot> onChange;
  private final Path dir;
  private final Thread thread;
  private final ArrayDeque<String> lines = new ArrayDeque<>();

  /**
   * HTTP/1.1 only: the default h2c upgrade header would reach an app's own 'upgrade' handler
   * (WebSockets).
   */
  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(1))
          .build();

  private long dropped;
  private volatile boolean stopping;
  private volatile Process process;
  private volatile Snapshot snapshot;
  private final CgroupLimits.Applied limits;

  /**
   * Makes the screen service of the app's display (started once its Xvfb runs, closed before the
   * Xvfb stops).
   */
  private volatile java.util.function.Function<String, AutoCloseable> screenFactory;

  private volatile dev.anchor.capture.Xvfb xvfb;
  private volatile AutoCloseable screen;

  public AppSupervisor(
      String appId, int incarnation, AppSpec spec, Settings settings, Consumer<Snapshot> onChange) {
    this.appId = appId;
    this.incarnation = incarnation;
    this.spec = spec;
    this.settings = settings;
    this.onChange = onChange == null ? s -> {} : onChange;
    this.dir = settings.appsDir().resolve(safeName(appId));
    this.limits = CgroupLimits.describe(spec);
    this.snapshot =
        new Snapshot(
            appId,
            incarnation,
            Phase.Installing,
            null,
            null,
            null,
            false,
            0,
            null,
            limits.memory(),
            limits.cpu(),
            "preparing");
    this.thread = new Thread(this::supervise, "app-" + appId);
    this.thread.setDaemon(true);
  }

  public AppSupervisor start() {
    thread.start();
    return this;
  }

  /**
   * Before {@link #start()}: what serves the screen of the app's display ({@code "display": true}).
   */
  public AppSupervisor withScreen(java.util.function.Function<String, AutoCloseable> factory) {
    this.screenFactory = factory;
    return this;
  }

  /** The app's X display ({@code ":7"}) while its Xvfb runs, else null. */
  public String display() {
    dev.anchor.capture.Xvfb x = xvfb;
    return x == null ? null : x.display();
  }

  /** The pid of the app's Xvfb while it runs, else null. */
  public Long displayPid() {
    dev.anchor.capture.Xvfb x = xvfb;
    return x == null ? null : x.pid();
  }

  /** Starts the app's Xvfb (and its screen service); an IOException says why the node cannot. */
  private void startDisplay() throws IOException {
    int[] wh = spec.displayDimensions();
    dev.anchor.capture.Xvfb x = dev.anchor.capture.Xvfb.start(wh[0], wh[1]);
    xvfb = x;
    // a worker killed with -9 leaves the Xvfb behind like the app: its next run kills it
    // (killLeftovers)
    writePidFile(xvfbPidFile(), x.pid());
    line(
        "[anchor] display "
            + x.display()
            + " ("
            + spec.displaySize()
            + ", Xvfb pid "
            + x.pid()
            + ")");
    var f = screenFactory;
    if (f != null) {
      try {
        screen = f.apply(x.display());
      } catch (RuntimeException e) {
        log.warn("app {}: no screen service for display {}: {}", appId, x.display(), e.toString());
      }
    }
  }

  private void stopDisplay() {
    AutoCloseable sc = screen;
    screen = null;
    if (sc != null) {
      try {
        sc.close();
      } catch (Exception e) {
        log.debug("app {}: screen service close: {}", appId, e.toString());
      }
    }
    dev.anchor.capture.Xvfb x = xvfb;
    xvfb = null;
    if (x != null) {
      x.close();
      try {
        Files.deleteIfExists(xvfbPidFile());
      } catch (IOException ignored) {
        // best effort
      }
    }
  }

  public String appId() {
    return appId;
  }

  public int incarnation() {
    return incarnation;
  }

  public Snapshot snapshot() {
    return snapshot;
  }

  /** The last {@code limit} lines of output, oldest first. */
  public synchronized List<String> logs(int limit) {
    int skip = Math.max(0, lines.size() - Math.max(0, limit));
    List<String> out = new ArrayList<>(Math.min(lines.size(), limit));
    Iterator<String> it = lines.iterator();
    for (int i = 0; it.hasNext(); i++) {
      String l = it.next();
      if (i >= skip) out.add(l);
    }
    return out;
  }

  /** Lines pushed out of the ring buffer so far. */
  public synchronized long droppedLines() {
    return dropped;
  }

  private synchronized void line(String l) {
    if (l.length() > MAX_LINE) l = l.substring(0, MAX_LINE) + "…";
    lines.addLast(l);
    while (lines.size() > settings.logLines()) {
      lines.removeFirst();
      dropped++;
    }
  }

  private void change(Snapshot s) {
    snapshot = s;
    try {
      onChange.accept(s);
    } catch (RuntimeException e) {
      log.warn("app {}: change listener failed: {}", appId, e.toString());
    }
  }

  private Snapshot with(
      Phase phase,
      Long pid,
      Integer port,
      String portNote,
      boolean healthy,
      int restarts,
      Integer exit,
      String message) {
    return new Snapshot(
        appId,
        incarnation,
        phase,
        pid,
        port,
        portNote,
        healthy,
        restarts,
        exit,
        limits.memory(),
        limits.cpu(),
        message);
  }

  // ---------------------------------------------------------------- the supervising loop

  private void supervise() {
    int restarts = 0;
    int crashesInARow = 0;
    Integer lastExit = null;
    Integer port = null;
    String portNote = null;
    try {
      if (spec.display()) {
        try {
          startDisplay();
        } catch (IOException e) {
          if (stopping) throw new InterruptedException("stopped while its display started");
          String msg = "this node cannot give the app a display: " + e.getMessage();
          line("[anchor] " + msg);
          change(with(Phase.Failed, null, null, null, false, 0, null, msg));
          return;
        }
      }
      change(with(Phase.Installing, null, null, null, false, 0, null, "installing dependencies"));
      try {
        prepare();
      } catch (NativeProcesses.InstallFailed e) {
        line("[anchor] " + e.getMessage());
        change(with(Phase.Failed, null, null, null, false, 0, null, e.getMessage()));
        return;
      } catch (IOException | IllegalArgumentException e) {
        line("[anchor] cannot prepare the app: " + e.getMessage());
        change(
            with(
                Phase.Failed,
                null,
                null,
                null,
                false,
                0,
                null,
                "cannot prepare the app: " + e.getMessage()));
        return;
      }
      while (!stopping) {
        if (port == null || !portFree(port)) {
          port = choosePort(spec.port());
          portNote =
              port == spec.port()
                  ? null
                  : "port " + spec.port() + " is taken on this node; the app got port " + port;
          if (portNote != null) line("[anchor] " + portNote);
        }
        Process p = launch(port);
        process = p;
        long pid = p.pid();
        writePidFile(p);
        CgroupLimits.attach(limits, pid);
        line(
            "[anchor] started pid "
                + pid
                + " on port "
                + port
                + (restarts > 0 ? " (restart " + restarts + ")" : ""));
        change(with(Phase.Starting, pid, port, portNote, false, restarts, lastExit, "starting"));
        String why = watch(p, pid, port, portNote, restarts, lastExit);
        long healthySince = healthyFor;
        if (p.isAlive()) NativeProcesses.killTree(p);
        else NativeProcesses.killGroup(pid); // whatever it forked dies with it
        deletePidFile();
        if (stopping) break;
        lastExit = p.exitValue();
        restarts++;
        crashesInARow = healthySince >= settings.stableAfter().toMillis() ? 1 : crashesInARow + 1;
        String reason = why != null ? why : "exited with code " + lastExit;
        line("[anchor] " + reason);
        if (crashesInARow >= settings.maxCrashes()) {
          String msg =
              "crashed " + crashesInARow + " times in a row, last: " + reason + "; not restarted";
          line("[anchor] " + msg);
          change(with(Phase.Failed, null, port, portNote, false, restarts, lastExit, msg));
          return;
        }
        long delay =
            Math.min(
                settings.backoffMax().toMillis(),
                settings.backoffInitial().toMillis() << Math.min(20, crashesInARow - 1));
        change(
            with(
                Phase.Backoff,
                null,
                port,
                portNote,
                false,
                restarts,
                lastExit,
                reason + "; restarting in " + delay + " ms"));
        sleep(delay);
      }
    } catch (IOException e) {
      line("[anchor] cannot start the app: " + e.getMessage());
      change(
          with(
              Phase.Failed,
              null,
              port,
              portNote,
              false,
              restarts,
              lastExit,
              "cannot start: " + e.getMessage()));
      return;
    } catch (InterruptedException e) {
      // stopping
    } finally {
      Process p = process;
      if (p != null && p.isAlive()) NativeProcesses.killTree(p);
      deletePidFile();
      stopDisplay();
    }
    change(
        with(
            Phase.Stopped,
            null,
            null,
            null,
            false,
            snapshot.restarts(),
            snapshot.exitCode(),
            "stopped"));
  }

  /** How long the process that {@link #watch} returned from had been healthy (ms). */
  private long healthyFor;

  /** Probes until the process exits (null) or must be restarted (the reason). */
  private String watch(
      Process p, long pid, int port, String portNote, int restarts, Integer lastExit)
      throws InterruptedException {
    long started = System.currentTimeMillis();
    long healthySince = 0;
    boolean everHealthy = false;
    boolean healthy = false;
    int failures = 0;
    healthyFor = 0;
    while (!stopping) {
      if (p.waitFor(
          settings.healthInterval().toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
        healthyFor = healthySince == 0 ? 0 : System.currentTimeMillis() - healthySince;
        return null;
      }
      boolean ok = probe(port);
      if (ok) {
        failures = 0;
        if (!healthy) {
          healthy = true;
          everHealthy = true;
          if (healthySince == 0) healthySince = System.currentTimeMillis();
          change(with(Phase.Running, pid, port, portNote, true, restarts, lastExit, null));
        }
      } else if (everHealthy) {
        failures++;
        if (healthy) {
          healthy = false;
          change(
              with(
                  Phase.Running,
                  pid,
                  port,
                  portNote,
                  false,
                  restarts,
                  lastExit,
                  "health check " + spec.healthPath() + " failing"));
        }
        if (failures >= settings.healthFailures()) {
          healthyFor = System.currentTimeMillis() - healthySince;
          return "health check " + spec.healthPath() + " failed " + failures + " times in a row";
        }
      } else if (System.currentTimeMillis() - started > settings.startGrace().toMillis()) {
        return "not healthy within " + settings.startGrace().toSeconds() + " s of its start";
      }
    }
    return null;
  }

  private boolean probe(int port) {
    try {
      HttpRequest req =
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + spec.healthPath()))
              .timeout(Duration.ofSeconds(2))
              .GET()
              .build();
      HttpResponse<Void> r = http.send(req, HttpResponse.BodyHandlers.discarding());
      return r.statusCode() < 500;
    } catch (IOException | IllegalArgumentException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  // ---------------------------------------------------------------- preparing and launching

  private void prepare() throws IOException, InterruptedException, NativeProcesses.InstallFailed {
    deleteTree(dir);
    Files.createDirectories(dir);
    for (Map.Entry<String, String> f : spec.files().entrySet()) {
      Path target = dir.resolve(f.getKey()).normalize();
      if (!target.startsWith(dir) || f.getKey().startsWith("/")) {
        throw new IllegalArgumentException(
            "file name '" + f.getKey() + "' leaves the app's directory");
      }
      Files.createDirectories(target.getParent());
      Files.writeString(target, f.getValue(), StandardCharsets.UTF_8);
    }
    List<String> deps = dependencies(spec);
    if (!deps.isEmpty()) {
      line("[anchor] installing " + String.join(" ", deps) + " (native runtime npm cache)");
      Path modules =
          NativeProcesses.dependencies(settings.npmCacheDir(), settings.npmCommand(), deps);
      Files.createSymbolicLink(dir.resolve("node_modules"), modules);
    }
  }

  /** The spec's dependencies, else those of its package.json ({@code name@range}). */
  static List<String> dependencies(AppSpec spec) {
    if (!spec.dependencies().isEmpty()) return spec.dependencies();
    String pkg = spec.files().get("package.json");
    if (pkg == null) return List.of();
    try {
      JsonNode deps = JSON.readTree(pkg).path("dependencies");
      List<String> out = new ArrayList<>();
      deps.fields().forEachRemaining(e -> out.add(e.getKey() + "@" + e.getValue().asText()));
      return out;
    } catch (IOException e) {
      throw new IllegalArgumentException("package.json is not valid JSON: " + e.getMessage());
    }
  }

  private Process launch(int port) throws IOException {
    List<String> cmd =
        spec.usesCommand()
            ? List.of("/bin/sh", "-c", spec.command())
            : List.of(
                settings.nodeCommand(),
                "--max-old-space-size=" + spec.ramMb(),
                "--require",
                writeWatchdog(settings.appsDir()).toString(),
                spec.entry());
    ProcessBuilder pb =
        new ProcessBuilder(NativeProcesses.inOwnGroup(cmd))
            .directory(dir.toFile())
            .redirectErrorStream(true);
    NativeProcesses.scrubEnvironment(pb.environment(), dir);
    pb.environment().put("PORT", Integer.toString(port));
    pb.environment().put("NODE_ENV", "production");
    pb.environment().put(WATCHDOG_ENV, Long.toString(ProcessHandle.current().pid()));
    String display = display();
    if (display != null) pb.environment().put("DISPLAY", display);
    Process p = pb.start();
    p.getOutputStream().close();
    Thread pump =
        new Thread(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String l;
                while ((l = r.readLine()) != null) line(l);
              } catch (IOException ignored) {
                // the process is gone
              }
            },
            "app-log-" + appId);
    pump.setDaemon(true);
    pump.start();
    return p;
  }

  static final String WATCHDOG_ENV = "ANCHOR_SUPERVISOR_PID";

  /**
   * Preloaded into every Node.js app ({@code --require}): once a second it checks that the worker
   * JVM ({@value #WATCHDOG_ENV}) is alive, and when it is gone (a kill -9 of the worker) it kills
   * the app's whole process group, so an app never outlives its worker and runs on beside the copy
   * the cluster starts elsewhere. The timer is unref'd: it never keeps an app alive. (Command apps
   * have no such watchdog; a restarted worker kills what they left through their pid files.)
   */
  static final String WATCHDOG =
      """
      'use strict';
      (function () {
        const supervisor = Number(process.env.ANCHOR_SUPERVISOR_PID);
        if (!supervisor) return;
        const t = setInterval(() => {
          try { process.kill(supervisor, 0); } catch (e) {
            if (e.code === 'EPERM') return;
            try { process.kill(-process.pid, 'SIGKILL'); } catch (_) { process.exit(137); }
          }
        }, 1000);
        t.unref();
      })();
      """;

  static Path writeWatchdog(Path appsDir) throws IOException {
    Path f = appsDir.resolve("anchor-watchdog.cjs");
    if (!Files.exists(f) || !Files.readString(f).equals(WATCHDOG)) {
      Files.createDirectories(appsDir);
      Path tmp = Files.createTempFile(appsDir, "watchdog", ".tmp");
      Files.writeString(tmp, WATCHDOG);
      Files.move(
          tmp,
          f,
          java.nio.file.StandardCopyOption.REPLACE_EXISTING,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }
    return f.toAbsolutePath();
  }

  static boolean portFree(int port) {
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress(port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** The requested port when it is free here, else one the OS picks. */
  static int choosePort(int wanted) throws IOException {
    if (wanted > 0 && portFree(wanted)) return wanted;
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  // ---------------------------------------------------------------- pid files (a restarted worker
  // kills leftovers)

  private Path pidFile() {
    return settings.appsDir().resolve("pids").resolve(safeName(appId) + ".pid");
  }

  private void writePidFile(Process p) {
    writePidFile(pidFile(), p.pid());
  }

  private void writePidFile(Path file, long pid) {
    try {
      Files.createDirectories(file.getParent());
      long start =
          ProcessHandle.of(pid)
              .flatMap(h -> h.info().startInstant())
              .map(java.time.Instant::toEpochMilli)
              .orElse(0L);
      Files.writeString(file, pid + " " + start + "\n");
    } catch (IOException e) {
      log.warn("app {}: cannot write its pid file: {}", appId, e.toString());
    }
  }

  private Path xvfbPidFile() {
    return pidFile().resolveSibling(safeName(appId) + ".xvfb");
  }

  private void deletePidFile() {
    try {
      Files.deleteIfExists(pidFile());
    } catch (IOException ignored) {
      // best effort
    }
  }

  /**
   * Kills the process groups of apps a previous run of this worker left running (it was killed
   * without stopping them), so a restarted worker never runs an app twice. A pid is killed only
   * when the process with that pid started at the recorded instant (not a recycled pid). Returns
   * how many were killed.
   */
  public static int killLeftovers(Path appsDir) {
    Path pids = appsDir.resolve("pids");
    if (!Files.isDirectory(pids)) return 0;
    int killed = 0;
    try (var files = Files.list(pids)) {
      for (Path f : files.toList()) {
        try {
          String[] parts = Files.readString(f).trim().split(" ");
          long pid = Long.parseLong(parts[0]);
          long start = parts.length > 1 ? Long.parseLong(parts[1]) : 0;
          var h = ProcessHandle.of(pid);
          if (h.isPresent()
              && h.get().isAlive()
              && h.get().info().startInstant().map(java.time.Instant::toEpochMilli).orElse(-1L)
                  == start) {
            log.warn(
                "killing app process group {} left by an earlier run of this worker ({})",
                pid,
                f.getFileName());
            NativeProcesses.killGroup(pid);
            h.get().destroyForcibly();
            killed++;
          }
          Files.deleteIfExists(f);
        } catch (IOException | RuntimeException e) {
          log.warn("cannot read leftover pid file {}: {}", f, e.toString());
        }
      }
    } catch (IOException e) {
      log.warn("cannot list {}: {}", pids, e.toString());
    }
    return killed;
  }

  // ---------------------------------------------------------------- stopping

  /** Stops the app (its whole process group) and waits for the supervisor to end, up to 10 s. */
  @Override
  public void close() {
    stopping = true;
    thread.interrupt();
    Process p = process;
    if (p != null && p.isAlive()) NativeProcesses.killTree(p);
    try {
      thread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (limits.cgroup() != null) {
      try {
        Files.deleteIfExists(limits.cgroup());
      } catch (IOException ignored) {
        // still has processes; the next start of the worker does not reuse the name
      }
    }
  }

  /** Removes the app's working directory (after {@link #close()}). */
  public void deleteWorkDir() {
    deleteTree(dir);
  }

  private static void sleep(long ms) throws InterruptedException {
    Thread.sleep(ms);
  }

  static String safeName(String appId) {
    return appId.replaceAll("[^A-Za-z0-9._-]", "_");
  }

  private static void deleteTree(Path d) {
    if (!Files.exists(d, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return;
    try (var s = Files.walk(d)) {
      List<Path> all = new ArrayList<>(s.toList());
      all.sort(Comparator.reverseOrder());
      for (Path p : all) Files.deleteIfExists(p);
    } catch (IOException ignored) {
      // best effort
    }
  }
}
