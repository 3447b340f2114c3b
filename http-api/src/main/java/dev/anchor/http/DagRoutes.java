package dev.anchor.http;

import static org.apache.pekko.http.javadsl.server.Directives.*;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.anchor.TimeOrderedIds;
import dev.anchor.dag.DagEntity;
import dev.anchor.dag.DagSettings;
import dev.anchor.dag.DagSpec;
import dev.anchor.dag.DagStep;
import dev.anchor.dag.DagValidator;
import dev.anchor.dag.DagView;
import dev.anchor.dag.MapReduce;
import dev.anchor.task.TaskSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.http.javadsl.marshalling.sse.EventStreamMarshalling;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.sse.ServerSentEvent;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.stream.javadsl.Source;

/** /api/dag (schedule, status, events, cancel) and /api/mapreduce, which schedules a DAG too. */
final class DagRoutes {
  private static final Duration ASK = Duration.ofSeconds(30);
  private static final ObjectMapper MAPPER = Json.MAPPER;

  private final SubmitCheck submitCheck;
  private final EventFeed feed;
  private final ClusterSharding sharding;
  private final DagSettings settings;
  private final Admission admission;

  DagRoutes(ActorSystem<?> system, SubmitCheck submitCheck, EventFeed feed, Admission admission) {
    this.submitCheck = submitCheck;
    this.feed = feed;
    this.admission = admission;
    this.sharding = ClusterSharding.get(system);
    this.settings = DagSettings.fromConfig(system.settings().config());
  }

  Route route() {
    return pathPrefix(
        "api",
        () ->
            concat(
                pathPrefix(
                    "dag",
                    () ->
                        concat(
                            path(
                                "schedule",
                                () ->
                                    post(
                                        () ->
                                            BodyLimit.atMost(
                                                TaskRoutes.MAX_BODY_BYTES,
                                                () ->
                                                    entity(
                                                        Unmarshaller.entityToByteArray(),
                                                        body ->
                                                            StoreGate.guard(
                                                                submitCheck,
                                                                () ->
                                                                    schedule(
                                                                        parseDag(read(body)))))))),
                            path(
                                segment(),
                                id ->
                                    concat(
                                        get(
                                            () ->
                                                completeWithFuture(
                                                    getDag(id)
                                                        .thenApply(
                                                            v ->
                                                                unknown(v)
                                                                    ? notFound(id)
                                                                    : Json.ok(json(v))))),
                                        delete(() -> completeWithFuture(cancel(id))))),
                            path(segment().slash("events"), id -> get(() -> events(id))))),
                path(
                    "mapreduce",
                    () ->
                        post(
                            () ->
                                BodyLimit.atMost(
                                    TaskRoutes.MAX_BODY_BYTES,
                                    () ->
                                        entity(
                                            Unmarshaller.entityToByteArray(),
                                            body ->
                                                StoreGate.guard(
                                                    submitCheck,
                                                    () ->
                                                        schedule(parseMapReduce(read(body))))))))));
  }

  // ---------------------------------------------------------------- schedule

  private Route schedule(DagSpec spec) {
    Optional<DagValidator.Problem> problem = DagValidator.validate(spec, settings.maxSteps());
    if (problem.isPresent()) {
      DagValidator.Problem p = problem.get();
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("error", p.error());
      body.put("field", p.field());
      body.put("ids", p.ids());
      return complete(Json.response(StatusCodes.BAD_REQUEST, body));
    }
    String dagId = TimeOrderedIds.next();
    // a DAG's steps become tasks as they start, not at once: the DAG is admitted as one submit
    return admission.admit(
        1,
        () ->
            sharding
                .entityRefFor(DagEntity.TYPE_KEY, dagId)
                .<DagView>askWithStatus(replyTo -> new DagEntity.Schedule(spec, replyTo), ASK)
                .thenApply(
                    v ->
                        Json.response(
                            StatusCodes.CREATED,
                            Map.of("dagId", v.dagId(), "status", v.status()))));
  }

  private static JsonNode read(byte[] body) {
    JsonNode tree = Json.readBody(body);
    if (!tree.isObject()) throw new BadRequest("body", "the body must be a JSON object");
    return tree;
  }

  static DagSpec parseDag(JsonNode body) {
    JsonNode tasks = body.get("tasks");
    if (tasks == null || !tasks.isArray())
      throw new BadRequest("tasks", "tasks must be an array of task nodes");
    List<DagStep> steps = new ArrayList<>(tasks.size());
    for (int i = 0; i < tasks.size(); i++) {
      JsonNode t = tasks.get(i);
      String at = "tasks[" + i + "]";
      if (!t.isObject()) throw new BadRequest(at, at + " must be an object");
      JsonNode id = t.get("id");
      if (id == null || !id.isTextual())
        throw new BadRequest(at + ".id", at + ".id is required (a string)");
      List<String> deps = new ArrayList<>();
      JsonNode d = t.get("dependencies");
      if (d != null && !d.isNull()) {
        if (!d.isArray())
          throw new BadRequest(
              at + ".dependencies", at + ".dependencies must be an array of task ids");
        for (JsonNode e : d) {
          if (!e.isTextual())
            throw new BadRequest(
                at + ".dependencies", at + ".dependencies must hold task ids (strings)");
          deps.add(e.asText());
        }
      }
      steps.add(DagStep.of(id.asText(), deps, task(t, at)));
    }
    JsonNode input = body.get("input");
    return new DagSpec(
        optionalText(body, "name"),
        steps,
        input == null || input.isNull() ? null : input.toString(),
        failurePolicy(body),
        maxParallel(body));
  }

  static DagSpec parseMapReduce(JsonNode body) {
    JsonNode input = body.get("input");
    if (input == null || !input.isArray())
      throw new BadRequest("input", "input must be an array of items");
    JsonNode p = body.get("partitions");
    if (p == null
        || !p.isIntegralNumber()
        || !p.canConvertToInt()
        || p.asInt() < 1
        || p.asInt() > 10_000) {
      throw new BadRequest("partitions", "partitions must be a whole number from 1 to 10000");
    }
    TaskSpec map = step(body, "map");
    TaskSpec reduce = step(body, "reduce");
    return MapReduce.plan(
        optionalText(body, "name"), (ArrayNode) input, p.asInt(), map, reduce, maxParallel(body));
  }

  /**
   * A map or reduce step: its payload with the body's requirements, retries and timeoutMs. Given as
   * the payload itself ({@code "map":{"runtime":…,"sourceCode":…}}) or nested like a task's and a
   * DAG step's ({@code "map":{"payload":{…},"timeoutMs":…}}), whose own requirements, retries,
   * timeoutMs and priority win.
   */
  private static TaskSpec step(JsonNode body, String key) {
    JsonNode step = body.get(key);
    if (step == null || step.isNull())
      throw new BadRequest(key, key + " (a task payload) is required");
    if (!step.isObject()) throw new BadRequest(key, key + " must be a task payload object");
    boolean nested = step.has("payload");
    ObjectNode task = MAPPER.createObjectNode();
    task.set("payload", nested ? step.get("payload") : step);
    for (String shared : List.of("requirements", "retries", "timeoutMs", "priority")) {
      if (nested && step.has(shared)) task.set(shared, step.get(shared));
      else if (body.has(shared)) task.set(shared, body.get(shared));
    }
    task.put(
        "name",
        Optional.ofNullable(optionalText(body, "name")).map(n -> n + "/" + key).orElse(key));
    try {
      return TaskRequest.parse(task);
    } catch (BadRequest e) {
      String f = e.field();
      if (nested) {
        String top = f == null ? null : f.split("\\.")[0];
        boolean own = top != null && (top.equals("payload") || step.has(top));
        throw new BadRequest(
            own ? key + "." + f : f, own ? key + "." + e.getMessage() : e.getMessage());
      }
      throw new BadRequest(
          f != null && f.startsWith("payload") ? key + f.substring("payload".length()) : f,
          e.getMessage().replace("payload", key));
    }
  }

  /**
   * A step's task via the task parser, its problems named by the step's position (e.g.
   * tasks[2].payload).
   */
  private static TaskSpec task(JsonNode step, String at) {
    JsonNode payload = step.get("payload");
    if (payload == null || payload.isNull()) {
      // the reference system's example steps carry no payload: a pass-through step whose result is
      // its input
      return new TaskSpec(
          optionalText(step, "name", at),
          optionalText(step, "type", at),
          DagStep.PASS_THROUGH,
          null,
          null,
          null,
          null,
          List.of(),
          null,
          null,
          null,
          null,
          0);
    }
    ObjectNode copy = ((ObjectNode) step).deepCopy();
    copy.remove("input"); // a step's input comes from the DAG
    try {
      return TaskRequest.parse(copy);
    } catch (BadRequest e) {
      String f = e.field() == null ? at : at + "." + e.field();
      throw new BadRequest(f, at + ": " + e.getMessage());
    }
  }

  private static String optionalText(JsonNode node, String key, String at) {
    JsonNode v = node.get(key);
    if (v == null || v.isNull()) return null;
    if (!v.isTextual()) throw new BadRequest(at + "." + key, at + "." + key + " must be a string");
    return v.asText();
  }

  private static String optionalText(JsonNode body, String key) {
    JsonNode v = body.get(key);
    if (v == null || v.isNull()) return null;
    if (!v.isTextual()) throw new BadRequest(key, key + " must be a string");
    return v.asText();
  }

  private static DagSpec.FailurePolicy failurePolicy(JsonNode body) {
    String p = optionalText(body, "failurePolicy");
    if (p == null || p.equals("failFast")) return DagSpec.FailurePolicy.FAIL_FAST;
    if (p.equals("continue")) return DagSpec.FailurePolicy.CONTINUE;
    throw new BadRequest("failurePolicy", "failurePolicy must be \"failFast\" or \"continue\"");
  }

  private static int maxParallel(JsonNode body) {
    JsonNode m = body.get("maxParallel");
    if (m == null || m.isNull()) return 0;
    if (!m.isIntegralNumber() || !m.canConvertToInt() || m.asInt() < 1) {
      throw new BadRequest("maxParallel", "maxParallel must be a whole number of at least 1");
    }
    return m.asInt();
  }

  // ---------------------------------------------------------------- status, cancel, events

  private CompletionStage<DagView> getDag(String id) {
    return sharding.entityRefFor(DagEntity.TYPE_KEY, id).ask(DagEntity.Get::new, ASK);
  }

  private static boolean unknown(DagView v) {
    return DagView.UNKNOWN.equals(v.status());
  }

  private static HttpResponse notFound(String id) {
    return Json.error(StatusCodes.NOT_FOUND, "no DAG " + id, "dagId");
  }

  private CompletionStage<HttpResponse> cancel(String id) {
    return getDag(id)
        .thenCompose(
            v -> {
              if (unknown(v)) return CompletableFuture.completedFuture(notFound(id));
              CompletionStage<DagView> c =
                  sharding
                      .entityRefFor(DagEntity.TYPE_KEY, id)
                      .askWithStatus(DagEntity.Cancel::new, ASK);
              return c.thenApply(x -> Json.ok(json(x)))
                  .exceptionally(
                      e -> {
                        Throwable t =
                            e instanceof CompletionException && e.getCause() != null
                                ? e.getCause()
                                : e;
                        return Json.error(StatusCodes.CONFLICT, t.getMessage(), "dagId");
                      });
            });
  }

  private Route events(String id) {
    // the feed position is taken before the DAG is read, so no change falls between the snapshot
    // and the stream
    return optionalHeaderValueByName(
        "Last-Event-ID",
        last ->
            onSuccess(
                CompletableFuture.supplyAsync(() -> last.orElseGet(() -> feed.lastId())),
                from ->
                    onSuccess(
                        getDag(id),
                        v -> {
                          if (unknown(v)) return complete(notFound(id));
                          Source<ServerSentEvent, NotUsed> events =
                              FeedSource.events(
                                      feed,
                                      from,
                                      e -> "dag".equals(e.kind()) && id.equals(e.subjectId()))
                                  .takeWhile(e -> !ended(e.event()), true)
                                  .map(
                                      e ->
                                          ServerSentEvent.create(
                                              e.json(),
                                              Optional.of(e.event()),
                                              Optional.of(e.id()),
                                              java.util.OptionalInt.empty()));
                          if (last.isEmpty()) {
                            ServerSentEvent now = ServerSentEvent.create(write(json(v)), "state");
                            events =
                                ended(v.status())
                                    ? Source.single(now)
                                    : Source.single(now).concat(events);
                          }
                          return completeOK(
                              events.keepAlive(Duration.ofSeconds(15), ServerSentEvent::heartbeat),
                              EventStreamMarshalling.toEventStream());
                        })));
  }

  private static boolean ended(String status) {
    return "Completed".equals(status) || "Failed".equals(status) || "Cancelled".equals(status);
  }

  /**
   * The view with results as the JSON values the code produced, not the text of them; the steps
   * also as {@code nodes}, their name before the rename.
   */
  static ObjectNode json(DagView v) {
    ObjectNode out = MAPPER.valueToTree(v);
    out.set("result", value(v.result()));
    ArrayNode steps = (ArrayNode) out.get("steps");
    for (int i = 0; i < v.steps().size(); i++)
      ((ObjectNode) steps.get(i)).set("result", value(v.steps().get(i).result()));
    out.set("nodes", steps.deepCopy());
    return out;
  }

  private static JsonNode value(String json) {
    if (json == null) return MAPPER.nullNode();
    try {
      return MAPPER.readTree(json);
    } catch (Exception notJson) {
      return MAPPER.getNodeFactory().textNode(json);
    }
  }

  private static String write(JsonNode n) {
    try {
      return MAPPER.writeValueAsString(n);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
