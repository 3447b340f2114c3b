package dev.anchor.persistence.mongo;

import dev.anchor.CborSerializable;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;

/**
 * A persistent entity that appends strings to a list: the smallest thing that shows history is kept
 * and not forked.
 */
public final class AppendLog
    extends EventSourcedBehavior<AppendLog.Command, AppendLog.Appended, AppendLog.State> {

  public sealed interface Command {}

  public record Append(String value, ActorRef<Done> replyTo) implements Command {}

  public record Get(ActorRef<State> replyTo) implements Command {}

  public record Appended(String value) implements CborSerializable {}

  public record State(List<String> values) implements CborSerializable {
    State with(String value) {
      List<String> copy = new ArrayList<>(values);
      copy.add(value);
      return new State(List.copyOf(copy));
    }
  }

  private final int snapshotEvery;

  private AppendLog(String id, int snapshotEvery) {
    super(PersistenceId.ofUniqueId(id));
    this.snapshotEvery = snapshotEvery;
  }

  public static Behavior<Command> create(String id) {
    return new AppendLog(id, 0);
  }

  public static Behavior<Command> withSnapshots(String id, int every) {
    return new AppendLog(id, every);
  }

  @Override
  public State emptyState() {
    return new State(List.of());
  }

  @Override
  public CommandHandler<Command, Appended, State> commandHandler() {
    return newCommandHandlerBuilder()
        .forAnyState()
        .onCommand(
            Append.class,
            (state, cmd) ->
                Effect()
                    .persist(new Appended(cmd.value()))
                    .thenReply(cmd.replyTo(), s -> Done.getInstance()))
        .onCommand(Get.class, (state, cmd) -> Effect().reply(cmd.replyTo(), state))
        .build();
  }

  @Override
  public EventHandler<State, Appended> eventHandler() {
    return newEventHandlerBuilder()
        .forAnyState()
        .onEvent(Appended.class, (state, e) -> state.with(e.value()))
        .build();
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    return snapshotEvery > 0
        ? RetentionCriteria.snapshotEvery(snapshotEvery, 2)
        : RetentionCriteria.disabled();
  }
}
