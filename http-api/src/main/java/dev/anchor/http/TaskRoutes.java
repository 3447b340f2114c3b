package dev.anchor.http;

import static org.apache.pekko.http.javadsl.server.Directives.*;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.TimeOrderedIds;
import dev.anchor.feed.FeedEntry;
import dev.anchor.feed.TaskJson;
import dev.anchor.task.TaskEntity;
import dev.anchor.task.TaskSpec;
import dev.anchor.task.TaskView;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.http.javadsl.marshalling.sse.EventStreamMarshalling;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.sse.ServerSentEvent;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.stream.javadsl.Source;

/** /api/tasks, /api/queue/stats and the server-sent event streams. */
final class TaskRoutes {
  static final long MAX_BODY_BYTES = 5L * 1024 * 1024;
  static final long BULK_MAX_BODY_BYTES = 32L * 1024 * 1024;
  static final int BULK_MAX_TASKS = 1000;
  private static final Duration ASK = Duration.ofSeconds(15);
  private static final ObjectMapper MAPPER = Json.MAPPER;

  private final SubmitCheck submitCheck;
  private final TaskQueries tasks;
  private final EventFeed feed;
  private final ClusterSharding sharding;
  private final Admission admission;

  TaskRoutes(
      ActorSystem<?> system,
      SubmitCheck submitCheck,
      TaskQueries tasks,
      EventFeed feed,
      Admission admission) {
    this.submitCheck = submitCheck;
    this.tasks = tasks;
    this.feed = feed;
    this.admission = admission;
    this.sharding = ClusterSharding.get(system);
  }

  Route route() {
    return pathPrefix(
        "api",
        () ->
            concat(
                pathPrefix(
                    "tasks",
                    () ->
                        concat(
                            path(
                                "bulk",
                                () ->
                                    post(
                                        () ->
                                            BodyLimit.atMost(
                                                BULK_MAX_BODY_BYTES,
                                                () ->
                                                    entity(
                                                        Unmarshaller.entityToByteArray(),
                                                        body ->
                                                            StoreGate.guard(
                                                                submitCheck,
                                                                () -> submitBulk(body)))))),
                            pathEndOrSingleSlash(
                                () ->
                                    concat(
                                        post(
                                            () ->
                                                BodyLimit.atMost(
                                                    MAX_BODY_BYTES,
                                                    () ->
                                                        entity(
                                                            Unmarshaller.entityToByteArray(),
                                                            body ->
                                                                StoreGate.guard(
                                                                    submitCheck,
                                                                    () -> submit(body))))),
                                        get(
                                            () ->
                                                parameterOptional(
                                                    "status",
                                                    status ->
                                                        parameterOptional(
                                                            "limit",
                                                            limit -> list(status, limit)))))),
                            path(
                                segment(),
                                id ->
                                    concat(
                                        get(
                                            () ->
                                                completeWithFuture(
                                                    getTask(id)
                                                        .thenApply(
                                                            v ->
                                                                UNKNOWN(v)
                                                                    ? Json.error(
                                                                        StatusCodes.NOT_FOUND,
                                                                        "no task " + id,
                                                                        "taskId")
                                                                    : Json.ok(TaskJson.of(v))))),
                                        delete(() -> completeWithFuture(cancel(id))))),
                            path(segment().slash("events"), id -> get(() -> taskEvents(id))))),
                path("events", () -> get(this::allEvents)),
                path(
                    segment("queue").slash("stats"),
                    () ->
                        get(
                            () ->
                                completeWithFuture(
                                    CompletableFuture.supplyAsync(
                                        () -> Json.ok(tasks.queueStats())))))));
  }

  private static boolean UNKNOWN(TaskView v) {
    return TaskView.UNKNOWN.equals(v.status());
  }

  private static JsonNode readJson(byte[] body) {
    return Json.readBody(body);
  }

  private CompletionStage<TaskView> submitOne(TaskSpec spec) {
    String taskId = TimeOrderedIds.next();
    return sharding
        .entityRefFor(TaskEntity.TYPE_KEY, taskId)
        .askWithStatus(replyTo -> new TaskEntity.Submit(spec, replyTo), ASK);
  }

  private Route submit(byte[] body) {
    TaskSpec spec = TaskRequest.parse(readJson(body));
    return admission.admit(
        1,
        () ->
            StoreGate.abandonIfStoreDown(submitCheck, submitOne(spec), StoreGate.ANSWER_WITHIN)
                .thenApply(
                    v ->
                        Json.response(
                            StatusCodes.CREATED,
                            Map.of("taskId", v.taskId(), "status", v.status()))));
  }

  /**
   * POST /api/tasks/bulk {"tasks":[…task bodies…]}: all are checked before any is accepted (a bad
   * one is a 400 naming tasks[i].field), then submitted together, so their journal writes share
   * batches. Answers 201 {"taskIds":[…]} in the order given.
   */
  private Route submitBulk(byte[] body) {
    List<TaskSpec> specs = parseBulk(readJson(body));
    return admission.admit(
        specs.size(),
        () -> {
          List<CompletableFuture<TaskView>> submitted =
              specs.stream().map(s -> submitOne(s).toCompletableFuture()).toList();
          return StoreGate.abandonIfStoreDown(
                  submitCheck,
                  CompletableFuture.allOf(submitted.toArray(CompletableFuture[]::new)),
                  StoreGate.BULK_ANSWER_WITHIN)
              .thenApply(
                  x ->
                      Json.response(
                          StatusCodes.CREATED,
                          Map.of(
                              "taskIds", submitted.stream().map(f -> f.join().taskId()).toList())));
        });
  }

  /** A bulk body's task specs, every one checked: a bad one is a 400 naming tasks[i].field. */
  static List<TaskSpec> parseBulk(JsonNode tree) {
    JsonNode tasks = tree.path("tasks");
    if (!tasks.isArray() || tasks.isEmpty())
      throw new BadRequest("tasks", "tasks must be a non-empty array of task bodies");
    if (tasks.size() > BULK_MAX_TASKS)
      throw new BadRequest("tasks", "at most " + BULK_MAX_TASKS + " tasks per request");
    List<TaskSpec> specs = new ArrayList<>(tasks.size());
    for (int i = 0; i < tasks.size(); i++) {
      try {
        specs.add(TaskRequest.parse(tasks.get(i)));
      } catch (BadRequest e) {
        String field =
            "tasks["
                + i
                + "]"
                + (e.field() == null || e.field().equals("body") ? "" : "." + e.field());
        throw new BadRequest(field, field + ": " + e.getMessage());
      }
    }
    return specs;
  }

  private CompletionStage<TaskView> getTask(String id) {
    return sharding.entityRefFor(TaskEntity.TYPE_KEY, id).ask(TaskEntity.Get::new, ASK);
  }

  private CompletionStage<org.apache.pekko.http.javadsl.model.HttpResponse> cancel(String id) {
    return getTask(id)
        .thenCompose(
            v -> {
              if (UNKNOWN(v))
                return CompletableFuture.completedFuture(
                    Json.error(StatusCodes.NOT_FOUND, "no task " + id, "taskId"));
              CompletionStage<TaskView> c =
                  sharding
                      .entityRefFor(TaskEntity.TYPE_KEY, id)
                      .askWithStatus(TaskEntity.Cancel::new, ASK);
              return c.thenApply(x -> Json.ok(TaskJson.of(x)))
                  .exceptionally(
                      e -> {
                        Throwable t =
                            e instanceof java.util.concurrent.CompletionException
                                    && e.getCause() != null
                                ? e.getCause()
                                : e;
                        return Json.error(StatusCodes.CONFLICT, t.getMessage(), "taskId");
                      });
            });
  }

  private Route list(Optional<String> status, Optional<String> limitParam) {
    int limit;
    try {
      limit = limitParam.map(Integer::parseInt).orElse(50);
    } catch (NumberFormatException e) {
      throw new BadRequest("limit", "limit must be a whole number");
    }
    if (limit < 1 || limit > 1000) throw new BadRequest("limit", "limit must be from 1 to 1000");
    String wanted =
        status.map(TaskRoutes::taskStatus).map(s -> s.toLowerCase(Locale.ROOT)).orElse(null);
    return completeWithFuture(
        CompletableFuture.supplyAsync(
            () -> {
              List<JsonNode> out = new ArrayList<>();
              for (String json :
                  tasks.newest(
                      limit,
                      j ->
                          wanted == null
                              || j.toLowerCase(Locale.ROOT)
                                  .contains("\"status\":\"" + wanted + "\""))) {
                try {
                  out.add(MAPPER.readTree(json));
                } catch (Exception ignored) {
                  // a summary is written by us; an unreadable one is skipped rather than failing
                  // the list
                }
              }
              return Json.ok(out);
            }));
  }

  static final List<String> TASK_STATUSES =
      List.of(
          TaskView.QUEUED,
          TaskView.RUNNING,
          TaskView.COMPLETED,
          TaskView.FAILED,
          TaskView.CANCELLED);

  /**
   * A task status named in any case; an unknown one is a 400 naming {@code status}, not an empty
   * list.
   */
  static String taskStatus(String value) {
    for (String s : TASK_STATUSES) if (s.equalsIgnoreCase(value.trim())) return s;
    throw new BadRequest(
        "status",
        "status must be one of " + String.join(", ", TASK_STATUSES) + ", not '" + value + "'");
  }

  private Route taskEvents(String id) {
    // the feed position is taken before the task is read, so no change falls between the snapshot
    // and the stream
    return optionalHeaderValueByName(
        "Last-Event-ID",
        last ->
            onSuccess(
                CompletableFuture.supplyAsync(() -> last.orElseGet(() -> feed.lastId())),
                from ->
                    onSuccess(
                        getTask(id),
                        v -> {
                          if (UNKNOWN(v))
                            return complete(
                                Json.error(StatusCodes.NOT_FOUND, "no task " + id, "taskId"));
                          Source<ServerSentEvent, NotUsed> events =
                              FeedSource.events(feed, from, e -> id.equals(e.subjectId()))
                                  .takeWhile(e -> !terminal(e), true)
                                  .map(TaskRoutes::toSse);
                          if (last.isEmpty()) {
                            // a fresh subscriber first sees where the task is now; an already
                            // finished task ends the stream at once
                            ServerSentEvent now =
                                ServerSentEvent.create(TaskJson.write(v), "state");
                            boolean done =
                                TaskView.COMPLETED.equals(v.status())
                                    || TaskView.FAILED.equals(v.status())
                                    || TaskView.CANCELLED.equals(v.status());
                            events = done ? Source.single(now) : Source.single(now).concat(events);
                          }
                          return sse(events);
                        })));
  }

  private Route allEvents() {
    return parameterOptional(
        "kind",
        kind ->
            parameterOptional(
                "events",
                events -> {
                  var wanted = FeedFilter.of(kind, events);
                  return optionalHeaderValueByName(
                      "Last-Event-ID",
                      last ->
                          sse(
                              FeedSource.events(feed, last.orElse(null), wanted)
                                  .map(TaskRoutes::toSse)));
                }));
  }

  private static Route sse(Source<ServerSentEvent, NotUsed> events) {
    return completeOK(
        events.keepAlive(Duration.ofSeconds(15), ServerSentEvent::heartbeat),
        EventStreamMarshalling.toEventStream());
  }

  private static boolean terminal(FeedEntry e) {
    return "Completed".equals(e.event())
        || "Failed".equals(e.event())
        || "Cancelled".equals(e.event());
  }

  private static ServerSentEvent toSse(FeedEntry e) {
    return ServerSentEvent.create(
        e.json(), Optional.of(e.event()), Optional.of(e.id()), java.util.OptionalInt.empty());
  }
}
