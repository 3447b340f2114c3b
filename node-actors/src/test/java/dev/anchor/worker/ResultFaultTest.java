package dev.anchor.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anchor.runtime.FailureKind;
import dev.anchor.runtime.Outcome;
import org.junit.jupiter.api.Test;

class ResultFaultTest {
  private static final Outcome.Success OK = Outcome.Success.ofJson("{\"sum\":42}", "", 3, null);

  @Test
  void theSettingIsParsedAndATypoIsRefused() {
    assertFalse(ResultFault.parse("").active());
    assertFalse(ResultFault.parse(null).active());
    assertEquals(1.0, ResultFault.parse("corrupt-results").fraction());
    assertEquals(0.3, ResultFault.parse(" Corrupt-Results:0.3 ").fraction());
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ResultFault.parse("corupt"));
    assertTrue(e.getMessage().contains("ANCHOR_FAULT"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> ResultFault.parse("corrupt-results:1.5"));
  }

  @Test
  void aCorruptingNodeReportsAnotherValidResultAndLeavesFailuresAlone() throws Exception {
    Outcome forged = ResultFault.parse("corrupt-results").apply(OK, "w4");
    String json = ((Outcome.Success) forged).resultJson();
    assertNotEquals(OK.resultJson(), json);
    var tree = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
    assertEquals("w4", tree.path("forgedBy").asText());
    Outcome failure = new Outcome.Failure(FailureKind.CODE_ERROR, "boom", null, "", 1);
    assertSame(failure, ResultFault.parse("corrupt-results").apply(failure, "w4"));
    assertSame(OK, ResultFault.NONE.apply(OK, "w1"));
  }
}
