package dev.anchor.task;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.Semaphore;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts again every task the journal still has open (see {@link TaskEntity#tagsFor}) after this
 * coordinator starts and after the coordinators change (a crashed one's shards, or shards moved by
 * a rebalance, start elsewhere only when a message reaches them), and every few minutes as a
 * backstop. Waking a running task costs one message; a task that turns out to have ended has its
 * marker dropped.
 */
public final class OpenTaskReviver {
  private static final Logger log = LoggerFactory.getLogger(OpenTaskReviver.class);
  private static final String PREFIX = TaskEntity.TYPE_KEY.name() + "|";
  private static final int IN_FLIGHT = 256;
  private static final Duration COMPACT_EVERY = Duration.ofSeconds(30);

  /**
   * The journal's open markers: persistence ids, and dropping ones that turned out closed. Both may
   * block.
   */
  public interface OpenMarkers {
    List<String> open(String prefix);

    void forget(List<String> persistenceIds);

    /**
     * Folds the journal's record of openings and closings into the open set (it grows with every
     * task).
     */
    void compact();
  }

  sealed interface Msg {}

  private record Sweep(String why, boolean checkJobs) implements Msg {
    Sweep(String why) {
      this(why, false);
    }
  }

  /**
   * Redis came back or restarted and may have lost its last writes: every open task is asked
   * whether its job is still on the queue ({@link TaskEntity.CheckJob}); one whose job is gone
   * queues it again. The journal, not Redis, says which tasks exist and which attempt each one is
   * on.
   */
  public record CheckJobs(String why) {}

  private record SweepDone(int woken, int ended, Throwable failure) implements Msg {}

  private record MembersChanged(ClusterEvent.MemberEvent event) implements Msg {}

  private record Compact() implements Msg {}

  private OpenTaskReviver() {}

  /**
   * @param wake asks the task entity with this id to start, answering whether it is still open
   */
  public static Behavior<Object> create(
      OpenMarkers markers,
      Function<String, CompletionStage<Boolean>> wake,
      Executor blocking,
      Duration firstAfter,
      Duration every,
      String coordinatorRole) {
    return create(markers, wake, wake, blocking, firstAfter, every, coordinatorRole);
  }

  /**
   * @param checkJob like {@code wake}, and the task checks that its job is still on the queue (see
   *     {@link CheckJobs})
   */
  public static Behavior<Object> create(
      OpenMarkers markers,
      Function<String, CompletionStage<Boolean>> wake,
      Function<String, CompletionStage<Boolean>> checkJob,
      Executor blocking,
      Duration firstAfter,
      Duration every,
      String coordinatorRole) {
    return Behaviors.<Object>setup(
        ctx ->
            Behaviors.withTimers(
                timers -> {
                  ActorRef<ClusterEvent.MemberEvent> members =
                      ctx.messageAdapter(ClusterEvent.MemberEvent.class, MembersChanged::new);
                  Cluster.get(ctx.getSystem())
                      .subscriptions()
                      .tell(Subscribe.create(members, ClusterEvent.MemberEvent.class));
                  timers.startSingleTimer("first", new Sweep("start"), firstAfter);
                  timers.startTimerWithFixedDelay("backstop", new Sweep("backstop"), every);
                  timers.startTimerWithFixedDelay("compact", new Compact(), COMPACT_EVERY);
                  boolean[] running = {false};
                  Sweep[] again = {null};
                  String[] checking = {null};
                  return Behaviors.receive(Object.class)
                      .onMessage(
                          MembersChanged.class,
                          m -> {
                            var e = m.event();
                            if ((e instanceof ClusterEvent.MemberUp
                                    || e instanceof ClusterEvent.MemberRemoved)
                                && e.member().hasRole(coordinatorRole)) {
                              // shards move in rebalance rounds: look again soon and once more
                              // later
                              timers.startSingleTimer(
                                  "change-1",
                                  new Sweep("coordinators changed"),
                                  Duration.ofSeconds(15));
                              timers.startSingleTimer(
                                  "change-2",
                                  new Sweep("coordinators changed"),
                                  Duration.ofSeconds(60));
                            }
                            return Behaviors.same();
                          })
                      .onMessage(
                          Compact.class,
                          c -> {
                            if (!running[0]) {
                              running[0] = true;
                              ctx.pipeToSelf(
                                  CompletableFuture.runAsync(markers::compact, blocking),
                                  (r, e) -> new SweepDone(0, 0, e));
                            }
                            return Behaviors.same();
                          })
                      .onMessage(
                          CheckJobs.class,
                          c -> {
                            ctx.getSelf().tell(new Sweep(c.why(), true));
                            return Behaviors.same();
                          })
                      .onMessage(
                          Sweep.class,
                          s -> {
                            if (running[0]) {
                              // a job check asked for while a plain sweep runs must not be lost to
                              // it
                              if (again[0] == null || s.checkJobs()) again[0] = s;
                              return Behaviors.same();
                            }
                            running[0] = true;
                            Function<String, CompletionStage<Boolean>> each =
                                s.checkJobs() ? checkJob : wake;
                            checking[0] = s.checkJobs() ? s.why() : null;
                            if (s.checkJobs())
                              log.info(
                                  "open tasks: checking their jobs on the queue ({})", s.why());
                            ctx.pipeToSelf(
                                CompletableFuture.supplyAsync(
                                        () -> sweep(markers, each, blocking), blocking)
                                    .thenCompose(f -> f),
                                (r, e) -> e != null ? new SweepDone(0, 0, e) : r);
                            return Behaviors.same();
                          })
                      .onMessage(
                          SweepDone.class,
                          d -> {
                            running[0] = false;
                            String wasChecking = checking[0];
                            checking[0] = null;
                            if (d.failure() != null) {
                              log.warn(
                                  "open tasks: could not read, compact or wake them: {}",
                                  d.failure().toString());
                              // a job check must happen: the journal may be away too, so try it
                              // again a little later
                              if (wasChecking != null) {
                                timers.startSingleTimer(
                                    "check-again",
                                    new Sweep(wasChecking, true),
                                    Duration.ofSeconds(5));
                              }
                            } else if (d.woken() > 0) {
                              log.info("open tasks: {} woken, {} had ended", d.woken(), d.ended());
                            }
                            if (again[0] != null) {
                              ctx.getSelf().tell(again[0]);
                              again[0] = null;
                            }
                            return Behaviors.same();
                          })
                      .build();
                }));
  }

  /**
   * Wakes every open task, at most {@value #IN_FLIGHT} at a time, then drops the markers of the
   * ended ones.
   */
  private static CompletableFuture<SweepDone> sweep(
      OpenMarkers markers, Function<String, CompletionStage<Boolean>> wake, Executor blocking) {
    markers.compact();
    List<String> open = markers.open(PREFIX);
    Semaphore permits = new Semaphore(IN_FLIGHT);
    List<String> ended = java.util.Collections.synchronizedList(new ArrayList<>());
    List<CompletableFuture<?>> all = new ArrayList<>(open.size());
    for (String pid : open) {
      permits.acquireUninterruptibly();
      String taskId = pid.substring(PREFIX.length());
      CompletableFuture<?> f;
      try {
        f =
            wake.apply(taskId)
                .toCompletableFuture()
                .whenComplete(
                    (stillOpen, e) -> {
                      permits.release();
                      if (e == null && !stillOpen) ended.add(pid);
                    });
      } catch (RuntimeException e) {
        permits.release();
        f = CompletableFuture.failedFuture(e);
      }
      all.add(f.exceptionally(e -> null));
    }
    return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new))
        .thenApplyAsync(
            v -> {
              markers.forget(new ArrayList<>(ended));
              return new SweepDone(open.size(), ended.size(), null);
            },
            blocking);
  }
}
