package dev.anchor.scheduling;

import dev.anchor.node.NodeEntity;
import dev.anchor.node.NodeView;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers verdicts to node entities and asks again until one confirms (the entity ignores a repeated verdict for
 * the same task), so a shard moving between coordinators does not lose a node's record.
 */
public final class NodeVerdicts implements QueueTaskEffects.VerdictSink {
  private static final Logger log = LoggerFactory.getLogger(NodeVerdicts.class);
  private static final int TRIES = 5;

  private final ClusterSharding sharding;

  public NodeVerdicts(ClusterSharding sharding) {
    this.sharding = sharding;
  }

  @Override
  public void verdict(String nodeId, String taskId, boolean agreed) {
    dev.anchor.metrics.AnchorMetrics.verdict(agreed);
    send(nodeId, taskId, agreed, 1);
  }

  private void send(String nodeId, String taskId, boolean agreed, int attempt) {
    sharding.entityRefFor(NodeEntity.TYPE_KEY, nodeId)
        .<NodeView>askWithStatus(r -> new NodeEntity.RecordVerdict(taskId, agreed, r), Duration.ofSeconds(10))
        .whenComplete((v, failure) -> {
          if (failure == null) return;
          if (attempt >= TRIES) {
            log.warn("verdict on node {} for task {} not recorded after {} tries: {}", nodeId, taskId, TRIES,
                failure.toString());
            return;
          }
          CompletableFuture.delayedExecutor(attempt, TimeUnit.SECONDS)
              .execute(() -> send(nodeId, taskId, agreed, attempt + 1));
        });
  }
}
