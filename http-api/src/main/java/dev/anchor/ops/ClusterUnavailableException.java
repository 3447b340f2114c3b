package dev.anchor.ops;

/**
 * The node's entity did not answer in time (its shard is moving, or no coordinator is reachable);
 * worth a retry.
 */
public final class ClusterUnavailableException extends RuntimeException {
  public ClusterUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
