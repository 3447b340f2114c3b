package dev.anchor.http;

import dev.anchor.auth.ApiRole;
import java.util.regex.Pattern;

/**
 * Which role each request needs, in one table so it can be read and tested as a whole. Paths it
 * does not name are not open: a read (GET) needs {@code read}, anything else {@code operate}, so a
 * route added later is guarded from day one. Browser credentials (the {@code access_token} query
 * parameter and the session cookie) count only on GET requests: an {@code EventSource} cannot send
 * headers, and a cookie that could submit or drain would invite cross-site forgery. The dashboard's
 * own writes carry the cookie with the {@link Authentication#DASHBOARD_HEADER} header, which no
 * other site can add (see {@link Authentication#credential}).
 */
final class AccessPolicy {
  private static final Pattern NODE_OPERATION =
      Pattern.compile("/api/nodes/[^/]+/(drain|cordon|uncordon|release)/?");

  /**
   * A node's screen shows whatever runs on it: operators only (browser credentials allowed, for an
   * img tag).
   */
  private static final Pattern NODE_SCREEN = Pattern.compile("/api/nodes/[^/]+/screen(/stream)?/?");

  /** An app's display likewise (an app created with "display": true). */
  private static final Pattern APP_SCREEN =
      Pattern.compile("/api/clusters/[^/]+/screen(/stream)?/?");

  private AccessPolicy() {}

  sealed interface Access permits Open, Needs {}

  /**
   * No token asked: liveness probes, the dashboard's page and the session exchange (which check
   * tokens themselves).
   */
  record Open() implements Access {}

  record Needs(ApiRole role, boolean browserCredentials) implements Access {}

  static Access of(String method, String path) {
    String p = path.isEmpty() ? "/" : path;
    boolean read = method.equals("GET") || method.equals("HEAD");
    if (p.equals("/health") || p.equals("/health/") || p.equals("/")) return new Open();
    // the dashboard's page and static assets: the same files for everyone, no data; the page asks
    // the API itself
    if (under(p, "/dashboard")) return new Open();
    if (p.equals("/api/session") || p.equals("/api/session/")) return new Open();
    // the API's description and its interactive page: the same for everyone, no data
    if (read && (p.equals("/api/openapi.json") || under(p, "/api/docs"))) return new Open();
    // the reverse proxy to hosted apps: an app is a public web app (reachable on its node's port
    // anyway) and does
    // its own authentication; Anchor's token and session cookie are stripped before the request
    // reaches it
    if (under(p, "/apps")) return new Open();
    if (under(p, "/api/fraud")) return new Needs(ApiRole.OPERATE, read);
    if (NODE_OPERATION.matcher(p).matches()) return new Needs(ApiRole.OPERATE, read);
    if (NODE_SCREEN.matcher(p).matches() || APP_SCREEN.matcher(p).matches())
      return new Needs(ApiRole.OPERATE, read);
    if (read) return new Needs(ApiRole.READ, true);
    if (under(p, "/api/tasks")
        || under(p, "/api/dag")
        || under(p, "/api/mapreduce")
        || under(p, "/api/clusters")) {
      return new Needs(ApiRole.SUBMIT, false);
    }
    return new Needs(ApiRole.OPERATE, false);
  }

  private static boolean under(String path, String prefix) {
    return path.equals(prefix) || path.startsWith(prefix + "/");
  }
}
