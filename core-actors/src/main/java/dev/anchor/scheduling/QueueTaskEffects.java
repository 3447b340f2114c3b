package dev.anchor.scheduling;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.feed.ChangeFeed;
import dev.anchor.feed.TaskIndex;
import dev.anchor.queue.JobMessage;
import dev.anchor.queue.JobQueue;
import dev.anchor.task.TaskEffects;
import dev.anchor.task.TaskSpec;
import dev.anchor.task.TaskView;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/** The coordinator's side effects of task entities: node choice, Redis Streams, the change feed, cancel broadcasts. */
public final class QueueTaskEffects implements TaskEffects {
  private static final Logger log = LoggerFactory.getLogger(QueueTaskEffects.class);
  private final NodeRegistry registry;
  private final JobQueue queue;
  private final ChangeFeed feed;
  private final TaskIndex index;
  private final Consumer<CancelJob> cancelBroadcast;
  private final ObjectMapper json;
  private final long startedAtMs = System.currentTimeMillis();
  private final long warmUpMs;
  private final Consumer<TaskView> dagNodeEnded;

  public QueueTaskEffects(NodeRegistry registry, JobQueue queue, ChangeFeed feed, TaskIndex index, Consumer<CancelJob> cancelBroadcast,
                          ObjectMapper json, long warmUpMs) {
    this(registry, queue, feed, index, cancelBroadcast, json, warmUpMs, v -> { });
  }

  /** @param dagNodeEnded told the final view of every task that ended (DAG nodes are recognised by their task id) */
  public QueueTaskEffects(NodeRegistry registry, JobQueue queue, ChangeFeed feed, TaskIndex index, Consumer<CancelJob> cancelBroadcast,
                          ObjectMapper json, long warmUpMs, Consumer<TaskView> dagNodeEnded) {
    this.dagNodeEnded = dagNodeEnded;
    this.registry = registry;
    this.queue = queue;
    this.feed = feed;
    this.index = index;
    this.cancelBroadcast = cancelBroadcast;
    this.json = json;
    this.warmUpMs = warmUpMs;
  }

  @Override
  public CompletionStage<Placement> dispatch(String taskId, int attempt, TaskSpec spec) {
    return switch (registry.choose(spec, Set.of(), System.currentTimeMillis())) {
      case NodeRegistry.Choice.Chosen c -> {
        String specJson;
        try {
          specJson = json.writeValueAsString(spec);
        } catch (Exception e) {
          yield CompletableFuture.failedFuture(e);
        }
        yield queue.enqueue(c.nodeId(), new JobMessage(taskId, attempt, spec.priority(), specJson))
            .thenApply(id -> (Placement) new Placement.Enqueued(c.nodeId()));
      }
      case NodeRegistry.Choice.None n -> CompletableFuture.completedFuture(new Placement.NoEligibleNode(n.reason()));
    };
  }

  @Override
  public void cancelRunning(String taskId, int attempt, String nodeId) {
    cancelBroadcast.accept(new CancelJob(taskId, attempt, nodeId));
  }

  @Override
  public CompletionStage<Boolean> isNodeAlive(String nodeId) {
    if (registry.isAlive(nodeId)) return CompletableFuture.completedFuture(true);
    long wait = warmUpMs - (System.currentTimeMillis() - startedAtMs);
    if (wait <= 0) return CompletableFuture.completedFuture(false);
    // just after a coordinator (re)start the registry has not heard every heartbeat yet: ask again when it has
    return CompletableFuture.supplyAsync(() -> registry.isAlive(nodeId),
        CompletableFuture.delayedExecutor(wait, TimeUnit.MILLISECONDS));
  }

  @Override
  public void deadLetter(String taskId, TaskSpec spec, String error) {
    try {
      queue.deadLetter(taskId, json.writeValueAsString(spec), error);
    } catch (Exception e) {
      log.warn("could not dead-letter task {}: {}", taskId, e.toString());
    }
  }

  /** What a listing shows of a task: no logs, result or history. */
  public record Summary(String taskId, String name, String status, String runtime, int priority, int attempts,
                        String nodeId, Long submittedAt, Long completedAt, String error) {}

  static Summary summary(TaskView v) {
    return new Summary(v.taskId(), v.name(), v.status(), v.runtime(), v.priority(), v.attempts(), v.nodeId(),
        v.submittedAt(), v.completedAt(), v.error());
  }

  @Override
  public void changed(TaskView view, String eventName) {
    switch (eventName) {
      case "Completed" -> queue.count("completed", 1);
      case "Failed" -> queue.count("failed", 1);
      case "RetryScheduled" -> queue.count("delayed", 1);
      case "RetryDue" -> queue.count("delayed", -1);
      default -> { }
    }
    if (eventName.equals("Completed") || eventName.equals("Failed") || eventName.equals("Cancelled")) {
      try {
        dagNodeEnded.accept(view);
      } catch (RuntimeException e) {
        log.warn("could not tell the DAG of task {} that it ended: {}", view.taskId(), e.toString());
      }
    }
    try {
      String full = dev.anchor.feed.TaskJson.write(view);
      feed.publish("task", view.taskId(), eventName, full);
      index.put(view.taskId(), view.submittedAt() == null ? System.currentTimeMillis() : view.submittedAt(),
          json.writeValueAsString(summary(view)));
    } catch (Exception e) {
      log.warn("change feed publish failed for task {}: {}", view.taskId(), e.toString());
    }
  }
}
