package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The one wait of the end-to-end tests: what it returns, retries and says when it gives up. */
class PollTest {
  @Test
  void returnsTheFirstValueTheConditionAccepts() throws Exception {
    AtomicInteger reads = new AtomicInteger();
    int value =
        Poll.until("three reads", Duration.ofSeconds(30), reads::incrementAndGet, n -> n >= 3);
    assertEquals(3, value);
    assertEquals(3, reads.get());
  }

  @Test
  void anIoExceptionIsNotYetAndTheWaitGoesOn() throws Exception {
    AtomicInteger reads = new AtomicInteger();
    String value =
        Poll.until(
            "a node that listens at the second try",
            Duration.ofSeconds(30),
            () -> {
              if (reads.incrementAndGet() == 1) throw new IOException("connection refused");
              return "up";
            },
            "up"::equals);
    assertEquals("up", value);
  }

  @Test
  void givingUpNamesWhatWasAwaitedAndWhatWasLastSeen() {
    AssertionError e =
        assertThrows(
            AssertionError.class,
            () -> Poll.until("the answer", Duration.ofMillis(300), () -> 41, n -> n == 42));
    assertTrue(e.getMessage().contains("awaited the answer"), e.getMessage());
    assertTrue(e.getMessage().contains("last seen: 41"), e.getMessage());
  }

  @Test
  void anAssertionInTheProbeEndsTheWaitAtOnce() {
    AssertionError died = new AssertionError("the process died");
    AssertionError e =
        assertThrows(
            AssertionError.class,
            () ->
                Poll.until(
                    "never",
                    Duration.ofMinutes(10),
                    () -> {
                      throw died;
                    }));
    assertSame(died, e);
  }
}
