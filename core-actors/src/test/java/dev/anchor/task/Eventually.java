package dev.anchor.task;

import java.time.Duration;

/**
 * Polls an assertion until it holds or a deadline passes (for effects that arrive asynchronously).
 */
public final class Eventually {
  private static final Duration DEADLINE = Duration.ofSeconds(5);

  private Eventually() {}

  public static void eventually(Runnable assertion) {
    long deadline = System.nanoTime() + DEADLINE.toNanos();
    while (true) {
      try {
        assertion.run();
        return;
      } catch (AssertionError e) {
        if (System.nanoTime() > deadline) throw e;
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted", ie);
      }
    }
  }
}
