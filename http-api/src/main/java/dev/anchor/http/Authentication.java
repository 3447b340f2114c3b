package dev.anchor.http;

import static org.apache.pekko.http.javadsl.server.Directives.*;

import dev.anchor.auth.ApiRole;
import dev.anchor.auth.InvalidTokenException;
import dev.anchor.auth.Principal;
import dev.anchor.auth.TokenVerifier;
import java.util.Locale;
import java.util.Optional;
import java.util.TreeSet;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.Cookie;
import org.apache.pekko.http.javadsl.model.headers.HttpCookiePair;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * The door of the API: every request is checked against {@link AccessPolicy} before any route sees
 * it, so a refused request never reaches an entity (nor has its body read). 401 with {@code
 * WWW-Authenticate: Bearer error="invalid_token"} for a missing or bad token, 403 for a good token
 * without the role, both as JSON naming the credential's field.
 */
final class Authentication {
  static final String COOKIE = "anchor_session";
  static final String QUERY = "access_token";

  /**
   * Sent by the dashboard's scripts with their writes (submit, cancel, drain…), so the session
   * cookie counts for them too. Another site's page cannot forge it: a cross-origin request with a
   * custom header needs a CORS preflight, which this server never grants, and the cookie is
   * SameSite=Strict besides.
   */
  static final String DASHBOARD_HEADER = "X-Anchor-Dashboard";

  /** null when authentication is off ({@code ANCHOR_AUTH=off}). */
  private final TokenVerifier verifier;

  Authentication(TokenVerifier verifier) {
    this.verifier = verifier;
  }

  static Authentication off() {
    return new Authentication(null);
  }

  boolean enabled() {
    return verifier != null;
  }

  TokenVerifier verifier() {
    return verifier;
  }

  Route guard(Route inner) {
    if (verifier == null) return inner;
    return extractRequest(
        request -> {
          AccessPolicy.Access access =
              AccessPolicy.of(request.method().value(), request.getUri().path());
          if (!(access instanceof AccessPolicy.Needs needs)) return inner;
          Credential credential = credential(request, needs.browserCredentials());
          if (credential.token() == null)
            return complete(unauthorized(credential.problem(), credential.field()));
          Principal principal;
          try {
            principal = verifier.verify(credential.token());
          } catch (InvalidTokenException e) {
            return complete(unauthorized("invalid token: " + e.getMessage(), credential.field()));
          } catch (TokenVerifier.KeysUnavailableException e) {
            return complete(Json.error(StatusCodes.SERVICE_UNAVAILABLE, e.getMessage(), null));
          }
          if (!principal.has(needs.role())) return complete(forbidden(needs.role(), principal));
          return inner;
        });
  }

  /** Where the token came from (the field named in errors) and the token, or why there is none. */
  record Credential(String token, String field, String problem) {}

  static Credential credential(HttpRequest request, boolean browser) {
    Optional<String> header = request.getHeader("Authorization").map(h -> h.value().trim());
    if (header.isPresent()) {
      String h = header.get();
      if (h.length() > 7 && h.substring(0, 7).toLowerCase(Locale.ROOT).equals("bearer ")) {
        return new Credential(h.substring(7).trim(), "Authorization", null);
      }
      return new Credential(
          null, "Authorization", "the Authorization header must be 'Bearer <token>'");
    }
    Optional<String> query = request.getUri().query().get(QUERY);
    Optional<String> cookie =
        request
            .getHeader(Cookie.class)
            .flatMap(
                c -> {
                  for (HttpCookiePair p : c.getCookies())
                    if (p.name().equals(COOKIE)) return Optional.of(p.value());
                  return Optional.empty();
                });
    if (browser && query.isPresent()) return new Credential(query.get(), QUERY, null);
    if (browser && cookie.isPresent()) return new Credential(cookie.get(), COOKIE, null);
    if (cookie.isPresent()
        && request.getHeader(DASHBOARD_HEADER).isPresent()
        && sameOrigin(request)) {
      return new Credential(cookie.get(), COOKIE, null);
    }
    if (query.isPresent() || cookie.isPresent()) {
      return new Credential(
          null,
          "Authorization",
          "this request needs 'Authorization: Bearer <token>' (the "
              + QUERY
              + " parameter and the session cookie count only for GET requests, and the cookie for the "
              + "dashboard's own requests)");
    }
    return new Credential(
        null,
        "Authorization",
        "no bearer token: send 'Authorization: Bearer <token>' " + "(get one with ./anchor token)");
  }

  /**
   * A browser names the page's origin on every write; one that names another host is refused
   * (defence in depth). Behind a reverse proxy that rewrites Host, the proxy's X-Forwarded-Host
   * names the public one (a page on another site cannot set that header either).
   */
  private static boolean sameOrigin(HttpRequest request) {
    Optional<String> origin = request.getHeader("Origin").map(h -> h.value().trim());
    if (origin.isEmpty()) return true;
    String authority;
    try {
      java.net.URI o = java.net.URI.create(origin.get());
      if (o.getHost() == null) return false; // "null": a sandboxed or privacy-redirected page
      authority = o.getPort() < 0 ? o.getHost() : o.getHost() + ":" + o.getPort();
    } catch (IllegalArgumentException e) {
      return false;
    }
    for (String name : new String[] {"Host", "X-Forwarded-Host"}) {
      Optional<String> host = request.getHeader(name).map(h -> h.value().split(",")[0].trim());
      if (host.isPresent() && authority.equalsIgnoreCase(host.get())) return true;
    }
    return false;
  }

  static HttpResponse unauthorized(String message, String field) {
    return Json.error(StatusCodes.UNAUTHORIZED, message, field)
        .addHeader(
            challenge("error=\"invalid_token\", error_description=\"" + quotable(message) + "\""));
  }

  static HttpResponse forbidden(ApiRole needed, Principal principal) {
    TreeSet<String> held = new TreeSet<>();
    principal.roles().forEach(r -> held.add(r.claim()));
    String message =
        "this request needs the role '"
            + needed.claim()
            + "'; the token of "
            + principal.subject()
            + " has "
            + held;
    return Json.error(StatusCodes.FORBIDDEN, message, "roles")
        .addHeader(challenge("error=\"insufficient_scope\", scope=\"" + needed.claim() + "\""));
  }

  /**
   * Written out rather than through Pekko's HttpChallenge, which leaves token values unquoted: RFC
   * 6750's examples (and the clients written from them) quote every value.
   */
  private static RawHeader challenge(String params) {
    return RawHeader.create("WWW-Authenticate", "Bearer realm=\"anchor\", " + params);
  }

  /** RFC 6750 allows only printable ASCII without quote and backslash in error_description. */
  private static String quotable(String s) {
    return s.replaceAll("[^\\x20-\\x7e]|[\"\\\\]", "'");
  }
}
