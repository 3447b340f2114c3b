package dev.anchor.http;

import static org.apache.pekko.http.javadsl.server.Directives.*;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpCharsets;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * The API's OpenAPI 3.1 description at {@code GET /api/openapi.json} (a resource of this jar, kept
 * beside the routes: OpenApiTest fails when a route and the description drift apart) and an
 * interactive page for it at {@code GET /api/docs}: Swagger UI from the {@code
 * org.webjars:swagger-ui} jar, so nothing is fetched from the network when it runs. Both are open
 * (they describe the API and hold no data); "Try it out" needs a token (Authorize) or the
 * dashboard's session cookie for reads.
 */
final class OpenApiRoutes {
  static final String DESCRIPTION = "dev/anchor/http/openapi.json";
  static final String SWAGGER_UI =
      "META-INF/resources/webjars/swagger-ui/" + swaggerUiVersion() + "/";

  /** The page's own files: Swagger UI's, and the script that starts it on our description. */
  private static final Map<String, ContentType> FILES =
      Map.of(
          "swagger-ui.css", MediaTypes.TEXT_CSS.toContentType(HttpCharsets.UTF_8),
          "swagger-ui-bundle.js",
              MediaTypes.APPLICATION_JAVASCRIPT.toContentType(HttpCharsets.UTF_8),
          "favicon-32x32.png", MediaTypes.IMAGE_PNG.toContentType(),
          "favicon-16x16.png", MediaTypes.IMAGE_PNG.toContentType());

  private static final String PAGE =
      """
      <!doctype html>
      <html lang="en"><head><meta charset="utf-8"><title>Anchor API</title>
      <link rel="stylesheet" href="/api/docs/swagger-ui.css"><link rel="icon" href="/api/docs/favicon-32x32.png"></head>
      <body><div id="swagger-ui"></div>
      <script src="/api/docs/swagger-ui-bundle.js"></script><script src="/api/docs/init.js"></script></body></html>
      """;
  private static final String INIT =
      """
      window.ui = SwaggerUIBundle({url: '/api/openapi.json', dom_id: '#swagger-ui', deepLinking: true,
        persistAuthorization: false, tryItOutEnabled: false});
      """;
  private static final List<org.apache.pekko.http.javadsl.model.HttpHeader> PAGE_HEADERS =
      List.of(
          RawHeader.create(
              "Content-Security-Policy",
              "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                  + "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
          RawHeader.create("Referrer-Policy", "no-referrer"),
          RawHeader.create("X-Content-Type-Options", "nosniff"));

  private static volatile byte[] description;

  private OpenApiRoutes() {}

  static String swaggerUiVersion() {
    try (InputStream in =
        OpenApiRoutes.class
            .getClassLoader()
            .getResourceAsStream("META-INF/maven/org.webjars/swagger-ui/pom.properties")) {
      if (in == null) return "unknown";
      java.util.Properties p = new java.util.Properties();
      p.load(in);
      return p.getProperty("version", "unknown");
    } catch (IOException e) {
      return "unknown";
    }
  }

  static byte[] description() {
    byte[] d = description;
    if (d == null) description = d = resource(DESCRIPTION);
    return d;
  }

  private static byte[] resource(String name) {
    try (InputStream in = OpenApiRoutes.class.getClassLoader().getResourceAsStream(name)) {
      if (in == null) return null;
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static Route route() {
    return pathPrefix(
        "api",
        () ->
            concat(
                path(
                    "openapi.json",
                    () ->
                        get(
                            () ->
                                complete(
                                    HttpResponse.create()
                                        .withEntity(
                                            HttpEntities.create(
                                                ContentTypes.APPLICATION_JSON, description()))))),
                pathPrefix(
                    "docs",
                    () ->
                        concat(
                            pathEndOrSingleSlash(
                                () ->
                                    get(
                                        () ->
                                            complete(
                                                HttpResponse.create()
                                                    .addHeaders(PAGE_HEADERS)
                                                    .withEntity(
                                                        HttpEntities.create(
                                                            ContentTypes.TEXT_HTML_UTF8, PAGE))))),
                            path(
                                "init.js",
                                () ->
                                    get(
                                        () ->
                                            complete(
                                                HttpResponse.create()
                                                    .withEntity(
                                                        HttpEntities.create(
                                                            MediaTypes.APPLICATION_JAVASCRIPT
                                                                .toContentType(HttpCharsets.UTF_8),
                                                            INIT.getBytes(
                                                                StandardCharsets.UTF_8)))))),
                            path(
                                segment(),
                                name ->
                                    get(
                                        () ->
                                            encodeResponse(
                                                () -> {
                                                  ContentType type = FILES.get(name);
                                                  byte[] bytes =
                                                      type == null
                                                          ? null
                                                          : resource(SWAGGER_UI + name);
                                                  return bytes == null
                                                      ? complete(
                                                          Json.error(
                                                              StatusCodes.NOT_FOUND,
                                                              "no file " + name,
                                                              "file"))
                                                      : complete(
                                                          HttpResponse.create()
                                                              .addHeader(
                                                                  RawHeader.create(
                                                                      "Cache-Control",
                                                                      "max-age=86400"))
                                                              .withEntity(
                                                                  HttpEntities.create(
                                                                      type, bytes)));
                                                })))))));
  }
}
