package dev.anchor.runtime.wasm;

import io.github.kawamuray.wasmtime.Config;
import io.github.kawamuray.wasmtime.Engine;
import io.github.kawamuray.wasmtime.Module;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One wasmtime Engine that runs one task at a time. Epochs are per engine, so giving each running
 * task its own engine lets {@link #interrupt()} stop exactly that task (cancel, output cap) while a
 * shared ticker drives every deadline. Compiled modules are cached per slot by content hash.
 */
final class EngineSlot implements AutoCloseable {
  private static final int CACHED_MODULES = 32;

  final Engine engine;
  private final Map<String, Module> modules = new LinkedHashMap<>(16, 0.75f, true);

  /**
   * Ticks the current task may still run; the ticker only increments the epoch, so cancelling means
   * jumping past it.
   */
  private volatile long ticksGranted;

  EngineSlot() {
    Config config =
        new Config()
            .epochInterruption(true)
            // Canonical NaNs always: float results then have one bit pattern on every machine.
            .craneliftNanCanonicalization(true)
            .wasmThreads(false);
    this.engine = new Engine(config);
  }

  /** Compiles (or reuses) a module; the caller owns the slot, so no locking is needed. */
  Module module(String hash, byte[] bytes) {
    Module m = modules.get(hash);
    if (m == null) {
      m = new Module(engine, bytes);
      modules.put(hash, m);
      if (modules.size() > CACHED_MODULES) {
        var eldest = modules.entrySet().iterator().next();
        modules.remove(eldest.getKey());
        eldest.getValue().dispose();
      }
    }
    return m;
  }

  void granted(long ticks) {
    ticksGranted = ticks;
  }

  /** Makes the running task trap at its next epoch check. Safe from any thread. */
  void interrupt() {
    for (long i = 0, n = ticksGranted + 2; i < n; i++) engine.incrementEpoch();
  }

  @Override
  public void close() {
    modules.values().forEach(Module::dispose);
    modules.clear();
    engine.dispose();
  }
}
