package dev.anchor.persistence.mongo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.mongodb.client.model.Filters;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.bson.Document;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MongoStoreTest {

  private static Config config(String uri, Path dataDir) {
    return ConfigFactory.parseString("anchor.mongo.server-selection-timeout = 1500ms")
        .withFallback(
            ConfigFactory.parseMap(
                java.util.Map.of("anchor.mongo.uri", uri, "anchor.data-dir", dataDir.toString())))
        .withFallback(ConfigFactory.load());
  }

  @Test
  void embeddedFileStoreKeepsDocumentsAcrossRestart(@TempDir Path dir) {
    try (var ignored = new Closer(MongoStore.open(config("embedded", dir)))) {
      ignored
          .store
          .database()
          .getCollection("things")
          .insertOne(new Document("_id", "a").append("v", 42));
    }
    assertTrue(Files.exists(dir.resolve("mongo.mv")), "data file " + dir.resolve("mongo.mv"));
    try (var reopened = new Closer(MongoStore.open(config("embedded", dir)))) {
      Document found =
          reopened.store.database().getCollection("things").find(Filters.eq("_id", "a")).first();
      assertEquals(42, found.getInteger("v"));
    }
  }

  @Test
  void everyFsyncPolicyKeepsFlushedDocumentsAndABadOneIsNamed(@TempDir Path dir) {
    for (String policy : new String[] {"always", "everysec", "off"}) {
      Config c =
          ConfigFactory.parseMap(java.util.Map.of("anchor.mongo.embedded-fsync", policy))
              .withFallback(config("embedded", dir));
      try (var ignored = new Closer(MongoStore.open(c))) {
        ignored.store.database().getCollection("things").insertOne(new Document("_id", policy));
        ignored.store.flush();
      }
    }
    try (var reopened = new Closer(MongoStore.open(config("embedded", dir)))) {
      assertEquals(3, reopened.store.database().getCollection("things").countDocuments());
    }
    Config bad =
        ConfigFactory.parseMap(java.util.Map.of("anchor.mongo.embedded-fsync", "sometimes"))
            .withFallback(config("embedded", dir));
    MongoStoreUnavailableException e =
        assertThrows(MongoStoreUnavailableException.class, () -> MongoStore.open(bad));
    assertTrue(e.getMessage().contains("anchor.mongo.embedded-fsync"), e.getMessage());
  }

  @Test
  void inMemoryStoreServesQueries() {
    try (var c = new Closer(MongoStore.open(config("embedded-memory", Path.of("unused"))))) {
      var things = c.store.database().getCollection("things");
      things.insertOne(new Document("_id", "x"));
      assertEquals(1, things.countDocuments());
      assertTrue(c.store.embedded().isPresent());
    }
  }

  @Test
  void unreachableUriFailsNamingTheUri() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      closedPort = s.getLocalPort();
    }
    String uri = "mongodb://user:secret@127.0.0.1:" + closedPort + "/x";
    MongoStoreUnavailableException e =
        assertThrows(
            MongoStoreUnavailableException.class,
            () -> MongoStore.open(config(uri, Path.of("unused"))));
    assertTrue(e.getMessage().contains("127.0.0.1:" + closedPort), e.getMessage());
    assertTrue(!e.getMessage().contains("secret"), "password must not leak: " + e.getMessage());
  }

  private record Closer(MongoStore store) implements AutoCloseable {
    @Override
    public void close() {
      store.close();
    }
  }
}
