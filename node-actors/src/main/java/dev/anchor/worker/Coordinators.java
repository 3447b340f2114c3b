package dev.anchor.worker;

import dev.anchor.node.NodeEntity;
import dev.anchor.node.NodeMetrics;
import dev.anchor.node.NodeSpecs;
import dev.anchor.node.NodeView;
import dev.anchor.scheduling.NodeHeartbeat;
import dev.anchor.task.TaskEntity;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.pubsub.Topic;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.pattern.StatusReply;

/**
 * What a worker's agent says to the coordinators: its heartbeat on the topic, its registration and
 * load to its node entity, and each job's start and outcome to the task entity. One interface so
 * the agent's state machine can be exercised against a test's stand-in for the coordinators.
 */
interface Coordinators {
  Duration REPORT_TIMEOUT = Duration.ofSeconds(10);
  Duration REGISTER_TIMEOUT = Duration.ofSeconds(5);

  void publish(NodeHeartbeat heartbeat);

  /** Completes once the node entity has the node's specs. */
  CompletionStage<?> register(String nodeId, NodeSpecs specs);

  void heartbeat(String nodeId, NodeMetrics metrics);

  void started(String taskId, int attempt, String nodeId);

  /** Completes once the task entity has journaled the outcome (or knows it as a duplicate). */
  CompletionStage<Done> report(
      String taskId, Function<ActorRef<StatusReply<Done>>, TaskEntity.Command> command);

  /** The coordinators of a cluster: sharded entities and the heartbeat topic. */
  static Coordinators of(ActorSystem<?> system, ActorRef<Topic.Command<NodeHeartbeat>> topic) {
    return new Sharded(ClusterSharding.get(system), topic);
  }

  record Sharded(ClusterSharding sharding, ActorRef<Topic.Command<NodeHeartbeat>> topic)
      implements Coordinators {
    @Override
    public void publish(NodeHeartbeat heartbeat) {
      topic.tell(Topic.publish(heartbeat));
    }

    @Override
    public CompletionStage<?> register(String nodeId, NodeSpecs specs) {
      return sharding
          .entityRefFor(NodeEntity.TYPE_KEY, nodeId)
          .<NodeView>askWithStatus(
              replyTo -> new NodeEntity.Register(specs, replyTo), REGISTER_TIMEOUT);
    }

    @Override
    public void heartbeat(String nodeId, NodeMetrics metrics) {
      sharding
          .entityRefFor(NodeEntity.TYPE_KEY, nodeId)
          .tell(new NodeEntity.Heartbeat(metrics, null));
    }

    @Override
    public void started(String taskId, int attempt, String nodeId) {
      sharding
          .entityRefFor(TaskEntity.TYPE_KEY, taskId)
          .tell(new TaskEntity.Started(attempt, nodeId));
    }

    @Override
    public CompletionStage<Done> report(
        String taskId, Function<ActorRef<StatusReply<Done>>, TaskEntity.Command> command) {
      return sharding
          .entityRefFor(TaskEntity.TYPE_KEY, taskId)
          .<Done>askWithStatus(command::apply, REPORT_TIMEOUT);
    }
  }
}
