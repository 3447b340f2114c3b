package dev.anchor.persistence.mongo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.mongodb.client.model.Filters;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.bson.Document;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The journal behind real persistent actors: durability across a restart and refusal of a forked
 * history.
 */
class MongoJournalTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(15);

  static Config config(String uri, Path dataDir) {
    return ConfigFactory.parseMap(
            Map.of("anchor.mongo.uri", uri, "anchor.data-dir", dataDir.toString()))
        .withFallback(
            ConfigFactory.parseString(
                """
                        pekko.persistence.journal.plugin = "anchor.journal"
                        pekko.persistence.snapshot-store.plugin = "anchor.snapshot-store"
                        """))
        .withFallback(ConfigFactory.load());
  }

  private static void append(ActorTestKit kit, ActorRef<AppendLog.Command> log, String value) {
    TestProbe<Done> done = kit.createTestProbe();
    log.tell(new AppendLog.Append(value, done.getRef()));
    done.expectMessage(TIMEOUT, Done.getInstance());
  }

  private static List<String> values(ActorTestKit kit, ActorRef<AppendLog.Command> log) {
    TestProbe<AppendLog.State> state = kit.createTestProbe();
    log.tell(new AppendLog.Get(state.getRef()));
    return state.expectMessageClass(AppendLog.State.class, TIMEOUT).values();
  }

  @Test
  void eventsAndSnapshotsSurviveClosingAndReopeningTheH2File(@TempDir Path dataDir)
      throws Exception {
    List<String> expectedA = new ArrayList<>();
    List<String> expectedB = new ArrayList<>();
    ActorTestKit first = ActorTestKit.create("first", config("embedded", dataDir));
    try {
      var a = first.spawn(AppendLog.withSnapshots("entity-a", 7));
      var b = first.spawn(AppendLog.create("entity-b"));
      for (int i = 0; i < 25; i++) {
        append(first, a, "a" + i);
        expectedA.add("a" + i);
        if (i % 2 == 0) {
          append(first, b, "b" + i);
          expectedB.add("b" + i);
        }
      }
    } finally {
      first.shutdownTestKit();
    }
    assertTrue(Files.size(dataDir.resolve("mongo.mv")) > 0, "H2 file written");

    ActorTestKit second = ActorTestKit.create("second", config("embedded", dataDir));
    try {
      assertTrue(MongoStore.get(second.system()).embedded().orElseThrow().file().isPresent());
      var a = second.spawn(AppendLog.withSnapshots("entity-a", 7));
      var b = second.spawn(AppendLog.create("entity-b"));
      assertEquals(expectedA, values(second, a));
      assertEquals(expectedB, values(second, b));
      // recovered with the right sequence number: the next event is accepted and kept
      append(second, b, "after-restart");
      expectedB.add("after-restart");
      var events = MongoStore.get(second.system()).database().getCollection("journal");
      assertEquals(expectedB.size(), events.countDocuments(Filters.eq("pid", "entity-b")));
      var snapshots = MongoStore.get(second.system()).database().getCollection("snapshots");
      assertTrue(
          snapshots.countDocuments(Filters.eq("pid", "entity-a")) > 0,
          "snapshots of entity-a stored");
    } finally {
      second.shutdownTestKit();
    }
  }

  @Test
  void aSecondWriterOfTheSameSequenceNumberIsRejectedAndHistoryDoesNotFork() {
    try (EmbeddedMongoServer server = EmbeddedMongoServer.inMemory()) {
      Path unused = Path.of("unused");
      ActorTestKit sideA = ActorTestKit.create("sideA", config(server.connectionString(), unused));
      ActorTestKit sideB = ActorTestKit.create("sideB", config(server.connectionString(), unused));
      try {
        // both sides of a partition run the same entity; B recovered before A wrote anything
        var onB = sideB.spawn(AppendLog.create("split"));
        assertEquals(List.of(), values(sideB, onB));
        var onA = sideA.spawn(AppendLog.create("split"));
        append(sideA, onA, "a1");
        append(sideA, onA, "a2");

        TestProbe<Done> bDone = sideB.createTestProbe();
        onB.tell(new AppendLog.Append("b1", bDone.getRef()));
        bDone.expectTerminated(onB, TIMEOUT); // persist failure stops B's incarnation
        bDone.expectNoMessage(Duration.ofMillis(100));

        append(sideA, onA, "a3");
        var recovered = sideB.spawn(AppendLog.create("split"));
        assertEquals(List.of("a1", "a2", "a3"), values(sideB, recovered));

        var events = MongoStore.get(sideA.system()).database().getCollection("journal");
        List<Document> stored = events.find(Filters.eq("pid", "split")).into(new ArrayList<>());
        assertEquals(3, stored.size());
      } finally {
        sideA.shutdownTestKit();
        sideB.shutdownTestKit();
      }
    }
  }

  @Test
  void anAcknowledgedEventIsInTheH2FileBeforeAnyCleanShutdown(
      @TempDir Path dataDir, @TempDir Path copyDir) throws Exception {
    ActorTestKit kit = ActorTestKit.create("crash", config("embedded", dataDir));
    try {
      var log = kit.spawn(AppendLog.create("durable"));
      append(kit, log, "acknowledged");
      // the file as a crash right now would leave it
      Files.copy(dataDir.resolve("mongo.mv"), copyDir.resolve("mongo.mv"));
    } finally {
      kit.shutdownTestKit();
    }
    try (EmbeddedMongoServer copy = EmbeddedMongoServer.inDirectory(copyDir);
        var client = com.mongodb.client.MongoClients.create(copy.connectionString())) {
      Document event =
          client
              .getDatabase("anchor")
              .getCollection("journal")
              .find(Filters.eq("_id", DocumentIds.of("durable", 1)))
              .first();
      assertTrue(
          event != null,
          "acknowledged event missing from the file copied right after the acknowledgement");
    }
  }
}
