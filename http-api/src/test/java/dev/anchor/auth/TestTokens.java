package dev.anchor.auth;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Tokens of every kind a test needs, good and bad, signed with Nimbus as any other issuer would.
 */
public final class TestTokens {
  public static final String SECRET = "test-secret-0123456789-0123456789-abcdef";
  public static final String ISSUER = "https://issuer.test";
  public static final String AUDIENCE = "anchor-api";

  private TestTokens() {}

  /** anchor.auth with the test secret, issuer and audience, and otherwise the packaged defaults. */
  public static AuthConfig config(Map<String, Object> overrides) {
    Map<String, Object> m =
        new HashMap<>(
            Map.of(
                "anchor.auth.mode",
                "on",
                "anchor.auth.jwt-secret",
                SECRET,
                "anchor.auth.issuer",
                ISSUER,
                "anchor.auth.audience",
                AUDIENCE,
                "anchor.auth.clock-skew",
                "30s",
                "anchor.auth.public-key-file",
                "",
                "anchor.auth.jwks-url",
                "",
                "anchor.auth.algorithm",
                ""));
    m.putAll(overrides);
    Config c = ConfigFactory.parseMap(m).withFallback(ConfigFactory.load());
    return AuthConfig.from(c);
  }

  public static JWTClaimsSet.Builder claims(String... roles) {
    Instant now = Instant.now();
    return new JWTClaimsSet.Builder()
        .subject("tester")
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .issueTime(Date.from(now))
        .expirationTime(Date.from(now.plus(Duration.ofMinutes(10))))
        .claim("roles", List.of(roles));
  }

  public static String hs256(JWTClaimsSet claims, String secret) {
    return sign(JWSAlgorithm.HS256, claims, mac(secret));
  }

  public static String sign(JWSAlgorithm alg, JWTClaimsSet claims, JWSSigner signer) {
    try {
      SignedJWT jwt =
          new SignedJWT(new JWSHeader.Builder(alg).type(JOSEObjectType.JWT).build(), claims);
      jwt.sign(signer);
      return jwt.serialize();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static MACSigner mac(String secret) {
    try {
      return new MACSigner(secret.getBytes(StandardCharsets.UTF_8));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  public static String valid(String... roles) {
    return hs256(claims(roles).build(), SECRET);
  }
}
