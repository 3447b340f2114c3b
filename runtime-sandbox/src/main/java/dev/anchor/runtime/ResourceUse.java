package dev.anchor.runtime;

/**
 * What a successful task consumed, as far as the runtime can tell.
 *
 * @param memoryBytes peak memory attributable to the task (JS: child heap growth over its idle
 *     baseline, WASM: final linear memory size, native: 0 when unknown)
 * @param outputBytes size of the result bytes
 * @param logBytes size of the captured logs (after capping)
 */
public record ResourceUse(long memoryBytes, long outputBytes, long logBytes) {
  public static final ResourceUse NONE = new ResourceUse(0, 0, 0);
}
