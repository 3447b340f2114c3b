package dev.anchor.http;

import dev.anchor.feed.FeedFanout;

/** The change feed as the event-stream routes read it. */
public interface EventFeed {
  /** The newest entry's id: where a stream that starts now begins. */
  String lastId();

  /** The JVM's one shared feed reader (started by its first client). */
  FeedFanout fanout();
}
