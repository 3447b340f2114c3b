package dev.anchor.http;

import static org.apache.pekko.http.javadsl.server.Directives.*;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.anchor.TimeOrderedIds;
import dev.anchor.app.AppEntity;
import dev.anchor.app.AppIndex;
import dev.anchor.app.AppOrder;
import dev.anchor.app.AppSpec;
import dev.anchor.app.AppView;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.function.BiFunction;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.marshalling.sse.EventStreamMarshalling;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.Uri;
import org.apache.pekko.http.javadsl.model.sse.ServerSentEvent;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.stream.javadsl.Source;

/**
 * /api/clusters (long-lived apps: create, list, show, logs, stop, start, restart, delete) and
 * /apps/{id}/…, the reverse proxy to wherever the app runs.
 */
final class AppRoutes {
  private static final Duration ASK = Duration.ofSeconds(15);

  private final ActorSystem<?> system;
  private final EventFeed feed;
  private final ClusterSharding sharding;
  private final AppIndex index;
  private final boolean allowCommands;

  AppRoutes(ActorSystem<?> system, AppIndex index, EventFeed feed) {
    this.system = system;
    this.feed = feed;
    this.sharding = ClusterSharding.get(system);
    this.index = index;
    this.allowCommands = system.settings().config().getBoolean("anchor.apps.allow-commands");
  }

  Route route() {
    return concat(
        pathPrefix(
            "api",
            () ->
                pathPrefix(
                    "clusters",
                    () ->
                        concat(
                            pathEndOrSingleSlash(
                                () ->
                                    concat(
                                        post(
                                            () ->
                                                BodyLimit.atMost(
                                                    TaskRoutes.MAX_BODY_BYTES,
                                                    () ->
                                                        extractUri(
                                                            uri ->
                                                                entity(
                                                                    Unmarshaller
                                                                        .entityToByteArray(),
                                                                    body ->
                                                                        create(body, base(uri)))))),
                                        get(
                                            () ->
                                                extractUri(
                                                    uri -> completeWithFuture(list(base(uri))))))),
                            path("events", () -> get(this::changes)),
                            path(
                                segment(),
                                id ->
                                    concat(
                                        get(
                                            () ->
                                                extractUri(
                                                    uri ->
                                                        completeWithFuture(show(id, base(uri))))),
                                        delete(
                                            () ->
                                                extractUri(
                                                    uri ->
                                                        completeWithFuture(
                                                            operate(
                                                                    id,
                                                                    base(uri),
                                                                    AppEntity.Delete::new)
                                                                .thenApply(
                                                                    r -> {
                                                                      if (r.status().intValue()
                                                                          == 200) index.remove(id);
                                                                      return r;
                                                                    })))))),
                            path(
                                segment().slash("logs"),
                                id ->
                                    get(
                                        () ->
                                            parameterOptional(
                                                "limit",
                                                limit ->
                                                    completeWithFuture(
                                                        logs(
                                                            id,
                                                            limit
                                                                .map(AppRoutes::limit)
                                                                .orElse(200)))))),
                            path(
                                segment().slash("logs").slash("events"),
                                id ->
                                    get(
                                        () ->
                                            parameterOptional(
                                                "limit",
                                                limit ->
                                                    followLogs(
                                                        id,
                                                        limit.map(AppRoutes::limit).orElse(100))))),
                            path(
                                segment().slash("stop"),
                                id ->
                                    post(
                                        () ->
                                            extractUri(
                                                uri ->
                                                    completeWithFuture(
                                                        operate(
                                                            id,
                                                            base(uri),
                                                            AppEntity.StopApp::new))))),
                            path(
                                segment().slash("start"),
                                id ->
                                    post(
                                        () ->
                                            extractUri(
                                                uri ->
                                                    completeWithFuture(
                                                        operate(
                                                            id,
                                                            base(uri),
                                                            AppEntity.StartApp::new))))),
                            path(
                                segment().slash("restart"),
                                id ->
                                    post(
                                        () ->
                                            extractUri(
                                                uri ->
                                                    completeWithFuture(
                                                        operate(
                                                            id,
                                                            base(uri),
                                                            AppEntity.RestartApp::new)))))))),
        pathPrefix(
            "apps",
            () ->
                pathPrefix(
                    segment(),
                    id ->
                        extractRequest(
                            req ->
                                extractUnmatchedPath(
                                    rest -> completeWithFuture(proxy(id, req, rest)))))));
  }

  private static int limit(String s) {
    try {
      int n = Integer.parseInt(s);
      if (n >= 1 && n <= 10_000) return n;
    } catch (NumberFormatException ignored) {
      // answered below
    }
    throw new BadRequest("limit", "limit must be a whole number from 1 to 10000");
  }

  /** The scheme and authority the client used, for the proxied {@code url}. */
  private static String base(Uri uri) {
    return uri.scheme() + "://" + uri.host().address() + (uri.port() > 0 ? ":" + uri.port() : "");
  }

  // ---------------------------------------------------------------- create, list, show

  private Route create(byte[] body, String base) {
    JsonNode tree = Json.readBody(body);
    if (!tree.isObject()) throw new BadRequest("body", "the body must be a JSON object");
    AppSpec spec = AppRequest.parse(tree, allowCommands);
    String id = TimeOrderedIds.next();
    CompletionStage<AppView> created =
        sharding
            .entityRefFor(AppEntity.TYPE_KEY, id)
            .askWithStatus(replyTo -> new AppEntity.Create(spec, replyTo), ASK);
    return completeWithFuture(
        created.thenApply(
            v -> {
              index.add(id, v.createdAt() == null ? System.currentTimeMillis() : v.createdAt());
              return Json.response(StatusCodes.CREATED, json(v, base));
            }));
  }

  private CompletionStage<AppView> view(String id) {
    return sharding.entityRefFor(AppEntity.TYPE_KEY, id).ask(AppEntity.Get::new, ASK);
  }

  private static boolean gone(AppView v) {
    return AppView.UNKNOWN.equals(v.status()) || "Deleted".equals(v.status());
  }

  private CompletionStage<HttpResponse> show(String id, String base) {
    return view(id).thenApply(v -> gone(v) ? notFound(id) : Json.ok(json(v, base)));
  }

  private CompletionStage<HttpResponse> list(String base) {
    List<String> ids = index.ids(1000);
    List<CompletableFuture<AppView>> views = new ArrayList<>();
    for (String id : ids) views.add(view(id).toCompletableFuture());
    return CompletableFuture.allOf(views.toArray(CompletableFuture[]::new))
        .thenApply(
            x -> {
              List<ObjectNode> out = new ArrayList<>();
              for (CompletableFuture<AppView> f : views) {
                AppView v = f.join();
                if (!gone(v)) out.add(json(v, base));
              }
              return Json.ok(out);
            });
  }

  private static HttpResponse notFound(String id) {
    return Json.error(StatusCodes.NOT_FOUND, "unknown app " + id, "clusterId");
  }

  /**
   * The view as JSON plus {@code url} (through this coordinator's proxy) and {@code nodeUrl} (on
   * its node).
   */
  static ObjectNode json(AppView v, String base) {
    ObjectNode o = Json.MAPPER.valueToTree(v);
    o.put("url", base + "/apps/" + v.clusterId() + "/");
    if (v.host() != null && v.port() != null)
      o.put("nodeUrl", "http://" + v.host() + ":" + v.port() + "/");
    else o.putNull("nodeUrl");
    return o;
  }

  // ---------------------------------------------------------------- operations, logs

  private CompletionStage<HttpResponse> operate(
      String id,
      String base,
      java.util.function.Function<ActorRef<StatusReply<AppView>>, AppEntity.Command> cmd) {
    return sharding
        .entityRefFor(AppEntity.TYPE_KEY, id)
        .<AppView>askWithStatus(cmd::apply, ASK)
        .handle(
            (BiFunction<AppView, Throwable, HttpResponse>)
                (v, e) -> {
                  if (e == null) return Json.ok(json(v, base));
                  Throwable t =
                      e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                  if (t instanceof StatusReply.ErrorMessage
                      || String.valueOf(t.getMessage()).startsWith("unknown app")) {
                    return notFound(id);
                  }
                  throw e instanceof CompletionException ce ? ce : new CompletionException(e);
                });
  }

  private CompletionStage<HttpResponse> logs(String id, int limit) {
    return view(id)
        .thenCompose(
            v -> {
              if (gone(v)) return CompletableFuture.completedFuture(notFound(id));
              return sharding
                  .entityRefFor(AppEntity.TYPE_KEY, id)
                  .<AppOrder.AppLogs>ask(replyTo -> new AppEntity.GetLogs(limit, replyTo), ASK)
                  .thenApply(
                      l -> {
                        var body = Json.MAPPER.createObjectNode();
                        body.put("clusterId", id);
                        body.put("nodeId", l.nodeId());
                        body.put("dropped", l.dropped());
                        body.set("lines", Json.MAPPER.valueToTree(l.lines()));
                        return Json.ok(body);
                      });
            });
  }

  /**
   * Every app change as server-sent events named {@code App<Event>} (AppCreated, AppPlaced,
   * AppStarted, AppHealthy, AppCrashed, AppRestarted, AppStopped, AppMoved, AppFailed, AppDeleted),
   * the app's view as data; the same entries (kind {@code app}) are on {@code /api/events}. Resumes
   * after {@code Last-Event-ID}.
   */
  private Route changes() {
    return optionalHeaderValueByName(
        "Last-Event-ID",
        last -> {
          Source<ServerSentEvent, org.apache.pekko.NotUsed> events =
              FeedSource.events(feed, last.orElse(null), e -> "app".equals(e.kind()))
                  .map(
                      e ->
                          ServerSentEvent.create(
                              e.json(),
                              java.util.Optional.of(e.event()),
                              java.util.Optional.of(e.id()),
                              java.util.OptionalInt.empty()));
          return completeOK(
              events.keepAlive(Duration.ofSeconds(15), ServerSentEvent::heartbeat),
              EventStreamMarshalling.toEventStream());
        });
  }

  /**
   * Server-sent events {@code line}, one per log line: the last {@code limit} lines, then new ones
   * as they come (the node's ring buffer is polled every second; a move or a new incarnation starts
   * from its buffer's start).
   */
  private Route followLogs(String id, int limit) {
    return onSuccess(
        view(id),
        v -> {
          if (gone(v)) return complete(notFound(id));
          var entity = sharding.entityRefFor(AppEntity.TYPE_KEY, id);
          Source<ServerSentEvent, org.apache.pekko.NotUsed> events =
              Source.tick(Duration.ZERO, Duration.ofSeconds(1), "poll")
                  .mapAsync(
                      1,
                      t ->
                          entity
                              .<AppOrder.AppLogs>ask(
                                  replyTo -> new AppEntity.GetLogs(10_000, replyTo), ASK)
                              .exceptionally(e -> null))
                  .filter(l -> l != null)
                  .statefulMapConcat(
                      () -> {
                        long[] seen = {-1};
                        String[] node = {null};
                        return l -> {
                          long total = l.dropped() + l.lines().size();
                          List<String> lines = l.lines();
                          int fresh;
                          if (seen[0] < 0) fresh = Math.min(limit, lines.size());
                          else if (!java.util.Objects.equals(node[0], l.nodeId())
                              || total < seen[0]) fresh = lines.size();
                          else fresh = (int) Math.min(lines.size(), total - seen[0]);
                          seen[0] = total;
                          node[0] = l.nodeId();
                          List<ServerSentEvent> out = new ArrayList<>(fresh);
                          for (String line : lines.subList(lines.size() - fresh, lines.size())) {
                            out.add(ServerSentEvent.create(line, "line"));
                          }
                          return out;
                        };
                      })
                  .mapMaterializedValue(c -> org.apache.pekko.NotUsed.getInstance());
          return completeOK(
              events.keepAlive(Duration.ofSeconds(15), ServerSentEvent::heartbeat),
              EventStreamMarshalling.toEventStream());
        });
  }

  // ---------------------------------------------------------------- the proxy

  private CompletionStage<HttpResponse> proxy(String id, HttpRequest req, String rest) {
    return view(id)
        .thenCompose(
            v -> {
              if (gone(v)) return CompletableFuture.completedFuture(notFound(id));
              String host = v.host();
              Integer appPort = v.port();
              if (!"Running".equals(v.status())
                  && v.retiring() != null
                  && v.retiring().port() != null) {
                host =
                    v.retiring()
                        .host(); // a graceful move: the old copy serves until the new one is
                // healthy
                appPort = v.retiring().port();
              }
              if (host == null || appPort == null || !v.desiredRunning()) {
                return CompletableFuture.completedFuture(
                    Json.error(
                        StatusCodes.SERVICE_UNAVAILABLE,
                        "app "
                            + id
                            + " is "
                            + v.status()
                            + (v.message() != null ? ": " + v.message() : ""),
                        "clusterId"));
              }
              String path = rest.isEmpty() ? "/" : rest;
              Uri target = Uri.create("http://" + host + ":" + appPort + path);
              var query = req.getUri().rawQueryString();
              if (query.isPresent()) target = target.rawQueryString(query.get());
              var upgrade =
                  req.getAttribute(
                      org.apache.pekko.http.javadsl.model.AttributeKeys.webSocketUpgrade);
              if (upgrade.isPresent()) {
                // a WebSocket: the client's connection is joined to one the coordinator opens to
                // the app
                Uri ws = target.scheme("ws");
                var backend =
                    Http.get(system)
                        .webSocketClientFlow(
                            org.apache.pekko.http.javadsl.model.ws.WebSocketRequest.create(
                                ws.toString()));
                return CompletableFuture.completedFuture(upgrade.get().handleMessagesWith(backend));
              }
              List<HttpHeader> headers = new ArrayList<>();
              for (HttpHeader h : req.getHeaders()) {
                String n = h.lowercaseName();
                // Anchor's credentials never reach the app; hop-by-hop and synthetic headers are
                // the client's business
                if (n.equals("authorization")
                    || n.equals("host")
                    || n.equals("timeout-access")
                    || n.equals("connection")
                    || n.equals("transfer-encoding")
                    || n.equals("content-length")
                    || n.equals("content-type")) continue;
                if (n.equals("cookie")) {
                  String kept =
                      java.util.Arrays.stream(h.value().split(";\\s*"))
                          .filter(c -> !c.startsWith("anchor_session="))
                          .reduce((a, b) -> a + "; " + b)
                          .orElse("");
                  if (!kept.isEmpty()) headers.add(HttpHeader.parse("Cookie", kept));
                  continue;
                }
                headers.add(h);
              }
              HttpRequest out =
                  HttpRequest.create()
                      .withMethod(req.method())
                      .withUri(target)
                      .withEntity(req.entity())
                      .addHeaders(headers)
                      .addHeader(HttpHeader.parse("X-Forwarded-Prefix", "/apps/" + id));
              return Http.get(system)
                  .singleRequest(out)
                  .exceptionally(
                      e ->
                          Json.error(
                              StatusCodes.BAD_GATEWAY,
                              "app "
                                  + id
                                  + " on "
                                  + v.nodeId()
                                  + " did not answer: "
                                  + e.getMessage(),
                              "clusterId"));
            });
  }
}
