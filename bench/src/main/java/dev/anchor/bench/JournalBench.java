package dev.anchor.bench;

import com.mongodb.client.MongoCollection;
import com.mongodb.client.model.InsertManyOptions;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.anchor.CborSerializable;
import dev.anchor.persistence.mongo.MongoStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.AbstractActor;
import org.apache.pekko.actor.Props;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.persistence.JournalProtocol;
import org.apache.pekko.persistence.Persistence;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.bson.Document;

/**
 * Journal benchmark. journal-write: many persistent actors persisting one event at a time
 * concurrently (the journal batches them into insertMany calls). journal-replay: recovery of one
 * entity's 100 events, and its highest-sequence- number lookup, with 1,000 and with 1,000,000
 * events in the journal — these must not differ.
 *
 * <p>Stores: {@code memory} = embedded server, in-memory backend; {@code h2} = embedded server, H2
 * MVStore file in a temporary directory (committed after each write batch). Arguments: {@code
 * [stores=memory,h2] [replay-h2-max=1000000 (0: skip the H2 replay scenario)]}.
 */
public final class JournalBench {

  private static final Duration TIMEOUT = Duration.ofSeconds(120);

  public static void main(String[] args) throws Exception {
    // the figures are about the journal, not about DEBUG logging of every driver command
    ((ch.qos.logback.classic.Logger)
            org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME))
        .setLevel(ch.qos.logback.classic.Level.WARN);
    printLoad("start");
    List<String> stores =
        List.of(args.length > 0 ? args[0].split(",") : new String[] {"memory", "h2"});
    long h2Max = args.length > 1 ? Long.parseLong(args[1]) : 1_000_000L;
    for (String store : stores) {
      writeScenario(store, 50, 20, false); // warm-up, not reported
      writeScenario(store, 1, 500, true);
      writeScenario(store, 50, 100, true);
      writeScenario(store, 500, 40, true);
      if (h2Max > 0 || !store.equals("h2")) {
        replayScenario(store, store.equals("h2") ? h2Max : 1_000_000L);
      }
    }
    printLoad("end");
    System.exit(0);
  }

  /** Figures from a shared machine mean little without its load next to them. */
  private static void printLoad(String when) {
    try {
      System.out.println(
          "# load average at "
              + when
              + ": "
              + Files.readString(Path.of("/proc/loadavg")).trim()
              + ", cores: "
              + Runtime.getRuntime().availableProcessors());
    } catch (Exception e) {
      // not Linux: no load figure
    }
  }

  // ------------------------------------------------------------------------------------------------ entity

  /**
   * A persistent actor that persists {@code n} events one after another when told to, then replies.
   */
  public static final class Writer
      extends EventSourcedBehavior<Writer.Command, Writer.Written, Long> {
    public sealed interface Command {}

    public record Write(int remaining, ActorRef<Done> replyTo) implements Command {}

    public record Count(ActorRef<Long> replyTo) implements Command {}

    public record Written(String payload) implements CborSerializable {}

    private final ActorContext<Command> context;

    private Writer(ActorContext<Command> context, String id) {
      super(PersistenceId.ofUniqueId(id));
      this.context = context;
    }

    static Behavior<Command> create(String id) {
      return Behaviors.setup(ctx -> new Writer(ctx, id));
    }

    @Override
    public Long emptyState() {
      return 0L;
    }

    @Override
    public CommandHandler<Command, Written, Long> commandHandler() {
      return newCommandHandlerBuilder()
          .forAnyState()
          .onCommand(
              Write.class,
              (state, cmd) -> {
                if (cmd.remaining() == 0) {
                  return Effect().reply(cmd.replyTo(), Done.getInstance());
                }
                return Effect()
                    .persist(new Written("event payload of a typical small size " + state))
                    .thenRun(
                        s -> context.getSelf().tell(new Write(cmd.remaining() - 1, cmd.replyTo())));
              })
          .onCommand(Count.class, (state, cmd) -> Effect().reply(cmd.replyTo(), state))
          .build();
    }

    @Override
    public EventHandler<Long, Written> eventHandler() {
      return newEventHandlerBuilder()
          .forAnyState()
          .onEvent(Written.class, (state, e) -> state + 1)
          .build();
    }
  }

  // ------------------------------------------------------------------------------------------------ setup

  private record Env(
      ActorSystem<Void> system, org.apache.pekko.actor.ActorSystem classic, Path dir, String store)
      implements AutoCloseable {
    @Override
    public void close() throws Exception {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
      if (dir != null) {
        try (var files = Files.walk(dir)) {
          files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
      }
    }
  }

  private static Env start(String store, String name) throws Exception {
    Path dir = store.equals("h2") ? Files.createTempDirectory("journal-bench") : null;
    Config config =
        ConfigFactory.parseMap(
                Map.of(
                    "anchor.mongo.uri", store.equals("h2") ? "embedded" : "embedded-memory",
                    "anchor.data-dir", dir == null ? "unused" : dir.toString()))
            .withFallback(
                ConfigFactory.parseString(
                    """
                        pekko.loglevel = WARNING
                        pekko.persistence.journal.plugin = "anchor.journal"
                        pekko.persistence.snapshot-store.plugin = "anchor.snapshot-store"
                        """))
            .withFallback(ConfigFactory.load());
    // classic system: lets the benchmark spawn its entities from outside
    org.apache.pekko.actor.ActorSystem classic =
        org.apache.pekko.actor.ActorSystem.create(name, config);
    ActorSystem<Void> system = Adapter.toTyped(classic);
    MongoStore.get(system).ping();
    return new Env(system, classic, dir, store);
  }

  private static void writeAll(
      ActorSystem<Void> system, List<ActorRef<Writer.Command>> writers, int eventsEach)
      throws Exception {
    List<CompletableFuture<Done>> done = new ArrayList<>();
    for (ActorRef<Writer.Command> w : writers) {
      done.add(
          AskPattern.<Writer.Command, Done>ask(
                  w, replyTo -> new Writer.Write(eventsEach, replyTo), TIMEOUT, system.scheduler())
              .toCompletableFuture());
    }
    CompletableFuture.allOf(done.toArray(CompletableFuture[]::new)).get(10, TimeUnit.MINUTES);
  }

  private static List<ActorRef<Writer.Command>> spawn(
      ActorSystem<Void> system, String prefix, int n) {
    List<ActorRef<Writer.Command>> refs = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      refs.add(Adapter.spawn(Adapter.toClassic(system), Writer.create(prefix + i), prefix + i));
    }
    return refs;
  }

  // ------------------------------------------------------------------------------------------------ scenarios

  private static void writeScenario(String store, int entities, int eventsEach, boolean report)
      throws Exception {
    try (Env env = start(store, "write")) {
      List<ActorRef<Writer.Command>> writers = spawn(env.system(), "w", entities);
      writeAll(env.system(), writers, 0); // recovery of all entities done before timing
      long start = System.nanoTime();
      writeAll(env.system(), writers, eventsEach);
      double seconds = (System.nanoTime() - start) / 1e9;
      long events = (long) entities * eventsEach;
      if (report) {
        System.out.printf(
            "RESULT scenario=journal-write store=%s entities=%d events=%d seconds=%.2f events_per_s=%.0f%n",
            store, entities, events, seconds, events / seconds);
      }
    }
  }

  private static void replayScenario(String store, long largest) throws Exception {
    try (Env env = start(store, "replay")) {
      ActorSystem<Void> system = env.system();
      var probe = spawn(system, "probe", 1).get(0);
      writeAll(system, List.of(probe), 100);
      MongoCollection<Document> journal =
          MongoStore.get(system).database().getCollection("journal");
      long inJournal = 100;
      for (long size : new long[] {1_000, largest}) {
        if (size < inJournal) {
          continue;
        }
        long fillStart = System.nanoTime();
        inJournal = fill(journal, inJournal, size);
        double fillSeconds = (System.nanoTime() - fillStart) / 1e9;
        MongoStore.get(system).flush();
        measureReplay(system, store, inJournal, fillSeconds);
      }
    }
  }

  /**
   * Adds other entities' events (same document layout, 10 events each) until the journal holds
   * {@code target}.
   */
  private static long fill(MongoCollection<Document> journal, long current, long target) {
    byte[] payload = new byte[60];
    Arrays.fill(payload, (byte) 'x');
    List<Document> batch = new ArrayList<>(1000);
    for (long n = current; n < target; n++) {
      long entity = n / 10;
      long seq = n % 10 + 1;
      String pid = "filler-" + entity;
      String s = Long.toString(seq);
      batch.add(
          new Document("_id", pid + "|" + "0".repeat(19 - s.length()) + s)
              .append("pid", pid)
              .append("seq", seq)
              .append("ts", System.currentTimeMillis())
              .append("w", "bench")
              .append("m", "")
              .append("sid", 4)
              .append("sm", "")
              .append("p", payload));
      if (batch.size() == 1000) {
        journal.insertMany(batch, new InsertManyOptions().ordered(false));
        batch.clear();
      }
    }
    if (!batch.isEmpty()) {
      journal.insertMany(batch, new InsertManyOptions().ordered(false));
    }
    return target;
  }

  private static void measureReplay(
      ActorSystem<Void> system, String store, long journalEvents, double fillSeconds)
      throws Exception {
    org.apache.pekko.actor.ActorRef journal =
        Persistence.get(Adapter.toClassic(system)).journalFor(null, ConfigFactory.empty());
    int rounds = 50;
    double[] replay = new double[rounds];
    double[] highest = new double[rounds];
    for (int warm = 0;
        warm < 50;
        warm++) { // JIT and connection pool warm-up, so 1k and 1M compare like for like
      replay(system, journal, Long.MAX_VALUE);
    }
    for (int i = 0; i < rounds; i++) {
      long t0 = System.nanoTime();
      long[] r = replay(system, journal, Long.MAX_VALUE);
      replay[i] = (System.nanoTime() - t0) / 1e6;
      if (r[0] != 100 || r[1] != 100) {
        throw new IllegalStateException(
            "replayed " + r[0] + " events, highest " + r[1] + ", expected 100");
      }
      t0 = System.nanoTime();
      replay(system, journal, 0);
      highest[i] = (System.nanoTime() - t0) / 1e6;
    }
    Arrays.sort(replay);
    Arrays.sort(highest);
    System.out.printf(
        "RESULT scenario=journal-replay store=%s journal_events=%d entity_events=100 replay_ms=%.2f replay_p90_ms=%.2f highest_seq_ms=%.2f fill_s=%.1f%n",
        store,
        journalEvents,
        replay[rounds / 2],
        replay[rounds * 9 / 10],
        highest[rounds / 2],
        fillSeconds);
  }

  /**
   * Asks the journal to replay the probe entity (max=0: only its highest sequence number); returns
   * {replayed, highest}.
   */
  private static long[] replay(
      ActorSystem<Void> system, org.apache.pekko.actor.ActorRef journal, long max)
      throws Exception {
    CompletableFuture<long[]> result = new CompletableFuture<>();
    Adapter.toClassic(system)
        .actorOf(
            Props.create(ReplayCollector.class, () -> new ReplayCollector(journal, max, result)));
    return result.get(60, TimeUnit.SECONDS);
  }

  private static final class ReplayCollector extends AbstractActor {
    private final org.apache.pekko.actor.ActorRef journal;
    private final long max;
    private final CompletableFuture<long[]> result;
    private long replayed;

    ReplayCollector(
        org.apache.pekko.actor.ActorRef journal, long max, CompletableFuture<long[]> result) {
      this.journal = journal;
      this.max = max;
      this.result = result;
    }

    @Override
    public void preStart() {
      journal.tell(
          new JournalProtocol.ReplayMessages(1, Long.MAX_VALUE, max, "probe0", getSelf()),
          getSelf());
    }

    @Override
    public Receive createReceive() {
      return receiveBuilder()
          .match(JournalProtocol.ReplayedMessage.class, m -> replayed++)
          .match(
              JournalProtocol.RecoverySuccess.class,
              m -> {
                result.complete(new long[] {replayed, m.highestSequenceNr()});
                getContext().stop(getSelf());
              })
          .match(
              JournalProtocol.ReplayMessagesFailure.class,
              m -> {
                result.completeExceptionally(m.cause());
                getContext().stop(getSelf());
              })
          .build();
    }
  }
}
