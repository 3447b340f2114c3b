package dev.anchor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.typesafe.config.ConfigFactory;
import dev.anchor.auth.TokenCommand;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * The command-line client of the launcher ({@code ./anchor
 * submit|status|logs|cancel|dag|nodes|stats}), speaking the HTTP API of a running node: {@code
 * --server URL} or ANCHOR_SERVER (default {@code http://127.0.0.1:$ANCHOR_PORT}, port 5000), the
 * token in ANCHOR_TOKEN (else one signed with the secret this machine has, as {@code ./anchor
 * token} would), {@code --json} for scripts. Errors are one line on stderr. Exit status: 0 done (a
 * task or DAG that completed), 1 it failed or was cancelled, 2 wrong usage or an unreadable file, 3
 * the server cannot be reached (or did not answer), 4 the server refused the request (4xx: the line
 * names the field), 5 a server error (5xx).
 */
public final class AnchorCli {
  static final int OK = 0, FAILED = 1, USAGE = 2, UNREACHABLE = 3, REFUSED = 4, SERVER = 5;
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final ObjectMapper COMPACT = new ObjectMapper();
  private static final Duration POLL = Duration.ofMillis(500);

  /**
   * A failure that ends the command with {@code status} after printing {@code message} as one line.
   */
  static final class Exit extends RuntimeException {
    final int status;

    Exit(int status, String message) {
      super(message);
      this.status = status;
    }
  }

  private final String server;
  private final String token;
  private final boolean json;
  private final PrintStream out;
  private final PrintStream err;
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  AnchorCli(String server, String token, boolean json, PrintStream out, PrintStream err) {
    this.server = server.endsWith("/") ? server.substring(0, server.length() - 1) : server;
    this.token = token;
    this.json = json;
    this.out = out;
    this.err = err;
  }

  public static void main(String[] args) {
    System.exit(run(args, System.getenv(), System.out, System.err));
  }

  static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err) {
    List<String> rest = new ArrayList<>();
    String server = env.getOrDefault("ANCHOR_SERVER", "");
    String token = env.getOrDefault("ANCHOR_TOKEN", "");
    boolean json = false, wait = false, follow = false;
    try {
      for (int i = 0; i < args.length; i++) {
        String a = args[i];
        switch (a) {
          case "--json" -> json = true;
          case "--wait", "-w" -> wait = true;
          case "--follow", "-f" -> follow = true;
          case "--server", "--token" -> {
            if (i + 1 >= args.length) throw new Exit(USAGE, a + " needs a value");
            if (a.equals("--server")) server = args[++i];
            else token = args[++i];
          }
          case "-h", "--help" -> {
            out.println(usage());
            return OK;
          }
          default -> {
            if (a.startsWith("--server=")) server = a.substring(9);
            else if (a.startsWith("--token=")) token = a.substring(8);
            else if (a.startsWith("-") && a.length() > 1)
              throw new Exit(USAGE, "unknown option " + a + " (try --help)");
            else rest.add(a);
          }
        }
      }
      if (rest.isEmpty()) throw new Exit(USAGE, "no command\n" + usage());
      if (server.isBlank()) {
        String port = env.getOrDefault("ANCHOR_PORT", "");
        if (port.isBlank()) port = env.getOrDefault("PORT", "");
        server = "http://127.0.0.1:" + (port.isBlank() ? "5000" : port.trim());
      }
      if (token.isBlank()) token = TokenCommand.localToken(ConfigFactory.load()).orElse("");
      AnchorCli cli = new AnchorCli(server, token, json, out, err);
      String cmd = rest.get(0);
      List<String> operands = rest.subList(1, rest.size());
      return switch (cmd) {
        case "submit" -> cli.submit(one(operands, "submit TASK.json"), wait);
        case "status" -> cli.status(one(operands, "status ID"));
        case "logs" -> cli.logs(one(operands, "logs ID"), follow);
        case "cancel" -> cli.cancel(one(operands, "cancel ID"));
        case "dag" -> cli.dag(one(operands, "dag DAG.json"), wait);
        case "nodes" -> cli.nodes(none(operands, "nodes"));
        case "stats" -> cli.stats(none(operands, "stats"));
        default -> throw new Exit(USAGE, "unknown command '" + cmd + "' (try --help)");
      };
    } catch (Exit e) {
      err.println("anchor: " + e.getMessage());
      return e.status;
    }
  }

  static String usage() {
    return """
        usage: ./anchor COMMAND [--server URL] [--json]
          submit TASK.json [--wait]   submit a task (- reads stdin); --wait shows its progress, exits with its outcome
          status ID                   a task's (or a DAG's) status, node, attempts, result or error
          logs ID [--follow]          a task's logs; --follow streams its changes (SSE) until it ends
          cancel ID                   cancel a task (or a DAG)
          dag DAG.json [--wait]       schedule a DAG; --wait shows per-node progress, exits with its outcome
          nodes                       the worker nodes: status, load, capacity, reputation, runtimes
          stats                       queue statistics: tasks, DAGs and verified tasks by state, and per node queue
        server: --server or ANCHOR_SERVER (default http://127.0.0.1:$ANCHOR_PORT, 5000); token: ANCHOR_TOKEN
        (else one signed with the local secret, as ./anchor token does)
        exit status: 0 done, 1 task/DAG failed or cancelled, 2 usage, 3 server unreachable, 4 refused (4xx), 5 server error""";
  }

  private static String one(List<String> operands, String form) {
    if (operands.size() != 1) throw new Exit(USAGE, "usage: ./anchor " + form);
    return operands.get(0);
  }

  private static boolean none(List<String> operands, String form) {
    if (!operands.isEmpty()) throw new Exit(USAGE, "usage: ./anchor " + form + " (no operands)");
    return true;
  }

  // ---------------------------------------------------------------- commands

  int submit(String file, boolean wait) {
    JsonNode body = readJson(file);
    JsonNode created = call("POST", "/api/tasks", body);
    String id = created.path("taskId").asText();
    if (!wait) {
      if (json) print(created);
      else out.println(id);
      return OK;
    }
    if (!json) err.println("submitted task " + id);
    return awaitTask(id);
  }

  private int awaitTask(String id) {
    String last = "";
    while (true) {
      JsonNode t = call("GET", "/api/tasks/" + enc(id), null);
      String status = t.path("status").asText();
      String line = "task " + id + ": " + status + where(t);
      if (!json && !line.equals(last)) {
        err.println(line);
        last = line;
      }
      if (isEnd(status)) return endOfTask(t);
      sleep();
    }
  }

  private static String where(JsonNode t) {
    StringBuilder b = new StringBuilder();
    if (t.hasNonNull("nodeId")) b.append(" on ").append(t.path("nodeId").asText());
    if (t.path("attempts").asInt() > 1)
      b.append(" (attempt ").append(t.path("attempts").asInt()).append(')');
    if (t.hasNonNull("waitingReason") && "Queued".equals(t.path("status").asText())) {
      b.append(" — ").append(t.path("waitingReason").asText());
    }
    return b.toString();
  }

  private int endOfTask(JsonNode t) {
    String status = t.path("status").asText();
    if (json) {
      print(t);
    } else if ("Completed".equals(status)) {
      out.println(value(t.get("result")));
    } else {
      err.println(
          "anchor: task "
              + t.path("taskId").asText()
              + " "
              + status.toLowerCase()
              + (t.hasNonNull("error") ? ": " + t.path("error").asText() : ""));
    }
    return "Completed".equals(status) ? OK : FAILED;
  }

  int status(String id) {
    JsonNode t = get("/api/tasks/" + enc(id));
    if (t == null) {
      JsonNode d = get("/api/dag/" + enc(id));
      if (d == null) throw new Exit(REFUSED, "404 id: no task or DAG " + id);
      if (json) print(d);
      else printDag(d);
      return OK;
    }
    if (json) {
      print(t);
      return OK;
    }
    out.println(
        "task      "
            + t.path("taskId").asText()
            + (t.hasNonNull("name") ? "  (" + t.path("name").asText() + ")" : ""));
    out.println("status    " + t.path("status").asText() + where(t));
    out.println(
        "runtime   " + t.path("runtime").asText("?") + ", attempts " + t.path("attempts").asInt());
    if (t.hasNonNull("error")) out.println("error     " + t.path("error").asText());
    if (t.hasNonNull("result")) out.println("result    " + value(t.get("result")));
    return OK;
  }

  int logs(String id, boolean follow) {
    JsonNode t = call("GET", "/api/tasks/" + enc(id), null);
    if (!follow || isEnd(t.path("status").asText())) {
      printLogs(t);
      return OK;
    }
    // the task's change stream: each event carries the task's full view; it ends when the task does
    HttpRequest req =
        request("/api/tasks/" + enc(id) + "/events")
            .header("Accept", "text/event-stream")
            .GET()
            .build();
    HttpResponse<Stream<String>> r;
    try {
      r = http.send(req, HttpResponse.BodyHandlers.ofLines());
    } catch (IOException e) {
      throw unreachable(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Exit(FAILED, "interrupted");
    }
    if (r.statusCode() >= 400) throw refused(r.statusCode(), String.join("\n", r.body().toList()));
    String event = "";
    String lastStatus = "";
    StringBuilder data = new StringBuilder();
    JsonNode view = t;
    Iterator<String> lines = r.body().iterator();
    while (lines.hasNext()) {
      String line = lines.next();
      if (line.startsWith("event:")) {
        event = line.substring(6).trim();
      } else if (line.startsWith("data:")) {
        data.append(line.substring(5).trim());
      } else if (line.isEmpty() && !data.isEmpty()) {
        try {
          view = COMPACT.readTree(data.toString());
        } catch (IOException ignored) {
          // a keep-alive or foreign event
        }
        data.setLength(0);
        String status = view.path("status").asText();
        if (!json && !status.equals(lastStatus))
          err.println("task " + id + ": " + event + " → " + status + where(view));
        lastStatus = status;
        if (json) out.println(view);
        if (isEnd(status)) break;
      }
    }
    if (!json) printLogs(view);
    return OK;
  }

  private void printLogs(JsonNode t) {
    if (json) {
      print(
          COMPACT
              .createObjectNode()
              .put("taskId", t.path("taskId").asText())
              .put("status", t.path("status").asText())
              .put("logs", t.path("logs").asText("")));
    } else {
      String logs = t.path("logs").asText("");
      out.print(logs.endsWith("\n") || logs.isEmpty() ? logs : logs + "\n");
    }
  }

  int cancel(String id) {
    JsonNode t = get("/api/tasks/" + enc(id));
    JsonNode r = call("DELETE", t != null ? "/api/tasks/" + enc(id) : "/api/dag/" + enc(id), null);
    if (json) print(r);
    else out.println((t != null ? "task " : "DAG ") + id + ": " + r.path("status").asText());
    return OK;
  }

  int dag(String file, boolean wait) {
    JsonNode body = readJson(file);
    JsonNode created = call("POST", "/api/dag/schedule", body);
    String id = created.path("dagId").asText();
    if (!wait) {
      if (json) print(created);
      else out.println(id);
      return OK;
    }
    if (!json) err.println("scheduled DAG " + id);
    String last = "";
    while (true) {
      JsonNode d = call("GET", "/api/dag/" + enc(id), null);
      String status = d.path("status").asText();
      String line = progress(d);
      if (!json && !line.equals(last)) {
        err.println(line);
        last = line;
      }
      if (isEnd(status)) {
        if (json) {
          print(d);
        } else if ("Completed".equals(status)) {
          out.println(value(d.get("result")));
        } else {
          err.println(
              "anchor: DAG "
                  + id
                  + " "
                  + status.toLowerCase()
                  + (d.hasNonNull("error") ? ": " + d.path("error").asText() : ""));
        }
        return "Completed".equals(status) ? OK : FAILED;
      }
      sleep();
    }
  }

  /** "dag X: Running 2/4 completed; running process_1, process_2; failed -" */
  static String progress(JsonNode d) {
    List<String> running = new ArrayList<>(), failed = new ArrayList<>();
    int completed = 0;
    for (JsonNode n : d.path("steps")) {
      switch (n.path("status").asText()) {
        case "Running" -> running.add(n.path("id").asText());
        case "Completed" -> completed++;
        case "Failed" -> failed.add(n.path("id").asText());
        default -> {}
      }
    }
    return "dag "
        + d.path("dagId").asText()
        + ": "
        + d.path("status").asText()
        + ", "
        + completed
        + "/"
        + d.path("steps").size()
        + " completed"
        + (running.isEmpty() ? "" : ", running " + String.join(", ", running))
        + (failed.isEmpty() ? "" : ", failed " + String.join(", ", failed));
  }

  private void printDag(JsonNode d) {
    out.println(progress(d));
    for (JsonNode n : d.path("steps")) {
      out.printf(
          "  %-20s %-10s %s%n",
          n.path("id").asText(),
          n.path("status").asText(),
          n.hasNonNull("error")
              ? n.path("error").asText()
              : n.hasNonNull("result") ? abbreviate(value(n.get("result"))) : "");
    }
    if (d.hasNonNull("result")) out.println("result " + value(d.get("result")));
  }

  int nodes(boolean unused) {
    JsonNode nodes = call("GET", "/api/nodes", null);
    if (json) {
      print(nodes);
      return OK;
    }
    out.printf(
        "%-24s %-10s %7s %5s %5s %6s %-7s %s%n",
        "NODE", "STATUS", "JOBS", "CPU%", "RAM%", "REPUT", "DOCKER", "RUNTIMES");
    for (JsonNode n : nodes) {
      JsonNode m = n.path("metrics"), s = n.path("specs");
      String flags =
          (n.path("cordoned").asBoolean() ? ",cordoned" : "")
              + (n.path("quarantined").asBoolean() ? ",quarantined" : "");
      out.printf(
          "%-24s %-10s %7s %5.0f %5.0f %6s %-7s %s%n",
          n.path("nodeId").asText(),
          n.path("status").asText() + flags,
          m.path("runningTasks").asInt() + "/" + s.path("capacity").asInt(),
          m.path("cpuUsage").asDouble(),
          m.path("ramUsage").asDouble(),
          n.hasNonNull("reputation") ? String.format("%.2f", n.path("reputation").asDouble()) : "-",
          m.path("hasDocker").asBoolean() ? "yes" : "no",
          String.join(",", strings(s.path("runtimes"))));
    }
    return OK;
  }

  int stats(boolean unused) {
    JsonNode s = call("GET", "/api/queue/stats", null);
    if (json) {
      print(s);
      return OK;
    }
    for (String k : List.of("tasks", "dag", "consensus")) {
      StringBuilder b = new StringBuilder(String.format("%-10s", k));
      s.path(k)
          .fields()
          .forEachRemaining(
              e -> b.append(' ').append(e.getKey()).append('=').append(e.getValue().asLong()));
      out.println(b);
    }
    out.printf(
        "%-28s %8s %8s %10s %8s %8s %8s%n",
        "QUEUE", "WAITING", "ACTIVE", "COMPLETED", "FAILED", "DELAYED", "DEAD");
    s.path("queues").fields().forEachRemaining(e -> row(e.getKey(), e.getValue()));
    row("total", s.path("total"));
    return OK;
  }

  private void row(String name, JsonNode c) {
    out.printf(
        "%-28s %8d %8d %10d %8d %8d %8d%n",
        name,
        c.path("waiting").asLong(),
        c.path("active").asLong(),
        c.path("completed").asLong(),
        c.path("failed").asLong(),
        c.path("delayed").asLong(),
        c.path("deadLettered").asLong());
  }

  // ---------------------------------------------------------------- HTTP

  private HttpRequest.Builder request(String path) {
    HttpRequest.Builder b;
    try {
      b = HttpRequest.newBuilder(URI.create(server + path));
    } catch (IllegalArgumentException e) {
      throw new Exit(USAGE, "bad server address '" + server + "': " + e.getMessage());
    }
    if (!token.isBlank()) b.header("Authorization", "Bearer " + token);
    return b;
  }

  /** GET that answers null for a 404 (and fails like {@link #call} on anything else). */
  private JsonNode get(String path) {
    HttpResponse<String> r = send("GET", path, null);
    if (r.statusCode() == 404) return null;
    return parse(r);
  }

  private JsonNode call(String method, String path, JsonNode body) {
    return parse(send(method, path, body));
  }

  private HttpResponse<String> send(String method, String path, JsonNode body) {
    HttpRequest.Builder b = request(path).timeout(Duration.ofSeconds(30));
    if (body != null) {
      b.header("Content-Type", "application/json")
          .method(method, HttpRequest.BodyPublishers.ofString(body.toString()));
    } else {
      b.method(method, HttpRequest.BodyPublishers.noBody());
    }
    try {
      return http.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw unreachable(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Exit(FAILED, "interrupted");
    }
  }

  private Exit unreachable(IOException e) {
    String why =
        e instanceof HttpConnectTimeoutException
            ? "connection timed out"
            : e instanceof HttpTimeoutException
                ? "no answer within 30 s"
                : e instanceof ConnectException
                    ? "connection refused"
                    : Objects.requireNonNullElse(e.getMessage(), e.getClass().getSimpleName());
    return new Exit(
        UNREACHABLE,
        "cannot reach "
            + server
            + " ("
            + why
            + "); is a node running there? (--server or ANCHOR_SERVER)");
  }

  private JsonNode parse(HttpResponse<String> r) {
    if (r.statusCode() >= 400) throw refused(r.statusCode(), r.body());
    try {
      return COMPACT.readTree(r.body());
    } catch (IOException e) {
      throw new Exit(
          SERVER, "the server answered " + r.statusCode() + " with something that is not JSON");
    }
  }

  /**
   * "401 Authorization: invalid token: …" — the status, the field the server named, its message.
   */
  private Exit refused(int status, String body) {
    String field = null, message = body == null ? "" : body.strip();
    try {
      JsonNode e = COMPACT.readTree(body);
      if (e.hasNonNull("error")) message = e.path("error").asText();
      if (e.hasNonNull("field")) field = e.path("field").asText();
    } catch (IOException notJson) {
      // the raw body
    }
    if (message.length() > 300) message = message.substring(0, 300) + "…";
    String hint =
        status == 401 && (token.isBlank())
            ? " (set ANCHOR_TOKEN, e.g. export ANCHOR_TOKEN=$(./anchor token))"
            : "";
    return new Exit(
        status >= 500 ? SERVER : REFUSED,
        status + (field == null ? "" : " " + field) + ": " + message + hint);
  }

  // ---------------------------------------------------------------- helpers

  private static JsonNode readJson(String file) {
    try {
      // relative to the caller's directory (the launcher changes to its own before starting the
      // JVM)
      String text =
          file.equals("-")
              ? new String(System.in.readAllBytes(), StandardCharsets.UTF_8)
              : Files.readString(Path.of(System.getProperty("anchor.cwd", "")).resolve(file));
      return COMPACT.readTree(text);
    } catch (NoSuchFileException e) {
      throw new Exit(USAGE, "no such file: " + file);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new Exit(USAGE, file + " is not valid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new Exit(USAGE, "cannot read " + file + ": " + e.getMessage());
    }
  }

  private static boolean isEnd(String status) {
    return status.equals("Completed") || status.equals("Failed") || status.equals("Cancelled");
  }

  private static String value(JsonNode v) {
    if (v == null || v.isNull()) return "null";
    return v.isTextual() ? v.asText() : v.toString();
  }

  private static String abbreviate(String s) {
    return s.length() > 60 ? s.substring(0, 60) + "…" : s;
  }

  private static List<String> strings(JsonNode arr) {
    List<String> out = new ArrayList<>();
    for (JsonNode n : arr) out.add(n.asText());
    return out;
  }

  private static String enc(String id) {
    return java.net.URLEncoder.encode(id, StandardCharsets.UTF_8).replace("+", "%20");
  }

  private void print(JsonNode n) {
    try {
      out.println(JSON.writeValueAsString(n));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void sleep() {
    try {
      Thread.sleep(POLL.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Exit(FAILED, "interrupted");
    }
  }
}
