package dev.anchor.http;

import dev.anchor.AnchorNode;
import dev.anchor.feed.ChangeFeed;
import dev.anchor.feed.FeedEntry;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.javadsl.Source;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * The change feed as a stream for one SSE client: from just after {@code lastEventId} when the client resumes (so
 * nothing is missed), else from now. Each client tails Redis on its own connection (on the blocking-IO dispatcher),
 * closed when the client goes.
 */
final class FeedSource {
  private FeedSource() {}

  static Source<FeedEntry, NotUsed> events(AnchorNode node, String lastEventId, Predicate<FeedEntry> filter) {
    String resumeFrom = lastEventId != null && lastEventId.matches("\\d+-\\d+") ? lastEventId : null;
    return Source.<List<FeedEntry>, Cursor>unfoldResource(
            () -> new Cursor(node.feed().tail(node.stores().redisClient()),
                resumeFrom != null ? resumeFrom : node.feed().lastId()),
            Cursor::next,
            Cursor::close)
        .mapConcat(l -> l)
        .filter(filter::test);
  }

  private static final class Cursor {
    private final ChangeFeed.Tail tail;
    private String after;

    Cursor(ChangeFeed.Tail tail, String after) {
      this.tail = tail;
      this.after = after;
    }

    Optional<List<FeedEntry>> next() {
      List<FeedEntry> batch = tail.next(after, 500, Duration.ofSeconds(2));
      if (!batch.isEmpty()) after = batch.get(batch.size() - 1).id();
      return Optional.of(batch);
    }

    void close() {
      tail.close();
    }
  }
}
