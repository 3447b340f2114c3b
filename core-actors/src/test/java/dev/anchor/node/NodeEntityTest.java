package dev.anchor.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anchor.EntityFixture;
import dev.anchor.node.NodeEntity.Command;
import dev.anchor.node.NodeEntity.Cordon;
import dev.anchor.node.NodeEntity.Drain;
import dev.anchor.node.NodeEntity.Event;
import dev.anchor.node.NodeEntity.Get;
import dev.anchor.node.NodeEntity.Heartbeat;
import dev.anchor.node.NodeEntity.HeartbeatRecorded;
import dev.anchor.node.NodeEntity.MarkOffline;
import dev.anchor.node.NodeEntity.Register;
import dev.anchor.node.NodeEntity.Registered;
import dev.anchor.node.NodeEntity.State;
import dev.anchor.node.NodeEntity.Uncordon;
import dev.anchor.task.MutableClock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.apache.pekko.actor.testkit.typed.javadsl.SerializationTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class NodeEntityTest {

  private static final NodeSpecs SPECS =
      new NodeSpecs(8, 16_384, true, "RTX 4090", List.of("js", "python", "wasm"), "10.0.0.5");
  private static final NodeMetrics IDLE = new NodeMetrics(0.05, 0.2, 100, 0);
  private static final NodeMetrics BUSY = new NodeMetrics(0.9, 0.7, 160, 4);

  @RegisterExtension static final EntityFixture entities = EntityFixture.named("NodeEntityTest");
  private static final AtomicInteger ids = new AtomicInteger();

  private final MutableClock clock = new MutableClock(1_700_000_000_000L);
  private String nodeId;
  private EventSourcedBehaviorTestKit<Command, Event, State> node;
  private RecordingNodeEffects effects;

  static final class RecordingNodeEffects implements NodeEffects {
    final List<NodeStatus> published = new java.util.concurrent.CopyOnWriteArrayList<>();
    final List<String> withdrawn = new java.util.concurrent.CopyOnWriteArrayList<>();
    final List<String> quarantines = new java.util.concurrent.CopyOnWriteArrayList<>();

    @Override
    public void publish(NodeStatus status) {
      published.add(status);
    }

    @Override
    public void withdrawQueued(String nodeId) {
      withdrawn.add(nodeId);
    }

    @Override
    public void quarantined(String nodeId, String reason) {
      quarantines.add(reason);
    }

    NodeStatus last() {
      return published.get(published.size() - 1);
    }
  }

  @BeforeEach
  void newNode() {
    nodeId = "node-" + ids.incrementAndGet();
    effects = new RecordingNodeEffects();
    node =
        entities.testKit(
            NodeEntity.create(nodeId, new NodeSettings(Duration.ofSeconds(60)), effects, clock));
  }

  private NodeView view() {
    return node.<NodeView>runCommand(Get::new).reply();
  }

  private StatusReply<NodeView> operator(
      Function<ActorRef<StatusReply<NodeView>>, Command> command) {
    return node.<StatusReply<NodeView>>runCommand(command::apply).reply();
  }

  private void register() {
    StatusReply<NodeView> reply = operator(r -> new Register(SPECS, r));
    assertTrue(reply.isSuccess());
  }

  private List<Object> journal() {
    return node.persistenceTestKit().persistedInStorage("Node|" + nodeId);
  }

  @Test
  void aRegisteredNodeIsOnlineWithItsSpecsAndAcceptsTasks() {
    assertEquals(NodeView.UNKNOWN, view().status());
    StatusReply<NodeView> reply = operator(r -> new Register(SPECS, r));
    NodeView v = reply.getValue();
    assertEquals(nodeId, v.nodeId());
    assertEquals(NodeView.ONLINE, v.status());
    assertEquals(SPECS, v.specs());
    assertEquals(clock.millis(), v.firstSeen());
    assertEquals(clock.millis(), v.lastSeen());
    assertTrue(v.acceptsTasks());
    assertEquals(0.5, v.reputation(), "a new node starts unproven, halfway");
    assertFalse(v.proven());
    assertEquals(nodeId, effects.last().nodeId());
    assertEquals(NodeView.ONLINE, effects.last().status());
    assertEquals(List.of(new Registered(SPECS, clock.millis())), journal());
  }

  @Test
  void registeringAgainWithTheSameSpecsJournalsNothingButNewSpecsAreRecorded() {
    register();
    clock.advance(Duration.ofSeconds(30));
    register();
    assertEquals(1, journal().size());
    assertEquals(
        clock.millis(), view().lastSeen(), "a repeated registration still counts as a sighting");

    NodeSpecs upgraded = new NodeSpecs(16, 32_768, true, "RTX 4090", List.of("js"), "10.0.0.5");
    NodeView v = operator(r -> new Register(upgraded, r)).getValue();
    assertEquals(upgraded, v.specs());
    assertEquals(2, journal().size());
    assertEquals(1_700_000_000_000L, v.firstSeen(), "first seen stays the first registration");
  }

  @Test
  void heartbeatsUpdateTheViewButAreJournaledAtMostOncePerInterval() {
    register();
    clock.advance(Duration.ofSeconds(5));
    var first = node.runCommand(new Heartbeat(IDLE));
    assertTrue(first.hasNoEvents());
    assertEquals(IDLE, view().metrics());
    assertEquals(clock.millis(), view().lastSeen());

    clock.advance(Duration.ofSeconds(54));
    assertTrue(node.runCommand(new Heartbeat(BUSY)).hasNoEvents());
    assertEquals(BUSY, view().metrics());

    clock.advance(Duration.ofSeconds(1)); // 60 s after the registration was journaled
    var recorded = node.runCommand(new Heartbeat(BUSY));
    assertEquals(new HeartbeatRecorded(BUSY, clock.millis()), recorded.event());
    assertEquals(BUSY, recorded.state().metrics());

    clock.advance(Duration.ofSeconds(5));
    assertTrue(node.runCommand(new Heartbeat(IDLE)).hasNoEvents());
  }

  @Test
  void afterARestartTheViewShowsTheLastJournaledHeartbeat() {
    register();
    clock.advance(Duration.ofSeconds(60));
    node.runCommand(new Heartbeat(BUSY));
    long recordedAt = clock.millis();
    clock.advance(Duration.ofSeconds(5));
    node.runCommand(new Heartbeat(IDLE));

    node.restart();
    NodeView v = view();
    assertEquals(BUSY, v.metrics());
    assertEquals(recordedAt, v.lastSeen());
    assertEquals(NodeView.ONLINE, v.status());
  }

  @Test
  void aHeartbeatBeforeRegistrationIsRefusedSoTheWorkerRegisters() {
    StatusReply<NodeView> reply = operator(r -> new Heartbeat(IDLE, r));
    assertTrue(reply.isError());
    assertTrue(node.runCommand(new Heartbeat(IDLE)).hasNoEvents());
    assertEquals(NodeView.UNKNOWN, view().status());
  }

  @Test
  void anOfflineNodeComesBackOnlineWithItsNextHeartbeat() {
    register();
    clock.advance(Duration.ofSeconds(3));
    var offline = node.runCommand(new MarkOffline("left the cluster"));
    assertInstanceOf(NodeEntity.WentOffline.class, offline.event());
    NodeView v = view();
    assertEquals(NodeView.OFFLINE, v.status());
    assertEquals("left the cluster", v.offlineReason());
    assertFalse(v.acceptsTasks());
    assertTrue(node.runCommand(new MarkOffline("again")).hasNoEvents());

    clock.advance(Duration.ofSeconds(3));
    StatusReply<NodeView> back = operator(r -> new Heartbeat(IDLE, r));
    assertEquals(NodeView.ONLINE, back.getValue().status());
    assertEquals(IDLE, back.getValue().metrics());
    assertTrue(view().acceptsTasks());
    assertEquals(3, journal().size());
  }

  @Test
  void aDrainingNodeTakesNoNewWorkUntilItRegistersAgain() {
    register();
    NodeView draining = operator(Drain::new).getValue();
    assertEquals(NodeView.DRAINING, draining.status());
    assertFalse(draining.acceptsTasks());
    assertTrue(operator(Drain::new).isSuccess());
    assertEquals(2, journal().size(), "draining twice journals once");

    clock.advance(Duration.ofMinutes(5));
    node.runCommand(new Heartbeat(BUSY));
    assertEquals(NodeView.DRAINING, view().status(), "heartbeats do not end draining");

    register();
    assertEquals(NodeView.ONLINE, view().status(), "a restarted node registers as online");
  }

  @Test
  void aCordonHoldsAcrossOfflineAndRegistrationUntilUncordoned() {
    register();
    NodeView cordoned = operator(Cordon::new).getValue();
    assertTrue(cordoned.cordoned());
    assertEquals(NodeView.ONLINE, cordoned.status());
    assertFalse(cordoned.acceptsTasks());

    node.runCommand(new MarkOffline("restart"));
    register();
    assertTrue(view().cordoned());
    assertFalse(view().acceptsTasks());

    NodeView uncordoned = operator(Uncordon::new).getValue();
    assertFalse(uncordoned.cordoned());
    assertTrue(uncordoned.acceptsTasks());
    assertTrue(operator(Uncordon::new).isSuccess());
    assertEquals(5, journal().size());
  }

  @Test
  void operatorCommandsOnAnUnknownNodeAreErrors() {
    assertTrue(operator(Drain::new).isError());
    assertTrue(operator(Cordon::new).isError());
    assertTrue(operator(Uncordon::new).isError());
    assertTrue(node.runCommand(new MarkOffline("gone")).hasNoEvents());
    assertTrue(journal().isEmpty());
  }

  @Test
  void theJournalOfALongLivedNodeStaysBoundedAndRecoveryStillSeesItsState() {
    register();
    int heartbeats = 350;
    for (int i = 0; i < heartbeats; i++) {
      clock.advance(Duration.ofSeconds(60));
      node.runCommand(new Heartbeat(new NodeMetrics(0.5, 0.5, i, i % 3)));
    }
    operator(Cordon::new);
    int written = 1 + heartbeats + 1;
    int stored = journal().size();
    // a snapshot every 100 events, keeping two, deletes the events older than the oldest snapshot
    // kept
    assertTrue(
        stored < written && stored <= 300,
        "expected old events deleted, " + stored + " of " + written + " left");

    State recovered = node.restart().state();
    assertEquals(NodeEntity.Status.ONLINE, recovered.status());
    assertTrue(recovered.cordoned());
    assertEquals(
        new NodeMetrics(0.5, 0.5, heartbeats - 1, (heartbeats - 1) % 3), recovered.metrics());
    assertEquals(SPECS, recovered.specs());
  }

  @Test
  void stateAndEventsRoundTripThroughCborUnchanged() {
    SerializationTestKit serialization = new SerializationTestKit(entities.system());
    State s = State.EMPTY;
    for (Event e :
        List.<Event>of(
            new Registered(SPECS, 1),
            new HeartbeatRecorded(BUSY, 2),
            new NodeEntity.DrainStarted(3),
            new NodeEntity.Cordoned(4),
            new NodeEntity.Uncordoned(5),
            new NodeEntity.WentOffline("gone", 6))) {
      assertEquals(e, serialization.verifySerialization(e, true));
      s = s.apply(e);
    }
    assertEquals(s, serialization.verifySerialization(s, true));
  }

  private NodeView verdict(String taskId, boolean agreed) {
    return operator(r -> new NodeEntity.RecordVerdict(taskId, agreed, r)).getValue();
  }

  @Test
  void agreementsRaiseReputationSlowlyAndMakeTheNodeProven() {
    register();
    double before = view().reputation();
    for (int i = 0; i < 9; i++) verdict("t" + i, true);
    NodeView v = view();
    assertTrue(v.reputation() > before);
    assertEquals(9, v.agreed());
    assertFalse(v.proven(), "10 agreements are needed");
    v = verdict("t9", true);
    assertTrue(v.proven());
    assertTrue(effects.last().proven(), "schedulers hear that the node is proven");
    assertEquals(v.reputation(), effects.last().reputation());
  }

  @Test
  void aRecoveredNodeTellsTheCoordinatorsItExists() {
    register();
    int before = effects.published.size();
    node.restart();
    assertEquals(
        before + 1,
        effects.published.size(),
        "a restarted coordinator lists it before any heartbeat");
    assertEquals(nodeId, effects.last().nodeId());
    assertTrue(effects.withdrawn.isEmpty(), "a recovery alone withdraws nothing");
  }

  @Test
  void disagreementsCutReputationSharplyAndQuarantineTheNodeUntilReleased() {
    register();
    for (int i = 0; i < 3; i++) verdict("ok" + i, true);
    double trusted = view().reputation();
    NodeView once = verdict("bad1", false);
    assertTrue(once.reputation() < trusted / 1.9, "one disagreement halves it");
    assertFalse(once.quarantined());
    NodeView twice = verdict("bad2", false);
    assertTrue(twice.quarantined());
    assertFalse(twice.acceptsTasks());
    assertEquals(2, twice.disagreed());
    assertTrue(twice.quarantineReason().contains("bad2"), twice.quarantineReason());
    assertEquals(1, effects.quarantines.size(), "one alert");
    assertTrue(effects.last().quarantined());
    assertFalse(effects.last().takesWork());
    assertEquals(List.of(nodeId), effects.withdrawn, "its waiting jobs move to other nodes");
    assertTrue(journal().stream().anyMatch(e -> e instanceof NodeEntity.Quarantined));

    // the same verdict delivered again changes nothing
    int events = journal().size();
    verdict("bad2", false);
    assertEquals(events, journal().size());
    assertEquals(2, view().disagreed());

    // quarantine survives a restart, and heartbeats keep withdrawing its queue
    node.restart();
    assertTrue(view().quarantined());
    node.runCommand(new Heartbeat(IDLE));
    assertEquals(2, effects.withdrawn.size());

    NodeView released = operator(NodeEntity.Release::new).getValue();
    assertFalse(released.quarantined());
    assertTrue(released.acceptsTasks());
    assertEquals(
        0.5, released.reputation(), "back to unproven so adaptive verification checks it again");
    assertEquals(2, released.disagreed(), "the record of what it did stays");
    assertFalse(effects.last().quarantined());
    assertTrue(operator(NodeEntity.Release::new).isSuccess(), "releasing a free node is a no-op");
  }

  @Test
  void drainingWithdrawsTheUnreadQueueAndUncordonReturnsTheNodeToService() {
    register();
    NodeView draining = operator(Drain::new).getValue();
    assertEquals(NodeView.DRAINING, draining.status());
    assertEquals(NodeView.DRAINING, effects.last().status());
    assertEquals(List.of(nodeId), effects.withdrawn);
    NodeView back = operator(Uncordon::new).getValue();
    assertEquals(NodeView.ONLINE, back.status());
    assertTrue(back.acceptsTasks());
    assertTrue(effects.last().takesWork());
  }
}
