package dev.anchor.worker;

import dev.anchor.capture.Capture;
import dev.anchor.capture.Encoder;
import dev.anchor.capture.Xvfb;
import dev.anchor.screen.ScreenProtocol;
import dev.anchor.screen.ScreenProtocol.Command;
import dev.anchor.screen.ScreenProtocol.FrameAck;
import dev.anchor.screen.ScreenProtocol.Grab;
import dev.anchor.screen.ScreenProtocol.ScreenFrame;
import dev.anchor.screen.ScreenProtocol.StartStream;
import dev.anchor.screen.ScreenProtocol.StopStream;
import dev.anchor.screen.ScreenProtocol.StreamEnded;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.pattern.StatusReply;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A worker's screen: the X display it captures (its own Xvfb with {@code ANCHOR_XVFB=1}, else
 * {@code ANCHOR_DISPLAY} or {@code DISPLAY}), and the actor that serves single frames and
 * flow-controlled streams of it to coordinators (see {@link ScreenProtocol}). Capture and encoding
 * run on one thread of their own, with a short bounded queue, so no viewer can slow the node's jobs
 * or make memory grow.
 */
public final class ScreenService implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ScreenService.class);
  private static final int MAX_STREAMS = 8;

  /**
   * @param reason why the screen cannot be captured, when not available
   */
  public record Status(boolean available, String reason, String display) {}

  /** Settings: {@code anchor.capture.*}. */
  public record Settings(
      boolean enabled, String display, boolean startXvfb, int xvfbWidth, int xvfbHeight) {}

  /** "node n1" or "app a1": how errors name this screen. */
  private final String who;

  private final org.apache.pekko.actor.typed.receptionist.ServiceKey<Command> key;
  private final Status status;
  private final Xvfb xvfb;
  private final ThreadPoolExecutor exec;
  private final java.util.concurrent.ScheduledThreadPoolExecutor ticker;
  // owned by the executor's one thread
  private Capture capture;
  private Encoder encoder;

  private volatile ActorRef<Command> actor;
  private final java.util.concurrent.atomic.AtomicBoolean closed =
      new java.util.concurrent.atomic.AtomicBoolean();

  private ScreenService(String nodeId, Status status, Xvfb xvfb) {
    this("node " + nodeId, ScreenProtocol.key(nodeId), status, xvfb);
  }

  private ScreenService(
      String who,
      org.apache.pekko.actor.typed.receptionist.ServiceKey<Command> key,
      Status status,
      Xvfb xvfb) {
    this.who = who;
    this.key = key;
    this.status = status;
    this.xvfb = xvfb;
    this.ticker =
        new java.util.concurrent.ScheduledThreadPoolExecutor(
            1,
            r -> {
              Thread t = new Thread(r, "anchor-screen-ticks");
              t.setDaemon(true);
              return t;
            });
    this.ticker.setRemoveOnCancelPolicy(true);
    this.exec =
        new ThreadPoolExecutor(
            1,
            1,
            0,
            TimeUnit.MILLISECONDS,
            new ArrayBlockingQueue<>(16),
            r -> {
              Thread t = new Thread(r, "anchor-screen-capture");
              t.setDaemon(true);
              return t;
            });
  }

  /** Finds (or starts) the display and checks it can be captured; never throws. */
  public static ScreenService start(String nodeId, Settings s) {
    if (!s.enabled())
      return new ScreenService(
          nodeId,
          new Status(false, "screen capture is turned off (ANCHOR_CAPTURE=off)", null),
          null);
    Xvfb xvfb = null;
    String display = s.display() == null || s.display().isBlank() ? null : s.display().trim();
    if (s.startXvfb()) {
      try {
        xvfb = Xvfb.start(s.xvfbWidth(), s.xvfbHeight());
        display = xvfb.display();
        log.info(
            "started Xvfb on display {} ({}x{}, pid {})",
            display,
            s.xvfbWidth(),
            s.xvfbHeight(),
            xvfb.pid());
      } catch (Exception e) {
        return new ScreenService(
            nodeId,
            new Status(false, "could not start Xvfb (ANCHOR_XVFB=1): " + e.getMessage(), null),
            null);
      }
    }
    if (display == null) {
      return new ScreenService(
          nodeId,
          new Status(
              false,
              "no display: set ANCHOR_DISPLAY or DISPLAY, or ANCHOR_XVFB=1 to start a virtual one",
              null),
          null);
    }
    Capture.Probe p = Capture.probe(display);
    Status st =
        p.available() ? new Status(true, null, display) : new Status(false, p.reason(), display);
    if (p.available()) {
      log.info(
          "screen capture of display {} ({}x{}) through {}, JPEG by {}",
          display,
          p.width(),
          p.height(),
          p.method(),
          p.encoder());
    } else {
      log.info("no screen capture: {}", p.reason());
    }
    return new ScreenService(nodeId, st, xvfb);
  }

  /**
   * The screen of an app's own display ({@code "display": true}), served under {@link
   * ScreenProtocol#appKey(String)} once {@link #spawn spawned}; {@link #close()} stops the actor
   * (its streams end) but not the display.
   */
  public static ScreenService forApp(String appId, String display) {
    Capture.Probe p = Capture.probe(display);
    Status st =
        p.available() ? new Status(true, null, display) : new Status(false, p.reason(), display);
    if (!p.available())
      log.info("app {}: no screen capture of its display {}: {}", appId, display, p.reason());
    return new ScreenService("app " + appId, ScreenProtocol.appKey(appId), st, null);
  }

  /** Starts its actor as a system actor named {@code name}; {@link #close()} stops it. */
  public ScreenService spawn(org.apache.pekko.actor.typed.ActorSystem<?> system, String name) {
    actor = system.systemActorOf(behavior(), name, org.apache.pekko.actor.typed.Props.empty());
    return this;
  }

  public Status status() {
    return status;
  }

  // ------------------------------------------------------------------ the actor

  private record Tick(String streamId) implements Command {}

  private record Encoded(String streamId, Encoder.Frame frame, String error) implements Command {}

  private record SubscriberGone(String streamId) implements Command {}

  /**
   * Sent by {@link #close()}: ends every stream and stops the actor (which leaves the
   * receptionist).
   */
  private record Shutdown() implements Command {}

  private static final class Stream {
    final StartStream req;
    int inFlight;
    boolean encoding;

    /**
     * A tick found the capture busy or the window full: capture as soon as either frees (at most
     * one owed).
     */
    boolean owed;

    java.util.concurrent.ScheduledFuture<?> ticks;
    long lastAckMs = System.currentTimeMillis();
    long seq;

    Stream(StartStream req) {
      this.req = req;
    }
  }

  /**
   * The actor, registered with the receptionist under {@link ScreenProtocol#key(String)} when
   * capture works.
   */
  public Behavior<Command> behavior() {
    return Behaviors.setup(
        ctx ->
            Behaviors.withTimers(
                timers -> {
                  // only a node that can capture is found; for the others the coordinator reads the
                  // reason from their specs. An
                  // app's display is always found, so its viewers learn why it cannot be captured
                  // (a 409 with the reason)
                  if (status.available() || who.startsWith("app ")) {
                    ctx.getSystem().receptionist().tell(Receptionist.register(key, ctx.getSelf()));
                  }
                  Map<String, Stream> streams = new HashMap<>();
                  return Behaviors.receive(Command.class)
                      .onMessage(
                          Grab.class,
                          g -> {
                            grab(g);
                            return Behaviors.same();
                          })
                      .onMessage(
                          StartStream.class,
                          s -> {
                            startStream(ctx, timers, streams, s);
                            return Behaviors.same();
                          })
                      .onMessage(
                          FrameAck.class,
                          a -> {
                            Stream st = streams.get(a.streamId());
                            if (st != null) {
                              st.inFlight = Math.max(0, st.inFlight - 1);
                              st.lastAckMs = System.currentTimeMillis();
                              if (st.owed) capture(ctx, st);
                            }
                            return Behaviors.same();
                          })
                      .onMessage(
                          StopStream.class,
                          s -> {
                            endStream(ctx, timers, streams, s.streamId(), null);
                            return Behaviors.same();
                          })
                      .onMessage(
                          SubscriberGone.class,
                          s -> {
                            endStream(ctx, timers, streams, s.streamId(), null);
                            return Behaviors.same();
                          })
                      .onMessage(
                          Shutdown.class,
                          x -> {
                            for (String id : new java.util.ArrayList<>(streams.keySet())) {
                              endStream(
                                  ctx, timers, streams, id, who + " stopped showing its screen");
                            }
                            return Behaviors.stopped();
                          })
                      .onMessage(
                          Tick.class,
                          t -> {
                            tick(ctx, timers, streams, t.streamId());
                            return Behaviors.same();
                          })
                      .onMessage(
                          Encoded.class,
                          e -> {
                            Stream st = streams.get(e.streamId());
                            if (st == null) return Behaviors.same();
                            st.encoding = false;
                            if (e.error() != null) {
                              endStream(ctx, timers, streams, e.streamId(), e.error());
                            } else {
                              Encoder.Frame f = e.frame();
                              st.req
                                  .subscriber()
                                  .tell(
                                      new ScreenFrame(
                                          f.data(),
                                          f.contentType(),
                                          f.width(),
                                          f.height(),
                                          f.capturedAtMs(),
                                          st.seq++));
                              st.inFlight++;
                              if (st.owed) capture(ctx, st);
                            }
                            return Behaviors.same();
                          })
                      .build();
                }));
  }

  private void grab(Grab g) {
    if (!status.available()) {
      g.replyTo().tell(StatusReply.error(who + " has no screen capture: " + status.reason()));
      return;
    }
    Encoder.Request req;
    try {
      req = new Encoder.Request(g.width(), g.quality(), Encoder.Format.parse(g.format()));
    } catch (IllegalArgumentException e) {
      g.replyTo().tell(StatusReply.error(e.getMessage()));
      return;
    }
    try {
      exec.execute(
          () -> {
            try {
              Encoder.Frame f = encode(req);
              g.replyTo()
                  .tell(
                      StatusReply.success(
                          new ScreenFrame(
                              f.data(),
                              f.contentType(),
                              f.width(),
                              f.height(),
                              f.capturedAtMs(),
                              0)));
            } catch (RuntimeException e) {
              g.replyTo()
                  .tell(StatusReply.error("capture failed on " + who + ": " + e.getMessage()));
            }
          });
    } catch (RejectedExecutionException busy) {
      g.replyTo().tell(StatusReply.error(who + " is busy capturing; try again"));
    }
  }

  private void startStream(
      ActorContext<Command> ctx,
      TimerScheduler<Command> timers,
      Map<String, Stream> streams,
      StartStream s) {
    String refusal =
        !status.available()
            ? who + " has no screen capture: " + status.reason()
            : streams.size() >= MAX_STREAMS
                ? who + " already streams to " + MAX_STREAMS + " viewers"
                : s.fps() < 1 || s.fps() > ScreenProtocol.MAX_FPS
                    ? "fps must be 1–" + ScreenProtocol.MAX_FPS
                    : null;
    if (refusal == null) {
      try {
        new Encoder.Request(s.width(), s.quality(), Encoder.Format.JPEG);
      } catch (IllegalArgumentException e) {
        refusal = e.getMessage();
      }
    }
    if (refusal != null) {
      s.subscriber().tell(new StreamEnded(refusal));
      return;
    }
    streams.put(s.streamId(), new Stream(s));
    ctx.watchWith(s.subscriber(), new SubscriberGone(s.streamId()));
    // the stream's clock: a plain scheduled executor, since Pekko's timers round to its 10 ms
    // scheduler tick (a 33 ms
    // period becomes 40 ms: 25 instead of 30 frames/s)
    ActorRef<Command> self = ctx.getSelf();
    Tick tick = new Tick(s.streamId());
    streams.get(s.streamId()).ticks =
        ticker.scheduleAtFixedRate(
            () -> self.tell(tick), 0, 1_000_000_000L / s.fps(), TimeUnit.NANOSECONDS);
    log.debug("screen stream {} started: {} fps, width {}", s.streamId(), s.fps(), s.width());
  }

  private void tick(
      ActorContext<Command> ctx,
      TimerScheduler<Command> timers,
      Map<String, Stream> streams,
      String id) {
    Stream st = streams.get(id);
    if (st == null) return;
    if (st.inFlight >= ScreenProtocol.WINDOW
        && System.currentTimeMillis() - st.lastAckMs > ScreenProtocol.STALL_TIMEOUT_MS) {
      endStream(
          ctx,
          timers,
          streams,
          id,
          "the viewer took no frame for " + ScreenProtocol.STALL_TIMEOUT_MS / 1000 + " s");
      return;
    }
    st.owed = true;
    capture(ctx, st);
  }

  /**
   * Captures the frame owed to {@code st} unless the capture thread is still on its previous frame
   * or the viewer has a full window; then it stays owed (one frame at most: further ticks are
   * dropped) until one of them frees.
   */
  private void capture(ActorContext<Command> ctx, Stream st) {
    if (st.encoding || st.inFlight >= ScreenProtocol.WINDOW) return;
    String id = st.req.streamId();
    Encoder.Request req = Encoder.Request.jpeg(st.req.width(), st.req.quality());
    ActorRef<Command> self = ctx.getSelf();
    st.encoding = true;
    st.owed = false;
    try {
      exec.execute(
          () -> {
            try {
              self.tell(new Encoded(id, encode(req), null));
            } catch (RuntimeException e) {
              self.tell(new Encoded(id, null, "capture failed on " + who + ": " + e.getMessage()));
            }
          });
    } catch (RejectedExecutionException busy) {
      st.encoding = false;
      st.owed = true;
    }
  }

  private void endStream(
      ActorContext<Command> ctx,
      TimerScheduler<Command> timers,
      Map<String, Stream> streams,
      String id,
      String reason) {
    Stream st = streams.remove(id);
    if (st == null) return;
    if (st.ticks != null) st.ticks.cancel(false);
    ctx.unwatch(st.req.subscriber());
    if (reason != null) {
      log.info("screen stream {} ended: {}", id, reason);
      st.req.subscriber().tell(new StreamEnded(reason));
    }
  }

  /** On the capture thread: opens the display on first use (and again after a failure). */
  private Encoder.Frame encode(Encoder.Request req) {
    if (capture == null) {
      capture = Capture.open(status.display());
      encoder = new Encoder();
    }
    try {
      return capture.frame(encoder, req);
    } catch (RuntimeException e) {
      capture.close();
      capture = null;
      throw e;
    }
  }

  @Override
  public void close() {
    // once: the capture and the TurboJPEG handle are native resources a second free would crash the
    // JVM with
    if (!closed.compareAndSet(false, true)) return;
    ActorRef<Command> a = actor;
    actor = null;
    if (a != null) a.tell(new Shutdown());
    ticker.shutdownNow();
    exec.shutdownNow();
    try {
      exec.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (capture != null) capture.close();
    if (encoder != null) encoder.close();
    if (xvfb != null) xvfb.close();
  }
}
