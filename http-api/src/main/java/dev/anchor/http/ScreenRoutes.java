package dev.anchor.http;

import static org.apache.pekko.http.javadsl.server.Directives.*;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import dev.anchor.node.NodeView;
import dev.anchor.ops.NodeOperations;
import dev.anchor.ops.UnknownNodeException;
import dev.anchor.screen.ScreenProtocol;
import dev.anchor.screen.ScreenProtocol.Command;
import dev.anchor.screen.ScreenProtocol.ScreenFrame;
import dev.anchor.screen.ScreenProtocol.StreamEnded;
import dev.anchor.screen.ScreenProtocol.StreamEvent;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.SpawnProtocol;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.stream.CompletionStrategy;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;

/**
 * A node's screen, relayed by this coordinator from the node over the cluster: {@code GET
 * /api/nodes/{id}/screen} (one frame, {@code width=&quality=&format=jpeg|png}) and {@code GET
 * /api/nodes/{id}/screen/stream} ({@code fps=&width=&quality=}, MJPEG as {@code
 * multipart/x-mixed-replace}). 404 for an unknown node, 409 when the node cannot capture (its specs
 * say why), 503 when it does not answer.
 *
 * <p>Frames reach this JVM addressed to relay actors under {@code /system/screen-relays}, which
 * Artery sends on its large-message lane (application.conf), so a frame never delays cluster
 * heartbeats. Buffering is bounded at both ends: the node keeps at most {@link
 * ScreenProtocol#WINDOW} frames unacknowledged per stream and drops the frames of ticks that find
 * the window full; this side acknowledges a frame when the viewer's connection takes it, and holds
 * at most {@code WINDOW + 1} (oldest dropped first).
 */
public final class ScreenRoutes {
  static final String BOUNDARY = "anchorframe";
  private static final Duration ASK_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration STREAM_IDLE = Duration.ofSeconds(30);

  private final ActorSystem<?> system;
  private final NodeOperations ops;
  private final ActorRef<SpawnProtocol.Command> relays;
  private final AtomicLong relayIds = new AtomicLong();

  public ScreenRoutes(ActorSystem<?> system, NodeOperations ops) {
    this.system = system;
    this.ops = ops;
    this.relays = system.systemActorOf(SpawnProtocol.create(), "screen-relays", Props.empty());
  }

  /** The node answered with an error (no capture: 409, anything else: 503). */
  static final class NodeScreenError extends RuntimeException {
    NodeScreenError(String message) {
      super(message);
    }
  }

  /** The node cannot show its screen (answered 409 with the reason). */
  static final class NoCaptureException extends RuntimeException {
    NoCaptureException(String message) {
      super(message);
    }
  }

  /** The app has no such id (or was deleted): 404. */
  static final class UnknownAppException extends RuntimeException {
    UnknownAppException(String appId) {
      super("unknown app " + appId);
    }
  }

  /** Whose screen: a node's ({@code nodeId}) or an app's display ({@code clusterId}). */
  private record Target(
      String id,
      String field,
      java.util.function.Function<String, CompletionStage<ActorRef<Command>>> lookup) {}

  public Route route() {
    return pathPrefix(
        "api",
        () ->
            concat(
                pathPrefix("nodes", () -> screens(id -> new Target(id, "nodeId", this::service))),
                pathPrefix(
                    "clusters",
                    () -> screens(id -> new Target(id, "clusterId", this::appService)))));
  }

  private Route screens(java.util.function.Function<String, Target> target) {
    return concat(
        path(segment().slash("screen"), id -> get(() -> frameRoute(target.apply(id)))),
        path(
            segment().slash("screen").slash("stream"),
            id -> get(() -> streamRoute(target.apply(id)))));
  }

  private Route frameRoute(Target t) {
    return parameterOptional(
        "width",
        w ->
            parameterOptional(
                "quality",
                q ->
                    parameterOptional(
                        "format",
                        f ->
                            completeWithFuture(
                                frame(
                                    t,
                                    intParam("width", w, 0, 0, 16384),
                                    intParam("quality", q, 80, 1, 100),
                                    format(f))))));
  }

  private Route streamRoute(Target t) {
    return parameterOptional(
        "fps",
        fps ->
            parameterOptional(
                "width",
                w ->
                    parameterOptional(
                        "quality",
                        q ->
                            completeWithFuture(
                                stream(
                                    t,
                                    intParam("fps", fps, 10, 1, ScreenProtocol.MAX_FPS),
                                    intParam("width", w, 0, 0, 16384),
                                    intParam("quality", q, 70, 1, 100))))));
  }

  private static int intParam(String name, Optional<String> v, int dflt, int min, int max) {
    if (v.isEmpty() || v.get().isBlank()) return dflt;
    try {
      int n = Integer.parseInt(v.get().trim());
      if (n < min || n > max)
        throw new BadRequest(name, name + " must be " + min + "–" + max + ", not " + n);
      return n;
    } catch (NumberFormatException e) {
      throw new BadRequest(name, name + " must be a number, not '" + v.get() + "'");
    }
  }

  private static String format(Optional<String> f) {
    String s = f.orElse("jpeg").trim().toLowerCase(java.util.Locale.ROOT);
    if (s.isEmpty() || s.equals("jpeg") || s.equals("jpg")) return "jpeg";
    if (s.equals("png")) return "png";
    throw new BadRequest("format", "format must be jpeg or png, not '" + f.get() + "'");
  }

  // ------------------------------------------------------------------ one frame

  private CompletionStage<HttpResponse> frame(Target t, int width, int quality, String format) {
    return t.lookup()
        .apply(t.id())
        .thenCompose(
            svc -> {
              CompletableFuture<ScreenFrame> result = new CompletableFuture<>();
              return spawn(grabRelay(result), "grab-")
                  .thenCompose(
                      relay -> {
                        svc.tell(new ScreenProtocol.Grab(width, quality, format, relay));
                        return result;
                      });
            })
        .handle((f, e) -> e == null ? image(f) : failure(t, e));
  }

  private static HttpResponse image(ScreenFrame f) {
    ContentType ct =
        "image/png".equals(f.contentType())
            ? ContentTypes.create(org.apache.pekko.http.javadsl.model.MediaTypes.IMAGE_PNG)
            : ContentTypes.create(org.apache.pekko.http.javadsl.model.MediaTypes.IMAGE_JPEG);
    return HttpResponse.create()
        .withStatus(StatusCodes.OK)
        .addHeaders(
            List.of(
                RawHeader.create("Cache-Control", "no-store"),
                RawHeader.create("X-Captured-At", Long.toString(f.capturedAtMs()))))
        .withEntity(HttpEntities.create(ct, f.data()));
  }

  /** Waits for one answer to a Grab (at most ASK_TIMEOUT), then stops. */
  private static Behavior<StatusReply<ScreenFrame>> grabRelay(
      CompletableFuture<ScreenFrame> result) {
    return Behaviors.setup(
        ctx -> {
          ctx.setReceiveTimeout(
              ASK_TIMEOUT,
              StatusReply.error(
                  "the node did not send a frame within " + ASK_TIMEOUT.toSeconds() + " s"));
          return Behaviors.receiveMessage(
              reply -> {
                if (reply.isSuccess()) result.complete(reply.getValue());
                else
                  result.completeExceptionally(new NodeScreenError(reply.getError().getMessage()));
                return Behaviors.stopped();
              });
        });
  }

  // ------------------------------------------------------------------ a stream

  private CompletionStage<HttpResponse> stream(Target target, int fps, int width, int quality) {
    return target
        .lookup()
        .apply(target.id())
        .thenCompose(
            svc -> {
              String streamId = UUID.randomUUID().toString();
              Materializer mat = Materializer.matFromSystem(system);
              Pair<org.apache.pekko.actor.ActorRef, Source<Object, NotUsed>> pre =
                  Source.<Object>actorRef(
                          m ->
                              m instanceof StreamEnded
                                  ? Optional.of(CompletionStrategy.draining())
                                  : Optional.empty(),
                          m -> Optional.empty(),
                          ScreenProtocol.WINDOW + 1,
                          OverflowStrategy.dropHead())
                      .preMaterialize(mat);
              ActorRef<Object> sink = Adapter.toTyped(pre.first());
              return spawn(streamRelay(svc, streamId, sink), "stream-")
                  .thenApply(
                      relay -> {
                        svc.tell(
                            new ScreenProtocol.StartStream(streamId, fps, width, quality, relay));
                        Source<ByteString, NotUsed> body =
                            pre.second()
                                .idleTimeout(STREAM_IDLE)
                                .filter(m -> m instanceof ScreenFrame)
                                .map(
                                    m -> {
                                      ScreenFrame f = (ScreenFrame) m;
                                      svc.tell(
                                          new ScreenProtocol.FrameAck(
                                              streamId)); // the viewer took it: the node may send
                                      // one more
                                      return part(f);
                                    })
                                .recoverWithRetries(
                                    1, java.util.concurrent.TimeoutException.class, Source::empty)
                                .watchTermination(
                                    (m, done) -> {
                                      done.whenComplete((d, t) -> relay.tell(new ViewerGone()));
                                      return m;
                                    });
                        return HttpResponse.create()
                            .withStatus(StatusCodes.OK)
                            .addHeaders(List.of(RawHeader.create("Cache-Control", "no-store")))
                            .withEntity(
                                HttpEntities.createChunked(
                                    ContentTypes.parse(
                                        "multipart/x-mixed-replace; boundary=" + BOUNDARY),
                                    body));
                      });
            })
        .handle((r, e) -> e == null ? r : failure(target, e));
  }

  static ByteString part(ScreenFrame f) {
    String head =
        "--"
            + BOUNDARY
            + "\r\nContent-Type: "
            + f.contentType()
            + "\r\nContent-Length: "
            + f.data().length
            + "\r\nX-Captured-At: "
            + f.capturedAtMs()
            + "\r\nX-Frame: "
            + f.seq()
            + "\r\n\r\n";
    return ByteString.fromString(head, StandardCharsets.US_ASCII)
        .concat(ByteString.fromArray(f.data()))
        .concat(ByteString.fromString("\r\n", StandardCharsets.US_ASCII));
  }

  /** The viewer's response stream ended (it closed the connection, or the stream is over). */
  private record ViewerGone() implements StreamEvent {}

  private record NodeGone() implements StreamEvent {}

  /**
   * Receives a stream's frames from the node (on Artery's large-message lane) and hands them to the
   * viewer's bounded source; stops the node's stream when the viewer goes, and ends the viewer's
   * when the node goes.
   */
  private static Behavior<StreamEvent> streamRelay(
      ActorRef<Command> node, String streamId, ActorRef<Object> sink) {
    return Behaviors.setup(
        ctx -> {
          ctx.watchWith(node, new NodeGone());
          return Behaviors.receive(StreamEvent.class)
              .onMessage(
                  ScreenFrame.class,
                  f -> {
                    sink.tell(f);
                    return Behaviors.same();
                  })
              .onMessage(
                  StreamEnded.class,
                  e -> {
                    sink.tell(e);
                    return Behaviors.stopped();
                  })
              .onMessage(
                  NodeGone.class,
                  g -> {
                    sink.tell(new StreamEnded("the node (or the app's display) is gone"));
                    return Behaviors.stopped();
                  })
              .onMessage(
                  ViewerGone.class,
                  g -> {
                    node.tell(new ScreenProtocol.StopStream(streamId));
                    return Behaviors.stopped();
                  })
              .build();
        });
  }

  // ------------------------------------------------------------------ finding the node's screen
  // service

  private <T> CompletionStage<ActorRef<T>> spawn(Behavior<T> behavior, String prefix) {
    String name = prefix + relayIds.incrementAndGet();
    return AskPattern.<SpawnProtocol.Command, ActorRef<T>>ask(
        relays,
        replyTo -> new SpawnProtocol.Spawn<>(behavior, name, Props.empty(), replyTo),
        ASK_TIMEOUT,
        system.scheduler());
  }

  /**
   * The node's screen service, found through the receptionist; when it has none, the node's entity
   * says why: 404 when the node never registered, 409 when it cannot capture (its specs' reason),
   * is offline, or serves no screen.
   */
  private CompletionStage<ActorRef<Command>> service(String nodeId) {
    var key = ScreenProtocol.key(nodeId);
    return AskPattern.<Receptionist.Command, Receptionist.Listing>ask(
            system.receptionist(),
            replyTo -> Receptionist.find(key, replyTo),
            ASK_TIMEOUT,
            system.scheduler())
        .thenCompose(
            listing -> {
              var found = listing.getServiceInstances(key).stream().findFirst();
              return found.isPresent()
                  ? CompletableFuture.completedFuture(found.get())
                  : whyNoService(nodeId);
            });
  }

  private CompletionStage<ActorRef<Command>> whyNoService(String nodeId) {
    CompletionStage<NodeView> view;
    try {
      view = ops.get(nodeId);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
    return view.thenApply(
        v -> {
          if (NodeView.UNKNOWN.equals(v.status())) throw new UnknownNodeException(nodeId);
          if (v.specs() != null && Boolean.FALSE.equals(v.specs().capture())) {
            throw new NoCaptureException(
                "node " + nodeId + " has no screen capture: " + v.specs().captureReason());
          }
          if (NodeView.OFFLINE.equals(v.status()))
            throw new NoCaptureException("node " + nodeId + " is offline");
          throw new NoCaptureException(
              "node "
                  + nodeId
                  + " serves no screen (a worker without screen capture, "
                  + "or one this coordinator cannot reach yet)");
        });
  }

  /**
   * The screen service of an app's display, registered by the node that hosts the app under {@link
   * ScreenProtocol#appKey(String)}; when there is none, the app's entity says why: 404 for an
   * unknown or deleted app, 409 for an app without a display or whose display does not run (yet).
   */
  private CompletionStage<ActorRef<Command>> appService(String appId) {
    var key = ScreenProtocol.appKey(appId);
    return AskPattern.<Receptionist.Command, Receptionist.Listing>ask(
            system.receptionist(),
            replyTo -> Receptionist.find(key, replyTo),
            ASK_TIMEOUT,
            system.scheduler())
        .thenCompose(
            listing -> {
              var found = listing.getServiceInstances(key).stream().findFirst();
              if (found.isPresent()) return CompletableFuture.completedFuture(found.get());
              return org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding.get(system)
                  .entityRefFor(dev.anchor.app.AppEntity.TYPE_KEY, appId)
                  .<dev.anchor.app.AppView>ask(dev.anchor.app.AppEntity.Get::new, ASK_TIMEOUT)
                  .thenApply(
                      v -> {
                        if (dev.anchor.app.AppView.UNKNOWN.equals(v.status())
                            || "Deleted".equals(v.status())) {
                          throw new UnknownAppException(appId);
                        }
                        if (v.display() == null) {
                          throw new NoCaptureException(
                              "app "
                                  + appId
                                  + " has no display (create it with \"display\": true)");
                        }
                        throw new NoCaptureException(
                            "app "
                                + appId
                                + " has no display running"
                                + (v.nodeId() == null ? "" : " on node " + v.nodeId())
                                + " (status "
                                + v.status()
                                + (v.message() == null ? "" : ": " + v.message())
                                + ")");
                      });
            });
  }

  private static HttpResponse failure(Target target, Throwable e) {
    Throwable t = e;
    while (t instanceof CompletionException && t.getCause() != null) t = t.getCause();
    String field = target.field();
    if (t instanceof UnknownAppException)
      return Json.error(StatusCodes.NOT_FOUND, t.getMessage(), field);
    if (t instanceof NoCaptureException)
      return Json.error(StatusCodes.CONFLICT, t.getMessage(), field);
    if (t instanceof BadRequest b)
      return Json.error(StatusCodes.BAD_REQUEST, b.getMessage(), b.field());
    if (t instanceof NodeScreenError) {
      return Json.error(
          t.getMessage().contains("has no screen capture")
              ? StatusCodes.CONFLICT
              : StatusCodes.SERVICE_UNAVAILABLE,
          t.getMessage(),
          field);
    }
    return OperatorRoutes.failure(target.id(), t);
  }
}
