package dev.anchor.http;

import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.Route;

import java.util.OptionalLong;
import java.util.function.Supplier;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.extractMaterializer;
import static org.apache.pekko.http.javadsl.server.Directives.extractRequestEntity;
import static org.apache.pekko.http.javadsl.server.Directives.withSizeLimit;

/**
 * A request body of at most {@code max} bytes. One that says up front it is larger is answered 413 at once and its
 * bytes are read and dropped, so the connection stays usable and the client reads the answer: closing it with the
 * body unread would reset it, and the client would see "connection reset" instead of the 413.
 */
final class BodyLimit {
  /** Above this, a body is not worth reading to keep the connection: the 413 goes out and the connection closes. */
  private static final long DRAIN_AT_MOST = 64L * 1024 * 1024;

  private BodyLimit() {}

  static Route atMost(long max, Supplier<Route> inner) {
    return extractRequestEntity(entity -> {
      OptionalLong length = entity.getContentLengthOption();
      if (length.isPresent() && length.getAsLong() > max) {
        return extractMaterializer(mat -> {
          if (length.getAsLong() <= DRAIN_AT_MOST) entity.discardBytes(mat);
          return complete(Json.error(StatusCodes.PAYLOAD_TOO_LARGE, "request body is larger than " + max + " bytes", null));
        });
      }
      return withSizeLimit(max, inner);
    });
  }
}
