package dev.anchor.task;

import java.util.Locale;
import java.util.Set;

/**
 * The runtime names a {@link TaskSpec} carries and workers advertise; the API accepts the aliases
 * of {@link #canonical}.
 */
public final class Runtimes {
  public static final String JS = "js";
  public static final String WASM = "wasm";
  public static final String NATIVE = "native";

  /** Every runtime a task can ask for. */
  public static final Set<String> ALL = Set.of(JS, WASM, NATIVE);

  private Runtimes() {}

  /**
   * The name workers advertise for {@code runtime}: isolated-vm is the reference system's name for
   * the JS sandbox; absent means JS.
   */
  public static String canonical(String runtime) {
    if (runtime == null) return JS;
    String r = runtime.toLowerCase(Locale.ROOT);
    return r.equals("isolated-vm") || r.equals("javascript") ? JS : r;
  }
}
