package dev.anchor.dag;

import static dev.anchor.task.Eventually.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.EntityFixture;
import dev.anchor.dag.DagEntity.Command;
import dev.anchor.dag.DagEntity.Event;
import dev.anchor.dag.DagEntity.State;
import dev.anchor.dag.DagEntity.StepEnded;
import dev.anchor.task.MutableClock;
import dev.anchor.task.TaskSpec;
import dev.anchor.task.TaskView;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class DagEntityTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * Polling only on recovery unless a test restarts the entity: the timer interval is out of reach.
   */
  private static final DagSettings SETTINGS =
      new DagSettings(1_000, Duration.ofHours(1), Duration.ofSeconds(5));

  private static final TaskSpec T = TaskSpec.of("task", "js", "input");

  @RegisterExtension static final EntityFixture entities = EntityFixture.named("DagEntityTest");
  private static final AtomicInteger ids = new AtomicInteger();

  private final MutableClock clock = new MutableClock(1_700_000_000_000L);
  private FakeDagEffects fx;
  private String dagId;
  private EventSourcedBehaviorTestKit<Command, Event, State> dag;

  @BeforeEach
  void newDag() {
    fx = new FakeDagEffects();
    dagId = "d" + ids.incrementAndGet();
    dag = entity(null);
  }

  private EventSourcedBehaviorTestKit<Command, Event, State> entity(
      org.apache.pekko.actor.typed.ActorRef<ClusterSharding.ShardCommand> shard) {
    return entities.testKit(DagEntity.create(dagId, fx, SETTINGS, clock, shard));
  }

  // ------------------------------------------------------------------ helpers

  static DagStep step(String id, String... deps) {
    return DagStep.of(id, List.of(deps), T);
  }

  static DagSpec reference(DagSpec.FailurePolicy policy) {
    return new DagSpec(
        "ref",
        List.of(
            step("fetch"),
            step("process_1", "fetch"),
            step("process_2", "fetch"),
            step("aggregate", "process_1", "process_2")),
        "{\"url\":\"x\"}",
        policy,
        0);
  }

  private DagView schedule(DagSpec spec) {
    var r = dag.<StatusReply<DagView>>runCommand(reply -> new DagEntity.Schedule(spec, reply));
    return r.reply().getValue();
  }

  private String task(String step) {
    return DagEntity.taskId(dagId, step);
  }

  private void complete(String step, String resultJson) {
    TaskView v = FakeDagEffects.view(task(step), TaskView.COMPLETED, resultJson, null);
    fx.tasks.put(task(step), v);
    dag.runCommand(new StepEnded(step, v));
  }

  private void fail(String step) {
    TaskView v = FakeDagEffects.view(task(step), TaskView.FAILED, null, "boom");
    fx.tasks.put(task(step), v);
    dag.runCommand(new StepEnded(step, v));
  }

  private DagView view() {
    return DagEntity.view(dagId, dag.getState());
  }

  private String nodeStatus(String step) {
    return view().steps().stream()
        .filter(n -> n.id().equals(step))
        .findFirst()
        .orElseThrow()
        .status();
  }

  /**
   * Submitted to the task entities and journaled as started by the DAG, so the test clock may move
   * on.
   */
  private void awaitSubmitted(String... steps) {
    eventually(
        () -> {
          for (String n : steps) {
            assertTrue(fx.submitted.contains(task(n)), n + " not submitted: " + fx.submitted);
            // a step's start time is taken when the DAG journals it, after the submit: without this
            // wait a later
            // clock.advance could land before it and shift the step's duration (the critical-path
            // check then flaked)
            assertTrue(
                dag.getState().steps().get(n).startedAt() != null,
                n + " not journaled as started yet");
          }
        });
  }

  // ------------------------------------------------------------------ tests

  @Test
  void nodesRunInDependencyOrderAndSeeTheirDependenciesResults() throws Exception {
    DagView v = schedule(reference(null));
    assertEquals("Running", v.status());
    awaitSubmitted("fetch");
    assertEquals(1, fx.submitted.size(), "only the root starts: " + fx.submitted);
    assertEquals(
        "{\"url\":\"x\"}", fx.specs.get(task("fetch")).inputJson(), "a root sees the DAG's input");

    clock.advance(Duration.ofMillis(100));
    complete("fetch", "[1,2,3]");
    awaitSubmitted("process_1", "process_2");
    assertFalse(fx.submitted.contains(task("aggregate")));
    assertEquals(
        JSON.readTree("{\"fetch\":[1,2,3]}"),
        JSON.readTree(fx.specs.get(task("process_1")).inputJson()));

    clock.advance(Duration.ofMillis(50));
    complete("process_1", "6");
    assertFalse(
        fx.submitted.contains(task("aggregate")), "aggregate waits for both its dependencies");
    clock.advance(Duration.ofMillis(250));
    complete("process_2", "\"six\"");
    awaitSubmitted("aggregate");
    assertEquals(
        JSON.readTree("{\"process_1\":6,\"process_2\":\"six\"}"),
        JSON.readTree(fx.specs.get(task("aggregate")).inputJson()));

    clock.advance(Duration.ofMillis(10));
    complete("aggregate", "{\"sum\":12}");
    v = view();
    assertEquals("Completed", v.status());
    assertEquals("{\"sum\":12}", v.result(), "the single sink's result is the DAG's");
    assertEquals(4, v.completed());
    assertEquals(
        List.of("fetch", "process_2", "aggregate"),
        v.criticalPath(),
        "the slow branch is critical");
    assertEquals(410, v.criticalPathMs());
    assertEquals(410, v.durationMs());
    assertEquals(1, fx.submitsOf(task("fetch")));
    assertEquals("Completed", fx.changes.get(fx.changes.size() - 1).event());
  }

  @Test
  void severalSinksGiveAnObjectKeyedBySinkId() throws Exception {
    schedule(new DagSpec("two", List.of(step("a"), step("b")), null, null, 0));
    awaitSubmitted("a", "b");
    complete("a", "1");
    complete("b", "2");
    assertEquals(JSON.readTree("{\"a\":1,\"b\":2}"), JSON.readTree(view().result()));
  }

  @Test
  void independentNodesStartTogetherUpToMaxParallel() {
    List<DagStep> steps = new ArrayList<>();
    for (int i = 0; i < 5; i++) steps.add(step("n" + i));
    schedule(new DagSpec("fan", steps, null, null, 2));
    awaitSubmitted("n0", "n1");
    assertEquals(2, fx.submitted.size(), fx.submitted.toString());
    complete("n0", "0");
    awaitSubmitted("n2");
    assertEquals(3, fx.submitted.size(), fx.submitted.toString());
    assertEquals(2, view().running());
  }

  @Test
  void failFastSkipsWhatHasNotStartedAndLetsRunningNodesFinish() {
    // a -> c, b -> d; a fails while b runs
    schedule(
        new DagSpec(
            "ff",
            List.of(step("a"), step("b"), step("c", "a"), step("d", "b")),
            null,
            DagSpec.FailurePolicy.FAIL_FAST,
            0));
    awaitSubmitted("a", "b");
    fail("a");
    assertEquals("Skipped", nodeStatus("c"));
    assertEquals("Skipped", nodeStatus("d"));
    assertEquals("Running", view().status(), "b still runs");
    complete("b", "1");
    DagView v = view();
    assertEquals("Failed", v.status());
    assertTrue(v.error().contains("a"), v.error());
    assertFalse(fx.submitted.contains(task("c")));
    assertFalse(fx.submitted.contains(task("d")));
    assertEquals("Completed", nodeStatus("b"));
  }

  @Test
  void continueRunsEveryBranchThatDoesNotDependOnTheFailure() {
    schedule(
        new DagSpec(
            "go-on",
            List.of(step("a"), step("b"), step("c", "a"), step("e", "c"), step("d", "b")),
            null,
            DagSpec.FailurePolicy.CONTINUE,
            0));
    awaitSubmitted("a", "b");
    fail("a");
    assertEquals("Skipped", nodeStatus("c"));
    assertEquals("Skipped", nodeStatus("e"), "a skip reaches indirect dependents");
    complete("b", "1");
    awaitSubmitted("d");
    assertEquals("Running", view().status());
    complete("d", "2");
    assertEquals("Failed", view().status());
    assertEquals("Completed", nodeStatus("d"));
  }

  @Test
  void aCancelledNodeTaskFailsTheNode() {
    schedule(new DagSpec("c", List.of(step("a"), step("b", "a")), null, null, 0));
    awaitSubmitted("a");
    TaskView v = FakeDagEffects.view(task("a"), TaskView.CANCELLED, null, null);
    dag.runCommand(new StepEnded("a", v));
    assertEquals("Failed", nodeStatus("a"));
    assertEquals("Failed", view().status());
  }

  @Test
  void cancelStopsRunningNodesAndSkipsPendingOnes() {
    schedule(reference(null));
    awaitSubmitted("fetch");
    complete("fetch", "1");
    awaitSubmitted("process_1", "process_2");
    var r = dag.<StatusReply<DagView>>runCommand(DagEntity.Cancel::new);
    assertEquals("Cancelled", r.reply().getValue().status());
    eventually(() -> assertEquals(List.of(task("process_1"), task("process_2")), fx.cancelled));
    assertEquals("Cancelled", nodeStatus("aggregate"));
    assertEquals("Completed", nodeStatus("fetch"));
    // a completion that arrives after the cancel changes nothing
    complete("process_1", "1");
    assertEquals("Cancelled", view().status());
    assertFalse(fx.submitted.contains(task("aggregate")));
    var again = dag.<StatusReply<DagView>>runCommand(DagEntity.Cancel::new);
    assertTrue(again.reply().isError());
  }

  @Test
  void aSecondEndOfTheSameNodeChangesNothing() {
    schedule(reference(null));
    awaitSubmitted("fetch");
    complete("fetch", "1");
    dag.runCommand(
        new StepEnded("fetch", FakeDagEffects.view(task("fetch"), TaskView.FAILED, null, "late")));
    assertEquals("Completed", nodeStatus("fetch"));
    assertEquals(0, view().failed());
  }

  @Test
  void aWideFanOutEndingAllAtOnceReachesItsSink() throws Exception {
    List<DagStep> steps = new ArrayList<>();
    steps.add(step("root"));
    List<String> mid = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      mid.add("m" + i);
      steps.add(step("m" + i, "root"));
    }
    steps.add(DagStep.of("sink", mid, T));
    schedule(new DagSpec("wide", steps, null, null, 0));
    awaitSubmitted("root");
    complete("root", "1");
    eventually(() -> assertEquals(201, fx.submitted.size()));
    for (String m : mid) {
      TaskView v = FakeDagEffects.view(task(m), TaskView.COMPLETED, "1", null);
      fx.tasks.put(task(m), v);
      dag.runCommand(new StepEnded(m, v));
    }
    eventually(() -> assertEquals(201, dag.getState().count(DagEntity.StepStatus.COMPLETED)));
    awaitSubmitted("sink");
    assertEquals(200, JSON.readTree(fx.specs.get(task("sink")).inputJson()).size());
  }

  @Test
  void scheduleIsIdempotent() {
    schedule(reference(null));
    var r =
        dag.<StatusReply<DagView>>runCommand(
            reply -> new DagEntity.Schedule(reference(null), reply));
    assertTrue(r.events().isEmpty());
    assertEquals("Running", r.reply().getValue().status());
  }

  @Test
  void afterARestartCompletedNodesAreNotResubmittedAndLostForwardsAreRecovered() {
    schedule(reference(null));
    awaitSubmitted("fetch");
    complete("fetch", "1");
    awaitSubmitted("process_1", "process_2");
    // process_1 completed while the forward of its end was lost in a crash
    fx.tasks.put(
        task("process_1"), FakeDagEffects.view(task("process_1"), TaskView.COMPLETED, "10", null));
    // process_2 was journaled as started but its task was never created
    fx.tasks.remove(task("process_2"));
    int submitsBefore = fx.submitted.size();

    dag.restart();

    eventually(() -> assertEquals("Completed", nodeStatus("process_1")));
    eventually(() -> assertEquals(2, fx.submitsOf(task("process_2"))));
    assertEquals(1, fx.submitsOf(task("fetch")), "a completed step is never submitted again");
    assertEquals(1, fx.submitsOf(task("process_1")));
    assertEquals(submitsBefore + 1, fx.submitted.size());
    complete("process_2", "20");
    awaitSubmitted("aggregate");
    complete("aggregate", "30");
    assertEquals("Completed", view().status());
  }

  @Test
  void aNextStepSubmittedBeforeItsStartWasJournaledIsSubmittedTheSameAfterTheWriteFails()
      throws Exception {
    schedule(new DagSpec("chain", List.of(step("a"), step("b", "a")), null, null, 0));
    awaitSubmitted("a");
    // the write of a's end and b's start fails: b was already submitted (it is, before the write)
    dag.persistenceTestKit().failNextPersisted();
    complete("a", "7");
    // the restart (200 ms backoff) may have submitted it a second time already
    eventually(() -> assertTrue(fx.submitsOf(task("b")) >= 1));
    String input = fx.specs.get(task("b")).inputJson();
    // the entity restarts from the journal (backoff), finds a's end through its task, and submits
    // b again: the same task id with the same input, which a task entity answers with what it has
    eventually(() -> assertEquals(2, fx.submitsOf(task("b"))));
    eventually(() -> assertEquals("Running", nodeStatus("b")));
    assertEquals(input, fx.specs.get(task("b")).inputJson());
    assertEquals(
        JSON.readTree("{\"a\":7}").toString(),
        JSON.readTree(input).toString(),
        "b sees a's result");
    complete("b", "8");
    assertEquals("Completed", view().status());
    assertEquals("8", view().result());
  }

  @Test
  void anUnknownDagAnswersUnknownAndPassivates() {
    TestProbe<ClusterSharding.ShardCommand> shard = entities.kit().createTestProbe();
    dag = entity(shard.getRef());
    DagView v = dag.<DagView>runCommand(DagEntity.Get::new).reply();
    assertEquals(DagView.UNKNOWN, v.status());
    assertInstanceOf(ClusterSharding.Passivate.class, shard.receiveMessage());
  }

  @Test
  void anEndedDagPassivates() {
    TestProbe<ClusterSharding.ShardCommand> shard = entities.kit().createTestProbe();
    dag = entity(shard.getRef());
    schedule(new DagSpec("one", List.of(step("a")), null, null, 0));
    awaitSubmitted("a");
    complete("a", "1");
    assertInstanceOf(ClusterSharding.Passivate.class, shard.receiveMessage());
  }

  @Test
  void mapReduceGivesEachPartitionItsSliceAndTheReduceAnOrderedArray() throws Exception {
    var items = JSON.createArrayNode();
    for (int i = 0; i < 7; i++) items.add(i);
    schedule(MapReduce.plan("mr", items, 3, T, T, 0));
    awaitSubmitted("map-0", "map-1", "map-2");
    assertEquals("[0,1,2]", fx.specs.get(task("map-0")).inputJson());
    assertEquals("[3,4]", fx.specs.get(task("map-1")).inputJson());
    assertEquals("[5,6]", fx.specs.get(task("map-2")).inputJson());
    complete("map-2", "\"c\"");
    complete("map-0", "\"a\"");
    complete("map-1", "\"b\"");
    awaitSubmitted("reduce");
    assertEquals("[\"a\",\"b\",\"c\"]", fx.specs.get(task("reduce")).inputJson());
    complete("reduce", "\"abc\"");
    assertEquals("\"abc\"", view().result());
  }

  @Test
  void taskIdsRoundTrip() {
    String id = DagEntity.taskId("0f1e-22", "process.1");
    assertEquals(List.of("0f1e-22", "process.1"), List.of(DagEntity.parseTaskId(id)));
    assertEquals(null, DagEntity.parseTaskId("8c1e-4f"));
  }

  @Test
  void aNodeWithoutPayloadPassesItsInputOnWithoutATask() {
    TaskSpec through =
        new TaskSpec(
            "p",
            "parallel",
            DagStep.PASS_THROUGH,
            null,
            null,
            null,
            null,
            List.of(),
            null,
            null,
            null,
            null,
            0);
    DagSpec spec =
        new DagSpec(
            "mixed",
            List.of(
                step("fetch"),
                DagStep.of("process_1", List.of("fetch"), through),
                step("aggregate", "process_1")),
            "{\"n\":4}",
            DagSpec.FailurePolicy.FAIL_FAST,
            0);
    schedule(spec);
    awaitSubmitted("fetch");
    complete("fetch", "{\"rows\":3}");
    // process_1 completes by itself with its input (fetch's result keyed by id); aggregate sees
    // that as input
    awaitSubmitted("aggregate");
    assertFalse(fx.submitted.contains(task("process_1")), "a pass-through step submits no task");
    DagView.StepView p =
        view().steps().stream().filter(n -> n.id().equals("process_1")).findFirst().orElseThrow();
    assertEquals("Completed", p.status());
    assertEquals("parallel", p.type());
    assertEquals(null, p.taskId());
    assertEquals("{\"fetch\":{\"rows\":3}}", p.result());
    assertEquals(
        "{\"process_1\":{\"fetch\":{\"rows\":3}}}", fx.specs.get(task("aggregate")).inputJson());
    complete("aggregate", "7");
    assertEquals("Completed", view().status());
  }
}
