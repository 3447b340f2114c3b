package dev.anchor.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anchor.EntityFixture;
import dev.anchor.app.AppEntity.Command;
import dev.anchor.app.AppEntity.Event;
import dev.anchor.app.AppEntity.Report;
import dev.anchor.app.AppEntity.State;
import dev.anchor.task.MutableClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class AppEntityTest {
  private static final AppSpec HELLO = AppSpec.hello("My Web App", "Web", 8080, 2048, 2, "/");

  @RegisterExtension static final EntityFixture entities = EntityFixture.named("AppEntityTest");
  private static final AtomicInteger ids = new AtomicInteger();

  private final MutableClock clock = new MutableClock(1_700_000_000_000L);
  private FakeEffects fx;
  private String appId;
  private EventSourcedBehaviorTestKit<Command, Event, State> app;

  /** Nodes in order of preference; a node is taken unless excluded or marked gone. */
  static final class FakeEffects implements AppEffects {
    final List<String> nodes = new ArrayList<>(List.of("n1", "n2"));
    final Set<String> gone = new HashSet<>();
    final Set<String> draining = new HashSet<>();
    final List<AppOrder> orders = new CopyOnWriteArrayList<>();
    final Map<String, String> holding = new HashMap<>();
    final List<String> changes = new CopyOnWriteArrayList<>();

    @Override
    public void changed(String event, AppView view) {
      changes.add(event + ":" + view.status());
    }

    @Override
    public Placement place(String appId, AppSpec spec, Set<String> excluded) {
      for (String n : nodes) {
        if (!excluded.contains(n) && !gone.contains(n) && !draining.contains(n))
          return new Placement.On(n);
      }
      return new Placement.Nowhere("no worker node is available");
    }

    @Override
    public void holding(String appId, String nodeId, AppSpec spec) {
      if (nodeId == null) holding.remove(appId);
      else holding.put(appId, nodeId);
    }

    @Override
    public boolean nodeGone(String nodeId) {
      return gone.contains(nodeId);
    }

    @Override
    public boolean nodeDraining(String nodeId) {
      return draining.contains(nodeId);
    }

    @Override
    public void send(AppOrder order) {
      orders.add(order);
    }

    <T extends AppOrder> List<T> sent(Class<T> type) {
      return orders.stream().filter(type::isInstance).map(type::cast).toList();
    }
  }

  @BeforeEach
  void newApp() {
    fx = new FakeEffects();
    appId = "app-" + ids.incrementAndGet();
    // the timer never fires during a test: reconciling is driven by explicit Ticks
    app = entities.testKit(AppEntity.create(appId, fx, Duration.ofHours(1), clock, null));
  }

  private AppView create() {
    var r = app.<StatusReply<AppView>>runCommand(reply -> new AppEntity.Create(HELLO, reply));
    assertTrue(r.reply().isSuccess());
    return r.reply().getValue();
  }

  private AppView view() {
    return app.<AppView>runCommand(AppEntity.Get::new).reply();
  }

  private EventSourcedBehaviorTestKit.CommandResult<Command, Event, State> report(
      String node, int inc, String phase, Long pid, boolean healthy, int restarts, Integer exit) {
    return app.runCommand(
        new Report(
            node,
            "127.0.0.1",
            inc,
            phase,
            pid,
            pid == null ? null : 8080,
            null,
            healthy,
            restarts,
            exit,
            "node --max-old-space-size",
            "accounting only",
            phase.equals("Failed") ? "crashed 5 times" : null,
            List.of("boom"),
            null));
  }

  private List<Class<?>> types(List<Event> events) {
    return events.stream().<Class<?>>map(Object::getClass).toList();
  }

  @Test
  void createPlacesOnANodeAndOrdersItToRun() {
    AppView v = create();
    assertEquals("Deploying", v.status());
    assertEquals("n1", v.nodeId());
    assertEquals(8080, v.requestedPort());
    assertEquals(2048, v.limits().ramMb());
    var runs = fx.sent(AppOrder.Run.class);
    assertEquals(1, runs.size());
    assertEquals("n1", runs.get(0).nodeId());
    assertEquals(1, runs.get(0).incarnation());
    assertEquals("n1", fx.holding.get(appId));
    assertEquals(List.of("Created:Deploying", "Placed:Deploying"), fx.changes);
    // creating again answers the same app and journals nothing
    var again = app.<StatusReply<AppView>>runCommand(reply -> new AppEntity.Create(HELLO, reply));
    assertTrue(again.events().isEmpty());
  }

  @Test
  void anAppWithADisplayShowsItsNumberOnceItsNodeReportsIt() {
    assertNull(create().display(), "an app without a display shows none");
    appId = appId + "-d";
    app = entities.testKit(AppEntity.create(appId, fx, Duration.ofHours(1), clock, null));
    var created =
        app.<StatusReply<AppView>>runCommand(
            reply -> new AppEntity.Create(HELLO.withDisplay(true, "640x480"), reply));
    AppView v = created.reply().getValue();
    assertEquals(new AppView.Display(null, "640x480"), v.display());
    assertTrue(fx.sent(AppOrder.Run.class).getLast().spec().display());
    app.runCommand(
        new Report(
            "n1",
            "127.0.0.1",
            1,
            "Running",
            4242L,
            8080,
            null,
            true,
            0,
            null,
            null,
            null,
            null,
            List.of(),
            ":7"));
    assertEquals(new AppView.Display(7, "640x480"), view().display());
  }

  @Test
  void reportsBecomeStartedAndHealthyOnceAndARepeatJournalsNothing() {
    create();
    var r = report("n1", 1, "Running", 4242L, false, 0, null);
    assertEquals(List.of(AppEntity.Started.class), types(r.events()));
    assertEquals("Starting", view().status());
    r = report("n1", 1, "Running", 4242L, true, 0, null);
    assertEquals(List.of(AppEntity.Healthy.class), types(r.events()));
    AppView v = view();
    assertEquals("Running", v.status());
    assertEquals("healthy", v.health());
    assertEquals(4242L, v.pid());
    assertEquals(8080, v.port());
    assertEquals("accounting only", v.limits().cpuEnforcement());
    assertTrue(report("n1", 1, "Running", 4242L, true, 0, null).events().isEmpty());
    assertEquals(
        List.of("Created", "Placed", "Started", "Healthy"),
        view().history().stream().map(AppEntity.HistoryEntry::event).toList());
    assertEquals("pid 4242, port 8080", view().history().get(2).detail());
  }

  @Test
  void aCrashAndRestartOnTheNodeAreJournaledAndCounted() {
    create();
    report("n1", 1, "Running", 100L, true, 0, null);
    var r = report("n1", 1, "Backoff", null, false, 1, 1);
    assertEquals(List.of(AppEntity.Crashed.class), types(r.events()));
    AppView v = view();
    assertEquals("Restarting", v.status());
    assertEquals(1, v.restarts());
    assertEquals(1, v.lastExitCode());
    assertNull(v.pid());
    r = report("n1", 1, "Running", 101L, true, 1, 1);
    assertEquals(List.of(AppEntity.Started.class, AppEntity.Healthy.class), types(r.events()));
    assertEquals("Running", view().status());
    assertEquals(101L, view().pid());
  }

  @Test
  void anAppThatKeepsCrashingEndsFailedWithItsLastLines() {
    create();
    var r = report("n1", 1, "Failed", null, false, 5, 3);
    assertEquals(List.of(AppEntity.Failed.class), types(r.events()));
    AppView v = view();
    assertEquals("Failed", v.status());
    assertEquals(List.of("boom"), v.lastLogs());
    assertEquals(3, v.lastExitCode());
    assertFalse(v.desiredRunning());
    assertTrue(fx.sent(AppOrder.Halt.class).stream().anyMatch(h -> h.nodeId().equals("n1")));
    assertNull(fx.holding.get(appId));
    // a Tick does not bring it back
    assertTrue(app.runCommand(new AppEntity.Tick()).events().isEmpty());
  }

  @Test
  void stopHaltsTheProcessAndStartRunsANewIncarnation() {
    create();
    report("n1", 1, "Running", 100L, true, 0, null);
    var stopped = app.<StatusReply<AppView>>runCommand(AppEntity.StopApp::new);
    assertEquals("Stopped", stopped.reply().getValue().status());
    assertInstanceOf(AppEntity.Stopped.class, stopped.event());
    AppOrder.Halt halt = fx.sent(AppOrder.Halt.class).get(0);
    assertEquals("n1", halt.nodeId());
    assertEquals(1, halt.incarnation());
    // a late report of the stopped process is answered with another Halt and changes nothing
    assertTrue(report("n1", 1, "Running", 100L, true, 0, null).events().isEmpty());
    assertEquals(2, fx.sent(AppOrder.Halt.class).size());

    var started = app.<StatusReply<AppView>>runCommand(AppEntity.StartApp::new);
    assertInstanceOf(AppEntity.Placed.class, started.event());
    assertEquals("Deploying", started.reply().getValue().status());
    assertEquals(2, fx.sent(AppOrder.Run.class).get(1).incarnation());
  }

  @Test
  void restartRunsANewIncarnationOnTheSameNode() {
    create();
    report("n1", 1, "Running", 100L, true, 0, null);
    var r = app.<StatusReply<AppView>>runCommand(AppEntity.RestartApp::new);
    assertInstanceOf(AppEntity.Restarted.class, r.event());
    AppOrder.Run run = fx.sent(AppOrder.Run.class).get(1);
    assertEquals("n1", run.nodeId());
    assertEquals(2, run.incarnation());
  }

  @Test
  void anAppOnANodeThatIsGoneMovesToAnotherAndTheOldNodeIsToldToStop() {
    create();
    report("n1", 1, "Running", 100L, true, 0, null);
    fx.gone.add("n1");
    var r = app.runCommand(new AppEntity.Tick());
    AppEntity.Moved moved = assertInstanceOf(AppEntity.Moved.class, r.event());
    assertEquals("n1", moved.from());
    assertEquals("n2", moved.to());
    AppOrder.Run run = fx.sent(AppOrder.Run.class).get(1);
    assertEquals("n2", run.nodeId());
    assertEquals(2, run.incarnation());
    assertEquals("n2", fx.holding.get(appId));
    // the old node comes back and reports its process: it is halted, the app stays on n2
    fx.orders.clear();
    assertTrue(report("n1", 1, "Running", 100L, true, 0, null).events().isEmpty());
    assertEquals("n1", fx.sent(AppOrder.Halt.class).get(0).nodeId());
    var started = report("n2", 2, "Running", 200L, true, 0, null);
    assertEquals(
        List.of(AppEntity.Started.class, AppEntity.Healthy.class), types(started.events()));
    assertEquals("n2", view().nodeId());
  }

  @Test
  void withNoNodeTheAppWaitsAndIsPlacedWhenOneAppears() {
    fx.nodes.clear();
    AppView v = create();
    assertEquals("Deploying", v.status());
    assertNull(v.nodeId());
    assertTrue(v.message().contains("no worker node"), v.message());
    assertTrue(fx.sent(AppOrder.Run.class).isEmpty());
    fx.nodes.add("n2");
    var r = app.runCommand(new AppEntity.Tick());
    assertInstanceOf(AppEntity.Placed.class, r.event());
    assertEquals("n2", fx.sent(AppOrder.Run.class).get(0).nodeId());
  }

  @Test
  void aNodeThatRefusesTheAppIsSkipped() {
    create();
    var r =
        app.runCommand(
            new Report(
                "n1",
                "h",
                1,
                "Refused",
                null,
                null,
                null,
                false,
                0,
                null,
                null,
                null,
                "app hosting is off on this node",
                List.of(),
                null));
    AppEntity.Moved moved = assertInstanceOf(AppEntity.Moved.class, r.event());
    assertEquals("n2", moved.to());
  }

  @Test
  void anUnansweredRunIsRepeatedAfterAQuietSpell() {
    create();
    assertEquals(1, fx.sent(AppOrder.Run.class).size());
    app.runCommand(new AppEntity.Tick());
    assertEquals(1, fx.sent(AppOrder.Run.class).size());
    clock.advance(Duration.ofSeconds(7));
    app.runCommand(new AppEntity.Tick());
    assertEquals(2, fx.sent(AppOrder.Run.class).size());
  }

  @Test
  void recoveryKeepsTheRunningAppAndSendsNothing() {
    create();
    report("n1", 1, "Running", 100L, true, 0, null);
    fx.orders.clear();
    fx.holding.clear();
    app.restart();
    assertTrue(fx.orders.isEmpty(), () -> "after recovery: " + fx.orders);
    assertEquals("n1", fx.holding.get(appId));
    AppView v = view();
    assertEquals("Running", v.status());
    assertEquals(100L, v.pid());
    // its node keeps reporting the same process: nothing is journaled, nothing restarted
    assertTrue(report("n1", 1, "Running", 100L, true, 0, null).events().isEmpty());
    assertTrue(fx.sent(AppOrder.Run.class).isEmpty());
  }

  @Test
  void deleteStopsAndForgets() {
    create();
    report("n1", 1, "Running", 100L, true, 0, null);
    var r = app.<StatusReply<AppView>>runCommand(AppEntity.Delete::new);
    assertInstanceOf(AppEntity.Deleted.class, r.event());
    assertEquals("Deleted", view().status());
    assertEquals("n1", fx.sent(AppOrder.Halt.class).get(0).nodeId());
    var again = app.<StatusReply<AppView>>runCommand(AppEntity.Delete::new);
    assertTrue(again.reply().isError());
    var stop = app.<StatusReply<AppView>>runCommand(AppEntity.StopApp::new);
    assertTrue(stop.reply().isError());
  }

  @Test
  void logsAreAskedFromTheHostingNode() {
    create();
    TestProbe<AppOrder.AppLogs> probe = entities.kit().createTestProbe();
    app.runCommand(new AppEntity.GetLogs(50, probe.ref()));
    AppOrder.Logs logs = fx.sent(AppOrder.Logs.class).get(0);
    assertEquals("n1", logs.nodeId());
    assertEquals(50, logs.limit());
  }

  @Test
  void anUnknownAppAnswersUnknown() {
    assertEquals(AppView.UNKNOWN, view().status());
    var stop = app.<StatusReply<AppView>>runCommand(AppEntity.StopApp::new);
    assertTrue(stop.reply().isError());
  }

  @Test
  void aDrainStartsTheNewCopyAndStopsTheOldOneOnlyOnceTheNewIsHealthy() {
    create();
    report("n1", 1, "Running", 100L, true, 0, null);
    fx.draining.add("n1");
    fx.orders.clear();
    var r = app.runCommand(new AppEntity.Tick());
    AppEntity.Moved moved = assertInstanceOf(AppEntity.Moved.class, r.event());
    assertTrue(moved.graceful());
    assertEquals("n2", moved.to());
    assertTrue(fx.sent(AppOrder.Halt.class).isEmpty(), "the old copy serves on");
    assertEquals("n2", fx.sent(AppOrder.Run.class).get(0).nodeId());
    AppView v = view();
    assertEquals("n1", v.retiring().nodeId());
    assertEquals(8080, v.retiring().port());
    // the old copy keeps reporting: tolerated, not halted
    assertTrue(report("n1", 1, "Running", 100L, true, 0, null).events().isEmpty());
    assertTrue(fx.sent(AppOrder.Halt.class).isEmpty());
    // the new one starts, then is healthy: only now the old one is halted
    report("n2", 2, "Running", 200L, false, 0, null);
    assertTrue(fx.sent(AppOrder.Halt.class).isEmpty());
    report("n2", 2, "Running", 200L, true, 0, null);
    AppOrder.Halt halt = fx.sent(AppOrder.Halt.class).get(0);
    assertEquals("n1", halt.nodeId());
    assertEquals(1, halt.incarnation());
    assertNull(view().retiring());
    assertEquals("n2", view().nodeId());
  }

  @Test
  void aDrainWithNowhereToGoLeavesTheAppWhereItIs() {
    create();
    report("n1", 1, "Running", 100L, true, 0, null);
    fx.draining.add("n1");
    fx.nodes.remove("n2");
    assertTrue(app.runCommand(new AppEntity.Tick()).events().isEmpty());
    assertEquals("n1", view().nodeId());
  }
}
