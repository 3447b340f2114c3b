package dev.anchor.http;

import static org.apache.pekko.http.javadsl.server.Directives.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.Route;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The submit bounds over real HTTP on loopback: submits that would wait are answered 503 with
 * Retry-After at once, a freed slot admits again, and reads are never gated. The "journal" here is
 * a future the test completes.
 */
class AdmissionTest {
  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private static final List<CompletableFuture<org.apache.pekko.http.javadsl.model.HttpResponse>>
      pending = new CopyOnWriteArrayList<>();

  /** The admission's clock, moved by the test. */
  private static final java.util.concurrent.atomic.AtomicLong clock =
      new java.util.concurrent.atomic.AtomicLong();

  private static final Admission admission =
      new Admission(
          new Admission.Limits(3, 100, Duration.ofSeconds(5), Duration.ofSeconds(2)), clock::get);
  private static ActorSystem<Void> system;
  private static ServerBinding binding;

  @BeforeAll
  static void bind() throws Exception {
    system = ActorSystem.create(Behaviors.empty(), "admission-test");
    Route routes =
        concat(
            path(
                "submit",
                () ->
                    post(
                        () ->
                            parameter(
                                "n",
                                n ->
                                    admission.admit(
                                        Integer.parseInt(n),
                                        () -> {
                                          var answer =
                                              new CompletableFuture<
                                                  org.apache.pekko.http.javadsl.model
                                                      .HttpResponse>();
                                          pending.add(answer);
                                          return answer;
                                        })))),
            path("read", () -> get(() -> complete(Json.ok(Map.of("ok", true))))));
    binding =
        Http.get(system)
            .newServerAt("127.0.0.1", 0)
            .bind(routes)
            .toCompletableFuture()
            .get(30, TimeUnit.SECONDS);
  }

  @AfterAll
  static void unbind() throws Exception {
    if (binding != null) binding.unbind().toCompletableFuture().get(10, TimeUnit.SECONDS);
    if (system != null) {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  private static CompletableFuture<HttpResponse<String>> submit(int tasks) {
    return HTTP.sendAsync(
        HttpRequest.newBuilder(URI.create(base() + "/submit?n=" + tasks))
            .timeout(Duration.ofSeconds(20))
            .POST(HttpRequest.BodyPublishers.noBody())
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static String base() {
    return "http://127.0.0.1:" + binding.localAddress().getPort();
  }

  private static void awaitPending(int n) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (pending.size() < n) {
      if (System.nanoTime() > deadline)
        throw new AssertionError("only " + pending.size() + " submits reached the journal");
      Thread.sleep(10);
    }
  }

  private static void answerAll() {
    for (var p : pending) p.complete(Json.response(StatusCodes.CREATED, Map.of("taskId", "t")));
    pending.clear();
  }

  @Test
  void beyondTheBoundsSubmitsAreRefusedAtOnceWithRetryAfterAndReadsStillServed() throws Exception {
    long refusedBefore = admission.refused();
    admission.openTasksAre(0);
    // three submits of one task: three tasks in flight, the bound
    var first = List.of(submit(1), submit(1), submit(1));
    awaitPending(3);
    assertEquals(3, admission.inFlight());

    HttpResponse<String> refused = submit(1).get(10, TimeUnit.SECONDS);
    assertEquals(503, refused.statusCode());
    assertEquals("2", refused.headers().firstValue("Retry-After").orElse(null));
    assertTrue(
        refused.body().contains("\"error\":\"this node is taking as many submits"), refused.body());
    assertEquals(
        200,
        HTTP.send(
                HttpRequest.newBuilder(URI.create(base() + "/read")).build(),
                HttpResponse.BodyHandlers.ofString())
            .statusCode());

    answerAll();
    for (var f : first) assertEquals(201, f.get(10, TimeUnit.SECONDS).statusCode());
    assertEquals(0, admission.inFlight());

    // a bulk larger than the bound is admitted when nothing else is in flight, and holds every slot
    // meanwhile
    var big = submit(50);
    awaitPending(1);
    assertEquals(503, submit(1).get(10, TimeUnit.SECONDS).statusCode());
    answerAll();
    assertEquals(201, big.get(10, TimeUnit.SECONDS).statusCode());

    // the cluster's backlog at its bound refuses even with free slots; once it falls, submits are
    // taken again
    admission.openTasksAre(100);
    HttpResponse<String> full = submit(1).get(10, TimeUnit.SECONDS);
    assertEquals(503, full.statusCode());
    assertTrue(full.headers().firstValue("Retry-After").isPresent());
    assertTrue(full.body().contains("100 open tasks"), full.body());
    admission.openTasksAre(99);
    var ok = submit(1);
    awaitPending(1);
    answerAll();
    assertEquals(201, ok.get(10, TimeUnit.SECONDS).statusCode());
    assertEquals(refusedBefore + 3, admission.refused());
  }

  @Test
  void whileTheOldestSubmitWaitsLongerThanMaxWaitNewOnesAreRefused() throws Exception {
    long refusedBefore = admission.refused();
    admission.openTasksAre(0);
    var slow = submit(1);
    awaitPending(1);
    clock.addAndGet(Duration.ofSeconds(4).toNanos());
    var stillOk = submit(1); // 4 s < max-wait: admitted
    awaitPending(2);
    clock.addAndGet(Duration.ofSeconds(2).toNanos());
    HttpResponse<String> refused = submit(1).get(10, TimeUnit.SECONDS);
    assertEquals(503, refused.statusCode());
    assertTrue(refused.body().contains("anchor.admission.max-wait"), refused.body());
    assertEquals("2", refused.headers().firstValue("Retry-After").orElse(null));
    // once the slow ones are answered, the wait is over
    answerAll();
    assertEquals(201, slow.get(10, TimeUnit.SECONDS).statusCode());
    assertEquals(201, stillOk.get(10, TimeUnit.SECONDS).statusCode());
    var again = submit(1);
    awaitPending(1);
    answerAll();
    assertEquals(201, again.get(10, TimeUnit.SECONDS).statusCode());
    assertEquals(refusedBefore + 1, admission.refused());
  }
}
