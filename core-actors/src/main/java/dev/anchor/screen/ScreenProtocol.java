package dev.anchor.screen;

import dev.anchor.CborSerializable;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.apache.pekko.pattern.StatusReply;

/**
 * How a coordinator asks a worker for its screen. Each worker that runs the screen service
 * registers it with the receptionist under {@link #key(String)}; a coordinator finds it there and
 * asks for one frame ({@link Grab}) or a stream ({@link StartStream}).
 *
 * <p>Streams are flow-controlled so nothing grows: the worker sends a frame only while fewer than
 * {@link #WINDOW} of its frames are unacknowledged ({@link FrameAck}, sent by the relay when its
 * viewer took the frame); a tick that finds the window full is skipped (the frame is dropped at the
 * source). A stream whose viewer acknowledged nothing for {@link #STALL_TIMEOUT_MS} ends, as does
 * one whose subscriber stops.
 */
public final class ScreenProtocol {
  /** Frames a worker may have in flight per stream. */
  public static final int WINDOW = 3;

  public static final long STALL_TIMEOUT_MS = 15_000;
  public static final int MAX_FPS = 60;

  private ScreenProtocol() {}

  public static ServiceKey<Command> key(String nodeId) {
    return ServiceKey.create(Command.class, "anchor-screen-" + nodeId);
  }

  /**
   * The screen of an app's own display (an app created with {@code "display": true}), served by its
   * hosting node.
   */
  public static ServiceKey<Command> appKey(String appId) {
    return ServiceKey.create(Command.class, "anchor-app-screen-" + appId);
  }

  public interface Command extends CborSerializable {}

  /** One frame; answered with the frame or an error saying why there is none. */
  public record Grab(
      int width, int quality, String format, ActorRef<StatusReply<ScreenFrame>> replyTo)
      implements Command {}

  /**
   * Frames at {@code fps} to {@code subscriber} until {@link StopStream} or the subscriber stops.
   */
  public record StartStream(
      String streamId, int fps, int width, int quality, ActorRef<StreamEvent> subscriber)
      implements Command {}

  /** The viewer took one more frame of the stream. */
  public record FrameAck(String streamId) implements Command {}

  public record StopStream(String streamId) implements Command {}

  public interface StreamEvent extends CborSerializable {}

  /**
   * An encoded frame.
   *
   * @param capturedAtMs when the screen was grabbed (the worker's clock)
   * @param seq its number in its stream (0 for a single frame)
   */
  public record ScreenFrame(
      byte[] data, String contentType, int width, int height, long capturedAtMs, long seq)
      implements StreamEvent {}

  /** The stream is over (the node's capture failed, the viewer stalled, the worker stops). */
  public record StreamEnded(String reason) implements StreamEvent {}
}
