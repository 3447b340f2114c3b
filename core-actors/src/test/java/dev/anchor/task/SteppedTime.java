package dev.anchor.task;

import java.time.Duration;
import org.apache.pekko.actor.testkit.typed.javadsl.ManualTime;

/** Moves an entity test's clock and manual scheduler together, as real time would. */
final class SteppedTime {
  private static final Duration STEP = Duration.ofSeconds(5);

  private SteppedTime() {}

  /**
   * In steps of at most 5 s, each ended by {@code roundTrip} to the entity. A journal write that a
   * timer started must finish before the clock jumps on: one jump past the journal's
   * circuit-breaker timeout (10 s, on the same manual scheduler) failed the write and left the
   * entity in its restart backoff (seen as a missing reply in
   * VerifiedTaskTest.aReplicaThatNeverAnswersIsStoppedAndReplaced).
   */
  static void passes(Duration d, MutableClock clock, ManualTime manualTime, Runnable roundTrip) {
    for (Duration left = d; !left.isZero() && !left.isNegative(); left = left.minus(STEP)) {
      Duration s = left.compareTo(STEP) < 0 ? left : STEP;
      clock.advance(s);
      manualTime.timePasses(s);
      roundTrip.run(); // whatever the timers sent has been handled once this returns
    }
  }
}
