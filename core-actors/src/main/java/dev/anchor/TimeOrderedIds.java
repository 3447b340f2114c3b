package dev.anchor;

import java.security.SecureRandom;
import java.util.UUID;

/**
 * New task, DAG and app ids: UUID version 7 (RFC 9562) — a millisecond timestamp, then a counter
 * within the millisecond, then 62 random bits. Still a UUID to clients and as unguessable as a
 * random one in its random part; but ids created together sort together, so the journal's {@code
 * _id} index (on MongoDB and in the embedded store) grows at its right edge instead of rewriting
 * pages all over the tree for every batch of new tasks.
 */
public final class TimeOrderedIds {

  private static final SecureRandom RANDOM = new SecureRandom();
  private static long lastMillis;
  private static int counter;

  private TimeOrderedIds() {}

  public static String next() {
    long millis;
    int seq;
    synchronized (TimeOrderedIds.class) {
      millis = Math.max(System.currentTimeMillis(), lastMillis);
      if (millis == lastMillis) {
        if (++counter > 0xFFF) { // 4,096 ids in one millisecond: borrow the next one
          millis++;
          counter = RANDOM.nextInt(0x800);
        }
      } else {
        counter = RANDOM.nextInt(0x800); // start low enough to leave room for a burst
      }
      lastMillis = millis;
      seq = counter;
    }
    long high = (millis << 16) | 0x7000L | seq;
    long low = (RANDOM.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
    return new UUID(high, low).toString();
  }
}
