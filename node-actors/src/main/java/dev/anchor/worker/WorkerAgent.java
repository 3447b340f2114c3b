package dev.anchor.worker;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.metrics.AnchorMetrics;
import dev.anchor.node.NodeMetrics;
import dev.anchor.node.NodeSpecs;
import dev.anchor.node.NodeStatus;
import dev.anchor.queue.Delivery;
import dev.anchor.queue.JobQueue;
import dev.anchor.runtime.FailureKind;
import dev.anchor.runtime.Outcome;
import dev.anchor.runtime.Sandbox;
import dev.anchor.scheduling.CancelJob;
import dev.anchor.scheduling.NodeHeartbeat;
import dev.anchor.task.TaskEntity;
import dev.anchor.task.TaskSpec;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.pattern.StatusReply;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker side of a node as an actor. Its capacity, the jobs it runs, the results it is still
 * recording, and whether it is paused, cordoned, draining or shutting down are this actor's state,
 * changed only by its messages. It asks its {@link JobReader} child for as many jobs as it has free
 * slots, runs each in the sandbox on the blocking dispatcher ({@link #BLOCKING_DISPATCHER}), and
 * acknowledges a job only after its task entity has recorded the result, so a crash at any point
 * leaves the job to be run again rather than lost.
 */
final class WorkerAgent extends AbstractBehavior<WorkerAgent.Command> {
  // the agent's logger, so operators' filters on it keep seeing the worker's whole story
  private static final Logger log = LoggerFactory.getLogger(NodeAgent.class);

  /**
   * Where everything that blocks runs: the sandbox runs (up to a task's deadline), the reader's
   * Redis reads, the machine probes. Sized to the capacity plus a few (see {@link
   * NodeAgent#withBlockingDispatcherSized}).
   */
  static final String BLOCKING_DISPATCHER = "anchor.worker.blocking-dispatcher";

  static final Duration HEARTBEAT_EVERY = Duration.ofSeconds(2);
  static final Duration DOCKER_PROBE_EVERY = Duration.ofSeconds(30);
  static final Duration RECORD_RETRY = Duration.ofMillis(500);
  static final Duration DRAIN_GRACE = Duration.ofSeconds(30);

  /**
   * Results finished and not yet recorded by their task entities: beyond this a finished job keeps
   * its slot, so a stalled coordinator stops this node reading.
   */
  static final int MAX_UNRECORDED = 512;

  sealed interface Command {}

  /** A cancel broadcast; stops the attempt if it runs here. */
  record Cancel(CancelJob cancel) implements Command {}

  /** Every node's published status; the one about this node pauses or resumes reading jobs. */
  record StatusChanged(NodeStatus status) implements Command {}

  /** Take no new jobs from now on; running ones finish. */
  record Drain() implements Command {}

  /** Chaos option (see {@link ResultFault}). */
  record InjectFault(ResultFault fault) implements Command {}

  /**
   * Stop taking jobs, let running ones finish and their results be recorded for up to {@link
   * #DRAIN_GRACE}, then stop; unfinished ones stay pending for another node.
   */
  record Shutdown() implements Command {}

  /**
   * Stop at once without waiting for running jobs: this node was downed, its jobs were re-run
   * elsewhere and the results it would still report are refused by their tasks.
   */
  record Abandon() implements Command {}

  /** What the agent lets the code outside the actor system see. */
  interface Observer {
    /** The number of jobs running now; called on the agent's thread. */
    void running(int jobs);

    /** The agent has stopped. */
    void stopped();
  }

  private enum Tick implements Command {
    HEARTBEAT,
    DOCKER_PROBE,
    DRAIN_DEADLINE
  }

  private record MachineRead(Machine machine) implements Command {}

  private record MachineUnread(Throwable failure) implements Command {}

  /**
   * @param present null when the probe itself failed: the last answer stands
   */
  private record DockerProbed(Boolean present) implements Command {}

  private record RegisterAnswered(Throwable failure) implements Command {}

  private record ReaderAnswered(JobReader.Result result) implements Command {}

  private record JobFinished(Job job, Ran ran) implements Command {}

  private record RecordAnswered(Finished finished, Throwable failure) implements Command {}

  private record RetryRecord(Finished finished) implements Command {}

  private record Acked(String key, Throwable failure) implements Command {}

  /** One delivered job; its key is the stream entry's (a task attempt may be delivered twice). */
  private record Job(String key, String jobId, Delivery delivery) {
    String taskId() {
      return delivery.job().taskId();
    }

    int attempt() {
      return delivery.job().attempt();
    }
  }

  private record Ran(Outcome outcome, String runtime) {}

  private record Finished(Job job, Outcome outcome) {}

  /** What a node is told at start and does not change while it runs. */
  record Setup(
      String nodeId,
      String address,
      int capacity,
      long defaultTimeoutMs,
      long memoryMb,
      GpuProbe gpuProbe,
      ScreenService.Status capture,
      Duration readerBackoff) {}

  static Behavior<Command> create(
      Setup setup, JobQueue queue, Sandbox sandbox, Coordinators coordinators, Observer observer) {
    // resume, not restart: a restarted agent would forget the jobs it is running and read them
    // again from its stream while they still run
    return Behaviors.supervise(
            Behaviors.<Command>setup(
                ctx ->
                    Behaviors.withTimers(
                        timers ->
                            new WorkerAgent(
                                ctx, timers, setup, queue, sandbox, coordinators, observer))))
        .onFailure(SupervisorStrategy.resume());
  }

  private final TimerScheduler<Command> timers;
  private final Setup setup;
  private final JobQueue queue;
  private final Sandbox sandbox;
  private final Coordinators coordinators;
  private final Observer observer;
  private final Executor blocking;
  private final ActorRef<JobReader.Command> reader;
  private final ActorRef<JobReader.Result> readerAnswers;
  private final GpuProbe.Gpu gpu;
  private final long startedAt = System.currentTimeMillis();
  private final ObjectMapper json =
      new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  private final Map<String, Job> running = new LinkedHashMap<>();

  /** Finished, holding their slot until fewer than MAX_UNRECORDED results are being recorded. */
  private final Queue<Finished> awaitingRecord = new ArrayDeque<>();

  private int recording;

  /** Stream entries taken by this node and not yet acknowledged or given up. */
  private final Set<String> held = new HashSet<>();

  private boolean reading;

  /** The node's entity says it takes no work (an operator drained it, or it is quarantined). */
  private boolean paused;

  /** Takes what the coordinator gives it but pulls nothing from the pools. */
  private boolean cordoned;

  private boolean draining;
  private boolean stopping;
  private boolean registered;
  private boolean hasDocker;
  private ResultFault fault = ResultFault.NONE;

  private WorkerAgent(
      ActorContext<Command> context,
      TimerScheduler<Command> timers,
      Setup setup,
      JobQueue queue,
      Sandbox sandbox,
      Coordinators coordinators,
      Observer observer) {
    super(context);
    this.timers = timers;
    this.setup = setup;
    this.queue = queue;
    this.sandbox = sandbox;
    this.coordinators = coordinators;
    this.observer = observer;
    this.gpu = setup.gpuProbe().gpu();
    DispatcherSelector blockingDispatcher = DispatcherSelector.fromConfig(BLOCKING_DISPATCHER);
    this.blocking = context.getSystem().dispatchers().lookup(blockingDispatcher);
    this.reader =
        context.spawn(
            JobReader.create(queue, setup.nodeId(), this::fits, setup.readerBackoff()),
            "reader",
            blockingDispatcher);
    this.readerAnswers = context.messageAdapter(JobReader.Result.class, ReaderAnswered::new);
    timers.startTimerAtFixedRate(Tick.HEARTBEAT, Tick.HEARTBEAT, Duration.ZERO, HEARTBEAT_EVERY);
    // at most a second per probe, off the agent's thread so a slow daemon never delays anything
    timers.startTimerAtFixedRate(
        Tick.DOCKER_PROBE, Tick.DOCKER_PROBE, Duration.ZERO, DOCKER_PROBE_EVERY);
    readIfFree();
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Cancel.class, this::onCancel)
        .onMessage(StatusChanged.class, this::onStatus)
        .onMessage(Drain.class, d -> drain())
        .onMessage(InjectFault.class, this::onFault)
        .onMessage(Shutdown.class, this::onShutdown)
        .onMessage(Abandon.class, a -> stop())
        .onMessageEquals(Tick.HEARTBEAT, this::readMachine)
        .onMessageEquals(Tick.DOCKER_PROBE, this::probeDocker)
        .onMessageEquals(Tick.DRAIN_DEADLINE, this::drainDeadline)
        .onMessage(MachineRead.class, m -> heartbeat(m.machine()))
        .onMessage(MachineUnread.class, this::onMachineUnread)
        .onMessage(DockerProbed.class, this::onDockerProbed)
        .onMessage(RegisterAnswered.class, this::onRegisterAnswered)
        .onMessage(ReaderAnswered.class, this::onReaderAnswered)
        .onMessage(JobFinished.class, this::onJobFinished)
        .onMessage(RecordAnswered.class, this::onRecordAnswered)
        .onMessage(RetryRecord.class, r -> record(r.finished()))
        .onMessage(Acked.class, this::onAcked)
        .onSignal(PostStop.class, s -> stopped())
        .build();
  }

  // --- reading jobs ---

  private int freeSlots() {
    return setup.capacity() - running.size() - awaitingRecord.size();
  }

  /** One read at a time, for as many jobs as there are free slots, unless no jobs are taken. */
  private void readIfFree() {
    if (reading || draining || paused) return;
    int free = freeSlots();
    if (free <= 0) return;
    reading = true;
    reader.tell(new JobReader.Read(free, !cordoned, readerAnswers));
  }

  private Behavior<Command> onReaderAnswered(ReaderAnswered answer) {
    reading = false;
    if (answer.result() instanceof JobReader.Delivered d) {
      for (Delivery delivery : d.jobs()) {
        // a reader made again re-reads this node's unacknowledged entries: one still running or
        // being recorded here is not started a second time
        if (held.add(heldKey(delivery))) start(delivery);
      }
    }
    // after a failure the next read waits in the restarting reader's stash for its back-off
    return next();
  }

  private static String heldKey(Delivery d) {
    return d.stream() + "/" + d.entryId();
  }

  /** Whether this node may run the jobs parked in a pool: it offers what they require. */
  private boolean fits(JobQueue.Pool pool) {
    return pool.fits(runtimes(), gpu.present(), totalRamMb());
  }

  private List<String> runtimes() {
    return sandbox.available().stream()
        .map(k -> k.name().toLowerCase(Locale.ROOT))
        .sorted()
        .toList();
  }

  private static long totalRamMb() {
    return os().getTotalMemorySize() / (1024 * 1024);
  }

  private static com.sun.management.OperatingSystemMXBean os() {
    return (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
  }

  // --- running jobs ---

  private void start(Delivery delivery) {
    Job job =
        new Job(
            heldKey(delivery),
            WorkerJobs.jobId(delivery.job().taskId(), delivery.job().attempt()),
            delivery);
    running.put(job.key(), job);
    observer.running(running.size());
    CompletableFuture<Ran> run = CompletableFuture.supplyAsync(() -> run(job), blocking);
    getContext()
        .pipeToSelf(
            run,
            (ran, failure) ->
                new JobFinished(
                    job, ran != null ? ran : new Ran(cannotRun(failure.toString()), null)));
  }

  /** Blocks for as long as the job runs (up to its deadline): only on the blocking dispatcher. */
  private Ran run(Job job) {
    String runtime = null;
    try {
      TaskSpec spec = json.readValue(job.delivery().job().specJson(), TaskSpec.class);
      runtime = spec.runtime();
      coordinators.started(job.taskId(), job.attempt(), setup.nodeId());
      return new Ran(
          sandbox.run(
              WorkerJobs.toJob(
                  job.taskId(), job.attempt(), spec, setup.defaultTimeoutMs(), setup.memoryMb())),
          runtime);
    } catch (Exception e) {
      return new Ran(cannotRun(e.getMessage()), runtime);
    }
  }

  private static Outcome cannotRun(String why) {
    return new Outcome.Failure(FailureKind.BAD_PAYLOAD, "cannot run job: " + why, null, "", 0);
  }

  private Behavior<Command> onCancel(Cancel c) {
    if (!setup.nodeId().equals(c.cancel().nodeId())) return this;
    String jobId = WorkerJobs.jobId(c.cancel().taskId(), c.cancel().attempt());
    for (Job job : running.values()) {
      if (job.jobId().equals(jobId)) {
        log.info("cancelling {} on request", jobId);
        blocking.execute(() -> sandbox.cancel(jobId));
        break;
      }
    }
    return this;
  }

  private Behavior<Command> onJobFinished(JobFinished f) {
    running.remove(f.job().key());
    observer.running(running.size());
    Outcome outcome = fault.apply(f.ran().outcome(), setup.nodeId());
    AnchorMetrics.sandboxOutcome(
        f.ran().runtime(),
        outcome instanceof Outcome.Failure fail ? fail.kind().name() : "success");
    // the execution slot is free as soon as the code ran; recording the result (a journal write)
    // must not hold it, but the number of results being recorded is bounded so a stalled
    // coordinator stops this node reading
    Finished finished = new Finished(f.job(), outcome);
    if (recording < MAX_UNRECORDED) {
      recording++;
      record(finished);
    } else {
      awaitingRecord.add(finished);
    }
    return next();
  }

  // --- recording results ---

  /**
   * Asks the task entity to record the outcome until it confirms; only then is the job acknowledged
   * in Redis.
   */
  private Behavior<Command> record(Finished f) {
    CompletionStage<Done> answer;
    try {
      answer =
          coordinators.report(
              f.job().taskId(), replyTo -> report(f.outcome(), f.job().attempt(), replyTo));
    } catch (RuntimeException e) {
      answer = CompletableFuture.failedFuture(e);
    }
    getContext().pipeToSelf(answer, (ok, failure) -> new RecordAnswered(f, failure));
    return this;
  }

  private Behavior<Command> onRecordAnswered(RecordAnswered a) {
    if (a.failure() != null) {
      log.warn(
          "recording result of {} failed, retrying: {}",
          a.finished().job().jobId(),
          a.failure().toString());
      timers.startSingleTimer(
          "record " + a.finished().job().key(), new RetryRecord(a.finished()), RECORD_RETRY);
      return this;
    }
    ack(a.finished().job());
    recording--;
    Finished waiting = awaitingRecord.poll();
    if (waiting != null) {
      recording++;
      record(waiting);
    }
    return next();
  }

  /**
   * The result is recorded: the entry can go. Redis may be away (restarting); the entry is
   * forgotten here either way, and one left behind is read again, run again and its result refused
   * as a duplicate, never recorded twice.
   */
  private void ack(Job job) {
    try {
      getContext()
          .pipeToSelf(queue.ack(job.delivery()), (n, failure) -> new Acked(job.key(), failure));
    } catch (RuntimeException e) {
      held.remove(job.key());
    }
  }

  private Behavior<Command> onAcked(Acked a) {
    held.remove(a.key());
    if (a.failure() != null)
      log.debug("acknowledging {} failed: {}", a.key(), a.failure().toString());
    return next();
  }

  private TaskEntity.Command report(Outcome o, int attempt, ActorRef<StatusReply<Done>> replyTo) {
    return switch (o) {
      case Outcome.Success s ->
          new TaskEntity.ReportResult(
              attempt,
              setup.nodeId(),
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
              setup.nodeId(),
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

  // --- what the node's entity and the operator say ---

  private Behavior<Command> onStatus(StatusChanged s) {
    NodeStatus st = s.status();
    if (!setup.nodeId().equals(st.nodeId())) return this;
    cordoned = st.cordoned();
    boolean pause = !st.takesWork();
    if (paused != pause) {
      paused = pause;
      log.info(
          pause
              ? "node {} takes no new jobs ({}{}); running ones finish"
              : "node {} takes jobs again",
          setup.nodeId(),
          st.status(),
          st.quarantined() ? ", quarantined" : "");
    }
    return next();
  }

  private Behavior<Command> drain() {
    draining = true;
    return this;
  }

  private Behavior<Command> onFault(InjectFault f) {
    fault = f.fault();
    if (fault.active()) {
      log.warn(
          "FAULT INJECTION: node {} corrupts {} % of its results (ANCHOR_FAULT)",
          setup.nodeId(), Math.round(fault.fraction() * 100));
    }
    return this;
  }

  // --- stopping ---

  private Behavior<Command> onShutdown(Shutdown s) {
    draining = true;
    if (!stopping) {
      stopping = true;
      timers.startSingleTimer(Tick.DRAIN_DEADLINE, Tick.DRAIN_DEADLINE, DRAIN_GRACE);
    }
    return next();
  }

  private Behavior<Command> drainDeadline() {
    log.info(
        "node {} stops with {} jobs running and {} results unrecorded; they stay pending for"
            + " another node",
        setup.nodeId(),
        running.size(),
        recording + awaitingRecord.size());
    return stop();
  }

  /**
   * Nothing running, being recorded or being acknowledged: every held entry is in one of those
   * (waiting for the acknowledgement too means a node that leaves does not leave a recorded job to
   * be run again elsewhere).
   */
  private boolean idle() {
    return held.isEmpty();
  }

  /** After every change: read if there is room, and stop once a shutdown has nothing left. */
  private Behavior<Command> next() {
    if (stopping && idle()) return stop();
    readIfFree();
    return this;
  }

  private Behavior<Command> stop() {
    return Behaviors.stopped();
  }

  private Behavior<Command> stopped() {
    observer.running(0);
    observer.stopped();
    return this;
  }

  // --- heartbeats ---

  /** The machine's figures, read on the blocking dispatcher (the host name may ask DNS). */
  private record Machine(
      String host,
      int cpuCores,
      long ramMb,
      double cpuUsage,
      double ramUsage,
      GpuProbe.Usage gpuUsage) {}

  private Behavior<Command> readMachine() {
    GpuProbe probe = setup.gpuProbe();
    boolean withGpu = gpu.present();
    getContext()
        .pipeToSelf(
            CompletableFuture.supplyAsync(() -> measure(probe, withGpu), blocking),
            (m, failure) -> m != null ? new MachineRead(m) : new MachineUnread(failure));
    return this;
  }

  private static Machine measure(GpuProbe probe, boolean withGpu) {
    var os = os();
    long total = os.getTotalMemorySize();
    double cpu = Math.max(0, os.getCpuLoad()) * 100.0;
    double ram = total == 0 ? 0 : (total - os.getFreeMemorySize()) * 100.0 / total;
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (Exception e) {
      host = "unknown";
    }
    return new Machine(
        host,
        Runtime.getRuntime().availableProcessors(),
        total / (1024 * 1024),
        round(cpu),
        round(ram),
        withGpu ? probe.usage() : null);
  }

  private static double round(double v) {
    return Math.round(v * 10) / 10.0;
  }

  private Behavior<Command> onMachineUnread(MachineUnread m) {
    log.warn("heartbeat failed: {}", m.failure().toString());
    return this;
  }

  private NodeHeartbeat snapshot(Machine m) {
    ScreenService.Status capture = setup.capture();
    GpuProbe.Usage usage = m.gpuUsage();
    return new NodeHeartbeat(
        setup.nodeId(),
        setup.address(),
        m.host(),
        m.cpuCores(),
        m.ramMb(),
        gpu.present(),
        gpu.model(),
        runtimes(),
        m.cpuUsage(),
        m.ramUsage(),
        (System.currentTimeMillis() - startedAt) / 1000,
        running.size(),
        setup.capacity(),
        draining,
        System.currentTimeMillis(),
        gpu.memoryMb(),
        usage == null ? null : usage.utilization(),
        usage == null ? null : usage.memoryUsedMb(),
        capture == null ? null : capture.available(),
        capture == null || capture.available() ? null : capture.reason(),
        hasDocker);
  }

  private Behavior<Command> heartbeat(Machine m) {
    try {
      NodeHeartbeat hb = snapshot(m);
      coordinators.publish(hb);
      if (!registered) {
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
        getContext()
            .pipeToSelf(
                coordinators.register(setup.nodeId(), specs),
                (v, failure) -> new RegisterAnswered(failure));
      } else {
        coordinators.heartbeat(
            setup.nodeId(),
            new NodeMetrics(
                hb.cpuUsage(),
                hb.ramUsage(),
                hb.uptimeS(),
                hb.runningTasks(),
                hb.gpuUtilization(),
                hb.gpuMemoryUsedMb()));
      }
    } catch (RuntimeException e) {
      log.warn("heartbeat failed: {}", e.toString());
    }
    return this;
  }

  private Behavior<Command> onRegisterAnswered(RegisterAnswered a) {
    if (a.failure() == null) registered = true;
    else log.debug("node registration not answered yet: {}", a.failure().toString());
    return this;
  }

  private Behavior<Command> probeDocker() {
    getContext()
        .pipeToSelf(
            CompletableFuture.supplyAsync(() -> DockerProbe.probe(System.getenv()), blocking),
            (present, failure) -> new DockerProbed(present));
    return this;
  }

  private Behavior<Command> onDockerProbed(DockerProbed p) {
    if (p.present() != null) hasDocker = p.present();
    return this;
  }
}
