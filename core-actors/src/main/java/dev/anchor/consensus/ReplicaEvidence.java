package dev.anchor.consensus;

/**
 * What one replica of a verified task did, kept as fraud evidence.
 *
 * @param job the replica's job number within the task
 * @param outcomeKey the key it voted with ({@link CanonicalResult#outcomeKey}), always of the full
 *     result
 * @param result its result text; {@link FraudStore} keeps at most {@link FraudStore#MAX_TEXT_CHARS}
 *     characters
 * @param error its error text when it failed (same limit)
 * @param agreed whether it voted the agreed key
 */
public record ReplicaEvidence(
    String nodeId,
    int job,
    String outcomeKey,
    String result,
    String error,
    Long startedAt,
    Long endedAt,
    Long durationMs,
    boolean agreed) {}
