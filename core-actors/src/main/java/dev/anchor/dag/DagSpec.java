package dev.anchor.dag;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.anchor.CborSerializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What a user scheduled, immutable once journaled in {@link DagEntity.Scheduled}.
 *
 * @param steps journaled under the property name {@code nodes}, as before a DAG's vertices were
 *     called steps, so old journals still read
 * @param inputJson JSON text root steps see as {@code input}, or null
 * @param maxParallel at most this many steps in flight at once; 0 means no cap
 */
public record DagSpec(
    String name,
    @JsonProperty("nodes") List<DagStep> steps,
    String inputJson,
    FailurePolicy failurePolicy,
    int maxParallel)
    implements CborSerializable {

  public DagSpec {
    steps = steps == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(steps));
    failurePolicy = failurePolicy == null ? FailurePolicy.FAIL_FAST : failurePolicy;
    maxParallel = Math.max(0, maxParallel);
  }

  public enum FailurePolicy {
    /**
     * A failed step stops the DAG: steps that have not started are skipped; running ones finish.
     */
    FAIL_FAST,
    /** Every branch that does not depend on a failed step runs to its end. */
    CONTINUE
  }
}
