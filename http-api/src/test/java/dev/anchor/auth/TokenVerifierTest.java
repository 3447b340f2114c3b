package dev.anchor.auth;

import static org.junit.jupiter.api.Assertions.*;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jwt.PlainJWT;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The token checks on their own: every way a token can be wrong, for HS256, RS256 (PEM) and ES256
 * (JWK set).
 */
class TokenVerifierTest {
  @TempDir Path tmp;

  private final TokenVerifier hs = verifier(TestTokens.config(Map.of()));

  private static TokenVerifier verifier(AuthConfig c) {
    try {
      return new TokenVerifier(c);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private String refused(TokenVerifier v, String token) {
    return assertThrows(InvalidTokenException.class, () -> v.verify(token)).getMessage();
  }

  @Test
  void aValidTokenGivesItsSubjectAndRoles() throws Exception {
    Principal p = hs.verify(TestTokens.valid("read", "submit", "someone-elses-role"));
    assertEquals("tester", p.subject());
    assertEquals(Set.of(ApiRole.READ, ApiRole.SUBMIT), p.roles());
    Principal spaced =
        hs.verify(
            TestTokens.hs256(
                TestTokens.claims().claim("roles", "operate read").build(), TestTokens.SECRET));
    assertEquals(Set.of(ApiRole.OPERATE, ApiRole.READ), spaced.roles());
  }

  @Test
  void everyBadTokenIsRefused() throws Exception {
    refused(hs, "");
    assertTrue(refused(hs, "not-a-jwt").startsWith("malformed"));
    refused(
        hs,
        TestTokens.hs256(
            TestTokens.claims("read").build(), "another-secret-0123456789-0123456789-xyz"));
    refused(hs, new PlainJWT(TestTokens.claims("read").build()).serialize());
    Instant now = Instant.now();
    assertTrue(
        refused(
                hs,
                TestTokens.hs256(
                    TestTokens.claims("read")
                        .expirationTime(Date.from(now.minusSeconds(120)))
                        .build(),
                    TestTokens.SECRET))
            .contains("Expired"));
    refused(
        hs,
        TestTokens.hs256(
            TestTokens.claims("read").notBeforeTime(Date.from(now.plusSeconds(120))).build(),
            TestTokens.SECRET));
    refused(
        hs,
        TestTokens.hs256(
            TestTokens.claims("read").audience("someone-else").build(), TestTokens.SECRET));
    refused(
        hs,
        TestTokens.hs256(
            TestTokens.claims("read").issuer("https://evil.test").build(), TestTokens.SECRET));
    assertTrue(
        refused(
                hs,
                TestTokens.hs256(
                    TestTokens.claims("read").expirationTime(null).build(), TestTokens.SECRET))
            .contains("exp"));
    // the configured algorithm only: a valid HS512 signature with the same secret is still refused
    refused(
        hs,
        TestTokens.sign(
            JWSAlgorithm.HS512,
            TestTokens.claims("read").build(),
            new MACSigner((TestTokens.SECRET + TestTokens.SECRET).getBytes())));
  }

  @Test
  void clockSkewWithinTheBoundIsTolerated() throws Exception {
    Instant now = Instant.now();
    hs.verify(
        TestTokens.hs256(
            TestTokens.claims("read").expirationTime(Date.from(now.minusSeconds(5))).build(),
            TestTokens.SECRET));
    assertThrows(
        IllegalArgumentException.class,
        () -> TestTokens.config(Map.of("anchor.auth.clock-skew", "1h")));
  }

  @Test
  void shortSecretsAndUnknownAlgorithmsStopTheStart() {
    assertTrue(
        assertThrows(
                IllegalArgumentException.class,
                () -> TestTokens.config(Map.of("anchor.auth.jwt-secret", "short")))
            .getMessage()
            .contains("32 bytes"));
    assertThrows(
        IllegalArgumentException.class,
        () -> TestTokens.config(Map.of("anchor.auth.algorithm", "none")));
    assertTrue(
        assertThrows(
                IllegalArgumentException.class,
                () -> TestTokens.config(Map.of("anchor.auth.algorithm", "HS512")))
            .getMessage()
            .contains("64 bytes"));
    assertThrows(
        IllegalArgumentException.class,
        () -> TestTokens.config(Map.of("anchor.auth.mode", "maybe")));
  }

  @Test
  void rs256FromAPemKeyRefusesAnHs256TokenMadeWithThatKey() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
    g.initialize(2048);
    KeyPair kp = g.generateKeyPair();
    Path pem = tmp.resolve("public.pem");
    Files.writeString(
        pem,
        "-----BEGIN PUBLIC KEY-----\n"
            + Base64.getMimeEncoder().encodeToString(kp.getPublic().getEncoded())
            + "\n-----END PUBLIC KEY-----\n");
    TokenVerifier rs =
        verifier(
            TestTokens.config(
                Map.of(
                    "anchor.auth.jwt-secret", "", "anchor.auth.public-key-file", pem.toString())));
    String good =
        TestTokens.sign(
            JWSAlgorithm.RS256,
            TestTokens.claims("operate").build(),
            new RSASSASigner(kp.getPrivate()));
    assertEquals(Set.of(ApiRole.OPERATE), rs.verify(good).roles());
    // the classic confusion: the public key (known to anyone) used as an HMAC secret
    String forged =
        TestTokens.sign(
            JWSAlgorithm.HS256,
            TestTokens.claims("operate").build(),
            new MACSigner(Files.readAllBytes(pem)));
    refused(rs, forged);
    // and the other way round: an HS256 deployment refuses RS256 tokens
    refused(hs, good);
  }

  @Test
  void es256FromAJwkSet() throws Exception {
    ECKey key = new ECKeyGenerator(Curve.P_256).keyID("k1").generate();
    Path jwks = tmp.resolve("keys.json");
    Files.writeString(jwks, new JWKSet(key.toPublicJWK()).toString());
    TokenVerifier es =
        verifier(
            TestTokens.config(
                Map.of(
                    "anchor.auth.jwt-secret",
                    "",
                    "anchor.auth.algorithm",
                    "ES256",
                    "anchor.auth.public-key-file",
                    jwks.toString())));
    var header = new com.nimbusds.jose.JWSHeader.Builder(JWSAlgorithm.ES256).keyID("k1").build();
    var jwt = new com.nimbusds.jwt.SignedJWT(header, TestTokens.claims("read").build());
    jwt.sign(new ECDSASigner(key));
    assertEquals(Set.of(ApiRole.READ), es.verify(jwt.serialize()).roles());
  }

  @Test
  void theIssuerSignsWhatTheVerifierAccepts() throws Exception {
    AuthConfig c = TestTokens.config(Map.of());
    String t =
        new TokenIssuer(c)
            .issue("ops", Set.of(ApiRole.OPERATE, ApiRole.READ), Duration.ofMinutes(5));
    Principal p = verifier(c).verify(t);
    assertEquals("ops", p.subject());
    assertEquals(Set.of(ApiRole.OPERATE, ApiRole.READ), p.roles());
  }

  @Test
  void theTokenCommandSignsWithTheDataDirsSecret() throws Exception {
    byte[] secret = SecretFile.loadOrCreate(tmp);
    assertArrayEquals(secret, SecretFile.loadOrCreate(tmp), "kept, not regenerated");
    assertEquals(
        "rw-------",
        java.nio.file.attribute.PosixFilePermissions.toString(
            Files.getPosixFilePermissions(tmp.resolve(SecretFile.NAME))));
    var config =
        com.typesafe.config.ConfigFactory.parseMap(
                Map.of(
                    "anchor.auth.jwt-secret",
                    "",
                    "anchor.data-dir",
                    tmp.toString(),
                    "anchor.auth.issuer",
                    "",
                    "anchor.auth.audience",
                    "",
                    "anchor.auth.public-key-file",
                    "",
                    "anchor.auth.jwks-url",
                    "",
                    "anchor.auth.algorithm",
                    ""))
            .withFallback(com.typesafe.config.ConfigFactory.load());
    String token = TokenCommand.run(new String[] {"--roles", "operate,read", "--ttl=2h"}, config);
    AuthConfig verifying = AuthConfig.from(config).withSecret(secret, "test");
    Principal p = verifier(verifying).verify(token);
    assertEquals(Set.of(ApiRole.OPERATE, ApiRole.READ), p.roles());
    assertTrue(p.expiresAt().isAfter(Instant.now().plus(Duration.ofMinutes(119))));
    assertThrows(
        IllegalArgumentException.class,
        () -> TokenCommand.run(new String[] {"--roles", "admin"}, config));
    assertThrows(
        IllegalArgumentException.class,
        () -> TokenCommand.run(new String[] {"--ttl", "soon"}, config));
  }
}
