package dev.anchor.persistence.mongo;

import com.typesafe.config.Config;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.persistence.AtomicWrite;
import org.apache.pekko.persistence.PersistentRepr;
import org.apache.pekko.persistence.journal.japi.AsyncWriteJournal;
import scala.concurrent.Future;
import scala.jdk.javaapi.FutureConverters;

/**
 * Pekko Persistence journal plugin on MongoDB ({@code pekko.persistence.journal.plugin =
 * "anchor.journal"}). Storage layout and batching: {@link MongoEventStore}. The client is the actor
 * system's {@link MongoStore}.
 */
public final class MongoJournal extends AsyncWriteJournal {

  private final MongoEventStore store;
  private final Executor blocking;

  public MongoJournal(Config config) {
    ActorSystem system = context().system();
    MongoStore mongo = MongoStore.get(system);
    boolean fileBacked = mongo.embedded().flatMap(EmbeddedMongoServer::file).isPresent();
    Runnable flush =
        fileBacked && config.getBoolean("flush-embedded-before-ack") ? mongo::flush : null;
    this.store =
        new MongoEventStore(
            mongo.database(),
            config.getString("collection"),
            config.getString("heads-collection"),
            new PayloadCodec(system),
            flush,
            config.getInt("max-batch-events"),
            config.getInt("replay-batch-size"),
            config.getDuration("head-update-interval"));
    this.blocking = system.dispatchers().lookup(config.getString("blocking-dispatcher"));
  }

  @Override
  @SuppressWarnings({"unchecked", "rawtypes"})
  public Future<Iterable<Optional<Exception>>> doAsyncWriteMessages(
      Iterable<AtomicWrite> messages) {
    // a List is an Iterable; casting (rather than thenApply) keeps the failure unwrapped for the
    // persistent actor
    CompletionStage stage = store.write(messages);
    return FutureConverters.asScala((CompletionStage<Iterable<Optional<Exception>>>) stage);
  }

  @Override
  public Future<Void> doAsyncDeleteMessagesTo(String persistenceId, long toSequenceNr) {
    return FutureConverters.asScala(
        CompletableFuture.runAsync(() -> store.deleteTo(persistenceId, toSequenceNr), blocking));
  }

  @Override
  public Future<Void> doAsyncReplayMessages(
      String persistenceId,
      long fromSequenceNr,
      long toSequenceNr,
      long max,
      Consumer<PersistentRepr> replayCallback) {
    return FutureConverters.asScala(
        CompletableFuture.runAsync(
            () -> store.replay(persistenceId, fromSequenceNr, toSequenceNr, max, replayCallback),
            blocking));
  }

  @Override
  public Future<Long> doAsyncReadHighestSequenceNr(String persistenceId, long fromSequenceNr) {
    return FutureConverters.asScala(store.highestSequenceNrAsync(persistenceId));
  }

  @Override
  public void postStop() throws Exception {
    store.close();
    super.postStop();
  }
}
