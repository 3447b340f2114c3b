package dev.anchor.consensus;

import static com.mongodb.client.model.Filters.and;
import static com.mongodb.client.model.Filters.eq;
import static com.mongodb.client.model.Filters.gt;
import static com.mongodb.client.model.Filters.gte;
import static com.mongodb.client.model.Filters.lte;

import com.mongodb.MongoException;
import com.mongodb.client.MongoCollection;
import com.mongodb.client.MongoDatabase;
import com.mongodb.client.model.IndexOptions;
import com.mongodb.client.model.Indexes;
import com.mongodb.client.model.ReplaceOptions;
import com.mongodb.client.model.Sorts;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.bson.Document;
import org.bson.conversions.Bson;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fraud records (replicas of a verified task that disagreed) in the MongoDB collection {@value
 * #COLLECTION}, one document per record with explicit fields: {@code _id, taskId, runtime,
 * codeHash, agreedKey, replicas[{nodeId, job, outcomeKey, result, resultTruncated, error,
 * errorTruncated, startedAt, endedAt, durationMs, agreed}], faultyNodes[], createdAt (Date),
 * expiresAt (Date)}.
 *
 * <p>A TTL index on {@code expiresAt} lets a real MongoDB delete records once they expire; reads
 * skip expired records anyway and {@link #deleteExpired} removes them, because the embedded server
 * does not run TTL monitors.
 */
public final class FraudStore {

  private static final Logger log = LoggerFactory.getLogger(FraudStore.class);

  public static final String COLLECTION = "fraud";

  /**
   * Stored result and error texts are cut to this many characters (64 Ki, i.e. 64 KiB of ASCII, at
   * most 192 KiB of UTF-8): results can be megabytes, and dozens of replicas must fit in one 16 MB
   * document. The outcome key of each replica is still that of its full result, and {@code
   * resultTruncated}/{@code errorTruncated} mark a cut.
   */
  public static final int MAX_TEXT_CHARS = 64 * 1024;

  /** Upper bound of {@link #list}'s limit. */
  public static final int MAX_LIST = 1000;

  private final MongoCollection<Document> collection;
  private final Duration retention;
  private final Clock clock;

  public FraudStore(MongoDatabase db, Duration retention) {
    this(db, retention, Clock.systemUTC());
  }

  /** With the clock that decides which records have expired (tests). */
  public FraudStore(MongoDatabase db, Duration retention, Clock clock) {
    this(db, retention, clock, true);
  }

  /**
   * On the embedded MongoDB-wire store, which keeps no secondary or TTL index (it would log a
   * warning for each and ignore it): none is asked for, and one line says how expiry works instead.
   */
  public static FraudStore onEmbeddedStore(MongoDatabase db, Duration retention) {
    log.info(
        "fraud evidence on the embedded store: kept {} (ANCHOR_FRAUD_RETENTION); without a TTL index there, reads "
            + "skip expired records and the coordinator deletes them every 10 minutes",
        retention.toSeconds() % 86_400 == 0
            ? retention.toDays() + "d"
            : retention.toString().substring(2).toLowerCase());
    return new FraudStore(db, retention, Clock.systemUTC(), false);
  }

  private FraudStore(MongoDatabase db, Duration retention, Clock clock, boolean createIndexes) {
    Objects.requireNonNull(db, "db");
    Objects.requireNonNull(retention, "retention");
    if (retention.isNegative() || retention.isZero()) {
      throw new IllegalArgumentException("retention must be positive, was " + retention);
    }
    this.collection = db.getCollection(COLLECTION);
    this.retention = retention;
    this.clock = Objects.requireNonNull(clock, "clock");
    if (createIndexes) ensureIndexes();
  }

  /**
   * How long records are kept: a new record's {@code expiresAt} should be {@link #expiresAt(long)}.
   */
  public Duration retention() {
    return retention;
  }

  /** {@code createdAtEpochMs + retention}. */
  public long expiresAt(long createdAtEpochMs) {
    return createdAtEpochMs + retention.toMillis();
  }

  /** Stores {@code r} under {@code _id = r.id()}, replacing a record saved before with that id. */
  public void save(FraudRecord r) {
    Objects.requireNonNull(r, "record");
    Objects.requireNonNull(r.id(), "record id");
    collection.replaceOne(eq("_id", r.id()), toDocument(r), new ReplaceOptions().upsert(true));
  }

  /** The record with this id, unless absent or expired. */
  public Optional<FraudRecord> get(String id) {
    if (id == null) {
      return Optional.empty();
    }
    Document d = collection.find(and(eq("_id", id), notExpired())).first();
    return Optional.ofNullable(d).map(FraudStore::fromDocument);
  }

  /**
   * Unexpired records, newest first (createdAt descending, then id descending).
   *
   * @param nodeId if not null, only records naming this node among {@code faultyNodes}
   * @param sinceEpochMs if not null, only records with {@code createdAt >= since}
   * @param limit clamped to 1..{@value #MAX_LIST}
   */
  public List<FraudRecord> list(String nodeId, Long sinceEpochMs, int limit) {
    List<Bson> filters = new ArrayList<>();
    filters.add(notExpired());
    if (nodeId != null) {
      filters.add(eq("faultyNodes", nodeId)); // equality on an array field matches any element
    }
    if (sinceEpochMs != null) {
      filters.add(gte("createdAt", new Date(sinceEpochMs)));
    }
    int n = Math.max(1, Math.min(MAX_LIST, limit));
    List<FraudRecord> out = new ArrayList<>();
    for (Document d :
        collection.find(and(filters)).sort(Sorts.descending("createdAt", "_id")).limit(n)) {
      out.add(fromDocument(d));
    }
    return out;
  }

  /** Removes records with {@code expiresAt <= nowEpochMs}; returns how many. */
  public long deleteExpired(long nowEpochMs) {
    return collection.deleteMany(lte("expiresAt", new Date(nowEpochMs))).getDeletedCount();
  }

  private Bson notExpired() {
    return gt("expiresAt", new Date(clock.millis()));
  }

  private void ensureIndexes() {
    createIndex(
        Indexes.ascending("expiresAt"),
        new IndexOptions().name("expiresAt_ttl").expireAfter(0L, TimeUnit.SECONDS));
    createIndex(Indexes.ascending("faultyNodes"), new IndexOptions().name("faultyNodes"));
    createIndex(Indexes.descending("createdAt"), new IndexOptions().name("createdAt"));
  }

  private void createIndex(Bson keys, IndexOptions options) {
    try {
      collection.createIndex(keys, options);
    } catch (MongoException | UnsupportedOperationException e) {
      // The indexes only speed up and clean up; every read filters expiry itself and deleteExpired
      // cleans up, so a
      // server that refuses an option (the embedded one) must not stop the store.
      log.warn(
          "fraud store: could not create index {} on {}: {}",
          options.getName(),
          COLLECTION,
          e.toString());
    }
  }

  static Document toDocument(FraudRecord r) {
    List<Document> replicas = new ArrayList<>(r.replicas().size());
    for (ReplicaEvidence e : r.replicas()) {
      Document d =
          new Document("nodeId", e.nodeId())
              .append("job", e.job())
              .append("outcomeKey", e.outcomeKey())
              .append("result", truncate(e.result()));
      if (isTruncated(e.result())) {
        d.append("resultTruncated", true);
      }
      d.append("error", truncate(e.error()));
      if (isTruncated(e.error())) {
        d.append("errorTruncated", true);
      }
      replicas.add(
          d.append("startedAt", e.startedAt())
              .append("endedAt", e.endedAt())
              .append("durationMs", e.durationMs())
              .append("agreed", e.agreed()));
    }
    return new Document("_id", r.id())
        .append("taskId", r.taskId())
        .append("runtime", r.runtime())
        .append("codeHash", r.codeHash())
        .append("agreedKey", r.agreedKey())
        .append("replicas", replicas)
        .append("faultyNodes", r.faultyNodes())
        .append("createdAt", new Date(r.createdAt()))
        .append("expiresAt", new Date(r.expiresAt()));
  }

  static FraudRecord fromDocument(Document d) {
    List<ReplicaEvidence> replicas = new ArrayList<>();
    for (Document e : d.getList("replicas", Document.class, List.of())) {
      replicas.add(
          new ReplicaEvidence(
              e.getString("nodeId"),
              intOf(e.get("job")),
              e.getString("outcomeKey"),
              e.getString("result"),
              e.getString("error"),
              longOf(e.get("startedAt")),
              longOf(e.get("endedAt")),
              longOf(e.get("durationMs")),
              Boolean.TRUE.equals(e.getBoolean("agreed"))));
    }
    return new FraudRecord(
        d.getString("_id"),
        d.getString("taskId"),
        d.getString("runtime"),
        d.getString("codeHash"),
        d.getString("agreedKey"),
        replicas,
        d.getList("faultyNodes", String.class, List.of()),
        d.getDate("createdAt").getTime(),
        d.getDate("expiresAt").getTime());
  }

  private static boolean isTruncated(String text) {
    return text != null && text.length() > MAX_TEXT_CHARS;
  }

  static String truncate(String text) {
    if (!isTruncated(text)) {
      return text;
    }
    int end = MAX_TEXT_CHARS;
    if (Character.isHighSurrogate(text.charAt(end - 1))) {
      end--; // do not split a surrogate pair: BSON strings are UTF-8
    }
    return text.substring(0, end);
  }

  private static int intOf(Object v) {
    return v instanceof Number n ? n.intValue() : 0;
  }

  private static Long longOf(Object v) {
    return v instanceof Number n ? n.longValue() : null;
  }
}
