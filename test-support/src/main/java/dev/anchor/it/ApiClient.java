package dev.anchor.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * The one HTTP client of the end-to-end tests and benches: a node's REST API with a bearer token,
 * JSON in and out, and the waits on tasks and nodes that every scenario needs (all through {@link
 * Poll}).
 */
public final class ApiClient {
  public static final ObjectMapper JSON = new ObjectMapper();

  /**
   * HTTP/1.1, which is what the API speaks: no h2c upgrade headers on each new connection (the
   * hostile-input tests send exactly the request they mean).
   */
  public static final HttpClient HTTP =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();

  /** How long a request may wait for its answer unless {@link #withTimeout} says otherwise. */
  public static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(20);

  /** The states a task does not leave. */
  public static final List<String> ENDED = List.of("Completed", "Failed", "Cancelled");

  private final String base;
  private final String token;
  private final Supplier<String> diagnostics;
  private final Duration timeout;

  /**
   * A client of the API at {@code base} (e.g. {@code http://127.0.0.1:5000}); {@code diagnostics}
   * (the node's log) is added to the message of a wait that times out.
   */
  public ApiClient(String base, String token, Supplier<String> diagnostics) {
    this(base, token, diagnostics, REQUEST_TIMEOUT);
  }

  private ApiClient(String base, String token, Supplier<String> diagnostics, Duration timeout) {
    this.base = base;
    this.token = token;
    this.diagnostics = diagnostics;
    this.timeout = timeout;
  }

  /**
   * A client sending no token, of anything served over HTTP: an app's URL, the management port
   * ({@code http://127.0.0.1:PORT}), the open routes of a node.
   */
  public static ApiClient anonymous(String base) {
    return new ApiClient(base, null, null);
  }

  /** The same node with another token (e.g. one with fewer roles, or a garbage one). */
  public ApiClient withToken(String otherToken) {
    return new ApiClient(base, otherToken, diagnostics, timeout);
  }

  /** The same node without a token, as a browser or a client that was given none calls it. */
  public ApiClient withoutToken() {
    return new ApiClient(base, null, diagnostics, timeout);
  }

  /**
   * The same node with requests that fail (an {@link java.net.http.HttpTimeoutException}) unless
   * answered within {@code answerWithin}: for tests where a slow answer is itself the failure.
   */
  public ApiClient withTimeout(Duration answerWithin) {
    return new ApiClient(base, token, diagnostics, answerWithin);
  }

  public String url(String path) {
    return base + path;
  }

  public String token() {
    return token;
  }

  /** A request to {@code path} carrying the token, as every client of a secured API sends it. */
  public HttpRequest.Builder request(String path) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url(path))).timeout(timeout);
    return token == null ? b : b.header("Authorization", "Bearer " + token);
  }

  public HttpResponse<String> send(HttpRequest request) throws IOException, InterruptedException {
    return HTTP.send(request, HttpResponse.BodyHandlers.ofString());
  }

  /**
   * Sends {@code request} and returns once the headers are in: the body (an event stream stays
   * open) is the caller's to read and close.
   */
  public HttpResponse<InputStream> stream(HttpRequest request)
      throws IOException, InterruptedException {
    return HTTP.send(request, HttpResponse.BodyHandlers.ofInputStream());
  }

  /** {@code method path} with a JSON {@code body}, or none when it is {@code null}. */
  public HttpResponse<String> send(String method, String path, String body)
      throws IOException, InterruptedException {
    HttpRequest.Builder b = request(path);
    if (body != null) b.header("Content-Type", "application/json");
    return send(
        b.method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body))
            .build());
  }

  public HttpResponse<String> get(String path) throws IOException, InterruptedException {
    return send(request(path).GET().build());
  }

  public HttpResponse<String> post(String path, String json)
      throws IOException, InterruptedException {
    return send(
        request(path)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json))
            .build());
  }

  public HttpResponse<String> delete(String path) throws IOException, InterruptedException {
    return send(request(path).DELETE().build());
  }

  /** GET {@code path}, which must answer 200, as JSON. */
  public JsonNode json(String path) throws IOException, InterruptedException {
    HttpResponse<String> r = get(path);
    if (r.statusCode() != 200)
      throw new AssertionError("GET " + path + " answered " + r.statusCode() + ": " + r.body());
    return JSON.readTree(r.body());
  }

  public static JsonNode json(HttpResponse<String> r) throws IOException {
    return JSON.readTree(r.body());
  }

  // ------------------------------------------------------------------ tasks

  /** POST /api/tasks, which must answer 201; the new task's id. */
  public String submit(String taskJson) throws IOException, InterruptedException {
    HttpResponse<String> r = post("/api/tasks", taskJson);
    if (r.statusCode() != 201)
      throw new AssertionError("submit answered " + r.statusCode() + ": " + r.body());
    return JSON.readTree(r.body()).path("taskId").asText();
  }

  /** GET /api/tasks/ID as JSON (a missing task reads as an empty object). */
  public JsonNode task(String id) throws IOException, InterruptedException {
    HttpResponse<String> r = get("/api/tasks/" + id);
    return r.statusCode() == 200 ? JSON.readTree(r.body()) : JSON.createObjectNode();
  }

  public static String status(JsonNode task) {
    return task.path("status").asText();
  }

  /** Polls the task until {@code done} accepts it. */
  public JsonNode awaitTask(String id, Duration timeout, Predicate<JsonNode> done)
      throws Exception {
    return withDiagnostics(
        () ->
            Poll.until(
                "task " + id,
                timeout,
                () -> {
                  HttpResponse<String> r = get("/api/tasks/" + id);
                  if (r.statusCode() != 200)
                    throw new IOException("GET answered " + r.statusCode());
                  return JSON.readTree(r.body());
                },
                done));
  }

  /** Polls until the task ended (Completed, Failed or Cancelled). */
  public JsonNode awaitEnd(String id, Duration timeout) throws Exception {
    return awaitTask(id, timeout, t -> ENDED.contains(status(t)));
  }

  /** Polls until the task has {@code status}; ending in another state fails at once. */
  public JsonNode awaitStatus(String id, String status, Duration timeout) throws Exception {
    JsonNode t = awaitTask(id, timeout, v -> ENDED.contains(status(v)) || status.equals(status(v)));
    if (!status.equals(status(t)))
      throw new AssertionError("task " + id + " ended " + status(t) + ", not " + status + ": " + t);
    return t;
  }

  /**
   * Polls GET /api/tasks (the listing, which does not touch the task's entity) until the task shows
   * {@code status}.
   */
  public JsonNode awaitListed(String id, String status, Duration timeout) throws Exception {
    return withDiagnostics(
        () ->
            Poll.until(
                "task " + id + " " + status + " in the listing",
                timeout,
                () -> {
                  for (JsonNode t : json("/api/tasks?limit=100"))
                    if (id.equals(t.path("taskId").asText())) return t;
                  return JSON.createObjectNode();
                },
                t -> status.equals(status(t))));
  }

  /**
   * Polls until at least one of {@code ids} is Running on {@code nodeId}; answers all that are (a
   * test that freezes or kills that node then knows it held running jobs).
   */
  public List<String> awaitRunningOn(List<String> ids, String nodeId, Duration timeout)
      throws Exception {
    return withDiagnostics(
        () ->
            Poll.until(
                "a task running on " + nodeId,
                timeout,
                () -> {
                  List<String> running = new java.util.ArrayList<>();
                  for (String id : ids) {
                    JsonNode t = task(id);
                    if (status(t).equals("Running") && t.path("nodeId").asText().equals(nodeId))
                      running.add(id);
                  }
                  return running;
                },
                running -> !running.isEmpty()));
  }

  /** How many of {@code ids} are Completed now. */
  public long completed(List<String> ids) throws IOException, InterruptedException {
    long n = 0;
    for (String id : ids) if (status(task(id)).equals("Completed")) n++;
    return n;
  }

  /**
   * Polls until at least {@code atLeast} of {@code ids} are Completed (a GET per task each round,
   * so every 500 ms rather than {@link Poll#INTERVAL}: a loaded coordinator is not kept busier).
   */
  public void awaitCompleted(List<String> ids, long atLeast, Duration timeout) throws Exception {
    withDiagnostics(
        () ->
            Poll.until(
                atLeast + " of " + ids.size() + " tasks completed",
                timeout,
                Duration.ofMillis(500),
                () -> completed(ids),
                n -> n >= atLeast));
  }

  // ------------------------------------------------------------------ DAGs

  /** Polls GET /api/dag/ID until the DAG ended (Completed, Failed or Cancelled). */
  public JsonNode awaitDagEnd(String dagId, Duration timeout) throws Exception {
    // a node busy with a thousand tasks may answer slowly (a timed-out GET counts as "not yet")
    return withDiagnostics(
        () ->
            Poll.until(
                "DAG " + dagId + " ended",
                timeout,
                () -> {
                  HttpResponse<String> r = get("/api/dag/" + dagId);
                  if (r.statusCode() != 200)
                    throw new IOException("GET answered " + r.statusCode());
                  return JSON.readTree(r.body());
                },
                dag -> ENDED.contains(status(dag))));
  }

  // ------------------------------------------------------------------ health

  /**
   * Polls GET /health of a running node until {@code done} accepts its JSON; every answer must be
   * 200 when it says healthy and 503 when not, and must come within this client's request timeout
   * (see {@link #withTimeout}): either failing ends the wait at once.
   */
  public JsonNode awaitHealth(String what, Duration timeout, Predicate<JsonNode> done)
      throws Exception {
    return withDiagnostics(
        () ->
            Poll.until(
                "/health: " + what,
                timeout,
                Duration.ofMillis(100),
                () -> {
                  HttpResponse<String> r;
                  JsonNode h;
                  try {
                    r = get("/health");
                    h = JSON.readTree(r.body());
                  } catch (IOException e) {
                    throw new AssertionError("/health did not answer (in time): " + e, e);
                  }
                  if (r.statusCode() != (h.path("healthy").asBoolean() ? 200 : 503))
                    throw new AssertionError("/health answered " + r.statusCode() + ": " + h);
                  return h;
                },
                done));
  }

  // ------------------------------------------------------------------ nodes

  /** GET /api/nodes. */
  public JsonNode nodes() throws IOException, InterruptedException {
    return json("/api/nodes");
  }

  /** One entry of GET /api/nodes (an empty object when the node is not listed). */
  public JsonNode node(String nodeId) throws IOException, InterruptedException {
    for (JsonNode n : nodes()) if (n.path("nodeId").asText().equals(nodeId)) return n;
    return JSON.createObjectNode();
  }

  /** The node's status in GET /api/nodes, or "absent". */
  public String nodeStatus(String nodeId) throws IOException, InterruptedException {
    JsonNode n = node(nodeId);
    return n.has("status") ? n.path("status").asText() : "absent";
  }

  /** Polls GET /api/nodes until at least {@code count} nodes are Online. */
  public void awaitOnline(int count, Duration timeout) throws Exception {
    withDiagnostics(
        () ->
            Poll.until(
                count + " online nodes",
                timeout,
                this::nodes,
                nodes -> {
                  int n = 0;
                  for (JsonNode node : nodes)
                    if (node.path("status").asText().equals("Online")) n++;
                  return n >= count;
                }));
  }

  /** Polls GET /api/nodes until node {@code nodeId} has {@code status} ("absent" when unlisted). */
  public void awaitNodeStatus(String nodeId, String status, Duration timeout) throws Exception {
    withDiagnostics(
        () -> Poll.until(nodeId + " " + status, timeout, () -> nodeStatus(nodeId), status::equals));
  }

  // ------------------------------------------------------------------ apps

  /** GET /api/clusters/ID as JSON (an app that is not known reads as an empty object). */
  public JsonNode app(String appId) throws IOException, InterruptedException {
    HttpResponse<String> r = get("/api/clusters/" + appId);
    return r.statusCode() == 200 ? JSON.readTree(r.body()) : JSON.createObjectNode();
  }

  /** Polls GET /api/clusters/ID until {@code done} accepts the app ({@code what} names it). */
  public JsonNode awaitApp(String appId, String what, Duration timeout, Predicate<JsonNode> done)
      throws Exception {
    return withDiagnostics(
        () -> Poll.until("app " + appId + " " + what, timeout, () -> app(appId), done));
  }

  private interface Wait<T> {
    T run() throws Exception;
  }

  private <T> T withDiagnostics(Wait<T> wait) throws Exception {
    try {
      return wait.run();
    } catch (AssertionError e) {
      if (diagnostics == null) throw e;
      AssertionError withLog = new AssertionError(e.getMessage() + "\n" + diagnostics.get(), e);
      throw withLog;
    }
  }
}
