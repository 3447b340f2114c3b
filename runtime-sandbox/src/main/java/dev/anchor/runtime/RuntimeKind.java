package dev.anchor.runtime;

import java.util.Locale;

/** The three execution tiers a task can ask for. */
public enum RuntimeKind {
  JS,
  WASM,
  NATIVE;

  /**
   * Parses the runtime name used in task payloads. "isolated-vm" is accepted as an alias of JS
   * because the reference system named its JavaScript tier after that library.
   */
  public static RuntimeKind parse(String name) {
    if (name == null) {
      throw new IllegalArgumentException(
          "runtime must be one of js, isolated-vm, wasm, native but was null");
    }
    return switch (name.trim().toLowerCase(Locale.ROOT)) {
      case "js", "javascript", "isolated-vm" -> JS;
      case "wasm", "webassembly" -> WASM;
      case "native" -> NATIVE;
      default ->
          throw new IllegalArgumentException(
              "runtime must be one of js, isolated-vm, wasm, native but was '" + name + "'");
    };
  }

  /** The lower-case name used on the wire. */
  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
