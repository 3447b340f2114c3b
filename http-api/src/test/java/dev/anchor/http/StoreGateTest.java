package dev.anchor.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class StoreGateTest {
  private static Throwable failureOf(CompletableFuture<?> f) throws Exception {
    try {
      f.get(10, TimeUnit.SECONDS);
      throw new AssertionError("expected a failure, got " + f.join());
    } catch (ExecutionException e) {
      return e.getCause();
    }
  }

  @Test
  void anAnsweredSubmissionKeepsItsAnswer() throws Exception {
    CompletableFuture<String> call = new CompletableFuture<>();
    var out =
        StoreGate.abandonIfStoreDown(SubmitCheck.ALWAYS, call, Duration.ofSeconds(5))
            .toCompletableFuture();
    call.complete("taken");
    assertEquals("taken", out.get(10, TimeUnit.SECONDS));
  }

  @Test
  void aStoreGoingAwayWhileASubmissionWaitsAnswersItStoreDown() throws Exception {
    AtomicReference<String> why = new AtomicReference<>();
    var out =
        StoreGate.abandonIfStoreDown(why::get, new CompletableFuture<>(), Duration.ofSeconds(30))
            .toCompletableFuture();
    why.set("the store is unreachable");
    Throwable t = failureOf(out);
    assertInstanceOf(StoreGate.StoreDown.class, t);
    assertTrue(t.getMessage().contains("the store is unreachable"), t.getMessage());
  }

  @Test
  void aSubmissionNeverJournaledIsAnsweredAtItsDeadline() throws Exception {
    var out =
        StoreGate.abandonIfStoreDown(
                SubmitCheck.ALWAYS, new CompletableFuture<>(), Duration.ofMillis(300))
            .toCompletableFuture();
    Throwable t = failureOf(out);
    assertInstanceOf(StoreGate.StoreDown.class, t);
    assertTrue(t.getMessage().contains("did not take the submission"), t.getMessage());
  }
}
