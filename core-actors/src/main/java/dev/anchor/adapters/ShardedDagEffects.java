package dev.anchor.adapters;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.dag.DagEffects;
import dev.anchor.feed.ChangeFeed;
import dev.anchor.feed.StatusCounts;
import dev.anchor.task.TaskEntity;
import dev.anchor.task.TaskSpec;
import dev.anchor.task.TaskView;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The coordinator's side effects of DAG entities: step tasks through the sharded task entities, the
 * change feed.
 */
public final class ShardedDagEffects implements DagEffects {
  private static final Logger log = LoggerFactory.getLogger(ShardedDagEffects.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private final ClusterSharding sharding;
  private final ChangeFeed feed;
  private final Duration askTimeout;
  private final StatusCounts counts;

  /**
   * @param feed where changes go with kind "dag"; null publishes nothing
   */
  public ShardedDagEffects(ClusterSharding sharding, ChangeFeed feed, Duration askTimeout) {
    this(sharding, feed, askTimeout, null);
  }

  /**
   * @param counts the DAG state counters of /api/queue/stats; null counts nothing
   */
  public ShardedDagEffects(
      ClusterSharding sharding, ChangeFeed feed, Duration askTimeout, StatusCounts counts) {
    this.sharding = sharding;
    this.feed = feed;
    this.askTimeout = askTimeout;
    this.counts = counts;
  }

  @Override
  public CompletionStage<TaskView> submitTask(String taskId, TaskSpec spec) {
    return sharding
        .entityRefFor(TaskEntity.TYPE_KEY, taskId)
        .askWithStatus(replyTo -> new TaskEntity.Submit(spec, replyTo), askTimeout);
  }

  @Override
  public CompletionStage<TaskView> getTask(String taskId) {
    return sharding.entityRefFor(TaskEntity.TYPE_KEY, taskId).ask(TaskEntity.Get::new, askTimeout);
  }

  @Override
  public CompletionStage<TaskView> cancelTask(String taskId) {
    return sharding
        .entityRefFor(TaskEntity.TYPE_KEY, taskId)
        .askWithStatus(TaskEntity.Cancel::new, askTimeout);
  }

  @Override
  public void changed(DagChange change) {
    count(change);
    if (feed == null) return;
    try {
      feed.publish("dag", change.dagId(), change.event(), JSON.writeValueAsString(change));
    } catch (Exception e) {
      log.warn("change feed publish failed for DAG {}: {}", change.dagId(), e.toString());
    }
  }

  /**
   * The DAG's state for the counters: Waiting when scheduled, Active from its first step start (any
   * step start before a step completed, so the few calls of a DAG's roots, not one per step), then
   * how it ended. A repeated state is a no-op in Redis, so a change announced twice after a restart
   * counts once.
   */
  private void count(DagChange change) {
    if (counts == null) return;
    String state =
        switch (change.event()) {
          case "Scheduled" -> "Waiting";
          case "NodeStarted" -> change.completed() == 0 ? "Active" : null;
          case "Completed", "Failed", "Cancelled" -> change.event();
          default -> null;
        };
    if (state == null) return;
    try {
      counts
          .dag(change.dagId(), state)
          .whenComplete(
              (x, e) -> {
                if (e != null)
                  log.warn("DAG counter write failed for DAG {}: {}", change.dagId(), e.toString());
              });
    } catch (RuntimeException e) {
      log.warn("DAG counter write failed for DAG {}: {}", change.dagId(), e.toString());
    }
  }
}
