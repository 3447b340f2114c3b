package dev.anchor.task;

import dev.anchor.CborSerializable;
import java.util.List;

/**
 * How a verified task's replicas went (part of GET /api/tasks/{id}).
 *
 * @param reason why the task is verified: "requested", or why adaptive/spot-check replication chose
 *     to
 * @param agreedHash the outcome key the quorum agreed on, null until decided (or never, if
 *     unverifiable)
 * @param agreeing nodes whose result agreed with the quorum
 * @param disagreeing nodes whose result did not (recorded as faulty for this task)
 */
public record VerificationView(
    int replicas,
    int quorum,
    int maxReplicas,
    String policy,
    String reason,
    String agreedHash,
    List<String> agreeing,
    List<String> disagreeing,
    List<ReplicaView> runs)
    implements CborSerializable {

  public record ReplicaView(
      int job,
      String nodeId,
      String status,
      String resultHash,
      Long durationMs,
      String error,
      boolean late)
      implements CborSerializable {}
}
