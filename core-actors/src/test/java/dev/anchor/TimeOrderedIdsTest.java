package dev.anchor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class TimeOrderedIdsTest {

  @Test
  void idsAreVersion7UuidsThatSortInCreationOrder() {
    List<String> ids = new ArrayList<>();
    long before = System.currentTimeMillis();
    for (int i = 0;
        i < 20_000;
        i++) { // several thousand per millisecond: exercises the counter overflow
      ids.add(TimeOrderedIds.next());
    }
    assertEquals(ids.size(), new HashSet<>(ids).size(), "unique");
    for (int i = 1; i < ids.size(); i++) {
      assertTrue(ids.get(i - 1).compareTo(ids.get(i)) < 0, ids.get(i - 1) + " then " + ids.get(i));
    }
    UUID first = UUID.fromString(ids.getFirst());
    assertEquals(7, first.version());
    assertEquals(2, first.variant());
    long millis = first.getMostSignificantBits() >>> 16;
    assertTrue(
        millis >= before && millis <= System.currentTimeMillis() + 20, "timestamp " + millis);
  }
}
