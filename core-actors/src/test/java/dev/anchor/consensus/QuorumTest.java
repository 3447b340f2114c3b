package dev.anchor.consensus;

import static dev.anchor.consensus.Quorum.decide;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.anchor.consensus.Quorum.Decision;
import dev.anchor.consensus.Quorum.Vote;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class QuorumTest {

  /** votes("n1=A", "n2=B") */
  private static List<Vote> votes(String... nodeEqualsKey) {
    List<Vote> out = new ArrayList<>();
    for (String s : nodeEqualsKey) {
      String[] p = s.split("=", 2);
      out.add(new Vote(p[0], p[1]));
    }
    return out;
  }

  @Test
  void majority() {
    assertEquals(1, Quorum.majority(1));
    assertEquals(2, Quorum.majority(2));
    assertEquals(2, Quorum.majority(3));
    assertEquals(3, Quorum.majority(4));
    assertEquals(3, Quorum.majority(5));
    assertThrows(IllegalArgumentException.class, () -> Quorum.majority(0));
  }

  @Test
  void unanimousThreeOfThree() {
    assertEquals(
        new Decision.Agreed("A", List.of("n1", "n2", "n3"), List.of()),
        decide(3, 3, votes("n1=A", "n2=A", "n3=A"), 0, 3));
  }

  @Test
  void twoOfThreeNamesTheDisagreeingNode() {
    assertEquals(
        new Decision.Agreed("A", List.of("n1", "n3"), List.of("n2")),
        decide(2, 3, votes("n1=A", "n2=B", "n3=A"), 0, 3));
  }

  @Test
  void agreementDoesNotWaitForReplicasStillRunning() {
    assertEquals(
        new Decision.Agreed("A", List.of("n1", "n2"), List.of()),
        decide(2, 3, votes("n1=A", "n2=A"), 1, 3));
  }

  @Test
  void firstReplicasAreDispatchedFromNothing() {
    assertEquals(new Decision.DispatchMore(2), decide(2, 5, List.of(), 0, 0));
    assertEquals(new Decision.DispatchMore(3), decide(3, 3, List.of(), 0, 0));
  }

  @Test
  void allDifferentWithBudgetDispatchesMore() {
    // best 1, quorum 2: one more replica could agree with one of them
    assertEquals(new Decision.DispatchMore(1), decide(2, 5, votes("n1=A", "n2=B", "n3=C"), 0, 3));
    // quorum 3 needs two more, but only one is left in the budget
    assertEquals(new Decision.DispatchMore(1), decide(3, 4, votes("n1=A", "n2=B", "n3=C"), 0, 3));
  }

  @Test
  void allDifferentWithoutBudgetIsUnverifiableWithAClearReason() {
    Decision d = decide(2, 3, votes("n1=A", "n2=B", "n3=C"), 0, 3);
    Decision.Unverifiable u = assertInstanceOf(Decision.Unverifiable.class, d);
    assertEquals("no 2 of 3 replicas agreed (3 distinct results, votes each: 1, 1, 1)", u.reason());
  }

  @Test
  void reasonCountsReplicasWithoutAResult() {
    Decision d = decide(2, 4, votes("n1=A", "n2=B", "n3=C"), 0, 4);
    assertEquals(
        new Decision.Unverifiable(
            "no 2 of 4 replicas agreed (3 distinct results, votes each: 1, 1, 1; 1 without a result)"),
        d);
    assertEquals(
        new Decision.Unverifiable(
            "no 3 of 4 replicas agreed (2 distinct results, votes each: 2, 1; "
                + "1 without a result)"),
        decide(3, 4, votes("n1=B", "n2=A", "n3=A"), 0, 4));
    assertEquals(
        new Decision.Unverifiable(
            "no 1 of 2 replicas agreed (no replica reported a result; " + "2 without a result)"),
        decide(1, 2, List.of(), 0, 2));
  }

  @Test
  void tieTwoTwoWithQuorumThreeDispatchesOne() {
    assertEquals(
        new Decision.DispatchMore(1), decide(3, 7, votes("n1=A", "n2=B", "n3=A", "n4=B"), 0, 4));
  }

  @Test
  void waitsWhileReplicasStillRunningCanMakeQuorum() {
    assertEquals(new Decision.Wait(), decide(3, 3, votes("n1=A"), 2, 3));
    assertEquals(new Decision.Wait(), decide(3, 3, votes("n1=A", "n2=A"), 1, 3));
    assertEquals(new Decision.Wait(), decide(2, 5, votes("n1=A", "n2=B"), 1, 3));
    assertEquals(new Decision.Wait(), decide(2, 2, List.of(), 2, 2));
  }

  @Test
  void dispatchesOnlyWhatRunningReplicasCannotCover() {
    // best 1 + 1 running = 2 < quorum 3: one more is needed even if the running one agrees
    assertEquals(new Decision.DispatchMore(1), decide(3, 5, votes("n1=A", "n2=B"), 1, 3));
  }

  @Test
  void replicaThatEndedWithoutAVoteIsReplaced() {
    // n2's node died: used 3 counts it, but neither a vote nor in flight
    assertEquals(new Decision.DispatchMore(1), decide(3, 5, votes("n1=A", "n3=A"), 0, 3));
    assertEquals(new Decision.DispatchMore(1), decide(2, 3, votes("n1=A"), 0, 2));
  }

  @Test
  void replicaThatEndedWithoutAVoteWithBudgetSpentIsUnverifiable() {
    assertEquals(
        new Decision.Unverifiable(
            "no 3 of 3 replicas agreed (1 distinct result, votes each: 2; 1 without a result)"),
        decide(3, 3, votes("n1=A", "n3=A"), 0, 3));
  }

  @Test
  void budgetSpentWhileRunningReplicasCannotHelpIsUnverifiable() {
    assertEquals(
        new Decision.Unverifiable(
            "no 3 of 3 replicas agreed (2 distinct results, votes each: 1, 1; 1 still running)"),
        decide(3, 3, votes("n1=A", "n2=B"), 1, 3));
  }

  @Test
  void earliestQuorumWinsWhenQuorumIsAtMostHalf() {
    // both A and B reach 2 votes; B's second vote (index 2) came before A's second (index 3)
    assertEquals(
        new Decision.Agreed("B", List.of("n2", "n3"), List.of("n1", "n4")),
        decide(2, 4, votes("n1=A", "n2=B", "n3=B", "n4=A"), 0, 4));
    assertEquals(
        new Decision.Agreed("A", List.of("n1", "n2"), List.of("n3", "n4")),
        decide(2, 4, votes("n1=A", "n2=A", "n3=B", "n4=B"), 0, 4));
    // quorum 1: the first vote decides
    assertEquals(
        new Decision.Agreed("X", List.of("n1"), List.of("n2")),
        decide(1, 2, votes("n1=X", "n2=Y"), 0, 2));
  }

  @Test
  void errorOutcomesVoteLikeResults() {
    String err = CanonicalResult.outcomeKey("js", false, null, "Error", "boom");
    String ok = CanonicalResult.outcomeKey("js", true, "1", null, null);
    assertEquals(
        new Decision.Agreed(err, List.of("n1", "n3"), List.of("n2")),
        decide(2, 3, List.of(new Vote("n1", err), new Vote("n2", ok), new Vote("n3", err)), 0, 3));
  }

  @Test
  void invalidArgumentsAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> decide(0, 3, List.of(), 0, 0));
    assertThrows(IllegalArgumentException.class, () -> decide(2, 0, List.of(), 0, 0));
    assertThrows(IllegalArgumentException.class, () -> decide(2, 3, List.of(), -1, 0));
    assertThrows(IllegalArgumentException.class, () -> decide(2, 3, votes("n1=A", "n2=B"), 0, 1));
    assertThrows(IllegalArgumentException.class, () -> decide(2, 3, votes("n1=A"), 2, 2));
    assertThrows(NullPointerException.class, () -> decide(2, 3, null, 0, 0));
    assertThrows(NullPointerException.class, () -> new Vote("n1", null));
  }
}
