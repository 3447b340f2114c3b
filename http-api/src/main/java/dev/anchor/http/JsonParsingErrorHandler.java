package dev.anchor.http;

import java.util.Locale;
import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.http.ParsingErrorHandler;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.scaladsl.model.ErrorInfo;
import org.apache.pekko.http.scaladsl.model.StatusCode;
import org.apache.pekko.http.scaladsl.settings.ServerSettings;

/**
 * The answer to a request too malformed to reach any route (a header or URI beyond the parser's
 * limits, a broken request line): the same JSON error as every other one, naming the part at fault,
 * instead of Pekko's plain text. Configured as {@code pekko.http.server.parsing.error-handler}.
 */
public final class JsonParsingErrorHandler extends ParsingErrorHandler {
  @Override
  public HttpResponse handle(
      StatusCode status, ErrorInfo info, LoggingAdapter log, ServerSettings settings) {
    String summary = info.summary();
    String lower = summary.toLowerCase(Locale.ROOT);
    String field =
        status.intValue() == 414 || lower.contains("uri")
            ? "uri"
            : status.intValue() == 431 || lower.contains("header") ? "headers" : "request";
    log.debug("refused a malformed request: {}", info.formatPretty());
    return Json.error(status, summary.isBlank() ? status.reason() : summary, field);
  }
}
