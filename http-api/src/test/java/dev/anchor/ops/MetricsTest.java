package dev.anchor.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anchor.metrics.AnchorMetrics;
import dev.anchor.task.TaskChange;
import dev.anchor.task.TaskView;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * /metrics as Prometheus reads it: the exposition parsed by a real text-format parser, Anchor's
 * series in it.
 */
class MetricsTest {
  private static TaskView view(String runtime, Long submittedAt, Long durationMs) {
    return new TaskView(
        "t",
        "n",
        "script",
        "Running",
        null,
        null,
        null,
        null,
        1,
        "n1",
        submittedAt,
        null,
        durationMs,
        null,
        null,
        0,
        runtime,
        List.of());
  }

  private static double value(Map<String, Object> m, String key) {
    Object v = m.get(key);
    if (!(v instanceof Double d)) throw new AssertionError("no sample " + key);
    return d;
  }

  @Test
  void anchorsSeriesParseAsPrometheusText() throws Exception {
    PrometheusText.assumeParser();
    Map<String, Object> before =
        PrometheusText.parse(new String(Metrics.scrape(), StandardCharsets.UTF_8));
    long now = System.currentTimeMillis();
    AnchorMetrics.taskChanged(view("js", now - 1500, null), TaskChange.SUBMITTED);
    AnchorMetrics.taskChanged(view("js", now - 1500, null), TaskChange.STARTED);
    AnchorMetrics.taskChanged(view("js", now - 1500, 200L), TaskChange.COMPLETED);
    AnchorMetrics.taskChanged(view("wasm", now, 50L), TaskChange.FAILED);
    AnchorMetrics.taskChanged(view("wasm", now, null), TaskChange.DISPATCHED); // not counted
    AnchorMetrics.journalBatch(12, 3_000_000);
    AnchorMetrics.sandboxOutcome("js", "success");
    AnchorMetrics.sandboxOutcome("js", "TIMEOUT");
    AnchorMetrics.verdict(true);
    AnchorMetrics.verdict(false);
    AnchorMetrics.verdict(false);
    Metrics.registerWorker("w1", () -> 3, 4);

    Map<String, Object> m =
        PrometheusText.parse(new String(Metrics.scrape(), StandardCharsets.UTF_8));
    double base =
        before.get("anchor_tasks_submitted_total{runtime=\"js\"}") instanceof Double d ? d : 0;
    assertEquals(base + 1, value(m, "anchor_tasks_submitted_total{runtime=\"js\"}"));
    assertEquals("counter", m.get("#TYPE anchor_tasks_submitted"));
    assertTrue(value(m, "anchor_tasks_completed_total{runtime=\"js\"}") >= 1);
    assertTrue(value(m, "anchor_tasks_failed_total{runtime=\"wasm\"}") >= 1);
    assertEquals("histogram", m.get("#TYPE anchor_task_queue_seconds"));
    // 1.5 s from submission to start: above the 1 s bucket, within 2.5 s
    assertTrue(
        value(m, "anchor_task_queue_seconds_bucket{le=\"2.5\",runtime=\"js\"}")
            > value(m, "anchor_task_queue_seconds_bucket{le=\"1.0\",runtime=\"js\"}"));
    assertTrue(value(m, "anchor_task_run_seconds_count{runtime=\"js\"}") >= 1);
    assertTrue(value(m, "anchor_journal_batch_events_sum") >= 12);
    assertTrue(value(m, "anchor_journal_write_seconds_count") >= 1);
    assertTrue(value(m, "anchor_sandbox_outcomes_total{outcome=\"TIMEOUT\",runtime=\"js\"}") >= 1);
    assertTrue(value(m, "anchor_verification_verdicts_total{verdict=\"disagreed\"}") >= 2);
    assertEquals(3.0, value(m, "anchor_worker_running_jobs{node=\"w1\"}"));
    assertEquals(4.0, value(m, "anchor_worker_capacity{node=\"w1\"}"));
    // the JVM's own, from the client's JVM instrumentation
    assertTrue(m.keySet().stream().anyMatch(k -> k.startsWith("jvm_memory_used_bytes")));
    assertTrue(m.keySet().stream().anyMatch(k -> k.startsWith("jvm_gc_collection_seconds")));
  }
}
