package dev.anchor.runtime.js;

/** One JS task as the executor sees it: limits already resolved against the sandbox config. */
public record JsRequest(
    String jobId,
    String source,
    String inputJson,
    long timeoutMs,
    long memoryMb,
    int logCap,
    int resultCap) {}
