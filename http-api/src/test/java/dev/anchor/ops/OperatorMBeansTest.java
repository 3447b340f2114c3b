package dev.anchor.ops;

import static org.junit.jupiter.api.Assertions.*;

import dev.anchor.node.NodeView;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import javax.management.RuntimeMBeanException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class OperatorMBeansTest {
  private static final MBeanServer SERVER = ManagementFactory.getPlatformMBeanServer();
  private static final String[] ONE_STRING = {String.class.getName()};

  private final FakeNodeOperations ops = new FakeNodeOperations();
  private OperatorMBeans mbeans;

  @BeforeEach
  void start() {
    ops.add(FakeNodeOperations.online("node-b"));
    ops.add(FakeNodeOperations.online("node-a"));
    // a long refresh period: the tests call refresh() themselves
    mbeans = OperatorMBeans.start(ops, SERVER, Duration.ofHours(1));
  }

  @AfterEach
  void stop() {
    mbeans.close();
  }

  private static ObjectName node(String id) throws Exception {
    return new ObjectName("dev.anchor:type=Node,name=" + id);
  }

  private static ObjectName cluster() throws Exception {
    return new ObjectName("dev.anchor:type=Cluster,name=nodes");
  }

  @Test
  void registersTheClusterAndOneMBeanPerKnownNodeUnderTheDocumentedNames() throws Exception {
    assertTrue(SERVER.isRegistered(cluster()));
    assertTrue(SERVER.isRegistered(node("node-a")));
    assertTrue(SERVER.isRegistered(node("node-b")));
    assertEquals(
        Set.of(node("node-a"), node("node-b")),
        SERVER.queryNames(new ObjectName("dev.anchor:type=Node,*"), null));
    assertArrayEquals(
        new String[] {"node-a", "node-b"}, (String[]) SERVER.getAttribute(cluster(), "NodeIds"));
  }

  @Test
  void nodeAttributesShowTheNodesView() throws Exception {
    ObjectName a = node("node-a");
    assertEquals("Online", SERVER.getAttribute(a, "Status"));
    assertEquals(0.9, (Double) SERVER.getAttribute(a, "Reputation"), 1e-9);
    assertEquals(7L, SERVER.getAttribute(a, "Agreed"));
    assertEquals(1L, SERVER.getAttribute(a, "Disagreed"));
    assertEquals(false, SERVER.getAttribute(a, "Cordoned"));
    assertEquals(false, SERVER.getAttribute(a, "Quarantined"));
    assertNull(SERVER.getAttribute(a, "QuarantineReason"));
    assertEquals(true, SERVER.getAttribute(a, "AcceptsTasks"));
  }

  @Test
  void nodeOperationsReachTheNodeAndAnswerItsNewStatus() throws Exception {
    ObjectName a = node("node-a");
    assertEquals("Draining", SERVER.invoke(a, "drain", null, null));
    assertEquals("Draining, cordoned", SERVER.invoke(a, "cordon", null, null));
    // the answer of an operation refreshes the attributes at once, not ~2 s later
    assertEquals(true, SERVER.getAttribute(a, "Cordoned"));
    assertEquals(false, SERVER.getAttribute(a, "AcceptsTasks"));
    assertEquals("Online", SERVER.invoke(a, "uncordon", null, null));
    assertTrue(
        ops.calls.containsAll(
            java.util.List.of("drain node-a", "cordon node-a", "uncordon node-a")));
    assertFalse(ops.calls.stream().anyMatch(c -> c.endsWith("node-b") && !c.startsWith("get")));
  }

  @Test
  void releaseEndsAQuarantine() throws Exception {
    ops.add(
        FakeNodeOperations.with(
            FakeNodeOperations.online("node-q"),
            NodeView.ONLINE,
            false,
            true,
            "reputation 0.2 fell below 0.3"));
    mbeans.refresh();
    ObjectName q = node("node-q");
    assertEquals(true, SERVER.getAttribute(q, "Quarantined"));
    assertEquals("reputation 0.2 fell below 0.3", SERVER.getAttribute(q, "QuarantineReason"));
    String line =
        (String) SERVER.invoke(cluster(), "describe", new Object[] {"node-q"}, ONE_STRING);
    assertTrue(
        line.contains("quarantined=true (reputation 0.2 fell below 0.3), acceptsTasks=false"),
        line);
    assertEquals("Online", SERVER.invoke(q, "release", null, null));
    assertEquals(false, SERVER.getAttribute(q, "Quarantined"));
  }

  @Test
  void clusterOperationsActOnTheNamedNode() throws Exception {
    assertEquals(
        "Online, cordoned",
        SERVER.invoke(cluster(), "cordon", new Object[] {"node-b"}, ONE_STRING));
    assertEquals(
        "Draining, cordoned",
        SERVER.invoke(cluster(), "drain", new Object[] {"node-b"}, ONE_STRING));
    assertEquals(
        "Online", SERVER.invoke(cluster(), "uncordon", new Object[] {"node-b"}, ONE_STRING));
    assertEquals(
        "Online", SERVER.invoke(cluster(), "release", new Object[] {"node-b"}, ONE_STRING));
    String line =
        (String) SERVER.invoke(cluster(), "describe", new Object[] {"node-b"}, ONE_STRING);
    assertTrue(line.startsWith("node-b: Online, cordoned=false, quarantined=false"), line);
    assertTrue(line.contains("reputation=0.900 (agreed 7, disagreed 1)"), line);
    assertEquals(
        java.util.List.of(
            "cordon node-b", "drain node-b", "uncordon node-b", "release node-b", "get node-b"),
        ops.calls.stream().filter(c -> c.endsWith("node-b")).toList());
  }

  @Test
  void anUnknownNodeIsAClearErrorNotAnAnswer() throws Exception {
    for (String op : new String[] {"drain", "cordon", "uncordon", "release", "describe"}) {
      RuntimeMBeanException e =
          assertThrows(
              RuntimeMBeanException.class,
              () -> SERVER.invoke(cluster(), op, new Object[] {"ghost"}, ONE_STRING),
              op);
      assertInstanceOf(IllegalArgumentException.class, e.getCause(), op);
      assertEquals("unknown node ghost", e.getCause().getMessage(), op);
    }
  }

  @Test
  void aClusterThatDoesNotAnswerIsAClearError() throws Exception {
    ops.clusterDown = true;
    RuntimeMBeanException e =
        assertThrows(
            RuntimeMBeanException.class, () -> SERVER.invoke(node("node-a"), "drain", null, null));
    assertInstanceOf(IllegalStateException.class, e.getCause());
    assertTrue(e.getCause().getMessage().contains("did not answer"), e.getCause().getMessage());
  }

  @Test
  void nodeMBeansFollowTheKnownNodes() throws Exception {
    ops.add(FakeNodeOperations.online("node-c"));
    ops.nodes.remove("node-b");
    mbeans.refresh();
    assertTrue(SERVER.isRegistered(node("node-c")));
    assertFalse(SERVER.isRegistered(node("node-b")));
    assertEquals(Set.of("node-a", "node-c"), mbeans.registeredNodeIds());
  }

  @Test
  void theTimerRefreshesWithoutBeingAsked() throws Exception {
    mbeans.close();
    mbeans = OperatorMBeans.start(ops, SERVER, Duration.ofMillis(50));
    ops.add(FakeNodeOperations.online("node-late"));
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!SERVER.isRegistered(node("node-late")) && System.nanoTime() < deadline)
      Thread.sleep(20);
    assertTrue(SERVER.isRegistered(node("node-late")));
  }

  @Test
  void aNodeIdThatIsNotAPlainObjectNameValueIsQuoted() throws Exception {
    String id = "pekko://anchor@127.0.0.1:25520";
    ops.add(FakeNodeOperations.online(id));
    mbeans.refresh();
    ObjectName name = OperatorMBeans.nodeName(id);
    assertEquals(ObjectName.quote(id), name.getKeyProperty("name"));
    assertTrue(SERVER.isRegistered(name));
    assertEquals(id, SERVER.getAttribute(name, "NodeId"));
  }

  @Test
  void closeUnregistersEverything() throws Exception {
    mbeans.close();
    assertFalse(SERVER.isRegistered(cluster()));
    assertTrue(SERVER.queryNames(new ObjectName("dev.anchor:*"), null).isEmpty());
    // and a new instance can register again
    mbeans = OperatorMBeans.start(ops, SERVER, Duration.ofHours(1));
    assertTrue(SERVER.isRegistered(cluster()));
  }

  @Test
  void aSecondInstanceInOneJvmIsRefused() {
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () -> OperatorMBeans.start(ops, SERVER, Duration.ofHours(1)));
    assertTrue(e.getMessage().contains("dev.anchor:type=Cluster,name=nodes"), e.getMessage());
  }

  @Test
  void attributesAskTheClusterAtMostEveryTwoSeconds() {
    AtomicLong now = new AtomicLong();
    NodeControl control = new NodeControl("node-a", ops, now::get);
    control.getStatus();
    control.isCordoned();
    control.getReputation();
    assertEquals(1, ops.calls.stream().filter("get node-a"::equals).count());
    now.addAndGet(Duration.ofMillis(2100).toNanos());
    ops.add(
        FakeNodeOperations.with(ops.nodes.get("node-a"), NodeView.DRAINING, false, false, null));
    assertEquals("Draining", control.getStatus());
    assertEquals(2, ops.calls.stream().filter("get node-a"::equals).count());
  }

  @Test
  void aSlowClusterShowsTheLastKnownViewRatherThanNothing() {
    AtomicLong now = new AtomicLong();
    NodeControl control = new NodeControl("node-a", ops, now::get);
    assertEquals("Online", control.getStatus());
    ops.clusterDown = true;
    now.addAndGet(Duration.ofSeconds(5).toNanos());
    assertEquals("Online", control.getStatus());
    NodeControl fresh = new NodeControl("node-b", ops, now::get);
    IllegalStateException e = assertThrows(IllegalStateException.class, fresh::getStatus);
    assertTrue(e.getMessage().contains("did not answer"), e.getMessage());
  }
}
