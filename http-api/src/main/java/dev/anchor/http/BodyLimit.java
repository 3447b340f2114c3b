package dev.anchor.http;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.extractMaterializer;
import static org.apache.pekko.http.javadsl.server.Directives.extractRequestEntity;
import static org.apache.pekko.http.javadsl.server.Directives.mapRequest;
import static org.apache.pekko.http.javadsl.server.Directives.onComplete;
import static org.apache.pekko.http.javadsl.server.Directives.withSizeLimit;

import java.util.OptionalLong;
import java.util.function.Supplier;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.Connection;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * A request body of at most {@code max} bytes. One that says up front it is larger is answered 413
 * at once and its bytes are read and dropped, so the connection stays usable and the client reads
 * the answer: closing it with the body unread would reset it, and the client would see "connection
 * reset" instead of the 413.
 */
final class BodyLimit {
  /**
   * Above this, a body is not worth reading to keep the connection: the 413 goes out and the
   * connection closes.
   */
  private static final long DRAIN_AT_MOST = 64L * 1024 * 1024;

  /** How long a request body may take to arrive once its headers have. */
  static final java.time.Duration BODY_TIMEOUT = java.time.Duration.ofSeconds(10);

  private BodyLimit() {}

  static Route atMost(long max, Supplier<Route> inner) {
    return extractRequestEntity(
        entity -> {
          OptionalLong length = entity.getContentLengthOption();
          if (length.isPresent() && length.getAsLong() > max) {
            return extractMaterializer(
                mat -> {
                  if (length.getAsLong() <= DRAIN_AT_MOST) entity.discardBytes(mat);
                  return complete(
                      Json.error(
                          StatusCodes.PAYLOAD_TOO_LARGE,
                          "request body is larger than " + max + " bytes",
                          "body"));
                });
          }
          return withSizeLimit(max, () -> strict(max, inner));
        });
  }

  /**
   * The whole body, read within {@link #BODY_TIMEOUT}: a client that trickles its body in
   * (slow-loris) gets a 408 and the connection is closed, instead of holding a connection and a
   * request slot until the request timeout.
   */
  private static Route strict(long max, Supplier<Route> inner) {
    return extractRequestEntity(
        entity ->
            // Pekko HTTP hands over most small bodies whole; toStrict on those would still run a
            // stream to copy them (a large share of a one-task submit's CPU)
            entity instanceof org.apache.pekko.http.javadsl.model.HttpEntity.Strict whole
                    && whole.getData().size() <= max
                ? inner.get()
                : extractMaterializer(
                    mat ->
                        onComplete(
                            entity.toStrict(BODY_TIMEOUT.toMillis(), max, mat),
                            body -> {
                              if (body.isSuccess())
                                return mapRequest(r -> r.withEntity(body.get()), inner);
                              Throwable t = body.failed().get();
                              while (t.getCause() != null && t.getCause() != t) t = t.getCause();
                              if (t instanceof java.util.concurrent.TimeoutException) {
                                return complete(
                                    Json.error(
                                            StatusCodes.REQUEST_TIMEOUT,
                                            "the request body did not arrive within "
                                                + BODY_TIMEOUT.toSeconds()
                                                + " s",
                                            "body")
                                        .addHeader(Connection.create("close")));
                              }
                              if (t
                                  instanceof
                                  org.apache.pekko.http.scaladsl.model.EntityStreamSizeException) {
                                return complete(
                                    Json.error(
                                        StatusCodes.PAYLOAD_TOO_LARGE,
                                        "request body is larger than " + max + " bytes",
                                        "body"));
                              }
                              return complete(
                                  Json.error(
                                          StatusCodes.BAD_REQUEST,
                                          "the request body could not be read: " + t.getMessage(),
                                          "body")
                                      .addHeader(Connection.create("close")));
                            })));
  }
}
