package dev.anchor.http;

import static org.apache.pekko.http.javadsl.server.Directives.*;

import dev.anchor.auth.TokenVerifier;
import dev.anchor.config.AnchorSettings;
import dev.anchor.ops.ShardedNodeOperations;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.ExceptionHandler;
import org.apache.pekko.http.javadsl.server.MalformedRequestContentRejection;
import org.apache.pekko.http.javadsl.server.RejectionHandler;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.scaladsl.model.EntityStreamSizeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Binds the REST + SSE API; every error leaves as JSON {"error","field"}, never as a 500 for client
 * input.
 */
public final class ApiServer {
  private static final Logger log = LoggerFactory.getLogger(ApiServer.class);

  /** What a 503 that is not the admission's own asks clients to wait before trying again. */
  static final Duration RETRY_AFTER = Duration.ofSeconds(1);

  private ApiServer() {}

  /**
   * @param verifier checks the API's bearer tokens; null when authentication is off
   *     (ANCHOR_AUTH=off)
   */
  public static CompletionStage<ServerBinding> start(
      ActorSystem<?> system,
      AnchorSettings settings,
      ApiServices services,
      TokenVerifier verifier) {
    Authentication auth = verifier == null ? Authentication.off() : new Authentication(verifier);
    ShardedNodeOperations nodeOps = new ShardedNodeOperations(system, services.nodes()::nodeIds);
    Admission admission = admission(system, services.tasks());
    Route routes =
        concat(
            // the busiest routes first: every request walks the alternatives in order until one
            // matches, and a task submit used to pass seven route trees first (~7 % of the
            // dispatcher's CPU per single submit). NodeRoutes matches /api/nodes exactly only, so
            // /api/nodes/{id}/... still reaches ScreenRoutes and OperatorRoutes.
            new TaskRoutes(
                    system, services.submitCheck(), services.tasks(), services.feed(), admission)
                .route(),
            new NodeRoutes(system, services.nodes()).route(),
            new FraudRoutes(services.fraud()).route(),
            new HealthRoutes(services.health()).route(),
            new DagRoutes(system, services.submitCheck(), services.feed(), admission).route(),
            dev.anchor.ops.Metrics.route(),
            OpenApiRoutes.route(),
            new SessionRoutes(auth).route(),
            DashboardRoutes.route(),
            new ScreenRoutes(system, nodeOps).route(),
            new OperatorRoutes(nodeOps).route(),
            new AppRoutes(system, services.apps(), services.feed()).route());
    Route served =
        withRequestTimeoutResponse(
            request ->
                Admission.refusal(
                    "the node did not answer in time (it is overloaded or a store is slow); try again",
                    RETRY_AFTER),
            () -> secured(auth, routes));
    var config = system.settings().config();
    Duration headTimeout =
        config.hasPath("anchor.http.request-head-timeout")
            ? config.getDuration("anchor.http.request-head-timeout")
            : Duration.ofSeconds(10);
    // between requests: Pekko's idle timeout (60 s), unless set (infinite counts as the head limit)
    Duration keepAlive =
        config.hasPath("anchor.http.keep-alive-timeout")
            ? config.getDuration("anchor.http.keep-alive-timeout")
            : Duration.ofSeconds(60);
    return Http.get(system)
        .newServerAt(settings.httpHost(), settings.httpPort())
        .bindFlow(HeadDeadline.around(served.flow(system), headTimeout, keepAlive))
        .thenApply(b -> b.addToCoordinatedShutdown(Duration.ofSeconds(10), system));
  }

  /**
   * The routes behind the authentication check, with every error as JSON. The check comes first, so
   * nothing of a refused request reaches a route (or an entity behind it).
   */
  static Route secured(Authentication auth, Route routes) {
    return handleExceptions(
        exceptions(), () -> handleRejections(rejections(), () -> auth.guard(entityIds(routes))));
  }

  /** The id field each family's 404 names, by the path segment after /api. */
  private static final java.util.Map<String, String> ID_FIELDS =
      java.util.Map.of(
          "tasks", "taskId", "dag", "dagId", "clusters", "clusterId", "nodes", "nodeId");

  /**
   * An id in /api/{tasks|dag|clusters|nodes}/{id}… that no entity can have is a 404 at once: the
   * entities' persistence ids are "Type|id", so an id holding '|' made the entity fail at start and
   * the request wait for its ask timeout (found by HostileInputIT); a control character or an id
   * longer than {@link #MAX_ID_LENGTH} is refused alike.
   */
  static Route entityIds(Route inner) {
    return extractUri(
        uri -> {
          var it = uri.pathSegments().iterator();
          if (it.hasNext() && it.next().equals("api") && it.hasNext()) {
            String field = ID_FIELDS.get(it.next());
            if (field != null && it.hasNext()) {
              String id = it.next();
              if (!usableId(id)) {
                return complete(
                    Json.error(
                        StatusCodes.NOT_FOUND,
                        "no such "
                            + field.substring(0, field.length() - 2)
                            + " (an id holds no '|', no control character and at most "
                            + MAX_ID_LENGTH
                            + " characters)",
                        field));
              }
            }
          }
          return inner;
        });
  }

  static final int MAX_ID_LENGTH = 200;

  static boolean usableId(String id) {
    if (id.length() > MAX_ID_LENGTH || id.indexOf('|') >= 0) return false;
    for (int i = 0; i < id.length(); i++) {
      if (Character.isISOControl(id.charAt(i))) return false;
    }
    return Json.isWellFormed(id);
  }

  /**
   * The submit bounds (anchor.admission), with the cluster's count of open tasks read from Redis
   * four times a second.
   */
  private static Admission admission(ActorSystem<?> system, TaskQueries tasks) {
    Admission admission = new Admission(Admission.Limits.fromConfig(system.settings().config()));
    dev.anchor.ops.Metrics.registerAdmission(admission);
    system
        .scheduler()
        .scheduleWithFixedDelay(
            Duration.ZERO,
            Duration.ofMillis(250),
            () -> {
              try {
                admission.openTasksAre(
                    tasks
                        .openTasks()
                        .toCompletableFuture()
                        .get(2, java.util.concurrent.TimeUnit.SECONDS));
              } catch (Exception e) {
                // Redis away: keep the last count; the submits themselves fail or succeed on their
                // own
              }
            },
            system
                .dispatchers()
                .lookup(org.apache.pekko.actor.typed.DispatcherSelector.blocking()));
    return admission;
  }

  static ExceptionHandler exceptions() {
    return ExceptionHandler.newBuilder()
        .match(
            BadRequest.class,
            e -> complete(Json.error(StatusCodes.BAD_REQUEST, e.getMessage(), e.field())))
        .match(
            EntityStreamSizeException.class,
            e ->
                complete(
                    Json.error(
                        StatusCodes.PAYLOAD_TOO_LARGE,
                        "request body is larger than " + e.limit() + " bytes",
                        "body")))
        .matchAny(
            e -> {
              Throwable root = e;
              while (root.getCause() != null && root != root.getCause()) root = root.getCause();
              if (root instanceof BadRequest b)
                return complete(Json.error(StatusCodes.BAD_REQUEST, b.getMessage(), b.field()));
              if (root instanceof EntityStreamSizeException s) {
                return complete(
                    Json.error(
                        StatusCodes.PAYLOAD_TOO_LARGE,
                        "request body is larger than " + s.limit() + " bytes",
                        "body"));
              }
              if (root instanceof StoreGate.StoreDown d)
                return complete(StoreGate.unavailable(d.getMessage()));
              String store = storeFailure(e);
              if (store != null)
                return complete(
                    StoreGate.unavailable(store + " did not answer; try again shortly"));
              if (root instanceof java.util.concurrent.TimeoutException
                  || root instanceof org.apache.pekko.pattern.AskTimeoutException) {
                return complete(
                    StoreGate.unavailable("the cluster did not answer in time; try again"));
              }
              log.error("request failed", e);
              return complete(
                  Json.error(
                      StatusCodes.INTERNAL_SERVER_ERROR,
                      "internal error: " + e.getMessage(),
                      null));
            })
        .build();
  }

  /**
   * Which store failed the request ("Redis", "MongoDB"), when a driver exception is in the chain;
   * else null.
   */
  static String storeFailure(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof io.lettuce.core.RedisException) return "the job queue (Redis)";
      if (t instanceof com.mongodb.MongoException) return "the journal (MongoDB)";
    }
    return null;
  }

  static RejectionHandler rejections() {
    return RejectionHandler.newBuilder()
        .handle(
            MalformedRequestContentRejection.class,
            r ->
                r.getCause() instanceof EntityStreamSizeException s
                    ? complete(
                        Json.error(
                            StatusCodes.PAYLOAD_TOO_LARGE,
                            "request body is larger than " + s.limit() + " bytes",
                            "body"))
                    : complete(
                        Json.error(
                            StatusCodes.BAD_REQUEST,
                            "malformed request body: " + r.message(),
                            "body")))
        .build()
        .withFallback(RejectionHandler.defaultHandler())
        .mapRejectionResponse(ApiServer::asJson);
  }

  /**
   * The default rejection answers are plain text; clients get the same JSON shape as for every
   * other error.
   */
  private static HttpResponse asJson(HttpResponse response) {
    if (response.entity() instanceof HttpEntity.Strict strict
        && !strict.getContentType().mediaType().toString().contains("json")) {
      String text = strict.getData().decodeString(StandardCharsets.UTF_8);
      return Json.error(response.status(), text.isBlank() ? response.status().reason() : text, null)
          .withHeaders(response.getHeaders());
    }
    return response;
  }
}
