package dev.anchor.app;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The apps hosted on this worker: one {@link AppSupervisor} per app, started and stopped by the
 * {@link AppOrder}s of the app entities, each reporting to its {@link AppEntity} on every change
 * and every few seconds (so a coordinator that restarted learns the running apps without restarting
 * them). At start it kills the process groups an earlier run of this worker left behind (a kill -9
 * of the worker does not kill its apps' groups), so an app never runs twice on one node; the
 * entities then send their Run again.
 */
public final class AppHost implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AppHost.class);
  private static final long REPORT_EVERY_MS = 3_000;
  private static final int FAILED_LOG_LINES = 20;

  private final String nodeId;
  private final String host;
  private final AppSupervisor.Settings settings;
  private final boolean enabled;
  private final boolean allowCommands;
  private final ClusterSharding sharding;
  private final ActorSystem<?> system;
  private final java.util.concurrent.atomic.AtomicLong screens =
      new java.util.concurrent.atomic.AtomicLong();
  private final Map<String, AppSupervisor> apps = new ConcurrentHashMap<>();
  private final ExecutorService orders;
  private final ScheduledExecutorService ticker;

  private AppHost(
      ActorSystem<?> system,
      String nodeId,
      String host,
      AppSupervisor.Settings settings,
      boolean enabled,
      boolean allowCommands) {
    this.nodeId = nodeId;
    this.host = host;
    this.settings = settings;
    this.enabled = enabled;
    this.allowCommands = allowCommands;
    this.sharding = ClusterSharding.get(system);
    this.system = system;
    this.orders = Executors.newSingleThreadExecutor(r -> daemon(r, "app-orders"));
    this.ticker = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "app-reports"));
  }

  /**
   * @param enabled operator switch: off refuses every app (the entity places it elsewhere)
   * @param allowCommands apps given as a {@code command} (any executable) are refused unless on
   */
  public static AppHost start(
      ActorSystem<?> system,
      String nodeId,
      String host,
      AppSupervisor.Settings settings,
      boolean enabled,
      boolean allowCommands) {
    int killed = AppSupervisor.killLeftovers(settings.appsDir());
    if (killed > 0)
      log.warn("node {}: killed {} app process group(s) left by its previous run", nodeId, killed);
    AppHost h = new AppHost(system, nodeId, host, settings, enabled, allowCommands);
    h.ticker.scheduleAtFixedRate(
        h::reportAll, REPORT_EVERY_MS, REPORT_EVERY_MS, TimeUnit.MILLISECONDS);
    log.info(
        "node {}: app hosting {}{}",
        nodeId,
        enabled ? "on" : "off",
        enabled ? (allowCommands ? ", command apps allowed" : ", Node.js apps only") : "");
    return h;
  }

  /** Every order published to the workers; acts on those for this node. */
  public void onOrder(AppOrder order) {
    if (!nodeId.equals(order.nodeId())) return;
    if (order instanceof AppOrder.Logs l) {
      AppSupervisor s = apps.get(l.appId());
      l.replyTo()
          .tell(
              s == null
                  ? new AppOrder.AppLogs(l.appId(), nodeId, List.of(), 0)
                  : new AppOrder.AppLogs(l.appId(), nodeId, s.logs(l.limit()), s.droppedLines()));
      return;
    }
    try {
      orders.execute(() -> handle(order));
    } catch (java.util.concurrent.RejectedExecutionException stopping) {
      // the worker is shutting down
    }
  }

  public int hosted() {
    return apps.size();
  }

  private void handle(AppOrder order) {
    switch (order) {
      case AppOrder.Run r -> run(r);
      case AppOrder.Halt h -> {
        AppSupervisor s = apps.get(h.appId());
        if (s != null && s.incarnation() <= h.incarnation()) {
          apps.remove(h.appId(), s);
          log.info("app {} incarnation {}: stopping ({})", h.appId(), s.incarnation(), h.reason());
          s.close();
          s.deleteWorkDir();
        }
      }
      case AppOrder.Logs l -> {}
    }
  }

  private void run(AppOrder.Run r) {
    String refusal =
        !enabled
            ? "app hosting is off on node " + nodeId + " (ANCHOR_APPS=off)"
            : r.spec().usesCommand() && !allowCommands
                ? "node " + nodeId + " does not run command apps (ANCHOR_APPS_ALLOW_COMMANDS=off)"
                : null;
    if (refusal != null) {
      report(
          new AppSupervisor.Snapshot(
              r.appId(),
              r.incarnation(),
              null,
              null,
              null,
              null,
              false,
              0,
              null,
              null,
              null,
              refusal),
          "Refused",
          List.of(),
          null);
      return;
    }
    AppSupervisor existing = apps.get(r.appId());
    if (existing != null && existing.incarnation() == r.incarnation()) {
      report(existing.snapshot(), existing);
      return;
    }
    if (existing != null && existing.incarnation() > r.incarnation()) return; // a stale order
    if (existing != null) {
      log.info(
          "app {}: incarnation {} replaces {}", r.appId(), r.incarnation(), existing.incarnation());
      apps.remove(r.appId(), existing);
      existing.close();
    }
    log.info(
        "app {} incarnation {}: starting '{}' (port {}, {} MB, {} cores)",
        r.appId(),
        r.incarnation(),
        r.spec().name(),
        r.spec().port(),
        r.spec().ramMb(),
        r.spec().cpu());
    AppSupervisor[] self = new AppSupervisor[1];
    AppSupervisor s =
        new AppSupervisor(
            r.appId(), r.incarnation(), r.spec(), settings, snap -> report(snap, self[0]));
    self[0] = s;
    if (r.spec().display()) {
      // its display's screen, found by coordinators under ScreenProtocol.appKey(appId); stopped
      // before its Xvfb
      String name =
          "app-screen-" + AppSupervisor.safeName(r.appId()) + "-" + screens.incrementAndGet();
      s.withScreen(
          display ->
              dev.anchor.worker.ScreenService.forApp(r.appId(), display).spawn(system, name));
    }
    apps.put(r.appId(), s);
    s.start();
  }

  private void reportAll() {
    for (AppSupervisor s : apps.values()) report(s.snapshot(), s);
  }

  private void report(AppSupervisor.Snapshot snap, AppSupervisor s) {
    List<String> last =
        snap.phase() == AppSupervisor.Phase.Failed && s != null
            ? s.logs(FAILED_LOG_LINES)
            : List.of();
    report(snap, snap.phase().name(), last, s == null ? null : s.display());
  }

  private void report(
      AppSupervisor.Snapshot snap, String phase, List<String> lastLogs, String display) {
    try {
      sharding
          .entityRefFor(AppEntity.TYPE_KEY, snap.appId())
          .tell(
              new AppEntity.Report(
                  nodeId,
                  host,
                  snap.incarnation(),
                  phase,
                  snap.pid(),
                  snap.port(),
                  snap.portNote(),
                  snap.healthy(),
                  snap.restarts(),
                  snap.exitCode(),
                  snap.memoryLimit(),
                  snap.cpuLimit(),
                  snap.message(),
                  lastLogs,
                  display));
    } catch (RuntimeException e) {
      log.debug("report of app {} not sent: {}", snap.appId(), e.toString());
    }
  }

  /** Stops every app (its process group) this node hosts. */
  @Override
  public void close() {
    ticker.shutdownNow();
    orders.shutdownNow();
    apps.values().parallelStream().forEach(AppSupervisor::close);
    apps.clear();
  }

  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }
}
