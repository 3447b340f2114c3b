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
 * distinct nodes for replicas) and the job goes to exactly that node while the node has room (its
 * capacity plus a small prefetch). Beyond that a job is parked in a shared {@link Pool} stream per
 * requirement class and band, and a worker with free slots pulls it onto its own stream (one Lua
 * script: moved, its placement updated and delivered at once), so a node never holds more than it
 * can start soon and a dead node strands no more than it was running. A worker XACKs (and deletes)
 * an entry only after the task entity recorded its result, so a worker that dies leaves its jobs
 * pending, and they are handed on as soon as the cluster finds the node unreachable ({@link
 * #reclaim}). A cancelled task is marked ({@link #markCancelled}) and its waiting job removed unrun
 * by whichever read reaches it.
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

  /** The ids of every {@link Pool} a job was ever parked in, so workers know which to read. */
  static final String POOLS = "anchor:jobs:pools";

  private static final String POOL_PREFIX = "anchor:jobs:pool:";

  /**
   * taskId → when it was cancelled (epoch ms), for {@value #CANCEL_MARK_DAYS} days: a job of such a
   * task is removed without being run by whoever reads it (a worker, a pool pull, a reclaim), so a
   * job cancelled while it waits is never started, wherever it waits.
   */
  static final String CANCELLED = "anchor:jobs:cancelled";

  static final int CANCEL_MARK_DAYS = 7;
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
    return enqueue(nodeId, job, null);
  }

  /**
   * @param pool where the job may wait instead if the node becomes unreachable before it reads it
   *     ({@link #reclaim}); null for a job that must run on this very node (a replica)
   */
  public CompletionStage<String> enqueue(String nodeId, JobMessage job, Pool pool) {
    String key = stream(nodeId, band(job.priority()));
    ensureGroup(key);
    RedisAsyncCommands<String, String> a = conn.async();
    Map<String, String> fields = job.fields();
    if (pool != null) {
      fields = new HashMap<>(fields);
      fields.put("pool", pool.id());
    }
    // the entry first: a crash between the two leaves a job the index does not know (run again
    // after a restart,
    // recorded once), never an index entry without its job (a task waiting for a job that is not
    // there)
    RedisFuture<String> id = a.xadd(key, fields);
    a.hset(PLACED, job.taskId(), Placement.of(job.attempt(), nodeId));
    return id;
  }

  /**
   * Puts the job on the node's stream if the node holds fewer than {@code limit} jobs (waiting on
   * its streams, running, or finished and not acknowledged: the streams' length, since an entry is
   * deleted when it is acknowledged) and, for a job with a pool, none of its class waits in that
   * pool's band (a new job does not overtake parked ones); else parks it in its pool (the {@code
   * again} stream for a job run before). One Lua script, so concurrent placements, by this
   * coordinator or another, cannot together overfill a node. Completes with where the job went: the
   * node's id, the pool's id, or null when a job without a pool found no room (nothing was queued).
   *
   * @param pool where the job waits when the node has no room; null for a job that must run on this
   *     very node (a replica, a spot-check)
   */
  public CompletionStage<String> place(String nodeId, JobMessage job, Pool pool, int limit) {
    String band = band(job.priority());
    List<String> keys = new ArrayList<>();
    for (String b : BANDS) keys.add(stream(nodeId, b));
    keys.add(stream(nodeId, band));
    keys.add(PLACED);
    keys.add(POOLS);
    keys.add(pool == null ? PLACED : pool.stream(band, true));
    keys.add(pool == null ? PLACED : pool.stream(band, false));
    List<String> args = new ArrayList<>();
    args.add(Integer.toString(limit));
    args.add(job.taskId());
    args.add(Integer.toString(job.attempt()));
    args.add(nodeId);
    args.add(pool == null ? "" : pool.id());
    args.add(GROUP);
    job.fields()
        .forEach(
            (k, v) -> {
              args.add(k);
              args.add(v);
            });
    return PLACE.<String>call(
        conn.async(), keys.toArray(String[]::new), args.toArray(String[]::new));
  }

  /**
   * KEYS: the node's three band streams, the job's band stream of the node, the placements, the
   * pool index, the pool's again and first-time streams of the job's band. ARGV: limit, task,
   * attempt, node, pool id ("" = none), group, then the job's fields. The node's group is made here
   * if it is missing (no blocking call of this JVM's, which would stall Lettuce's event loop when
   * one placement follows another's answer).
   */
  private static final String PLACE_SCRIPT =
      """
      local limit, task, attempt, node, pool = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5]
      local f = {}
      for i = 7, #ARGV do table.insert(f, ARGV[i]) end
      local held = 0
      for i = 1, 3 do held = held + redis.call('XLEN', KEYS[i]) end
      local waiting = 0
      if pool ~= '' then waiting = redis.call('XLEN', KEYS[7]) + redis.call('XLEN', KEYS[8]) end
      if held < limit and waiting == 0 then
        if pool ~= '' then table.insert(f, 'pool'); table.insert(f, pool) end
        pcall(redis.call, 'XGROUP', 'CREATE', KEYS[4], ARGV[6], '0', 'MKSTREAM')
        redis.call('XADD', KEYS[4], '*', unpack(f))
        redis.call('HSET', KEYS[5], task, attempt .. '@' .. node)
        return node
      end
      if pool == '' then return false end
      table.insert(f, 'parkedFor'); table.insert(f, pool)
      redis.call('SADD', KEYS[6], pool)
      redis.call('XADD', tonumber(attempt) > 1 and KEYS[7] or KEYS[8], '*', unpack(f))
      redis.call('HSET', KEYS[5], task, attempt .. '@' .. pool)
      return pool
      """;

  private static final RedisScript PLACE =
      new RedisScript(PLACE_SCRIPT, io.lettuce.core.ScriptOutputType.VALUE);

  /**
   * Jobs any node may take that offers the runtime, has the RAM and, when asked for, a GPU: one
   * shared stream per priority band. Its {@link #id()} is also the "node" a task entity is told for
   * a parked job, until the worker that pulls it says it started.
   */
  public record Pool(String runtime, boolean gpu, long minRamMb) {
    static final String ID_PREFIX = "pool:";

    public String id() {
      return ID_PREFIX + runtime + ":" + (gpu ? "gpu" : "any") + ":" + minRamMb;
    }

    static Pool parse(String id) {
      if (id == null || !id.startsWith(ID_PREFIX)) return null;
      String[] p = id.substring(ID_PREFIX.length()).split(":");
      if (p.length != 3) return null;
      try {
        return new Pool(p[0], p[1].equals("gpu"), Long.parseLong(p[2]));
      } catch (NumberFormatException e) {
        return null;
      }
    }

    /** Whether a node with these specs may run the pool's jobs. */
    public boolean fits(java.util.Collection<String> runtimes, boolean hasGpu, long ramMb) {
      return runtimes.contains(runtime) && (hasGpu || !gpu) && ramMb >= minRamMb;
    }

    /**
     * @param again for jobs run before (a retry, or a job its node was lost with): read before the
     *     band's first-time jobs, so a job that already waited its turn is not sent to the back
     */
    String stream(String band, boolean again) {
      return POOL_PREFIX + band + (again ? ":again:" : ":") + id();
    }

    long waiting(RedisCommands<String, String> s, String band) {
      return s.xlen(stream(band, true)) + s.xlen(stream(band, false));
    }
  }

  /** Whether the "node" a task entity was told is a shared pool rather than a worker. */
  public static boolean isPool(String nodeId) {
    return nodeId != null && nodeId.startsWith(Pool.ID_PREFIX);
  }

  /**
   * Parks the job in its pool's stream for its priority band, for the first worker of the class
   * with a free slot; completes with the entry id. Its placement names the pool until a worker
   * pulls it.
   */
  public CompletionStage<String> park(Pool pool, JobMessage job) {
    RedisAsyncCommands<String, String> a = conn.async();
    Map<String, String> fields = new HashMap<>(job.fields());
    fields.put("parkedFor", pool.id());
    // pipelined: the pool's name (for workers that have not read from it yet), the entry, then the
    // placement, in that order for the reason enqueue gives
    a.sadd(POOLS, pool.id());
    RedisFuture<String> id = a.xadd(pool.stream(band(job.priority()), job.attempt() > 1), fields);
    a.hset(PLACED, job.taskId(), Placement.of(job.attempt(), pool.id()));
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

  /**
   * Marks the task cancelled: its job, on a node's stream or parked in a pool, is removed unrun by
   * the next read that reaches it. Marks older than {@value #CANCEL_MARK_DAYS} days are dropped
   * here.
   */
  public CompletionStage<Long> markCancelled(String taskId) {
    long now = System.currentTimeMillis();
    RedisAsyncCommands<String, String> a = conn.async();
    a.zadd(CANCELLED, (double) now, taskId);
    return a.zremrangebyscore(
        CANCELLED,
        Range.create(0.0, (double) (now - Duration.ofDays(CANCEL_MARK_DAYS).toMillis())));
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
    return reader(nodeId, p -> false);
  }

  /**
   * @param fits which pools this node may pull parked jobs from (asked again as pools appear)
   */
  public Reader reader(String nodeId, java.util.function.Predicate<Pool> fits) {
    for (String b : BANDS) {
      makeGroup(stream(nodeId, b));
      groupsMade.add(stream(nodeId, b));
    }
    return new Reader(nodeId, client.connect(), fits);
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

  /** A stream entry's fields as a script returns them: name, value, name, value... */
  private static Map<String, String> fieldsOf(List<?> flat) {
    Map<String, String> fields = new HashMap<>();
    for (int i = 0; i + 1 < flat.size(); i += 2)
      fields.put(String.valueOf(flat.get(i)), String.valueOf(flat.get(i + 1)));
    return fields;
  }

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
        out.add(
            new Delivery(key, m.getId(), JobMessage.of(m.getBody()), m.getBody().get("parkedFor")));
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
      Map<String, String> fields = fieldsOf(flat);
      out.add(
          new Delivery(
              String.valueOf(r.get(0)),
              String.valueOf(r.get(1)),
              JobMessage.of(fields),
              fields.get("parkedFor")));
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

  /**
   * What {@link #reclaim} took off a node's streams.
   *
   * @param moved jobs the node had not read, now parked in their pool's {@code again} stream (each
   *     delivery's {@code parkedFor} names that pool, as the job's placement now does)
   * @param running jobs the node had read and not acknowledged: it may still be running them
   * @param withdrawn jobs the node had not read that must run on a node of their own choosing (a
   *     replica, a spot-check), removed for their task to place again
   */
  public record Reclaimed(List<Delivery> moved, List<Delivery> running, List<Delivery> withdrawn) {
    public boolean isEmpty() {
      return moved.isEmpty() && running.isEmpty() && withdrawn.isEmpty();
    }
  }

  /**
   * Empties the streams of a node that cannot be reached, in one Lua script (so the node, should it
   * come back, cannot read a job that is also handed on here): a job it never read goes back to its
   * pool, ahead of the first-timers (or is withdrawn if it may not wait in a pool); one it read is
   * acknowledged and removed, and returned for its task to run again. A job of a cancelled task, or
   * of an attempt its task moved past, is dropped. The streams and their group stay, so a node that
   * was only frozen reads on, with nothing of what was handed on.
   */
  public Reclaimed reclaim(String nodeId) {
    List<String> keys = new ArrayList<>();
    for (String b : BANDS) keys.add(stream(nodeId, b));
    keys.add(PLACED);
    keys.add(CANCELLED);
    keys.add(POOLS);
    List<Object> rows =
        RECLAIM.callSync(conn.sync(), keys.toArray(String[]::new), GROUP, nodeId, POOL_PREFIX);
    List<Delivery> moved = new ArrayList<>(), running = new ArrayList<>();
    List<Delivery> withdrawn = new ArrayList<>();
    for (Object row : rows) {
      List<?> r = (List<?>) row;
      List<?> flat = (List<?>) r.get(2);
      Map<String, String> fields = fieldsOf(flat);
      String how = String.valueOf(r.get(3));
      String stream = String.valueOf(r.get(0)), id = String.valueOf(r.get(1));
      JobMessage job = JobMessage.of(fields);
      switch (how) {
        case "moved" -> moved.add(new Delivery(stream, id, job, String.valueOf(r.get(4))));
        case "running" -> running.add(new Delivery(stream, id, job, fields.get("parkedFor")));
        case "withdrawn" -> withdrawn.add(new Delivery(stream, id, job, fields.get("parkedFor")));
        default -> {} // dropped: cancelled, or an attempt its task moved past
      }
    }
    return new Reclaimed(moved, running, withdrawn);
  }

  /**
   * KEYS: the node's three band streams (high, normal, low), the placements hash, the cancel marks,
   * the pool index. ARGV: group, node id, pool stream prefix. A job may wait in a pool when it was
   * enqueued with one ({@code pool}) or pulled from one ({@code parkedFor}). Only such a job is
   * dropped as stale when the task's placement names a newer attempt: a job without a pool may be a
   * replica, whose number is not an attempt the task moved past (the placements hash holds one
   * entry per task, the replica enqueued last, so the replica enqueued first on another node always
   * looked older), and a replica dropped unsaid stayed dispatched in its task forever once its node
   * was reachable again. Such a job is withdrawn instead; its task knows whether it still wants it.
   * Answers {stream, id, fields, how[, pool]} per entry. The pool's stream key is made here from
   * the entry (a single Redis, as everywhere in this class).
   */
  private static final String RECLAIM_SCRIPT =
      """
      local group, node, prefix = ARGV[1], ARGV[2], ARGV[3]
      local placed, cancelled, pools = KEYS[4], KEYS[5], KEYS[6]
      local bands = {'high', 'normal', 'low'}
      local out = {}
      for b = 1, 3 do
        local key = KEYS[b]
        if redis.call('EXISTS', key) == 1 then
          local pending = {}
          local ok, p = pcall(redis.call, 'XPENDING', key, group, '-', '+', 1000000)
          if ok then for _, e in ipairs(p) do pending[e[1]] = true end end
          for _, e in ipairs(redis.call('XRANGE', key, '-', '+')) do
            local id, f = e[1], e[2]
            if pending[id] then redis.call('XACK', key, group, id) end
            redis.call('XDEL', key, id)
            local task, attempt, pool, parked
            local kept = {}
            for j = 1, #f, 2 do
              local k, v = f[j], f[j + 1]
              if k == 'taskId' then task = v elseif k == 'attempt' then attempt = v
              elseif k == 'pool' then pool = v elseif k == 'parkedFor' then parked = v end
              if k ~= 'parkedFor' then table.insert(kept, k); table.insert(kept, v) end
            end
            pool = pool or parked
            local cur = task and redis.call('HGET', placed, task)
            local curAttempt = cur and tonumber(string.match(cur, '^(%d+)@'))
            local how
            if task and redis.call('ZSCORE', cancelled, task) then
              if attempt and cur == attempt .. '@' .. node then redis.call('HDEL', placed, task) end
              how = 'cancelled'
            elseif pending[id] then
              how = 'running'
            elseif pool and task and attempt and curAttempt and curAttempt > tonumber(attempt) then
              how = 'stale'
            elseif pool and task and attempt then
              table.insert(kept, 'parkedFor'); table.insert(kept, pool)
              redis.call('SADD', pools, pool)
              redis.call('XADD', prefix .. bands[b] .. ':again:' .. pool, '*', unpack(kept))
              redis.call('HSET', placed, task, attempt .. '@' .. pool)
              how = 'moved'
            else
              how = 'withdrawn'
            end
            table.insert(out, {key, id, f, how, pool or ''})
          end
        end
      end
      return out
      """;

  private static final RedisScript RECLAIM =
      new RedisScript(RECLAIM_SCRIPT, io.lettuce.core.ScriptOutputType.MULTI);

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
    for (String pool : new java.util.TreeSet<>(s.smembers(POOLS))) {
      Pool p = Pool.parse(pool);
      if (p == null) continue;
      for (String b : BANDS) out.add(new Depth(pool, b, p.waiting(s, b), 0));
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
    for (String pool : new java.util.TreeSet<>(s.smembers(POOLS))) {
      Pool p = Pool.parse(pool);
      if (p == null) continue;
      long w = 0;
      for (String b : BANDS) w += p.waiting(s, b);
      queues.put(pool, new QueueStats.Counts(w, 0, 0, 0, 0, 0));
      waiting += w;
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

  /**
   * Reads one node's streams for its worker, highest priority band first, and pulls parked jobs
   * from the pools it fits when its own streams hold fewer than it asks for.
   */
  public static final class Reader implements AutoCloseable {
    private static final long POOLS_REFRESH_MS = 1000;
    private final String nodeId;
    private final StatefulRedisConnection<String, String> conn;
    private final java.util.function.Predicate<Pool> fits;
    private volatile boolean pull = true;
    private boolean pendingDone;
    private List<Pool> pools = List.of();
    private long poolsReadAt;

    private Reader(
        String nodeId,
        StatefulRedisConnection<String, String> conn,
        java.util.function.Predicate<Pool> fits) {
      this.nodeId = nodeId;
      this.conn = conn;
      this.fits = fits;
    }

    /** Whether to pull parked jobs from pools (a cordoned node only runs what it was given). */
    public void pullFromPools(boolean on) {
      pull = on;
    }

    /**
     * At most {@code count} next jobs for this node: first the ones this node was given before a
     * restart and never acknowledged, then new ones from its own streams and the pools it fits,
     * band by band, waiting up to {@code block} for any. XREADGROUP's COUNT is per stream, so each
     * band is read with what is left of the count: never more jobs than free slots.
     */
    public List<Delivery> next(int count, Duration block) {
      if (count <= 0) return List.of();
      RedisCommands<String, String> s = conn.sync();
      if (!pendingDone) {
        Consumer<String> me = Consumer.from(GROUP, nodeId);
        List<Delivery> pending = new ArrayList<>();
        for (String b : BANDS) {
          int left = count - pending.size();
          if (left <= 0) break;
          @SuppressWarnings("unchecked")
          List<StreamMessage<String, String>> got =
              s.xreadgroup(
                  me,
                  XReadArgs.Builder.count(left),
                  XReadArgs.StreamOffset.from(stream(nodeId, b), "0"));
          pending.addAll(toDeliveries(got));
        }
        // a cancelled one is dropped; the next call reads on past it
        boolean dropped = pending.removeIf(d -> dropIfCancelled(s, d));
        if (!pending.isEmpty() || dropped) return pending;
        pendingDone = true;
      }
      Pulled first = pull(s, count);
      if (!first.jobs().isEmpty() || first.more() || block.isZero()) return first.jobs();
      // nothing for us: wait for a new entry on any stream we read, from where each one ends now
      // (an entry added since the script ran wakes us at once), then take it with the script
      @SuppressWarnings("unchecked")
      XReadArgs.StreamOffset<String>[] offsets =
          first.watched().entrySet().stream()
              .map(e -> XReadArgs.StreamOffset.from(e.getKey(), e.getValue()))
              .toArray(XReadArgs.StreamOffset[]::new);
      List<StreamMessage<String, String>> woke =
          s.xread(XReadArgs.Builder.count(1).block(block), offsets);
      if (woke == null || woke.isEmpty()) return List.of();
      return pull(s, count).jobs();
    }

    /**
     * @param more the script stopped at its limit of entries removed unrun: there may be jobs
     *     behind them, so read again rather than wait
     */
    private record Pulled(List<Delivery> jobs, Map<String, String> watched, boolean more) {}

    private Pulled pull(RedisCommands<String, String> s, int count) {
      refreshPools(s);
      List<String> keys = new ArrayList<>();
      for (String b : BANDS) keys.add(stream(nodeId, b));
      keys.add(PLACED);
      keys.add(CANCELLED);
      List<String> args = new ArrayList<>(List.of(GROUP, nodeId, Integer.toString(count), nodeId));
      List<Pool> from = pull ? pools : List.of();
      for (String b : BANDS) {
        for (Pool p : from) keys.add(p.stream(b, true));
        for (Pool p : from) keys.add(p.stream(b, false));
        args.add(Integer.toString(from.size()));
      }
      List<Object> reply =
          PULL.callSync(s, keys.toArray(String[]::new), args.toArray(String[]::new));
      List<Delivery> jobs = new ArrayList<>();
      for (Object row : (List<?>) reply.get(0)) {
        List<?> r = (List<?>) row;
        List<?> flat = (List<?>) r.get(2);
        Map<String, String> fields = fieldsOf(flat);
        jobs.add(
            new Delivery(
                String.valueOf(r.get(0)),
                String.valueOf(r.get(1)),
                JobMessage.of(fields),
                fields.get("parkedFor")));
      }
      Map<String, String> watched = new LinkedHashMap<>();
      List<?> ids = (List<?>) reply.get(1);
      for (int i = 0; i < ids.size(); i++) {
        String key = keys.get(i < BANDS.size() ? i : i + 2); // PLACED, CANCELLED are not watched
        watched.put(key, String.valueOf(ids.get(i)));
      }
      return new Pulled(jobs, watched, ((Number) reply.get(2)).longValue() == 1);
    }

    /**
     * A job read before a restart whose task was cancelled meanwhile: acknowledged and removed
     * here, never run.
     */
    private boolean dropIfCancelled(RedisCommands<String, String> s, Delivery d) {
      if (d.job().taskId() == null || s.zscore(CANCELLED, d.job().taskId()) == null) return false;
      String[] keys = {d.stream(), PLACED};
      ACK.callSync(
          s, keys, GROUP, d.entryId(), d.job().taskId(), Placement.of(d.job().attempt(), nodeId));
      return true;
    }

    private void refreshPools(RedisCommands<String, String> s) {
      long now = System.currentTimeMillis();
      if (now - poolsReadAt < POOLS_REFRESH_MS) return;
      poolsReadAt = now;
      List<Pool> fitting = new ArrayList<>();
      for (String id : new java.util.TreeSet<>(s.smembers(POOLS))) {
        Pool p = Pool.parse(id);
        if (p != null && fits.test(p)) fitting.add(p);
      }
      pools = List.copyOf(fitting);
    }

    private static List<Delivery> toDeliveries(List<StreamMessage<String, String>> msgs) {
      List<Delivery> out = new ArrayList<>(msgs.size());
      for (StreamMessage<String, String> m : msgs)
        out.add(
            new Delivery(
                m.getStream(),
                m.getId(),
                JobMessage.of(m.getBody()),
                m.getBody().get("parkedFor")));
      return out;
    }

    @Override
    public void close() {
      conn.close();
    }
  }

  /** Entries a read removes unrun at most (cancelled, or of a superseded attempt). */
  private static final int SKIP_LIMIT = 1000;

  /**
   * KEYS: the node's three band streams, the placements hash, the cancel marks, then the pool
   * streams of the high, normal and low band: per band the {@code again} stream of each pool, then
   * the first-time stream of each (ARGV[5..7] say how many pools a band has). ARGV: group,
   * consumer, count, node id. Band by band: jobs run before, moved from the band's {@code again}
   * streams onto the node's stream ahead of its own waiting entries (those are moved behind them),
   * then the node's own entries, then first-time jobs from the pools; a moved job's placement names
   * the node, and it is delivered at once; never more than the count in all. A job of a cancelled
   * task is removed unrun, and a parked job whose task has moved on to a newer attempt is dropped:
   * nobody would take its result. Such entries are read past (up to {@value #SKIP_LIMIT} per call),
   * so a pile of them cannot hold back the jobs behind it. With nothing delivered it also answers
   * where each stream ends, for the caller's blocking XREAD.
   */
  private static final String PULL_SCRIPT =
      """
      local group, me, left, node = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
      local placed, cancelled = KEYS[4], KEYS[5]
      local out = {}
      local skipped = 0
      local function field(f, name)
        for j = 1, #f, 2 do if f[j] == name then return f[j + 1] end end
      end
      local function take(own)
        while left > 0 do
          local r = redis.call('XREADGROUP', 'GROUP', group, me, 'COUNT', left, 'STREAMS', own, '>')
          if not r then return end
          local dropped = 0
          for _, e in ipairs(r[1][2]) do
            local task = field(e[2], 'taskId')
            if task and redis.call('ZSCORE', cancelled, task) then
              redis.call('XACK', own, group, e[1])
              redis.call('XDEL', own, e[1])
              local attempt = field(e[2], 'attempt')
              if attempt and redis.call('HGET', placed, task) == attempt .. '@' .. node then
                redis.call('HDEL', placed, task)
              end
              dropped = dropped + 1
            else
              table.insert(out, {own, e[1], e[2]})
              left = left - 1
            end
          end
          skipped = skipped + dropped
          if dropped == 0 or skipped >= %1$d then return end
        end
      end
      -- removes up to max parked jobs from KEYS[first..last] and answers their fields; a job of a
      -- cancelled task, or of an attempt its task moved past, is dropped on the way
      local function collect(first, last, max)
        local got = {}
        for i = first, last do
          while max - #got > 0 and skipped < %1$d do
            local batch = redis.call('XRANGE', KEYS[i], '-', '+', 'COUNT', max - #got)
            if #batch == 0 then break end
            for _, e in ipairs(batch) do
              redis.call('XDEL', KEYS[i], e[1])
              local f = e[2]
              local task, attempt = field(f, 'taskId'), tonumber(field(f, 'attempt'))
              local cur = task and redis.call('HGET', placed, task)
              local curAttempt = cur and tonumber(string.match(cur, '^(%%d+)@'))
              if task and redis.call('ZSCORE', cancelled, task) then
                if curAttempt == attempt then redis.call('HDEL', placed, task) end
                skipped = skipped + 1
              elseif task and attempt and not (curAttempt and curAttempt > attempt) then
                table.insert(got, f)
              else
                skipped = skipped + 1
              end
            end
          end
        end
        return got
      end
      local function add(own, f)
        redis.call('XADD', own, '*', unpack(f))
        redis.call('HSET', placed, field(f, 'taskId'), field(f, 'attempt') .. '@' .. node)
      end
      -- the node's entries no reader of it has been given yet (after the group's last delivered one)
      local function undelivered(own)
        local last = '0-0'
        local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', own)
        if ok then
          for _, g in ipairs(groups) do
            if field(g, 'name') == group then last = field(g, 'last-delivered-id') end
          end
        end
        local rest = {}
        for _, e in ipairs(redis.call('XRANGE', own, last, '+')) do
          if e[1] ~= last then table.insert(rest, e) end
        end
        return rest
      end
      local pool = 6
      for b = 1, 3 do
        local own = KEYS[b]
        local n = tonumber(ARGV[4 + b])
        -- jobs run before (a retry, a job a lost node held) go ahead of the node's own waiting
        -- entries: those are moved behind them, so the next free slot takes a stranded job first
        local again = collect(pool, pool + n - 1, left)
        if #again > 0 then
          local backlog = undelivered(own)
          for _, e in ipairs(backlog) do redis.call('XDEL', own, e[1]) end
          for _, f in ipairs(again) do add(own, f) end
          for _, e in ipairs(backlog) do redis.call('XADD', own, '*', unpack(e[2])) end
        end
        take(own)
        local fresh = collect(pool + n, pool + 2 * n - 1, left)
        for _, f in ipairs(fresh) do add(own, f) end
        pool = pool + 2 * n
        if #fresh > 0 then take(own) end
      end
      local ends = {}
      if #out == 0 then
        for i = 1, #KEYS do
          if i ~= 4 and i ~= 5 then
            local last = redis.call('XREVRANGE', KEYS[i], '+', '-', 'COUNT', 1)
            table.insert(ends, last[1] and last[1][1] or '0-0')
          end
        end
      end
      return {out, ends, skipped >= %1$d and 1 or 0}
      """
          .formatted(SKIP_LIMIT);

  private static final RedisScript PULL =
      new RedisScript(PULL_SCRIPT, io.lettuce.core.ScriptOutputType.MULTI);
}
