package dev.anchor.persistence.mongo;

import static com.mongodb.client.model.Filters.eq;

import com.mongodb.client.MongoCollection;
import com.mongodb.client.model.ReplaceOptions;
import com.mongodb.client.model.UpdateOptions;
import com.mongodb.client.model.Updates;
import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.persistence.SelectedSnapshot;
import org.apache.pekko.persistence.SnapshotMetadata;
import org.apache.pekko.persistence.SnapshotSelectionCriteria;
import org.apache.pekko.persistence.snapshot.japi.SnapshotStore;
import org.bson.Document;
import scala.concurrent.Future;
import scala.jdk.javaapi.FutureConverters;

/**
 * Pekko Persistence snapshot store on MongoDB ({@code pekko.persistence.snapshot-store.plugin =
 * "anchor.snapshot-store"}). A snapshot is one document, {@code _id = persistenceId|padded seq}; a
 * per-entity index document ({@code _id = persistenceId}, field {@code s.n<padded seq> =
 * timestamp}) lists them, so selecting by criteria reads one small document and then fetches the
 * chosen snapshot by id — no query ever scans the collection.
 */
public final class MongoSnapshotStore extends SnapshotStore {

  private static final String PID = "pid";
  private static final String SEQ = "seq";
  private static final String TIMESTAMP = "ts";
  private static final String SNAPSHOTS = "s";
  private static final String KEY_PREFIX = "n";

  private final MongoCollection<Document> snapshots;
  private final MongoCollection<Document> index;
  private final PayloadCodec codec;
  private final Executor blocking;

  public MongoSnapshotStore(Config config) {
    ActorSystem system = context().system();
    MongoStore mongo = MongoStore.get(system);
    this.snapshots = mongo.database().getCollection(config.getString("collection"));
    this.index = mongo.database().getCollection(config.getString("index-collection"));
    this.codec = new PayloadCodec(system);
    this.blocking = system.dispatchers().lookup(config.getString("blocking-dispatcher"));
  }

  private record Entry(long sequenceNr, long timestamp) {}

  @Override
  public Future<Optional<SelectedSnapshot>> doLoadAsync(
      String persistenceId, SnapshotSelectionCriteria criteria) {
    if (criteria.maxSequenceNr() <= 0L) {
      // an entity that asked for no snapshot (SnapshotSelectionCriteria.none()) costs no round trip
      return scala.concurrent.Future.successful(Optional.empty());
    }
    return async(
        () -> {
          for (Entry e : matching(persistenceId, criteria)) {
            Document doc =
                snapshots.find(eq("_id", DocumentIds.of(persistenceId, e.sequenceNr()))).first();
            if (doc != null) {
              SnapshotMetadata metadata =
                  SnapshotMetadata.apply(
                      persistenceId, e.sequenceNr(), doc.get(TIMESTAMP, Number.class).longValue());
              return Optional.of(SelectedSnapshot.create(metadata, codec.read(doc)));
            }
          }
          return Optional.<SelectedSnapshot>empty();
        });
  }

  @Override
  public Future<Void> doSaveAsync(SnapshotMetadata metadata, Object snapshot) {
    return async(
        () -> {
          Document doc =
              new Document("_id", DocumentIds.of(metadata.persistenceId(), metadata.sequenceNr()))
                  .append(PID, metadata.persistenceId())
                  .append(SEQ, metadata.sequenceNr())
                  .append(TIMESTAMP, metadata.timestamp());
          codec.write(snapshot, doc);
          snapshots.replaceOne(
              eq("_id", doc.getString("_id")), doc, new ReplaceOptions().upsert(true));
          index.updateOne(
              eq("_id", metadata.persistenceId()),
              Updates.set(SNAPSHOTS + "." + key(metadata.sequenceNr()), metadata.timestamp()),
              new UpdateOptions().upsert(true));
          return null;
        });
  }

  @Override
  public Future<Void> doDeleteAsync(SnapshotMetadata metadata) {
    return async(
        () -> {
          // a timestamp of 0 means "whatever the timestamp"
          SnapshotSelectionCriteria exact =
              SnapshotSelectionCriteria.create(
                  metadata.sequenceNr(),
                  metadata.timestamp() == 0 ? Long.MAX_VALUE : metadata.timestamp(),
                  metadata.sequenceNr(),
                  metadata.timestamp() == 0 ? 0 : metadata.timestamp());
          delete(metadata.persistenceId(), matching(metadata.persistenceId(), exact));
          return null;
        });
  }

  @Override
  public Future<Void> doDeleteAsync(String persistenceId, SnapshotSelectionCriteria criteria) {
    return async(
        () -> {
          delete(persistenceId, matching(persistenceId, criteria));
          return null;
        });
  }

  private void delete(String persistenceId, List<Entry> entries) {
    for (Entry e : entries) {
      // unlist first: a listed snapshot whose document is gone is skipped by load, never the other
      // way round
      index.updateOne(
          eq("_id", persistenceId), Updates.unset(SNAPSHOTS + "." + key(e.sequenceNr())));
      snapshots.deleteOne(eq("_id", DocumentIds.of(persistenceId, e.sequenceNr())));
    }
  }

  /** The entity's snapshots that match the criteria, youngest first. */
  private List<Entry> matching(String persistenceId, SnapshotSelectionCriteria criteria) {
    List<Entry> result = new ArrayList<>();
    Document doc = index.find(eq("_id", persistenceId)).first();
    if (doc == null || !(doc.get(SNAPSHOTS) instanceof Document listed)) {
      return result;
    }
    for (var e : listed.entrySet()) {
      long seq = Long.parseLong(e.getKey().substring(KEY_PREFIX.length()));
      long ts = ((Number) e.getValue()).longValue();
      if (seq <= criteria.maxSequenceNr()
          && ts <= criteria.maxTimestamp()
          && seq >= criteria.minSequenceNr()
          && ts >= criteria.minTimestamp()) {
        result.add(new Entry(seq, ts));
      }
    }
    result.sort(Comparator.comparingLong(Entry::sequenceNr).reversed());
    return result;
  }

  private static String key(long sequenceNr) {
    return KEY_PREFIX + DocumentIds.padded(sequenceNr);
  }

  private <T> Future<T> async(java.util.function.Supplier<T> work) {
    return FutureConverters.asScala(CompletableFuture.supplyAsync(work, blocking));
  }
}
