package dev.anchor.http;

import dev.anchor.feed.FeedEntry;
import dev.anchor.feed.FeedFanout;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import org.apache.pekko.NotUsed;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.javadsl.Source;

/**
 * The change feed as a stream for one SSE client: from just after {@code lastEventId} when the
 * client resumes (so nothing is missed), else from now. Clients share the JVM's one feed reader
 * ({@link dev.anchor.feed.FeedFanout}); one that resumes from far back, or reads slower than
 * changes come, catches up from Redis.
 */
final class FeedSource {
  private FeedSource() {}

  static Source<FeedEntry, NotUsed> events(
      EventFeed feed, String lastEventId, Predicate<FeedEntry> filter) {
    String resumeFrom = isStreamId(lastEventId) ? lastEventId : null;
    return Source.lazySource(
            () -> {
              FeedFanout fanout = feed.fanout();
              String start = resumeFrom != null ? resumeFrom : fanout.position();
              return Source.unfoldAsync(
                  start,
                  after ->
                      fanout
                          .after(after, 500)
                          .thenApply(
                              batch ->
                                  batch.isEmpty()
                                      ? Optional.<Pair<String, List<FeedEntry>>>empty()
                                      : Optional.of(
                                          Pair.create(batch.get(batch.size() - 1).id(), batch))));
            })
        .mapMaterializedValue(f -> NotUsed.getInstance())
        .mapConcat(l -> l)
        .filter(filter::test);
  }

  /**
   * An id Redis can read the stream after: two unsigned 64-bit numbers. Anything else is ignored
   * (the stream starts from now): "1-99999999999999999999" made XREAD fail, and the connection
   * closed without an answer (found by HostileInputIT).
   */
  static boolean isStreamId(String id) {
    if (id == null || !id.matches("\\d{1,20}-\\d{1,20}")) return false;
    int dash = id.indexOf('-');
    try {
      Long.parseUnsignedLong(id.substring(0, dash));
      Long.parseUnsignedLong(id.substring(dash + 1));
      return true;
    } catch (NumberFormatException e) {
      return false;
    }
  }
}
