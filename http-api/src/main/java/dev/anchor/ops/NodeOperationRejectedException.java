package dev.anchor.ops;

/** The node refused the command in its current state (e.g. draining an Offline node). */
public final class NodeOperationRejectedException extends RuntimeException {
  public NodeOperationRejectedException(String message) {
    super(message);
  }
}
