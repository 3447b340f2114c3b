package dev.anchor.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * Debian's headless Chromium driven over the DevTools protocol with the JDK's own WebSocket client:
 * no Selenium, no driver binary and no browser download, just {@code /usr/bin/chromium}. Enough for
 * end-to-end checks: open a page, evaluate JavaScript in it, wait for a condition, take a
 * screenshot; page errors are collected for the test to show.
 */
final class HeadlessChromium implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> CANDIDATES =
      List.of("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome");

  private final Process process;
  private final Path profile;
  private final WebSocket socket;
  private final AtomicInteger ids = new AtomicInteger();
  private final Map<Integer, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();

  /** Uncaught exceptions and console errors of the page, in order. */
  final List<String> pageErrors = Collections.synchronizedList(new ArrayList<>());

  /**
   * The browser binary, or null when none is installed (the caller skips with a message saying so).
   */
  static String executable() {
    return CANDIDATES.stream().filter(p -> Files.isExecutable(Path.of(p))).findFirst().orElse(null);
  }

  HeadlessChromium(int width, int height) throws Exception {
    String exe = executable();
    if (exe == null) throw new IllegalStateException("no Chromium at " + CANDIDATES);
    profile = Files.createTempDirectory("anchor-chromium");
    process =
        new ProcessBuilder(
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
                "--user-data-dir=" + profile,
                "--window-size=" + width + "," + height,
                "about:blank")
            .redirectErrorStream(true)
            .redirectOutput(profile.resolve("chromium.log").toFile())
            .start();
    try {
      int port = devToolsPort(Duration.ofSeconds(30));
      HttpClient http = HttpClient.newHttpClient();
      JsonNode targets =
          JSON.readTree(
              http.send(
                      HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/json/list"))
                          .build(),
                      HttpResponse.BodyHandlers.ofString())
                  .body());
      String ws = null;
      for (JsonNode t : targets)
        if ("page".equals(t.path("type").asText())) ws = t.path("webSocketDebuggerUrl").asText();
      if (ws == null) throw new IllegalStateException("Chromium shows no page target: " + targets);
      socket =
          http.newWebSocketBuilder()
              .buildAsync(URI.create(ws), new Listener())
              .get(10, TimeUnit.SECONDS);
      call("Runtime.enable", Map.of());
      call("Page.enable", Map.of());
      // a headless page is never the focused window; keyboard tests need it to behave as if it were
      call("Emulation.setFocusEmulationEnabled", Map.of("enabled", true));
    } catch (Exception e) {
      close();
      throw e;
    }
  }

  /** Chromium writes the port it chose into DevToolsActivePort in its profile once it listens. */
  private int devToolsPort(Duration timeout) throws Exception {
    Path file = profile.resolve("DevToolsActivePort");
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) throw new IllegalStateException("Chromium exited: " + log());
      if (Files.exists(file)) {
        List<String> lines = Files.readAllLines(file);
        if (!lines.isEmpty() && !lines.get(0).isBlank())
          return Integer.parseInt(lines.get(0).trim());
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException(
        "Chromium did not open its DevTools port in " + timeout + ": " + log());
  }

  String log() {
    try {
      return Files.readString(profile.resolve("chromium.log"));
    } catch (IOException e) {
      return "(no log)";
    }
  }

  JsonNode call(String method, Map<String, Object> params) throws Exception {
    int id = ids.incrementAndGet();
    CompletableFuture<JsonNode> reply = new CompletableFuture<>();
    pending.put(id, reply);
    ObjectNode msg = JSON.createObjectNode().put("id", id).put("method", method);
    msg.set("params", JSON.valueToTree(params));
    socket.sendText(JSON.writeValueAsString(msg), true).get(10, TimeUnit.SECONDS);
    JsonNode r = reply.get(60, TimeUnit.SECONDS);
    if (r.has("error")) throw new IllegalStateException(method + ": " + r.get("error"));
    return r.path("result");
  }

  void navigate(String url) throws Exception {
    call("Page.navigate", Map.of("url", url));
  }

  /** The value of a JavaScript expression in the page (a Promise is awaited). */
  JsonNode eval(String expression) throws Exception {
    JsonNode r =
        call(
            "Runtime.evaluate",
            Map.of("expression", expression, "returnByValue", true, "awaitPromise", true));
    if (r.has("exceptionDetails"))
      throw new IllegalStateException(
          "page threw on " + expression + ": " + r.get("exceptionDetails"));
    return r.path("result").path("value");
  }

  /**
   * Waits until the expression is truthy in the page; fails with what the page showed and its
   * errors.
   */
  void waitFor(String what, String expression, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    Exception last = null;
    while (System.nanoTime() < deadline) {
      try {
        JsonNode v = eval("!!(" + expression + ")");
        if (v.asBoolean()) return;
        last = null;
      } catch (IllegalStateException e) {
        last = e; // the page may be between documents during a navigation
      }
      Thread.sleep(150);
    }
    String text;
    try {
      text = eval("document.body ? document.body.innerText.slice(0, 3000) : '(no body)'").asText();
    } catch (Exception e) {
      text = "(page unreadable: " + e + ")";
    }
    throw new AssertionError(
        "timed out after "
            + timeout
            + " waiting for "
            + what
            + (last == null ? "" : " (" + last + ")")
            + "\npage errors: "
            + pageErrors
            + "\npage text:\n"
            + text);
  }

  /**
   * A real key press (Tab, Enter) as the keyboard sends it, so focus moves and links follow as for
   * a user.
   */
  void press(String key) throws Exception {
    int code =
        switch (key) {
          case "Tab" -> 9;
          case "Enter" -> 13;
          default -> throw new IllegalArgumentException(key);
        };
    Map<String, Object> down =
        new java.util.HashMap<>(
            Map.of("type", "keyDown", "key", key, "code", key, "windowsVirtualKeyCode", code));
    if (code == 13) down.put("text", "\r");
    call("Input.dispatchKeyEvent", down);
    call(
        "Input.dispatchKeyEvent",
        Map.of("type", "keyUp", "key", key, "code", key, "windowsVirtualKeyCode", code));
  }

  /**
   * The axe-core accessibility violations of the page as it is now (WCAG 2 A and AA rules and axe's
   * best practices: labels, names, contrast, keyboard focus, landmarks), one line each with the
   * elements concerned; axe is loaded into the page on first use.
   */
  List<String> accessibilityViolations() throws Exception {
    if (!eval("typeof window.axe === 'object'").asBoolean()) {
      try (var in =
          new java.util.zip.GZIPInputStream(
              java.util.Objects.requireNonNull(
                  HeadlessChromium.class.getResourceAsStream("/axe/axe.min.js.gz"),
                  "axe/axe.min.js.gz on the test class path"))) {
        call(
            "Runtime.evaluate",
            Map.of(
                "expression",
                new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8)));
      }
    }
    JsonNode found =
        eval(
            "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', "
                + "'wcag21aa', 'best-practice']}})"
                + ".then(r => ({passed: r.passes.length, violations: r.violations.map(v => v.id + ' (' + v.impact + '): '"
                + " + v.help + ': ' + v.nodes.slice(0, 4).map(n => n.target.join(' ')).join(' | '))}))");
    // a checker that checked nothing (not loaded, wrong document) must not read as a clean page
    if (found.path("passed").asInt() == 0)
      throw new IllegalStateException("axe checked nothing: " + found);
    List<String> out = new ArrayList<>();
    found.path("violations").forEach(v -> out.add(v.asText()));
    return out;
  }

  void screenshot(Path file) throws Exception {
    JsonNode r =
        call("Page.captureScreenshot", Map.of("format", "png", "captureBeyondViewport", true));
    Files.createDirectories(file.getParent());
    Files.write(file, Base64.getDecoder().decode(r.path("data").asText()));
  }

  @Override
  public void close() {
    if (socket != null) socket.abort();
    process.destroy();
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS))
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    try (Stream<Path> files = Files.walk(profile)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // a temp directory left behind is not worth failing a test over
    }
  }

  private final class Listener implements WebSocket.Listener {
    private final StringBuilder partial = new StringBuilder();

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      partial.append(data);
      if (last) {
        String text = partial.toString();
        partial.setLength(0);
        try {
          JsonNode msg = JSON.readTree(text);
          if (msg.has("id")) {
            CompletableFuture<JsonNode> f = pending.remove(msg.get("id").asInt());
            if (f != null) f.complete(msg);
          } else {
            event(msg.path("method").asText(), msg.path("params"));
          }
        } catch (IOException e) {
          pageErrors.add("unreadable DevTools message: " + e);
        }
      }
      ws.request(1);
      return null;
    }

    @Override
    public void onError(WebSocket ws, Throwable error) {
      pending.values().forEach(f -> f.completeExceptionally(error));
    }
  }

  private void event(String method, JsonNode params) {
    if (method.equals("Runtime.exceptionThrown")) {
      JsonNode d = params.path("exceptionDetails");
      pageErrors.add(
          "exception: " + d.path("exception").path("description").asText(d.path("text").asText()));
    } else if (method.equals("Runtime.consoleAPICalled")
        && params.path("type").asText().equals("error")) {
      StringBuilder b = new StringBuilder("console.error:");
      for (JsonNode a : params.path("args"))
        b.append(' ').append(a.path("value").asText(a.path("description").asText()));
      pageErrors.add(b.toString());
    }
  }
}
