package dev.anchor.runtime.js;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The worker's handle on one JS child JVM: sends it a task at a time and waits for the answer. */
final class JsChildProcess {
  private static final Logger log = LoggerFactory.getLogger(JsChildProcess.class);

  /** The child ended while a task was in flight. */
  static final class ChildDiedException extends Exception {
    final int exitCode;

    ChildDiedException(int exitCode, String stderrTail) {
      super(
          "JS child JVM exited with code "
              + exitCode
              + (stderrTail.isEmpty() ? "" : ": " + stderrTail));
      this.exitCode = exitCode;
    }
  }

  private final Process process;
  private final DataOutputStream toChild;
  private final CompletableFuture<JsWire.Ready> ready = new CompletableFuture<>();
  private final Deque<String> stderrTail = new ArrayDeque<>();
  private volatile CompletableFuture<JsReply> pending;
  private volatile boolean dead;

  private JsChildProcess(Process process) {
    this.process = process;
    this.toChild =
        new DataOutputStream(new BufferedOutputStream(process.getOutputStream(), 1 << 16));
    DataInputStream fromChild =
        new DataInputStream(new BufferedInputStream(process.getInputStream(), 1 << 16));
    Thread reader = new Thread(() -> readLoop(fromChild), "js-child-" + process.pid() + "-out");
    reader.setDaemon(true);
    reader.start();
    Thread err = new Thread(this::drainStderr, "js-child-" + process.pid() + "-err");
    err.setDaemon(true);
    err.start();
  }

  static JsChildProcess start(List<String> command) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.redirectInput(ProcessBuilder.Redirect.PIPE);
    return new JsChildProcess(pb.start());
  }

  long pid() {
    return process.pid();
  }

  JsWire.Ready awaitReady(long timeoutMs) throws Exception {
    try {
      return ready.get(timeoutMs, TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw (Exception) e.getCause();
    }
  }

  boolean alive() {
    return !dead && process.isAlive();
  }

  /** Runs one task; {@code waitMs} is the worker's backstop behind the child's own deadline. */
  JsReply run(JsRequest req, long waitMs)
      throws TimeoutException, ChildDiedException, InterruptedException {
    CompletableFuture<JsReply> f = new CompletableFuture<>();
    pending = f;
    if (dead) throw died();
    try {
      JsWire.writeRun(toChild, req);
    } catch (IOException e) {
      throw died();
    }
    try {
      return f.get(waitMs, TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw died();
    } finally {
      pending = null;
    }
  }

  void cancel(String jobId) {
    try {
      JsWire.writeCancel(toChild, jobId);
    } catch (IOException ignored) {
      // The child is gone; its run already fails.
    }
  }

  void kill() {
    dead = true;
    process.destroyForcibly();
    try {
      process.waitFor(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private ChildDiedException died() throws InterruptedException {
    process.waitFor(5, TimeUnit.SECONDS);
    int code = process.isAlive() ? -1 : process.exitValue();
    return new ChildDiedException(code, stderrTail());
  }

  private void readLoop(DataInputStream in) {
    try {
      while (true) {
        switch (JsWire.read(in)) {
          case JsWire.Ready r -> ready.complete(r);
          case JsWire.Done d -> {
            CompletableFuture<JsReply> f = pending;
            if (f != null) f.complete(d.reply());
          }
          default -> throw new IOException("unexpected frame from child");
        }
      }
    } catch (IOException e) {
      dead = true;
      IOException gone =
          new IOException("JS child JVM " + process.pid() + " ended: " + stderrTail());
      ready.completeExceptionally(gone);
      CompletableFuture<JsReply> f = pending;
      if (f != null) f.completeExceptionally(gone);
    }
  }

  private void drainStderr() {
    try (BufferedReader r =
        new BufferedReader(
            new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        if (line.startsWith("WARNING:")) continue;
        log.debug("js child {}: {}", process.pid(), line);
        synchronized (stderrTail) {
          stderrTail.addLast(line);
          if (stderrTail.size() > 10) stderrTail.removeFirst();
        }
      }
    } catch (IOException ignored) {
      // child ended
    }
  }

  private String stderrTail() {
    synchronized (stderrTail) {
      return String.join(" | ", stderrTail);
    }
  }

  void closeGracefully() {
    try {
      toChild.close();
      if (!process.waitFor(2, TimeUnit.SECONDS)) kill();
    } catch (IOException | InterruptedException e) {
      kill();
    }
    dead = true;
  }
}
