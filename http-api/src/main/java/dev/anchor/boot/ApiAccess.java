package dev.anchor.boot;

import com.typesafe.config.Config;
import dev.anchor.auth.ApiRole;
import dev.anchor.auth.AuthConfig;
import dev.anchor.auth.SecretFile;
import dev.anchor.auth.TokenIssuer;
import dev.anchor.auth.TokenVerifier;
import dev.anchor.boot.ClusterBootstrapConfig.Role;
import dev.anchor.config.AnchorSettings;
import java.io.IOException;
import java.util.EnumSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How a node's HTTP API checks callers, decided before anything starts: the configured secret or
 * key; a standalone without one generates its own secret into the data dir and hands the operator a
 * signed-in link (as Jupyter does); a coordinator without one refuses to start, unless
 * authentication was turned off explicitly.
 *
 * @param verifier null when authentication is off
 * @param startupToken an operator token to print once the API is up; null unless the secret was
 *     generated here
 */
record ApiAccess(TokenVerifier verifier, String startupToken) {
  private static final Logger log = LoggerFactory.getLogger(ApiAccess.class);

  static ApiAccess forRole(Role role, Config config, AnchorSettings settings) throws IOException {
    AuthConfig auth = AuthConfig.from(config);
    if (!auth.enabled()) {
      log.warn(
          "AUTHENTICATION IS OFF (ANCHOR_AUTH=off): anyone who reaches {}:{} can submit code, read every result "
              + "and drain nodes",
          settings.httpHost(),
          settings.httpPort());
      return new ApiAccess(null, null);
    }
    if (auth.hasKey()) return new ApiAccess(new TokenVerifier(auth), null);
    if (role != Role.STANDALONE) {
      throw new IllegalArgumentException(
          "a "
              + role.name().toLowerCase()
              + " needs ANCHOR_JWT_SECRET (or JWT_SECRET; "
              + "at least 32 bytes, e.g. from 'openssl rand -base64 32'), or ANCHOR_JWT_PUBLIC_KEY / ANCHOR_JWT_JWKS_URL "
              + "for tokens your organisation issues; set ANCHOR_AUTH=off to run without authentication");
    }
    byte[] secret = SecretFile.loadOrCreate(settings.dataDir());
    AuthConfig generated =
        auth.withSecret(secret, settings.dataDir().resolve(SecretFile.NAME).toString());
    String token =
        new TokenIssuer(generated)
            .issue("operator", EnumSet.allOf(ApiRole.class), auth.startupTokenTtl());
    return new ApiAccess(new TokenVerifier(generated), token);
  }

  /**
   * The link that opens the dashboard signed in; printed on stdout whatever the log level, once per
   * start.
   */
  void announce(AnchorSettings settings) {
    if (startupToken == null) return;
    String host =
        settings.httpHost().equals("0.0.0.0") || settings.httpHost().equals("::")
            ? "127.0.0.1"
            : settings.httpHost();
    String base = "http://" + host + ":" + settings.httpPort();
    System.out.println();
    System.out.println(
        "    Anchor standalone is up. To open the dashboard signed in as operator, open:");
    System.out.println("        " + base + "/?token=" + startupToken);
    System.out.println(
        "    or call the API with the header 'Authorization: Bearer <the token above>'.");
    System.out.println(
        "    The secret is in "
            + settings.dataDir().resolve(SecretFile.NAME)
            + "; more tokens: ./anchor token --roles submit,read --ttl 1h");
    System.out.println();
    System.out.flush();
  }
}
