package dev.anchor.queue;

import java.util.Map;

/** Counts per queue, in the vocabulary of Bull: waiting, active, completed, failed, delayed, dead-lettered. */
public record QueueStats(Map<String, Counts> queues, Counts total) {
  public record Counts(long waiting, long active, long completed, long failed, long delayed, long deadLettered) {}
}
