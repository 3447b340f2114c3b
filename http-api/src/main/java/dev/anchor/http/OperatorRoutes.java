package dev.anchor.http;

import static org.apache.pekko.http.javadsl.server.Directives.*;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import dev.anchor.node.NodeView;
import dev.anchor.ops.ClusterUnavailableException;
import dev.anchor.ops.NodeOperationRejectedException;
import dev.anchor.ops.NodeOperations;
import dev.anchor.ops.UnknownNodeException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.pattern.AskTimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Operator control of one node: GET /api/nodes/{id} and POST
 * /api/nodes/{id}/drain|cordon|uncordon|release, each answering the node's view. 404 for a node
 * that never registered, 409 when the node refuses the change in its state, 503 when the cluster
 * does not answer. GET /api/nodes (the list) is {@link NodeRoutes}.
 */
public final class OperatorRoutes {
  private static final Logger log = LoggerFactory.getLogger(OperatorRoutes.class);

  private final NodeOperations ops;

  public OperatorRoutes(NodeOperations ops) {
    this.ops = ops;
  }

  public Route route() {
    return pathPrefix(
        "api",
        () ->
            pathPrefix(
                "nodes",
                () ->
                    concat(
                        path(segment(), id -> get(() -> completeWithFuture(view(id)))),
                        path(
                            segment().slash("drain"),
                            id -> post(() -> completeWithFuture(answer(id, ops::drain)))),
                        path(
                            segment().slash("cordon"),
                            id -> post(() -> completeWithFuture(answer(id, ops::cordon)))),
                        path(
                            segment().slash("uncordon"),
                            id -> post(() -> completeWithFuture(answer(id, ops::uncordon)))),
                        path(
                            segment().slash("release"),
                            id -> post(() -> completeWithFuture(answer(id, ops::release)))))));
  }

  private CompletionStage<HttpResponse> view(String nodeId) {
    return answer(
        nodeId,
        id ->
            ops.get(id)
                .thenApply(
                    v -> {
                      if (NodeView.UNKNOWN.equals(v.status())) throw new UnknownNodeException(id);
                      return v;
                    }));
  }

  private CompletionStage<HttpResponse> answer(
      String nodeId, Function<String, CompletionStage<NodeView>> op) {
    CompletionStage<NodeView> stage;
    try {
      stage = op.apply(nodeId);
    } catch (RuntimeException e) {
      return java.util.concurrent.CompletableFuture.completedFuture(failure(nodeId, e));
    }
    return stage.handle((v, e) -> e == null ? Json.ok(NodeJson.detail(v)) : failure(nodeId, e));
  }

  static HttpResponse failure(String nodeId, Throwable e) {
    Throwable t = e;
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof UnknownNodeException) {
      return Json.error(StatusCodes.NOT_FOUND, "unknown node " + nodeId, "nodeId");
    }
    if (t instanceof NodeOperationRejectedException)
      return Json.error(StatusCodes.CONFLICT, t.getMessage(), "nodeId");
    if (t instanceof ClusterUnavailableException
        || t instanceof TimeoutException
        || t instanceof AskTimeoutException) {
      return Json.error(
          StatusCodes.SERVICE_UNAVAILABLE,
          t instanceof ClusterUnavailableException
              ? t.getMessage()
              : "the cluster did not answer in time; try again",
          null);
    }
    // an operator endpoint must not answer 500 for a cluster hiccup; an unexpected failure is still
    // a 503 to retry
    log.warn("operator request for node {} failed", nodeId, t);
    return Json.error(
        StatusCodes.SERVICE_UNAVAILABLE, "the cluster could not carry out the request: " + t, null);
  }
}
