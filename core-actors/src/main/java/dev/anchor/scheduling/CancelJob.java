package dev.anchor.scheduling;

import dev.anchor.CborSerializable;

/** Broadcast to workers: stop this attempt of this task if you are running it. */
public record CancelJob(String taskId, int attempt, String nodeId) implements CborSerializable {}
