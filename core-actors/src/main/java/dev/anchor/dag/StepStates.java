package dev.anchor.dag;

import dev.anchor.dag.DagEntity.StepState;
import dev.anchor.dag.DagEntity.StepStatus;
import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;

/**
 * A DAG's step states in order, as an immutable map whose one-step update copies an array of
 * references and keeps a count per status. The state is immutable (a command handler applies events
 * to a copy before they are journaled), and copying a hash map per event made every event of a wide
 * DAG cost as much as its width: a 1,000-step fan-out spent 43% of the node's CPU copying maps. The
 * step ids and their positions are shared by every version of one DAG's state.
 */
final class StepStates extends AbstractMap<String, StepState> {
  private static final StepStatus[] STATUSES = StepStatus.values();

  private final String[] ids;
  private final Map<String, Integer> positions;
  private final StepState[] states;
  private final int[] counts;

  private StepStates(
      String[] ids, Map<String, Integer> positions, StepState[] states, int[] counts) {
    this.ids = ids;
    this.positions = positions;
    this.states = states;
    this.counts = counts;
  }

  static StepStates copyOf(Map<String, StepState> steps) {
    if (steps instanceof StepStates same) return same;
    String[] ids = new String[steps.size()];
    StepState[] states = new StepState[steps.size()];
    Map<String, Integer> positions = HashMap.newHashMap(steps.size());
    int[] counts = new int[STATUSES.length];
    int i = 0;
    for (Map.Entry<String, StepState> e : steps.entrySet()) {
      ids[i] = e.getKey();
      states[i] = e.getValue();
      positions.put(e.getKey(), i);
      count(counts, e.getValue(), 1);
      i++;
    }
    return new StepStates(ids, positions, states, counts);
  }

  /** This map with the step {@code id} in {@code state}; an id it does not have goes last. */
  StepStates with(String id, StepState state) {
    Integer at = positions.get(id);
    if (at == null) {
      Map<String, StepState> grown = new LinkedHashMap<>(this);
      grown.put(id, state);
      return copyOf(grown);
    }
    StepState[] next = states.clone();
    int[] nextCounts = counts.clone();
    count(nextCounts, next[at], -1);
    count(nextCounts, state, 1);
    next[at] = state;
    return new StepStates(ids, positions, next, nextCounts);
  }

  int count(StepStatus status) {
    return counts[status.ordinal()];
  }

  private static void count(int[] counts, StepState s, int by) {
    if (s != null && s.status() != null) counts[s.status().ordinal()] += by;
  }

  @Override
  public StepState get(Object id) {
    Integer at = positions.get(id);
    return at == null ? null : states[at];
  }

  @Override
  public boolean containsKey(Object id) {
    return positions.containsKey(id);
  }

  @Override
  public int size() {
    return ids.length;
  }

  @Override
  public Set<Map.Entry<String, StepState>> entrySet() {
    return new AbstractSet<>() {
      @Override
      public int size() {
        return ids.length;
      }

      @Override
      public Iterator<Map.Entry<String, StepState>> iterator() {
        return new Iterator<>() {
          private int next;

          @Override
          public boolean hasNext() {
            return next < ids.length;
          }

          @Override
          public Map.Entry<String, StepState> next() {
            if (next >= ids.length) throw new NoSuchElementException();
            int i = next++;
            return new AbstractMap.SimpleImmutableEntry<>(ids[i], states[i]);
          }
        };
      }
    };
  }
}
