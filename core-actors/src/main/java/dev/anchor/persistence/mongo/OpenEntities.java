package dev.anchor.persistence.mongo;

import com.mongodb.client.MongoCollection;
import org.apache.pekko.actor.typed.ActorSystem;
import org.bson.Document;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import static com.mongodb.client.model.Filters.and;
import static com.mongodb.client.model.Filters.gte;
import static com.mongodb.client.model.Filters.in;
import static com.mongodb.client.model.Filters.lt;

/**
 * The entities that have begun and not ended, as the journal records them: an event tagged
 * {@link dev.anchor.persistence.LifecycleTags#OPEN} stores a marker (its persistence id) before it is acknowledged,
 * one tagged {@link dev.anchor.persistence.LifecycleTags#CLOSE} removes it after. After a crash
 * the markers say which entities to start again, so a short-lived entity needs no remember-entities writes.
 */
public final class OpenEntities {
  private final MongoCollection<Document> markers;

  private OpenEntities(MongoCollection<Document> markers) {
    this.markers = markers;
  }

  /** The markers of the journal configured at {@code anchor.journal}. */
  public static OpenEntities of(ActorSystem<?> system) {
    String events = system.settings().config().getString("anchor.journal.collection");
    return new OpenEntities(MongoStore.get(system).database().getCollection(collectionFor(events)));
  }

  static String collectionFor(String eventsCollection) {
    return eventsCollection + "_open";
  }

  /** Streams the open persistence ids that start with {@code prefix} (e.g. "Task|"). Blocking. */
  public void forEach(String prefix, Consumer<String> each) {
    for (Document d : markers.find(and(gte("_id", prefix), lt("_id", prefix + Character.MAX_VALUE)))) {
      each.accept(d.getString("_id"));
    }
  }

  public List<String> list(String prefix) {
    List<String> out = new ArrayList<>();
    forEach(prefix, out::add);
    return out;
  }

  /** Drops markers whose entities turned out to have ended (or never begun). Blocking. */
  public void forget(List<String> persistenceIds) {
    if (!persistenceIds.isEmpty()) markers.deleteMany(in("_id", persistenceIds));
  }
}
