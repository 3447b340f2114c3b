package dev.anchor.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import dev.anchor.task.TaskEntity.AttemptFailed;
import dev.anchor.task.TaskEntity.AttemptStarted;
import dev.anchor.task.TaskEntity.Cancelled;
import dev.anchor.task.TaskEntity.Completed;
import dev.anchor.task.TaskEntity.Dispatched;
import dev.anchor.task.TaskEntity.Event;
import dev.anchor.task.TaskEntity.Failed;
import dev.anchor.task.TaskEntity.RetryScheduled;
import dev.anchor.task.TaskEntity.Submitted;
import dev.anchor.task.TaskEntity.Waiting;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.SerializationTestKit;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.SerializationExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Events and state go to the journal as CBOR and must come back equal, or recovery would rebuild
 * another task.
 */
class TaskSerializationTest {
  private static ActorTestKit kit;

  static final TaskSpec FULL_SPEC =
      new TaskSpec(
          "train",
          "ml",
          "wasm",
          null,
          "AGFzbQEAAAA=",
          "main",
          List.of(1, 2.5, 3_000_000_000L),
          List.of("numpy"),
          "{\"x\":1}",
          new TaskSpec.Requirements(4.5, true),
          30_000L,
          new TaskSpec.RetryPolicy(5, 1_000, true),
          7);

  @BeforeAll
  static void start() {
    kit = ActorTestKit.create("TaskSerializationTest", ConfigFactory.load());
  }

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  @Test
  void everyEventAndAFullStateRoundTripThroughJacksonCborUnchanged() {
    List<Event> events =
        List.of(
            new Submitted(FULL_SPEC, 1L),
            new Dispatched(1, "n1", 2L),
            new AttemptStarted(1, "n1", 3L),
            new AttemptFailed(1, "n1", "boom", "Runtime", "logs", 12L, 4L),
            new AttemptFailed(1, "n1", "node lost", TaskEntity.NODE_LOST, null, null, 4L),
            new RetryScheduled(2, 2_004L, 4L),
            new Waiting("no GPU", 5L),
            new Completed(2, "n2", "{\"v\":1}", "out", 9L, 6L),
            new Failed(2, "n2", "boom", "UserError", null, null, 7L),
            new Cancelled(2, null, 8L),
            new TaskEntity.EffectsDue(
                List.of(
                    new TaskState.DueVerdict("n1", true), new TaskState.DueVerdict("n2", false)),
                7L,
                9L),
            new TaskEntity.EffectsDelivered(
                List.of(new TaskState.DueVerdict("n1", true)), false, false, 10L));
    SerializationTestKit serialization = new SerializationTestKit(kit.system());
    TaskState state = TaskState.EMPTY;
    for (Event e : events) {
      assertEquals(e, serialization.verifySerialization(e, true));
      assertCbor(e);
      state = state.apply(e);
    }
    assertEquals(state, serialization.verifySerialization(state, true));
    assertCbor(state);
    TaskView view = TaskEntity.view("t", state);
    assertEquals(view, serialization.verifySerialization(view, true));
  }

  private static void assertCbor(Object o) {
    var serializer =
        SerializationExtension.get(Adapter.toClassic(kit.system())).findSerializerFor(o);
    assertEquals(
        "JacksonCborSerializer",
        serializer.getClass().getSimpleName(),
        o.getClass() + " is not CBOR");
  }

  @Test
  void aSpecFromAJsonBodyWithOnlyTheEssentialsGetsTheDefaults() throws Exception {
    TaskSpec spec =
        new ObjectMapper()
            .readValue(
                "{\"name\":\"sum\",\"runtime\":\"js\",\"sourceCode\":\"1+1\",\"retries\":{\"attempts\":1}}",
                TaskSpec.class);
    assertEquals(1, spec.retries().attempts());
    assertEquals(TaskSpec.RetryPolicy.DEFAULT_BACKOFF_MS, spec.retries().backoffMs());
    assertFalse(spec.retries().retryUserErrors());
    assertEquals(TaskSpec.Requirements.NONE, spec.requirements());
    assertEquals(List.of(), spec.args());
    assertEquals(TaskSpec.RetryPolicy.DEFAULT, TaskSpec.of("a", "js", "1").retries());
  }

  @Test
  void theBackoffDoublesAfterEachFailedAttempt() {
    TaskSpec.RetryPolicy policy = TaskSpec.RetryPolicy.DEFAULT;
    assertEquals(2_000, policy.delayAfterAttempt(1));
    assertEquals(4_000, policy.delayAfterAttempt(2));
    assertEquals(8_000, policy.delayAfterAttempt(3));
    assertEquals(TaskSpec.RetryPolicy.MAX_BACKOFF_MS, policy.delayAfterAttempt(60));
  }
}
