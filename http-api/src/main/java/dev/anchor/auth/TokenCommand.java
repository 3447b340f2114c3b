package dev.anchor.auth;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;

/**
 * {@code ./anchor token [--roles submit,read,operate] [--ttl 1h] [--sub NAME]}: prints one token
 * signed with the configured secret (ANCHOR_JWT_SECRET / JWT_SECRET, else the one a standalone
 * generated in its data dir), and nothing else on stdout, so {@code TOKEN=$(./anchor token)} works.
 */
public final class TokenCommand {
  private TokenCommand() {}

  public static void main(String[] args) {
    try {
      System.out.println(run(args, ConfigFactory.load()));
    } catch (IllegalArgumentException e) {
      System.err.println("anchor token: " + e.getMessage());
      System.exit(2);
    }
  }

  static String run(String[] args, Config config) {
    Set<ApiRole> roles = ApiRole.parseList("submit,read");
    Duration ttl = Duration.ofHours(1);
    String subject = "cli:" + System.getProperty("user.name", "operator");
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      String value =
          a.contains("=")
              ? a.substring(a.indexOf('=') + 1)
              : i + 1 < args.length ? args[++i] : null;
      String name = a.contains("=") ? a.substring(0, a.indexOf('=')) : a;
      if (value == null) throw new IllegalArgumentException(name + " needs a value\n" + usage());
      switch (name) {
        case "--roles" -> roles = ApiRole.parseList(value);
        case "--ttl" -> ttl = duration(value);
        case "--sub" -> subject = value;
        default -> throw new IllegalArgumentException("unknown option " + name + "\n" + usage());
      }
    }
    if (roles.isEmpty())
      throw new IllegalArgumentException("--roles names no role (submit, read, operate)");
    return new TokenIssuer(signingConfig(config)).issue(subject, roles, ttl);
  }

  /**
   * A short-lived token with every role, signed with the secret this machine has (ANCHOR_JWT_SECRET
   * / JWT_SECRET, or a local standalone's generated one), for the command-line client when
   * ANCHOR_TOKEN is not set; empty without one.
   */
  public static java.util.Optional<String> localToken(Config config) {
    try {
      return java.util.Optional.of(
          new TokenIssuer(signingConfig(config))
              .issue(
                  "cli:" + System.getProperty("user.name", "operator"),
                  ApiRole.parseList("submit,read,operate"),
                  Duration.ofMinutes(30)));
    } catch (RuntimeException e) {
      return java.util.Optional.empty();
    }
  }

  /** The configured secret, else the data dir's generated one; a missing secret is said plainly. */
  static AuthConfig signingConfig(Config config) {
    AuthConfig auth = AuthConfig.from(config);
    if (auth.hasKey() || !auth.hmac()) return auth;
    Path dataDir = Path.of(config.getString("anchor.data-dir")).toAbsolutePath().normalize();
    try {
      return SecretFile.read(dataDir)
          .map(s -> auth.withSecret(s, dataDir.resolve(SecretFile.NAME).toString()))
          .orElseThrow(
              () ->
                  new IllegalArgumentException(
                      "no JWT secret: set ANCHOR_JWT_SECRET (or JWT_SECRET), or "
                          + "start a standalone once so it generates "
                          + dataDir.resolve(SecretFile.NAME)));
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException(
          "cannot read " + dataDir.resolve(SecretFile.NAME) + ": " + e.getMessage());
    }
  }

  /** HOCON durations: 30m, 1h, 7d, 3600s. */
  static Duration duration(String s) {
    try {
      return ConfigFactory.parseString("d = \"" + s.replace("\"", "") + "\"").getDuration("d");
    } catch (ConfigException e) {
      throw new IllegalArgumentException(
          "--ttl '" + s + "' is not a duration such as 30m, 1h or 7d");
    }
  }

  private static String usage() {
    return "usage: ./anchor token [--roles submit,read,operate] [--ttl 1h] [--sub NAME]";
  }
}
