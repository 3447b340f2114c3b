package dev.anchor.http;

import java.time.Duration;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.NotUsed;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.ResponseEntity;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.BidiShape;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.javadsl.BidiFlow;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.AsyncCallback;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.stream.stage.TimerGraphStageLogic;
import org.apache.pekko.util.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Closes a connection that does not deliver a complete request head (request line and headers)
 * within a time limit of opening, or within a longer keep-alive limit of the end of its previous
 * answer (slow-loris). Pekko HTTP has no such timeout (akka-http#813): its idle timeout restarts
 * with every byte, so a client sending a header byte every few seconds held a connection for as
 * long as it liked.
 *
 * <p>It sits between the connection and the handler, one per connection, and sees requests and
 * answers, not bytes: the clock runs while nothing is in hand (no request being handled, no answer
 * still streaming out, such as an event stream) and stops when the parser hands over the next
 * request. A request whose body trickles in is {@link BodyLimit}'s case (a 408). Between requests
 * the keep-alive limit applies (by default Pekko's idle timeout, 60 s): a client that keeps a
 * connection for its next request is not cut off while it thinks (Python's http.client, for one,
 * does not retry a request on a kept connection the server closed), and a head trickled in on such
 * a connection is still cut off then.
 */
final class HeadDeadline
    extends GraphStage<BidiShape<HttpRequest, HttpRequest, HttpResponse, HttpResponse>> {
  private static final Logger log = LoggerFactory.getLogger(HeadDeadline.class);
  private static final String TIMER = "head";

  private final Inlet<HttpRequest> requestIn = Inlet.create("HeadDeadline.requestIn");
  private final Outlet<HttpRequest> requestOut = Outlet.create("HeadDeadline.requestOut");
  private final Inlet<HttpResponse> responseIn = Inlet.create("HeadDeadline.responseIn");
  private final Outlet<HttpResponse> responseOut = Outlet.create("HeadDeadline.responseOut");
  private final BidiShape<HttpRequest, HttpRequest, HttpResponse, HttpResponse> shape =
      BidiShape.of(requestIn, requestOut, responseIn, responseOut);
  private final Duration limit;
  private final Duration keepAlive;

  private HeadDeadline(Duration limit, Duration keepAlive) {
    this.limit = limit;
    this.keepAlive = keepAlive;
  }

  /**
   * The handler behind the deadline; a zero or negative limit leaves it as it is.
   *
   * @param limit for the first request head of a connection
   * @param keepAlive for each later one, from the end of the previous answer (at least {@code
   *     limit})
   */
  static Flow<HttpRequest, HttpResponse, NotUsed> around(
      Flow<HttpRequest, HttpResponse, NotUsed> handler, Duration limit, Duration keepAlive) {
    if (limit.isZero() || limit.isNegative()) return handler;
    Duration between = keepAlive.compareTo(limit) > 0 ? keepAlive : limit;
    return BidiFlow.fromGraph(new HeadDeadline(limit, between)).join(handler);
  }

  @Override
  public BidiShape<HttpRequest, HttpRequest, HttpResponse, HttpResponse> shape() {
    return shape;
  }

  @Override
  public GraphStageLogic createLogic(Attributes attributes) {
    return new TimerGraphStageLogic(shape) {
      /** Requests handed to the handler whose answer has not gone out in full yet. */
      private int inHand;

      private AsyncCallback<Done> answerStreamed;

      {
        setHandler(
            requestIn,
            new AbstractInHandler() {
              @Override
              public void onPush() {
                inHand++;
                cancelTimer(TIMER);
                push(requestOut, grab(requestIn));
              }

              @Override
              public void onUpstreamFinish() {
                complete(requestOut);
              }
            });
        setHandler(
            requestOut,
            new AbstractOutHandler() {
              @Override
              public void onPull() {
                pull(requestIn);
              }

              @Override
              public void onDownstreamFinish(Throwable cause) {
                cancel(requestIn, cause);
              }
            });
        setHandler(
            responseIn,
            new AbstractInHandler() {
              @Override
              public void onPush() {
                push(responseOut, watched(grab(responseIn)));
              }

              @Override
              public void onUpstreamFinish() {
                complete(responseOut);
              }
            });
        setHandler(
            responseOut,
            new AbstractOutHandler() {
              @Override
              public void onPull() {
                pull(responseIn);
              }

              @Override
              public void onDownstreamFinish(Throwable cause) {
                cancel(responseIn, cause);
              }
            });
      }

      @Override
      public void preStart() {
        answerStreamed = createAsyncCallback(done -> answered());
        scheduleOnce(TIMER, limit);
      }

      private void answered() {
        inHand--;
        if (inHand == 0) scheduleOnce(TIMER, keepAlive);
      }

      /** The answer as it is, its streamed body (if any) telling when it has gone out. */
      private HttpResponse watched(HttpResponse r) {
        // a switch to another protocol (a WebSocket) ends the connection's HTTP: no more heads
        if (r.status().intValue() == 101) return r;
        ResponseEntity e = r.entity();
        if (e.isStrict() || e.isKnownEmpty()) {
          answered();
          return r;
        }
        Source<ByteString, Object> data =
            e.getDataBytes()
                .watchTermination(
                    (Object mat, CompletionStage<Done> end) -> {
                      end.whenComplete((d, failure) -> answerStreamed.invoke(Done.getInstance()));
                      return mat;
                    });
        ResponseEntity streamed;
        if (e.isChunked()) streamed = HttpEntities.createChunked(e.getContentType(), data);
        else if (e.isCloseDelimited())
          streamed = HttpEntities.createCloseDelimited(e.getContentType(), data);
        else if (e.getContentLengthOption().isPresent())
          streamed =
              HttpEntities.create(e.getContentType(), e.getContentLengthOption().getAsLong(), data);
        else streamed = HttpEntities.createChunked(e.getContentType(), data);
        return r.withEntity(streamed);
      }

      @Override
      public void onTimer(Object key) {
        if (inHand > 0) return;
        log.debug("closing a connection that sent no complete request head in time");
        completeStage();
      }
    };
  }
}
