package dev.anchor.http;

import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.junit.jupiter.api.Assertions.*;

import dev.anchor.auth.TestTokens;
import dev.anchor.auth.TokenVerifier;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The dashboard's files as the production routes serve them, behind the real authentication check.
 */
class DashboardRoutesTest {
  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private static ActorSystem<Void> system;
  private static ServerBinding binding;

  @BeforeAll
  static void bind() throws Exception {
    system = ActorSystem.create(Behaviors.empty(), "dashboard-routes-test");
    Authentication auth = new Authentication(new TokenVerifier(TestTokens.config(Map.of())));
    binding =
        Http.get(system)
            .newServerAt("127.0.0.1", 0)
            .bind(
                ApiServer.secured(
                    auth, concat(new SessionRoutes(auth).route(), DashboardRoutes.route())))
            .toCompletableFuture()
            .get(30, TimeUnit.SECONDS);
  }

  @AfterAll
  static void unbind() throws Exception {
    if (binding != null) binding.unbind().toCompletableFuture().get(10, TimeUnit.SECONDS);
    if (system != null) {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  private static HttpResponse<byte[]> get(String path, Map<String, String> headers)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + binding.localAddress().getPort() + path))
            .timeout(Duration.ofSeconds(20))
            .GET();
    headers.forEach(b::header);
    return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  private static String type(HttpResponse<?> r) {
    return r.headers().firstValue("Content-Type").orElse("");
  }

  @Test
  void thePageIsOpenAtTheRootAndAtDashboard() throws Exception {
    for (String path : List.of("/", "/dashboard", "/dashboard/")) {
      HttpResponse<byte[]> r = get(path, Map.of());
      assertEquals(200, r.statusCode(), path);
      assertTrue(type(r).startsWith("text/html"), path + " " + type(r));
      String html = new String(r.body(), StandardCharsets.UTF_8);
      assertTrue(html.contains("/dashboard/app.js") && html.contains("/dashboard/app.css"), html);
      assertTrue(
          r.headers()
              .firstValue("Content-Security-Policy")
              .orElse("")
              .contains("default-src 'self'"));
      assertEquals("no-referrer", r.headers().firstValue("Referrer-Policy").orElse(""));
    }
  }

  @Test
  void assetsCarryTheirContentTypesAndRevalidateCheaply() throws Exception {
    Map<String, String> expected =
        Map.of(
            "app.js",
            "application/javascript",
            "app.css",
            "text/css",
            "icon.svg",
            "image/svg+xml",
            "index.html",
            "text/html");
    for (var e : expected.entrySet()) {
      HttpResponse<byte[]> r = get("/dashboard/" + e.getKey(), Map.of());
      assertEquals(200, r.statusCode(), e.getKey());
      assertTrue(type(r).startsWith(e.getValue()), e.getKey() + ": " + type(r));
      assertEquals("no-cache", r.headers().firstValue("Cache-Control").orElse(""), e.getKey());
      String etag = r.headers().firstValue("ETag").orElseThrow();
      HttpResponse<byte[]> again = get("/dashboard/" + e.getKey(), Map.of("If-None-Match", etag));
      assertEquals(304, again.statusCode(), e.getKey());
      assertEquals(0, again.body().length);
    }
  }

  @Test
  void scriptsAreGzippedForBrowsersThatAcceptIt() throws Exception {
    HttpResponse<byte[]> plain = get("/dashboard/app.js", Map.of());
    HttpResponse<byte[]> gz = get("/dashboard/app.js", Map.of("Accept-Encoding", "gzip"));
    assertEquals("gzip", gz.headers().firstValue("Content-Encoding").orElse(""));
    byte[] unzipped = new GZIPInputStream(new ByteArrayInputStream(gz.body())).readAllBytes();
    assertArrayEquals(plain.body(), unzipped);
    assertTrue(
        gz.body().length < plain.body().length / 2,
        "compressed " + gz.body().length + " of " + plain.body().length);
    // the page's own JS and CSS stay well under the 300 KB compressed budget
    long total =
        gz.body().length
            + get("/dashboard/app.css", Map.of("Accept-Encoding", "gzip")).body().length;
    assertTrue(total < 300 * 1024, total + " bytes");
  }

  @Test
  void unknownFilesAndPathTricksAre404WithoutATokenAndReadNothingElse() throws Exception {
    for (String path :
        List.of(
            "/dashboard/nope.js",
            "/dashboard/app.exe",
            "/dashboard/.app.js",
            "/dashboard/..%2F..%2Fpom.xml",
            "/dashboard/%2e%2e%2Fhttp%2FApiServer.class",
            "/dashboard/..%5Capp.js",
            "/dashboard/sub/app.js",
            "/dashboard/logback.xml",
            "/dashboard/application.conf",
            "/dashboard/app.js%00.css")) {
      HttpResponse<byte[]> r = get(path, Map.of());
      assertEquals(404, r.statusCode(), path + ": " + new String(r.body(), StandardCharsets.UTF_8));
      assertTrue(type(r).startsWith("application/json"), path);
    }
    // a path that climbs out of /dashboard is normalised (or not) by the server, never served as a
    // file
    HttpResponse<byte[]> climb = get("/dashboard/../api/tasks", Map.of());
    assertTrue(
        climb.statusCode() == 401 || climb.statusCode() == 404, "status " + climb.statusCode());
  }

  @Test
  void assetNamesAreCheckedBeforeTheClassLoaderSeesThem() {
    assertEquals(404, DashboardRoutes.asset("../dashboard/app.js", null).status().intValue());
    assertEquals(404, DashboardRoutes.asset("/app.js", null).status().intValue());
    assertEquals(
        404, DashboardRoutes.asset("dev/anchor/http/ApiServer.class", null).status().intValue());
    assertEquals(200, DashboardRoutes.asset("app.js", null).status().intValue());
  }
}
