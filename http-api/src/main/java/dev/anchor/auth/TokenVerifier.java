package dev.anchor.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.KeySourceException;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.source.ImmutableJWKSet;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.JWSKeySelector;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jose.proc.SingleKeyJWSKeySelector;
import com.nimbusds.jose.util.X509CertUtils;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.text.ParseException;
import java.time.Instant;
import java.util.Base64;
import java.util.Collection;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import javax.crypto.spec.SecretKeySpec;

/**
 * Checks bearer tokens with Nimbus JOSE+JWT: the signature with the one configured algorithm and
 * key (a token naming any other algorithm, {@code none} included, is refused before its signature
 * is looked at), {@code exp} required, {@code nbf} when present, {@code iss}/{@code aud} when
 * configured, clocks off by at most the configured skew.
 */
public final class TokenVerifier {
  /**
   * The claim holding the roles: a JSON array of names, or one string of names separated by commas
   * or spaces.
   */
  public static final String ROLES_CLAIM = "roles";

  private final DefaultJWTProcessor<SecurityContext> processor = new DefaultJWTProcessor<>();

  public TokenVerifier(AuthConfig config) throws IOException {
    processor.setJWSKeySelector(keySelector(config));
    JWTClaimsSet exact =
        config.issuer() == null
            ? new JWTClaimsSet.Builder().build()
            : new JWTClaimsSet.Builder().issuer(config.issuer()).build();
    DefaultJWTClaimsVerifier<SecurityContext> claims =
        new DefaultJWTClaimsVerifier<>(
            config.audience() == null ? null : Set.of(config.audience()),
            exact,
            Set.of("exp"),
            null);
    claims.setMaxClockSkew((int) config.clockSkew().toSeconds());
    processor.setJWTClaimsSetVerifier(claims);
  }

  /**
   * The token's principal, or why it is refused. A JWKS endpoint that cannot be reached is a {@link
   * KeysUnavailableException}: the client's token may be fine, so that is not its fault.
   */
  public Principal verify(String token) throws InvalidTokenException {
    if (token == null || token.isBlank()) throw new InvalidTokenException("no bearer token");
    // clients send the same token with every request: once its signature and claims checked out,
    // only its expiry
    // can change the answer (there is no revocation), so a verified token is remembered until it
    // expires
    Principal known = verified.get(token);
    if (known != null) {
      if (known.expiresAt().isAfter(Instant.now())) return known;
      verified.remove(token);
    }
    Principal p = check(token);
    if (verified.size() >= MAX_REMEMBERED) verified.clear();
    verified.put(token, p);
    return p;
  }

  private static final int MAX_REMEMBERED = 10_000;
  private final java.util.concurrent.ConcurrentHashMap<String, Principal> verified =
      new java.util.concurrent.ConcurrentHashMap<>();

  private Principal check(String token) throws InvalidTokenException {
    JWTClaimsSet claims;
    try {
      claims = processor.process(token.trim(), null);
    } catch (ParseException e) {
      throw new InvalidTokenException("malformed token: " + e.getMessage(), e);
    } catch (KeySourceException e) {
      throw new KeysUnavailableException(
          "the keys to check tokens with cannot be fetched: " + e.getMessage(), e);
    } catch (BadJOSEException | JOSEException e) {
      throw new InvalidTokenException(e.getMessage(), e);
    }
    Instant exp = claims.getExpirationTime().toInstant();
    return new Principal(
        claims.getSubject() == null ? "anonymous" : claims.getSubject(), roles(claims), exp);
  }

  /** Names this API does not know (a token issued for several systems) are ignored, not refused. */
  static Set<ApiRole> roles(JWTClaimsSet claims) {
    Object value = claims.getClaim(ROLES_CLAIM);
    Collection<?> names =
        value instanceof Collection<?> c
            ? c
            : value instanceof String s ? List.of(s.split("[,\\s]+")) : List.of();
    Set<ApiRole> roles = EnumSet.noneOf(ApiRole.class);
    for (Object n : names) {
      try {
        if (n instanceof String s && !s.isBlank()) roles.add(ApiRole.parse(s));
      } catch (IllegalArgumentException notOurs) {
        // someone else's role
      }
    }
    return roles;
  }

  private static JWSKeySelector<SecurityContext> keySelector(AuthConfig config) throws IOException {
    JWSAlgorithm alg = config.algorithm();
    if (config.hmac()) {
      return new SingleKeyJWSKeySelector<>(
          alg, new SecretKeySpec(config.secret(), "Hmac" + alg.getName().replace("HS", "SHA")));
    }
    if (config.jwksUrl() != null) {
      // cached and refreshed by Nimbus; a key rotated at the issuer is found on its next refresh or
      // on an unknown kid
      JWKSource<SecurityContext> source =
          JWKSourceBuilder.<SecurityContext>create(config.jwksUrl()).retrying(true).build();
      return new JWSVerificationKeySelector<>(alg, source);
    }
    String text = Files.readString(config.publicKeyFile(), StandardCharsets.UTF_8).trim();
    if (text.startsWith("{")) {
      // a JWK set (or one JWK): keys are matched by kid and algorithm
      try {
        JWKSet set = text.contains("\"keys\"") ? JWKSet.parse(text) : new JWKSet(JWK.parse(text));
        return new JWSVerificationKeySelector<>(alg, new ImmutableJWKSet<>(set));
      } catch (ParseException e) {
        throw new IllegalArgumentException(
            "ANCHOR_JWT_PUBLIC_KEY "
                + config.publicKeyFile()
                + " is not a JWK set: "
                + e.getMessage());
      }
    }
    return new SingleKeyJWSKeySelector<>(alg, pemPublicKey(text, alg, config));
  }

  /**
   * A PEM "PUBLIC KEY" (SubjectPublicKeyInfo) or "CERTIFICATE"; the JDK decodes it, no extra
   * provider needed.
   */
  private static PublicKey pemPublicKey(String pem, JWSAlgorithm alg, AuthConfig config) {
    try {
      if (pem.contains("BEGIN CERTIFICATE")) {
        var cert = X509CertUtils.parse(pem);
        if (cert == null) throw new IllegalArgumentException("unreadable certificate");
        return cert.getPublicKey();
      }
      if (!pem.contains("BEGIN PUBLIC KEY"))
        throw new IllegalArgumentException("no BEGIN PUBLIC KEY block");
      String b64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
      String family = JWSAlgorithm.Family.EC.contains(alg) ? "EC" : "RSA";
      PublicKey key =
          KeyFactory.getInstance(family)
              .generatePublic(new X509EncodedKeySpec(Base64.getDecoder().decode(b64)));
      // the key's own type must fit the algorithm, or no token could ever pass
      if (family.equals("RSA"))
        new RSAKey.Builder((java.security.interfaces.RSAPublicKey) key).build();
      else
        new ECKey.Builder(
                com.nimbusds.jose.jwk.Curve.forJWSAlgorithm(alg).iterator().next(),
                (java.security.interfaces.ECPublicKey) key)
            .build();
      return key;
    } catch (Exception e) {
      throw new IllegalArgumentException(
          "ANCHOR_JWT_PUBLIC_KEY "
              + config.publicKeyFile()
              + " is not a PEM "
              + (JWSAlgorithm.Family.EC.contains(alg) ? "EC" : "RSA")
              + " public key or certificate for "
              + alg
              + ": "
              + e.getMessage());
    }
  }

  /** The keys to check with (a JWKS endpoint) cannot be had right now: answered 503, not 401. */
  public static final class KeysUnavailableException extends RuntimeException {
    KeysUnavailableException(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
