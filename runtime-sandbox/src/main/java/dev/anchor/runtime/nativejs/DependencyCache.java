package dev.anchor.runtime.nativejs;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * npm installs shared by NATIVE tasks: one directory per dependency set, named by the hash of the
 * sorted specs, installed once. Concurrent tasks (threads, and other worker processes on the same
 * cache) serialise on a lock file per set; an install happens in a temporary directory that is
 * renamed into place only when complete, so a reader never sees a half-installed set.
 */
final class DependencyCache {
  /**
   * Registry package specs only: a name (optionally scoped) and an optional version range; no
   * paths, URLs, git.
   */
  private static final Pattern SPEC =
      Pattern.compile("(@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]*(@[A-Za-z0-9.^~<>=*|+ -]+)?");

  private static final long INSTALL_TIMEOUT_MS = 300_000;

  /**
   * Why an install failed; {@code userError} when the dependency itself is wrong rather than npm or
   * the network.
   */
  static final class InstallException extends Exception {
    final boolean userError;

    InstallException(String message, boolean userError) {
      super(message);
      this.userError = userError;
    }
  }

  private final Path root;
  private final String npm;
  private final Map<String, Object> locks = new ConcurrentHashMap<>();

  DependencyCache(Path root, String npm) {
    this.root = root;
    this.npm = npm;
  }

  static void validate(List<String> specs) throws InstallException {
    for (String s : specs) {
      if (s == null || s.length() > 214 || !SPEC.matcher(s).matches() || s.contains("..")) {
        throw new InstallException(
            "dependency '" + s + "' is not a registry package spec like name or name@version",
            true);
      }
    }
  }

  static String key(List<String> specs) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      for (String s : new TreeSet<>(specs))
        md.update((s.trim() + "\n").getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(md.digest()).substring(0, 32);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The node_modules directory holding {@code specs}, installing them first if needed. */
  Path ensure(List<String> specs) throws InstallException, IOException, InterruptedException {
    validate(specs);
    String key = key(specs);
    Path sets = Files.createDirectories(root.resolve("sets"));
    Path done = sets.resolve(key);
    if (Files.isDirectory(done)) return done.resolve("node_modules");
    synchronized (locks.computeIfAbsent(key, k -> new Object())) {
      try (FileChannel ch =
              FileChannel.open(
                  sets.resolve(key + ".lock"),
                  StandardOpenOption.CREATE,
                  StandardOpenOption.WRITE);
          FileLock ignored = ch.lock()) {
        if (Files.isDirectory(done)) return done.resolve("node_modules");
        Path tmp =
            Files.createDirectories(root.resolve("tmp").resolve(key + "-" + UUID.randomUUID()));
        try {
          install(tmp, new ArrayList<>(new TreeSet<>(specs)));
          Files.createDirectories(tmp.resolve("node_modules"));
          try {
            Files.move(tmp, done, StandardCopyOption.ATOMIC_MOVE);
          } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, done);
          }
        } finally {
          NativeRunner.deleteTree(tmp);
        }
        return done.resolve("node_modules");
      }
    }
  }

  private void install(Path dir, List<String> specs)
      throws InstallException, IOException, InterruptedException {
    Files.writeString(
        dir.resolve("package.json"),
        "{\"name\":\"anchor-task-deps\",\"version\":\"1.0.0\",\"private\":true}\n");
    List<String> cmd =
        new ArrayList<>(
            List.of(
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
                "--no-package-lock",
                "--loglevel=error",
                "--"));
    cmd.addAll(specs);
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
    NativeRunner.scrubEnvironment(pb.environment(), dir);
    pb.environment().put("npm_config_cache", root.resolve("npm").toString());
    pb.environment().put("npm_config_update_notifier", "false");
    Path log = dir.resolve("npm.log");
    pb.redirectOutput(log.toFile());
    Process p = pb.start();
    p.getOutputStream().close();
    if (!p.waitFor(INSTALL_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
      ProcessTree.kill(p);
      throw new InstallException(
          "npm install did not finish within " + INSTALL_TIMEOUT_MS / 1000 + " s", false);
    }
    if (p.exitValue() != 0) {
      String out = Files.readString(log, StandardCharsets.UTF_8);
      boolean notFound =
          out.contains("E404")
              || out.contains("ETARGET")
              || out.contains("EINVALIDTAGNAME")
              || out.contains("EINVALIDPACKAGENAME");
      throw new InstallException(
          "npm install "
              + String.join(" ", specs)
              + " failed: "
              + out.strip()
                  .lines()
                  .limit(8)
                  .reduce((a, b) -> a + " | " + b)
                  .orElse("exit " + p.exitValue()),
          notFound);
    }
  }
}
