package dev.anchor.persistence.mongo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import com.mongodb.client.MongoDatabase;
import com.mongodb.client.model.Filters;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.persistence.AtomicWrite;
import org.apache.pekko.persistence.PersistentRepr;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The journal's storage directly: batched writes of many entities, conflicts mapped to the right
 * writer, recovery of the head.
 */
class MongoEventStoreTest {

  private static EmbeddedMongoServer server;
  private static MongoClient client;
  private static ActorTestKit kit;
  private static int databases;

  @BeforeAll
  static void start() {
    server = EmbeddedMongoServer.inMemory();
    client = MongoClients.create(server.connectionString());
    kit = ActorTestKit.create("event-store");
  }

  @AfterAll
  static void stop() {
    if (kit != null) {
      kit.shutdownTestKit();
    }
    if (client != null) {
      client.close();
    }
    if (server != null) {
      server.close();
    }
  }

  private static MongoDatabase freshDatabase() {
    return client.getDatabase("store" + (++databases));
  }

  private static MongoEventStore store(MongoDatabase db) {
    return new MongoEventStore(
        db,
        "journal",
        "journal_heads",
        new PayloadCodec(org.apache.pekko.actor.typed.javadsl.Adapter.toClassic(kit.system())),
        null,
        1000,
        3,
        java.time.Duration.ofMillis(20));
  }

  private static AtomicWrite write(String pid, long from, long to) {
    List<PersistentRepr> reprs = new ArrayList<>();
    for (long seq = from; seq <= to; seq++) {
      reprs.add(
          PersistentRepr.apply(
              pid + "-" + seq, seq, pid, "", false, ActorRef.noSender(), "writer"));
    }
    return AtomicWrite.apply(CollectionConverters.asScala(reprs).toList());
  }

  private static List<String> replay(
      MongoEventStore store, String pid, long from, long to, long max) {
    List<String> out = new ArrayList<>();
    store.replay(pid, from, to, max, r -> out.add((String) r.payload()));
    return out;
  }

  @Test
  void concurrentWritesOfManyEntitiesAreStoredAndAConflictFailsOnlyItsWriter() throws Exception {
    MongoDatabase db = freshDatabase();
    try (MongoEventStore store = store(db)) {
      store.write(List.of(write("taken", 1, 2))).get(10, TimeUnit.SECONDS);

      List<CompletableFuture<List<Optional<Exception>>>> ok = new ArrayList<>();
      for (int e = 0; e < 50; e++) {
        ok.add(store.write(List.of(write("e" + e, 1, 2), write("e" + e, 3, 3))));
      }
      // a stale incarnation of "taken": its first AtomicWrite collides at seq 2, the rest must not
      // be stored
      var conflicting =
          store.write(
              List.of(
                  write("taken", 1, 1)
                      .copy(
                          CollectionConverters.asScala(
                                  List.of(
                                      PersistentRepr.apply(
                                          "x", 2, "taken", "", false, ActorRef.noSender(), "w2"),
                                      PersistentRepr.apply(
                                          "y", 3, "taken", "", false, ActorRef.noSender(), "w2")))
                              .toList()),
                  write("taken", 4, 5)));
      for (var f : ok) {
        assertEquals(List.of(Optional.empty(), Optional.empty()), f.get(10, TimeUnit.SECONDS));
      }
      ExecutionException failure =
          assertThrows(ExecutionException.class, () -> conflicting.get(10, TimeUnit.SECONDS));
      JournalConflictException conflict =
          assertInstanceOf(JournalConflictException.class, failure.getCause());
      assertEquals(2, conflict.sequenceNr());

      for (int e = 0; e < 50; e++) {
        assertEquals(
            List.of("e" + e + "-1", "e" + e + "-2", "e" + e + "-3"),
            replay(store, "e" + e, 1, Long.MAX_VALUE, Long.MAX_VALUE));
        assertEquals(3, store.highestSequenceNr("e" + e));
      }
      // the atomic write was not partially applied (seq 3 undone) and the later one (4..5) never
      // written
      assertEquals(
          List.of("taken-1", "taken-2"), replay(store, "taken", 1, Long.MAX_VALUE, Long.MAX_VALUE));
      assertEquals(2, store.highestSequenceNr("taken"));
      assertEquals(2, db.getCollection("journal").countDocuments(Filters.eq("pid", "taken")));
    }
  }

  @Test
  void anAtomicWriteCutShortByACrashIsNotReplayedAndItsRemnantMakesWayForTheNextWrite()
      throws Exception {
    MongoDatabase db = freshDatabase();
    var journal = db.getCollection("journal");
    try (MongoEventStore store = store(db)) {
      store.write(List.of(write("cut", 1, 2), write("cut", 3, 5))).get(10, TimeUnit.SECONDS);
      store.write(List.of(write("batch", 1, 1), write("batch", 2, 4))).get(10, TimeUnit.SECONDS);
      store.write(List.of(write("fine", 1, 3))).get(10, TimeUnit.SECONDS);
    }
    // what a crash leaves when it hits after the first documents of an atomic write were inserted
    // (or between a
    // conflict in its middle and the undoing of its prefix): the last ones never arrived
    journal.deleteOne(Filters.eq("_id", DocumentIds.of("cut", 5)));
    journal.deleteMany(Filters.in("_id", DocumentIds.of("batch", 3), DocumentIds.of("batch", 4)));
    try (MongoEventStore store = store(db)) {
      assertEquals(
          2, store.highestSequenceNr("cut"), "3..4 belong to a write that did not complete");
      assertEquals(
          List.of("cut-1", "cut-2"), replay(store, "cut", 1, Long.MAX_VALUE, Long.MAX_VALUE));
      assertEquals(
          java.util.Map.of("batch", 1L, "fine", 3L, "none", 0L),
          store.highestOf(List.of("batch", "fine", "none")),
          "the batched lookup of recovering entities as well");
      // the recovering entity writes those sequence numbers again: no conflict with the remnant
      assertEquals(
          List.of(Optional.empty()),
          store.write(List.of(write("cut", 3, 4))).get(10, TimeUnit.SECONDS));
      assertEquals(
          List.of("cut-1", "cut-2", "cut-3", "cut-4"),
          replay(store, "cut", 1, Long.MAX_VALUE, Long.MAX_VALUE));
      assertEquals(4, store.highestSequenceNr("cut"));
      assertEquals(1, journal.countDocuments(Filters.eq("pid", "batch")));
    }
  }

  @Test
  void completeAtomicWritesStayWholeAcrossDeletionAndOldJournalsReadAsBefore() throws Exception {
    MongoDatabase db = freshDatabase();
    var journal = db.getCollection("journal");
    try (MongoEventStore store = store(db)) {
      store.write(List.of(write("whole", 1, 6))).get(10, TimeUnit.SECONDS);
      store.deleteTo("whole", 3); // part of the write deleted on purpose is not a remnant
      assertEquals(6, store.highestSequenceNr("whole"));
      assertEquals(
          List.of("whole-4", "whole-5", "whole-6"),
          replay(store, "whole", 1, Long.MAX_VALUE, Long.MAX_VALUE));
      store.write(List.of(write("single", 1, 1), write("single", 2, 2))).get(10, TimeUnit.SECONDS);
      assertEquals(
          null,
          journal.find(Filters.eq("pid", "single")).first().get(MongoEventStore.AW_LAST),
          "a single-event write (most of them) carries no marks");
      store.write(List.of(write("old", 1, 3))).get(10, TimeUnit.SECONDS);
    }
    // a journal written before writes were marked: no marks, read as it is
    journal.updateMany(
        Filters.eq("pid", "old"),
        com.mongodb.client.model.Updates.combine(
            com.mongodb.client.model.Updates.unset(MongoEventStore.AW_FIRST),
            com.mongodb.client.model.Updates.unset(MongoEventStore.AW_LAST)));
    journal.deleteOne(Filters.eq("_id", DocumentIds.of("old", 3)));
    try (MongoEventStore store = store(db)) {
      assertEquals(6, store.highestSequenceNr("whole"));
      assertEquals(2, store.highestSequenceNr("old"));
      assertEquals(2, store.highestSequenceNr("single"));
    }
  }

  @Test
  void anAtomicWriteThatReopensAnEntityAfterClosingItLeavesItOpen() throws Exception {
    MongoDatabase db = freshDatabase();
    OpenEntities open = OpenEntities.of(db, "journal");
    try (MongoEventStore store = store(db)) {
      store
          .write(List.of(tagged("Task|t", 1, dev.anchor.persistence.LifecycleTags.OPEN_TAG)))
          .get(10, TimeUnit.SECONDS);
      store
          .write(List.of(tagged("Task|c", 1, dev.anchor.persistence.LifecycleTags.OPEN_TAG)))
          .get(10, TimeUnit.SECONDS);
      // a decision (closing) journaled with its outbox of effects still to deliver (reopening)
      AtomicWrite decided =
          AtomicWrite.apply(
              CollectionConverters.asScala(
                      List.of(
                          reprOf(
                              tagged("Task|t", 2, dev.anchor.persistence.LifecycleTags.CLOSE_TAG)),
                          reprOf(
                              tagged("Task|t", 3, dev.anchor.persistence.LifecycleTags.OPEN_TAG))))
                  .toList());
      store.write(List.of(decided)).get(10, TimeUnit.SECONDS);
      // a later closing of another entity: once it is applied, any closing of Task|t queued before
      // it is too
      store
          .write(List.of(tagged("Task|c", 2, dev.anchor.persistence.LifecycleTags.CLOSE_TAG)))
          .get(10, TimeUnit.SECONDS);
      long closed = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (open.list("Task|").contains("Task|c") && System.nanoTime() < closed) {
        Thread.onSpinWait();
      }
      assertEquals(List.of("Task|t"), open.list("Task|"));
      store
          .write(List.of(tagged("Task|t", 4, dev.anchor.persistence.LifecycleTags.CLOSE_TAG)))
          .get(10, TimeUnit.SECONDS);
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (!open.list("Task|").isEmpty() && System.nanoTime() < end) {
        Thread.onSpinWait();
      }
      assertEquals(List.of(), open.list("Task|"));
    }
  }

  private static PersistentRepr reprOf(AtomicWrite single) {
    return CollectionConverters.asJava(single.payload()).get(0);
  }

  private static AtomicWrite tagged(String pid, long seq, String tag) {
    Object payload =
        new org.apache.pekko.persistence.journal.Tagged(
            pid + "-" + seq, CollectionConverters.asScala(java.util.Set.of(tag, "other")).toSet());
    return AtomicWrite.apply(
        CollectionConverters.asScala(
                List.of(
                    PersistentRepr.apply(
                        payload, seq, pid, "", false, ActorRef.noSender(), "writer")))
            .toList());
  }

  @Test
  void anEntityIsOpenFromTheEventThatOpensItUntilTheOneThatClosesIt() throws Exception {
    MongoDatabase db = freshDatabase();
    OpenEntities open = OpenEntities.of(db, "journal");
    try (MongoEventStore store = store(db)) {
      store
          .write(List.of(tagged("Task|a", 1, dev.anchor.persistence.LifecycleTags.OPEN_TAG)))
          .get(10, TimeUnit.SECONDS);
      store
          .write(List.of(tagged("Task|b", 1, dev.anchor.persistence.LifecycleTags.OPEN_TAG)))
          .get(10, TimeUnit.SECONDS);
      store.write(List.of(write("Dag|c", 1, 1))).get(10, TimeUnit.SECONDS);
      // acknowledged means recorded as open already
      assertEquals(List.of("Task|a", "Task|b"), open.list("Task|").stream().sorted().toList());
      store
          .write(
              List.of(
                  write("Task|a", 2, 2),
                  tagged("Task|a", 3, dev.anchor.persistence.LifecycleTags.CLOSE_TAG)))
          .get(10, TimeUnit.SECONDS);
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (open.list("Task|").size() > 1 && System.nanoTime() < end) {
        Thread.onSpinWait();
      }
      assertEquals(List.of("Task|b"), open.list("Task|"));
      assertEquals(List.of(), open.list("Dag|"));
      // the lifecycle tags are the journal's business; other tags are stored as before
      assertEquals(
          List.of("other"),
          db.getCollection("journal")
              .find(Filters.eq("pid", "Task|b"))
              .first()
              .getList("tags", String.class));
      assertEquals(
          List.of("Task|a-1", "Task|a-2", "Task|a-3"),
          replay(store, "Task|a", 1, Long.MAX_VALUE, Long.MAX_VALUE));
    }
  }

  @Test
  void compactingKeepsExactlyTheOpenEntities() {
    MongoDatabase db = freshDatabase();
    OpenEntities open = OpenEntities.of(db, "journal");
    open.opened(List.of("Task|1", "Task|2", "Task|3"));
    open.opened(List.of("Task|4"));
    open.closed(List.of("Task|2", "Task|4"));
    open.forget(List.of("Task|1"));
    assertEquals(1, open.compact());
    assertEquals(1, db.getCollection("journal_open").countDocuments());
    assertEquals(List.of("Task|3"), open.list("Task|"));
    open.closed(List.of("Task|3"));
    assertEquals(0, open.compact());
    assertEquals(List.of(), open.list(""));
  }

  @Test
  void compactingThousandsOfMarkerDocumentsLeavesOneListingTheOpenOnes() {
    MongoDatabase db = freshDatabase();
    OpenEntities open = OpenEntities.of(db, "journal");
    // a busy node writes two marker documents per journal batch; compaction removes them in chunks
    for (int i = 0; i < 2_500; i++) {
      open.opened(List.of("Task|" + i));
      if (i % 2 == 0) open.closed(List.of("Task|" + i));
    }
    assertEquals(1_250, open.compact());
    assertEquals(1, db.getCollection("journal_open").countDocuments());
    assertEquals(1_250, open.list("Task|").size());
    assertTrue(open.list("Task|").contains("Task|1"));
    assertFalse(open.list("Task|").contains("Task|0"));
  }

  @Test
  void aScanHandsOverTheNewestEntitiesOfAPrefixWithTheirEventsInOrder() throws Exception {
    MongoDatabase db = freshDatabase();
    try (MongoEventStore store = store(db)) {
      store
          .write(
              List.of(write("Task|01-a", 1, 3), write("Task|02-b", 1, 20), write("Dag|03", 1, 1)))
          .get(10, TimeUnit.SECONDS);
    }
    JournalScan scan =
        new JournalScan(
            db,
            "journal",
            new PayloadCodec(org.apache.pekko.actor.typed.javadsl.Adapter.toClassic(kit.system())));
    java.util.Map<String, List<Object>> seen = new java.util.LinkedHashMap<>();
    System.err.println(
        "DEBUG heads " + db.getCollection("journal_heads").find().into(new ArrayList<>()));
    System.err.println(
        "DEBUG range "
            + db.getCollection("journal_heads")
                .find(com.mongodb.client.model.Filters.gte("_id", "Task|"))
                .into(new ArrayList<>()));
    assertEquals(2, scan.latestFirst("Task|", 10, seen::put));
    assertEquals(
        java.util.Map.of(
            "Task|02-b", range("Task|02-b", 20),
            "Task|01-a", List.of("Task|01-a-1", "Task|01-a-2", "Task|01-a-3")),
        seen);
    assertEquals(List.of("Task|02-b", "Task|01-a"), List.copyOf(seen.keySet()));
    seen.clear();
    assertEquals(1, scan.latestFirst("Task|", 1, seen::put));
    assertEquals(List.of("Task|02-b"), List.copyOf(seen.keySet()));
  }

  private static List<Object> range(String pid, int to) {
    List<Object> out = new ArrayList<>();
    for (int i = 1; i <= to; i++) out.add(pid + "-" + i);
    return out;
  }

  @Test
  void replayHonoursBoundsCountAndDeletion() throws Exception {
    try (MongoEventStore store = store(freshDatabase())) {
      store.write(List.of(write("p", 1, 4), write("p", 5, 10))).get(10, TimeUnit.SECONDS);
      assertEquals(List.of("p-3", "p-4", "p-5", "p-6", "p-7"), replay(store, "p", 3, 7, 100));
      assertEquals(List.of("p-2", "p-3", "p-4", "p-5"), replay(store, "p", 2, 100, 4));
      store.deleteTo("p", 6);
      assertEquals(
          List.of("p-7", "p-8", "p-9", "p-10"),
          replay(store, "p", 1, Long.MAX_VALUE, Long.MAX_VALUE));
      store.deleteTo("p", Long.MAX_VALUE);
      assertEquals(List.of(), replay(store, "p", 1, Long.MAX_VALUE, Long.MAX_VALUE));
      assertEquals(10, store.highestSequenceNr("p"));
    }
  }

  @Test
  void recoveringEntitiesGetTheirHighestSequenceNumbersInOneBatch() throws Exception {
    MongoDatabase db = freshDatabase();
    try (MongoEventStore store = store(db)) {
      store.write(List.of(write("short", 1, 2))).get(10, TimeUnit.SECONDS);
      store.write(List.of(write("full", 1, 8))).get(10, TimeUnit.SECONDS);
      store.write(List.of(write("long", 1, 40))).get(10, TimeUnit.SECONDS);
      store.write(List.of(write("gone", 1, 12))).get(10, TimeUnit.SECONDS);
      store.deleteTo("gone", 12);
    }
    // a short journal has no head document; a long one's head is behind, as after a crash before it
    // was raised
    var heads = db.getCollection("journal_heads");
    assertEquals(null, heads.find(Filters.eq("_id", "short")).first());
    heads.updateOne(
        Filters.eq("_id", "long"),
        com.mongodb.client.model.Updates.set(MongoEventStore.HIGHEST, 5L));
    try (MongoEventStore store = store(db)) {
      List<String> ids = List.of("new", "short", "full", "long", "gone");
      assertEquals(
          java.util.Map.of("new", 0L, "short", 2L, "full", 8L, "long", 40L, "gone", 12L),
          store.highestOf(ids));
      List<java.util.concurrent.CompletableFuture<Long>> each =
          ids.stream().map(store::highestSequenceNrAsync).toList();
      assertEquals(
          List.of(0L, 2L, 8L, 40L, 12L),
          each.stream().map(java.util.concurrent.CompletableFuture::join).toList());
    }
  }

  @Test
  void highestSequenceNumberIncludesEventsWhoseHeadUpdateWasLost() throws Exception {
    MongoDatabase db = freshDatabase();
    try (MongoEventStore store = store(db)) {
      store.write(List.of(write("crashy", 1, 200))).get(10, TimeUnit.SECONDS);
    }
    var headsCollection = db.getCollection("journal_heads");
    assertEquals(
        200L,
        headsCollection.find(Filters.eq("_id", "crashy")).first().get(MongoEventStore.HIGHEST));
    // as if the process died between storing the events and raising the head
    headsCollection.updateOne(
        Filters.eq("_id", "crashy"),
        com.mongodb.client.model.Updates.set(MongoEventStore.HIGHEST, 3L));
    try (MongoEventStore reopened = store(db)) {
      assertEquals(200, reopened.highestSequenceNr("crashy"));
      assertEquals(200, replay(reopened, "crashy", 1, Long.MAX_VALUE, Long.MAX_VALUE).size());
      // and the next write continues after it instead of colliding
      reopened.write(List.of(write("crashy", 201, 201))).get(10, TimeUnit.SECONDS);
      assertEquals(201, reopened.highestSequenceNr("crashy"));
    }
  }
}
