package dev.anchor.adapters;

import dev.anchor.feed.ChangeFeed;
import dev.anchor.node.NodeEffects;
import dev.anchor.node.NodeStatus;
import dev.anchor.queue.Delivery;
import dev.anchor.queue.JobQueue;
import dev.anchor.task.TaskEntity;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.pubsub.Topic;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The coordinator's side effects of node entities: node status to every scheduler and worker over
 * pub-sub, the unread queue of a drained or quarantined node back to its tasks, quarantine alerts
 * on the change feed.
 */
public final class ShardedNodeEffects implements NodeEffects {
  private static final Logger log = LoggerFactory.getLogger(ShardedNodeEffects.class);

  private final ActorRef<Topic.Command<NodeStatus>> statuses;
  private final JobQueue queue;
  private final ChangeFeed feed;
  private final ClusterSharding sharding;

  /** Redis calls are blocking: one thread, and at most one withdrawal per node waiting for it. */
  private final ExecutorService redis =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "anchor-withdraw");
            t.setDaemon(true);
            return t;
          });

  private final Set<String> withdrawing = ConcurrentHashMap.newKeySet();

  public ShardedNodeEffects(
      ActorRef<Topic.Command<NodeStatus>> statuses,
      JobQueue queue,
      ChangeFeed feed,
      ClusterSharding sharding) {
    this.statuses = statuses;
    this.queue = queue;
    this.feed = feed;
    this.sharding = sharding;
  }

  @Override
  public void publish(NodeStatus status) {
    statuses.tell(Topic.publish(status));
  }

  @Override
  public void withdrawQueued(String nodeId) {
    if (!withdrawing.add(nodeId)) return;
    redis.execute(
        () -> {
          try {
            List<Delivery> taken = queue.withdrawUndelivered(nodeId);
            if (!taken.isEmpty()) {
              log.info(
                  "node {} takes no work: moving {} waiting job(s) to other nodes",
                  nodeId,
                  taken.size());
            }
            for (Delivery d : taken) {
              sharding
                  .entityRefFor(TaskEntity.TYPE_KEY, d.job().taskId())
                  .tell(new TaskEntity.Withdrawn(d.job().attempt(), nodeId));
            }
          } catch (RuntimeException e) {
            log.warn(
                "could not withdraw the queue of node {} (tried again on its next heartbeat): {}",
                nodeId,
                e.toString());
          } finally {
            withdrawing.remove(nodeId);
          }
        });
  }

  @Override
  public void quarantined(String nodeId, String reason) {
    try {
      String json =
          new com.fasterxml.jackson.databind.ObjectMapper()
              .writeValueAsString(java.util.Map.of("nodeId", nodeId, "reason", reason));
      feed.publish("node", nodeId, "Quarantined", json);
    } catch (Exception e) {
      log.warn("could not announce the quarantine of node {}: {}", nodeId, e.toString());
    }
  }
}
