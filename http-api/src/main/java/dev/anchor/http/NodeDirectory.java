package dev.anchor.http;

import dev.anchor.node.NodeStatus;
import dev.anchor.scheduling.NodeHeartbeat;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * The worker machines a coordinator knows, as GET /api/nodes lists them: their last heartbeats and
 * their entities' statuses. Empty where nothing is known (a JVM that does not coordinate).
 */
public interface NodeDirectory {
  NodeDirectory NONE =
      new NodeDirectory() {
        @Override
        public Collection<NodeHeartbeat> heardFrom() {
          return List.of();
        }

        @Override
        public Collection<NodeStatus> statuses() {
          return List.of();
        }

        @Override
        public Optional<NodeStatus> status(String nodeId) {
          return Optional.empty();
        }

        @Override
        public boolean isAlive(String nodeId) {
          return false;
        }
      };

  /** The last heartbeat of every node heard from since this JVM started. */
  Collection<NodeHeartbeat> heardFrom();

  /** The node entities' latest statuses, also of nodes not heard from since this JVM started. */
  Collection<NodeStatus> statuses();

  Optional<NodeStatus> status(String nodeId);

  boolean isAlive(String nodeId);

  default List<String> nodeIds() {
    return heardFrom().stream().map(NodeHeartbeat::nodeId).toList();
  }
}
