package dev.anchor.persistence.mongo;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.scalatest.tools.Runner;

/** Pekko's own journal and snapshot-store TCK against the plugins on the embedded (in-memory) server. */
class PekkoTckTest {

    private static EmbeddedMongoServer server;

    @BeforeAll
    static void start() {
        server = EmbeddedMongoServer.inMemory();
        PekkoTck.connectionString = server.connectionString();
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void journalPassesTck() {
        run(PekkoTck.JournalTck.class);
    }

    @Test
    void snapshotStorePassesTck() {
        run(PekkoTck.SnapshotStoreTck.class);
    }

    private static void run(Class<?> suite) {
        synchronized (PekkoTck.failures) {
            PekkoTck.failures.clear();
            PekkoTck.succeeded = 0;
        }
        boolean passed = Runner.run(new String[] {"-s", suite.getName(), "-oW",
                "-C", PekkoTck.CollectingReporter.class.getName()});
        synchronized (PekkoTck.failures) {
            assertTrue(passed && PekkoTck.failures.isEmpty() && PekkoTck.succeeded > 0,
                    suite.getSimpleName() + ": " + PekkoTck.succeeded + " passed, failed: "
                            + String.join("\n  ", PekkoTck.failures));
        }
    }
}
