package dev.anchor.persistence.mongo;

import static com.mongodb.client.model.Filters.and;
import static com.mongodb.client.model.Filters.eq;
import static com.mongodb.client.model.Filters.gte;
import static com.mongodb.client.model.Filters.in;
import static com.mongodb.client.model.Filters.lt;

import com.mongodb.client.MongoCollection;
import com.mongodb.client.MongoDatabase;
import com.mongodb.client.model.Projections;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.function.BiConsumer;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.bson.Document;

/**
 * Reads whole entities back from the journal outside Pekko Persistence, for what is rebuilt from it
 * (the task listing after Redis lost its data). Entities are found through their first events (one
 * pass over the journal: most have no head document) and read back by exact {@code _id} lookups,
 * window by window, as recovery does.
 */
public final class JournalScan {

  /** Sequence numbers looked up per entity and round (task journals are a few events long). */
  private static final int WINDOW = 16;

  /** Entities whose events one query fetches. */
  private static final int ENTITIES_PER_READ = 64;

  private final MongoCollection<Document> events;
  private final PayloadCodec codec;

  JournalScan(MongoDatabase database, String eventsCollection, PayloadCodec codec) {
    this.events = database.getCollection(eventsCollection);
    this.codec = codec;
  }

  /** The journal configured at {@code anchor.journal}. */
  public static JournalScan of(ActorSystem<?> system) {
    var config = system.settings().config();
    return new JournalScan(
        MongoStore.get(system).database(),
        config.getString("anchor.journal.collection"),
        new PayloadCodec(Adapter.toClassic(system)));
  }

  /**
   * Hands {@code each} the persistence id and events (in order) of the {@code max} entities with
   * the greatest ids starting with {@code prefix}, greatest first: for time-ordered ids, the most
   * recent. Blocking; memory is bounded by {@code max}, whatever the journal holds. Returns how
   * many entities were handed over.
   */
  public int latestFirst(String prefix, int max, BiConsumer<String, List<Object>> each) {
    PriorityQueue<String> newest = new PriorityQueue<>();
    for (Document d :
        events
            .find(
                and(
                    gte("_id", prefix),
                    lt("_id", prefix + Character.MAX_VALUE),
                    eq(MongoEventStore.SEQ, 1L)))
            .projection(Projections.include(MongoEventStore.PID))
            .batchSize(1000)) {
      String pid = d.getString(MongoEventStore.PID);
      if (pid == null || !pid.startsWith(prefix)) continue;
      newest.add(pid);
      if (newest.size() > max) newest.poll();
    }
    List<String> ordered = new ArrayList<>(newest);
    ordered.sort(Comparator.reverseOrder());
    int handed = 0;
    for (int i = 0; i < ordered.size(); i += ENTITIES_PER_READ) {
      Map<String, List<Document>> byEntity = new LinkedHashMap<>();
      for (String pid : ordered.subList(i, Math.min(ordered.size(), i + ENTITIES_PER_READ)))
        byEntity.put(pid, new ArrayList<>());
      List<String> unfinished = new ArrayList<>(byEntity.keySet());
      for (long from = 1; !unfinished.isEmpty(); from += WINDOW) {
        List<String> ids = new ArrayList<>();
        for (String pid : unfinished) ids.addAll(DocumentIds.range(pid, from, from + WINDOW - 1));
        Map<String, Integer> found = new HashMap<>();
        for (Document doc : events.find(in("_id", ids))) {
          String pid = doc.getString(MongoEventStore.PID);
          byEntity.get(pid).add(doc);
          found.merge(pid, 1, Integer::sum);
        }
        // a full window may have more behind it
        List<String> next = new ArrayList<>();
        for (String pid : unfinished) if (found.getOrDefault(pid, 0) == WINDOW) next.add(pid);
        unfinished = next;
      }
      for (var e : byEntity.entrySet()) {
        List<Document> docs = e.getValue();
        docs.sort(
            Comparator.comparingLong(d -> d.get(MongoEventStore.SEQ, Number.class).longValue()));
        List<Object> payloads = new ArrayList<>(docs.size());
        for (Document doc : docs) payloads.add(codec.read(doc));
        each.accept(e.getKey(), payloads);
        handed++;
      }
    }
    return handed;
  }
}
