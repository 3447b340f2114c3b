package dev.anchor.task;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * Timing of a {@link TaskEntity}.
 *
 * @param dispatchRetryInterval how long a task waits before asking for a node again when none could
 *     take it, or when dispatching failed
 * @param livenessCheckInterval how often the node running an attempt is checked to still be a
 *     cluster member
 * @param effectTimeout an unanswered {@link TaskEffects} call counts as failed after this long, so
 *     an entity never waits forever
 * @param resultGrace a running attempt of a task with a {@code timeoutMs} that has reported nothing
 *     this long after its timeout is failed as lost (the worker enforces the timeout itself; this
 *     catches a worker that went silent while its node stays up)
 */
public record TaskSettings(
    Duration dispatchRetryInterval,
    Duration livenessCheckInterval,
    Duration effectTimeout,
    Duration resultGrace) {

  public static final String CONFIG_PATH = "anchor.task";

  public static TaskSettings defaults() {
    return new TaskSettings(
        Duration.ofSeconds(2),
        Duration.ofSeconds(10),
        Duration.ofSeconds(10),
        Duration.ofSeconds(60));
  }

  /**
   * Reads {@code anchor.task.dispatch-retry-interval}, {@code anchor.task.liveness-check-interval},
   * {@code anchor.task.effect-timeout} and {@code anchor.task.result-grace}; any key that is absent
   * keeps its default.
   */
  public static TaskSettings fromConfig(Config root) {
    TaskSettings d = defaults();
    if (!root.hasPath(CONFIG_PATH)) return d;
    Config c = root.getConfig(CONFIG_PATH);
    return new TaskSettings(
        c.hasPath("dispatch-retry-interval")
            ? c.getDuration("dispatch-retry-interval")
            : d.dispatchRetryInterval(),
        c.hasPath("liveness-check-interval")
            ? c.getDuration("liveness-check-interval")
            : d.livenessCheckInterval(),
        c.hasPath("effect-timeout") ? c.getDuration("effect-timeout") : d.effectTimeout(),
        c.hasPath("result-grace") ? c.getDuration("result-grace") : d.resultGrace());
  }
}
