package dev.anchor.ops;

/** An operator command named a node that never registered. */
public final class UnknownNodeException extends RuntimeException {
  private final String nodeId;

  public UnknownNodeException(String nodeId) {
    super("unknown node " + nodeId);
    this.nodeId = nodeId;
  }

  public String nodeId() {
    return nodeId;
  }
}
