package dev.anchor.app;

import dev.anchor.CborSerializable;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * What an {@link AppEntity} tells the worker hosting one of its apps (published on a topic every
 * worker reads; a worker acts only on orders naming its own node). Orders are idempotent: the
 * entity repeats {@link Run} until the worker reports the incarnation running, and a worker that
 * reports an app it should not run is sent {@link Halt}.
 */
public sealed interface AppOrder extends CborSerializable {
  String nodeId();

  String appId();

  /** Run incarnation {@code incarnation} of the app (stopping an older incarnation of it first). */
  record Run(String nodeId, String appId, int incarnation, AppSpec spec) implements AppOrder {}

  /** Stop the app (any incarnation up to {@code incarnation}) and forget it. */
  record Halt(String nodeId, String appId, int incarnation, String reason) implements AppOrder {}

  /** Answer the app's last {@code limit} log lines. */
  record Logs(String nodeId, String appId, int limit, ActorRef<AppLogs> replyTo)
      implements AppOrder {}

  /** The recent lines of an app's stdout and stderr kept by its node (a bounded ring buffer). */
  record AppLogs(String appId, String nodeId, List<String> lines, long dropped)
      implements CborSerializable {
    public AppLogs {
      lines = lines == null ? List.of() : List.copyOf(lines);
    }
  }
}
