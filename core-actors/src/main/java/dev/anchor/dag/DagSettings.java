package dev.anchor.dag;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * Limits and timing of DAGs.
 *
 * @param maxSteps an operator's cap on steps per DAG ({@code anchor.dag.max-steps}; its old name
 *     {@code max-nodes} still works)
 * @param pollInterval how often a running DAG asks its running steps' tasks for their state, in
 *     case a completion forward was lost in a crash ({@code anchor.dag.poll-interval})
 * @param effectTimeout an unanswered {@link DagEffects} call counts as failed after this long
 */
public record DagSettings(int maxSteps, Duration pollInterval, Duration effectTimeout) {
  public static final String CONFIG_PATH = "anchor.dag";

  public static DagSettings defaults() {
    return new DagSettings(10_000, Duration.ofSeconds(10), Duration.ofSeconds(15));
  }

  /** Any key that is absent keeps its default. */
  public static DagSettings fromConfig(Config root) {
    DagSettings d = defaults();
    if (!root.hasPath(CONFIG_PATH)) return d;
    Config c = root.getConfig(CONFIG_PATH);
    return new DagSettings(
        c.hasPath("max-steps")
            ? c.getInt("max-steps")
            : c.hasPath("max-nodes") ? c.getInt("max-nodes") : d.maxSteps(),
        c.hasPath("poll-interval") ? c.getDuration("poll-interval") : d.pollInterval(),
        c.hasPath("effect-timeout") ? c.getDuration("effect-timeout") : d.effectTimeout());
  }
}
