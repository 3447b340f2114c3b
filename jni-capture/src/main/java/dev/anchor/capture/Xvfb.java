package dev.anchor.capture;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A virtual X display: an {@code Xvfb} process on a display number it picks itself ({@code
 * -displayfd}), so several can start at once without racing for a number. Stopped (by its own
 * process handle) by {@link #close()}.
 */
public final class Xvfb implements AutoCloseable {
  private final Process process;
  private final String display;

  private Xvfb(Process process, String display) {
    this.process = process;
    this.display = display;
  }

  /** Whether the Xvfb binary is on the PATH. */
  public static boolean installed() {
    String path = System.getenv("PATH");
    if (path == null) return false;
    for (String dir : path.split(":")) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "Xvfb"))) return true;
    }
    return false;
  }

  /**
   * Starts a {@code width}×{@code height}×24 display and waits (up to 15 s) until it accepts
   * connections.
   */
  public static Xvfb start(int width, int height) throws IOException {
    if (!installed()) throw new IOException("Xvfb is not installed (Debian package xvfb)");
    Process p =
        new ProcessBuilder(
                List.of(
                    "Xvfb",
                    "-displayfd",
                    "1",
                    "-screen",
                    "0",
                    width + "x" + height + "x24",
                    "-nolisten",
                    "tcp",
                    "-noreset"))
            .redirectErrorStream(false)
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    CompletableFuture<String> number =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                BufferedReader r =
                    new BufferedReader(
                        new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII));
                return r.readLine();
              } catch (IOException e) {
                return null;
              }
            });
    try {
      String n = number.get(15, TimeUnit.SECONDS);
      if (n == null || !n.trim().matches("\\d+"))
        throw new IOException("Xvfb did not start (said " + n + ")");
      return new Xvfb(p, ":" + n.trim());
    } catch (Exception e) {
      p.destroyForcibly();
      if (e instanceof IOException io) throw io;
      throw new IOException("Xvfb did not start within 15 s: " + e, e);
    }
  }

  /** Its display name, such as {@code ":1"}. */
  public String display() {
    return display;
  }

  public long pid() {
    return process.pid();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
