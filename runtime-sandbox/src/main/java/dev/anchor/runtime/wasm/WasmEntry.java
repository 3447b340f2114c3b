package dev.anchor.runtime.wasm;

import java.util.List;
import java.util.Map;

/**
 * The checks a WASM payload can get before it is accepted, so that a bad one is refused at submit
 * time, not at run time: the bytes are a module, it imports nothing the sandbox does not provide,
 * the entry exists and takes as many arguments as given. Without an entry, the module's only
 * exported function is called, else its {@code main}.
 */
public final class WasmEntry {
  public static final String DEFAULT = "main";

  private WasmEntry() {}

  /** A refused payload: {@code field} is {@code wasm}, {@code entry} or {@code args}. */
  public static final class Problem extends Exception {
    private final String field;

    Problem(String field, String message) {
      super(message);
      this.field = field;
    }

    public String field() {
      return field;
    }
  }

  /** The entry to call (the one named, or the default); throws when the payload cannot run. */
  public static String resolve(byte[] module, String entry, int argCount) throws Problem {
    WasmModuleInfo info;
    try {
      info =
          WasmModuleInfo.parse(
              module, 65_536); // wasm32's 4 GiB: the node applies the task's own cap
    } catch (WasmModuleInfo.InvalidModuleException e) {
      throw new Problem("wasm", e.getMessage());
    } catch (RuntimeException e) {
      throw new Problem("wasm", "not a valid WebAssembly module: " + e.getMessage());
    }
    for (WasmModuleInfo.Import imp : info.imports) {
      throw new Problem(
          "wasm",
          "the module imports "
              + imp.describe()
              + "; modules run without imports (no WASI or host functions)");
    }
    Map<String, WasmModuleInfo.FuncSig> exports = info.exportedFunctions;
    String name = entry;
    if (name == null || name.isBlank()) {
      if (exports.size() == 1) name = exports.keySet().iterator().next();
      else if (exports.containsKey(DEFAULT)) name = DEFAULT;
      else
        throw new Problem(
            "entry",
            "entry is required: the module exports "
                + (exports.isEmpty()
                    ? "no function"
                    : "several functions " + List.copyOf(exports.keySet()))
                + " and none is named '"
                + DEFAULT
                + "'");
    }
    WasmModuleInfo.FuncSig sig = exports.get(name);
    if (sig == null) {
      throw new Problem(
          "entry", "the module exports no function '" + name + "'; it exports " + exports.keySet());
    }
    if (sig.params().size() != argCount) {
      throw new Problem(
          "args",
          "the entry '"
              + name
              + "' takes "
              + sig.params().size()
              + " argument(s) "
              + sig.params()
              + " but "
              + argCount
              + " were given");
    }
    if (sig.params().contains(WasmModuleInfo.ValType.OTHER)) {
      throw new Problem(
          "entry", "the entry '" + name + "' takes a non-numeric argument " + sig.params());
    }
    return name;
  }
}
