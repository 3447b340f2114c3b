package dev.anchor.http;

import dev.anchor.feed.FeedEntry;
import java.util.Arrays;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * Which changes one subscriber of {@code GET /api/events} wants: {@code kind} (task, dag, app,
 * node) and {@code events} (names such as Completed,Failed), each a comma-separated list, both
 * optional. Like Bull's QueueEvents listeners: a client waiting for results takes only the ends,
 * and the node encodes and sends a third of the changes.
 */
final class FeedFilter {
  static final Set<String> KINDS = Set.of("task", "dag", "app", "node");
  private static final int MAX_NAMES = 50;

  private FeedFilter() {}

  static Predicate<FeedEntry> of(Optional<String> kind, Optional<String> events) {
    Set<String> kinds = names("kind", kind);
    for (String k : kinds) {
      if (!KINDS.contains(k))
        throw new BadRequest("kind", "kind must be task, dag, app or node (comma-separated)");
    }
    Set<String> wanted = names("events", events);
    for (String e : wanted) {
      if (!e.matches("[A-Za-z]{1,64}"))
        throw new BadRequest("events", "events must be event names (letters), comma-separated");
    }
    return e ->
        (kinds.isEmpty() || kinds.contains(e.kind()))
            && (wanted.isEmpty() || wanted.contains(e.event()));
  }

  private static Set<String> names(String field, Optional<String> list) {
    if (list.isEmpty()) return Set.of();
    Set<String> out =
        Arrays.stream(list.get().split(",", -1)).map(String::trim).collect(Collectors.toSet());
    if (out.contains("")) throw new BadRequest(field, field + " must not have an empty name");
    if (out.size() > MAX_NAMES)
      throw new BadRequest(field, field + " takes at most " + MAX_NAMES + " names");
    return out;
  }
}
