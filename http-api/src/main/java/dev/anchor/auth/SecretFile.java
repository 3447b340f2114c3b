package dev.anchor.auth;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Optional;

/**
 * A standalone's own HS256 secret, {@code <data-dir>/jwt-secret}: made once (32 random bytes,
 * base64url, readable by the owner only) and kept, so tokens stay valid across restarts and {@code
 * ./anchor token} can sign with it.
 */
public final class SecretFile {
  public static final String NAME = "jwt-secret";

  private SecretFile() {}

  public static Optional<byte[]> read(Path dataDir) throws IOException {
    Path f = dataDir.resolve(NAME);
    if (!Files.exists(f)) return Optional.empty();
    return Optional.of(
        Files.readString(f, StandardCharsets.UTF_8).trim().getBytes(StandardCharsets.UTF_8));
  }

  public static byte[] loadOrCreate(Path dataDir) throws IOException {
    Optional<byte[]> existing = read(dataDir);
    if (existing.isPresent()) return existing.get();
    Files.createDirectories(dataDir);
    byte[] random = new byte[32];
    new SecureRandom().nextBytes(random);
    String text = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
    Path f = dataDir.resolve(NAME);
    try {
      // created with owner-only permissions, so the secret is never readable by others, not even
      // for a moment
      Files.createFile(
          f, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      Files.writeString(
          f, text + "\n", StandardCharsets.UTF_8, StandardOpenOption.TRUNCATE_EXISTING);
    } catch (FileAlreadyExistsException raced) {
      return read(dataDir).orElseThrow();
    } catch (UnsupportedOperationException notPosix) {
      Files.writeString(f, text + "\n", StandardCharsets.UTF_8);
    }
    return text.getBytes(StandardCharsets.UTF_8);
  }
}
