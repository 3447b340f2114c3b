package dev.anchor.queue;

import io.lettuce.core.Consumer;
import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.RedisBusyException;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.XGroupCreateArgs;
import io.lettuce.core.XReadArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.sync.RedisCommands;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The job queue on Redis Streams. Every worker node has its own streams, one per priority band,
 * read by the consumer group {@value #GROUP}: the coordinator chooses the node (requirements, load,
 * distinct nodes for replicas) and the job goes to exactly that node. A worker XACKs (and deletes)
 * an entry only after the task entity recorded its result, so a worker that dies leaves its jobs
 * pending, and they are handed to another node when the node is gone.
 */
public final class JobQueue implements AutoCloseable {
  public static final String GROUP = "workers";
  public static final String DEAD_LETTER = "anchor:jobs:dead";
  public static final String COUNTERS = "anchor:stats";

  /**
   * taskId → "attempt@nodeId" of each job on a node's stream and not acknowledged yet. Task
   * entities do not journal their dispatches; after a restart this tells them where their current
   * attempt already is.
   */
  static final String PLACED = "anchor:jobs:placed";

  private static final String PREFIX = "anchor:jobs:node:";
  private static final List<String> BANDS = List.of("high", "normal", "low");

  private final RedisClient client;
  private final StatefulRedisConnection<String, String> conn;
  private final Set<String> groupsMade = ConcurrentHashMap.newKeySet();

  public JobQueue(RedisClient client) {
    this.client = client;
    this.conn = client.connect();
  }

  static String band(int priority) {
    return priority > 0 ? "high" : priority < 0 ? "low" : "normal";
  }

  public static String stream(String nodeId, String band) {
    return PREFIX + nodeId + ":" + band;
  }

  /** Puts the job on the node's stream for its priority band; completes with the entry id. */
  public CompletionStage<String> enqueue(String nodeId, JobMessage job) {
    String key = stream(nodeId, band(job.priority()));
    ensureGroup(key);
    RedisAsyncCommands<String, String> a = conn.async();
    // the entry first: a crash between the two leaves a job the index does not know (run again
    // after a restart,
    // recorded once), never an index entry without its job (a task waiting for a job that is not
    // there)
    RedisFuture<String> id = a.xadd(key, job.fields());
    a.hset(PLACED, job.taskId(), Placement.of(job.attempt(), nodeId));
    return id;
  }

  /** Where a task's unacknowledged job is, as recorded by {@link #enqueue}. */
  public record Placement(int attempt, String nodeId) {
    static String of(int attempt, String nodeId) {
      return attempt + "@" + nodeId;
    }

    static Placement parse(String v) {
      int at = v == null ? -1 : v.indexOf('@');
      if (at <= 0) return null;
      try {
        return new Placement(Integer.parseInt(v.substring(0, at)), v.substring(at + 1));
      } catch (NumberFormatException e) {
        return null;
      }
    }
  }

  /** The task's job that is queued or running and not acknowledged yet, or null. */
  public CompletionStage<Placement> placement(String taskId) {
    return conn.async().hget(PLACED, taskId).thenApply(Placement::parse);
  }

  private void ensureGroup(String key) {
    if (groupsMade.contains(key)) return;
    makeGroup(key);
    groupsMade.add(key);
  }

  private void makeGroup(String key) {
    try {
      conn.sync()
          .xgroupCreate(
              XReadArgs.StreamOffset.from(key, "0"), GROUP, XGroupCreateArgs.Builder.mkstream());
    } catch (RedisBusyException alreadyThere) {
      // BUSYGROUP: made earlier, by us or another coordinator
    }
  }

  /**
   * A blocking reader for one worker node; it holds its own connection because XREADGROUP BLOCK
   * stalls it. Its groups are made here whatever this JVM remembers: a Redis restarted from a file
   * that missed its last writes may have lost them, and an XADD since then made the stream again
   * without its group.
   */
  public Reader reader(String nodeId) {
    for (String b : BANDS) {
      makeGroup(stream(nodeId, b));
      groupsMade.add(stream(nodeId, b));
    }
    return new Reader(nodeId, client.connect());
  }

  /** Marks the entry done and removes it, so a stream's length is its waiting plus active jobs. */
  public CompletionStage<Long> ack(Delivery d) {
    String nodeId = nodeOf(d.stream());
    String[] keys = {d.stream(), PLACED};
    return ACK.call(
        conn.async(),
        keys,
        GROUP,
        d.entryId(),
        d.job().taskId(),
        Placement.of(d.job().attempt(), nodeId));
  }

  /**
   * XACK + XDEL, and the placement forgotten unless a newer attempt of the task replaced it
   * meanwhile.
   */
  private static final String ACK_SCRIPT =
      """
      redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
      local n = redis.call('XDEL', KEYS[1], ARGV[2])
      if redis.call('HGET', KEYS[2], ARGV[3]) == ARGV[4] then redis.call('HDEL', KEYS[2], ARGV[3]) end
      return n
      """;

  private static final RedisScript ACK =
      new RedisScript(ACK_SCRIPT, io.lettuce.core.ScriptOutputType.INTEGER);

  private static String nodeOf(String stream) {
    String rest = stream.substring(PREFIX.length());
    return rest.substring(0, rest.lastIndexOf(':'));
  }

  /**
   * Everything still on a node's streams (never delivered, or delivered and not acked), then the
   * streams are gone.
   */
  public List<Delivery> takeAll(String nodeId) {
    RedisCommands<String, String> s = conn.sync();
    List<Delivery> out = new ArrayList<>();
    for (String b : BANDS) {
      String key = stream(nodeId, b);
      for (StreamMessage<String, String> m :
          s.xrange(key, Range.create("-", "+"), Limit.create(0, 1_000_000))) {
        out.add(new Delivery(key, m.getId(), JobMessage.of(m.getBody())));
      }
      s.del(key);
      groupsMade.remove(key);
    }
    return out;
  }

  /**
   * Removes and returns the jobs on a node's streams that no reader of the node has been given yet
   * (not in the group's pending list). One Lua script per call, so a worker's XREADGROUP cannot
   * interleave: every job is either delivered to the node or returned here, never both. Used when a
   * node is drained or quarantined.
   */
  public List<Delivery> withdrawUndelivered(String nodeId) {
    String[] keys = BANDS.stream().map(b -> stream(nodeId, b)).toArray(String[]::new);
    List<Object> rows =
        conn.sync().eval(WITHDRAW_SCRIPT, io.lettuce.core.ScriptOutputType.MULTI, keys, GROUP);
    List<Delivery> out = new ArrayList<>();
    for (Object row : rows) {
      List<?> r = (List<?>) row;
      List<?> flat = (List<?>) r.get(2);
      Map<String, String> fields = new HashMap<>();
      for (int i = 0; i + 1 < flat.size(); i += 2)
        fields.put(String.valueOf(flat.get(i)), String.valueOf(flat.get(i + 1)));
      out.add(
          new Delivery(String.valueOf(r.get(0)), String.valueOf(r.get(1)), JobMessage.of(fields)));
    }
    return out;
  }

  private static final String WITHDRAW_SCRIPT =
      """
      local out = {}
      for _, key in ipairs(KEYS) do
        if redis.call('EXISTS', key) == 1 then
          local pending = {}
          local ok, p = pcall(redis.call, 'XPENDING', key, ARGV[1], '-', '+', 1000000)
          if ok then for _, e in ipairs(p) do pending[e[1]] = true end end
          for _, e in ipairs(redis.call('XRANGE', key, '-', '+')) do
            if not pending[e[1]] then
              redis.call('XDEL', key, e[1])
              table.insert(out, {key, e[1], e[2]})
            end
          end
        end
      end
      return out
      """;

  /** Node ids that have streams (whether or not the node is alive). */
  public Set<String> nodesWithStreams() {
    Set<String> nodes = new java.util.TreeSet<>();
    for (String k : conn.sync().keys(PREFIX + "*")) {
      String rest = k.substring(PREFIX.length());
      int i = rest.lastIndexOf(':');
      if (i > 0) nodes.add(rest.substring(0, i));
    }
    return nodes;
  }

  public CompletionStage<String> deadLetter(String taskId, String specJson, String error) {
    return conn.async()
        .xadd(
            DEAD_LETTER,
            Map.of("taskId", taskId, "spec", specJson, "error", error == null ? "" : error));
  }

  /**
   * Jobs on one node's stream of one priority band: not yet read (waiting) and read, not
   * acknowledged (active).
   */
  public record Depth(String nodeId, String band, long waiting, long active) {}

  /** Every node stream's depth (for /metrics). Blocking: a few commands per node. */
  public List<Depth> depths() {
    RedisCommands<String, String> s = conn.sync();
    List<Depth> out = new ArrayList<>();
    for (String node : new java.util.TreeSet<>(nodesWithStreams())) {
      for (String b : BANDS) {
        String key = stream(node, b);
        long len = s.xlen(key);
        long pending = len == 0 ? 0 : s.xpending(key, GROUP).getCount();
        out.add(new Depth(node, b, Math.max(0, len - pending), pending));
      }
    }
    return out;
  }

  /**
   * Tasks queued, waiting for a retry or running across the cluster, as the state counters have
   * them (one HMGET): what the HTTP API's admission control bounds.
   */
  public CompletionStage<Long> openTasks() {
    return conn.async()
        .hmget(COUNTERS, "task:Queued", "task:Delayed", "task:Running")
        .thenApply(
            kvs -> {
              long n = 0;
              for (var kv : kvs) {
                if (kv.hasValue()) {
                  try {
                    n += Long.parseLong(kv.getValue());
                  } catch (NumberFormatException ignored) {
                    // not a count
                  }
                }
              }
              return n;
            });
  }

  public QueueStats stats() {
    RedisCommands<String, String> s = conn.sync();
    Map<String, Long> counters = new HashMap<>();
    s.hgetall(COUNTERS)
        .forEach(
            (k, v) -> {
              try {
                counters.put(k, Long.parseLong(v));
              } catch (NumberFormatException ignored) {
                // not a count
              }
            });
    long dead = s.xlen(DEAD_LETTER);
    java.util.SortedSet<String> nodes = new java.util.TreeSet<>(nodesWithStreams());
    for (String k : counters.keySet()) {
      if (k.startsWith("node:") && (k.endsWith(":Completed") || k.endsWith(":Failed"))) {
        nodes.add(k.substring("node:".length(), k.lastIndexOf(':')));
      }
    }
    Map<String, QueueStats.Counts> queues = new LinkedHashMap<>();
    long waiting = 0, active = 0;
    for (String node : nodes) {
      long w = 0, a = 0;
      for (String b : BANDS) {
        String key = stream(node, b);
        long len = s.xlen(key);
        long pending = len == 0 ? 0 : s.xpending(key, GROUP).getCount();
        w += Math.max(0, len - pending);
        a += pending;
      }
      queues.put(
          "node:" + node,
          new QueueStats.Counts(
              w,
              a,
              QueueStats.n(counters, "node:" + node + ":Completed"),
              QueueStats.n(counters, "node:" + node + ":Failed"),
              0,
              0));
      waiting += w;
      active += a;
    }
    return QueueStats.of(
        counters,
        queues,
        new QueueStats.Counts(
            waiting,
            active,
            QueueStats.n(counters, "task:Completed"),
            QueueStats.n(counters, "task:Failed"),
            QueueStats.n(counters, "task:Delayed"),
            dead));
  }

  private static long parse(String v) {
    return v == null ? 0 : Long.parseLong(v);
  }

  @Override
  public void close() {
    conn.close();
  }

  /** Reads one node's streams for its worker, highest priority band first. */
  public static final class Reader implements AutoCloseable {
    private final String nodeId;
    private final StatefulRedisConnection<String, String> conn;
    private boolean pendingDone;

    private Reader(String nodeId, StatefulRedisConnection<String, String> conn) {
      this.nodeId = nodeId;
      this.conn = conn;
    }

    /**
     * The next jobs for this node: first the ones this node was given before a restart and never
     * acknowledged, then new ones, waiting up to {@code block} for any.
     */
    @SuppressWarnings("unchecked")
    public List<Delivery> next(int count, Duration block) {
      RedisCommands<String, String> s = conn.sync();
      Consumer<String> me = Consumer.from(GROUP, nodeId);
      XReadArgs.StreamOffset<String>[] offsets = new XReadArgs.StreamOffset[BANDS.size()];
      if (!pendingDone) {
        for (int i = 0; i < offsets.length; i++)
          offsets[i] = XReadArgs.StreamOffset.from(stream(nodeId, BANDS.get(i)), "0");
        List<Delivery> pending =
            toDeliveries(s.xreadgroup(me, XReadArgs.Builder.count(count), offsets));
        if (!pending.isEmpty()) return pending;
        pendingDone = true;
      }
      for (int i = 0; i < offsets.length; i++)
        offsets[i] = XReadArgs.StreamOffset.lastConsumed(stream(nodeId, BANDS.get(i)));
      return toDeliveries(s.xreadgroup(me, XReadArgs.Builder.count(count).block(block), offsets));
    }

    private static List<Delivery> toDeliveries(List<StreamMessage<String, String>> msgs) {
      List<Delivery> out = new ArrayList<>(msgs.size());
      for (StreamMessage<String, String> m : msgs)
        out.add(new Delivery(m.getStream(), m.getId(), JobMessage.of(m.getBody())));
      Map<String, Integer> rank = new HashMap<>();
      for (int i = 0; i < BANDS.size(); i++) rank.put(BANDS.get(i), i);
      out.sort(
          Comparator.comparingInt(
              d -> rank.getOrDefault(d.stream().substring(d.stream().lastIndexOf(':') + 1), 9)));
      return out;
    }

    @Override
    public void close() {
      conn.close();
    }
  }
}
