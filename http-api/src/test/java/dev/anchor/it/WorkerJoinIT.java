package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The newcomer's path to a second machine: a standalone prints the command that adds a worker, and
 * that command alone ({@code ANCHOR_SEED_NODES=host:port ./anchor worker}, no Redis URI) gives a
 * worker that learns the queue from the cluster and takes work at once, without starting or
 * disturbing any Redis. A worker that cannot learn the queue refuses to start and says what is
 * missing.
 */
@org.junit.jupiter.api.Timeout(value = 10, unit = TimeUnit.MINUTES)
class WorkerJoinIT {
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;
  final List<AnchorProcess> processes = new ArrayList<>();

  @AfterEach
  void stopAll() throws Exception {
    for (AnchorProcess p : processes) p.close();
  }

  @Test
  void thePrintedCommandAddsAWorkerThatTakesWork() throws Exception {
    AnchorProcess standalone =
        AnchorProcess.start(
            "standalone",
            tmp.resolve("data"),
            AnchorProcess.freePort(),
            AnchorProcess.env("ANCHOR_JS_WORKERS", "1"));
    processes.add(standalone);
    standalone.awaitHealthy(Duration.ofMinutes(3));
    String out =
        awaitOutput(standalone, Pattern.compile("ANCHOR_SEED_NODES=(\\S+) \\./anchor worker"));
    Matcher m = Pattern.compile("ANCHOR_SEED_NODES=(\\S+) \\./anchor worker").matcher(out);
    assertTrue(m.find(), out);
    String seeds = m.group(1);
    Matcher id = Pattern.compile("node id:\\s+(\\S+)").matcher(out);
    assertTrue(id.find(), "the standalone prints its node id:\n" + out);
    String standaloneId = id.group(1);
    assertTrue(out.contains("HTTP:     http://127.0.0.1:" + standalone.httpPort), out);
    long redisPid =
        Long.parseLong(Files.readString(tmp.resolve("data/redis/anchor-redis.pid")).trim());

    // exactly the printed command, in the standalone's own data directory (the default ./data of a
    // newcomer who
    // runs both from one checkout): nothing about Redis
    AnchorProcess worker =
        AnchorProcess.start(
            "worker",
            tmp.resolve("data"),
            AnchorProcess.freePort(),
            AnchorProcess.env(
                "ANCHOR_SEED_NODES",
                seeds,
                "ANCHOR_NODE_NAME",
                "second-machine",
                "ANCHOR_JS_WORKERS",
                "1"));
    processes.add(worker);
    awaitOnline(standalone, "second-machine");
    assertTrue(
        ProcessHandle.of(redisPid).map(ProcessHandle::isAlive).orElse(false),
        "the standalone's Redis still runs:\n" + worker.output());
    assertTrue(worker.output().contains("learned from the coordinator"), worker.output());
    assertFalse(
        worker.output().contains("embedded redis-server"),
        "the worker started no Redis:\n" + worker.output());

    // only the worker may take work: the task must run there
    HttpResponse<String> cordon = standalone.post("/api/nodes/" + standaloneId + "/cordon", "");
    assertEquals(200, cordon.statusCode(), cordon.body());
    HttpResponse<String> r =
        standalone.post(
            "/api/tasks",
            "{\"payload\":{\"runtime\":\"js\",\"sourceCode\":\"input.n * 2\"},\"input\":{\"n\":21}}");
    assertEquals(201, r.statusCode(), r.body());
    String taskId = JSON.readTree(r.body()).path("taskId").asText();
    JsonNode task = awaitEnded(standalone, taskId);
    assertEquals("Completed", task.path("status").asText(), task + "\n" + worker.output());
    assertEquals(42, task.path("result").asInt());
    assertEquals("second-machine", task.path("nodeId").asText());

    // after the worker left and the standalone restarted, the worker is still listed (Offline) as
    // its entity knows
    // it, and the embedded Redis is back on the same port (a worker that learned it can reconnect)
    String port = Files.readString(tmp.resolve("data/redis/port")).trim();
    worker.close();
    standalone.close();
    AnchorProcess again =
        AnchorProcess.start(
            "standalone",
            tmp.resolve("data"),
            standalone.httpPort,
            AnchorProcess.env(
                "ANCHOR_JS_WORKERS",
                "1",
                "ANCHOR_CLUSTER_PORT",
                seeds.substring(seeds.indexOf(':') + 1)));
    processes.add(again);
    again.awaitHealthy(Duration.ofMinutes(3));
    assertEquals(port, Files.readString(tmp.resolve("data/redis/port")).trim());
    assertTrue(
        again.output().contains(":" + port + " ") || again.output().contains("port " + port),
        again.output());
    String offline =
        Poll.until(
            "second-machine listed Offline after the restart",
            Duration.ofSeconds(60),
            () -> again.get("/api/nodes?status=offline").body(),
            body -> body.contains("second-machine"));
    assertTrue(
        offline.contains("\"second-machine\""), "listed Offline after the restart: " + offline);
    for (JsonNode n : JSON.readTree(offline))
      assertEquals("Offline", n.path("status").asText(), offline);
    assertEquals(200, again.get("/api/nodes/second-machine").statusCode());
    assertEquals(400, again.get("/api/nodes?status=Bogus").statusCode());
  }

  @Test
  void aWorkerThatCannotLearnTheQueueRefusesToStart() throws Exception {
    int nobody = AnchorProcess.freePort();
    AnchorProcess worker =
        AnchorProcess.start(
            "worker",
            tmp.resolve("w"),
            AnchorProcess.freePort(),
            AnchorProcess.env(
                "ANCHOR_SEED_NODES",
                "127.0.0.1:" + nobody,
                "ANCHOR_QUEUE_DISCOVERY_TIMEOUT",
                "5s"));
    processes.add(worker);
    assertTrue(
        worker.waitForExit(Duration.ofMinutes(2)), "the worker gave up:\n" + worker.output());
    assertEquals(2, worker.process.exitValue(), worker.output());
    String out = worker.output();
    assertTrue(
        out.contains("anchor: this worker has no job queue: ANCHOR_REDIS_URI is unset"), out);
    assertTrue(out.contains("127.0.0.1:" + nobody), "names the seeds it tried:\n" + out);
    assertFalse(out.contains("embedded redis-server"), out);
    assertFalse(Files.exists(tmp.resolve("w/redis")), "no Redis files of its own");
  }

  private static String awaitOutput(AnchorProcess p, Pattern pattern) throws Exception {
    return Poll.until(
        pattern + " in the output",
        Duration.ofSeconds(60),
        p::output,
        out -> pattern.matcher(out).find());
  }

  private static void awaitOnline(AnchorProcess c, String nodeId) throws Exception {
    Poll.until(
        nodeId + " Online",
        Duration.ofSeconds(150),
        () -> c.api().nodeStatus(nodeId),
        "Online"::equals);
  }

  private static JsonNode awaitEnded(AnchorProcess c, String taskId) throws Exception {
    return c.api().awaitEnd(taskId, Duration.ofSeconds(120));
  }
}
