package dev.anchor.dag;

import dev.anchor.CborSerializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What a user scheduled, immutable once journaled in {@link DagEntity.Scheduled}.
 *
 * @param inputJson JSON text root nodes see as {@code input}, or null
 * @param maxParallel at most this many nodes in flight at once; 0 means no cap
 */
public record DagSpec(
    String name,
    List<DagNodeSpec> nodes,
    String inputJson,
    FailurePolicy failurePolicy,
    int maxParallel)
    implements CborSerializable {

  public DagSpec {
    nodes = nodes == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(nodes));
    failurePolicy = failurePolicy == null ? FailurePolicy.FAIL_FAST : failurePolicy;
    maxParallel = Math.max(0, maxParallel);
  }

  public enum FailurePolicy {
    /**
     * A failed node stops the DAG: nodes that have not started are skipped; running ones finish.
     */
    FAIL_FAST,
    /** Every branch that does not depend on a failed node runs to its end. */
    CONTINUE
  }
}
