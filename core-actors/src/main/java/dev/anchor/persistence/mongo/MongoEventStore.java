package dev.anchor.persistence.mongo;

import static com.mongodb.client.model.Filters.eq;
import static com.mongodb.client.model.Filters.in;

import com.mongodb.ErrorCategory;
import com.mongodb.MongoBulkWriteException;
import com.mongodb.bulk.BulkWriteError;
import com.mongodb.client.MongoCollection;
import com.mongodb.client.MongoDatabase;
import com.mongodb.client.model.BulkWriteOptions;
import com.mongodb.client.model.InsertManyOptions;
import com.mongodb.client.model.Projections;
import com.mongodb.client.model.UpdateOneModel;
import com.mongodb.client.model.UpdateOptions;
import com.mongodb.client.model.Updates;
import com.mongodb.client.model.WriteModel;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.persistence.AtomicWrite;
import org.apache.pekko.persistence.PersistentRepr;
import org.apache.pekko.persistence.journal.Tagged;
import org.bson.Document;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The journal's storage, independent of the actor that fronts it.
 *
 * <p>Events: one document each, {@code _id = persistenceId|padded seq}; the unique {@code _id}
 * makes a second write of a sequence number fail, which is how a forked history is refused. Heads:
 * one document per persistence id with the highest sequence number written ({@code hi}, only ever
 * raised with {@code $max}) and the deleted-to mark ({@code del}). Reads never query anything but
 * exact ids, so their cost does not grow with the journal.
 *
 * <p>Writes from all entities queue up for one writer thread that stores whatever has accumulated
 * with a single ordered {@code insertMany}; a failed event is mapped back to the AtomicWrite (and
 * entity write) it belongs to. A write is acknowledged once its events are stored; heads are raised
 * afterwards by a second thread, coalesced per entity, and readers find events beyond a head by
 * probing the ids that follow it. A journal short enough for the first probe window (most tasks)
 * gets no head at all until it outgrows it. Recovering entities read their heads and probe in
 * batches of up to {@value #MAX_READ_BATCH}: their heads, the id after each head (new entities stop
 * there), then the window after that for those that had one.
 *
 * <p>An AtomicWrite of several events lands all-or-nothing whatever crashes when: each of its
 * documents carries the write's first and last sequence number ({@code af}, {@code al};
 * single-event writes, most of them, carry nothing), and its last document, inserted last by the
 * ordered insert, is its commit mark. A write whose documents are not all there with the same
 * writer is a remnant (a conflict in its middle, a crash between inserting and undoing it): the
 * highest sequence number never counts it, and the recovery that finds it on top of a journal
 * deletes it before the entity writes again. Journals written before these fields existed read as
 * before.
 */
final class MongoEventStore implements AutoCloseable {

  static final String PID = "pid";
  static final String SEQ = "seq";
  static final String TIMESTAMP = "ts";
  static final String WRITER = "w";
  static final String EVENT_MANIFEST = "m";
  static final String TAGS = "tags";
  static final String HIGHEST = "hi";
  static final String DELETED_TO = "del";

  /**
   * First and last sequence number of the atomic write a document belongs to; only in writes of
   * several events.
   */
  static final String AW_FIRST = "af";

  static final String AW_LAST = "al";

  /**
   * Sequence numbers first checked past a head's highest, to find events whose head update has not
   * happened yet (heads are raised asynchronously) or was lost in a crash; the window doubles while
   * events keep turning up.
   */
  private static final int PROBE = 8;

  private static final int MAX_PROBE = 1024;
  private static final int DELETE_CHUNK = 1000;

  private static final Logger log = LoggerFactory.getLogger(MongoEventStore.class);

  /**
   * An event tagged so opens its entity's marker in the open-entities collection (stored before the
   * event, in the same write); one tagged {@link #CLOSE_TAG} removes it once stored. The markers
   * are how unfinished entities are found and restarted after a crash without remember-entities'
   * two extra journal writes per entity.
   */
  static final String OPEN_TAG = dev.anchor.persistence.LifecycleTags.OPEN_TAG;

  static final String CLOSE_TAG = dev.anchor.persistence.LifecycleTags.CLOSE_TAG;

  private final MongoCollection<Document> events;
  private final MongoCollection<Document> heads;
  private final OpenEntities openMarkers;

  /** Persistence ids whose closing event is stored and whose open marker is still to be removed. */
  private final java.util.concurrent.ConcurrentLinkedQueue<String> pendingCloses =
      new java.util.concurrent.ConcurrentLinkedQueue<>();

  private final PayloadCodec codec;

  /** null when the store needs no explicit flush */
  private final Runnable flush;

  private final LinkedBlockingQueue<List<WriteRequest>> durabilityQueue =
      new LinkedBlockingQueue<>();
  private final Thread flusher;
  private final int maxBatchEvents;
  private final int replayBatchSize;
  private final long headIntervalNanos;
  private final LinkedBlockingQueue<WriteRequest> queue = new LinkedBlockingQueue<>();
  private final Thread writer;
  private final Thread headWriter;

  /** Highest stored sequence number per entity, not yet written to its head document. */
  private final java.util.concurrent.ConcurrentHashMap<String, Long> pendingHeads =
      new java.util.concurrent.ConcurrentHashMap<>();

  private volatile boolean running = true;
  private volatile boolean writerDone;

  /**
   * Highest-sequence-number lookups of entities recovering at the same time (every new task is one)
   * are answered together: one query for their heads and one for the ids that may follow them,
   * instead of two round trips each.
   */
  private final LinkedBlockingQueue<HighestRead> highestReads = new LinkedBlockingQueue<>();

  private final Thread highestReader;
  private static final int MAX_READ_BATCH = 256;

  private record HighestRead(String persistenceId, CompletableFuture<Long> result) {}

  MongoEventStore(
      MongoDatabase database,
      String eventsCollection,
      String headsCollection,
      PayloadCodec codec,
      Runnable flush,
      int maxBatchEvents,
      int replayBatchSize,
      java.time.Duration headInterval) {
    this.events = database.getCollection(eventsCollection);
    this.heads = database.getCollection(headsCollection);
    this.openMarkers = OpenEntities.of(database, eventsCollection);
    this.codec = codec;
    this.flush = flush;
    this.maxBatchEvents = maxBatchEvents;
    this.replayBatchSize = replayBatchSize;
    this.headIntervalNanos = headInterval.toNanos();
    this.writer = Thread.ofPlatform().daemon().name("anchor-journal-writer").start(this::writeLoop);
    this.headWriter =
        Thread.ofPlatform().daemon().name("anchor-journal-heads").start(this::headLoop);
    this.flusher =
        flush == null
            ? null
            : Thread.ofPlatform().daemon().name("anchor-journal-flush").start(this::flushLoop);
    this.highestReader =
        Thread.ofPlatform().daemon().name("anchor-journal-recovery").start(this::highestReadLoop);
  }

  /** The highest sequence number and deleted-to mark of one entity. */
  record Head(long highest, long deletedTo) {}

  private record PreparedWrite(
      String persistenceId,
      long highest,
      List<Document> docs,
      Exception rejection,
      boolean opens,
      boolean closes) {}

  private static final class WriteRequest {
    final List<PreparedWrite> writes;
    final CompletableFuture<List<Optional<Exception>>> result = new CompletableFuture<>();
    Exception failure;

    WriteRequest(List<PreparedWrite> writes) {
      this.writes = writes;
    }

    int eventCount() {
      int n = 0;
      for (PreparedWrite w : writes) {
        n += w.docs.size();
      }
      return n;
    }

    void fail(Exception e) {
      if (failure == null) {
        failure = e;
      }
    }
  }

  /**
   * One AtomicWrite queued for insertion, with the position of its documents in the current
   * insertMany.
   */
  private static final class Unit {
    final WriteRequest request;
    final PreparedWrite write;
    int firstDoc;
    boolean done;

    Unit(WriteRequest request, PreparedWrite write) {
      this.request = request;
      this.write = write;
    }
  }

  // ---------------------------------------------------------------------------------------------------- writes

  /**
   * Stores the AtomicWrites (all from one entity incarnation, in order). The result has one entry
   * per AtomicWrite: empty when stored, the exception when its payload could not be serialized
   * (rejected, nothing stored). The future fails as a whole when an event could not be stored — a
   * {@link JournalConflictException} when its sequence number was already taken — and then none of
   * this call's later AtomicWrites are stored.
   */
  CompletableFuture<List<Optional<Exception>>> write(Iterable<AtomicWrite> atomicWrites) {
    List<PreparedWrite> prepared = new ArrayList<>();
    for (AtomicWrite aw : atomicWrites) {
      prepared.add(prepare(aw));
    }
    WriteRequest request = new WriteRequest(prepared);
    if (!running) {
      request.result.completeExceptionally(new IllegalStateException("journal is stopped"));
    } else {
      queue.add(request);
    }
    return request.result;
  }

  private PreparedWrite prepare(AtomicWrite aw) {
    List<Document> docs = new ArrayList<>(aw.size());
    long now = System.currentTimeMillis();
    boolean opens = false, closes = false;
    boolean several = aw.size() > 1;
    try {
      for (PersistentRepr repr : scala.jdk.javaapi.CollectionConverters.asJava(aw.payload())) {
        Object payload = repr.payload();
        List<String> tags = List.of();
        if (payload instanceof Tagged tagged) {
          payload = tagged.payload();
          tags = new ArrayList<>(scala.jdk.javaapi.CollectionConverters.asJava(tagged.tags()));
          boolean open = tags.remove(OPEN_TAG);
          boolean close = tags.remove(CLOSE_TAG);
          opens |= open;
          // the last lifecycle tag of an atomic write says how it leaves the entity: an event that
          // closes it
          // followed by one that reopens it (a task's outbox of effects still to deliver) leaves it
          // open
          if (close) closes = true;
          if (open && !close) closes = false;
        }
        Document doc =
            new Document("_id", DocumentIds.of(repr.persistenceId(), repr.sequenceNr()))
                .append(PID, repr.persistenceId())
                .append(SEQ, repr.sequenceNr())
                .append(TIMESTAMP, repr.timestamp() > 0 ? repr.timestamp() : now)
                .append(WRITER, repr.writerUuid())
                .append(EVENT_MANIFEST, repr.manifest());
        if (!tags.isEmpty()) {
          doc.append(TAGS, tags);
        }
        if (several) {
          doc.append(AW_FIRST, aw.lowestSequenceNr()).append(AW_LAST, aw.highestSequenceNr());
        }
        codec.write(payload, doc);
        docs.add(doc);
      }
    } catch (Exception e) {
      return new PreparedWrite(
          aw.persistenceId(), aw.highestSequenceNr(), List.of(), e, false, false);
    }
    return new PreparedWrite(aw.persistenceId(), aw.highestSequenceNr(), docs, null, opens, closes);
  }

  private void writeLoop() {
    while (running || !queue.isEmpty()) {
      WriteRequest first;
      try {
        first = queue.poll(100, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        continue;
      }
      if (first == null) {
        continue;
      }
      List<WriteRequest> batch = new ArrayList<>();
      batch.add(first);
      int events = first.eventCount();
      WriteRequest next;
      while (events < maxBatchEvents && (next = queue.poll()) != null) {
        batch.add(next);
        events += next.eventCount();
      }
      try {
        store(batch);
      } catch (RuntimeException | Error e) {
        log.error("journal write batch failed unexpectedly", e);
        for (WriteRequest r : batch) {
          r.result.completeExceptionally(e);
        }
      }
    }
  }

  private void store(List<WriteRequest> batch) {
    List<Unit> pending = new ArrayList<>();
    for (WriteRequest r : batch) {
      for (PreparedWrite w : r.writes) {
        if (w.rejection == null && !w.docs.isEmpty()) {
          pending.add(new Unit(r, w));
        }
      }
    }
    storeOpenMarkers(pending);
    List<Unit> stored = new ArrayList<>();
    while (!pending.isEmpty()) {
      pending.removeIf(u -> u.request.failure != null);
      if (pending.isEmpty()) {
        break;
      }
      List<Document> docs = new ArrayList<>();
      for (Unit u : pending) {
        u.firstDoc = docs.size();
        docs.addAll(u.write.docs);
      }
      boolean[] inserted = new boolean[docs.size()];
      long began = System.nanoTime();
      try {
        events.insertMany(docs, new InsertManyOptions().ordered(true));
        dev.anchor.metrics.AnchorMetrics.journalBatch(docs.size(), System.nanoTime() - began);
        java.util.Arrays.fill(inserted, true);
      } catch (MongoBulkWriteException e) {
        markInserted(e, pending, inserted);
      } catch (RuntimeException e) {
        // unknown outcome: fail everyone; a retry after restart finds what was stored by probing
        // the ids
        for (Unit u : pending) {
          u.request.fail(e);
        }
        break;
      }
      List<Unit> retry = new ArrayList<>();
      List<String> compensate = new ArrayList<>();
      for (Unit u : pending) {
        int n = u.write.docs.size();
        int insertedCount = 0;
        for (int i = 0; i < n; i++) {
          if (inserted[u.firstDoc + i]) {
            insertedCount++;
          }
        }
        if (u.request.failure != null) {
          // keep the AtomicWrite atomic and the failed entity's later writes out of the journal
          for (int i = 0; i < n; i++) {
            if (inserted[u.firstDoc + i]) {
              compensate.add(u.write.docs.get(i).getString("_id"));
            }
          }
        } else if (insertedCount == n) {
          u.done = true;
          stored.add(u);
        } else if (insertedCount == 0) {
          retry.add(u); // after the failed event of an ordered insert: not attempted
        } else {
          u.request.fail(
              new IllegalStateException(
                  "partially stored AtomicWrite of " + u.write.persistenceId));
          for (int i = 0; i < n; i++) {
            if (inserted[u.firstDoc + i]) {
              compensate.add(u.write.docs.get(i).getString("_id"));
            }
          }
        }
      }
      if (!compensate.isEmpty()) {
        try {
          events.deleteMany(in("_id", compensate));
        } catch (RuntimeException e) {
          log.error(
              "could not remove {} events of a failed write: {}", compensate.size(), compensate, e);
        }
      }
      pending = retry;
    }
    updateHeads(stored);
    if (flush == null) {
      complete(batch);
    } else {
      durabilityQueue.add(batch);
    }
  }

  /**
   * The entities these writes open, recorded before their events: a crash in between leaves an
   * opening without events (its entity starts, finds nothing and is closed), never an open entity
   * unrecorded. When they cannot be stored, the writes that needed them fail and leave {@code
   * pending}.
   */
  private void storeOpenMarkers(List<Unit> pending) {
    List<String> opened = new ArrayList<>();
    for (Unit u : pending) {
      if (u.write.opens) opened.add(u.write.persistenceId);
    }
    if (opened.isEmpty()) return;
    try {
      openMarkers.opened(opened);
    } catch (RuntimeException e) {
      failOpeners(pending, e);
    }
  }

  private static void failOpeners(List<Unit> pending, RuntimeException e) {
    for (Unit u : pending) {
      if (u.write.opens) u.request.fail(e);
    }
    pending.removeIf(u -> u.request.failure != null);
  }

  /**
   * Group commit for a store that must be told to make writes durable (the embedded H2 file):
   * acknowledgements wait for the next flush, which covers every batch inserted before it, while
   * the writer thread carries on inserting.
   */
  private void flushLoop() {
    while (!writerDone || !durabilityQueue.isEmpty()) {
      List<WriteRequest> first;
      try {
        first = durabilityQueue.poll(50, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        continue;
      }
      if (first == null) {
        continue;
      }
      List<List<WriteRequest>> batches = new ArrayList<>();
      batches.add(first);
      durabilityQueue.drainTo(batches);
      RuntimeException failure = null;
      try {
        flush.run();
      } catch (RuntimeException e) {
        log.error("flushing the journal's store failed", e);
        failure = e;
      }
      for (List<WriteRequest> batch : batches) {
        if (failure != null) {
          for (WriteRequest r : batch) {
            r.fail(failure);
          }
        }
        complete(batch);
      }
    }
  }

  private static void complete(List<WriteRequest> batch) {
    for (WriteRequest r : batch) {
      if (r.failure != null) {
        r.result.completeExceptionally(r.failure);
      } else {
        List<Optional<Exception>> results = new ArrayList<>(r.writes.size());
        for (PreparedWrite w : r.writes) {
          results.add(Optional.ofNullable(w.rejection));
        }
        r.result.complete(results);
      }
    }
  }

  /**
   * Works out which documents of a failed insertMany were stored, and fails the writes that hit an
   * error.
   */
  private static void markInserted(
      MongoBulkWriteException e, List<Unit> pending, boolean[] inserted) {
    List<BulkWriteError> errors = e.getWriteErrors();
    Set<Integer> failedIndexes = new HashSet<>();
    int firstError = inserted.length;
    for (BulkWriteError error : errors) {
      failedIndexes.add(error.getIndex());
      firstError = Math.min(firstError, error.getIndex());
    }
    int insertedCount = e.getWriteResult().getInsertedCount();
    // An ordered insert stops at the first error; a server that carries on anyway reports it in the
    // counts.
    boolean continuedAfterError = insertedCount + errors.size() >= inserted.length;
    for (int i = 0; i < inserted.length; i++) {
      inserted[i] = continuedAfterError ? !failedIndexes.contains(i) : i < firstError;
    }
    if (errors.isEmpty()) {
      for (Unit u : pending) {
        u.request.fail(e);
      }
      return;
    }
    for (BulkWriteError error : errors) {
      Unit unit = unitOf(pending, error.getIndex());
      Document doc = unit.write.docs.get(error.getIndex() - unit.firstDoc);
      if (ErrorCategory.fromErrorCode(error.getCode()) == ErrorCategory.DUPLICATE_KEY) {
        unit.request.fail(
            new JournalConflictException(unit.write.persistenceId, doc.getLong(SEQ), e));
      } else {
        unit.request.fail(e);
      }
    }
  }

  private static Unit unitOf(List<Unit> pending, int docIndex) {
    Unit found = pending.get(0);
    for (Unit u : pending) {
      if (u.firstDoc <= docIndex) {
        found = u;
      } else {
        break;
      }
    }
    return found;
  }

  private void updateHeads(List<Unit> stored) {
    if (stored.isEmpty()) {
      return;
    }
    for (Unit u : stored) {
      if (u.write.closes) pendingCloses.add(u.write.persistenceId);
      // a journal that fits in the first probe window is found by the probe alone: no head document
      // needed
      // (most task entities never get one, which saves an update per write)
      if (u.write.highest > PROBE) {
        pendingHeads.merge(u.write.persistenceId, u.write.highest, Math::max);
      }
    }
    java.util.concurrent.locks.LockSupport.unpark(headWriter);
  }

  private void headLoop() {
    UpdateOptions upsert = new UpdateOptions().upsert(true);
    while (!writerDone || !pendingHeads.isEmpty() || !pendingCloses.isEmpty()) {
      removeClosedMarkers();
      if (pendingHeads.isEmpty()) {
        java.util.concurrent.locks.LockSupport.parkNanos(50_000_000L);
        continue;
      }
      // a short pause lets several writes of one entity coalesce into one head update
      if (!writerDone) {
        java.util.concurrent.locks.LockSupport.parkNanos(headIntervalNanos);
      }
      Map<String, Long> drained = new HashMap<>();
      for (String pid : new ArrayList<>(pendingHeads.keySet())) {
        Long hi = pendingHeads.remove(pid);
        if (hi != null) {
          drained.put(pid, hi);
        }
      }
      List<WriteModel<Document>> updates = new ArrayList<>(drained.size());
      drained.forEach(
          (pid, hi) ->
              updates.add(new UpdateOneModel<>(eq("_id", pid), Updates.max(HIGHEST, hi), upsert)));
      try {
        heads.bulkWrite(updates, new BulkWriteOptions().ordered(false));
      } catch (RuntimeException e) {
        drained.forEach((pid, hi) -> pendingHeads.merge(pid, hi, Math::max));
        if (writerDone) {
          log.warn(
              "journal stopped with {} head documents not raised; readers recover them by probing",
              drained.size(),
              e);
          return;
        }
        log.warn("raising {} journal head documents failed, retrying", drained.size(), e);
        java.util.concurrent.locks.LockSupport.parkNanos(200_000_000L);
      }
    }
  }

  /**
   * Off the acknowledgement path: a closing lost in a crash only restarts an ended entity once,
   * which closes it.
   */
  private void removeClosedMarkers() {
    List<String> closed = new ArrayList<>();
    String pid;
    while (closed.size() < 10_000 && (pid = pendingCloses.poll()) != null) closed.add(pid);
    if (closed.isEmpty()) return;
    try {
      openMarkers.closed(closed);
    } catch (RuntimeException e) {
      if (writerDone) {
        log.warn(
            "journal stopped with {} ended entities not marked closed; restarts find them ended",
            closed.size(),
            e);
        return;
      }
      pendingCloses.addAll(closed);
      log.warn("marking {} ended entities closed failed, retrying", closed.size(), e);
      java.util.concurrent.locks.LockSupport.parkNanos(200_000_000L);
    }
  }

  // ----------------------------------------------------------------------------------------------------- reads

  /** Highest sequence number ever written for the entity (kept after deletion), 0 if none. */
  long highestSequenceNr(String persistenceId) {
    return head(persistenceId).highest();
  }

  /**
   * {@link #highestSequenceNr}, answered in a batch with the other entities recovering meanwhile.
   */
  CompletableFuture<Long> highestSequenceNrAsync(String persistenceId) {
    HighestRead read = new HighestRead(persistenceId, new CompletableFuture<>());
    if (!running) {
      read.result.completeExceptionally(new IllegalStateException("journal is stopped"));
    } else {
      highestReads.add(read);
    }
    return read.result;
  }

  private void highestReadLoop() {
    while (running) {
      HighestRead first;
      try {
        first = highestReads.poll(100, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        continue;
      }
      if (first == null) {
        continue;
      }
      List<HighestRead> batch = new ArrayList<>();
      batch.add(first);
      highestReads.drainTo(batch, MAX_READ_BATCH - 1);
      try {
        Map<String, Long> highest =
            highestOf(batch.stream().map(HighestRead::persistenceId).distinct().toList());
        for (HighestRead r : batch) {
          r.result.complete(highest.get(r.persistenceId));
        }
      } catch (RuntimeException e) {
        for (HighestRead r : batch) {
          r.result.completeExceptionally(e);
        }
      }
    }
    HighestRead left;
    while ((left = highestReads.poll()) != null) {
      left.result.completeExceptionally(new IllegalStateException("journal stopped"));
    }
  }

  /** Heads of several entities in one query, corrected by one probe query for all of them. */
  Map<String, Long> highestOf(List<String> persistenceIds) {
    Map<String, Head> found = new HashMap<>();
    for (Document doc : heads.find(in("_id", persistenceIds))) {
      long deletedTo =
          doc.get(DELETED_TO) == null ? 0L : doc.get(DELETED_TO, Number.class).longValue();
      found.put(
          doc.getString("_id"), new Head(doc.get(HIGHEST, Number.class).longValue(), deletedTo));
    }
    // first only the id right after each head: most entities recovering in a batch are new (a task
    // being
    // submitted) and have none, and one lookup each is all they cost; the rest probe the window
    // after it
    List<String> nextIds = new ArrayList<>(persistenceIds.size());
    for (String pid : persistenceIds) {
      nextIds.add(DocumentIds.of(pid, found.getOrDefault(pid, new Head(0, 0)).highest() + 1));
    }
    Map<String, Document> beyond = new HashMap<>();
    for (Document e : events.find(in("_id", nextIds)).projection(TOP_FIELDS)) {
      beyond.merge(e.getString(PID), e, MongoEventStore::higher);
    }
    List<String> probeIds = new ArrayList<>();
    for (String pid : beyond.keySet()) {
      long hi = found.getOrDefault(pid, new Head(0, 0)).highest();
      probeIds.addAll(DocumentIds.range(pid, hi + 2, hi + PROBE));
    }
    if (!probeIds.isEmpty()) {
      for (Document e : events.find(in("_id", probeIds)).projection(TOP_FIELDS)) {
        beyond.merge(e.getString(PID), e, MongoEventStore::higher);
      }
    }
    Map<String, Long> out = new HashMap<>();
    Map<String, Document> tops = new HashMap<>();
    for (String pid : persistenceIds) {
      Head head = found.getOrDefault(pid, new Head(0, 0));
      Document top = beyond.get(pid);
      long past = top == null ? 0L : seqOf(top);
      // sequence numbers are contiguous, so a window that is not full holds the last event; a full
      // one (a head
      // far behind) is followed up one entity at a time
      boolean windowFull = past == head.highest() + PROBE;
      if (windowFull) {
        out.put(pid, probe(pid, new Head(past, head.deletedTo())).highest());
      } else if (top == null) {
        out.put(pid, head.highest());
      } else {
        tops.put(pid, top);
      }
    }
    // the tops that end a write of several events are checked together, in one query
    Map<String, Long> deletedTo = new HashMap<>();
    found.forEach((pid, h) -> deletedTo.put(pid, h.deletedTo()));
    committed(tops, deletedTo)
        .forEach(
            (pid, hi) ->
                out.put(pid, Math.max(hi, found.getOrDefault(pid, new Head(0, 0)).highest())));
    return out;
  }

  /**
   * The head document, with the highest sequence number corrected for events stored after it was
   * last updated.
   */
  Head head(String persistenceId) {
    return probe(persistenceId, headDocument(persistenceId));
  }

  private Head headDocument(String persistenceId) {
    Document doc = heads.find(eq("_id", persistenceId)).first();
    long highest = doc == null ? 0L : doc.get(HIGHEST, Number.class).longValue();
    long deletedTo =
        doc == null || doc.get(DELETED_TO) == null
            ? 0L
            : doc.get(DELETED_TO, Number.class).longValue();
    return new Head(highest, deletedTo);
  }

  private Head probe(String persistenceId, Head head) {
    long highest = head.highest();
    Document top = null;
    int window = PROBE;
    while (true) {
      Document found = null;
      for (Document e :
          events
              .find(in("_id", DocumentIds.range(persistenceId, highest + 1, highest + window)))
              .projection(TOP_FIELDS)) {
        found = found == null ? e : higher(found, e);
      }
      if (found == null || seqOf(found) <= highest) {
        long committed =
            top == null
                ? highest
                : committed(Map.of(persistenceId, top), Map.of(persistenceId, head.deletedTo()))
                    .get(persistenceId);
        return new Head(Math.max(committed, head.highest()), head.deletedTo());
      }
      top = found;
      highest = seqOf(found);
      window = Math.min(MAX_PROBE, window * 2);
    }
  }

  private static final org.bson.conversions.Bson TOP_FIELDS =
      Projections.include(SEQ, PID, WRITER, AW_FIRST, AW_LAST);

  private static long seqOf(Document d) {
    return d.get(SEQ, Number.class).longValue();
  }

  private static Document higher(Document a, Document b) {
    return seqOf(a) >= seqOf(b) ? a : b;
  }

  /**
   * The highest sequence number of complete atomic writes, given each journal's top document. A top
   * document of a write of several events is checked: all of the write's documents must be there,
   * from the same writer. If they are not, the write is a remnant, whose documents are deleted now
   * (the entity is recovering: nothing writes to it) so the entity can write those sequence numbers
   * again; its history ends before the remnant.
   */
  private Map<String, Long> committed(Map<String, Document> tops, Map<String, Long> deletedTo) {
    Map<String, Long> out = new HashMap<>();
    List<String> ids = new ArrayList<>();
    for (Map.Entry<String, Document> t : tops.entrySet()) {
      Document top = t.getValue();
      Number last = top.get(AW_LAST, Number.class);
      if (last == null) {
        out.put(
            t.getKey(),
            seqOf(top)); // a single-event write, or one written before writes were marked
      } else {
        long from =
            Math.max(
                top.get(AW_FIRST, Number.class).longValue(),
                deletedTo.getOrDefault(t.getKey(), 0L) + 1);
        ids.addAll(DocumentIds.range(t.getKey(), from, last.longValue()));
      }
    }
    if (ids.isEmpty()) {
      return out;
    }
    Map<String, List<Document>> written = new HashMap<>();
    for (Document d : events.find(in("_id", ids)).projection(TOP_FIELDS)) {
      written.computeIfAbsent(d.getString(PID), k -> new ArrayList<>()).add(d);
    }
    for (Map.Entry<String, Document> t : tops.entrySet()) {
      if (out.containsKey(t.getKey())) {
        continue;
      }
      String pid = t.getKey();
      Document top = t.getValue();
      long seq = seqOf(top);
      long first = top.get(AW_FIRST, Number.class).longValue();
      long last = top.get(AW_LAST, Number.class).longValue();
      long from = Math.max(first, deletedTo.getOrDefault(pid, 0L) + 1);
      List<String> ours = new ArrayList<>();
      for (Document d : written.getOrDefault(pid, List.of())) {
        Number l = d.get(AW_LAST, Number.class);
        if (java.util.Objects.equals(top.getString(WRITER), d.getString(WRITER))
            && l != null
            && l.longValue() == last) {
          ours.add(d.getString("_id"));
        }
      }
      if (seq == last && ours.size() == last - from + 1) {
        out.put(pid, seq);
        continue;
      }
      log.warn(
          "journal of {}: removing {} events of an incomplete atomic write {}..{} (a crash or conflict "
              + "while it was stored)",
          pid,
          ours.size(),
          first,
          last);
      events.deleteMany(in("_id", ours));
      out.put(pid, first - 1);
    }
    return out;
  }

  /** Replays events fromSeq..toSeq (inclusive, at most max) in order, skipping deleted ones. */
  void replay(
      String persistenceId,
      long fromSequenceNr,
      long toSequenceNr,
      long max,
      Consumer<PersistentRepr> callback) {
    if (max <= 0) {
      return;
    }
    Head head = headDocument(persistenceId);
    long from = Math.max(fromSequenceNr, head.deletedTo() + 1);
    // Pekko bounds toSeq by the highest sequence number it just read; a bound that close to the
    // head is looked up
    // directly (ids that do not exist are simply not found), only an open bound needs the probe
    long to =
        toSequenceNr - head.highest() <= MAX_PROBE
            ? toSequenceNr
            : Math.min(toSequenceNr, probe(persistenceId, head).highest());
    long replayed = 0;
    long chunkStart = from;
    while (chunkStart <= to && replayed < max) {
      long chunkEnd = Math.min(to, chunkStart + replayBatchSize - 1);
      long remaining = max - replayed;
      if (remaining < replayBatchSize) {
        chunkEnd = Math.min(chunkEnd, chunkStart + remaining - 1);
      }
      List<Document> docs = new ArrayList<>();
      events.find(in("_id", DocumentIds.range(persistenceId, chunkStart, chunkEnd))).into(docs);
      docs.sort(Comparator.comparingLong(d -> d.get(SEQ, Number.class).longValue()));
      for (Document doc : docs) {
        if (replayed >= max) {
          break;
        }
        callback.accept(toRepr(doc));
        replayed++;
      }
      chunkStart = chunkEnd + 1;
    }
  }

  private PersistentRepr toRepr(Document doc) {
    Object payload = codec.read(doc);
    return PersistentRepr.apply(
            payload,
            doc.get(SEQ, Number.class).longValue(),
            doc.getString(PID),
            doc.getString(EVENT_MANIFEST),
            false,
            ActorRef.noSender(),
            doc.getString(WRITER))
        .withTimestamp(doc.get(TIMESTAMP, Number.class).longValue());
  }

  /** Deletes events up to toSeq (capped at the highest); the highest sequence number stays. */
  void deleteTo(String persistenceId, long toSequenceNr) {
    Head head = head(persistenceId);
    long target = Math.min(toSequenceNr, head.highest());
    if (target <= head.deletedTo()) {
      return;
    }
    // mark first: replay honours the mark even if the physical delete below is interrupted
    heads.updateOne(
        eq("_id", persistenceId),
        Updates.combine(Updates.max(DELETED_TO, target), Updates.max(HIGHEST, head.highest())),
        new UpdateOptions().upsert(true));
    for (long from = head.deletedTo() + 1; from <= target; from += DELETE_CHUNK) {
      long to = Math.min(target, from + DELETE_CHUNK - 1);
      events.deleteMany(in("_id", DocumentIds.range(persistenceId, from, to)));
    }
  }

  /** Stops accepting writes, stores what is queued and raises the heads, then stops the threads. */
  @Override
  public void close() {
    running = false;
    try {
      writer.join(10_000);
      writerDone = true;
      highestReader.join(1_000);
      java.util.concurrent.locks.LockSupport.unpark(headWriter);
      headWriter.join(10_000);
      if (flusher != null) {
        flusher.join(10_000);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    WriteRequest left;
    while ((left = queue.poll()) != null) {
      left.result.completeExceptionally(
          new IllegalStateException("journal stopped before the write was stored"));
    }
  }
}
