package dev.anchor.http;

import static org.apache.pekko.http.javadsl.server.Directives.*;
import static org.junit.jupiter.api.Assertions.*;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jwt.PlainJWT;
import dev.anchor.auth.TestTokens;
import dev.anchor.auth.TokenVerifier;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.KeyPairGenerator;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.server.Route;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The 401/403 matrix over real HTTP on loopback, for every route family: the production check in
 * front of a route that records what reaches it, so "nothing of a refused request reaches an
 * entity" is asserted directly.
 */
class AuthRoutesTest {
  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private static final List<String> reached = Collections.synchronizedList(new ArrayList<>());
  private static ActorSystem<Void> system;
  private static ServerBinding binding;

  record Endpoint(String family, String method, String path, String role) {}

  /**
   * Every route family and the role it needs (/apps/{id}/…, the proxy to hosted apps, is open: see
   * AccessPolicy).
   */
  static final List<Endpoint> ENDPOINTS =
      List.of(
          new Endpoint("tasks", "POST", "/api/tasks", "submit"),
          new Endpoint("tasks", "GET", "/api/tasks?status=Completed", "read"),
          new Endpoint("tasks", "GET", "/api/tasks/t1", "read"),
          new Endpoint("tasks", "DELETE", "/api/tasks/t1", "submit"),
          new Endpoint("bulk", "POST", "/api/tasks/bulk", "submit"),
          new Endpoint("dag", "POST", "/api/dag/schedule", "submit"),
          new Endpoint("dag", "GET", "/api/dag/d1", "read"),
          new Endpoint("dag", "DELETE", "/api/dag/d1", "submit"),
          new Endpoint("mapreduce", "POST", "/api/mapreduce", "submit"),
          new Endpoint("nodes", "GET", "/api/nodes", "read"),
          new Endpoint("nodes", "GET", "/api/nodes/n1", "read"),
          new Endpoint("nodes", "GET", "/api/queue/stats", "read"),
          new Endpoint("metrics", "GET", "/metrics", "read"),
          new Endpoint("operator", "POST", "/api/nodes/n1/drain", "operate"),
          new Endpoint("operator", "POST", "/api/nodes/n1/cordon", "operate"),
          new Endpoint("operator", "POST", "/api/nodes/n1/uncordon", "operate"),
          new Endpoint("operator", "POST", "/api/nodes/n1/release", "operate"),
          new Endpoint("fraud", "GET", "/api/fraud?nodeId=n1", "operate"),
          new Endpoint("fraud", "GET", "/api/fraud/f1", "operate"),
          new Endpoint("screen", "GET", "/api/nodes/n1/screen?width=640", "operate"),
          new Endpoint("screen", "GET", "/api/nodes/n1/screen/stream?fps=10", "operate"),
          new Endpoint("screen", "GET", "/api/clusters/c1/screen?width=640", "operate"),
          new Endpoint("screen", "GET", "/api/clusters/c1/screen/stream?fps=10", "operate"),
          new Endpoint("clusters", "GET", "/api/clusters", "read"),
          new Endpoint("clusters", "GET", "/api/clusters/c1/logs", "read"),
          new Endpoint("clusters", "POST", "/api/clusters", "submit"),
          new Endpoint("clusters", "POST", "/api/clusters/c1/stop", "submit"),
          new Endpoint("clusters", "POST", "/api/clusters/c1/start", "submit"),
          new Endpoint("clusters", "POST", "/api/clusters/c1/restart", "submit"),
          new Endpoint("clusters", "GET", "/api/clusters/c1", "read"),
          new Endpoint("clusters", "GET", "/api/clusters/c1/logs/events", "read"),
          new Endpoint("clusters", "GET", "/api/clusters/events", "read"),
          new Endpoint("clusters", "DELETE", "/api/clusters/c1", "submit"),
          new Endpoint("events", "GET", "/api/events", "read"),
          new Endpoint("events", "GET", "/api/tasks/t1/events", "read"),
          new Endpoint("events", "GET", "/api/dag/d1/events", "read"));

  @BeforeAll
  static void bind() throws Exception {
    system = ActorSystem.create(Behaviors.empty(), "auth-routes-test");
    Authentication auth = new Authentication(new TokenVerifier(TestTokens.config(Map.of())));
    // reads the body as a real route would, so Pekko does not answer early on a half-read request
    Route recorder =
        extractRequest(
            r ->
                entity(
                    org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller.entityToString(),
                    body -> {
                      reached.add(r.method().value() + " " + r.getUri().path());
                      return complete(Json.ok(Map.of("reached", true)));
                    }));
    Route routes = concat(new SessionRoutes(auth).route(), recorder);
    binding =
        Http.get(system)
            .newServerAt("127.0.0.1", 0)
            .bind(ApiServer.secured(auth, routes))
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

  @BeforeEach
  void clear() {
    reached.clear();
  }

  private static HttpResponse<String> send(String method, String path, Map<String, String> headers)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + binding.localAddress().getPort() + path))
            .timeout(Duration.ofSeconds(20))
            .method(
                method,
                method.equals("POST")
                    ? HttpRequest.BodyPublishers.ofString("{}")
                    : HttpRequest.BodyPublishers.noBody());
    headers.forEach(b::header);
    return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> send(Endpoint e, String token) throws Exception {
    return send(
        e.method(),
        e.path(),
        token == null ? Map.of() : Map.of("Authorization", "Bearer " + token));
  }

  /**
   * Every way a token can be bad; each must be a 401 with the Bearer challenge and a JSON error.
   */
  private static Map<String, Map<String, String>> badCredentials() throws Exception {
    Instant now = Instant.now();
    var rsa = KeyPairGenerator.getInstance("RSA");
    rsa.initialize(2048);
    Map<String, Map<String, String>> bad = new LinkedHashMap<>();
    bad.put("missing", Map.of());
    bad.put("not bearer", Map.of("Authorization", "Basic dXNlcjpwYXNz"));
    bad.put("malformed", bearer("abc.def"));
    bad.put(
        "wrong signature",
        bearer(
            TestTokens.hs256(
                TestTokens.claims("read", "submit", "operate").build(),
                "the-wrong-secret-0123456789-0123456789-0123")));
    bad.put(
        "alg none",
        bearer(new PlainJWT(TestTokens.claims("read", "submit", "operate").build()).serialize()));
    bad.put(
        "other algorithm (RS256)",
        bearer(
            TestTokens.sign(
                JWSAlgorithm.RS256,
                TestTokens.claims("read", "submit", "operate").build(),
                new RSASSASigner(rsa.generateKeyPair().getPrivate()))));
    bad.put(
        "expired",
        bearer(
            TestTokens.hs256(
                TestTokens.claims("read", "submit", "operate")
                    .expirationTime(Date.from(now.minusSeconds(300)))
                    .build(),
                TestTokens.SECRET)));
    bad.put(
        "not yet valid",
        bearer(
            TestTokens.hs256(
                TestTokens.claims("read", "submit", "operate")
                    .notBeforeTime(Date.from(now.plusSeconds(300)))
                    .build(),
                TestTokens.SECRET)));
    bad.put(
        "wrong audience",
        bearer(
            TestTokens.hs256(
                TestTokens.claims("read", "submit", "operate").audience("another-api").build(),
                TestTokens.SECRET)));
    bad.put(
        "no exp",
        bearer(
            TestTokens.hs256(
                TestTokens.claims("read", "submit", "operate").expirationTime(null).build(),
                TestTokens.SECRET)));
    return bad;
  }

  private static Map<String, String> bearer(String token) {
    return Map.of("Authorization", "Bearer " + token);
  }

  @Test
  void badTokensAre401OnEveryRouteAndReachNothing() throws Exception {
    Map<String, Map<String, String>> bad = badCredentials();
    for (Endpoint e : ENDPOINTS) {
      for (var b : bad.entrySet()) {
        HttpResponse<String> r = send(e.method(), e.path(), b.getValue());
        String what = b.getKey() + " on " + e + ": " + r.body();
        assertEquals(401, r.statusCode(), what);
        String challenge = r.headers().firstValue("WWW-Authenticate").orElse("");
        assertTrue(
            challenge.startsWith("Bearer") && challenge.contains("error=\"invalid_token\""),
            what + " " + challenge);
        assertTrue(r.headers().firstValue("Content-Type").orElse("").contains("json"), what);
        var json = Json.MAPPER.readTree(r.body());
        assertFalse(json.path("error").asText().isBlank(), what);
        assertEquals("Authorization", json.path("field").asText(), what);
      }
    }
    assertEquals(List.of(), reached, "refused requests reached the routes");
  }

  @Test
  void aTokenWithoutTheRoleIs403AndATokenWithItPasses() throws Exception {
    for (Endpoint e : ENDPOINTS) {
      List<String> others = new ArrayList<>(List.of("read", "submit", "operate"));
      others.remove(e.role());
      HttpResponse<String> r = send(e, TestTokens.valid(others.toArray(String[]::new)));
      assertEquals(403, r.statusCode(), e + ": " + r.body());
      assertTrue(r.body().contains("'" + e.role() + "'"), r.body());
      assertEquals("roles", Json.MAPPER.readTree(r.body()).path("field").asText());
      assertTrue(
          r.headers().firstValue("WWW-Authenticate").orElse("").contains("insufficient_scope"));
    }
    assertEquals(List.of(), reached, "forbidden requests reached the routes");
    for (Endpoint e : ENDPOINTS) {
      HttpResponse<String> r = send(e, TestTokens.valid(e.role()));
      assertEquals(200, r.statusCode(), e + ": " + r.body());
    }
    assertEquals(ENDPOINTS.size(), reached.size());
  }

  @Test
  void healthNeedsNoToken() throws Exception {
    assertEquals(200, send("GET", "/health", Map.of()).statusCode());
  }

  @Test
  void eventStreamsTakeAQueryTokenButCommandsDoNot() throws Exception {
    String token = TestTokens.valid("read", "submit");
    for (String sse : List.of("/api/events", "/api/tasks/t1/events", "/api/dag/d1/events")) {
      assertEquals(200, send("GET", sse + "?access_token=" + token, Map.of()).statusCode(), sse);
    }
    assertEquals(401, send("GET", "/api/events?access_token=garbage", Map.of()).statusCode());
    HttpResponse<String> post = send("POST", "/api/tasks?access_token=" + token, Map.of());
    assertEquals(401, post.statusCode(), post.body());
    assertTrue(post.body().contains("only for GET"), post.body());
    assertEquals(
        List.of("GET /api/events", "GET /api/tasks/t1/events", "GET /api/dag/d1/events"), reached);
  }

  @Test
  void aSessionCookieSignsInTheBrowserForReadsOnly() throws Exception {
    String token = TestTokens.valid("read", "submit");
    HttpResponse<String> session = send("POST", "/api/session", bearer(token));
    assertEquals(200, session.statusCode(), session.body());
    String setCookie = session.headers().firstValue("Set-Cookie").orElseThrow();
    assertTrue(setCookie.startsWith(Authentication.COOKIE + "=" + token), setCookie);
    assertTrue(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"), setCookie);
    Map<String, String> cookie = Map.of("Cookie", Authentication.COOKIE + "=" + token);
    assertEquals(200, send("GET", "/api/events", cookie).statusCode());
    // a cookie must not submit: a cross-site form would carry it
    assertEquals(401, send("POST", "/api/tasks", cookie).statusCode());
    assertEquals(List.of("GET /api/events"), reached);

    HttpResponse<String> byBody = send("POST", "/api/session", Map.of());
    assertEquals(401, byBody.statusCode());
    HttpResponse<String> bad =
        HTTP.send(
            HttpRequest.newBuilder(
                    URI.create(
                        "http://127.0.0.1:" + binding.localAddress().getPort() + "/api/session"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"token\":\"nope\"}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertEquals(401, bad.statusCode());
    assertEquals("token", Json.MAPPER.readTree(bad.body()).path("field").asText());
    assertTrue(
        send("DELETE", "/api/session", Map.of())
            .headers()
            .firstValue("Set-Cookie")
            .orElseThrow()
            .contains("Max-Age=0"));
  }

  @Test
  void theDashboardsOwnWritesMayUseTheCookieWithItsHeader() throws Exception {
    String token = TestTokens.valid("read", "submit");
    String origin = "http://127.0.0.1:" + binding.localAddress().getPort();
    Map<String, String> cookie = Map.of("Cookie", Authentication.COOKIE + "=" + token);
    Map<String, String> dashboard =
        Map.of(
            "Cookie",
            Authentication.COOKIE + "=" + token,
            Authentication.DASHBOARD_HEADER,
            "1",
            "Origin",
            origin);
    assertEquals(200, send("POST", "/api/tasks", dashboard).statusCode());
    // without the header (a cross-site form can send no custom header), or from another origin:
    // refused
    assertEquals(401, send("POST", "/api/tasks", cookie).statusCode());
    assertEquals(
        401,
        send(
                "POST",
                "/api/tasks",
                Map.of(
                    "Cookie",
                    Authentication.COOKIE + "=" + token,
                    Authentication.DASHBOARD_HEADER,
                    "1",
                    "Origin",
                    "http://evil.example"))
            .statusCode());
    assertEquals(
        401,
        send(
                "POST",
                "/api/tasks",
                Map.of(
                    "Cookie",
                    Authentication.COOKIE + "=" + token,
                    Authentication.DASHBOARD_HEADER,
                    "1",
                    "Origin",
                    "null"))
            .statusCode());
    // behind a reverse proxy that rewrites Host, the forwarded host is the page's
    assertEquals(
        200,
        send(
                "POST",
                "/api/tasks",
                Map.of(
                    "Cookie",
                    Authentication.COOKIE + "=" + token,
                    Authentication.DASHBOARD_HEADER,
                    "1",
                    "Origin",
                    "https://anchor.example.com",
                    "X-Forwarded-Host",
                    "anchor.example.com"))
            .statusCode());
    // the header gives no role: a cookie of a submit token still cannot drain
    assertEquals(403, send("POST", "/api/nodes/n1/drain", dashboard).statusCode());
    // and the header alone is no credential
    assertEquals(
        401, send("POST", "/api/tasks", Map.of(Authentication.DASHBOARD_HEADER, "1")).statusCode());
    assertEquals(List.of("POST /api/tasks", "POST /api/tasks"), reached);
  }

  @Test
  void theStartupLinkSignsInAndDropsTheTokenFromTheAddress() throws Exception {
    String token = TestTokens.valid("read", "submit", "operate");
    HttpResponse<String> r = send("GET", "/?token=" + token, Map.of());
    assertEquals(303, r.statusCode());
    assertEquals("/", r.headers().firstValue("Location").orElseThrow());
    assertTrue(
        r.headers().firstValue("Set-Cookie").orElseThrow().startsWith(Authentication.COOKIE + "="));
    assertEquals(401, send("GET", "/?token=bad", Map.of()).statusCode());
    HttpResponse<String> page = send("GET", "/", Map.of());
    assertEquals(200, page.statusCode());
    assertTrue(page.body().contains("/dashboard/app.js"), "the dashboard's page");
  }
}
