package dev.anchor.adapters;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.anchor.task.Replica;
import org.junit.jupiter.api.Test;

/** A fraud record's replica always has a start time, even when the start notice was never seen. */
class EvidenceStartTest {
  static Replica replica(Long startedAt, Long endedAt, Long durationMs) {
    return new Replica(
        1,
        "n1",
        Replica.Phase.REPORTED,
        1_000,
        startedAt,
        endedAt,
        durationMs,
        true,
        "k",
        "1",
        null,
        null,
        "",
        false);
  }

  @Test
  void startIsReportedElseEstimatedFromTheRunTimeElseTheDispatch() {
    assertEquals(1_200, QueueTaskEffects.evidenceStart(replica(1_200L, 1_500L, 250L)));
    assertEquals(1_250, QueueTaskEffects.evidenceStart(replica(null, 1_500L, 250L)));
    assertEquals(
        1_000,
        QueueTaskEffects.evidenceStart(replica(null, 1_500L, 900L)),
        "never before its dispatch");
    assertEquals(1_000, QueueTaskEffects.evidenceStart(replica(null, null, null)));
  }
}
