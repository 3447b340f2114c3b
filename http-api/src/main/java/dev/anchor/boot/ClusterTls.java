package dev.anchor.boot;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.Collections;
import java.util.Map;
import java.util.Optional;

/**
 * Cluster membership that needs credentials: Pekko Artery over TLS ({@code transport = tls-tcp})
 * with mutual authentication, from the key store and trust store named by ANCHOR_TLS_*. A JVM whose
 * certificate the cluster's trust store does not trust fails the TLS handshake and never becomes a
 * member. The stores are opened here first, so a wrong path or password stops the start with one
 * line naming the variable instead of a handshake failing later.
 */
record ClusterTls(
    Path keyStore,
    String keyStorePassword,
    String keyPassword,
    Path trustStore,
    String trustStorePassword,
    boolean hostnameVerification) {

  /** Empty when no key store is configured: plain TCP, as a standalone needs. */
  static Optional<ClusterTls> from(Config root) {
    Config c = root.getConfig("anchor.cluster-tls");
    String ks = c.getString("key-store").trim();
    String ts = c.getString("trust-store").trim();
    if (ks.isEmpty()) {
      if (!ts.isEmpty()) {
        throw new IllegalArgumentException(
            "ANCHOR_TLS_TRUSTSTORE is set but ANCHOR_TLS_KEYSTORE is not: cluster TLS "
                + "needs this JVM's own certificate too (members authenticate each other)");
      }
      return Optional.empty();
    }
    String ksPass = c.getString("key-store-password");
    String keyPass = c.getString("key-password").isEmpty() ? ksPass : c.getString("key-password");
    String tsPass =
        c.getString("trust-store-password").isEmpty()
            ? ksPass
            : c.getString("trust-store-password");
    ClusterTls tls =
        new ClusterTls(
            Path.of(ks).toAbsolutePath(),
            ksPass,
            keyPass,
            Path.of(ts.isEmpty() ? ks : ts).toAbsolutePath(),
            tsPass,
            c.getBoolean("hostname-verification"));
    tls.check();
    return Optional.of(tls);
  }

  private void check() {
    KeyStore keys =
        open(keyStore, keyStorePassword, "ANCHOR_TLS_KEYSTORE", "ANCHOR_TLS_KEYSTORE_PASSWORD");
    try {
      boolean hasKey = false;
      for (String alias : Collections.list(keys.aliases())) hasKey |= keys.isKeyEntry(alias);
      if (!hasKey) {
        throw new IllegalArgumentException(
            "ANCHOR_TLS_KEYSTORE "
                + keyStore
                + " holds no private key (this JVM's "
                + "certificate and key; see README \"Cluster membership\")");
      }
    } catch (java.security.KeyStoreException e) {
      throw new IllegalArgumentException("ANCHOR_TLS_KEYSTORE " + keyStore + ": " + e.getMessage());
    }
    KeyStore trust =
        open(
            trustStore,
            trustStorePassword,
            "ANCHOR_TLS_TRUSTSTORE",
            "ANCHOR_TLS_TRUSTSTORE_PASSWORD");
    try {
      if (trust.size() == 0)
        throw new IllegalArgumentException("ANCHOR_TLS_TRUSTSTORE " + trustStore + " is empty");
    } catch (java.security.KeyStoreException e) {
      throw new IllegalArgumentException(
          "ANCHOR_TLS_TRUSTSTORE " + trustStore + ": " + e.getMessage());
    }
  }

  private static KeyStore open(
      Path file, String password, String variable, String passwordVariable) {
    if (!Files.isReadable(file))
      throw new IllegalArgumentException(variable + " " + file + " is not a readable file");
    // PKCS12 (keytool's default) or JKS: the JDK's default key store type reads both
    try (InputStream in = Files.newInputStream(file)) {
      KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
      ks.load(in, password.toCharArray());
      return ks;
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException(
          variable
              + " "
              + file
              + " cannot be opened (is "
              + passwordVariable
              + " right?): "
              + e.getMessage());
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalArgumentException(
          variable + " " + file + " cannot be read: " + e.getMessage());
    }
  }

  /** The Pekko settings: Artery's own TLS engine, mutual authentication on, TLS 1.3 only. */
  Config pekkoConfig() {
    String p = "pekko.remote.artery.ssl.config-ssl-engine.";
    return ConfigFactory.parseMap(
            Map.of(
                "pekko.remote.artery.transport",
                "tls-tcp",
                p + "key-store",
                keyStore.toString(),
                p + "key-store-password",
                keyStorePassword,
                p + "key-password",
                keyPassword,
                p + "trust-store",
                trustStore.toString(),
                p + "trust-store-password",
                trustStorePassword,
                p + "protocol",
                "TLSv1.3",
                p + "require-mutual-authentication",
                "on",
                p + "hostname-verification",
                hostnameVerification ? "on" : "off"))
        .withValue(
            p + "enabled-algorithms",
            ConfigValueFactory.fromIterable(
                java.util.List.of("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384")));
  }
}
