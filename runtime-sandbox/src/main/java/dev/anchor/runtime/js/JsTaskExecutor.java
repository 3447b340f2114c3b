package dev.anchor.runtime.js;

import dev.anchor.runtime.FailureKind;
import dev.anchor.runtime.internal.CappedOutputStream;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.Engine;
import org.graalvm.polyglot.EnvironmentAccess;
import org.graalvm.polyglot.HostAccess;
import org.graalvm.polyglot.PolyglotAccess;
import org.graalvm.polyglot.PolyglotException;
import org.graalvm.polyglot.Source;
import org.graalvm.polyglot.SourceSection;
import org.graalvm.polyglot.Value;
import org.graalvm.polyglot.io.IOAccess;

/**
 * Runs JS tasks on one shared GraalJS {@link Engine} (parsed and compiled code is reused across
 * tasks), each task in a fresh, locked-down {@link Context}. Used inside a JS child JVM, or in the
 * worker itself for {@link dev.anchor.runtime.JsIsolation#IN_PROCESS}. Thread-safe.
 */
public final class JsTaskExecutor implements AutoCloseable {
  static final String TASK_SOURCE_NAME = "task.js";

  /**
   * Evaluated in each context before the user's code so it captures the pristine JSON.stringify and
   * Promise: a task that replaces them cannot make its own result invalid JSON. Settles a returned
   * thenable (jobs run when the host call returns) and enforces the result cap before the text
   * crosses into Java.
   */
  private static final String FINISHER =
      """
            (function () {
              const stringify = JSON.stringify, PromiseCtor = Promise, then = Promise.prototype.then,
                    apply = Reflect.apply, Str = String, lineOf = /task\\.js:(\\d+)/;
              function fail(e, st) {
                st.state = 2;
                try {
                  st.message = (e instanceof Error) ? Str(e.name) + ': ' + Str(e.message) : 'Uncaught ' + Str(e);
                } catch (x) { st.message = 'Uncaught exception'; }
                try { const m = lineOf.exec(Str(e && e.stack)); if (m) st.line = +m[1]; } catch (x) {}
              }
              function finish(v, cap, st) {
                if (typeof v === 'string' && v.length > cap) { st.state = 3; st.size = v.length; return; }
                let j;
                try { j = stringify(v); } catch (e) { fail(e, st); return; }
                if (j === undefined) j = 'null';
                if (j.length > cap) { st.state = 3; st.size = j.length; return; }
                st.state = 1; st.json = j;
              }
              return function (r, cap) {
                const st = { state: 0 };
                if (r !== null && (typeof r === 'object' || typeof r === 'function') && typeof r.then === 'function') {
                  apply(then, PromiseCtor.resolve(r), [v => finish(v, cap, st), e => fail(e, st)]);
                } else {
                  finish(r, cap, st);
                }
                return st;
              };
            })()
            """;

  /**
   * Warm-up workload; {@code $I} is replaced by the iteration number so that every iteration is a
   * new source that Truffle compiles again: what needs warming is the Graal compiler itself (on a
   * stock JDK it is Java code that HotSpot compiles like any other), and it only warms by
   * compiling.
   */
  private static final String WARMUP =
      """
            function primes$I(n) {
              let c = 0;
              for (let i = 3; i < n; i += 2) {
                let p = true;
                for (let d = 3; d * d <= i; d += 2) if (i % d === 0) { p = false; break; }
                if (p) c++;
              }
              return c;
            }
            function objects$I(n) {
              const o = { a: [], m: new Map() };
              for (let k = 0; k < n; k++) { o.a.push({ k, s: String(k), f: k / 3 }); o.m.set('k' + k, k); }
              let t = 0;
              for (const x of o.a) t += x.f + x.s.length + o.m.get('k' + x.k);
              return t + JSON.stringify(o.a.slice(0, 100)).length + JSON.parse('{"x":[1,2,3]}').x.length;
            }
            function strings$I(n) {
              let s = '';
              for (let i = 0; i < n; i++) s += String.fromCharCode(97 + (i % 26));
              return s.split('a').map(x => x.toUpperCase()).filter(x => x.length > 3).join('-').length;
            }
            primes$I(150000) + objects$I(20000) + strings$I(50000)
            """;

  private final Engine engine;
  private final Source finisherSource;
  private final Source inputParserSource;
  private final ScheduledExecutorService watchdog;
  private final ExecutorService housekeeper;
  private final BlockingQueue<Prepared> prepared;
  private final Map<String, Running> running = new ConcurrentHashMap<>();
  private final int logCapForPrepared;

  /**
   * A context made ready off the task's path: its JS realm initialised (the costly part of a fresh
   * context, a few milliseconds) and the finisher already evaluated in it.
   */
  private record Prepared(Context context, CappedOutputStream logs, Value finisher) {}

  /** A task in flight; the first stop reason wins and decides the failure kind. */
  private static final class Running {
    final Context context;
    final AtomicReference<FailureKind> stopReason = new AtomicReference<>();

    Running(Context context) {
      this.context = context;
    }

    void stop(FailureKind reason) {
      if (stopReason.compareAndSet(null, reason)) {
        try {
          context.close(true);
        } catch (RuntimeException ignored) {
          // Already closed or closing: the task is ending anyway.
        }
      }
    }
  }

  /**
   * @param prepareAhead contexts built in the background before they are needed, so that context
   *     creation is not on a task's path (0 to build on demand)
   * @param logCap the log cap of prepared contexts; a task asking for another cap gets a context
   *     built for it
   */
  public JsTaskExecutor(int prepareAhead, int logCap) {
    this.engine = newEngine();
    this.finisherSource = Source.create("js", FINISHER);
    this.inputParserSource = Source.create("js", "(function (t) { return JSON.parse(t); })");
    this.watchdog = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "js-watchdog"));
    this.housekeeper = Executors.newSingleThreadExecutor(r -> daemon(r, "js-housekeeper"));
    this.prepared = new ArrayBlockingQueue<>(Math.max(1, prepareAhead));
    this.logCapForPrepared = logCap;
    for (int i = 0; i < prepareAhead; i++) housekeeper.execute(this::prepareOne);
  }

  private static Engine newEngine() {
    try {
      return Engine.newBuilder("js")
          .option("engine.WarnInterpreterOnly", "false")
          // With one compiler thread (Truffle's default on small machines) a task's hot loop waits
          // behind
          // any long compilation in the queue; on a stock JDK the Graal compiler is slow until
          // warm, so a
          // second thread keeps the first run of a new task from waiting seconds for its
          // compilation.
          .option(
              "engine.CompilerThreads",
              Integer.toString(Math.max(2, Runtime.getRuntime().availableProcessors() / 2)))
          .build();
    } catch (IllegalArgumentException noCompiler) {
      // Interpreter-only runtime (no JVMCI compiler): the compiler options do not exist.
      return Engine.newBuilder("js").option("engine.WarnInterpreterOnly", "false").build();
    }
  }

  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  /**
   * Whether Truffle compiles guest code here (false means the slow interpreter: the JIT flags are
   * missing).
   */
  public boolean compilationEnabled() {
    return !"Interpreted".equalsIgnoreCase(engine.getImplementationName());
  }

  public String implementationName() {
    return engine.getImplementationName();
  }

  /**
   * Warms the process for real tasks: first a representative workload until its time stops
   * improving, so Truffle and the Graal compiler (itself Java code the JVM must first compile) are
   * warm; then a few hundred empty tasks through {@link #execute}, so the host-side path of a task
   * (context creation, realm set-up, close) is C2-compiled: without it the per-task overhead starts
   * at several milliseconds and takes ~1000 tasks to drop.
   */
  public long warmUp(long budgetMs) {
    long start = System.nanoTime();
    // A few distinct sources only: each queues compilations, and a long queue would still be
    // draining when the
    // first real task needs the compiler.
    for (int i = 0; i < 3 && elapsedMs(start) < budgetMs / 3; i++) {
      try (Context c = newContext(new CappedOutputStream(1024), false)) {
        c.eval(Source.create("js", WARMUP.replace("$I", Integer.toString(i))));
      }
    }
    // Past the first-tier threshold of the per-task host roots (putMember, execute, the program
    // root), so that their
    // compilations are not queued ahead of the first real task's.
    for (int i = 0; i < 1_000 && elapsedMs(start) < budgetMs / 2; i++) {
      execute(
          new JsRequest(
              "warm-up-" + i,
              "({ n: input.n + 1, s: 'x' + input.n })",
              "{\"n\":" + i + "}",
              10_000,
              128,
              logCapForPrepared,
              1 << 20));
    }
    CompilerIdle.await(Math.max(1_000, budgetMs - elapsedMs(start)));
    return elapsedMs(start);
  }

  private static long elapsedMs(long startNanos) {
    return (System.nanoTime() - startNanos) / 1_000_000;
  }

  /**
   * Whether a script may use ECMA-402 (Intl and the locale-sensitive methods). A JS realm without
   * Intl is built in about half the CPU time, and nearly every task is one that never mentions it,
   * so only those that do (the name of any of these anywhere in their code) get a realm with it;
   * code that reaches Intl without naming it finds none.
   */
  static boolean needsIntl(String source) {
    return source != null
        && (source.contains("Intl")
            || source.contains("toLocale")
            || source.contains("localeCompare"));
  }

  private Context newContext(CappedOutputStream logs, boolean intl) {
    return Context.newBuilder("js")
        .engine(engine)
        .allowHostAccess(HostAccess.NONE)
        .allowHostClassLookup(name -> false)
        .allowHostClassLoading(false)
        .allowIO(IOAccess.NONE)
        .allowCreateThread(false)
        .allowNativeAccess(false)
        .allowCreateProcess(false)
        .allowEnvironmentAccess(EnvironmentAccess.NONE)
        .allowPolyglotAccess(PolyglotAccess.NONE)
        .allowInnerContextOptions(false)
        .allowValueSharing(false)
        .timeZone(ZoneOffset.UTC)
        .in(new ByteArrayInputStream(new byte[0]))
        .out(logs)
        .err(logs)
        .option("js.load", "false")
        .option("js.graal-builtin", "false")
        .option("js.intl-402", Boolean.toString(intl))
        .build();
  }

  private Prepared prepare(int logCap, boolean intl) {
    CappedOutputStream logs = new CappedOutputStream(logCap);
    Context ctx = newContext(logs, intl);
    try {
      return new Prepared(ctx, logs, ctx.eval(finisherSource));
    } catch (RuntimeException e) {
      ctx.close(true);
      throw e;
    }
  }

  private void prepareOne() {
    try {
      Prepared p = prepare(logCapForPrepared, false);
      if (!prepared.offer(p)) p.context().close();
    } catch (RuntimeException e) {
      // Engine closed during shutdown; tasks then build contexts on demand and fail visibly.
    }
  }

  private Prepared take(int logCap, boolean intl) {
    if (intl) return prepare(logCap, true);
    if (logCap == logCapForPrepared) {
      Prepared p = prepared.poll();
      if (p != null) {
        housekeeper.execute(this::prepareOne);
        return p;
      }
      housekeeper.execute(this::prepareOne);
    }
    return prepare(logCap, false);
  }

  /** Stops every running task; used by the child's heap watch, which cannot tell tasks apart. */
  public void stopAll(FailureKind reason) {
    running.values().forEach(r -> r.stop(reason));
  }

  public boolean cancel(String jobId) {
    Running r = running.get(jobId);
    if (r == null) return false;
    r.stop(FailureKind.CANCELLED);
    return true;
  }

  public JsReply execute(JsRequest req) {
    long start = System.nanoTime();
    Prepared p;
    try {
      p = take(req.logCap(), needsIntl(req.source()));
    } catch (RuntimeException e) {
      return JsReply.failure(
          req.jobId(), FailureKind.INTERNAL, "could not create a JS context: " + e, -1, "", 0);
    }
    Context ctx = p.context();
    Running r = new Running(ctx);
    running.put(req.jobId(), r);
    ScheduledFuture<?> deadline =
        watchdog.schedule(
            () -> r.stop(FailureKind.TIMEOUT), req.timeoutMs(), TimeUnit.MILLISECONDS);
    try {
      Value finisher = p.finisher();
      Value input = null;
      if (req.inputJson() != null) {
        try {
          input = ctx.eval(inputParserSource).execute(req.inputJson());
        } catch (PolyglotException e) {
          if (e.isGuestException() && !e.isCancelled()) {
            return JsReply.failure(
                req.jobId(),
                FailureKind.BAD_PAYLOAD,
                "input is not valid JSON: " + e.getMessage(),
                -1,
                "",
                ms(start));
          }
          throw e;
        }
      }
      ctx.getBindings("js").putMember("input", input);
      Source source =
          Source.newBuilder("js", req.source() == null ? "" : req.source(), TASK_SOURCE_NAME)
              .cached(true)
              .buildLiteral();
      Value result = ctx.eval(source);
      Value st = finisher.execute(result, req.resultCap());
      int state = st.getMember("state").asInt();
      String logs = p.logs().text();
      return switch (state) {
        case 1 -> {
          String json = st.getMember("json").asString();
          int bytes = json.getBytes(StandardCharsets.UTF_8).length;
          if (bytes > req.resultCap()) {
            yield JsReply.failure(
                req.jobId(),
                FailureKind.OUTPUT_LIMIT,
                "result is " + bytes + " bytes, above the cap of " + req.resultCap(),
                -1,
                logs,
                ms(start));
          }
          yield JsReply.success(req.jobId(), json, logs, ms(start), 0);
        }
        case 2 ->
            JsReply.failure(
                req.jobId(),
                FailureKind.CODE_ERROR,
                st.getMember("message").asString(),
                st.hasMember("line") && st.getMember("line").isNumber()
                    ? st.getMember("line").asInt()
                    : -1,
                logs,
                ms(start));
        case 3 ->
            JsReply.failure(
                req.jobId(),
                FailureKind.OUTPUT_LIMIT,
                "result is "
                    + st.getMember("size").asLong()
                    + " characters, above the cap of "
                    + req.resultCap()
                    + " bytes",
                -1,
                logs,
                ms(start));
        default ->
            JsReply.failure(
                req.jobId(),
                FailureKind.CODE_ERROR,
                "the returned Promise never settled (there is no event loop: timers and I/O do not exist)",
                -1,
                logs,
                ms(start));
      };
    } catch (PolyglotException e) {
      return fromException(req, e, r.stopReason.get(), p.logs().text(), ms(start));
    } catch (RuntimeException | StackOverflowError e) {
      FailureKind reason = r.stopReason.get();
      if (reason != null) return stopped(req, reason, p.logs().text(), ms(start));
      return JsReply.failure(
          req.jobId(),
          FailureKind.INTERNAL,
          "JS executor failed: " + e,
          -1,
          p.logs().text(),
          ms(start));
    } finally {
      deadline.cancel(false);
      running.remove(req.jobId());
      // Closing takes milliseconds; the task's answer should not wait for it.
      housekeeper.execute(
          () -> {
            try {
              ctx.close();
            } catch (RuntimeException notIdle) {
              try {
                ctx.close(true);
              } catch (RuntimeException ignored) {
                // already closed by a stop
              }
            }
          });
    }
  }

  private static JsReply stopped(JsRequest req, FailureKind reason, String logs, long ms) {
    String msg =
        switch (reason) {
          case TIMEOUT -> "task exceeded its deadline of " + req.timeoutMs() + " ms";
          case MEMORY_LIMIT -> "task exceeded its memory cap of " + req.memoryMb() + " MB";
          case CANCELLED -> "task was cancelled";
          default -> "task was stopped: " + reason;
        };
    return JsReply.failure(req.jobId(), reason, msg, -1, logs, ms);
  }

  private static JsReply fromException(
      JsRequest req, PolyglotException e, FailureKind reason, String logs, long ms) {
    if (reason != null) return stopped(req, reason, logs, ms);
    if (e.isCancelled())
      return JsReply.failure(
          req.jobId(), FailureKind.CANCELLED, "task was cancelled", -1, logs, ms);
    if (e.isResourceExhausted()) {
      return JsReply.failure(
          req.jobId(),
          FailureKind.MEMORY_LIMIT,
          "resource exhausted: " + e.getMessage(),
          -1,
          logs,
          ms);
    }
    if (e.isInternalError() || e.isHostException()) {
      return JsReply.failure(
          req.jobId(), FailureKind.INTERNAL, "internal error: " + e.getMessage(), -1, logs, ms);
    }
    String msg = e.getMessage();
    if (e.isExit()) msg = "task exited with code " + e.getExitStatus();
    return JsReply.failure(req.jobId(), FailureKind.CODE_ERROR, msg, lineOf(e), logs, ms);
  }

  private static int lineOf(PolyglotException e) {
    SourceSection loc = e.getSourceLocation();
    if (isTaskSource(loc)) return loc.getStartLine();
    for (PolyglotException.StackFrame f : e.getPolyglotStackTrace()) {
      if (f.isGuestFrame() && isTaskSource(f.getSourceLocation()))
        return f.getSourceLocation().getStartLine();
    }
    return -1;
  }

  private static boolean isTaskSource(SourceSection loc) {
    return loc != null && loc.isAvailable() && TASK_SOURCE_NAME.equals(loc.getSource().getName());
  }

  private static long ms(long startNanos) {
    return (System.nanoTime() - startNanos) / 1_000_000;
  }

  @Override
  public void close() {
    stopAll(FailureKind.CANCELLED);
    watchdog.shutdownNow();
    housekeeper.shutdown();
    try {
      housekeeper.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    Prepared p;
    while ((p = prepared.poll()) != null) p.context().close();
    engine.close(true);
  }
}
