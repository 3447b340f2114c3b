package dev.anchor.worker;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import dev.anchor.node.NodeStatus;
import dev.anchor.queue.JobQueue;
import dev.anchor.runtime.Sandbox;
import dev.anchor.scheduling.CancelJob;
import dev.anchor.scheduling.NodeHeartbeat;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.pubsub.Topic;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker side of a node, for the code that boots it: starts the {@link WorkerAgent} actor
 * (which tells the coordinators what the node is and how loaded it is, takes jobs from its own
 * streams, runs them in the sandbox, and acknowledges a job only after its task entity has recorded
 * the result) and turns the boot code's calls into its messages.
 */
public final class NodeAgent implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(NodeAgent.class);

  /** Threads of the blocking dispatcher beyond one per slot: the reader, the probes, a cancel. */
  static final int BLOCKING_THREADS_BEYOND_CAPACITY = 3;

  private final String nodeId;
  private final ActorRef<WorkerAgent.Command> agent;
  private final Seen seen;

  /**
   * What the agent publishes for the threads outside the actor system: its running jobs (for the
   * metrics scraper) and that it has stopped (for {@link #close()}).
   */
  private static final class Seen implements WorkerAgent.Observer {
    private volatile int running;
    private final CompletableFuture<Done> stopped = new CompletableFuture<>();

    @Override
    public void running(int jobs) {
      running = jobs;
    }

    @Override
    public void stopped() {
      stopped.complete(Done.getInstance());
    }
  }

  private NodeAgent(String nodeId, ActorRef<WorkerAgent.Command> agent, Seen seen) {
    this.nodeId = nodeId;
    this.agent = agent;
    this.seen = seen;
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
    GpuProbe gpuProbe = GpuProbe.open();
    WorkerAgent.Setup setup =
        new WorkerAgent.Setup(
            nodeId,
            system.address().toString(),
            capacity,
            defaultTimeoutMs,
            memoryMb,
            gpuProbe,
            capture,
            Duration.ofSeconds(1));
    NodeAgent agent = start(system, setup, queue, sandbox, Coordinators.of(system, heartbeats));
    GpuProbe.Gpu gpu = gpuProbe.gpu();
    log.info(
        "worker node {} up: {} slots, runtimes {}, gpu {}, screen capture {}",
        nodeId,
        capacity,
        sandbox.available().stream().map(k -> k.name().toLowerCase(Locale.ROOT)).sorted().toList(),
        gpu.present() ? gpu.model() : "none",
        capture == null
            ? "not reported"
            : capture.available()
                ? "on display " + capture.display()
                : "none (" + capture.reason() + ")");
    return agent;
  }

  /** Starts the agent actor with the given coordinators (the tests' stand-in, or the cluster's). */
  static NodeAgent start(
      ActorSystem<?> system,
      WorkerAgent.Setup setup,
      JobQueue queue,
      Sandbox sandbox,
      Coordinators coordinators) {
    Seen seen = new Seen();
    ActorRef<WorkerAgent.Command> ref =
        system.systemActorOf(
            WorkerAgent.create(setup, queue, sandbox, coordinators, seen),
            "node-agent-" + actorName(setup.nodeId()),
            Props.empty());
    return new NodeAgent(setup.nodeId(), ref, seen);
  }

  private static String actorName(String nodeId) {
    return java.net.URLEncoder.encode(nodeId, java.nio.charset.StandardCharsets.UTF_8);
  }

  /**
   * The system's configuration with the blocking dispatcher sized to {@code anchor.worker.capacity}
   * plus {@value #BLOCKING_THREADS_BEYOND_CAPACITY}: one thread per slot for the sandbox runs, the
   * rest for the reader's blocking reads and the probes, so a running job never waits for a thread.
   */
  public static Config withBlockingDispatcherSized(Config config) {
    int capacity = Math.max(1, config.getInt("anchor.worker.capacity"));
    return config.withValue(
        WorkerAgent.BLOCKING_DISPATCHER + ".thread-pool-executor.fixed-pool-size",
        ConfigValueFactory.fromAnyRef(capacity + BLOCKING_THREADS_BEYOND_CAPACITY));
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

  /** Called for every cancel broadcast; stops the attempt if it runs here. */
  public void onCancel(CancelJob c) {
    agent.tell(new WorkerAgent.Cancel(c));
  }

  /** Takes no new jobs from now on; running ones finish. */
  public void drain() {
    agent.tell(new WorkerAgent.Drain());
  }

  /**
   * Chaos option (see {@link ResultFault}); logged loudly because such a node reports wrong results
   * on purpose.
   */
  public void injectFault(ResultFault f) {
    agent.tell(new WorkerAgent.InjectFault(f));
  }

  /** Every node's published status; the one about this node pauses or resumes reading jobs. */
  public void onStatus(NodeStatus st) {
    agent.tell(new WorkerAgent.StatusChanged(st));
  }

  /** The agent actor (for tests that watch it stop). */
  ActorRef<WorkerAgent.Command> ref() {
    return agent;
  }

  public int runningJobs() {
    return seen.running;
  }

  /**
   * Stops taking jobs, lets running ones finish and be recorded for up to 30 s, then stops;
   * unfinished ones stay pending for another node. Blocks until the agent has stopped.
   */
  @Override
  public void close() {
    if (!seen.stopped.isDone()) agent.tell(new WorkerAgent.Shutdown());
    awaitStopped();
  }

  /**
   * Stops at once, without waiting for running jobs: this node was downed, its jobs were re-run
   * elsewhere and the results it would still report are refused by their tasks.
   */
  public void abandon() {
    if (!seen.stopped.isDone()) agent.tell(new WorkerAgent.Abandon());
    awaitStopped();
  }

  private void awaitStopped() {
    try {
      seen.stopped.get(WorkerAgent.DRAIN_GRACE.plusSeconds(5).toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      log.warn("node agent {} did not stop in time: {}", nodeId, e.toString());
    }
  }
}
