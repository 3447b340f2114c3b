package dev.anchor.ops;

import static org.apache.pekko.http.javadsl.server.Directives.*;

import dev.anchor.feed.StatusCounts;
import dev.anchor.queue.JobQueue;
import dev.anchor.scheduling.NodeHeartbeat;
import dev.anchor.scheduling.NodeRegistry;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntSupplier;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.server.Route;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * GET /metrics in the Prometheus text format (0.0.4), from the Prometheus Java client's default
 * registry: Anchor's counters and histograms ({@link dev.anchor.metrics.AnchorMetrics}), the JVM's
 * (memory, GC, threads, …) and gauges read when scraped: on a coordinator the job streams' depths,
 * the nodes' running jobs, capacity and reputation and the task/DAG state counts; on a worker its
 * own running jobs and capacity. Served on the API port of coordinators (role read) and on every
 * JVM's management port ({@link MetricsRouteProvider}).
 */
public final class Metrics {
  private static final Logger log = LoggerFactory.getLogger(Metrics.class);
  private static final AtomicBoolean JVM = new AtomicBoolean();
  private static final AtomicBoolean COORDINATOR = new AtomicBoolean();
  private static final AtomicBoolean WORKER = new AtomicBoolean();
  private static final AtomicBoolean ADMISSION_REGISTERED = new AtomicBoolean();
  private static final java.util.concurrent.atomic.AtomicReference<dev.anchor.http.Admission>
      ADMISSION = new java.util.concurrent.atomic.AtomicReference<>();
  private static final PrometheusTextFormatWriter WRITER = PrometheusTextFormatWriter.create();
  static final ContentType TEXT = ContentTypes.parse(PrometheusTextFormatWriter.CONTENT_TYPE);

  private Metrics() {}

  /** The JVM's metrics, once per JVM. */
  public static void registerJvm() {
    if (JVM.compareAndSet(false, true)) JvmMetrics.builder().register();
  }

  /**
   * A coordinator's gauges, read from its job queue, node registry and state counters at each
   * scrape.
   */
  public static void registerCoordinator(
      JobQueue queue, NodeRegistry registry, StatusCounts counts) {
    registerJvm();
    if (!COORDINATOR.compareAndSet(false, true)) return;
    GaugeWithCallback.builder()
        .name("anchor_queue_jobs")
        .help(
            "Jobs on each node's stream per priority band: waiting (not read yet) or active (read, not acknowledged)")
        .labelNames("node", "band", "state")
        .callback(
            cb -> {
              try {
                for (JobQueue.Depth d : queue.depths()) {
                  cb.call(d.waiting(), d.nodeId(), d.band(), "waiting");
                  cb.call(d.active(), d.nodeId(), d.band(), "active");
                }
              } catch (RuntimeException e) {
                log.debug("queue depths not read: {}", e.toString());
              }
            })
        .register();
    GaugeWithCallback.builder()
        .name("anchor_node_running_jobs")
        .help("Jobs running on each node at its last heartbeat")
        .labelNames("node")
        .callback(
            cb -> {
              for (NodeHeartbeat hb : registry.all()) cb.call(hb.runningTasks(), hb.nodeId());
            })
        .register();
    GaugeWithCallback.builder()
        .name("anchor_node_capacity")
        .help("Jobs each node runs at once")
        .labelNames("node")
        .callback(
            cb -> {
              for (NodeHeartbeat hb : registry.all()) cb.call(hb.capacity(), hb.nodeId());
            })
        .register();
    GaugeWithCallback.builder()
        .name("anchor_node_up")
        .help("1 while a node is alive (heard from, a member), else 0")
        .labelNames("node")
        .callback(
            cb -> {
              for (NodeHeartbeat hb : registry.all())
                cb.call(registry.isAlive(hb.nodeId()) ? 1 : 0, hb.nodeId());
            })
        .register();
    GaugeWithCallback.builder()
        .name("anchor_node_reputation")
        .help("Each node's reputation, 0 to 1 (new nodes 0.5)")
        .labelNames("node")
        .callback(
            cb -> {
              for (NodeHeartbeat hb : registry.all()) {
                registry.status(hb.nodeId()).ifPresent(s -> cb.call(s.reputation(), hb.nodeId()));
              }
            })
        .register();
    if (counts != null) {
      GaugeWithCallback.builder()
          .name("anchor_tasks")
          .help(
              "Tasks in each state across the cluster (as /api/queue/stats counts them): kind task or consensus")
          .labelNames("kind", "state")
          .callback(
              cb -> {
                try {
                  for (Map.Entry<String, Long> e : counts.read().entrySet()) {
                    String k = e.getKey();
                    int i = k.indexOf(':');
                    if (i < 0 || k.startsWith("node:")) continue;
                    String kind = k.substring(0, i);
                    if (kind.equals("task") || kind.equals("consensus"))
                      cb.call(Math.max(0, e.getValue()), kind, k.substring(i + 1));
                  }
                } catch (RuntimeException e) {
                  log.debug("state counts not read: {}", e.toString());
                }
              })
          .register();
      GaugeWithCallback.builder()
          .name("anchor_dags")
          .help("DAGs in each state across the cluster")
          .labelNames("state")
          .callback(
              cb -> {
                try {
                  for (Map.Entry<String, Long> e : counts.read().entrySet()) {
                    if (e.getKey().startsWith("dag:"))
                      cb.call(Math.max(0, e.getValue()), e.getKey().substring(4));
                  }
                } catch (RuntimeException e) {
                  log.debug("DAG counts not read: {}", e.toString());
                }
              })
          .register();
    }
  }

  /** A worker's own gauges: jobs running now and its capacity. */
  private static final java.util.concurrent.atomic.AtomicReference<IntSupplier> WORKER_RUNNING =
      new java.util.concurrent.atomic.AtomicReference<>(() -> 0);

  public static void registerWorker(String nodeId, IntSupplier running, int capacity) {
    registerJvm();
    // a worker that restarts its actor system (it was downed) registers its new agent: the gauge
    // reads the latest
    WORKER_RUNNING.set(running);
    if (!WORKER.compareAndSet(false, true)) return;
    GaugeWithCallback.builder()
        .name("anchor_worker_running_jobs")
        .help("Jobs this worker runs now")
        .labelNames("node")
        .callback(cb -> cb.call(WORKER_RUNNING.get().getAsInt(), nodeId))
        .register();
    GaugeWithCallback.builder()
        .name("anchor_worker_capacity")
        .help("Jobs this worker runs at once")
        .labelNames("node")
        .callback(cb -> cb.call(capacity, nodeId))
        .register();
  }

  /**
   * The HTTP API's submit admission: tasks in flight, submits refused (503) since start. The latest
   * one counts.
   */
  public static void registerAdmission(dev.anchor.http.Admission admission) {
    ADMISSION.set(admission);
    if (!ADMISSION_REGISTERED.compareAndSet(false, true)) return;
    GaugeWithCallback.builder()
        .name("anchor_submits_in_flight")
        .help(
            "Tasks submitted to this node and not answered yet (bounded by anchor.admission.max-in-flight)")
        .callback(cb -> cb.call(ADMISSION.get().inFlight()))
        .register();
    io.prometheus.metrics.core.metrics.CounterWithCallback.builder()
        .name("anchor_submits_refused")
        .help("Submits this node answered 503 with Retry-After because it was at capacity")
        .callback(cb -> cb.call(ADMISSION.get().refused()))
        .register();
  }

  /** The registry rendered in the text format. Blocking (gauges read Redis). */
  public static byte[] scrape() {
    registerJvm();
    ByteArrayOutputStream out = new ByteArrayOutputStream(16 * 1024);
    try {
      WRITER.write(out, PrometheusRegistry.defaultRegistry.scrape());
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return out.toByteArray();
  }

  /** GET /metrics, rendered off the request thread. */
  public static Route route() {
    return path(
        "metrics",
        () ->
            get(
                () ->
                    completeWithFuture(
                        CompletableFuture.supplyAsync(
                            () ->
                                HttpResponse.create()
                                    .withEntity(HttpEntities.create(TEXT, scrape()))))));
  }
}
