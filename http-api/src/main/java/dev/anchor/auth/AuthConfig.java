package dev.anchor.auth;

import com.nimbusds.jose.JWSAlgorithm;
import com.typesafe.config.Config;
import java.net.URI;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;

/**
 * The anchor.auth settings, checked: which single algorithm is accepted and the key it is checked
 * with (an HS256 secret, or a public key file / JWKS URL for tokens an organisation issues itself),
 * issuer, audience and clock skew. Mistakes are IllegalArgumentExceptions naming the variable, so a
 * node refuses to start instead of serving an API nobody can use (or anybody can).
 */
public record AuthConfig(
    boolean enabled,
    JWSAlgorithm algorithm,
    byte[] secret,
    String secretSource,
    Path publicKeyFile,
    URL jwksUrl,
    String issuer,
    String audience,
    Duration clockSkew,
    Duration startupTokenTtl) {

  /**
   * Nimbus refuses shorter HS256 secrets, and so does RFC 7518 (the key must be as long as the
   * hash).
   */
  public static final int MIN_SECRET_BYTES = 32;

  static final Duration MAX_CLOCK_SKEW = Duration.ofMinutes(5);
  private static final Set<JWSAlgorithm> HMAC =
      Set.of(JWSAlgorithm.HS256, JWSAlgorithm.HS384, JWSAlgorithm.HS512);
  private static final Set<JWSAlgorithm> PUBLIC_KEY =
      Set.of(
          JWSAlgorithm.RS256,
          JWSAlgorithm.RS384,
          JWSAlgorithm.RS512,
          JWSAlgorithm.PS256,
          JWSAlgorithm.PS384,
          JWSAlgorithm.PS512,
          JWSAlgorithm.ES256,
          JWSAlgorithm.ES384,
          JWSAlgorithm.ES512);

  public static AuthConfig from(Config root) {
    Config c = root.getConfig("anchor.auth");
    String mode = c.getString("mode").trim().toLowerCase(java.util.Locale.ROOT);
    boolean enabled =
        switch (mode) {
          case "on", "true", "yes", "" -> true;
          case "off", "false", "no" -> false;
          default ->
              throw new IllegalArgumentException(
                  "ANCHOR_AUTH must be on or off, not '" + mode + "'");
        };
    String secretText = c.getString("jwt-secret");
    byte[] secret = secretText.isEmpty() ? null : secretText.getBytes(StandardCharsets.UTF_8);
    String source =
        secretText.isEmpty()
            ? null
            : System.getenv("ANCHOR_JWT_SECRET") != null
                ? "ANCHOR_JWT_SECRET"
                : System.getenv("JWT_SECRET") != null ? "JWT_SECRET" : "anchor.auth.jwt-secret";
    Path keyFile =
        c.getString("public-key-file").isBlank()
            ? null
            : Path.of(c.getString("public-key-file").trim());
    if (keyFile != null && !Files.isReadable(keyFile)) {
      throw new IllegalArgumentException(
          "ANCHOR_JWT_PUBLIC_KEY " + keyFile + " is not a readable file");
    }
    URL jwks = c.getString("jwks-url").isBlank() ? null : url(c.getString("jwks-url").trim());
    Duration skew = c.getDuration("clock-skew");
    if (skew.isNegative() || skew.compareTo(MAX_CLOCK_SKEW) > 0) {
      throw new IllegalArgumentException(
          "ANCHOR_JWT_CLOCK_SKEW must be from 0s to 5m, not " + skew);
    }
    AuthConfig config =
        new AuthConfig(
            enabled,
            algorithm(c.getString("algorithm"), secret != null, keyFile != null || jwks != null),
            secret,
            source,
            keyFile,
            jwks,
            blankToNull(c.getString("issuer")),
            blankToNull(c.getString("audience")),
            skew,
            c.getDuration("startup-token-ttl"));
    config.check();
    return config;
  }

  /** The same settings verifying with {@code secret} (a standalone's generated one). */
  public AuthConfig withSecret(byte[] newSecret, String source) {
    AuthConfig c =
        new AuthConfig(
            enabled,
            JWSAlgorithm.HS256,
            newSecret,
            source,
            null,
            null,
            issuer,
            audience,
            clockSkew,
            startupTokenTtl);
    c.check();
    return c;
  }

  /**
   * Whether tokens can be checked at all: a secret, a public key file or a JWKS URL is configured.
   */
  public boolean hasKey() {
    return hmac() ? secret != null : publicKeyFile != null || jwksUrl != null;
  }

  public boolean hmac() {
    return HMAC.contains(algorithm);
  }

  private void check() {
    // HS384 and HS512 need keys as long as their hashes (48 and 64 bytes); Nimbus would refuse
    // every token otherwise
    int min =
        algorithm.equals(JWSAlgorithm.HS512)
            ? 64
            : algorithm.equals(JWSAlgorithm.HS384) ? 48 : MIN_SECRET_BYTES;
    if (hmac() && secret != null && secret.length < min) {
      throw new IllegalArgumentException(
          secretSource
              + " must be at least "
              + min
              + " bytes for "
              + algorithm
              + " (it has "
              + secret.length
              + "); generate one with: openssl rand -base64 "
              + min);
    }
    if (!hmac() && publicKeyFile == null && jwksUrl == null) {
      throw new IllegalArgumentException(
          "ANCHOR_JWT_ALGORITHM "
              + algorithm
              + " needs ANCHOR_JWT_PUBLIC_KEY (a key file) or ANCHOR_JWT_JWKS_URL");
    }
  }

  private static JWSAlgorithm algorithm(String name, boolean haveSecret, boolean haveKey) {
    String n = name.trim().toUpperCase(java.util.Locale.ROOT);
    if (n.isEmpty()) {
      if (haveSecret && haveKey) {
        throw new IllegalArgumentException(
            "both a JWT secret and a public key are configured: set "
                + "ANCHOR_JWT_ALGORITHM (HS256 for the secret, RS256 or ES256 for the key) to say which tokens to accept");
      }
      return haveKey ? JWSAlgorithm.RS256 : JWSAlgorithm.HS256;
    }
    JWSAlgorithm a = JWSAlgorithm.parse(n);
    if (!HMAC.contains(a) && !PUBLIC_KEY.contains(a)) {
      throw new IllegalArgumentException(
          "ANCHOR_JWT_ALGORITHM '"
              + name.trim()
              + "' is not supported (HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512)");
    }
    return a;
  }

  private static URL url(String s) {
    try {
      URI u = URI.create(s);
      if (!"https".equals(u.getScheme()) && !"http".equals(u.getScheme()))
        throw new IllegalArgumentException();
      return u.toURL();
    } catch (Exception e) {
      throw new IllegalArgumentException("ANCHOR_JWT_JWKS_URL '" + s + "' is not an http(s) URL");
    }
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s.trim();
  }
}
