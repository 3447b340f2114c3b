package dev.anchor.metrics;

import dev.anchor.task.TaskChange;
import dev.anchor.task.TaskView;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Anchor's own Prometheus metrics, in the client library's default registry (served at /metrics).
 * Only counters and histograms are touched on hot paths, through data points cached per label
 * value, so a task change costs an atomic add and no allocation; gauges (queue depths, nodes, task
 * states) are read from their sources when scraped. Counters count what this JVM saw: a coordinator
 * counts the task changes of the entities it hosts (Prometheus sums the coordinators), a worker the
 * jobs it ran.
 */
public final class AnchorMetrics {
  private AnchorMetrics() {}

  private static final double[] LATENCY_BOUNDS = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600
  };

  static final Counter SUBMITTED =
      counter("anchor_tasks_submitted", "Tasks accepted (journaled), by runtime", "runtime");
  static final Counter COMPLETED =
      counter("anchor_tasks_completed", "Tasks that completed, by runtime", "runtime");
  static final Counter FAILED =
      counter("anchor_tasks_failed", "Tasks that failed for good, by runtime", "runtime");
  static final Counter CANCELLED =
      counter("anchor_tasks_cancelled", "Tasks cancelled, by runtime", "runtime");
  static final Histogram QUEUE_SECONDS =
      histogram(
          "anchor_task_queue_seconds",
          "From a task's submission to the start of its first attempt, by runtime",
          LATENCY_BOUNDS,
          "runtime");
  static final Histogram RUN_SECONDS =
      histogram(
          "anchor_task_run_seconds",
          "From the start of a task's last attempt to its end (completed or failed), by runtime",
          LATENCY_BOUNDS,
          "runtime");
  static final Histogram JOURNAL_BATCH =
      histogram(
          "anchor_journal_batch_events",
          "Events per journal write batch (one insertMany)",
          new double[] {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000},
          new String[0]);
  static final Histogram JOURNAL_SECONDS =
      histogram(
          "anchor_journal_write_seconds",
          "Time of one journal write batch (insertMany)",
          new double[] {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
          new String[0]);
  static final Counter SANDBOX =
      counter(
          "anchor_sandbox_outcomes",
          "Jobs run by this worker's sandbox, by runtime and outcome (success, or the failure kind)",
          "runtime",
          "outcome");
  static final Counter VERDICTS =
      counter(
          "anchor_verification_verdicts",
          "Replica verdicts recorded against nodes: agreed or disagreed with the quorum",
          "verdict");

  private static final Map<String, CounterDataPoint> submitted = new ConcurrentHashMap<>();
  private static final Map<String, CounterDataPoint> completed = new ConcurrentHashMap<>();
  private static final Map<String, CounterDataPoint> failed = new ConcurrentHashMap<>();
  private static final Map<String, CounterDataPoint> cancelled = new ConcurrentHashMap<>();
  private static final Map<String, DistributionDataPoint> queued = new ConcurrentHashMap<>();
  private static final Map<String, DistributionDataPoint> ran = new ConcurrentHashMap<>();
  private static final Map<String, Map<String, CounterDataPoint>> sandbox =
      new ConcurrentHashMap<>();
  private static final CounterDataPoint AGREED = VERDICTS.labelValues("agreed");
  private static final CounterDataPoint DISAGREED = VERDICTS.labelValues("disagreed");

  private static Counter counter(String name, String help, String... labels) {
    return Counter.builder().name(name).help(help).labelNames(labels).withoutExemplars().register();
  }

  private static Histogram histogram(String name, String help, double[] bounds, String... labels) {
    return Histogram.builder()
        .name(name)
        .help(help)
        .labelNames(labels)
        .classicOnly()
        .classicUpperBounds(bounds)
        .withoutExemplars()
        .register();
  }

  private static <P> P point(Map<String, P> cache, String runtime, Function<String, P> make) {
    String key = runtime == null ? "unknown" : runtime;
    P p = cache.get(key);
    return p != null ? p : cache.computeIfAbsent(key, make);
  }

  /** A task changed (called for every change by the coordinator that hosts it). */
  public static void taskChanged(TaskView v, TaskChange change) {
    switch (change) {
      case SUBMITTED -> point(submitted, v.runtime(), SUBMITTED::labelValues).inc();
      case STARTED -> {
        if (v.attempts() <= 1 && v.submittedAt() != null) {
          point(queued, v.runtime(), QUEUE_SECONDS::labelValues)
              .observe(Math.max(0, System.currentTimeMillis() - v.submittedAt()) / 1000.0);
        }
      }
      case COMPLETED -> {
        point(completed, v.runtime(), COMPLETED::labelValues).inc();
        if (v.durationMs() != null)
          point(ran, v.runtime(), RUN_SECONDS::labelValues).observe(v.durationMs() / 1000.0);
      }
      case FAILED -> {
        point(failed, v.runtime(), FAILED::labelValues).inc();
        if (v.durationMs() != null)
          point(ran, v.runtime(), RUN_SECONDS::labelValues).observe(v.durationMs() / 1000.0);
      }
      case CANCELLED -> point(cancelled, v.runtime(), CANCELLED::labelValues).inc();
      default -> {}
    }
  }

  /** One journal write batch of {@code events} events took {@code nanos}. */
  public static void journalBatch(int events, long nanos) {
    JOURNAL_BATCH.observe(events);
    JOURNAL_SECONDS.observe(nanos / 1e9);
  }

  /** A job ran in this worker's sandbox: {@code outcome} is "success" or the failure kind. */
  public static void sandboxOutcome(String runtime, String outcome) {
    String r = runtime == null ? "unknown" : runtime;
    Map<String, CounterDataPoint> byOutcome = sandbox.get(r);
    if (byOutcome == null) byOutcome = sandbox.computeIfAbsent(r, x -> new ConcurrentHashMap<>());
    CounterDataPoint p = byOutcome.get(outcome);
    if (p == null) p = byOutcome.computeIfAbsent(outcome, o -> SANDBOX.labelValues(r, o));
    p.inc();
  }

  public static void verdict(boolean agreed) {
    (agreed ? AGREED : DISAGREED).inc();
  }
}
