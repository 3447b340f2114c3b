package dev.anchor.persistence.mongo;

import static com.mongodb.client.model.Filters.eq;

import com.mongodb.client.MongoCollection;
import com.mongodb.client.MongoDatabase;
import com.mongodb.client.model.BulkWriteOptions;
import com.mongodb.client.model.DeleteOneModel;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorSystem;
import org.bson.Document;
import org.bson.types.ObjectId;

/**
 * The entities that have begun and not ended, as the journal records them: the events tagged {@link
 * dev.anchor.persistence.LifecycleTags#OPEN} of a write batch add one document listing their
 * entities ({@code o}), stored before the batch is acknowledged; those tagged {@link
 * dev.anchor.persistence.LifecycleTags#CLOSE} add one listing the ended ones ({@code c})
 * afterwards. Open = every listed opening minus every listed closing. After a crash these say which
 * entities to start again, at the cost of two documents per write batch rather than two writes per
 * entity (remember-entities); {@link #compact} folds the documents into the open set now and then.
 */
public final class OpenEntities {
  static final String OPENED = "o";
  static final String CLOSED = "c";

  /** Ids per compacted document, well under MongoDB's 16 MB document limit. */
  private static final int CHUNK = 50_000;

  private final MongoCollection<Document> markers;

  OpenEntities(MongoCollection<Document> markers) {
    this.markers = markers;
  }

  /** The markers of the journal configured at {@code anchor.journal}. */
  public static OpenEntities of(ActorSystem<?> system) {
    String events = system.settings().config().getString("anchor.journal.collection");
    return of(MongoStore.get(system).database(), events);
  }

  static OpenEntities of(MongoDatabase database, String eventsCollection) {
    return new OpenEntities(database.getCollection(eventsCollection + "_open"));
  }

  /** Records these persistence ids as open. Blocking. */
  void opened(Collection<String> persistenceIds) {
    insert(OPENED, persistenceIds);
  }

  /** Records these persistence ids as ended. Blocking. */
  void closed(Collection<String> persistenceIds) {
    insert(CLOSED, persistenceIds);
  }

  private void insert(String field, Collection<String> ids) {
    List<Document> docs = new ArrayList<>();
    List<String> chunk = new ArrayList<>();
    for (String id : ids) {
      chunk.add(id);
      if (chunk.size() == CHUNK) {
        docs.add(new Document("_id", new ObjectId()).append(field, chunk));
        chunk = new ArrayList<>();
      }
    }
    if (!chunk.isEmpty()) docs.add(new Document("_id", new ObjectId()).append(field, chunk));
    if (docs.size() == 1) markers.insertOne(docs.get(0));
    else if (!docs.isEmpty()) markers.insertMany(docs);
  }

  /** The open persistence ids that start with {@code prefix} (e.g. "Task|"). Blocking. */
  public List<String> list(String prefix) {
    return read().open().stream().filter(id -> id.startsWith(prefix)).toList();
  }

  /** Drops entities that turned out to have ended (or never begun). Blocking. */
  public void forget(List<String> persistenceIds) {
    if (!persistenceIds.isEmpty()) closed(persistenceIds);
  }

  /**
   * Replaces the documents read by one holding only the open ids. Safe against a crash (the new
   * document is stored before the old ones are removed, and both say the same) and against writers
   * meanwhile (only what was read is removed). Blocking; returns how many ids are open.
   */
  public int compact() {
    Snapshot s = read();
    if (s.documents().size() <= 1) return s.open().size();
    opened(s.open());
    // one delete statement per document: an {_id: {$in: [...]}} filter is matched against every
    // listed id for each candidate by the embedded server (1,000 x 1,000 comparisons a chunk)
    for (int i = 0; i < s.documents().size(); i += 1000) {
      List<DeleteOneModel<Document>> chunk = new ArrayList<>();
      for (Object id : s.documents().subList(i, Math.min(s.documents().size(), i + 1000)))
        chunk.add(new DeleteOneModel<>(eq("_id", id)));
      markers.bulkWrite(chunk, new BulkWriteOptions().ordered(false));
    }
    return s.open().size();
  }

  private record Snapshot(Set<String> open, List<Object> documents) {}

  private Snapshot read() {
    Set<String> open = new LinkedHashSet<>();
    Set<String> closed = new java.util.HashSet<>();
    List<Object> docs = new ArrayList<>();
    for (Document d : markers.find()) {
      docs.add(d.get("_id"));
      List<String> o = d.getList(OPENED, String.class);
      if (o != null) open.addAll(o);
      List<String> c = d.getList(CLOSED, String.class);
      if (c != null) closed.addAll(c);
    }
    open.removeAll(closed);
    return new Snapshot(open, docs);
  }
}
