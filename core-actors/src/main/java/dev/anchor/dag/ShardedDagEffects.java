package dev.anchor.dag;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.feed.ChangeFeed;
import dev.anchor.task.TaskEntity;
import dev.anchor.task.TaskSpec;
import dev.anchor.task.TaskView;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The coordinator's side effects of DAG entities: node tasks through the sharded task entities, the change feed. */
public final class ShardedDagEffects implements DagEffects {
  private static final Logger log = LoggerFactory.getLogger(ShardedDagEffects.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private final ClusterSharding sharding;
  private final ChangeFeed feed;
  private final Duration askTimeout;

  /** @param feed where changes go with kind "dag"; null publishes nothing */
  public ShardedDagEffects(ClusterSharding sharding, ChangeFeed feed, Duration askTimeout) {
    this.sharding = sharding;
    this.feed = feed;
    this.askTimeout = askTimeout;
  }

  @Override
  public CompletionStage<TaskView> submitTask(String taskId, TaskSpec spec) {
    return sharding.entityRefFor(TaskEntity.TYPE_KEY, taskId)
        .askWithStatus(replyTo -> new TaskEntity.Submit(spec, replyTo), askTimeout);
  }

  @Override
  public CompletionStage<TaskView> getTask(String taskId) {
    return sharding.entityRefFor(TaskEntity.TYPE_KEY, taskId).ask(TaskEntity.Get::new, askTimeout);
  }

  @Override
  public CompletionStage<TaskView> cancelTask(String taskId) {
    return sharding.entityRefFor(TaskEntity.TYPE_KEY, taskId).askWithStatus(TaskEntity.Cancel::new, askTimeout);
  }

  @Override
  public void changed(DagChange change) {
    if (feed == null) return;
    try {
      feed.publish("dag", change.dagId(), change.event(), JSON.writeValueAsString(change));
    } catch (Exception e) {
      log.warn("change feed publish failed for DAG {}: {}", change.dagId(), e.toString());
    }
  }
}
