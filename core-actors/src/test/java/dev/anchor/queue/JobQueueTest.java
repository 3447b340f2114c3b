package dev.anchor.queue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lettuce.core.RedisClient;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The job queue against a real redis-server (the embedded one standalone mode uses). */
class JobQueueTest {
  @RegisterExtension static final RealRedis redis = new RealRedis();
  static RedisClient client;
  static JobQueue queue;

  @BeforeAll
  static void start() {
    client = redis.client();
    queue = new JobQueue(client);
  }

  @AfterAll
  static void stop() {
    if (queue != null) queue.close();
  }

  private static String node() {
    return "n-" + UUID.randomUUID();
  }

  private static JobMessage job(String task, int priority) {
    return new JobMessage(task, 1, priority, "{\"name\":\"" + task + "\"}");
  }

  @Test
  void theQueueRemembersWhereAnUnacknowledgedJobIsUntilItsAck() throws Exception {
    String a = node(), b = node();
    String task = "placed-" + UUID.randomUUID();
    assertEquals(null, queue.placement(task).toCompletableFuture().get());
    queue.enqueue(a, new JobMessage(task, 1, 0, "{}")).toCompletableFuture().get();
    assertEquals(new JobQueue.Placement(1, a), queue.placement(task).toCompletableFuture().get());
    try (JobQueue.Reader ra = queue.reader(a);
        JobQueue.Reader rb = queue.reader(b)) {
      Delivery first = ra.next(10, Duration.ofMillis(100)).get(0);
      // attempt 1 failed and attempt 2 went to b before attempt 1's entry was acknowledged
      queue.enqueue(b, new JobMessage(task, 2, 0, "{}")).toCompletableFuture().get();
      queue.ack(first).toCompletableFuture().get();
      assertEquals(
          new JobQueue.Placement(2, b),
          queue.placement(task).toCompletableFuture().get(),
          "the ack of an older attempt leaves the newer placement");
      queue.ack(rb.next(10, Duration.ofMillis(100)).get(0)).toCompletableFuture().get();
      assertEquals(null, queue.placement(task).toCompletableFuture().get());
    }
  }

  @Test
  void aJobGoesOnlyToTheChosenNode() throws Exception {
    String a = node(), b = node();
    queue.enqueue(a, job("t1", 0)).toCompletableFuture().get();
    try (JobQueue.Reader ra = queue.reader(a);
        JobQueue.Reader rb = queue.reader(b)) {
      assertTrue(rb.next(10, Duration.ofMillis(100)).isEmpty());
      List<Delivery> got = ra.next(10, Duration.ofMillis(100));
      assertEquals(1, got.size());
      assertEquals("t1", got.get(0).job().taskId());
      assertEquals("{\"name\":\"t1\"}", got.get(0).job().specJson());
    }
  }

  @Test
  void anUnackedJobIsDeliveredAgainAfterAWorkerRestartAndAnAckedOneIsNot() throws Exception {
    String n = node();
    queue.enqueue(n, job("t1", 0)).toCompletableFuture().get();
    queue.enqueue(n, job("t2", 0)).toCompletableFuture().get();
    try (JobQueue.Reader first = queue.reader(n)) {
      List<Delivery> got = first.next(10, Duration.ofMillis(100));
      assertEquals(2, got.size());
      queue.ack(got.get(0)).toCompletableFuture().get();
    }
    try (JobQueue.Reader restarted = queue.reader(n)) {
      List<Delivery> again = restarted.next(10, Duration.ofMillis(100));
      assertEquals(List.of("t2"), again.stream().map(d -> d.job().taskId()).toList());
    }
  }

  @Test
  void higherPriorityComesFirstInABatch() throws Exception {
    String n = node();
    queue.enqueue(n, job("low", -5)).toCompletableFuture().get();
    queue.enqueue(n, job("normal", 0)).toCompletableFuture().get();
    queue.enqueue(n, job("high", 9)).toCompletableFuture().get();
    try (JobQueue.Reader r = queue.reader(n)) {
      List<Delivery> got = r.next(10, Duration.ofMillis(100));
      assertEquals(
          List.of("high", "normal", "low"), got.stream().map(d -> d.job().taskId()).toList());
    }
  }

  @Test
  void takeAllHandsBackEverythingOfALostNode() throws Exception {
    String n = node();
    queue.enqueue(n, job("delivered", 0)).toCompletableFuture().get();
    try (JobQueue.Reader r = queue.reader(n)) {
      assertEquals(1, r.next(1, Duration.ofMillis(100)).size());
    }
    queue.enqueue(n, job("waiting", 0)).toCompletableFuture().get();
    List<Delivery> left = queue.takeAll(n);
    assertEquals(
        List.of("delivered", "waiting"), left.stream().map(d -> d.job().taskId()).toList());
    assertTrue(queue.takeAll(n).isEmpty());
  }

  @Test
  void statsCountWaitingAndActivePerNode() throws Exception {
    String n = node();
    for (int i = 0; i < 3; i++) queue.enqueue(n, job("s" + i, 0)).toCompletableFuture().get();
    try (JobQueue.Reader r = queue.reader(n)) {
      assertEquals(1, r.next(1, Duration.ofMillis(100)).size());
      QueueStats.Counts c = queue.stats().queues().get("node:" + n);
      assertEquals(2, c.waiting());
      assertEquals(1, c.active());
    }
  }

  @Test
  void withdrawingADrainedNodesQueueTakesOnlyWhatItWasNotGiven() throws Exception {
    String n = node();
    queue.enqueue(n, job("running", 0)).toCompletableFuture().get();
    try (JobQueue.Reader r = queue.reader(n)) {
      assertEquals(1, r.next(1, Duration.ofMillis(100)).size());
      queue.enqueue(n, job("waiting-high", 5)).toCompletableFuture().get();
      queue.enqueue(n, job("waiting", 0)).toCompletableFuture().get();

      List<Delivery> taken = queue.withdrawUndelivered(n);
      assertEquals(
          java.util.Set.of("waiting-high", "waiting"),
          taken.stream().map(d -> d.job().taskId()).collect(java.util.stream.Collectors.toSet()));
      assertEquals(
          "{\"name\":\"waiting\"}",
          taken.stream()
              .filter(d -> d.job().taskId().equals("waiting"))
              .findFirst()
              .orElseThrow()
              .job()
              .specJson());
      // nothing left to read, nothing taken twice; the running job stays the node's own
      assertTrue(r.next(10, Duration.ofMillis(100)).isEmpty());
      assertTrue(queue.withdrawUndelivered(n).isEmpty());
    }
    try (JobQueue.Reader restarted = queue.reader(n)) {
      assertEquals(
          List.of("running"),
          restarted.next(10, Duration.ofMillis(100)).stream().map(d -> d.job().taskId()).toList());
    }
    assertTrue(
        queue.withdrawUndelivered(node()).isEmpty(),
        "a node without streams has nothing to withdraw");
  }

  @Test
  void aReadNeverHandsOverMoreJobsThanAskedForAcrossPriorityBands() throws Exception {
    String n = node();
    for (int p : new int[] {-5, 0, 9}) {
      for (int i = 0; i < 2; i++)
        queue.enqueue(n, job("p" + p + "-" + i, p)).toCompletableFuture().get();
    }
    try (JobQueue.Reader r = queue.reader(n)) {
      assertEquals(
          List.of("p9-0", "p9-1", "p0-0"),
          r.next(3, Duration.ofMillis(100)).stream().map(d -> d.job().taskId()).toList());
      assertEquals(
          List.of("p0-1", "p-5-0"),
          r.next(2, Duration.ofMillis(100)).stream().map(d -> d.job().taskId()).toList());
    }
    // after a restart the unacknowledged ones come back, still no more than asked for
    try (JobQueue.Reader again = queue.reader(n)) {
      assertEquals(
          List.of("p9-0", "p9-1"),
          again.next(2, Duration.ofMillis(100)).stream().map(d -> d.job().taskId()).toList());
    }
  }

  private static JobQueue.Pool pool() {
    return new JobQueue.Pool("rt-" + UUID.randomUUID().toString().substring(0, 8), false, 1024);
  }

  @Test
  void aParkedJobGoesToTheFirstFittingNodeThatReadsAndItsPlacementFollows() throws Exception {
    JobQueue.Pool pool = pool();
    String fits = node(), tooSmall = node();
    String task = "parked-" + UUID.randomUUID();
    queue.park(pool, new JobMessage(task, 1, 0, "{}")).toCompletableFuture().get();
    assertEquals(
        new JobQueue.Placement(1, pool.id()), queue.placement(task).toCompletableFuture().get());
    try (JobQueue.Reader small =
            queue.reader(tooSmall, p -> p.fits(List.of(pool.runtime()), false, 512));
        JobQueue.Reader big =
            queue.reader(fits, p -> p.fits(List.of(pool.runtime()), false, 2048))) {
      assertTrue(small.next(5, Duration.ofMillis(100)).isEmpty(), "512 MB < the pool's 1024");
      List<Delivery> got = big.next(5, Duration.ofMillis(100));
      assertEquals(List.of(task), got.stream().map(d -> d.job().taskId()).toList());
      assertEquals(pool.id(), got.get(0).parkedFor());
      assertEquals(
          new JobQueue.Placement(1, fits), queue.placement(task).toCompletableFuture().get());
      // it is the node's own job now: a lost node hands it back like any other
      List<Delivery> left = queue.takeAll(fits);
      assertEquals(List.of(task), left.stream().map(d -> d.job().taskId()).toList());
      assertEquals(pool.id(), left.get(0).parkedFor());
    }
  }

  @Test
  void aParkedJobOfAnAttemptTheTaskMovedPastIsDropped() throws Exception {
    JobQueue.Pool pool = pool();
    String n = node();
    String task = "stale-" + UUID.randomUUID();
    queue.park(pool, new JobMessage(task, 1, 0, "{}")).toCompletableFuture().get();
    queue.park(pool, new JobMessage(task, 2, 0, "{}")).toCompletableFuture().get();
    try (JobQueue.Reader r = queue.reader(n, p -> p.equals(pool))) {
      List<Delivery> got = r.next(5, Duration.ofMillis(100));
      assertEquals(List.of(2), got.stream().map(d -> d.job().attempt()).toList());
    }
  }

  @Test
  void aReaderWaitingForWorkWakesForAJobParkedMeanwhile() throws Exception {
    JobQueue.Pool pool = pool();
    String n = node();
    try (JobQueue.Reader r = queue.reader(n, p -> p.equals(pool))) {
      // the pool is known before the reader waits (a reader asks for the pools once a second)
      queue.park(pool, job("first", 0)).toCompletableFuture().get();
      assertEquals(1, r.next(1, Duration.ofMillis(100)).size());
      var waiting =
          java.util.concurrent.CompletableFuture.supplyAsync(
              () -> r.next(4, Duration.ofSeconds(20)));
      queue.park(pool, job("second", 0)).toCompletableFuture().get();
      List<Delivery> got = waiting.get(30, java.util.concurrent.TimeUnit.SECONDS);
      assertEquals(List.of("second"), got.stream().map(d -> d.job().taskId()).toList());
    }
  }

  @Test
  void statsCountParkedJobsPerPool() throws Exception {
    JobQueue.Pool pool = pool();
    for (int i = 0; i < 2; i++) queue.park(pool, job("w" + i, i)).toCompletableFuture().get();
    assertEquals(2, queue.stats().queues().get(pool.id()).waiting());
  }

  @Test
  void aParkedJobRunBeforeGoesAheadOfItsBandsFirstTimersButNotOfAHigherBand() throws Exception {
    JobQueue.Pool pool = pool();
    String n = node();
    queue.park(pool, new JobMessage("first-timer", 1, 0, "{}")).toCompletableFuture().get();
    queue.park(pool, new JobMessage("retried", 2, 0, "{}")).toCompletableFuture().get();
    queue.park(pool, new JobMessage("urgent", 1, 5, "{}")).toCompletableFuture().get();
    try (JobQueue.Reader r = queue.reader(n, p -> p.equals(pool))) {
      assertEquals(
          List.of("urgent", "retried", "first-timer"),
          r.next(3, Duration.ofMillis(100)).stream().map(d -> d.job().taskId()).toList());
    }
  }

  @Test
  void aNodesStreamsHoldNoMoreThanTheLimitWhateverTheHeartbeatsSayAndTheRestIsParked()
      throws Exception {
    JobQueue.Pool pool = pool();
    String n = node();
    List<String> went = new java.util.ArrayList<>();
    for (int i = 0; i < 8; i++)
      went.add(queue.place(n, job("b" + i, 0), pool, 5).toCompletableFuture().get());
    assertEquals(
        List.of(n, n, n, n, n, pool.id(), pool.id(), pool.id()), went, "capacity 3 + prefetch 2");
    assertEquals(
        new JobQueue.Placement(1, pool.id()), queue.placement("b5").toCompletableFuture().get());
    try (JobQueue.Reader r = queue.reader(n, p -> false)) {
      // the node runs 3; running and unacknowledged jobs still count against its room
      List<Delivery> running = r.next(3, Duration.ofMillis(100));
      assertEquals(3, running.size());
      assertEquals(null, queue.place(n, job("pinned", 0), null, 5).toCompletableFuture().get());
      assertEquals(n, queue.place(n, job("pinned", 0), null, 6).toCompletableFuture().get());
      queue.ack(running.get(0)).toCompletableFuture().get();
      queue.ack(running.get(1)).toCompletableFuture().get();
      // room again, but jobs of the class wait in the pool: a new one does not overtake them
      assertEquals(pool.id(), queue.place(n, job("late", 0), pool, 5).toCompletableFuture().get());
      assertEquals(n, queue.place(n, job("pinned2", 0), null, 5).toCompletableFuture().get());
    }
  }

  @Test
  void aJobRunBeforeGoesAheadOfTheNodesOwnWaitingJobs() throws Exception {
    JobQueue.Pool pool = pool();
    String n = node();
    for (int i = 0; i < 3; i++)
      queue.enqueue(n, job("own" + i, 0), pool).toCompletableFuture().get();
    // the pool is known before the reader first asks (it asks for the pools once a second)
    queue.park(pool, job("waiting", 0)).toCompletableFuture().get();
    try (JobQueue.Reader r = queue.reader(n, p -> p.equals(pool))) {
      assertEquals(
          List.of("own0"),
          r.next(1, Duration.ofMillis(100)).stream().map(d -> d.job().taskId()).toList());
      // a lost node's job goes back to the pool's again stream while this node holds a backlog
      queue.park(pool, new JobMessage("stranded", 2, 0, "{}")).toCompletableFuture().get();
      queue.park(pool, job("first-timer", 0)).toCompletableFuture().get();
      assertEquals(
          List.of("stranded"),
          r.next(1, Duration.ofMillis(100)).stream().map(d -> d.job().taskId()).toList(),
          "the next free slot takes the stranded job, not the node's backlog");
      assertEquals(
          new JobQueue.Placement(2, n), queue.placement("stranded").toCompletableFuture().get());
      assertEquals(
          List.of("own1", "own2", "waiting", "first-timer"),
          r.next(5, Duration.ofMillis(100)).stream().map(d -> d.job().taskId()).toList(),
          "the backlog keeps its order, and nothing is lost or doubled");
      assertTrue(r.next(5, Duration.ofMillis(100)).isEmpty());
    }
  }

  // ------------------------------------------------------------------ an unreachable node

  @Test
  void reclaimingAnUnreachableNodeParksWhatItDidNotReadAndHandsBackWhatItRan() throws Exception {
    JobQueue.Pool pool = pool();
    String lost = node(), other = node();
    String running = "running-" + UUID.randomUUID(), waiting = "waiting-" + UUID.randomUUID();
    String replica = "replica-" + UUID.randomUUID(), cancelled = "cancelled-" + UUID.randomUUID();
    queue.enqueue(lost, new JobMessage(running, 1, 0, "{}"), pool).toCompletableFuture().get();
    try (JobQueue.Reader frozen = queue.reader(lost)) {
      assertEquals(1, frozen.next(1, Duration.ofMillis(100)).size());
      queue
          .enqueue(lost, new JobMessage(waiting, 1, 0, "{\"w\":1}"), pool)
          .toCompletableFuture()
          .get();
      queue.enqueue(lost, new JobMessage(replica, 2, 0, "{}")).toCompletableFuture().get();
      queue.enqueue(lost, new JobMessage(cancelled, 1, 0, "{}"), pool).toCompletableFuture().get();
      queue.markCancelled(cancelled).toCompletableFuture().get();

      JobQueue.Reclaimed r = queue.reclaim(lost);
      assertEquals(List.of(running), ids(r.running()));
      assertEquals(List.of(waiting), ids(r.moved()));
      assertEquals(pool.id(), r.moved().get(0).parkedFor());
      assertEquals(List.of(replica), ids(r.withdrawn()), "a replica must not wait in a pool");
      assertEquals(
          new JobQueue.Placement(1, pool.id()),
          queue.placement(waiting).toCompletableFuture().get());
      assertEquals(null, queue.placement(cancelled).toCompletableFuture().get());

      // the node, should it come back, finds nothing of it, not even after a reader restart
      assertTrue(frozen.next(10, Duration.ofMillis(100)).isEmpty());
      try (JobQueue.Reader restarted = queue.reader(lost)) {
        assertTrue(restarted.next(10, Duration.ofMillis(100)).isEmpty());
      }
      assertTrue(queue.reclaim(lost).isEmpty(), "nothing is handed on twice");
    }
    queue
        .park(pool, new JobMessage("first-timer-" + UUID.randomUUID(), 1, 0, "{}"))
        .toCompletableFuture()
        .get();
    try (JobQueue.Reader r = queue.reader(other, p -> p.equals(pool))) {
      List<Delivery> got = r.next(1, Duration.ofMillis(100));
      assertEquals(List.of(waiting), ids(got), "it waited its turn: ahead of the first-timers");
      assertEquals("{\"w\":1}", got.get(0).job().specJson());
      assertEquals(pool.id(), got.get(0).parkedFor());
      assertEquals(
          new JobQueue.Placement(1, other), queue.placement(waiting).toCompletableFuture().get());
    }
  }

  @Test
  void reclaimDropsAJobWhoseTaskMovedToANewerAttempt() throws Exception {
    JobQueue.Pool pool = pool();
    String lost = node(), task = "moved-on-" + UUID.randomUUID();
    queue.enqueue(lost, new JobMessage(task, 1, 0, "{}"), pool).toCompletableFuture().get();
    queue.park(pool, new JobMessage(task, 2, 0, "{}")).toCompletableFuture().get();
    assertTrue(queue.reclaim(lost).isEmpty());
    assertEquals(
        new JobQueue.Placement(2, pool.id()), queue.placement(task).toCompletableFuture().get());
  }

  @Test
  void reclaimWithdrawsAReplicaEvenWhenTheTasksPlacementNamesALaterReplica() throws Exception {
    String lost = node(), other = node(), task = "spot-checked-" + UUID.randomUUID();
    // a verified task's replicas: job 1 on the node that is lost, job 2 on another, enqueued last
    queue.enqueue(lost, new JobMessage(task, 1, 0, "{}")).toCompletableFuture().get();
    queue.enqueue(other, new JobMessage(task, 2, 0, "{}")).toCompletableFuture().get();
    assertEquals(
        new JobQueue.Placement(2, other), queue.placement(task).toCompletableFuture().get());

    JobQueue.Reclaimed r = queue.reclaim(lost);
    // dropped unsaid, job 1 stayed dispatched in its task for good once the node was back
    assertEquals(List.of(task), ids(r.withdrawn()), "its task is told, and places it again");
    assertEquals(1, r.withdrawn().get(0).job().attempt());
    assertEquals(
        new JobQueue.Placement(2, other),
        queue.placement(task).toCompletableFuture().get(),
        "the other replica's placement stays");
  }

  // ------------------------------------------------------------------ cancelled jobs

  @Test
  void aCancelledJobIsRemovedUnrunFromANodesStreamAndFromAPool() throws Exception {
    JobQueue.Pool pool = pool();
    String n = node();
    String onNode = "c-node-" + UUID.randomUUID(), inPool = "c-pool-" + UUID.randomUUID();
    String keep = "keep-" + UUID.randomUUID(), parkedKeep = "keep-parked-" + UUID.randomUUID();
    queue.enqueue(n, new JobMessage(onNode, 1, 0, "{}")).toCompletableFuture().get();
    queue.enqueue(n, new JobMessage(keep, 1, 0, "{}")).toCompletableFuture().get();
    queue.park(pool, new JobMessage(inPool, 1, 0, "{}")).toCompletableFuture().get();
    queue.park(pool, new JobMessage(parkedKeep, 1, 0, "{}")).toCompletableFuture().get();
    queue.markCancelled(onNode).toCompletableFuture().get();
    queue.markCancelled(inPool).toCompletableFuture().get();
    try (JobQueue.Reader r = queue.reader(n, p -> p.equals(pool))) {
      // two slots: the cancelled jobs ahead of the others take none of them
      assertEquals(List.of(keep, parkedKeep), ids(r.next(2, Duration.ofMillis(100))));
      assertTrue(r.next(5, Duration.ofMillis(100)).isEmpty());
    }
    assertEquals(null, queue.placement(onNode).toCompletableFuture().get());
    assertEquals(null, queue.placement(inPool).toCompletableFuture().get());
    QueueStats stats = queue.stats();
    assertEquals(0, stats.queues().get(pool.id()).waiting(), "removed from the pool");
    assertEquals(2, stats.queues().get("node:" + n).active(), "only the two it runs");
  }

  @Test
  void aJobReadBeforeARestartWhoseTaskWasCancelledIsNotHandedOutAgain() throws Exception {
    String n = node(), cancelled = "c-" + UUID.randomUUID(), kept = "k-" + UUID.randomUUID();
    queue.enqueue(n, new JobMessage(cancelled, 1, 0, "{}")).toCompletableFuture().get();
    queue.enqueue(n, new JobMessage(kept, 1, 0, "{}")).toCompletableFuture().get();
    try (JobQueue.Reader first = queue.reader(n)) {
      assertEquals(2, first.next(2, Duration.ofMillis(100)).size());
    }
    queue.markCancelled(cancelled).toCompletableFuture().get();
    try (JobQueue.Reader restarted = queue.reader(n)) {
      List<Delivery> got = new java.util.ArrayList<>();
      for (int i = 0; i < 3 && got.isEmpty(); i++) got.addAll(restarted.next(1, Duration.ZERO));
      assertEquals(List.of(kept), ids(got));
    }
  }

  private static List<String> ids(List<Delivery> ds) {
    return ds.stream().map(d -> d.job().taskId()).toList();
  }
}
