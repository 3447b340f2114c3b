package dev.anchor.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import dev.anchor.node.NodeEntity;
import dev.anchor.node.NodeMetrics;
import dev.anchor.node.NodeSpecs;
import dev.anchor.node.NodeView;
import dev.anchor.queue.JobMessage;
import dev.anchor.queue.JobQueue;
import dev.anchor.queue.RealRedis;
import dev.anchor.runtime.JsIsolation;
import dev.anchor.runtime.Sandbox;
import dev.anchor.runtime.SandboxConfig;
import dev.anchor.scheduling.CancelJob;
import dev.anchor.scheduling.NodeHeartbeat;
import dev.anchor.task.TaskEntity;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.FishingOutcome;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The worker agent's state machine against a real redis-server, the real job queue and a real
 * (in-process JS) sandbox; the test plays the coordinators: it sees what the agent tells the task
 * and node entities and answers their asks itself.
 */
class NodeAgentTest {
  @RegisterExtension static final RealRedis redis = new RealRedis();

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration WAIT = Duration.ofSeconds(30);

  static ActorTestKit kit;
  static Sandbox sandbox;
  static JobQueue queue;
  static Path tmp;

  @BeforeAll
  static void start() throws Exception {
    kit =
        ActorTestKit.create(
            "NodeAgentTest",
            ConfigFactory.parseString("pekko.actor.provider = local")
                .withFallback(ConfigFactory.load()));
    tmp = Files.createTempDirectory("node-agent-test-");
    sandbox =
        Sandbox.start(
            SandboxConfig.defaults()
                .withNativeEnabled(false)
                .withDirs(tmp.resolve("npm-cache"), tmp.resolve("work"))
                .withJs(JsIsolation.IN_PROCESS, 1, 0, false));
    queue = new JobQueue(redis.client());
  }

  @AfterAll
  static void stop() {
    if (kit != null) kit.shutdownTestKit();
    if (sandbox != null) sandbox.close();
    if (queue != null) queue.close();
  }

  /** What the agent told a task entity. */
  record TaskCall(String taskId, TaskEntity.Command command) {}

  /** The coordinators as the test sees them: task calls on one probe, node calls on another. */
  record ProbedCoordinators(TestProbe<TaskCall> tasks, TestProbe<Object> node)
      implements Coordinators {
    @Override
    public void publish(NodeHeartbeat heartbeat) {
      node.ref().tell(heartbeat);
    }

    @Override
    public CompletionStage<?> register(String nodeId, NodeSpecs specs) {
      return AskPattern.<Object, NodeView>askWithStatus(
          node.ref(),
          replyTo -> new NodeEntity.Register(specs, replyTo),
          REGISTER_TIMEOUT,
          kit.scheduler());
    }

    @Override
    public void heartbeat(String nodeId, NodeMetrics metrics) {
      node.ref().tell(metrics);
    }

    @Override
    public void started(String taskId, int attempt, String nodeId) {
      tasks.ref().tell(new TaskCall(taskId, new TaskEntity.Started(attempt, nodeId)));
    }

    @Override
    public CompletionStage<Done> report(
        String taskId, Function<ActorRef<StatusReply<Done>>, TaskEntity.Command> command) {
      return AskPattern.<TaskCall, Done>askWithStatus(
          tasks.ref(),
          replyTo -> new TaskCall(taskId, command.apply(replyTo)),
          Duration.ofMinutes(1),
          kit.scheduler());
    }
  }

  private static ProbedCoordinators coordinators() {
    return new ProbedCoordinators(kit.createTestProbe(), kit.createTestProbe());
  }

  private static NodeAgent startAgent(String nodeId, int capacity, Coordinators coordinators) {
    return NodeAgent.start(
        kit.system(),
        new WorkerAgent.Setup(
            nodeId,
            kit.system().address().toString(),
            capacity,
            30_000,
            128,
            GpuProbe.open(),
            null,
            Duration.ofMillis(200)),
        queue,
        sandbox,
        coordinators);
  }

  /** Puts a JS job on the node's stream; answers its entry id. */
  private static String enqueue(String nodeId, String taskId, String source) throws Exception {
    Map<String, Object> spec = new HashMap<>();
    spec.put("runtime", "js");
    spec.put("sourceCode", source);
    spec.put("timeoutMs", 60_000);
    return queue
        .enqueue(nodeId, new JobMessage(taskId, 1, 0, JSON.writeValueAsString(spec)))
        .toCompletableFuture()
        .get(10, TimeUnit.SECONDS);
  }

  private static String stream(String nodeId) {
    return JobQueue.stream(nodeId, "normal");
  }

  private static boolean onStream(String nodeId, String entryId) {
    return !redis
        .connection()
        .sync()
        .xrange(stream(nodeId), io.lettuce.core.Range.create(entryId, entryId))
        .isEmpty();
  }

  private static void eventually(String what, BooleanSupplier condition) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline)
        throw new AssertionError("not within " + WAIT + ": " + what);
      Thread.sleep(50);
    }
  }

  private static TaskEntity.ReportResult report(TaskCall call) {
    return assertInstanceOf(TaskEntity.ReportResult.class, call.command(), call.toString());
  }

  private static final String FOREVER = "for (;;) {}";

  @Test
  void takesNoMoreJobsThanItsSlotsAndACancelledJobFreesItsSlot() throws Exception {
    String node = "cap-w";
    ProbedCoordinators c = coordinators();
    Map<String, String> entries = new HashMap<>();
    for (String t : List.of("cap-1", "cap-2", "cap-3")) entries.put(t, enqueue(node, t, FOREVER));
    NodeAgent agent = startAgent(node, 2, c);
    try {
      List<String> started = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        TaskCall call = c.tasks().expectMessageClass(TaskCall.class, WAIT);
        assertInstanceOf(TaskEntity.Started.class, call.command());
        started.add(call.taskId());
      }
      // two slots, two jobs that never end: the third is not taken
      c.tasks().expectNoMessage(Duration.ofSeconds(1));
      assertEquals(2, agent.runningJobs());
      String waiting =
          List.of("cap-1", "cap-2", "cap-3").stream()
              .filter(t -> !started.contains(t))
              .findFirst()
              .orElseThrow();

      String cancelled = started.get(0);
      agent.onCancel(new CancelJob(cancelled, 1, "another-node")); // not this node's: ignored
      c.tasks().expectNoMessage(Duration.ofMillis(500));
      // its result is reported and the freed slot takes the waiting job, in either order
      TaskEntity.ReportResult result = null;
      boolean waitingStarted = false;
      long deadline = System.nanoTime() + WAIT.toNanos();
      while ((result == null || !waitingStarted) && System.nanoTime() < deadline) {
        // the sandbox ignores a cancel that comes before the job's run has begun: asked again
        if (result == null) agent.onCancel(new CancelJob(cancelled, 1, node));
        TaskCall call;
        try {
          call = c.tasks().receiveMessage(Duration.ofMillis(300));
        } catch (AssertionError none) {
          continue;
        }
        if (call.command() instanceof TaskEntity.Started) {
          assertEquals(waiting, call.taskId());
          waitingStarted = true;
        } else {
          assertEquals(cancelled, call.taskId());
          result = report(call);
        }
      }
      assertTrue(waitingStarted, "the freed slot took the waiting job");
      assertNotNull(result, "the cancelled job's result was reported");
      assertFalse(result.success());
      assertEquals("CANCELLED", result.errorKind(), result.toString());

      // acknowledged only once the task entity has recorded the result
      assertTrue(onStream(node, entries.get(cancelled)), "the entry stays until recorded");
      result.replyTo().tell(StatusReply.ack());
      eventually("the recorded job's entry is gone", () -> !onStream(node, entries.get(cancelled)));
      assertTrue(onStream(node, entries.get(started.get(1))), "a running job's entry stays");
    } finally {
      // the endless jobs end with the test: cancelled, their results recorded, the agent stopped
      CompletableFuture<Void> closing = CompletableFuture.runAsync(agent::close);
      answerReportsUntil(
          c,
          closing,
          () -> {
            for (String t : List.of("cap-1", "cap-2", "cap-3"))
              agent.onCancel(new CancelJob(t, 1, node));
          });
    }
  }

  /** Records every result reported until the agent has stopped. */
  private static void answerReportsUntil(
      ProbedCoordinators c, CompletableFuture<Void> closing, Runnable eachRound) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!closing.isDone() && System.nanoTime() < deadline) {
      eachRound.run();
      TaskCall call;
      try {
        call = c.tasks().receiveMessage(Duration.ofMillis(200));
      } catch (AssertionError none) {
        continue;
      }
      if (call.command() instanceof TaskEntity.ReportResult r) r.replyTo().tell(StatusReply.ack());
    }
    closing.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Test
  void aShutdownWaitsForTheRunningJobToBeRecordedAndTakesNoOther() throws Exception {
    String node = "drain-w";
    ProbedCoordinators c = coordinators();
    // runs for 3 s, long enough for the shutdown to reach the agent while it runs
    String first =
        enqueue(node, "drain-1", "const t = Date.now(); while (Date.now() - t < 3000) {} 'ran'");
    // waits behind it: one slot
    String second = enqueue(node, "drain-2", "1 + 1");
    NodeAgent agent = startAgent(node, 1, c);
    TestProbe<Object> watcher = kit.createTestProbe();
    TaskCall startedCall = c.tasks().expectMessageClass(TaskCall.class, WAIT);
    assertEquals("drain-1", startedCall.taskId());
    assertInstanceOf(TaskEntity.Started.class, startedCall.command());
    CompletableFuture<Void> closing = CompletableFuture.runAsync(agent::close);
    TaskEntity.ReportResult result = report(c.tasks().expectMessageClass(TaskCall.class, WAIT));
    assertTrue(result.success(), result.toString());
    assertEquals("\"ran\"", result.resultJson());
    // the agent is draining: it waits for the result to be recorded and starts nothing more
    c.tasks().expectNoMessage(Duration.ofSeconds(1));
    assertFalse(closing.isDone(), "close() returned before the running job's result was recorded");
    result.replyTo().tell(StatusReply.ack());
    closing.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    watcher.expectTerminated(agent.ref(), WAIT);
    eventually("the recorded job's entry is gone", () -> !onStream(node, first));
    assertTrue(onStream(node, second), "the job waiting behind it stays for another node");
    c.tasks().expectNoMessage(Duration.ofMillis(500));
  }

  @Test
  void aReaderWhoseConsumerGroupsVanishedIsRestartedAndReadsAgain() throws Exception {
    String node = "regroup-w";
    ProbedCoordinators c = coordinators();
    NodeAgent agent = startAgent(node, 1, c);
    try {
      var redisSync = redis.connection().sync();
      List<String> bands = List.of("high", "normal", "low");
      eventually(
          "the reader made its groups",
          () ->
              bands.stream()
                  .allMatch(
                      b ->
                          redisSync.exists(JobQueue.stream(node, b)) == 1
                              && !redisSync.xinfoGroups(JobQueue.stream(node, b)).isEmpty()));
      // what a Redis restarted from an old file looks like: the streams without their group
      for (String b : bands) redisSync.xgroupDestroy(JobQueue.stream(node, b), JobQueue.GROUP);
      enqueue(node, "regroup-1", "40 + 2");
      TaskCall started = c.tasks().expectMessageClass(TaskCall.class, WAIT);
      assertInstanceOf(TaskEntity.Started.class, started.command());
      TaskEntity.ReportResult result = report(c.tasks().expectMessageClass(TaskCall.class, WAIT));
      assertEquals("42", result.resultJson());
      result.replyTo().tell(StatusReply.ack());
    } finally {
      CompletableFuture<Void> closing = CompletableFuture.runAsync(agent::close);
      answerReportsUntil(c, closing, () -> {});
    }
  }

  @Test
  void itRegistersUntilTheNodeEntityAnswersThenReportsItsLoad() throws Exception {
    String node = "register-w";
    ProbedCoordinators c = coordinators();
    NodeAgent agent = startAgent(node, 3, c);
    try {
      NodeHeartbeat hb = c.node().expectMessageClass(NodeHeartbeat.class, WAIT);
      assertEquals(node, hb.nodeId());
      assertEquals(3, hb.capacity());
      assertFalse(hb.draining());
      NodeEntity.Register first = c.node().expectMessageClass(NodeEntity.Register.class, WAIT);
      assertTrue(first.specs().runtimes().contains("js"), first.toString());
      first.replyTo().tell(StatusReply.error("the coordinator is not up yet"));
      // not registered: the next heartbeat registers again instead of reporting load
      c.node()
          .fishForMessage(
              WAIT,
              m ->
                  m instanceof NodeMetrics
                      ? FishingOutcomes.fail("load reported before the node was registered")
                      : m instanceof NodeEntity.Register r
                          ? answer(r)
                          : FishingOutcomes.continueAndIgnore());
      List<Object> load =
          c.node()
              .fishForMessage(
                  WAIT,
                  m ->
                      m instanceof NodeMetrics
                          ? FishingOutcomes.complete()
                          : m instanceof NodeEntity.Register
                              ? FishingOutcomes.fail("registered again after the entity answered")
                              : FishingOutcomes.continueAndIgnore());
      assertEquals(0, ((NodeMetrics) load.getLast()).runningTasks());
      agent.drain();
      c.node()
          .fishForMessage(
              WAIT,
              m ->
                  m instanceof NodeHeartbeat h && h.draining()
                      ? FishingOutcomes.complete()
                      : FishingOutcomes.continueAndIgnore());
    } finally {
      agent.close();
    }
  }

  private static FishingOutcome answer(NodeEntity.Register r) {
    r.replyTo().tell(StatusReply.success(null));
    return FishingOutcomes.complete();
  }
}
