package dev.anchor.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anchor.EntityFixture;
import dev.anchor.task.RecordingTaskEffects.Verdict;
import dev.anchor.task.TaskEffects.Placement;
import dev.anchor.task.TaskEntity.Command;
import dev.anchor.task.TaskEntity.Event;
import dev.anchor.task.TaskEntity.Get;
import dev.anchor.task.TaskEntity.ReportResult;
import dev.anchor.task.TaskEntity.Started;
import dev.anchor.task.TaskEntity.Submit;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.Done;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Consensus verification in the task entity: replicas on distinct nodes, quorum, verdicts,
 * evidence.
 */
class VerifiedTaskTest {

  private static final TaskSettings SETTINGS =
      new TaskSettings(
          Duration.ofSeconds(2),
          Duration.ofSeconds(10),
          Duration.ofSeconds(10),
          Duration.ofSeconds(60));

  @RegisterExtension
  static final EntityFixture entities = EntityFixture.named("VerifiedTaskTest").withManualTime();

  private static final AtomicInteger ids = new AtomicInteger();

  private final MutableClock clock = new MutableClock(1_700_000_000_000L);
  private RecordingTaskEffects fx;
  private String taskId;
  private EventSourcedBehaviorTestKit<Command, Event, TaskState> task;

  @BeforeEach
  void newTask() {
    fx = new RecordingTaskEffects();
    taskId = "v-" + ids.incrementAndGet();
    task = entities.testKit(TaskEntity.create(taskId, fx, SETTINGS, clock, null));
  }

  private static TaskSpec verified(int replicas, Integer quorum, Integer max) {
    return TaskSpec.of("v", "js", "({a: 1, b: 2})")
        .withVerification(TaskSpec.Verification.of(replicas, quorum, max, null));
  }

  private TaskView submit(TaskSpec spec) {
    var result = task.<StatusReply<TaskView>>runCommand(reply -> new Submit(spec, reply));
    assertTrue(result.reply().isSuccess());
    return view();
  }

  private TaskView view() {
    return task.<TaskView>runCommand(Get::new).reply();
  }

  private StatusReply<Done> result(int job, String node, String json) {
    return task.<StatusReply<Done>>runCommand(
            r -> new ReportResult(job, node, true, json, null, null, false, "", 5, r))
        .reply();
  }

  private StatusReply<Done> failure(
      int job, String node, String error, String kind, boolean retryable) {
    return task.<StatusReply<Done>>runCommand(
            r -> new ReportResult(job, node, false, null, error, kind, retryable, "", 5, r))
        .reply();
  }

  private void timePasses(Duration d) {
    SteppedTime.passes(d, clock, entities.manualTime(), this::view);
  }

  private List<String> replicaNodes() {
    return view().verification().runs().stream().map(VerificationView.ReplicaView::nodeId).toList();
  }

  @Test
  void replicasGoToDistinctNodesAndTheQuorumsResultWinsOnCanonicalBytes() {
    TaskView v = submit(verified(3, null, null));
    assertEquals(List.of("node-1", "node-2", "node-3"), replicaNodes());
    assertEquals(1, fx.replicaDispatches.size(), "the three replicas are placed in one call");
    assertEquals(List.of(1, 2, 3), fx.replicaDispatches.get(0).jobs());
    assertEquals(2, v.verification().quorum(), "quorum defaults to the majority");
    assertEquals(5, v.verification().maxReplicas());

    task.runCommand(new Started(1, "node-1"));
    assertEquals(TaskView.RUNNING, view().status());
    result(1, "node-1", "{\"a\":1,\"b\":2}");
    result(3, "node-3", "{\"a\":1,\"b\":3}");
    assertEquals(TaskView.RUNNING, view().status(), "1 vs 1: waits for the third");
    result(
        2, "node-2", "{ \"b\" : 2.0, \"a\" : 1 }"); // same value, other key order and number form

    v = view();
    assertEquals(TaskView.COMPLETED, v.status());
    assertEquals(
        "{\"a\":1,\"b\":2}", v.result(), "the first agreeing replica's result as it reported it");
    assertEquals(List.of("node-1", "node-2"), v.verification().agreeing());
    assertEquals(List.of("node-3"), v.verification().disagreeing());
    assertEquals(
        Set.of(
            new Verdict("node-1", taskId, true),
            new Verdict("node-2", taskId, true),
            new Verdict("node-3", taskId, false)),
        Set.copyOf(fx.verdicts));
    assertEquals(1, fx.mismatches.size());
    assertEquals(List.of("node-3"), fx.mismatches.get(0).faultyNodes());
    assertEquals(v.verification().agreedHash(), fx.mismatches.get(0).agreedKey());
    assertTrue(fx.changeNames().contains("Completed"));
  }

  @Test
  void unanimousReplicasLeaveNoEvidence() {
    submit(verified(2, null, null));
    result(1, "node-1", "42");
    result(2, "node-2", "42.0");
    assertEquals(TaskView.COMPLETED, view().status());
    assertTrue(fx.mismatches.isEmpty());
    assertEquals(2, fx.verdicts.stream().filter(Verdict::agreed).count());
  }

  @Test
  void allDifferentDispatchesMoreReplicasOnNewNodesThenFailsAsUnverifiable() {
    submit(verified(3, null, 4));
    result(1, "node-1", "1");
    result(2, "node-2", "2");
    result(3, "node-3", "3");
    // no two agree: one more replica is allowed (maxReplicas 4), on a node that ran none
    assertEquals(2, fx.replicaDispatches.size());
    assertEquals(Set.of("node-1", "node-2", "node-3"), fx.replicaDispatches.get(1).excluded());
    assertEquals(List.of(4), fx.replicaDispatches.get(1).jobs());
    assertEquals("node-4", replicaNodes().get(3));
    result(4, "node-4", "4");

    TaskView v = view();
    assertEquals(TaskView.FAILED, v.status());
    assertEquals(TaskEntity.UNVERIFIABLE, v.errorKind());
    assertTrue(v.error().contains("no 2 of 4"), v.error());
    assertTrue(fx.verdicts.isEmpty(), "without a quorum no node can be judged");
    assertEquals(1, fx.mismatches.size(), "but the disagreement is evidence");
    assertNull(fx.mismatches.get(0).agreedKey());
    assertEquals(1, fx.deadLetters.size());
  }

  @Test
  void aTieIsBrokenByAnotherReplica() {
    submit(verified(2, null, null));
    result(1, "node-1", "\"honest\"");
    result(2, "node-2", "\"forged\"");
    assertEquals(List.of(3), fx.replicaDispatches.get(1).jobs());
    result(3, "node-3", "\"honest\"");
    TaskView v = view();
    assertEquals(TaskView.COMPLETED, v.status());
    assertEquals("\"honest\"", v.result());
    assertEquals(List.of("node-2"), v.verification().disagreeing());
  }

  @Test
  void aLateReplicaIsJudgedAgainstTheDecidedResult() {
    submit(verified(3, null, null));
    result(1, "node-1", "7");
    result(2, "node-2", "7");
    assertEquals(TaskView.COMPLETED, view().status());
    assertTrue(fx.mismatches.isEmpty());
    assertTrue(fx.cancels.isEmpty(), "the third replica finishes: its result is still evidence");

    result(3, "node-3", "8");
    TaskView v = view();
    assertEquals(TaskView.COMPLETED, v.status());
    assertEquals("7", v.result());
    assertTrue(fx.verdicts.contains(new Verdict("node-3", taskId, false)));
    assertEquals(List.of("node-3"), fx.mismatches.get(0).faultyNodes());
    assertTrue(v.verification().runs().get(2).late());
    assertTrue(
        result(3, "node-3", "8").isSuccess(), "a repeat is acknowledged and changes nothing");
    assertEquals(1, fx.mismatches.size());
  }

  @Test
  void aReplicaOnALostNodeHasNoVoteAndIsReplacedWhenTheQuorumNeedsIt() {
    submit(verified(2, null, null));
    result(1, "node-1", "5");
    task.runCommand(new TaskEntity.NodeLost("node-2"));
    assertEquals(List.of(3), fx.replicaDispatches.get(1).jobs());
    assertEquals(Set.of("node-1", "node-2"), fx.replicaDispatches.get(1).excluded());
    result(3, "node-3", "5");
    assertEquals(TaskView.COMPLETED, view().status());
    assertFalse(
        fx.verdicts.stream().anyMatch(x -> x.nodeId().equals("node-2")),
        "a lost node is not judged");
  }

  @Test
  void aReplicaThatNeverAnswersIsStoppedAndReplaced() {
    TaskSpec spec =
        new TaskSpec(
            "slow",
            null,
            "js",
            "1",
            null,
            null,
            null,
            null,
            null,
            null,
            5_000L,
            null,
            0,
            TaskSpec.Verification.of(2, null, null, null));
    submit(spec);
    task.runCommand(new Started(1, "node-1"));
    task.runCommand(new Started(2, "node-2"));
    result(1, "node-1", "1");
    timePasses(Duration.ofSeconds(80)); // timeout 5 s + 60 s grace, seen by the 10 s liveness tick
    assertTrue(fx.cancels.contains(new RecordingTaskEffects.CancelRunning(taskId, 2, "node-2")));
    assertEquals(List.of(3), fx.replicaDispatches.get(1).jobs());
    VerificationView.ReplicaView overdue = view().verification().runs().get(1);
    assertEquals("NoResult", overdue.status());
    assertTrue(overdue.error().startsWith("no result 5000 ms"), overdue.error());
    result(3, "node-3", "1");
    assertEquals(TaskView.COMPLETED, view().status());
  }

  @Test
  void replicasAgreeingOnTheSameDeterministicErrorFailTheTaskWithIt() {
    submit(verified(2, null, null));
    failure(1, "node-1", "ReferenceError: x is not defined", "CODE_ERROR", false);
    failure(2, "node-2", "ReferenceError: x is not defined", "CODE_ERROR", false);
    TaskView v = view();
    assertEquals(TaskView.FAILED, v.status());
    assertEquals("CODE_ERROR", v.errorKind());
    assertEquals(2, fx.verdicts.stream().filter(Verdict::agreed).count());
  }

  @Test
  void withTooFewDistinctNodesTheTaskWaitsAndSaysWhyThenGoesOn() {
    fx.replicaNodes = List.of("node-1", "node-2");
    TaskView v = submit(verified(3, null, null));
    assertEquals(2, v.verification().runs().size());
    assertTrue(v.waitingReason().contains("already holds a replica"), v.waitingReason());
    fx.replicaNodes = List.of("node-1", "node-2", "node-7");
    timePasses(Duration.ofSeconds(2));
    assertEquals(List.of("node-1", "node-2", "node-7"), replicaNodes());
    assertNull(view().waitingReason());
  }

  @Test
  void aSpotCheckTurnsASingleRunOnAnUnprovenNodeIntoTwoReplicas() {
    fx.thenAnswer(new Placement.Enqueued("node-1", false, true));
    submit(TaskSpec.of("plain", "js", "6*7"));
    TaskView v = view();
    assertTrue(v.verification().reason().contains("spot-check"), v.verification().reason());
    assertEquals(List.of("node-1", "node-2"), replicaNodes());
    assertEquals(Set.of("node-1"), fx.replicaDispatches.get(0).excluded());
    result(1, "node-1", "42");
    result(2, "node-2", "42");
    assertEquals(TaskView.COMPLETED, view().status());
  }

  @Test
  void adaptiveRunsOnceOnAProvenNodeAndReplicatesOnAnUnprovenOne() {
    TaskSpec adaptive =
        TaskSpec.of("a", "js", "1")
            .withVerification(
                TaskSpec.Verification.of(null, null, null, TaskSpec.Verification.ADAPTIVE));
    fx.thenAnswer(new Placement.Enqueued("node-1", true, false));
    submit(adaptive);
    assertNull(view().verification(), "a proven node is trusted alone");
    result(1, "node-1", "1");
    assertEquals(TaskView.COMPLETED, view().status());

    taskId = "v-" + ids.incrementAndGet();
    task = entities.testKit(TaskEntity.create(taskId, fx, SETTINGS, clock, null));
    fx.thenAnswer(new Placement.Enqueued("node-9", false, false));
    submit(adaptive);
    assertEquals(List.of("node-9", "node-1"), replicaNodes());
    assertTrue(view().verification().reason().contains("node-9"));
  }

  @Test
  void aReplicaWithdrawnFromADrainingNodeIsPlacedElsewhereWithoutCountingAgainstTheBudget() {
    submit(verified(2, 2, 2));
    task.runCommand(new TaskEntity.Withdrawn(2, "node-2"));
    assertEquals(
        List.of(3), fx.replicaDispatches.get(1).jobs(), "replaced although maxReplicas is 2");
    result(1, "node-1", "1");
    result(3, "node-3", "1");
    assertEquals(TaskView.COMPLETED, view().status());
  }

  @Test
  void aSingleJobWithdrawnFromADrainingNodeIsRequeuedAsTheSameAttempt() {
    submit(TaskSpec.of("plain", "js", "1"));
    assertEquals(TaskView.QUEUED, view().status());
    task.runCommand(new TaskEntity.Withdrawn(1, "node-1"));
    assertEquals(2, fx.dispatches.size());
    assertEquals(1, fx.dispatches.get(1).attempt(), "not a failed attempt");
    assertTrue(
        task.persistenceTestKit().persistedInStorage("Task|" + taskId).stream()
            .anyMatch(e -> e instanceof TaskEntity.Requeued));
  }

  @Test
  void afterARestartMissingReplicasAreDispatchedAndDecidedOnesAreNotRerun() {
    fx.replicaNodes = List.of("node-1", "node-2");
    submit(verified(3, null, null));
    result(1, "node-1", "1");
    fx.replicaNodes = List.of("node-1", "node-2", "node-3");
    task.restart();
    assertEquals(List.of("node-1", "node-2", "node-3"), replicaNodes());
    assertEquals("Reported", view().verification().runs().get(0).status());
    result(3, "node-3", "1");
    assertEquals(TaskView.COMPLETED, view().status());
  }

  @Test
  void aResultBeforeItsReplicaIsRecordedIsRefusedSoTheWorkerAsksAgain() {
    fx.replicaGate = new java.util.concurrent.CompletableFuture<>();
    submit(verified(2, null, null));
    assertTrue(view().verification().runs().isEmpty(), "placements not answered yet");
    StatusReply<Done> early = result(1, "node-1", "1");
    assertTrue(early.isError(), "the worker keeps its job and reports again");
    fx.replicaGate.complete(null);
    org.apache.pekko.actor.testkit.typed.javadsl.TestProbe<Object> probe =
        entities.kit().createTestProbe();
    probe.awaitAssert(
        () -> {
          assertEquals(2, view().verification().runs().size());
          return null;
        });
    assertTrue(result(1, "node-1", "1").isSuccess());
    assertTrue(result(2, "node-2", "1").isSuccess());
    assertEquals(TaskView.COMPLETED, view().status());
    assertTrue(
        result(9, "node-5", "1").isSuccess(), "an orphan job's result is acknowledged and ignored");
  }

  @Test
  void aSpotCheckThatCannotFindASecondNodeGivesWayToTheResultItHas() {
    fx.thenAnswer(new Placement.Enqueued("node-1", false, true));
    fx.replicaNodes = List.of("node-1", "node-2");
    submit(TaskSpec.of("plain", "js", "6*7"));
    result(1, "node-1", "42");
    fx.replicaNodes = List.of("node-1"); // node-2 left before it ran its check
    task.runCommand(new TaskEntity.NodeLost("node-2"));
    TaskView v = view();
    assertEquals(TaskView.COMPLETED, v.status());
    assertEquals("42", v.result());
    assertNull(v.verification().agreedHash(), "unverified");
    assertTrue(fx.verdicts.isEmpty());
  }

  @Test
  void aSpotCheckReplicaWithdrawnFromAnUnreachableNodeLeavesTheTaskToTheOtherReplica() {
    // issue 17: node-1 froze holding the spot-check's first replica unread; it came back a second
    // later, so only the withdrawal (not the liveness check) tells the task the job is gone
    fx.thenAnswer(new Placement.Enqueued("node-1", false, true));
    fx.replicaNodes = List.of("node-1", "node-2");
    submit(TaskSpec.of("plain", "js", "6*7"));
    task.runCommand(new TaskEntity.Withdrawn(1, "node-1"));
    assertEquals(
        List.of("Withdrawn", "Queued"),
        view().verification().runs().stream().map(VerificationView.ReplicaView::status).toList(),
        "the other replica is still to report");
    assertTrue(result(2, "node-2", "42").isSuccess());
    TaskView v = view();
    assertEquals(TaskView.COMPLETED, v.status(), "no node left for a check: the result stands");
    assertEquals("42", v.result());
    assertNull(v.verification().agreedHash(), "unverified");
    assertTrue(
        result(1, "node-1", "42").isSuccess(), "a late result of the withdrawn job is acked");
    assertEquals(
        1,
        task.persistenceTestKit().persistedInStorage("Task|" + taskId).stream()
            .filter(TaskEntity.Completed.class::isInstance)
            .count(),
        "recorded once");
  }

  @Test
  void aReplicaWithdrawnBeforeItsPlacementWasRecordedIsPlacedAgain() {
    // node-2 turned unreachable after the spot-check's replica was queued on it and before the
    // task heard where it went; it is back by the time the answer arrives
    awaitPlacedAgainOnNode3After(new TaskEntity.Withdrawn(2, "node-2"));
    assertTrue(
        fx.cancels.contains(new RecordingTaskEffects.CancelRunning(taskId, 2, "node-2")),
        "the withdrawn copy is told to stop, should it have been read after all");
    result(1, "node-1", "42");
    result(2, "node-3", "42");
    assertEquals(TaskView.COMPLETED, view().status());
    assertEquals("42", view().result());
  }

  @Test
  void aReplicaOnANodeLostBeforeItsPlacementWasRecordedIsPlacedAgain() {
    awaitPlacedAgainOnNode3After(new TaskEntity.NodeLost("node-2"));
    result(1, "node-1", "42");
    result(2, "node-3", "42");
    assertEquals(TaskView.COMPLETED, view().status());
  }

  /**
   * A spot-checked task whose second replica's placement on node-2 is held back while {@code loss}
   * (about node-2) arrives; once the answer comes, that replica is placed again, on node-3.
   */
  private void awaitPlacedAgainOnNode3After(TaskEntity.Command loss) {
    fx.thenAnswer(new Placement.Enqueued("node-1", false, true));
    fx.replicaNodes = List.of("node-1", "node-2");
    fx.replicaGate = new java.util.concurrent.CompletableFuture<>();
    submit(TaskSpec.of("plain", "js", "6*7"));
    task.runCommand(loss);
    fx.replicaNodes = List.of("node-1", "node-3");
    fx.replicaGate.complete(null);
    org.apache.pekko.actor.testkit.typed.javadsl.TestProbe<Object> probe =
        entities.kit().createTestProbe();
    probe.awaitAssert(
        () -> {
          assertEquals(List.of("node-1", "node-3"), replicaNodes());
          return null;
        });
  }

  @Test
  void aRequestedVerificationWaitsForADistinctNodeInstead() {
    fx.replicaNodes = List.of("node-1", "node-2");
    submit(verified(2, null, null));
    result(1, "node-1", "42");
    fx.replicaNodes = List.of("node-1");
    task.runCommand(new TaskEntity.NodeLost("node-2"));
    TaskView v = view();
    assertEquals(TaskView.QUEUED, v.status());
    assertTrue(v.waitingReason().contains("already holds a replica"), v.waitingReason());
  }

  @Test
  void anAdaptiveTasksEarlyStartAndResultWaitForTheTrustDecision() {
    java.util.concurrent.CompletableFuture<Placement> answer =
        new java.util.concurrent.CompletableFuture<>();
    fx.thenAnswer(() -> answer);
    submit(
        TaskSpec.of("a", "js", "1")
            .withVerification(
                TaskSpec.Verification.of(null, null, null, TaskSpec.Verification.ADAPTIVE)));
    task.runCommand(new Started(1, "node-9"));
    assertTrue(result(1, "node-9", "1").isError(), "held until the node's trust is known");
    answer.complete(new Placement.Enqueued("node-9", false, false));
    org.apache.pekko.actor.testkit.typed.javadsl.TestProbe<Object> probe =
        entities.kit().createTestProbe();
    probe.awaitAssert(
        () -> {
          assertEquals(List.of("node-9", "node-1"), replicaNodes());
          return null;
        });
    result(1, "node-9", "1");
    assertEquals(TaskView.RUNNING, view().status(), "one unproven node's answer is not enough");
    result(2, "node-1", "1");
    assertEquals(TaskView.COMPLETED, view().status());
  }

  // ---------------------------------------------------------------- outbox: verdicts and evidence
  // survive crashes

  private List<Object> journal() {
    return task.persistenceTestKit().persistedInStorage("Task|" + taskId);
  }

  private TaskState state() {
    return task.<TaskState>runCommand(TaskEntity.Inspect::new).reply();
  }

  private boolean wake() {
    return task.<Boolean>runCommand(TaskEntity.Wake::new).reply();
  }

  private static <T> java.util.concurrent.CompletableFuture<T> done(T value) {
    return java.util.concurrent.CompletableFuture.completedFuture(value);
  }

  @Test
  void verdictsAndEvidenceDecidedBeforeACrashAreDeliveredAfterTheRestartExactlyOnce() {
    fx.receivers =
        java.util.concurrent.CompletableFuture
            ::new; // the coordinator dies before any receiver confirms
    submit(verified(3, 2, 3));
    result(1, "node-1", "1");
    result(2, "node-2", "2");
    result(3, "node-3", "1");
    assertEquals(TaskView.COMPLETED, view().status());
    assertTrue(fx.confirmedVerdicts.isEmpty());
    List<Object> journal = journal();
    TaskEntity.EffectsDue due =
        journal.stream()
            .filter(TaskEntity.EffectsDue.class::isInstance)
            .map(TaskEntity.EffectsDue.class::cast)
            .findFirst()
            .orElseThrow();
    assertEquals(
        Set.of(
            new TaskState.DueVerdict("node-1", true),
            new TaskState.DueVerdict("node-2", false),
            new TaskState.DueVerdict("node-3", true)),
        Set.copyOf(due.verdicts()));
    assertEquals(
        state().completedAt(),
        due.evidenceAt(),
        "the disagreement is evidence, keyed by the decision");
    assertInstanceOf(
        TaskEntity.Verified.class,
        journal.get(journal.indexOf(due) - 1),
        "journaled with the decision, in one atomic write");
    assertTrue(wake(), "an ended task with effects due counts as open for the reviver");

    fx.receivers = () -> done(Done.getInstance());
    task.restart();
    entities
        .kit()
        .createTestProbe()
        .awaitAssert(
            () -> {
              assertTrue(
                  journal().get(journal().size() - 1) instanceof TaskEntity.EffectsDelivered d
                      && d.last());
              return null;
            });
    assertEquals(
        Set.of(
            new Verdict("node-1", taskId, true),
            new Verdict("node-2", taskId, false),
            new Verdict("node-3", taskId, true)),
        Set.copyOf(fx.confirmedVerdicts));
    assertEquals(3, fx.confirmedVerdicts.size(), "each verdict delivered once");
    assertEquals(1, fx.confirmedMismatches.size());
    assertEquals(List.of("node-2"), fx.confirmedMismatches.get(0).faultyNodes());
    assertEquals(due.evidenceAt(), fx.confirmedMismatches.get(0).at());

    int calls = fx.verdicts.size();
    task.restart();
    assertFalse(state().effectsDue());
    assertFalse(wake(), "delivered: the task is closed");
    assertEquals(calls, fx.verdicts.size(), "nothing is sent again once delivered");
    assertEquals(1, fx.confirmedMismatches.size());
  }

  @Test
  void aVerdictTheNodeDoesNotConfirmIsSentAgainWithBackoffWhileTheTaskStaysOpen() {
    AtomicInteger refusals = new AtomicInteger(3);
    fx.receivers =
        () ->
            refusals.getAndDecrement() > 0
                ? java.util.concurrent.CompletableFuture.failedFuture(
                    new IllegalStateException("node shard unreachable"))
                : done(Done.getInstance());
    submit(verified(2, 2, 2));
    result(1, "node-1", "1");
    result(2, "node-2", "1");
    assertEquals(TaskView.COMPLETED, view().status());
    assertTrue(fx.confirmedVerdicts.isEmpty(), "both refused");
    assertTrue(wake());
    timePasses(Duration.ofSeconds(1)); // first retry: one more refusal
    entities
        .kit()
        .createTestProbe()
        .awaitAssert(
            () -> {
              assertEquals(1, fx.confirmedVerdicts.size());
              return null;
            });
    assertEquals(
        1, state().dueVerdicts().size(), "the confirmed one left the outbox, the other is due");
    timePasses(Duration.ofSeconds(2)); // backoff doubled
    entities
        .kit()
        .createTestProbe()
        .awaitAssert(
            () -> {
              assertFalse(state().effectsDue());
              return null;
            });
    assertEquals(
        Set.of(new Verdict("node-1", taskId, true), new Verdict("node-2", taskId, true)),
        Set.copyOf(fx.confirmedVerdicts));
    assertEquals(2, fx.confirmedVerdicts.size());
    assertFalse(wake());
    long delivered =
        journal().stream().filter(TaskEntity.EffectsDelivered.class::isInstance).count();
    assertEquals(2, delivered, "one write per confirmation round");
  }

  @Test
  void aReplicaReportingAfterTheDecisionIsJudgedThroughTheOutboxToo() {
    submit(verified(3, 2, 3));
    result(1, "node-1", "1");
    result(2, "node-2", "1");
    assertEquals(TaskView.COMPLETED, view().status());
    fx.receivers = java.util.concurrent.CompletableFuture::new;
    result(3, "node-3", "7"); // late and wrong
    assertTrue(state().dueVerdicts().contains(new TaskState.DueVerdict("node-3", false)));
    assertTrue(wake(), "reopened until the late verdict is delivered");
    fx.receivers = () -> done(Done.getInstance());
    task.restart();
    entities
        .kit()
        .createTestProbe()
        .awaitAssert(
            () -> {
              assertFalse(state().effectsDue());
              return null;
            });
    assertTrue(fx.confirmedVerdicts.contains(new Verdict("node-3", taskId, false)));
    assertEquals(
        List.of("node-3"),
        fx.confirmedMismatches.get(fx.confirmedMismatches.size() - 1).faultyNodes());
  }
}
