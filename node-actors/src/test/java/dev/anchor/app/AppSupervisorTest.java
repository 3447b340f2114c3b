package dev.anchor.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.anchor.app.AppSupervisor.Phase;
import dev.anchor.app.AppSupervisor.Snapshot;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real Node.js processes (no npm: the apps use only Node's own modules). */
class AppSupervisorTest {
  private static final String SERVER =
      """
      const http = require('http');
      console.log('env secret=' + (process.env.ANCHOR_JWT_SECRET || 'none') + ' home=' + process.env.HOME);
      http.createServer((req, res) => res.end(req.url === '/healthz' ? 'ok' : 'hello')).listen(Number(process.env.PORT),
          () => console.log('listening on ' + process.env.PORT));
      """;
  private static final String CRASHER =
      """
      for (let i = 0; i < 10; i++) console.log('line ' + i);
      console.error('about to crash');
      setTimeout(() => process.exit(3), 100);
      """;

  @TempDir Path tmp;

  private final List<AppSupervisor> started = new ArrayList<>();
  private final List<Snapshot> changes = new CopyOnWriteArrayList<>();

  @BeforeAll
  static void needsNode() {
    boolean ok;
    try {
      ok = new ProcessBuilder("node", "--version").start().waitFor() == 0;
    } catch (Exception e) {
      ok = false;
    }
    assumeTrue(ok, "node is not installed");
  }

  @AfterEach
  void stopAll() {
    started.forEach(AppSupervisor::close);
  }

  private AppSupervisor.Settings settings(int maxCrashes, int logLines) {
    return new AppSupervisor.Settings(
        "node",
        "npm",
        tmp.resolve("npm-cache"),
        tmp.resolve("apps"),
        Duration.ofMillis(200),
        3,
        Duration.ofSeconds(10),
        Duration.ofMillis(200),
        Duration.ofSeconds(5),
        maxCrashes,
        Duration.ofSeconds(30),
        logLines);
  }

  private AppSupervisor start(String id, String source, int port, AppSupervisor.Settings settings) {
    AppSpec spec =
        new AppSpec(
            id,
            "Web",
            port,
            128,
            1,
            Map.of("index.js", source),
            "index.js",
            List.of(),
            null,
            "/healthz",
            false,
            null);
    AppSupervisor s = new AppSupervisor(id, 1, spec, settings, changes::add);
    started.add(s);
    return s.start();
  }

  private Snapshot await(AppSupervisor s, Predicate<Snapshot> p, Duration max)
      throws InterruptedException {
    long deadline = System.nanoTime() + max.toNanos();
    while (System.nanoTime() < deadline) {
      Snapshot snap = s.snapshot();
      if (p.test(snap)) return snap;
      Thread.sleep(50);
    }
    throw new AssertionError(
        "not reached within " + max + "; last " + s.snapshot() + "; logs " + s.logs(20));
  }

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Test
  void runsHealthyWithItsPortAndAScrubbedEnvironmentAndStopKillsIt() throws Exception {
    int port = freePort();
    AppSupervisor s = start("web-1", SERVER, port, settings(5, 100));
    Snapshot snap =
        await(s, x -> x.phase() == Phase.Running && x.healthy(), Duration.ofSeconds(20));
    assertEquals(port, snap.port());
    assertEquals(null, snap.portNote());
    assertTrue(snap.memoryLimit().startsWith("node --max-old-space-size=128"), snap.memoryLimit());
    assertTrue(
        snap.cpuLimit().startsWith("accounting only") || snap.cpuLimit().startsWith("cgroup"),
        snap.cpuLimit());
    HttpResponse<String> r =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/")).build(),
                HttpResponse.BodyHandlers.ofString());
    assertEquals("hello", r.body());
    assertTrue(
        s.logs(100).stream().anyMatch(l -> l.contains("env secret=none")),
        () -> "logs: " + s.logs(100));
    long pid = snap.pid();
    assertTrue(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));
    s.close();
    assertFalse(
        ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false),
        "pid " + pid + " still alive");
    assertEquals(Phase.Stopped, s.snapshot().phase());
  }

  @Test
  void anAppWithADisplayGetsItsOwnXvfbInDisplayWhichStopsWithIt() throws Exception {
    assumeTrue(dev.anchor.capture.Xvfb.installed(), "Xvfb is not installed");
    String source = "console.log('display=' + process.env.DISPLAY);\n" + SERVER;
    AppSpec spec =
        new AppSpec(
            "gui-1",
            "Web",
            freePort(),
            128,
            1,
            Map.of("index.js", source),
            "index.js",
            List.of(),
            null,
            "/healthz",
            true,
            "320x240");
    List<String> screens = new CopyOnWriteArrayList<>();
    AppSupervisor s =
        new AppSupervisor("gui-1", 1, spec, settings(5, 100), changes::add)
            .withScreen(
                display -> {
                  screens.add("open " + display);
                  return () -> screens.add("close " + display);
                });
    started.add(s);
    s.start();
    await(s, x -> x.phase() == Phase.Running && x.healthy(), Duration.ofSeconds(30));
    String display = s.display();
    assertNotNull(display);
    long xvfb = s.displayPid();
    assertTrue(ProcessHandle.of(xvfb).map(ProcessHandle::isAlive).orElse(false));
    assertTrue(s.logs(100).contains("display=" + display), () -> "logs: " + s.logs(100));
    assertTrue(
        java.nio.file.Files.exists(tmp.resolve("apps/pids/gui-1.xvfb")), "the Xvfb's pid file");
    assertEquals(List.of("open " + display), screens);
    s.close();
    assertFalse(
        ProcessHandle.of(xvfb).map(ProcessHandle::isAlive).orElse(false),
        "Xvfb " + xvfb + " still runs");
    assertEquals(List.of("open " + display, "close " + display), screens);
    assertEquals(null, s.display());
    assertFalse(java.nio.file.Files.exists(tmp.resolve("apps/pids/gui-1.xvfb")));
  }

  @Test
  void aTakenPortIsReplacedAndSaidSo() throws Exception {
    try (ServerSocket taken = new ServerSocket(0)) {
      int port = taken.getLocalPort();
      AppSupervisor s = start("web-2", SERVER, port, settings(5, 100));
      Snapshot snap =
          await(s, x -> x.phase() == Phase.Running && x.healthy(), Duration.ofSeconds(20));
      assertNotEquals(port, snap.port());
      assertNotNull(snap.portNote());
      assertTrue(snap.portNote().contains("port " + port + " is taken"), snap.portNote());
    }
  }

  @Test
  void aCrashingAppIsRestartedWithGrowingBackoffThenFailsWithItsLastLines() throws Exception {
    AppSupervisor s = start("crash-1", CRASHER, freePort(), settings(3, 5));
    Snapshot failed = await(s, x -> x.phase() == Phase.Failed, Duration.ofSeconds(20));
    assertEquals(3, failed.restarts());
    assertEquals(3, failed.exitCode());
    assertTrue(failed.message().contains("crashed 3 times in a row"), failed.message());
    List<Snapshot> backoffs = changes.stream().filter(c -> c.phase() == Phase.Backoff).toList();
    assertEquals(2, backoffs.size(), () -> "changes: " + changes);
    assertTrue(
        backoffs.get(0).message().contains("restarting in 200 ms"), backoffs.get(0).message());
    assertTrue(
        backoffs.get(1).message().contains("restarting in 400 ms"), backoffs.get(1).message());
    // the ring buffer keeps the last 5 lines only
    List<String> logs = s.logs(100);
    assertEquals(5, logs.size(), () -> "logs: " + logs);
    assertTrue(s.droppedLines() > 0);
    assertTrue(logs.get(logs.size() - 1).contains("crashed 3 times"), () -> "logs: " + logs);
    assertTrue(
        logs.stream().anyMatch(l -> l.contains("exited with code 3")), () -> "logs: " + logs);
  }

  @Test
  void leftoversOfAnEarlierWorkerRunAreKilledAndTheSupervisorRestartsItsOwn() throws Exception {
    AppSupervisor.Settings settings = settings(5, 100);
    AppSupervisor s = start("web-3", SERVER, freePort(), settings);
    Snapshot first =
        await(s, x -> x.phase() == Phase.Running && x.healthy(), Duration.ofSeconds(20));
    // as if the worker had been killed and restarted: its pid files name the processes it left
    assertEquals(1, AppSupervisor.killLeftovers(settings.appsDir()));
    // (here the killed process is still this JVM's child, a zombie until the supervisor reaps it)
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (ProcessHandle.of(first.pid()).map(ProcessHandle::isAlive).orElse(false)
        && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertFalse(ProcessHandle.of(first.pid()).map(ProcessHandle::isAlive).orElse(false));
    Snapshot again =
        await(
            s,
            x -> x.phase() == Phase.Running && x.healthy() && !x.pid().equals(first.pid()),
            Duration.ofSeconds(20));
    assertEquals(1, again.restarts());
  }

  @Test
  void anAppDiesWithItsWorkerThroughTheWatchdog() throws Exception {
    Process fakeWorker = new ProcessBuilder("sleep", "60").start();
    Process app = null;
    try {
      Path watchdog = AppSupervisor.writeWatchdog(tmp.resolve("apps"));
      ProcessBuilder pb =
          new ProcessBuilder(
              "node", "--require", watchdog.toString(), "-e", "setInterval(() => {}, 1000)");
      pb.environment().put(AppSupervisor.WATCHDOG_ENV, Long.toString(fakeWorker.pid()));
      app = pb.start();
      assertTrue(app.isAlive());
      Thread.sleep(1500);
      assertTrue(app.isAlive(), "the watchdog must not kill an app whose worker lives");
      fakeWorker.destroyForcibly().waitFor();
      assertTrue(
          app.waitFor(5, java.util.concurrent.TimeUnit.SECONDS), "the app outlived its worker");
    } finally {
      fakeWorker.destroyForcibly();
      if (app != null) app.destroyForcibly();
    }
  }
}
