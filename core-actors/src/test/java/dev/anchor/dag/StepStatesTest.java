package dev.anchor.dag;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.anchor.dag.DagEntity.StepState;
import dev.anchor.dag.DagEntity.StepStatus;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StepStatesTest {
  private static StepState in(StepStatus status) {
    return new StepState(status, null, null, null, null, null);
  }

  @Test
  void anUpdateLeavesTheOldVersionAsItWasAndKeepsTheOrderAndCounts() {
    Map<String, StepState> plain = new LinkedHashMap<>();
    for (String id : List.of("c", "a", "b")) plain.put(id, StepState.PENDING);
    StepStates before = StepStates.copyOf(plain);

    StepStates after = before.with("a", in(StepStatus.RUNNING)).with("b", in(StepStatus.COMPLETED));

    assertEquals(StepStatus.PENDING, before.get("a").status());
    assertEquals(3, before.count(StepStatus.PENDING));
    assertEquals(List.of("c", "a", "b"), List.copyOf(after.keySet()));
    assertEquals(1, after.count(StepStatus.PENDING));
    assertEquals(1, after.count(StepStatus.RUNNING));
    assertEquals(1, after.count(StepStatus.COMPLETED));
    plain.put("a", in(StepStatus.RUNNING));
    plain.put("b", in(StepStatus.COMPLETED));
    assertEquals(plain, after);
    assertEquals(plain.hashCode(), after.hashCode());
    assertNull(after.get("z"));
  }

  @Test
  void anUnknownStepGoesLastAndTheMapCannotBeChangedInPlace() {
    StepStates s =
        StepStates.copyOf(Map.of("a", StepState.PENDING)).with("z", in(StepStatus.SKIPPED));
    assertEquals(List.of("a", "z"), List.copyOf(s.keySet()));
    assertEquals(1, s.count(StepStatus.SKIPPED));
    assertThrows(UnsupportedOperationException.class, () -> s.put("b", StepState.PENDING));
  }
}
