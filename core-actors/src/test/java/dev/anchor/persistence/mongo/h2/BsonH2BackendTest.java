package dev.anchor.persistence.mongo.h2;

import static com.mongodb.client.model.Filters.eq;
import static com.mongodb.client.model.Filters.in;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.mongodb.MongoWriteException;
import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import com.mongodb.client.MongoCollection;
import com.mongodb.client.model.Updates;
import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.KeyValue;
import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.bson.Document;
import org.bson.types.Binary;
import org.bson.types.ObjectId;
import org.h2.mvstore.MVStore;
import org.h2.mvstore.WriteBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The embedded store's file format, through the real MongoDB driver. */
class BsonH2BackendTest {

  @TempDir Path dir;

  private <T> T withServer(
      Function<MVStore, MongoBackend> backend, Function<MongoCollection<Document>, T> work) {
    MVStore store = new MVStore.Builder().fileName(dir.resolve("mongo.mv").toString()).open();
    MongoServer server = new MongoServer(backend.apply(store));
    server.bind("127.0.0.1", 0);
    try (MongoClient client =
        MongoClients.create("mongodb://127.0.0.1:" + server.getLocalAddress().getPort())) {
      return work.apply(client.getDatabase("anchor").getCollection("journal"));
    } finally {
      server.shutdownNow(); // closes the backend and the file
    }
  }

  private <T> T withBson(Function<MongoCollection<Document>, T> work) {
    return withServer(BsonH2Backend::new, work);
  }

  private static Document event(String id, long seq) {
    return new Document("_id", id)
        .append("pid", id.substring(0, id.indexOf('|')))
        .append("seq", seq)
        .append("ts", new Date(1_700_000_000_000L + seq))
        .append("p", new Binary(new byte[] {1, 2, (byte) seq}))
        .append("tags", List.of("open", "task"))
        .append("nested", new Document("n", 3.5).append("b", true));
  }

  @Test
  void documentsAndTheirIdIndexSurviveARestart() {
    withBson(
        c -> {
          for (int i = 0; i < 200; i++) {
            c.insertOne(event("task-" + (i % 20) + "|" + String.format("%019d", i), i));
          }
          c.updateOne(eq("_id", "task-3|" + String.format("%019d", 3)), Updates.set("seq", 42L));
          c.deleteOne(eq("_id", "task-4|" + String.format("%019d", 4)));
          return null;
        });
    withBson(
        c -> {
          assertEquals(199, c.countDocuments());
          Document read = c.find(eq("_id", "task-5|" + String.format("%019d", 5))).first();
          assertEquals(event("task-5|" + String.format("%019d", 5), 5).toJson(), read.toJson());
          assertEquals(
              42L, c.find(eq("_id", "task-3|" + String.format("%019d", 3))).first().getLong("seq"));
          assertNull(c.find(eq("_id", "task-4|" + String.format("%019d", 4))).first());
          List<Document> some =
              c.find(
                      in(
                          "_id",
                          List.of(
                              "task-1|" + String.format("%019d", 1),
                              "task-1|" + String.format("%019d", 21),
                              "nope|1")))
                  .into(new ArrayList<>());
          assertEquals(2, some.size());
          // the unique _id index still holds after reopening
          MongoWriteException dup =
              assertThrows(
                  MongoWriteException.class,
                  () -> c.insertOne(event("task-7|" + String.format("%019d", 7), 7)));
          assertEquals(11000, dup.getError().getCode());
          return null;
        });
  }

  @Test
  void objectIdAndNumericIdsWork() {
    ObjectId oid = new ObjectId();
    withBson(
        c -> {
          c.insertOne(new Document("_id", oid).append("o", List.of("a")));
          c.insertOne(new Document("_id", 7L).append("o", List.of("b")));
          return null;
        });
    withBson(
        c -> {
          assertEquals(List.of("a"), c.find(eq("_id", oid)).first().getList("o", String.class));
          assertThrows(MongoWriteException.class, () -> c.insertOne(new Document("_id", oid)));
          // as on MongoDB, 7 and 7L are the same _id
          assertEquals(
              11000,
              assertThrows(MongoWriteException.class, () -> c.insertOne(new Document("_id", 7)))
                  .getError()
                  .getCode());
          assertEquals(List.of("b"), c.find(eq("_id", 7)).first().getList("o", String.class));
          assertEquals(2, c.countDocuments());
          return null;
        });
  }

  @Test
  void aFileInTheLibrarysOwnFormatIsMigratedAtOpen() {
    withServer(
        H2Backend::new,
        c -> {
          for (int i = 0; i < 50; i++) {
            c.insertOne(event("old-" + i + "|" + String.format("%019d", 1), i));
          }
          return null;
        });
    withBson(
        c -> {
          assertEquals(50, c.countDocuments());
          String id = "old-9|" + String.format("%019d", 1);
          assertEquals(event(id, 9).toJson(), c.find(eq("_id", id)).first().toJson());
          assertThrows(MongoWriteException.class, () -> c.insertOne(event(id, 9)));
          c.insertOne(event("new-1|" + String.format("%019d", 1), 1));
          return null;
        });
    MVStore store = new MVStore.Builder().fileName(dir.resolve("mongo.mv").toString()).open();
    try {
      assertTrue(
          store.getMapNames().stream().noneMatch(LegacyFormat::isLegacy),
          store.getMapNames().toString());
    } finally {
      store.close();
    }
    withBson(
        c -> {
          assertEquals(51, c.countDocuments());
          return null;
        });
  }

  @Test
  void keyOrderIsTotalAndKeysRoundTrip() {
    Random random = new Random(7);
    List<KeyValue> keys = new ArrayList<>();
    Object[] samples = {
      null,
      Missing.getInstance(),
      true,
      false,
      1,
      1L,
      1.0,
      -3,
      "a",
      "ab",
      "",
      "\uD83D\uDE00",
      new de.bwaldvogel.mongo.bson.ObjectId(),
      new java.util.UUID(1, 2)
    };
    for (int i = 0; i < 300; i++) {
      int n = 1 + random.nextInt(2);
      Object[] values = new Object[n];
      for (int j = 0; j < n; j++) {
        values[j] =
            random.nextInt(4) == 0
                ? "k" + random.nextInt(50)
                : samples[random.nextInt(samples.length)];
      }
      keys.add(new KeyValue(values));
    }
    KeyValueType type = KeyValueType.INSTANCE;
    for (KeyValue a : keys) {
      WriteBuffer buff = new WriteBuffer();
      type.write(buff, a);
      KeyValue back = type.read(buff.getBuffer().flip());
      assertEquals(0, type.compare(a, back), a + " vs " + back);
      for (KeyValue b : keys) {
        int ab = Integer.signum(type.compare(a, b));
        assertEquals(-ab, Integer.signum(type.compare(b, a)), a + " vs " + b);
        if (ab == 0) {
          assertEquals(a.toString(), b.toString());
        }
      }
    }
    KeyValue[] sorted = keys.toArray(KeyValue[]::new);
    java.util.Arrays.sort(sorted, type); // throws if the order is not transitive enough to sort
    for (int i = 1; i < sorted.length; i++) {
      assertTrue(type.compare(sorted[i - 1], sorted[i]) <= 0);
    }
    assertArrayEquals(
        new int[] {-1},
        new int[] {Integer.signum(type.compare(new KeyValue("a"), new KeyValue("a", 1)))});
  }
}
