package dev.anchor.node;

/**
 * What a {@link NodeEntity} does outside its journal. Called on the entity's thread: must not
 * block.
 */
public interface NodeEffects {

  /** Tell schedulers and the worker the node's flags and trust. */
  void publish(NodeStatus status);

  /**
   * The node takes no more work (drained or quarantined): move the jobs waiting on its queue that
   * it has not read yet to other nodes. Called again while the node stays in that state, since a
   * scheduler may still have placed a job on it before it heard.
   */
  void withdrawQueued(String nodeId);

  /** A verdict moved the node into quarantine (an operator alert). */
  void quarantined(String nodeId, String reason);

  NodeEffects NONE =
      new NodeEffects() {
        @Override
        public void publish(NodeStatus status) {}

        @Override
        public void withdrawQueued(String nodeId) {}

        @Override
        public void quarantined(String nodeId, String reason) {}
      };
}
