package dev.anchor.worker;

import dev.anchor.queue.Delivery;
import dev.anchor.queue.JobQueue;
import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a node's job streams for its {@link WorkerAgent}: one blocking XREADGROUP / pull-script
 * round per {@link Read}, on the worker's blocking dispatcher (never the default one). A Redis
 * error crashes it; its supervisor restarts it after a back-off with a new connection, which makes
 * the node's consumer groups again (Redis may have restarted without them) and re-reads the entries
 * this node was given and never acknowledged. A Read sent meanwhile waits for the restart.
 */
final class JobReader extends AbstractBehavior<JobReader.Command> {
  // the agent's logger, so operators' filters on it keep seeing the worker's whole story
  private static final Logger log = LoggerFactory.getLogger(NodeAgent.class);

  /** How long one read waits for a job before it answers with none. */
  static final Duration BLOCK = Duration.ofSeconds(1);

  sealed interface Command {}

  /** At most {@code count} jobs (the agent's free slots); always answered, also on failure. */
  record Read(int count, boolean pullFromPools, ActorRef<Result> replyTo) implements Command {}

  sealed interface Result {}

  /** The jobs read, possibly none after {@link #BLOCK}. */
  record Delivered(List<Delivery> jobs) implements Result {}

  /** Redis failed; the reader is restarting and answers the next Read after its back-off. */
  record Failed(String reason) implements Result {}

  static Behavior<Command> create(
      JobQueue queue, String nodeId, Predicate<JobQueue.Pool> fits, Duration minBackoff) {
    return Behaviors.supervise(
            Behaviors.<Command>setup(ctx -> new JobReader(ctx, queue, nodeId, fits)))
        .onFailure(
            SupervisorStrategy.restartWithBackoff(minBackoff, minBackoff.multipliedBy(3), 0.2)
                // logged once as a warning below, with what failed; the restart itself is routine
                .withLogLevel(org.slf4j.event.Level.DEBUG));
  }

  private final JobQueue queue;
  private final String nodeId;
  private final Predicate<JobQueue.Pool> fits;
  private JobQueue.Reader reader;

  private JobReader(
      ActorContext<Command> context, JobQueue queue, String nodeId, Predicate<JobQueue.Pool> fits) {
    super(context);
    this.queue = queue;
    this.nodeId = nodeId;
    this.fits = fits;
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Read.class, this::onRead)
        .onSignal(PreRestart.class, s -> closed())
        .onSignal(PostStop.class, s -> closed())
        .build();
  }

  private Behavior<Command> onRead(Read read) {
    if (reader == null) {
      try {
        // a new reader makes the node's groups again: Redis may have restarted without them, or
        // the streams were taken over while this node was away
        reader = queue.reader(nodeId, fits);
      } catch (RuntimeException e) {
        log.warn("cannot read jobs from Redis, trying again after a back-off: {}", e.toString());
        read.replyTo().tell(new Failed(e.toString()));
        throw e;
      }
    }
    List<Delivery> jobs;
    try {
      reader.pullFromPools(read.pullFromPools());
      jobs = reader.next(read.count(), BLOCK);
    } catch (RuntimeException e) {
      log.warn("reading jobs failed, reconnecting after a back-off: {}", e.toString());
      read.replyTo().tell(new Failed(e.toString()));
      throw e;
    }
    read.replyTo().tell(new Delivered(jobs));
    return this;
  }

  private Behavior<Command> closed() {
    if (reader != null) {
      try {
        reader.close();
      } catch (RuntimeException ignored) {
        // its connection is gone anyway
      }
      reader = null;
    }
    return this;
  }
}
