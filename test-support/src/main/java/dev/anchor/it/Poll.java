package dev.anchor.it;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * The one way the end-to-end tests and benches wait: ask again until a condition holds or a
 * deadline passes, then fail naming what was awaited and what was last seen. Nothing waits for a
 * fixed time instead.
 *
 * <p>An {@link IOException} from a probe (a node not listening yet, a connection reset) counts as
 * "not yet"; any other exception, and an {@link AssertionError} a probe throws on purpose (e.g.
 * "the process died"), ends the wait at once.
 */
public final class Poll {
  /** How often a condition is asked again. */
  public static final Duration INTERVAL = Duration.ofMillis(250);

  private Poll() {}

  /** A value read from the system under test. */
  public interface Probe<T> {
    T read() throws Exception;
  }

  /** A yes/no question asked of the system under test. */
  public interface Condition {
    boolean holds() throws Exception;
  }

  /**
   * Reads {@code probe} until {@code done} accepts the value, and returns that value; fails after
   * {@code timeout} with "{@code what} not reached within …; last seen: …".
   */
  public static <T> T until(
      String what, Duration timeout, Probe<T> probe, Predicate<? super T> done) throws Exception {
    return until(what, timeout, INTERVAL, probe, done);
  }

  /**
   * As {@link #until(String, Duration, Probe, Predicate)}, asking every {@code interval} (longer
   * for a probe that costs the system under test many requests).
   */
  public static <T> T until(
      String what, Duration timeout, Duration interval, Probe<T> probe, Predicate<? super T> done)
      throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    Object last = "(nothing read yet)";
    while (true) {
      try {
        T value = probe.read();
        last = value;
        if (done.test(value)) return value;
      } catch (IOException notYet) {
        last = notYet;
      }
      if (System.nanoTime() >= deadline)
        throw new AssertionError(
            "awaited " + what + ": not reached within " + timeout + "; last seen: " + clip(last));
      TimeUnit.NANOSECONDS.sleep(Math.min(interval.toNanos(), deadline - System.nanoTime() + 1));
    }
  }

  /** Asks {@code condition} until it holds; fails after {@code timeout} naming {@code what}. */
  public static void until(String what, Duration timeout, Condition condition) throws Exception {
    until(what, timeout, condition::holds, Boolean::booleanValue);
  }

  static String clip(Object o) {
    String s = String.valueOf(o);
    return s.length() <= 4000 ? s : s.substring(0, 4000) + "… (" + s.length() + " chars)";
  }
}
