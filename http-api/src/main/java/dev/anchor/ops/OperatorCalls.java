package dev.anchor.ops;

import dev.anchor.node.NodeView;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Blocking, bounded calls for the JMX front end. Failures leave as JDK exception types only ({@link
 * IllegalArgumentException} for an unknown node, {@link IllegalStateException} otherwise), so a
 * remote jconsole without Anchor's classes on its class path can still show the message.
 */
final class OperatorCalls {
  static final Duration WAIT = Duration.ofSeconds(10);

  private OperatorCalls() {}

  static NodeView await(CompletionStage<NodeView> stage, String nodeId) {
    try {
      return stage.toCompletableFuture().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for node " + nodeId);
    } catch (TimeoutException e) {
      throw new IllegalStateException(
          "the cluster did not answer for node "
              + nodeId
              + " within "
              + WAIT.toSeconds()
              + " s; try again");
    } catch (ExecutionException | CompletionException e) {
      Throwable t = e;
      while ((t instanceof ExecutionException || t instanceof CompletionException)
          && t.getCause() != null) {
        t = t.getCause();
      }
      if (t instanceof UnknownNodeException) throw new IllegalArgumentException(t.getMessage());
      throw new IllegalStateException(t.getMessage() == null ? t.toString() : t.getMessage());
    }
  }

  /** "Online", "Draining, cordoned", "Online, cordoned, quarantined". */
  static String shortStatus(NodeView v) {
    StringBuilder s = new StringBuilder(v.status());
    if (v.cordoned()) s.append(", cordoned");
    if (v.quarantined()) s.append(", quarantined");
    return s.toString();
  }

  static String describe(NodeView v) {
    return String.format(
        Locale.ROOT,
        "%s: %s, cordoned=%s, quarantined=%s%s, acceptsTasks=%s, reputation=%.3f"
            + " (agreed %d, disagreed %d)%s",
        v.nodeId(),
        v.status(),
        v.cordoned(),
        v.quarantined(),
        v.quarantined() && v.quarantineReason() != null ? " (" + v.quarantineReason() + ")" : "",
        v.acceptsTasks(),
        v.reputation(),
        v.agreed(),
        v.disagreed(),
        v.offlineReason() != null && NodeView.OFFLINE.equals(v.status())
            ? ", offline: " + v.offlineReason()
            : "");
  }
}
