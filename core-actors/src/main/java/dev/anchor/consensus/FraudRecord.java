package dev.anchor.consensus;

import java.util.List;

/**
 * Evidence that replicas of a verified task disagreed: every replica's outcome, the key the quorum
 * agreed on (null if none did) and the nodes that voted otherwise. Times are epoch milliseconds;
 * the record is gone after {@code expiresAt}.
 */
public record FraudRecord(
    String id,
    String taskId,
    String runtime,
    String codeHash,
    String agreedKey,
    List<ReplicaEvidence> replicas,
    List<String> faultyNodes,
    long createdAt,
    long expiresAt) {

  public FraudRecord {
    replicas = replicas == null ? List.of() : List.copyOf(replicas);
    faultyNodes = faultyNodes == null ? List.of() : List.copyOf(faultyNodes);
  }
}
