package dev.anchor.persistence.mongo;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.scalatest.tools.Runner;

/**
 * Pekko's own journal and snapshot-store TCK against the plugins, on the embedded server with the
 * in-memory backend and with the H2 file backend (the default for a single node).
 */
class PekkoTckTest {

  private static EmbeddedMongoServer memory;
  private static EmbeddedMongoServer h2File;
  private static Path h2Dir;

  @BeforeAll
  static void start() throws Exception {
    memory = EmbeddedMongoServer.inMemory();
    h2Dir = Files.createTempDirectory("tck-h2");
    h2File = EmbeddedMongoServer.inDirectory(h2Dir);
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      if (memory != null) {
        memory.close();
      }
    } finally {
      if (h2File != null) {
        h2File.close();
      }
      if (h2Dir != null) {
        try (var files = Files.walk(h2Dir)) {
          files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
      }
    }
  }

  @Test
  void journalPassesTck() {
    run(memory, PekkoTck.JournalTck.class);
  }

  @Test
  void snapshotStorePassesTck() {
    run(memory, PekkoTck.SnapshotStoreTck.class);
  }

  @Test
  void journalPassesTckOnH2File() {
    run(h2File, PekkoTck.JournalTck.class);
  }

  @Test
  void snapshotStorePassesTckOnH2File() {
    run(h2File, PekkoTck.SnapshotStoreTck.class);
  }

  private static void run(EmbeddedMongoServer server, Class<?> suite) {
    synchronized (PekkoTck.failures) {
      PekkoTck.failures.clear();
      PekkoTck.succeeded = 0;
    }
    PekkoTck.connectionString = server.connectionString();
    boolean passed =
        Runner.run(
            new String[] {
              "-s", suite.getName(), "-oW", "-C", PekkoTck.CollectingReporter.class.getName()
            });
    synchronized (PekkoTck.failures) {
      assertTrue(
          passed && PekkoTck.failures.isEmpty() && PekkoTck.succeeded > 0,
          suite.getSimpleName()
              + " on "
              + server
              + ": "
              + PekkoTck.succeeded
              + " passed, failed: "
              + String.join("\n  ", PekkoTck.failures));
    }
  }
}
