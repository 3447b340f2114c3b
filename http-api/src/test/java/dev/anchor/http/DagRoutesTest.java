package dev.anchor.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.dag.DagSpec;
import dev.anchor.dag.DagStep;
import dev.anchor.dag.DagValidator;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The reference system's DAG body, verbatim: nodes without payload are pass-through steps that keep
 * their type.
 */
class DagRoutesTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String REFERENCE =
      """
      {"tasks":[{"id":"fetch","type":"script","dependencies":[]},
                {"id":"process_1","type":"parallel","dependencies":["fetch"]},
                {"id":"process_2","type":"parallel","dependencies":["fetch"]},
                {"id":"aggregate","type":"script","dependencies":["process_1","process_2"]}]}""";

  @Test
  void theReferenceBodyIsAcceptedAsItIs() throws Exception {
    DagSpec spec = DagRoutes.parseDag(JSON.readTree(REFERENCE));
    assertEquals(
        List.of("fetch", "process_1", "process_2", "aggregate"),
        spec.steps().stream().map(DagStep::id).toList());
    assertTrue(spec.steps().stream().allMatch(DagStep::passThrough));
    assertEquals(
        List.of("script", "parallel", "parallel", "script"),
        spec.steps().stream().map(n -> n.task().type()).toList());
    assertEquals(List.of("process_1", "process_2"), spec.steps().get(3).dependencies());
    assertTrue(DagValidator.validate(spec, 10_000).isEmpty());
  }

  @Test
  void aNodeWithPayloadIsStillATaskAndBadFieldsAreNamed() throws Exception {
    DagSpec spec =
        DagRoutes.parseDag(
            JSON.readTree(
                """
        {"tasks":[{"id":"a","type":"script","payload":{"sourceCode":"1+1"}},{"id":"b","dependencies":["a"]}]}"""));
    assertFalse(spec.steps().get(0).passThrough());
    assertEquals("js", spec.steps().get(0).task().runtime());
    assertTrue(spec.steps().get(1).passThrough());
    BadRequest e =
        assertThrows(
            BadRequest.class,
            () -> DagRoutes.parseDag(JSON.readTree("{\"tasks\":[{\"id\":\"a\",\"type\":7}]}")));
    assertEquals("tasks[0].type", e.field());
    e =
        assertThrows(
            BadRequest.class,
            () ->
                DagRoutes.parseDag(
                    JSON.readTree(
                        "{\"tasks\":[{\"id\":\"a\",\"payload\":{\"runtime\":\"cobol\"}}]}")));
    assertEquals("tasks[0].payload.runtime", e.field());
  }

  @Test
  void mapReduceStepsMayNestThePayloadLikeTasksAndDagNodes() throws Exception {
    String flat =
        """
        {"input":[1,2,3,4],"partitions":2,"map":{"runtime":"js","sourceCode":"input.length"},
         "reduce":{"sourceCode":"input.reduce((a,b)=>a+b,0)"},"timeoutMs":5000}""";
    String nested =
        """
        {"input":[1,2,3,4],"partitions":2,"map":{"payload":{"runtime":"js","sourceCode":"input.length"},"timeoutMs":7000},
         "reduce":{"payload":{"sourceCode":"input.reduce((a,b)=>a+b,0)"}},"timeoutMs":5000}""";
    DagSpec a = DagRoutes.parseMapReduce(JSON.readTree(flat));
    DagSpec b = DagRoutes.parseMapReduce(JSON.readTree(nested));
    assertEquals(
        a.steps().stream().map(DagStep::id).toList(), b.steps().stream().map(DagStep::id).toList());
    assertEquals(a.steps().get(0).task().sourceCode(), b.steps().get(0).task().sourceCode());
    assertEquals(7000L, b.steps().get(0).task().timeoutMs(), "the step's own timeoutMs wins");
    assertEquals(5000L, b.steps().get(2).task().timeoutMs(), "else the body's");
    BadRequest e =
        assertThrows(
            BadRequest.class,
            () ->
                DagRoutes.parseMapReduce(
                    JSON.readTree(
                        """
        {"input":[1],"partitions":1,"map":{"payload":{"runtime":"js"}},"reduce":{"sourceCode":"1"}}""")));
    assertEquals("map.payload.sourceCode", e.field());
    e =
        assertThrows(
            BadRequest.class,
            () ->
                DagRoutes.parseMapReduce(
                    JSON.readTree(
                        """
        {"input":[1],"partitions":1,"map":{"runtime":"js"},"reduce":{"sourceCode":"1"}}""")));
    assertEquals("map.sourceCode", e.field(), "the flat form names the field as before");
  }
}
