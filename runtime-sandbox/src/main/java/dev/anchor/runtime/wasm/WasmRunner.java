package dev.anchor.runtime.wasm;

import dev.anchor.runtime.FailureKind;
import dev.anchor.runtime.Job;
import dev.anchor.runtime.Outcome;
import dev.anchor.runtime.ResourceUse;
import dev.anchor.runtime.SandboxConfig;
import dev.anchor.runtime.internal.Json;
import io.github.kawamuray.wasmtime.Extern;
import io.github.kawamuray.wasmtime.Func;
import io.github.kawamuray.wasmtime.Instance;
import io.github.kawamuray.wasmtime.Linker;
import io.github.kawamuray.wasmtime.Memory;
import io.github.kawamuray.wasmtime.Module;
import io.github.kawamuray.wasmtime.Store;
import io.github.kawamuray.wasmtime.Val;
import io.github.kawamuray.wasmtime.WasmFunctionError;
import io.github.kawamuray.wasmtime.wasi.WasiCtx;
import io.github.kawamuray.wasmtime.wasi.WasiCtxBuilder;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * WebAssembly tasks on wasmtime: epoch interruption for deadlines and cancellation, linear memory
 * capped by re-encoding the module's limits, no host imports except WASI (no preopened directories,
 * no env, no args).
 */
public final class WasmRunner implements AutoCloseable {
  static final long TICK_MS = 5;
  private static final String WASI_MODULE = "wasi_snapshot_preview1";

  /**
   * WASI calls that would let a module observe time or randomness; refused in deterministic mode.
   */
  private static final Set<String> NONDETERMINISTIC_WASI =
      Set.of("clock_time_get", "clock_res_get", "random_get", "poll_oneoff");

  private final SandboxConfig config;
  private final BlockingQueue<EngineSlot> idle = new LinkedBlockingQueue<>();
  private final AtomicInteger created = new AtomicInteger();
  private final Map<String, Running> running = new ConcurrentHashMap<>();
  private final Thread ticker;
  private volatile boolean closed;

  private static final class Running {
    final EngineSlot slot;
    final Path stdout;
    final int outputCap;
    final AtomicReference<FailureKind> stopReason = new AtomicReference<>();

    Running(EngineSlot slot, Path stdout, int outputCap) {
      this.slot = slot;
      this.stdout = stdout;
      this.outputCap = outputCap;
    }

    void stop(FailureKind reason) {
      if (stopReason.compareAndSet(null, reason)) slot.interrupt();
    }
  }

  public WasmRunner(SandboxConfig config) {
    this.config = config;
    this.ticker = new Thread(this::tick, "wasm-epoch-ticker");
    ticker.setDaemon(true);
    ticker.start();
  }

  private void tick() {
    List<EngineSlot> all = new ArrayList<>();
    while (!closed) {
      try {
        Thread.sleep(TICK_MS);
      } catch (InterruptedException e) {
        return;
      }
      all.clear();
      all.addAll(idle);
      for (Running r : running.values()) {
        all.add(r.slot);
        // WASI stdout goes to a file; bound it while the module runs, not only afterwards.
        if (r.stdout != null) {
          try {
            if (Files.size(r.stdout) > r.outputCap) r.stop(FailureKind.OUTPUT_LIMIT);
          } catch (IOException ignored) {
            // not created yet
          }
        }
      }
      for (EngineSlot s : all) s.engine.incrementEpoch();
    }
  }

  private EngineSlot acquire() throws InterruptedException {
    EngineSlot s = idle.poll();
    if (s != null) return s;
    if (created.incrementAndGet() <= config.wasmSlots()) return new EngineSlot();
    created.decrementAndGet();
    return idle.take();
  }

  public void cancel(String jobId) {
    Running r = running.get(jobId);
    if (r != null) r.stop(FailureKind.CANCELLED);
  }

  public Outcome run(Job job, long timeoutMs, long memoryMb) {
    long start = System.nanoTime();
    long maxPages = memoryMb * 1024 * 1024 / WasmModuleInfo.PAGE;
    WasmModuleInfo info;
    try {
      info = WasmModuleInfo.parse(job.wasm(), maxPages);
    } catch (WasmModuleInfo.InvalidModuleException e) {
      return fail(FailureKind.BAD_PAYLOAD, e.getMessage(), "", start);
    }
    for (WasmModuleInfo.Import imp : info.imports) {
      if (!job.wasi() || !WASI_MODULE.equals(imp.module()) || imp.kind() != 0) {
        return fail(
            FailureKind.BAD_PAYLOAD,
            "the module imports "
                + imp.describe()
                + "; only WASI functions ("
                + WASI_MODULE
                + ", with wasi=true) are provided",
            "",
            start);
      }
      if (job.deterministic() && NONDETERMINISTIC_WASI.contains(imp.name())) {
        return fail(
            FailureKind.REFUSED,
            "deterministic mode forbids "
                + imp.module()
                + "."
                + imp.name()
                + " (clocks and randomness differ between machines)",
            "",
            start);
      }
    }
    String entry =
        job.entry() != null && !job.entry().isBlank() ? job.entry() : job.wasi() ? "_start" : null;
    if (entry == null)
      return fail(
          FailureKind.BAD_PAYLOAD, "no entry: name the exported function to call", "", start);
    if (!info.exportedFunctions.containsKey(entry)) {
      return fail(
          FailureKind.BAD_PAYLOAD,
          "the module exports no function '"
              + entry
              + "'; it exports "
              + info.exportedFunctions.keySet(),
          "",
          start);
    }
    WasmModuleInfo.FuncSig sig = info.exportedFunctions.get(entry);
    Val[] args;
    try {
      args = convertArgs(sig, job.args());
    } catch (IllegalArgumentException e) {
      return fail(FailureKind.BAD_PAYLOAD, e.getMessage(), "", start);
    }
    byte[] bytes = info.capped();
    String hash = sha256(bytes);

    EngineSlot slot;
    try {
      slot = acquire();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return fail(FailureKind.CANCELLED, "interrupted while waiting for a WASM slot", "", start);
    }
    Path dir = null;
    Running r = null;
    try {
      if (job.wasi())
        dir =
            Files.createDirectories(config.workDir())
                .resolve("wasi-" + hash.substring(0, 12) + "-" + System.nanoTime());
      Path stdout = dir == null ? null : dir.resolve("stdout");
      r = new Running(slot, stdout, config.resultCapBytes());
      if (running.putIfAbsent(job.jobId(), r) != null) {
        return fail(
            FailureKind.REFUSED, "a job with id " + job.jobId() + " is already running", "", start);
      }
      Module module;
      try {
        module = slot.module(hash, bytes);
      } catch (RuntimeException e) {
        return fail(
            FailureKind.BAD_PAYLOAD, "invalid WebAssembly module: " + e.getMessage(), "", start);
      }
      long ticks = (timeoutMs + TICK_MS - 1) / TICK_MS + 1;
      slot.granted(ticks);
      return job.wasi()
          ? runWasi(
              job, slot, module, entry, dir, r, ticks, maxPages, info, timeoutMs, memoryMb, start)
          : runPlain(
              slot, module, entry, args, r, ticks, maxPages, info, timeoutMs, memoryMb, start);
    } catch (IOException e) {
      return fail(FailureKind.INTERNAL, "WASI stdio files: " + e, "", start);
    } finally {
      if (r != null) running.remove(job.jobId(), r);
      if (dir != null) deleteQuietly(dir);
      if (closed) slot.close();
      else idle.add(slot);
    }
  }

  private Outcome runPlain(
      EngineSlot slot,
      Module module,
      String entry,
      Val[] args,
      Running r,
      long ticks,
      long maxPages,
      WasmModuleInfo info,
      long timeoutMs,
      long memoryMb,
      long start) {
    try (Store<Void> store = new Store<>(null, slot.engine)) {
      store.setEpochDeadline(ticks);
      Instance instance = null;
      try {
        Instance created = new Instance(store, module, List.of());
        instance = created;
        Func f = created.getFunc(store, entry).orElseThrow();
        Val[] results = f.call(store, args);
        long mem = memoryBytes(info, name -> created.getMemory(store, name).orElse(null), store);
        return success(resultJson(results), resultBytes(results), "", mem, start);
      } catch (RuntimeException e) {
        Instance inst = instance;
        long pages =
            inst == null
                ? 0
                : memoryBytes(info, n -> inst.getMemory(store, n).orElse(null), store)
                    / WasmModuleInfo.PAGE;
        return fromError(e, r, nearCap(pages, maxPages), "", timeoutMs, memoryMb, start);
      } finally {
        if (instance != null) instance.dispose();
      }
    }
  }

  private Outcome runWasi(
      Job job,
      EngineSlot slot,
      Module module,
      String entry,
      Path dir,
      Running r,
      long ticks,
      long maxPages,
      WasmModuleInfo info,
      long timeoutMs,
      long memoryMb,
      long start)
      throws IOException {
    Files.createDirectories(dir);
    Path stdout = Files.createFile(dir.resolve("stdout"));
    Path stderr = Files.createFile(dir.resolve("stderr"));
    byte[] input =
        job.inputJson() == null ? new byte[0] : job.inputJson().getBytes(StandardCharsets.UTF_8);
    WasiCtx wasi = new WasiCtxBuilder().stdout(stdout).stderr(stderr).arg("task").build();
    try (Store<Void> store = new Store<>(null, slot.engine, wasi);
        Linker linker = new Linker(slot.engine)) {
      store.setEpochDeadline(ticks);
      WasiCtx.addToLinker(linker);
      if (info.imports.stream().anyMatch(i -> "fd_read".equals(i.name()))) {
        linker.define(
            store,
            WasmModuleInfo.STDIN_MODULE,
            "fd_read",
            Extern.fromFunc(new StdinFdRead(input).toFunc(store)));
      }
      Outcome outcome;
      try {
        linker.module(store, "", module);
        Func f = linker.get(store, "", entry).map(Extern::func).orElseThrow();
        try {
          f.call(store);
        } catch (WasmFunctionError.I32ExitError e) {
          if (e.exitCode() != 0) {
            return fail(
                FailureKind.CODE_ERROR,
                "the module exited with code " + e.exitCode(),
                logs(stderr),
                start);
          }
        }
        long mem =
            memoryBytes(
                info, n -> linker.get(store, "", n).map(Extern::memory).orElse(null), store);
        outcome = null;
        if (r.stopReason.get() == null) {
          long size = Files.size(stdout);
          if (size > config.resultCapBytes()) {
            return fail(
                FailureKind.OUTPUT_LIMIT,
                "stdout is " + size + " bytes, above the cap of " + config.resultCapBytes(),
                logs(stderr),
                start);
          }
          byte[] out = Files.readAllBytes(stdout);
          return success(
              Json.fromOutput(new String(out, StandardCharsets.UTF_8)),
              out,
              logs(stderr),
              mem,
              start);
        }
      } catch (RuntimeException e) {
        long pages =
            memoryBytes(info, n -> linker.get(store, "", n).map(Extern::memory).orElse(null), store)
                / WasmModuleInfo.PAGE;
        outcome =
            fromError(e, r, nearCap(pages, maxPages), logs(stderr), timeoutMs, memoryMb, start);
      }
      return outcome != null
          ? outcome
          : fromError(
              new RuntimeException("stopped"), r, false, logs(stderr), timeoutMs, memoryMb, start);
    }
  }

  private interface MemoryLookup {
    Memory find(String name);
  }

  private static long memoryBytes(WasmModuleInfo info, MemoryLookup lookup, Store<Void> store) {
    long total = 0;
    for (String name : info.exportedMemories) {
      try {
        Memory m = lookup.find(name);
        if (m != null) total += m.dataSize(store);
      } catch (RuntimeException ignored) {
        // not instantiated
      }
    }
    return total;
  }

  private Outcome fromError(
      RuntimeException e,
      Running r,
      boolean memoryAtCap,
      String logs,
      long timeoutMs,
      long memoryMb,
      long start) {
    FailureKind reason = r.stopReason.get();
    boolean interrupted =
        e instanceof WasmFunctionError.TrapError t
                && t.trap() == io.github.kawamuray.wasmtime.Trap.INTERRUPT
            || String.valueOf(e.getMessage()).contains("epoch")
            || String.valueOf(e.getMessage()).contains("interrupt");
    if (reason != null) {
      return fail(
          reason,
          switch (reason) {
            case CANCELLED -> "task was cancelled";
            case OUTPUT_LIMIT -> "stdout exceeded the cap of " + config.resultCapBytes() + " bytes";
            default -> "task was stopped: " + reason;
          },
          logs,
          start);
    }
    if (interrupted)
      return fail(
          FailureKind.TIMEOUT, "task exceeded its deadline of " + timeoutMs + " ms", logs, start);
    String msg = describe(e);
    if (memoryAtCap) {
      return fail(
          FailureKind.MEMORY_LIMIT,
          "linear memory reached the cap of "
              + memoryMb
              + " MB and the module "
              + "trapped: "
              + msg,
          logs,
          start);
    }
    return fail(FailureKind.CODE_ERROR, msg, logs, start);
  }

  /**
   * A trap with linear memory within 10% of the cap is reported as MEMORY_LIMIT: memory.grow fails
   * once the next step would cross the cap, so the memory of a module that failed to grow ends just
   * below it.
   */
  private static boolean nearCap(long pages, long maxPages) {
    return pages * 10 >= maxPages * 9;
  }

  private static String describe(RuntimeException e) {
    if (e instanceof WasmFunctionError.TrapError t)
      return "trap: " + t.trap() + " (" + e.getMessage() + ")";
    return "trap: " + e.getMessage();
  }

  static Val[] convertArgs(WasmModuleInfo.FuncSig sig, List<Number> args) {
    if (sig == null)
      throw new IllegalArgumentException("cannot read the signature of the entry function");
    if (sig.params().size() != args.size()) {
      throw new IllegalArgumentException(
          "the entry takes "
              + sig.params().size()
              + " argument(s) "
              + sig.params()
              + " but "
              + args.size()
              + " were given");
    }
    Val[] vals = new Val[args.size()];
    for (int i = 0; i < vals.length; i++) {
      Number n = args.get(i);
      if (n == null) throw new IllegalArgumentException("argument " + i + " is null");
      vals[i] =
          switch (sig.params().get(i)) {
            case I32 -> Val.fromI32((int) integral(n, i, Integer.MIN_VALUE, 0xFFFFFFFFL));
            case I64 -> Val.fromI64(integral(n, i, Long.MIN_VALUE, Long.MAX_VALUE));
            case F32 -> Val.fromF32(n.floatValue());
            case F64 -> Val.fromF64(n.doubleValue());
            case OTHER ->
                throw new IllegalArgumentException("argument " + i + " has a non-numeric type");
          };
    }
    return vals;
  }

  private static long integral(Number n, int i, long min, long max) {
    double d = n.doubleValue();
    boolean isInt =
        n instanceof Integer
            || n instanceof Long
            || n instanceof Short
            || n instanceof Byte
            || n instanceof java.math.BigInteger
            || d == Math.rint(d) && !Double.isInfinite(d);
    if (!isInt)
      throw new IllegalArgumentException("argument " + i + " must be an integer but was " + n);
    long v =
        n instanceof Double || n instanceof Float || n instanceof java.math.BigDecimal
            ? (long) d
            : n.longValue();
    if (n instanceof java.math.BigInteger bi && bi.bitLength() > 63
        || v < min
        || v > max
        || (n instanceof Double || n instanceof Float) && Math.abs(d) > 9.007199254740992E15) {
      throw new IllegalArgumentException("argument " + i + " is out of range: " + n);
    }
    return v;
  }

  private static String resultJson(Val[] results) {
    if (results.length == 0) return "null";
    if (results.length == 1) return valJson(results[0]);
    List<String> parts = new ArrayList<>();
    for (Val v : results) parts.add(valJson(v));
    return "[" + String.join(",", parts) + "]";
  }

  private static String valJson(Val v) {
    return switch (v.getType()) {
      case I32 -> Integer.toString(v.i32());
      case I64 -> Long.toString(v.i64());
      case F32 -> floatJson(v.f32());
      case F64 -> floatJson(v.f64());
      default -> "null";
    };
  }

  private static String floatJson(double d) {
    if (Double.isNaN(d) || Double.isInfinite(d)) return Json.quote(Double.toString(d));
    if (d == Math.rint(d) && Math.abs(d) < 1e15) return Long.toString((long) d);
    return Double.toString(d);
  }

  /** The raw results, little-endian, each in its own width: what consensus compares. */
  private static byte[] resultBytes(Val[] results) {
    ByteBuffer buf = ByteBuffer.allocate(results.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    for (Val v : results) {
      switch (v.getType()) {
        case I32 -> buf.putInt(v.i32());
        case I64 -> buf.putLong(v.i64());
        case F32 -> buf.putInt(Float.floatToRawIntBits(v.f32()));
        case F64 -> buf.putLong(Double.doubleToRawLongBits(v.f64()));
        default -> {}
      }
    }
    byte[] out = new byte[buf.position()];
    buf.flip().get(out);
    return out;
  }

  private String logs(Path stderr) {
    try {
      long size = Files.size(stderr);
      byte[] b;
      try (var in = Files.newInputStream(stderr)) {
        b = in.readNBytes(config.logCapBytes());
      }
      String s = new String(b, StandardCharsets.UTF_8);
      return size > b.length
          ? s + "\n[output truncated: " + size + " bytes written, " + b.length + " kept]\n"
          : s;
    } catch (IOException e) {
      return "";
    }
  }

  private static Outcome success(
      String json, byte[] bytes, String logs, long memoryBytes, long start) {
    return new Outcome.Success(
        json, bytes, logs, ms(start), new ResourceUse(memoryBytes, bytes.length, logs.length()));
  }

  private static Outcome fail(FailureKind kind, String message, String logs, long start) {
    return new Outcome.Failure(kind, message, null, logs, ms(start));
  }

  private static long ms(long startNanos) {
    return (System.nanoTime() - startNanos) / 1_000_000;
  }

  private static String sha256(byte[] b) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void deleteQuietly(Path dir) {
    try (var s = Files.walk(dir)) {
      s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // best effort
    }
  }

  @Override
  public void close() {
    closed = true;
    running.values().forEach(r -> r.stop(FailureKind.CANCELLED));
    ticker.interrupt();
    try {
      ticker.join(TimeUnit.SECONDS.toMillis(1));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    EngineSlot s;
    while ((s = idle.poll()) != null) s.close();
  }
}
