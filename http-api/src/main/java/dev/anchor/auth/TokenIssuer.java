package dev.anchor.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Set;
import java.util.UUID;

/**
 * Signs HS256 tokens with the configured secret: what {@code ./anchor token}, a standalone's
 * start-up link, the tests and the benchmarks use. Tokens for RS256/ES256 deployments come from the
 * organisation's own issuer.
 */
public final class TokenIssuer {
  private final AuthConfig config;

  public TokenIssuer(AuthConfig config) {
    if (!config.hmac() || config.secret() == null) {
      throw new IllegalArgumentException(
          "tokens can be signed here only with an HS256 secret (ANCHOR_JWT_SECRET); "
              + "with "
              + config.algorithm()
              + " your identity provider issues them");
    }
    this.config = config;
  }

  public String issue(String subject, Set<ApiRole> roles, Duration ttl) {
    if (ttl.isZero() || ttl.isNegative())
      throw new IllegalArgumentException("ttl must be positive, not " + ttl);
    Instant now = Instant.now();
    JWTClaimsSet.Builder claims =
        new JWTClaimsSet.Builder()
            .subject(subject)
            .issueTime(Date.from(now))
            .expirationTime(Date.from(now.plus(ttl)))
            .jwtID(UUID.randomUUID().toString())
            .claim(
                TokenVerifier.ROLES_CLAIM,
                List.copyOf(roles.stream().sorted().map(ApiRole::claim).toList()));
    if (config.issuer() != null) claims.issuer(config.issuer());
    if (config.audience() != null) claims.audience(config.audience());
    SignedJWT jwt =
        new SignedJWT(
            new JWSHeader.Builder(config.algorithm()).type(JOSEObjectType.JWT).build(),
            claims.build());
    try {
      jwt.sign(new MACSigner(config.secret()));
    } catch (JOSEException e) {
      throw new IllegalStateException("cannot sign a token: " + e.getMessage(), e);
    }
    return jwt.serialize();
  }
}
