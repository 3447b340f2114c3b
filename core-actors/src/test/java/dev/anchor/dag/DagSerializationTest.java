package dev.anchor.dag;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.cbor.CBORFactory;
import com.typesafe.config.ConfigFactory;
import dev.anchor.task.TaskSpec;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A DAG's vertices are called steps in the code, but journals written when they were called nodes
 * must still be read: the journaled spec keeps its property name {@code nodes}.
 */
class DagSerializationTest {
  private static final ObjectMapper CBOR = new ObjectMapper(new CBORFactory());
  private static ActorTestKit kit;

  static final DagSpec SPEC =
      new DagSpec(
          "etl",
          List.of(
              DagStep.of("fetch", List.of(), TaskSpec.of("fetch", "js", "1")),
              new DagStep(
                  "sum",
                  List.of("fetch"),
                  TaskSpec.of("sum", "js", "2"),
                  DagStep.InputMode.DEPENDENCY_ARRAY,
                  null)),
          "{\"n\":4}",
          DagSpec.FailurePolicy.CONTINUE,
          3);

  @BeforeAll
  static void start() {
    kit = ActorTestKit.create("DagSerializationTest", ConfigFactory.load());
  }

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  @Test
  void aScheduledDagIsJournaledWithItsStepsUnderTheOldPropertyName() throws Exception {
    Serialization serialization = SerializationExtension.get(Adapter.toClassic(kit.system()));
    DagEntity.Scheduled scheduled = new DagEntity.Scheduled(SPEC, 7L);
    var serializer = serialization.findSerializerFor(scheduled);
    byte[] bytes = serializer.toBinary(scheduled);
    String manifest = Serializers.manifestFor(serializer, scheduled);

    JsonNode spec = CBOR.readTree(bytes).path("spec");
    assertTrue(spec.path("nodes").isArray(), "journaled as spec.nodes: " + spec);
    assertFalse(spec.has("steps"), "no new property name in the journal: " + spec);
    assertEquals("fetch", spec.path("nodes").get(0).path("id").asText());

    // a Scheduled event as the version before the rename wrote it (DagSpec(name, nodes, inputJson,
    // failurePolicy, maxParallel) of DagNodeSpec(id, dependencies, task, inputMode,
    // fixedInputJson)), written out by hand; the task specs are unchanged and copied
    JsonNode written = CBOR.readTree(bytes);
    ObjectNode old = CBOR.createObjectNode();
    ObjectNode oldSpec = old.putObject("spec");
    oldSpec.put("name", "etl");
    var nodes = oldSpec.putArray("nodes");
    ObjectNode fetch = nodes.addObject();
    fetch.put("id", "fetch");
    fetch.putArray("dependencies");
    fetch.set("task", written.path("spec").path("nodes").get(0).path("task"));
    fetch.put("inputMode", "BY_DEPENDENCY");
    fetch.putNull("fixedInputJson");
    ObjectNode sum = nodes.addObject();
    sum.put("id", "sum");
    sum.putArray("dependencies").add("fetch");
    sum.set("task", written.path("spec").path("nodes").get(1).path("task"));
    sum.put("inputMode", "DEPENDENCY_ARRAY");
    sum.putNull("fixedInputJson");
    oldSpec.put("inputJson", "{\"n\":4}");
    oldSpec.put("failurePolicy", "CONTINUE");
    oldSpec.put("maxParallel", 3);
    old.put("at", 7L);
    Object back =
        serialization
            .deserialize(CBOR.writeValueAsBytes(old), serializer.identifier(), manifest)
            .get();
    assertEquals(scheduled, back);
  }

  @Test
  void theViewAndTheChangesAlsoKeepTheirOldNamesForClients() throws Exception {
    ObjectMapper json = new ObjectMapper();
    DagView.StepView step =
        new DagView.StepView("a", null, "Completed", "t", List.of(), "1", null, 1L, 2L, 1L);
    DagView view =
        new DagView(
            "d",
            "n",
            "Completed",
            "FAIL_FAST",
            null,
            1,
            1,
            0,
            0,
            1L,
            2L,
            1L,
            "1",
            null,
            List.of("a"),
            1L,
            List.of(step));
    JsonNode v = json.valueToTree(view);
    assertEquals(v.path("steps"), v.path("nodes"));
    assertEquals("a", v.path("steps").get(0).path("id").asText());
    assertEquals(view, json.treeToValue(v, DagView.class), "a view read back ignores the alias");

    JsonNode c =
        json.valueToTree(new DagEffects.DagChange("d", "NodeStarted", "a", "Running", 0, 1));
    assertEquals("a", c.path("stepId").asText());
    assertEquals("a", c.path("nodeId").asText());
  }
}
