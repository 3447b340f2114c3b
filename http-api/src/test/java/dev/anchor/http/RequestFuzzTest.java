package dev.anchor.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigFactory;
import dev.anchor.dag.DagSpec;
import dev.anchor.dag.DagValidator;
import java.util.List;
import java.util.function.Supplier;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializers;

/**
 * Every route family's body parsing, fed hostile bodies ({@link HostileBodies}) in-process: each
 * body is either accepted, and then what it became survives the journal's own encoding (Pekko's
 * jackson-cbor serializer, as the events are journaled), or refused with a {@link BadRequest}
 * naming a field. Any other exception (a 500 on the wire) fails the property; jqwik then prints the
 * seed and the shrunk body. The {@code @Example}s are the bodies that found bugs, kept as
 * regression cases.
 */
class RequestFuzzTest {
  private static final int TRIES = 300;
  private static ActorSystem<Void> system;
  private static Serialization serialization;

  @BeforeContainer
  static void start() {
    system =
        ActorSystem.create(
            Behaviors.empty(),
            "request-fuzz",
            ConfigFactory.parseString(
                    "pekko.actor.provider = local\npekko.remote.artery.enabled = off")
                .withFallback(ConfigFactory.load()));
    serialization = SerializationExtension.get(system);
  }

  @AfterContainer
  static void stop() {
    if (system != null) system.terminate();
  }

  @Property(tries = TRIES)
  void taskBodies(@ForAll(supplier = HostileBodies.Tasks.class) String body) {
    acceptedOrNamed(() -> TaskRequest.parse(Json.readBody(body)));
  }

  @Property(tries = TRIES)
  void bulkBodies(@ForAll(supplier = HostileBodies.Bulk.class) String body) {
    acceptedOrNamed(() -> TaskRoutes.parseBulk(Json.readBody(body)));
  }

  @Property(tries = TRIES)
  void dagBodies(@ForAll(supplier = HostileBodies.Dags.class) String body) {
    acceptedOrNamed(() -> validDag(DagRoutes.parseDag(object(body))));
  }

  @Property(tries = TRIES)
  void mapReduceBodies(@ForAll(supplier = HostileBodies.MapReduces.class) String body) {
    acceptedOrNamed(() -> validDag(DagRoutes.parseMapReduce(object(body))));
  }

  @Property(tries = TRIES)
  void appBodies(@ForAll(supplier = HostileBodies.Apps.class) String body) {
    acceptedOrNamed(() -> AppRequest.parse(object(body), true));
    acceptedOrNamed(() -> AppRequest.parse(object(body), false));
  }

  @Property(tries = TRIES)
  void sessionBodies(@ForAll(supplier = HostileBodies.Sessions.class) String body) {
    acceptedOrNamed(
        () -> SessionRoutes.bodyToken(body.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
  }

  // ---------------------------------------------------------------- regression cases (bodies that
  // found bugs)

  @Example
  void anUnpairedSurrogateIsRefusedNamingItsField() {
    // it used to pass the parsing and reach the journal, whose CBOR encoding refuses it ("Invalid
    // surrogate pair",
    // through TaskSpec["sourceCode"]): the Submitted event could not be written
    BadRequest e =
        assertThrows(
            BadRequest.class,
            () -> TaskRequest.parse(Json.readBody("{\"payload\":{\"sourceCode\":\"'\\ud800'\"}}")));
    assertEquals("payload.sourceCode", e.field());
    e =
        assertThrows(
            BadRequest.class,
            () ->
                TaskRoutes.parseBulk(
                    Json.readBody(
                        "{\"tasks\":[{\"payload\":{\"sourceCode\":\"1\"},\"input\":{\"k\":[\"\\udc00\"]}}]}")));
    assertEquals("tasks[0].input.k[0]", e.field());
    // a pair is a character, and fine
    assertNotNull(
        TaskRequest.parse(Json.readBody("{\"payload\":{\"sourceCode\":\"'\\ud83d\\ude00'\"}}")));
  }

  @Example
  void anAppsFilesKeepTheOrderGivenThroughTheJournal() {
    // found by appBodies: Map.copyOf iterated the files in a hash order that depended on the order
    // they were added, so the spec read back from the journal listed them differently
    StringBuilder files = new StringBuilder();
    for (int i = 40; i > 0; i--)
      files.append(i == 40 ? "" : ",").append("\"f").append(i).append(".js\":\"x\"");
    var spec =
        AppRequest.parse(
            object("{\"source\":{\"files\":{" + files + "},\"entry\":\"f1.js\"}}"), true);
    assertEquals("f40.js", spec.files().keySet().iterator().next());
    survivesTheJournal(spec);
  }

  @Example
  void aDuplicateKeyIsRefusedNamingIt() {
    BadRequest e =
        assertThrows(
            BadRequest.class,
            () -> Json.readBody("{\"payload\":{\"sourceCode\":\"1\",\"sourceCode\":\"2\"}}"));
    assertEquals("payload.sourceCode", e.field());
  }

  @Example
  void invalidUtf8IsRefusedNamingTheFieldItIsIn() {
    // decoded to text first (as bodies were), these bytes became U+FFFD: a task accepted with text
    // the client never sent
    byte[] body = {
      '{',
      '"',
      'p',
      '"',
      ':',
      '{',
      '"',
      's',
      'o',
      'u',
      'r',
      'c',
      'e',
      'C',
      'o',
      'd',
      'e',
      '"',
      ':',
      '"',
      '1',
      (byte) 0xff,
      (byte) 0xfe,
      '"',
      '}',
      '}'
    };
    BadRequest e = assertThrows(BadRequest.class, () -> Json.readBody(body));
    assertEquals("p.sourceCode", e.field());
  }

  @Example
  void malformedOrTrailingTextNamesTheBody() {
    for (String bad : List.of("", "{", "{\"a\":1} x", "{\"a\":1}{}", "[".repeat(5000))) {
      BadRequest e = assertThrows(BadRequest.class, () -> Json.readBody(bad), bad);
      assertEquals("body", e.field(), bad);
    }
  }

  // ----------------------------------------------------------------

  private static JsonNode object(String body) {
    JsonNode tree = Json.readBody(body);
    if (!tree.isObject()) throw new BadRequest("body", "the body must be a JSON object");
    return tree;
  }

  private static DagSpec validDag(DagSpec spec) {
    DagValidator.validate(spec, 10_000)
        .ifPresent(
            p -> {
              throw new BadRequest(p.field(), p.error());
            });
    return spec;
  }

  /**
   * Accepted (and then journaled intact) or refused naming a field; anything else fails the
   * property.
   */
  private static void acceptedOrNamed(Supplier<?> parse) {
    Object accepted;
    try {
      accepted = parse.get();
    } catch (BadRequest e) {
      assertNotNull(e.field(), "a 400 without a field: " + e.getMessage());
      assertFalse(e.field().isBlank(), "a 400 with a blank field: " + e.getMessage());
      assertNotNull(e.getMessage());
      return;
    }
    if (accepted instanceof List<?> list) list.forEach(RequestFuzzTest::survivesTheJournal);
    else if (accepted != null && !(accepted instanceof String)) survivesTheJournal(accepted);
  }

  /** What the journal would store reads back as it was. */
  private static void survivesTheJournal(Object value) {
    var serializer = serialization.findSerializerFor(value);
    byte[] bytes = serializer.toBinary(value);
    Object back =
        serialization
            .deserialize(bytes, serializer.identifier(), Serializers.manifestFor(serializer, value))
            .get();
    assertEquals(value.toString(), back.toString());
  }
}
