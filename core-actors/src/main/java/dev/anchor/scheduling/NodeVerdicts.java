package dev.anchor.scheduling;

import dev.anchor.adapters.QueueTaskEffects;
import dev.anchor.node.NodeEntity;
import dev.anchor.node.NodeView;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;

/**
 * Delivers a verdict to its node's entity, answering once the entity recorded it (it ignores a
 * repeated verdict for the same task). The task that decided it keeps it in its journaled outbox
 * and sends it again until it is confirmed, so neither a shard moving between coordinators nor a
 * coordinator crash loses a node's record.
 */
public final class NodeVerdicts implements QueueTaskEffects.VerdictSink {
  private final ClusterSharding sharding;

  public NodeVerdicts(ClusterSharding sharding) {
    this.sharding = sharding;
  }

  @Override
  public CompletionStage<Done> verdict(String nodeId, String taskId, boolean agreed) {
    return sharding
        .entityRefFor(NodeEntity.TYPE_KEY, nodeId)
        .<NodeView>askWithStatus(
            r -> new NodeEntity.RecordVerdict(taskId, agreed, r), Duration.ofSeconds(10))
        .thenApply(
            v -> {
              dev.anchor.metrics.AnchorMetrics.verdict(agreed);
              return Done.getInstance();
            });
  }
}
