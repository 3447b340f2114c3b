package dev.anchor.persistence.mongo;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.persistence.japi.journal.JavaJournalSpec;
import org.apache.pekko.persistence.japi.snapshot.JavaSnapshotStoreSpec;
import org.scalatest.Reporter;
import org.scalatest.events.Event;
import org.scalatest.events.RunAborted;
import org.scalatest.events.SuiteAborted;
import org.scalatest.events.TestFailed;
import org.scalatest.events.TestSucceeded;

/**
 * Runs Pekko's persistence TCK (ScalaTest suites) against the plugins, for {@link PekkoTckTest}.
 */
final class PekkoTck {

  /** Where the suites' actor systems connect; set by the JUnit test before running them. */
  static volatile String connectionString;

  private static int databaseCounter;

  static final List<String> failures = new ArrayList<>();
  static int succeeded;

  private PekkoTck() {}

  static synchronized Config tckConfig() {
    return ConfigFactory.parseString(
        """
                pekko.persistence.journal.plugin = "anchor.journal"
                pekko.persistence.snapshot-store.plugin = "anchor.snapshot-store"
                anchor.mongo.uri = "%s"
                anchor.mongo.database = "tck%d"
                """
            .formatted(connectionString, ++databaseCounter));
  }

  public static final class JournalTck extends JavaJournalSpec {
    public JournalTck() {
      super(PekkoTck.tckConfig());
    }
  }

  public static final class SnapshotStoreTck extends JavaSnapshotStoreSpec {
    public SnapshotStoreTck() {
      super(PekkoTck.tckConfig());
    }
  }

  /**
   * ScalaTest reporter (instantiated by the Runner through {@code -C}) that collects the outcome.
   */
  public static final class CollectingReporter implements Reporter {
    @Override
    public void apply(Event event) {
      synchronized (failures) {
        if (event instanceof TestSucceeded) {
          succeeded++;
        } else if (event instanceof TestFailed f) {
          failures.add(f.suiteName() + ": " + f.testName() + " — " + f.message());
        } else if (event instanceof SuiteAborted a) {
          failures.add(a.suiteName() + " aborted — " + a.message());
        } else if (event instanceof RunAborted a) {
          failures.add("run aborted — " + a.message());
        }
      }
    }
  }
}
