package dev.anchor.consensus;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Decides what a verified task does next from the votes its replicas cast so far (BOINC-style
 * quorum): complete with the result {@code quorum} replicas agree on, wait for replicas still
 * running, start more replicas, or give up. Pure function of its arguments; the task entity keeps
 * the state.
 */
public final class Quorum {

  /**
   * One replica's outcome: the node it ran on and its {@link CanonicalResult#outcomeKey outcome
   * key}.
   */
  public record Vote(String nodeId, String key) {
    public Vote {
      Objects.requireNonNull(nodeId, "nodeId");
      Objects.requireNonNull(key, "key");
    }
  }

  public sealed interface Decision {
    /** {@code quorum} replicas voted {@code key}; both lists are node ids in vote order. */
    record Agreed(String key, List<String> agreeing, List<String> disagreeing) implements Decision {
      public Agreed {
        agreeing = List.copyOf(agreeing);
        disagreeing = List.copyOf(disagreeing);
      }
    }

    /** Replicas still running can still make a quorum; start nothing. */
    record Wait() implements Decision {}

    /** Start {@code count} more replicas (on nodes that have not run this task). */
    record DispatchMore(int count) implements Decision {}

    /** No quorum is possible within the replica budget; {@code reason} is shown to users. */
    record Unverifiable(String reason) implements Decision {}
  }

  private Quorum() {}

  /** The smallest strict majority of {@code replicas}: {@code replicas / 2 + 1}. */
  public static int majority(int replicas) {
    if (replicas < 1) {
      throw new IllegalArgumentException("replicas must be >= 1, was " + replicas);
    }
    return replicas / 2 + 1;
  }

  /**
   * @param quorum votes for one key needed to agree (>= 1)
   * @param maxReplicas replicas the task may use in total (>= 1)
   * @param votes one per replica that reported an outcome, in arrival order
   * @param inFlight replicas dispatched and not yet reported (>= 0)
   * @param used replicas counted against {@code maxReplicas} so far: reported + in flight + ended
   *     without a vote (node died, timed out); at least {@code votes.size() + inFlight}
   */
  public static Decision decide(
      int quorum, int maxReplicas, List<Vote> votes, int inFlight, int used) {
    Objects.requireNonNull(votes, "votes");
    if (quorum < 1) {
      throw new IllegalArgumentException("quorum must be >= 1, was " + quorum);
    }
    if (maxReplicas < 1) {
      throw new IllegalArgumentException("maxReplicas must be >= 1, was " + maxReplicas);
    }
    if (inFlight < 0) {
      throw new IllegalArgumentException("inFlight must be >= 0, was " + inFlight);
    }
    if ((long) used < (long) votes.size() + inFlight) {
      throw new IllegalArgumentException(
          "used ("
              + used
              + ") must be >= votes ("
              + votes.size()
              + ") + inFlight ("
              + inFlight
              + ")");
    }
    for (Vote v : votes) {
      Objects.requireNonNull(v, "votes must not contain null");
    }

    // Counting in vote order: the first key to reach quorum is the one whose quorum-th vote came
    // earliest.
    Map<String, Integer> counts = new LinkedHashMap<>();
    String agreed = null;
    int best = 0;
    for (Vote v : votes) {
      int n = counts.merge(v.key(), 1, Integer::sum);
      best = Math.max(best, n);
      if (agreed == null && n >= quorum) {
        agreed = v.key();
      }
    }
    if (agreed != null) {
      List<String> agreeing = new ArrayList<>();
      List<String> disagreeing = new ArrayList<>();
      for (Vote v : votes) {
        (v.key().equals(agreed) ? agreeing : disagreeing).add(v.nodeId());
      }
      return new Decision.Agreed(agreed, agreeing, disagreeing);
    }

    if (inFlight > 0 && best + inFlight >= quorum) {
      return new Decision.Wait();
    }

    int need = quorum - best - inFlight;
    if (used < maxReplicas) {
      return new Decision.DispatchMore(Math.min(need, maxReplicas - used));
    }
    return new Decision.Unverifiable(
        reason(quorum, maxReplicas, counts, votes.size(), inFlight, used));
  }

  private static String reason(
      int quorum, int maxReplicas, Map<String, Integer> counts, int voted, int inFlight, int used) {
    StringBuilder s =
        new StringBuilder("no ")
            .append(quorum)
            .append(" of ")
            .append(maxReplicas)
            .append(maxReplicas == 1 ? " replica" : " replicas")
            .append(" agreed (");
    if (counts.isEmpty()) {
      s.append("no replica reported a result");
    } else {
      s.append(counts.size() == 1 ? "1 distinct result, " : counts.size() + " distinct results, ")
          .append("votes each: ");
      List<Integer> sorted = new ArrayList<>(counts.values());
      sorted.sort((a, b) -> Integer.compare(b, a));
      for (int i = 0; i < sorted.size(); i++) {
        s.append(i == 0 ? "" : ", ").append(sorted.get(i));
      }
    }
    int withoutResult = used - voted - inFlight;
    if (withoutResult > 0) {
      s.append("; ").append(withoutResult).append(" without a result");
    }
    if (inFlight > 0) {
      s.append("; ").append(inFlight).append(" still running");
    }
    return s.append(')').toString();
  }
}
