package dev.anchor.http;

import static org.apache.pekko.http.javadsl.server.Directives.*;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.JsonNode;
import dev.anchor.auth.InvalidTokenException;
import dev.anchor.auth.Principal;
import dev.anchor.auth.TokenVerifier;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.HttpCookie;
import org.apache.pekko.http.javadsl.model.headers.Location;
import org.apache.pekko.http.javadsl.model.headers.SameSite;
import org.apache.pekko.http.javadsl.model.headers.SetCookie;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;

/**
 * Browser sign-in. {@code POST /api/session} exchanges a token (Authorization header or {@code
 * {"token":…}}) for an HttpOnly, SameSite=Strict cookie that a page's {@code EventSource} sends by
 * itself; {@code DELETE /api/session} clears it. {@code GET /?token=…} (the link a standalone
 * prints) does the same exchange and redirects to {@code /}, so the token does not stay in the
 * address bar; {@code GET /} (and {@code /dashboard}) is the dashboard's page, from {@link
 * DashboardRoutes}.
 */
final class SessionRoutes {
  private final Authentication auth;

  SessionRoutes(Authentication auth) {
    this.auth = auth;
  }

  Route route() {
    return concat(
        pathEndOrSingleSlash(() -> get(() -> page("/"))),
        pathPrefix("dashboard", () -> pathEndOrSingleSlash(() -> get(() -> page("/dashboard")))),
        path(
            segment("api").slash("session"),
            () ->
                concat(
                    post(
                        () ->
                            BodyLimit.atMost(
                                64 * 1024,
                                () -> entity(Unmarshaller.entityToByteArray(), this::signIn))),
                    delete(() -> complete(signedOut())))));
  }

  private Route signIn(byte[] body) {
    if (!auth.enabled())
      return complete(
          Json.error(StatusCodes.CONFLICT, "authentication is off (ANCHOR_AUTH=off)", null));
    return extractRequest(
        request -> {
          Authentication.Credential c = Authentication.credential(request, false);
          String token = c.token() != null ? c.token() : bodyToken(body);
          String field = c.token() != null ? "Authorization" : "token";
          if (token == null) {
            return complete(
                Authentication.unauthorized(
                    "send the token as 'Authorization: Bearer <token>' or as "
                        + "{\"token\":\"…\"}",
                    "token"));
          }
          return withPrincipal(
              token, field, p -> complete(withCookie(Json.ok(describe(p)), token, p)));
        });
  }

  private Route page(String at) {
    return parameterOptional(
        "token",
        token ->
            parameterOptional(
                Authentication.QUERY,
                accessToken ->
                    optionalHeaderValueByName(
                        "If-None-Match",
                        etag -> dashboard(at, token.or(() -> accessToken), etag))));
  }

  private Route dashboard(String at, Optional<String> token, Optional<String> ifNoneMatch) {
    if (token.isPresent() && auth.enabled()) {
      // sign in, then show the page without the token in the address bar (and in the browser's
      // history)
      return withPrincipal(
          token.get(),
          "token",
          p ->
              complete(
                  withCookie(
                      HttpResponse.create()
                          .withStatus(StatusCodes.SEE_OTHER)
                          .addHeader(Location.create(at)),
                      token.get(),
                      p)));
    }
    return encodeResponse(() -> complete(DashboardRoutes.page(ifNoneMatch.orElse(null))));
  }

  private Route withPrincipal(
      String token, String field, java.util.function.Function<Principal, Route> then) {
    TokenVerifier verifier = auth.verifier();
    try {
      return then.apply(verifier.verify(token));
    } catch (InvalidTokenException e) {
      return complete(Authentication.unauthorized("invalid token: " + e.getMessage(), field));
    } catch (TokenVerifier.KeysUnavailableException e) {
      return complete(Json.error(StatusCodes.SERVICE_UNAVAILABLE, e.getMessage(), null));
    }
  }

  static String bodyToken(byte[] body) {
    if (body == null || new String(body, java.nio.charset.StandardCharsets.ISO_8859_1).isBlank())
      return null;
    JsonNode tree = Json.readBody(body);
    if (!tree.isObject())
      throw new BadRequest("body", "the body must be a JSON object {\"token\": \"…\"}");
    JsonNode t = tree.get("token");
    if (t == null || t.isNull()) return null;
    if (!t.isTextual()) throw new BadRequest("token", "token must be a string");
    return t.asText();
  }

  /**
   * The cookie lives as long as the token; HttpOnly keeps it from scripts, Strict from other sites'
   * requests.
   */
  private static HttpResponse withCookie(HttpResponse response, String token, Principal p) {
    long maxAge = Math.max(0, Duration.between(Instant.now(), p.expiresAt()).toSeconds());
    return response.addHeader(
        SetCookie.create(
            HttpCookie.create(Authentication.COOKIE, token)
                .withPath("/")
                .withHttpOnly(true)
                .withSameSite(SameSite.Strict)
                .withMaxAge(maxAge)));
  }

  private static HttpResponse signedOut() {
    return Json.ok(Map.of("signedOut", true))
        .addHeader(
            SetCookie.create(
                HttpCookie.create(Authentication.COOKIE, "")
                    .withPath("/")
                    .withHttpOnly(true)
                    .withSameSite(SameSite.Strict)
                    .withMaxAge(0)));
  }

  private static Map<String, Object> describe(Principal p) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("subject", p.subject());
    out.put("roles", p.roles().stream().map(r -> r.claim()).sorted().toList());
    out.put("expiresAt", p.expiresAt().toString());
    return out;
  }
}
