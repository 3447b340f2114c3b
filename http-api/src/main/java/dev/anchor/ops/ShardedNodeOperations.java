package dev.anchor.ops;

import dev.anchor.node.NodeEntity;
import dev.anchor.node.NodeView;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.pattern.StatusReply;

/**
 * {@link NodeOperations} through the sharded {@link NodeEntity}: works from any JVM, since
 * non-coordinators reach the shards through a sharding proxy.
 */
public final class ShardedNodeOperations implements NodeOperations {
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

  private final ClusterSharding sharding;
  private final Supplier<? extends Collection<String>> knownIds;
  private final Duration timeout;

  public ShardedNodeOperations(
      ActorSystem<?> system, Supplier<? extends Collection<String>> knownIds) {
    this(system, knownIds, DEFAULT_TIMEOUT);
  }

  public ShardedNodeOperations(
      ActorSystem<?> system, Supplier<? extends Collection<String>> knownIds, Duration timeout) {
    this.sharding = ClusterSharding.get(system);
    this.knownIds = knownIds;
    this.timeout = timeout;
  }

  @Override
  public CompletionStage<NodeView> drain(String nodeId) {
    return command(nodeId, NodeEntity.Drain::new);
  }

  @Override
  public CompletionStage<NodeView> cordon(String nodeId) {
    return command(nodeId, NodeEntity.Cordon::new);
  }

  @Override
  public CompletionStage<NodeView> uncordon(String nodeId) {
    return command(nodeId, NodeEntity.Uncordon::new);
  }

  @Override
  public CompletionStage<NodeView> release(String nodeId) {
    return command(nodeId, NodeEntity.Release::new);
  }

  @Override
  public CompletionStage<NodeView> get(String nodeId) {
    CompletionStage<NodeView> asked =
        sharding.entityRefFor(NodeEntity.TYPE_KEY, nodeId).ask(NodeEntity.Get::new, timeout);
    return asked.handle(
        (v, e) -> {
          if (e != null) throw translate(nodeId, e);
          return v;
        });
  }

  @Override
  public List<String> nodeIds() {
    Collection<String> ids = knownIds.get();
    return ids == null ? List.of() : ids.stream().distinct().sorted().toList();
  }

  private CompletionStage<NodeView> command(
      String nodeId, Function<ActorRef<StatusReply<NodeView>>, NodeEntity.Command> make) {
    CompletionStage<NodeView> asked =
        sharding.entityRefFor(NodeEntity.TYPE_KEY, nodeId).askWithStatus(make::apply, timeout);
    return asked.handle(
        (v, e) -> {
          if (e != null) throw translate(nodeId, e);
          return v;
        });
  }

  /** The ask's failure as one of the three failures callers tell apart (HTTP: 404, 503, 409). */
  private RuntimeException translate(String nodeId, Throwable failure) {
    Throwable t = failure;
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof StatusReply.ErrorMessage error) {
      // the entity's wording for a never-registered node; anything else is a refusal in the node's
      // current state
      if (error.getMessage() != null && error.getMessage().startsWith("unknown node")) {
        return new UnknownNodeException(nodeId);
      }
      return new NodeOperationRejectedException(error.getMessage());
    }
    if (t instanceof TimeoutException) {
      return new ClusterUnavailableException(
          "the cluster did not answer for node "
              + nodeId
              + " within "
              + timeout.toSeconds()
              + " s; try again",
          t);
    }
    return t instanceof RuntimeException r ? r : new CompletionException(t);
  }
}
