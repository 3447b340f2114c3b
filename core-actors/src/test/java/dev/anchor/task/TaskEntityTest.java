package dev.anchor.task;

import static dev.anchor.task.Eventually.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anchor.EntityFixture;
import dev.anchor.task.RecordingTaskEffects.CancelRunning;
import dev.anchor.task.TaskEffects.Placement;
import dev.anchor.task.TaskEntity.AttemptFailed;
import dev.anchor.task.TaskEntity.Cancel;
import dev.anchor.task.TaskEntity.Cancelled;
import dev.anchor.task.TaskEntity.Command;
import dev.anchor.task.TaskEntity.Completed;
import dev.anchor.task.TaskEntity.Event;
import dev.anchor.task.TaskEntity.Failed;
import dev.anchor.task.TaskEntity.Get;
import dev.anchor.task.TaskEntity.NodeLost;
import dev.anchor.task.TaskEntity.ReportResult;
import dev.anchor.task.TaskEntity.RetryScheduled;
import dev.anchor.task.TaskEntity.Started;
import dev.anchor.task.TaskEntity.Submit;
import dev.anchor.task.TaskEntity.Submitted;
import dev.anchor.task.TaskEntity.Waiting;
import dev.anchor.task.TaskState.Status;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class TaskEntityTest {

  private static final TaskSettings SETTINGS =
      new TaskSettings(
          Duration.ofSeconds(2),
          Duration.ofSeconds(10),
          Duration.ofSeconds(10),
          Duration.ofSeconds(60));
  private static final TaskSpec SPEC =
      TaskSpec.of("sum", "js", "function main(a, b) { return a + b; }");

  @RegisterExtension
  static final EntityFixture entities = EntityFixture.named("TaskEntityTest").withManualTime();

  private static final AtomicInteger ids = new AtomicInteger();

  private final MutableClock clock = new MutableClock(1_700_000_000_000L);
  private RecordingTaskEffects fx;
  private String taskId;
  private EventSourcedBehaviorTestKit<Command, Event, TaskState> task;

  @BeforeEach
  void newTask() {
    fx = new RecordingTaskEffects();
    taskId = "t-" + ids.incrementAndGet();
    task = entity(null);
  }

  private EventSourcedBehaviorTestKit<Command, Event, TaskState> entity(
      org.apache.pekko.actor.typed.ActorRef<ClusterSharding.ShardCommand> shard) {
    return entities.testKit(TaskEntity.create(taskId, fx, SETTINGS, clock, shard));
  }

  // ------------------------------------------------------------------ helpers

  private TaskView submit(TaskSpec spec) {
    var result = task.<StatusReply<TaskView>>runCommand(reply -> new Submit(spec, reply));
    assertTrue(result.reply().isSuccess(), () -> "submit failed: " + result.reply());
    return result.reply().getValue();
  }

  /** The entity's live state: the journaled one with the current attempt's in-memory progress. */
  private TaskState state() {
    return task.<TaskState>runCommand(TaskEntity.Inspect::new).reply();
  }

  private TaskView view() {
    return task.<TaskView>runCommand(Get::new).reply();
  }

  private StatusReply<Done> report(
      int attempt,
      String node,
      boolean success,
      String result,
      String error,
      String kind,
      boolean retryable) {
    return task.<StatusReply<Done>>runCommand(
            reply ->
                new ReportResult(
                    attempt, node, success, result, error, kind, retryable, "log line", 42, reply))
        .reply();
  }

  private StatusReply<Done> succeed(int attempt, String node) {
    return report(attempt, node, true, "{\"value\":3}", null, null, false);
  }

  private StatusReply<Done> failRetryable(int attempt, String node) {
    return report(attempt, node, false, null, "worker crashed", "Runtime", true);
  }

  private List<Object> journal() {
    return task.persistenceTestKit().persistedInStorage("Task|" + taskId);
  }

  private List<Class<?>> journalTypes() {
    return journal().stream().<Class<?>>map(Object::getClass).toList();
  }

  /** Moves both the entity's clock and the scheduler, as real time would. */
  private void timePasses(Duration d) {
    SteppedTime.passes(d, clock, entities.manualTime(), this::view);
  }

  private void running(String node) {
    submit(SPEC);
    task.runCommand(new Started(1, node));
  }

  // ------------------------------------------------------------------ the normal run

  @Test
  void aNormalRunJournalsSubmittedAndCompletedAndShowsEveryStep() {
    TestProbe<ClusterSharding.ShardCommand> shard = entities.kit().createTestProbe();
    taskId = "t-" + ids.incrementAndGet();
    task = entity(shard.ref());

    TaskView queued = submit(SPEC);
    assertEquals(TaskView.QUEUED, queued.status());
    assertEquals(taskId, queued.taskId());
    assertEquals("sum", queued.name());
    assertEquals(clock.millis(), queued.submittedAt());

    assertEquals(List.of(new RecordingTaskEffects.Dispatch(taskId, 1, SPEC)), fx.dispatches);
    TaskState dispatched = state();
    assertEquals(Status.DISPATCHED, dispatched.status());
    assertEquals("node-1", dispatched.nodeId());

    clock.advance(Duration.ofMillis(5));
    task.runCommand(new Started(1, "node-1"));
    assertEquals(Status.RUNNING, state().status());
    assertEquals(TaskView.RUNNING, view().status());

    clock.advance(Duration.ofMillis(50));
    assertTrue(succeed(1, "node-1").isSuccess());
    TaskView done = view();
    assertEquals(TaskView.COMPLETED, done.status());
    assertEquals("{\"value\":3}", done.result());
    assertEquals("log line", done.logs());
    assertEquals(1, done.attempts());
    assertEquals("node-1", done.nodeId());
    assertEquals(clock.millis(), done.completedAt());
    assertEquals(
        List.of("Submitted", "Dispatched", "Started", "Completed"),
        done.history().stream().map(TaskView.HistoryEntry::event).toList());

    // dispatch and start are kept in memory and journaled with the outcome: two writes per task
    assertEquals(List.of(Submitted.class, Completed.class), journalTypes());
    Completed completed = (Completed) journal().get(1);
    assertEquals(clock.millis() - 55, completed.dispatchedAt());
    assertEquals(clock.millis() - 50, completed.startedAt());
    assertEquals(List.of("Submitted", "Dispatched", "Started", "Completed"), fx.changeNames());
    assertEquals(TaskView.COMPLETED, fx.changes.getLast().view().status());

    // a task that ended asks its shard to passivate it (remember-entities would keep it alive
    // otherwise)
    shard.expectMessageClass(ClusterSharding.Passivate.class);
  }

  @Test
  void aSecondSubmitAnswersTheCurrentViewAndJournalsNothing() {
    submit(SPEC);
    TaskView again = submit(TaskSpec.of("other", "python", "print(1)"));
    assertEquals("sum", again.name());
    assertEquals(1, fx.dispatches.size());
    assertEquals(List.of(Submitted.class), journalTypes());
  }

  @Test
  void anUnknownTaskAnswersUnknownAndCannotBeCancelled() {
    assertEquals(TaskView.UNKNOWN, view().status());
    var cancel = task.<StatusReply<TaskView>>runCommand(Cancel::new);
    assertTrue(cancel.reply().isError());
    assertTrue(cancel.hasNoEvents());
    assertTrue(fx.dispatches.isEmpty());
  }

  @Test
  void aWorkerThatStartsBeforeTheDispatchAnswerArrivesIsRecordedOnce() {
    CompletableFuture<Placement> slow = new CompletableFuture<>();
    fx.thenAnswer(() -> slow);
    submit(SPEC);
    task.runCommand(new Started(1, "node-1"));
    slow.complete(new Placement.Enqueued("node-1"));
    view();
    assertEquals(Status.RUNNING, state().status());
    assertEquals(List.of(Submitted.class), journalTypes());
    assertTrue(fx.cancels.isEmpty());
  }

  @Test
  void aJobPulledFromAPoolBeforeItsDispatchAnswerArrivedRunsOn() {
    // parked in a pool; a worker pulled it and said it started before the answer naming the pool
    // came back: the pool's job is the one the task follows, not a second copy to stop
    CompletableFuture<Placement> slow = new CompletableFuture<>();
    fx.thenAnswer(() -> slow);
    submit(SPEC);
    task.runCommand(new Started(1, "node-1"));
    slow.complete(new Placement.Enqueued("pool:js:any:0"));
    view();
    assertEquals(Status.RUNNING, state().status());
    assertEquals("node-1", state().nodeId());
    assertTrue(fx.cancels.isEmpty(), "nothing stopped: " + fx.cancels);
  }

  @Test
  void aSecondCopyOfTheSameAttemptOnAnotherNodeIsStopped() {
    // e.g. enqueued again after a crash: the first worker to start is followed, the other copy is
    // stopped
    CompletableFuture<Placement> slow = new CompletableFuture<>();
    fx.thenAnswer(() -> slow);
    submit(SPEC);
    task.runCommand(new Started(1, "node-1"));
    slow.complete(new Placement.Enqueued("node-2"));
    eventually(() -> assertEquals(List.of(new CancelRunning(taskId, 1, "node-2")), fx.cancels));
    assertEquals("node-1", state().nodeId());
  }

  // ------------------------------------------------------------------ retries

  @Test
  void retriesWaitTwiceAsLongEachTimeThenFailForGoodAndDeadLetter() {
    running("node-1");
    assertTrue(failRetryable(1, "node-1").isSuccess());

    TaskState afterFirst = state();
    assertEquals(Status.QUEUED, afterFirst.status());
    assertEquals(2, afterFirst.attempt());
    assertEquals(clock.millis() + 2_000, afterFirst.retryDueAt());
    assertEquals(TaskView.QUEUED, view().status());
    assertEquals("worker crashed", view().error());

    timePasses(Duration.ofMillis(1_999));
    assertEquals(1, fx.dispatches.size(), "no retry before the backoff ran out");
    timePasses(Duration.ofMillis(1));
    eventually(() -> assertEquals(2, fx.dispatches.size()));
    assertEquals(2, fx.dispatches.get(1).attempt());
    assertEquals(Status.DISPATCHED, state().status());

    task.runCommand(new Started(2, "node-1"));
    failRetryable(2, "node-1");
    assertEquals(clock.millis() + 4_000, state().retryDueAt(), "the second delay doubles");
    timePasses(Duration.ofMillis(3_999));
    assertEquals(2, fx.dispatches.size());
    timePasses(Duration.ofMillis(1));
    eventually(() -> assertEquals(3, fx.dispatches.size()));
    assertEquals(3, fx.dispatches.get(2).attempt());

    task.runCommand(new Started(3, "node-1"));
    failRetryable(3, "node-1");
    TaskView failed = view();
    assertEquals(TaskView.FAILED, failed.status());
    assertEquals("worker crashed", failed.error());
    assertEquals(3, failed.attempts());
    assertEquals(
        List.of(new RecordingTaskEffects.DeadLetter(taskId, SPEC, "worker crashed")),
        fx.deadLetters);

    List<Object> events = journal();
    assertEquals(
        List.of(
            Submitted.class,
            AttemptFailed.class,
            RetryScheduled.class,
            AttemptFailed.class,
            RetryScheduled.class,
            Failed.class),
        journalTypes());
    RetryScheduled firstRetry = (RetryScheduled) events.get(2);
    RetryScheduled secondRetry = (RetryScheduled) events.get(4);
    assertEquals(2_000, firstRetry.dueAtEpochMs() - firstRetry.at());
    assertEquals(4_000, secondRetry.dueAtEpochMs() - secondRetry.at());
    assertEquals(3, ((Failed) events.get(5)).attempt());
    // each attempt's steps are still in the history, from the outcome events that carry them
    assertEquals(
        List.of(
            "Submitted",
            "Dispatched",
            "Started",
            "RetryScheduled",
            "RetryDue",
            "Dispatched",
            "Started",
            "RetryScheduled",
            "RetryDue",
            "Dispatched",
            "Started",
            "Failed"),
        fx.changeNames());
    assertEquals(
        List.of(
            "Submitted",
            "Dispatched",
            "Started",
            "AttemptFailed",
            "RetryScheduled",
            "Dispatched",
            "Started",
            "AttemptFailed",
            "RetryScheduled",
            "Dispatched",
            "Started",
            "Failed"),
        failed.history().stream().map(TaskView.HistoryEntry::event).toList());

    timePasses(Duration.ofSeconds(60));
    assertEquals(3, fx.dispatches.size(), "a failed task is never dispatched again");
  }

  @Test
  void anErrorInUserCodeFailsAtOnce() {
    running("node-1");
    assertTrue(
        report(1, "node-1", false, null, "ReferenceError: x is not defined", "UserError", false)
            .isSuccess());
    TaskView failed = view();
    assertEquals(TaskView.FAILED, failed.status());
    assertEquals("UserError", failed.errorKind());
    assertEquals(List.of(Submitted.class, Failed.class), journalTypes());
    assertEquals(1, fx.deadLetters.size());
    timePasses(Duration.ofSeconds(10));
    assertEquals(1, fx.dispatches.size());
  }

  @Test
  void anErrorInUserCodeIsRetriedWhenTheTaskAsks() {
    submit(SPEC.withRetries(new TaskSpec.RetryPolicy(2, 500, true)));
    task.runCommand(new Started(1, "node-1"));
    report(1, "node-1", false, null, "boom", "UserError", false);
    TaskState s = state();
    assertEquals(2, s.attempt());
    assertEquals(clock.millis() + 500, s.retryDueAt());
    timePasses(Duration.ofMillis(500));
    eventually(() -> assertEquals(2, fx.dispatches.size()));
    task.runCommand(new Started(2, "node-1"));
    report(2, "node-1", false, null, "boom", "UserError", false);
    assertEquals(TaskView.FAILED, view().status());
  }

  @Test
  void aSlowDispatchAnswerForAFailedAttemptDoesNotHoldBackTheNextAttempt() {
    CompletableFuture<Placement> slow = new CompletableFuture<>();
    fx.thenAnswer(() -> slow);
    submit(SPEC);
    task.runCommand(
        new Started(1, "node-1")); // the job was enqueued, but our answer is still on its way
    failRetryable(1, "node-1");
    timePasses(Duration.ofSeconds(2));
    eventually(() -> assertEquals(2, fx.dispatches.size()));
    eventually(() -> assertEquals(Status.DISPATCHED, state().status()));
    assertEquals(2, state().attempt());

    int events = journal().size();
    slow.complete(new Placement.Enqueued("node-1"));
    view();
    assertEquals(events, journal().size(), "the stale answer changes nothing");
    assertTrue(
        fx.cancels.stream().noneMatch(c -> c.attempt() == 2),
        "and stops nothing of the current attempt");
  }

  @Test
  void aRunningAttemptThatStaysSilentPastItsTimeoutIsStoppedAndRetried() {
    submit(
        new TaskSpec(
            "slow",
            null,
            "js",
            "while(true){}",
            null,
            null,
            null,
            null,
            null,
            null,
            5_000L,
            null,
            0));
    task.runCommand(new Started(1, "node-1"));
    timePasses(Duration.ofMillis(5_000 + 60_000 - 1));
    assertEquals(Status.RUNNING, state().status());
    timePasses(Duration.ofMillis(1));
    eventually(() -> assertEquals(Status.QUEUED, state().status()));
    assertEquals(TaskEntity.RESULT_OVERDUE, state().errorKind());
    assertEquals(2, state().attempt());
    assertEquals(List.of(new CancelRunning(taskId, 1, "node-1")), fx.cancels);
  }

  @Test
  void theResultDeadlineIsReArmedAfterARestart() {
    submit(
        new TaskSpec("slow", null, "js", "1", null, null, null, null, null, null, 5_000L, null, 0));
    task.runCommand(new Started(1, "node-1"));
    clock.advance(Duration.ofSeconds(30));
    task.restart();
    // the start time is not journaled: after a restart the backstop counts the timeout and grace
    // from the restart
    eventually(() -> assertEquals(Status.DISPATCHED, state().status()));
    timePasses(Duration.ofMillis(65_000 - 1));
    assertEquals(Status.DISPATCHED, state().status());
    assertEquals(1, fx.dispatches.size(), "the job already on node-1 is not queued again");
    timePasses(Duration.ofMillis(1));
    eventually(() -> assertEquals(TaskEntity.RESULT_OVERDUE, state().errorKind()));
  }

  // ------------------------------------------------------------------ duplicates and late results

  @Test
  void aDuplicateResultChangesNothingAndIsAcknowledged() {
    running("node-1");
    succeed(1, "node-1");
    int events = journal().size();
    assertTrue(succeed(1, "node-1").isSuccess());
    assertTrue(report(1, "node-1", false, null, "late failure", "Runtime", true).isSuccess());
    task.runCommand(new Started(1, "node-1"));
    task.runCommand(new NodeLost("node-1"));
    assertEquals(events, journal().size());
    assertEquals(TaskView.COMPLETED, view().status());
    assertEquals("{\"value\":3}", view().result());
  }

  @Test
  void aResultOfASupersededAttemptChangesNothing() {
    running("node-1");
    failRetryable(1, "node-1");
    int events = journal().size();
    assertTrue(succeed(1, "node-1").isSuccess(), "the late worker may ack");
    assertEquals(events, journal().size());
    TaskState s = state();
    assertEquals(Status.QUEUED, s.status());
    assertEquals(2, s.attempt());
    assertNull(s.result());
  }

  // ------------------------------------------------------------------ cancel

  @Test
  void cancellingAQueuedTaskTouchesNoNode() {
    fx.thenAnswer(new Placement.NoEligibleNode("no node with a GPU"));
    submit(SPEC);
    var cancelled = task.<StatusReply<TaskView>>runCommand(Cancel::new);
    assertEquals(TaskView.CANCELLED, cancelled.reply().getValue().status());
    assertInstanceOf(Cancelled.class, cancelled.event());
    assertTrue(fx.cancels.isEmpty());

    var again = task.<StatusReply<TaskView>>runCommand(Cancel::new);
    assertTrue(again.reply().isSuccess(), "cancelling a cancelled task answers its view");
    assertTrue(again.hasNoEvents());

    timePasses(Duration.ofSeconds(10));
    assertEquals(1, fx.dispatches.size(), "a cancelled task is not dispatched");
    assertEquals(List.of("Submitted", "Waiting", "Cancelled"), fx.changeNames());
  }

  @Test
  void cancellingARunningTaskStopsItOnItsNode() {
    running("node-7");
    var cancelled = task.<StatusReply<TaskView>>runCommand(Cancel::new);
    assertEquals(TaskView.CANCELLED, cancelled.reply().getValue().status());
    assertEquals(List.of(new CancelRunning(taskId, 1, "node-7")), fx.cancels);
    assertTrue(succeed(1, "node-7").isSuccess());
    assertEquals(TaskView.CANCELLED, view().status(), "a result after cancel is not recorded");
  }

  @Test
  void cancellingATaskWhoseJobWaitsInAPoolDropsTheJobFromTheQueue() {
    fx.defaultNode = "pool:js:any:0";
    submit(SPEC);
    eventually(() -> assertEquals(Status.DISPATCHED, state().status()));
    assertTrue(fx.dropped.isEmpty());
    task.<StatusReply<TaskView>>runCommand(Cancel::new);
    assertEquals(List.of(taskId), fx.dropped, "its parked job is never started");
    task.restart();
    eventually(() -> assertEquals(List.of(taskId, taskId), fx.dropped, "told again on recovery"));
    assertTrue(succeed(1, "node-3").isSuccess());
    assertEquals(TaskView.CANCELLED, view().status(), "a result after cancel is not recorded");
  }

  @Test
  void cancellingACompletedTaskIsAnError() {
    running("node-1");
    succeed(1, "node-1");
    var cancel = task.<StatusReply<TaskView>>runCommand(Cancel::new);
    assertTrue(cancel.reply().isError());
    assertTrue(cancel.hasNoEvents());
    assertTrue(fx.cancels.isEmpty());
  }

  @Test
  void aJobEnqueuedAfterTheTaskWasCancelledIsStopped() {
    CompletableFuture<Placement> slow = new CompletableFuture<>();
    fx.thenAnswer(() -> slow);
    submit(SPEC);
    task.<StatusReply<TaskView>>runCommand(Cancel::new);
    slow.complete(new Placement.Enqueued("node-3"));
    eventually(() -> assertEquals(List.of(new CancelRunning(taskId, 1, "node-3")), fx.cancels));
    assertEquals(List.of(Submitted.class, Cancelled.class), journalTypes());
  }

  // ------------------------------------------------------------------ waiting for a node

  @Test
  void withNoEligibleNodeTheTaskWaitsQueuedAndIsDispatchedWhenANodeAppears() {
    fx.thenAnswer(new Placement.NoEligibleNode("no node with a GPU"))
        .thenAnswer(new Placement.NoEligibleNode("no node with a GPU"))
        .thenAnswer(new Placement.Enqueued("gpu-node"));
    submit(SPEC);
    TaskView waiting = view();
    assertEquals(TaskView.QUEUED, waiting.status());
    assertEquals("no node with a GPU", waiting.waitingReason());
    assertEquals(List.of(Submitted.class, Waiting.class), journalTypes());

    timePasses(Duration.ofSeconds(2));
    eventually(() -> assertEquals(2, fx.dispatches.size()));
    view();
    assertEquals(
        List.of(Submitted.class, Waiting.class),
        journalTypes(),
        "the same reason is not journaled again");

    timePasses(Duration.ofSeconds(2));
    eventually(() -> assertEquals(Status.DISPATCHED, state().status()));
    assertEquals("gpu-node", state().nodeId());
    assertNull(view().waitingReason());
    assertEquals(List.of(Submitted.class, Waiting.class), journalTypes());
    assertEquals(1, fx.dispatches.get(2).attempt(), "waiting does not use up attempts");
  }

  @Test
  void aFailedDispatchIsTriedAgainOnTheTimer() {
    fx.thenAnswer(() -> CompletableFuture.failedFuture(new IllegalStateException("redis down")))
        .thenAnswer(
            () -> {
              throw new IllegalStateException("still down");
            });
    submit(SPEC);
    assertEquals(Status.QUEUED, state().status());
    timePasses(Duration.ofSeconds(2));
    eventually(() -> assertEquals(2, fx.dispatches.size()));
    timePasses(Duration.ofSeconds(2));
    eventually(() -> assertEquals(Status.DISPATCHED, state().status()));
    assertEquals(List.of(Submitted.class), journalTypes());
  }

  // ------------------------------------------------------------------ lost nodes

  @Test
  void anAttemptOnALostNodeIsRetriedAsANewAttempt() {
    running("node-1");
    task.runCommand(new NodeLost("node-9"));
    assertEquals(Status.RUNNING, state().status(), "another node's loss does not matter");

    fx.defaultNode = "node-2";
    var lost = task.runCommand(new NodeLost("node-1"));
    AttemptFailed failed = assertInstanceOf(AttemptFailed.class, lost.events().get(0));
    assertEquals(TaskEntity.NODE_LOST, failed.errorKind());
    assertEquals("node-1", failed.nodeId());
    RetryScheduled retry = assertInstanceOf(RetryScheduled.class, lost.events().get(1));
    assertEquals(2, retry.nextAttempt());
    assertEquals(
        failed.at(), retry.dueAtEpochMs(), "a lost node's job is not held back by backoff");

    // no time passes: dispatched again at once
    eventually(() -> assertEquals(Status.DISPATCHED, state().status()));
    assertEquals("node-2", state().nodeId());
    assertEquals(2, state().attempt());

    assertTrue(succeed(1, "node-1").isSuccess(), "the lost node's late result is acked");
    assertEquals(Status.DISPATCHED, state().status(), "and not recorded");
    task.runCommand(new Started(2, "node-2"));
    succeed(2, "node-2");
    assertEquals(TaskView.COMPLETED, view().status());
    assertEquals(2, view().attempts());
  }

  @Test
  void aLateNodeLostAboutAnEarlierAttemptLeavesItsRetryAlone() {
    running("node-1");
    // node-1 was frozen: its attempt 1 is handed on, and node-1, reachable again, takes the retry
    task.runCommand(new NodeLost("node-1", 1));
    eventually(() -> assertEquals(Status.DISPATCHED, state().status()));
    assertEquals(2, state().attempt());
    assertEquals("node-1", state().nodeId());
    task.runCommand(new Started(2, "node-1"));
    int events = journal().size();

    // the leaving member's take-over repeats the word about attempt 1
    task.runCommand(new NodeLost("node-1", 1));
    assertEquals(Status.RUNNING, state().status(), "attempt 2 runs on");
    assertEquals(2, state().attempt());
    assertEquals(events, journal().size());

    // a word about attempt 2 itself still counts, and so does one naming no attempt (a node of an
    // earlier version)
    task.runCommand(new NodeLost("node-1", 2));
    eventually(() -> assertEquals(3, state().attempt()));
    eventually(() -> assertEquals(Status.DISPATCHED, state().status()));
    task.runCommand(new NodeLost("node-1"));
    assertEquals(Status.FAILED, state().status(), "attempt 3 of 3 was lost");
    assertEquals(TaskEntity.NODE_LOST, state().errorKind());
  }

  @Test
  void aJobMovedOffAnUnreachableNodeWaitsInItsPoolAndRunsOnceWhereverItStarts() {
    submit(SPEC);
    eventually(() -> assertEquals(Status.DISPATCHED, state().status()));
    int events = journal().size();
    task.runCommand(new TaskEntity.Relocated(1, "node-9", "pool:js:any:0"));
    assertEquals("node-1", state().nodeId(), "a move from another node does not matter");
    task.runCommand(new TaskEntity.Relocated(1, "node-1", "pool:js:any:0"));
    assertEquals(Status.DISPATCHED, state().status());
    assertEquals("pool:js:any:0", state().nodeId());
    assertEquals(events, journal().size(), "not an attempt that failed: nothing journaled");
    assertEquals(1, state().attempt());

    // the node it left stays lost: the attempt waits in the pool, which is not checked as a node
    fx.alive.put("node-1", false);
    timePasses(Duration.ofSeconds(10));
    eventually(() -> assertTrue(fx.livenessChecks.contains("pool:js:any:0")));
    assertEquals(Status.DISPATCHED, state().status());
    assertEquals(1, state().attempt());

    task.runCommand(new Started(1, "node-2"));
    assertEquals(Status.RUNNING, state().status());
    succeed(1, "node-2");
    assertTrue(succeed(1, "node-1").isSuccess(), "a late result of the same attempt is acked");
    assertEquals(
        1, journal().stream().filter(Completed.class::isInstance).count(), "recorded once");
    assertEquals("node-2", view().nodeId());
    assertEquals(1, fx.dispatches.size(), "moved, not dispatched again");
  }

  @Test
  void aJobMovedBeforeItsDispatchAnswerArrivedIsFollowedToItsPool() {
    CompletableFuture<Placement> slow = new CompletableFuture<>();
    fx.thenAnswer(() -> slow);
    submit(SPEC);
    task.runCommand(new TaskEntity.Relocated(1, "node-4", "pool:js:any:0"));
    slow.complete(new Placement.Enqueued("node-4"));
    eventually(() -> assertEquals(Status.DISPATCHED, state().status()));
    assertEquals("pool:js:any:0", state().nodeId());
  }

  @Test
  void aLostNodeIsNoticedByThePeriodicLivenessCheck() {
    running("node-1");
    timePasses(Duration.ofSeconds(10));
    eventually(() -> assertFalse(fx.livenessChecks.isEmpty()));
    assertEquals(Status.RUNNING, state().status());

    fx.alive.put("node-1", false);
    fx.defaultNode = "node-2";
    timePasses(Duration.ofSeconds(10));
    // the attempt failed as NodeLost and the next one was dispatched at once (no backoff)
    eventually(() -> assertEquals(2, state().attempt()));
    eventually(() -> assertEquals("node-2", state().nodeId()));
    AttemptFailed failed =
        journal().stream()
            .filter(AttemptFailed.class::isInstance)
            .map(AttemptFailed.class::cast)
            .findFirst()
            .orElseThrow();
    assertEquals(TaskEntity.NODE_LOST, failed.errorKind());
  }

  // ------------------------------------------------------------------ recovery

  @Test
  void aTaskJournaledButNeverDispatchedIsDispatchedOnRecovery() {
    // the coordinator dies between journaling the submission and enqueueing the job
    fx.thenAnswer(CompletableFuture::new);
    submit(SPEC);
    assertEquals(List.of(Submitted.class), journalTypes());

    TaskState recovered = task.restart().state();
    assertEquals(Status.QUEUED, recovered.status());
    eventually(() -> assertEquals(2, fx.dispatches.size()));
    eventually(() -> assertEquals(Status.DISPATCHED, state().status()));
    assertEquals(1, fx.dispatches.get(1).attempt());
    assertEquals(List.of(Submitted.class), journalTypes());
  }

  @Test
  void aScheduledRetryIsReArmedForTheRemainingDelayOnRecovery() {
    running("node-1");
    failRetryable(1, "node-1");
    clock.advance(Duration.ofMillis(500));
    task.restart();
    timePasses(Duration.ofMillis(1_499));
    assertEquals(1, fx.dispatches.size());
    timePasses(Duration.ofMillis(1));
    eventually(() -> assertEquals(2, fx.dispatches.size()));
    assertEquals(2, fx.dispatches.get(1).attempt());
  }

  @Test
  void aRunningAttemptWhoseNodeDiedMeanwhileIsRetriedOnRecovery() {
    running("node-1");
    fx.alive.put("node-1", false);
    fx.defaultNode = "node-2";
    task.restart();
    eventually(() -> assertEquals("node-2", state().nodeId()));
    assertEquals(2, state().attempt());
    assertEquals(
        TaskEntity.NODE_LOST,
        journal().stream()
            .filter(AttemptFailed.class::isInstance)
            .map(e -> ((AttemptFailed) e).errorKind())
            .findFirst()
            .orElseThrow());
  }

  @Test
  void aRunningAttemptWhoseNodeIsAliveKeepsRunningAfterRecovery() {
    running("node-1");
    task.restart();
    eventually(() -> assertTrue(fx.livenessChecks.contains("node-1")));
    // the queue says where the attempt is; it stays there, and is not queued a second time
    assertEquals(Status.DISPATCHED, state().status());
    assertEquals("node-1", state().nodeId());
    assertEquals(1, fx.dispatches.size());
    succeed(1, "node-1");
    assertEquals(TaskView.COMPLETED, view().status());
  }

  @Test
  void anEndedTaskPassivatesAgainAfterRecovery() {
    running("node-1");
    succeed(1, "node-1");
    TestProbe<ClusterSharding.ShardCommand> shard = entities.kit().createTestProbe();
    TestProbe<TaskView> viewProbe = entities.kit().createTestProbe();
    var recovered =
        entities.kit().spawn(TaskEntity.create(taskId, fx, SETTINGS, clock, shard.ref()));
    shard.expectMessageClass(ClusterSharding.Passivate.class);
    recovered.tell(new Get(viewProbe.ref()));
    assertEquals(TaskView.COMPLETED, viewProbe.receiveMessage().status());
    entities.kit().stop(recovered);
  }

  // ------------------------------------------------------------------ after Redis lost its last
  // writes

  @Test
  void aDispatchedJobThatRedisLostIsQueuedAgainWhenChecked() {
    submit(SPEC);
    assertEquals(Status.DISPATCHED, state().status());
    fx.placed.clear(); // Redis came back from a file without the job
    fx.defaultNode = "node-2";
    assertTrue(
        task.<Boolean>runCommand(TaskEntity.CheckJob::new).reply(), "the task is still open");
    eventually(() -> assertEquals(2, fx.dispatches.size()));
    assertEquals(1, fx.dispatches.get(1).attempt(), "the same attempt, not a failed one");
    eventually(() -> assertEquals("node-2", state().nodeId()));
    assertTrue(
        fx.changeNames().contains(TaskChange.REQUEUED.eventName()), fx.changeNames().toString());
    succeed(1, "node-2");
    assertEquals(TaskView.COMPLETED, view().status());
    assertEquals(List.of(Submitted.class, Completed.class), journalTypes());
  }

  @Test
  void aJobStillOnTheQueueOrAlreadyStartedIsLeftWhereItIs() {
    submit(SPEC);
    assertTrue(task.<Boolean>runCommand(TaskEntity.CheckJob::new).reply());
    task.runCommand(new Started(1, "node-1"));
    fx.placed
        .clear(); // a started job is the worker's: it reports over the cluster, not through Redis
    assertTrue(task.<Boolean>runCommand(TaskEntity.CheckJob::new).reply());
    assertEquals(Status.RUNNING, state().status());
    assertEquals(1, fx.dispatches.size());
  }

  @Test
  void anEndedTaskAnswersTheCheckClosed() {
    running("node-1");
    succeed(1, "node-1");
    assertFalse(task.<Boolean>runCommand(TaskEntity.CheckJob::new).reply());
    assertEquals(1, fx.dispatches.size());
  }
}
