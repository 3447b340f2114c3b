package dev.anchor.worker;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.node.NodeEntity;
import dev.anchor.node.NodeMetrics;
import dev.anchor.node.NodeSpecs;
import dev.anchor.node.NodeView;
import dev.anchor.queue.Delivery;
import dev.anchor.queue.JobQueue;
import dev.anchor.runtime.Outcome;
import dev.anchor.runtime.Sandbox;
import dev.anchor.scheduling.CancelJob;
import dev.anchor.scheduling.NodeHeartbeat;
import dev.anchor.task.TaskEntity;
import dev.anchor.task.TaskSpec;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.pubsub.Topic;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.pattern.StatusReply;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker side of a node: tells the coordinators what it is and how loaded it is, takes jobs
 * from its own streams, runs them in the sandbox, and acknowledges a job only after its task entity
 * has recorded the result, so a crash at any point leaves the job to be run again rather than lost.
 */
public final class NodeAgent implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(NodeAgent.class);
  private static final Duration REPORT_TIMEOUT = Duration.ofSeconds(10);
  private static final int MAX_UNRECORDED = 512;

  private final ActorSystem<?> system;
  private final String nodeId;
  private final JobQueue queue;
  private final Sandbox sandbox;
  private final int capacity;
  private final long defaultTimeoutMs;
  private final long memoryMb;
  private final ClusterSharding sharding;
  private final ActorRef<Topic.Command<NodeHeartbeat>> heartbeats;
  private final Semaphore slots;
  private final Semaphore unrecorded = new Semaphore(MAX_UNRECORDED);
  private final ExecutorService runners;
  private final ScheduledExecutorService ticker;
  private final Thread reader;
  private final AtomicBoolean draining = new AtomicBoolean();

  /** The node's entity says it takes no work (an operator drained it, or it is quarantined). */
  private final AtomicBoolean paused = new AtomicBoolean();

  private volatile boolean cordoned;

  private volatile ResultFault fault = ResultFault.NONE;
  private final AtomicBoolean stopped = new AtomicBoolean();
  private final AtomicBoolean registered = new AtomicBoolean();
  private final Map<String, Boolean> running = new ConcurrentHashMap<>();

  /** Stream entries (stream and id) taken by this node and not yet acknowledged or given up. */
  private final java.util.Set<String> held = ConcurrentHashMap.newKeySet();

  private final ObjectMapper json =
      new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
  private final GpuProbe gpuProbe = GpuProbe.open();
  private final GpuProbe.Gpu gpu = gpuProbe.gpu();
  private final ScreenService.Status capture;
  private volatile boolean hasDocker;
  private final long startedAt = System.currentTimeMillis();

  private NodeAgent(
      ActorSystem<?> system,
      String nodeId,
      JobQueue queue,
      Sandbox sandbox,
      int capacity,
      long defaultTimeoutMs,
      long memoryMb,
      ActorRef<Topic.Command<NodeHeartbeat>> heartbeats,
      ScreenService.Status capture) {
    this.system = system;
    this.capture = capture;
    this.nodeId = nodeId;
    this.queue = queue;
    this.sandbox = sandbox;
    this.capacity = capacity;
    this.defaultTimeoutMs = defaultTimeoutMs;
    this.memoryMb = memoryMb;
    this.sharding = ClusterSharding.get(system);
    this.heartbeats = heartbeats;
    this.slots = new Semaphore(capacity);
    this.runners = Executors.newFixedThreadPool(capacity, r -> daemon(r, "anchor-job-" + nodeId));
    this.ticker = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "anchor-heartbeat"));
    this.reader = new Thread(this::readLoop, "anchor-job-reader");
  }

  public static NodeAgent start(
      ActorSystem<?> system,
      String nodeId,
      JobQueue queue,
      Sandbox sandbox,
      int capacity,
      long defaultTimeoutMs,
      long memoryMb,
      ActorRef<Topic.Command<NodeHeartbeat>> heartbeats) {
    return start(
        system, nodeId, queue, sandbox, capacity, defaultTimeoutMs, memoryMb, heartbeats, null);
  }

  /**
   * @param capture whether this node's screen can be captured (null: not reported)
   */
  public static NodeAgent start(
      ActorSystem<?> system,
      String nodeId,
      JobQueue queue,
      Sandbox sandbox,
      int capacity,
      long defaultTimeoutMs,
      long memoryMb,
      ActorRef<Topic.Command<NodeHeartbeat>> heartbeats,
      ScreenService.Status capture) {
    NodeAgent agent =
        new NodeAgent(
            system,
            nodeId,
            queue,
            sandbox,
            capacity,
            defaultTimeoutMs,
            memoryMb,
            heartbeats,
            capture);
    agent.ticker.scheduleAtFixedRate(agent::heartbeat, 0, 2, TimeUnit.SECONDS);
    // at most a second per probe, on its own thread so a slow daemon never delays a heartbeat
    Thread.ofVirtual()
        .name("anchor-docker-probe")
        .start(
            () -> {
              while (!agent.stopped.get()) {
                agent.hasDocker = DockerProbe.probe(System.getenv());
                try {
                  Thread.sleep(30_000);
                } catch (InterruptedException e) {
                  return;
                }
              }
            });
    agent.reader.start();
    log.info(
        "worker node {} up: {} slots, runtimes {}, gpu {}, screen capture {}",
        nodeId,
        capacity,
        agent.runtimes(),
        agent.gpu.present() ? agent.gpu.model() : "none",
        capture == null
            ? "not reported"
            : capture.available()
                ? "on display " + capture.display()
                : "none (" + capture.reason() + ")");
    return agent;
  }

  /**
   * A name that is stable across restarts of the same worker: ANCHOR_NODE_NAME, else host and
   * cluster port.
   */
  public static String defaultNodeId(String configured, int clusterPort) {
    if (configured != null && !configured.isBlank()) return configured.trim();
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (Exception e) {
      host = "node";
    }
    return host.toLowerCase(Locale.ROOT) + "-" + clusterPort;
  }

  public String nodeId() {
    return nodeId;
  }

  List<String> runtimes() {
    return sandbox.available().stream()
        .map(k -> k.name().toLowerCase(Locale.ROOT))
        .sorted()
        .toList();
  }

  /** Called for every cancel broadcast; stops the attempt if it runs here. */
  public void onCancel(CancelJob c) {
    if (!nodeId.equals(c.nodeId())) return;
    String id = WorkerJobs.jobId(c.taskId(), c.attempt());
    if (running.containsKey(id)) {
      log.info("cancelling {} on request", id);
      sandbox.cancel(id);
    }
  }

  public void drain() {
    draining.set(true);
  }

  /**
   * Chaos option (see {@link ResultFault}); logged loudly because such a node reports wrong results
   * on purpose.
   */
  public void injectFault(ResultFault f) {
    this.fault = f;
    if (f.active()) {
      log.warn(
          "FAULT INJECTION: node {} corrupts {} % of its results (ANCHOR_FAULT)",
          nodeId, Math.round(f.fraction() * 100));
    }
  }

  /** Every node's published status; the one about this node pauses or resumes reading jobs. */
  public void onStatus(dev.anchor.node.NodeStatus st) {
    if (!nodeId.equals(st.nodeId())) return;
    // a cordoned node takes what the coordinator gives it but pulls nothing from the pools
    cordoned = st.cordoned();
    boolean pause = !st.takesWork();
    if (paused.getAndSet(pause) != pause) {
      log.info(
          pause
              ? "node {} takes no new jobs ({}{}); running ones finish"
              : "node {} takes jobs again",
          nodeId,
          st.status(),
          st.quarantined() ? ", quarantined" : "");
    }
  }

  /** Whether this node may run the jobs parked in a pool: it offers what they require. */
  private boolean fits(JobQueue.Pool pool) {
    long ramMb =
        ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getTotalMemorySize()
            / (1024 * 1024);
    return pool.fits(runtimes(), gpu.present(), ramMb);
  }

  public int runningJobs() {
    return running.size();
  }

  NodeHeartbeat snapshot() {
    var os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    long total = os.getTotalMemorySize();
    double cpu = Math.max(0, os.getCpuLoad()) * 100.0;
    double ram = total == 0 ? 0 : (total - os.getFreeMemorySize()) * 100.0 / total;
    GpuProbe.Usage usage = gpu.present() ? gpuProbe.usage() : null;
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (Exception e) {
      host = "unknown";
    }
    return new NodeHeartbeat(
        nodeId,
        system.address().toString(),
        host,
        Runtime.getRuntime().availableProcessors(),
        total / (1024 * 1024),
        gpu.present(),
        gpu.model(),
        runtimes(),
        round(cpu),
        round(ram),
        (System.currentTimeMillis() - startedAt) / 1000,
        running.size(),
        capacity,
        draining.get(),
        System.currentTimeMillis(),
        gpu.memoryMb(),
        usage == null ? null : usage.utilization(),
        usage == null ? null : usage.memoryUsedMb(),
        capture == null ? null : capture.available(),
        capture == null || capture.available() ? null : capture.reason(),
        hasDocker);
  }

  private static double round(double v) {
    return Math.round(v * 10) / 10.0;
  }

  private void heartbeat() {
    try {
      NodeHeartbeat hb = snapshot();
      heartbeats.tell(Topic.publish(hb));
      var entity = sharding.entityRefFor(NodeEntity.TYPE_KEY, nodeId);
      if (!registered.get()) {
        NodeSpecs specs =
            new NodeSpecs(
                hb.cpuCores(),
                hb.ramMb(),
                hb.gpu(),
                hb.gpuModel(),
                hb.runtimes(),
                hb.host(),
                hb.gpuMemoryMb(),
                hb.capture(),
                hb.captureReason());
        entity
            .<NodeView>askWithStatus(
                replyTo -> new NodeEntity.Register(specs, replyTo), Duration.ofSeconds(5))
            .whenComplete(
                (v, t) -> {
                  if (t == null) registered.set(true);
                  else log.debug("node registration not answered yet: {}", t.toString());
                });
      } else {
        entity.tell(
            new NodeEntity.Heartbeat(
                new NodeMetrics(
                    hb.cpuUsage(),
                    hb.ramUsage(),
                    hb.uptimeS(),
                    hb.runningTasks(),
                    hb.gpuUtilization(),
                    hb.gpuMemoryUsedMb()),
                null));
      }
    } catch (RuntimeException e) {
      log.warn("heartbeat failed: {}", e.toString());
    }
  }

  private void readLoop() {
    JobQueue.Reader r = null;
    try {
      while (!stopped.get()) {
        if (r == null) {
          // a new reader makes the node's groups again: Redis may have restarted without them, or
          // the streams were
          // taken over while this node was away
          try {
            r = queue.reader(nodeId, this::fits);
          } catch (RuntimeException e) {
            if (stopped.get()) return;
            log.warn("cannot read jobs from Redis, trying again in a second: {}", e.toString());
            sleepQuietly(1000);
            continue;
          }
        }
        if (draining.get() || paused.get()) {
          sleepQuietly(200);
          continue;
        }
        r.pullFromPools(!cordoned);
        try {
          slots.acquire();
        } catch (InterruptedException e) {
          return;
        }
        int free = 1 + slots.drainPermits();
        List<Delivery> batch;
        try {
          batch = r.next(free, Duration.ofSeconds(1));
        } catch (RuntimeException e) {
          slots.release(free);
          if (stopped.get()) return;
          log.warn("reading jobs failed, reconnecting: {}", e.toString());
          sleepQuietly(1000);
          closeQuietly(r);
          r = null;
          continue;
        }
        int taken = 0;
        for (Delivery d : batch) {
          // a reader made again re-reads this node's unacknowledged entries: one still running or
          // being recorded
          // here is not started a second time
          if (!held.add(heldKey(d))) continue;
          taken++;
          runners.execute(() -> runOne(d));
        }
        // the reader hands over at most what was asked for
        slots.release(free - taken);
      }
    } finally {
      if (r != null) closeQuietly(r);
    }
  }

  private static String heldKey(Delivery d) {
    return d.stream() + "/" + d.entryId();
  }

  private static void closeQuietly(JobQueue.Reader r) {
    try {
      r.close();
    } catch (RuntimeException ignored) {
      // its connection is gone anyway
    }
  }

  private void runOne(Delivery d) {
    String taskId = d.job().taskId();
    int attempt = d.job().attempt();
    String jobId = WorkerJobs.jobId(taskId, attempt);
    var task = sharding.entityRefFor(TaskEntity.TYPE_KEY, taskId);
    Outcome outcome;
    String runtime = null;
    running.put(jobId, Boolean.TRUE);
    try {
      TaskSpec spec = json.readValue(d.job().specJson(), TaskSpec.class);
      runtime = spec.runtime();
      task.tell(new TaskEntity.Started(attempt, nodeId));
      outcome =
          fault.apply(
              sandbox.run(WorkerJobs.toJob(taskId, attempt, spec, defaultTimeoutMs, memoryMb)),
              nodeId);
    } catch (Exception e) {
      outcome =
          new Outcome.Failure(
              dev.anchor.runtime.FailureKind.BAD_PAYLOAD,
              "cannot run job: " + e.getMessage(),
              null,
              "",
              0);
    } finally {
      running.remove(jobId);
    }
    dev.anchor.metrics.AnchorMetrics.sandboxOutcome(
        runtime, outcome instanceof Outcome.Failure f ? f.kind().name() : "success");
    // the execution slot is free as soon as the code ran; recording the result (a journal write)
    // must not hold it,
    // but the number of results waiting to be recorded is bounded so a stalled coordinator stops
    // this node reading
    try {
      unrecorded.acquire();
    } catch (InterruptedException e) {
      slots.release();
      return;
    }
    slots.release();
    record(task, outcome, attempt, jobId, d);
  }

  /**
   * Asks the task entity to record the outcome until it confirms; only then is the job acknowledged
   * in Redis.
   */
  private void record(
      org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef<TaskEntity.Command> task,
      Outcome outcome,
      int attempt,
      String jobId,
      Delivery d) {
    task.<Done>askWithStatus(replyTo -> report(outcome, attempt, replyTo), REPORT_TIMEOUT)
        .whenComplete(
            (ok, failure) -> {
              if (failure == null) {
                ackLater(d);
                unrecorded.release();
              } else if (stopped.get()) {
                // left pending in Redis: the job is handed to another node (or to this one after
                // its restart)
                held.remove(heldKey(d));
                unrecorded.release();
              } else {
                log.warn("recording result of {} failed, retrying: {}", jobId, failure.toString());
                try {
                  ticker.schedule(
                      () -> record(task, outcome, attempt, jobId, d), 500, TimeUnit.MILLISECONDS);
                } catch (java.util.concurrent.RejectedExecutionException stopping) {
                  held.remove(heldKey(d));
                  unrecorded.release();
                }
              }
            });
  }

  /**
   * The result is recorded: the entry can go. Redis may be away (restarting); the entry is
   * forgotten here either way, and one left behind is read again, run again and its result refused
   * as a duplicate, never recorded twice.
   */
  private void ackLater(Delivery d) {
    try {
      queue
          .ack(d)
          .whenComplete(
              (n, e) -> {
                held.remove(heldKey(d));
                if (e != null) log.debug("acknowledging {} failed: {}", d.entryId(), e.toString());
              });
    } catch (RuntimeException e) {
      held.remove(heldKey(d));
    }
  }

  private TaskEntity.Command report(Outcome o, int attempt, ActorRef<StatusReply<Done>> replyTo) {
    return switch (o) {
      case Outcome.Success s ->
          new TaskEntity.ReportResult(
              attempt,
              nodeId,
              true,
              s.resultJson(),
              null,
              null,
              false,
              s.logs(),
              s.durationMs(),
              replyTo);
      case Outcome.Failure f ->
          new TaskEntity.ReportResult(
              attempt,
              nodeId,
              false,
              null,
              f.message() + (f.line() != null ? " (line " + f.line() + ")" : ""),
              f.kind().name(),
              f.kind().retryableByDefault(),
              f.logs(),
              f.durationMs(),
              replyTo);
    };
  }

  /**
   * Stops taking jobs, lets running ones finish for up to {@code grace}; unfinished ones stay
   * pending for another node.
   */
  @Override
  public void close() {
    draining.set(true);
    long deadline = System.currentTimeMillis() + 30_000;
    while ((!running.isEmpty() || unrecorded.availablePermits() < MAX_UNRECORDED)
        && System.currentTimeMillis() < deadline) {
      sleepQuietly(100);
    }
    stopped.set(true);
    ticker.shutdownNow();
    runners.shutdownNow();
    reader.interrupt();
  }

  /**
   * Stops at once, without waiting for running jobs: this node was downed, its jobs were re-run
   * elsewhere and the results it would still report are refused by their tasks.
   */
  public void abandon() {
    draining.set(true);
    stopped.set(true);
    ticker.shutdownNow();
    runners.shutdownNow();
    reader.interrupt();
  }

  private static void sleepQuietly(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }
}
