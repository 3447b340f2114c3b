package dev.anchor.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anchor.feed.FeedEntry;
import java.util.Optional;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

class FeedFilterTest {
  private static FeedEntry entry(String kind, String event) {
    return new FeedEntry("1-0", kind, "x", event, "{}");
  }

  @Test
  void keepsOnlyTheKindsAndEventsAsked() {
    Predicate<FeedEntry> ends =
        FeedFilter.of(Optional.of("task"), Optional.of("Completed, Failed"));
    assertTrue(ends.test(entry("task", "Completed")));
    assertTrue(ends.test(entry("task", "Failed")));
    assertFalse(ends.test(entry("task", "Started")));
    assertFalse(ends.test(entry("dag", "Completed")));
    Predicate<FeedEntry> all = FeedFilter.of(Optional.empty(), Optional.empty());
    assertTrue(all.test(entry("node", "Quarantined")));
    assertTrue(FeedFilter.of(Optional.of("dag,app"), Optional.empty()).test(entry("app", "AppUp")));
  }

  @Test
  void aBadListIsA400NamingItsParameter() {
    assertEquals(
        "kind",
        assertThrows(BadRequest.class, () -> FeedFilter.of(Optional.of("tasks"), Optional.empty()))
            .field());
    assertEquals(
        "events",
        assertThrows(BadRequest.class, () -> FeedFilter.of(Optional.empty(), Optional.of("A,,B")))
            .field());
    assertEquals(
        "events",
        assertThrows(
                BadRequest.class, () -> FeedFilter.of(Optional.empty(), Optional.of("<script>")))
            .field());
  }
}
