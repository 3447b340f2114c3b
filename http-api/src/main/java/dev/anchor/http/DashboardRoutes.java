package dev.anchor.http;

import static org.apache.pekko.http.javadsl.server.Directives.*;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * The dashboard's static files, packaged in the {@code dashboard} module's jar under {@code
 * dev/anchor/dashboard/}: {@code GET /dashboard/<file>} (the page itself, at {@code /} and {@code
 * /dashboard}, is answered by {@link SessionRoutes}, which also exchanges a {@code ?token=} link
 * for the session cookie). Files are read once and kept in memory (they are small and never change
 * while the JVM runs); each carries a strong ETag and {@code Cache-Control: no-cache}, so a browser
 * revalidates with one cheap 304 and never runs stale scripts after an upgrade. Responses are
 * gzipped for clients that accept it.
 */
final class DashboardRoutes {
  static final String ROOT = "dev/anchor/dashboard/";

  /**
   * One flat folder: a name with a slash, a backslash or a leading dot never reaches the class
   * loader.
   */
  private static final Pattern NAME =
      Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]*(\\.[A-Za-z0-9]+)+");

  private static final Map<String, ContentType> TYPES =
      Map.of(
          "html", ContentTypes.TEXT_HTML_UTF8,
          "js",
              MediaTypes.APPLICATION_JAVASCRIPT.toContentType(
                  org.apache.pekko.http.javadsl.model.HttpCharsets.UTF_8),
          "css",
              MediaTypes.TEXT_CSS.toContentType(
                  org.apache.pekko.http.javadsl.model.HttpCharsets.UTF_8),
          "svg", MediaTypes.IMAGE_SVG_XML.toContentType(),
          "png", MediaTypes.IMAGE_PNG.toContentType(),
          "ico", MediaTypes.IMAGE_X_ICON.toContentType(),
          "json", ContentTypes.APPLICATION_JSON,
          "txt", ContentTypes.TEXT_PLAIN_UTF8);

  /**
   * The page loads only its own files and talks only to its own origin; nothing may frame it
   * (clickjacking of the operator buttons) and no address, which may carry a sign-in token, leaks
   * to anyone as a Referer.
   */
  private static final List<RawHeader> PAGE_HEADERS =
      List.of(
          RawHeader.create(
              "Content-Security-Policy",
              "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                  + "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
          RawHeader.create("Referrer-Policy", "no-referrer"),
          RawHeader.create("X-Content-Type-Options", "nosniff"));

  private record Asset(byte[] bytes, ContentType type, String etag) {}

  /**
   * Only files that exist are kept: caching misses would let anyone grow the map with made-up
   * names.
   */
  private static final Map<String, Asset> CACHE = new ConcurrentHashMap<>();

  private DashboardRoutes() {}

  static Route route() {
    return pathPrefix(
        "dashboard",
        () ->
            path(
                segment(),
                name ->
                    get(
                        () ->
                            encodeResponse(
                                () ->
                                    optionalHeaderValueByName(
                                        "If-None-Match",
                                        etag -> complete(asset(name, etag.orElse(null))))))));
  }

  /** The page ({@code index.html}); a missing dashboard jar is a plain 404 naming it, not a 500. */
  static HttpResponse page(String ifNoneMatch) {
    return asset("index.html", ifNoneMatch);
  }

  static HttpResponse asset(String name, String ifNoneMatch) {
    Optional<Asset> found = Optional.empty();
    if (NAME.matcher(name).matches() && TYPES.containsKey(extension(name))) {
      found = Optional.ofNullable(CACHE.get(name)).or(() -> load(name));
      found.ifPresent(a -> CACHE.putIfAbsent(name, a));
    }
    if (found.isEmpty()) {
      return Json.error(
          StatusCodes.NOT_FOUND,
          "no dashboard file "
              + name
              + ("index.html".equals(name) ? " (is the dashboard jar on the class path?)" : ""),
          null);
    }
    Asset a = found.get();
    HttpResponse base =
        HttpResponse.create()
            .addHeader(RawHeader.create("ETag", a.etag()))
            .addHeader(RawHeader.create("Cache-Control", "no-cache"))
            .addHeaders(
                PAGE_HEADERS.stream()
                    .map(h -> (org.apache.pekko.http.javadsl.model.HttpHeader) h)
                    .toList());
    if (ifNoneMatch != null && List.of(ifNoneMatch.split("\\s*,\\s*")).contains(a.etag())) {
      return base.withStatus(StatusCodes.NOT_MODIFIED);
    }
    return base.withEntity(HttpEntities.create(a.type(), a.bytes()));
  }

  private static Optional<Asset> load(String name) {
    try (InputStream in = DashboardRoutes.class.getClassLoader().getResourceAsStream(ROOT + name)) {
      if (in == null) return Optional.empty();
      byte[] bytes = in.readAllBytes();
      byte[] hash = MessageDigest.getInstance("SHA-256").digest(bytes);
      String etag = "\"" + HexFormat.of().formatHex(hash, 0, 12) + "\"";
      return Optional.of(new Asset(bytes, TYPES.get(extension(name)), etag));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String extension(String name) {
    return name.substring(name.lastIndexOf('.') + 1).toLowerCase(java.util.Locale.ROOT);
  }
}
