package dev.anchor.ops;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.management.InstanceNotFoundException;
import javax.management.MBeanServer;
import javax.management.MalformedObjectNameException;
import javax.management.ObjectName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Registers {@code dev.anchor:type=Cluster,name=nodes} and one {@code
 * dev.anchor:type=Node,name=<nodeId>} per known node, following {@link NodeOperations#nodeIds()}
 * every few seconds (a node that is no longer known loses its MBean); {@link #close()} unregisters
 * them all.
 */
public final class OperatorMBeans implements AutoCloseable {
  public static final Duration DEFAULT_REFRESH = Duration.ofSeconds(5);
  public static final String DOMAIN = "dev.anchor";
  private static final Logger log = LoggerFactory.getLogger(OperatorMBeans.class);

  private final NodeOperations ops;
  private final MBeanServer server;
  private final ObjectName clusterName;
  private final Map<String, ObjectName> nodes = new LinkedHashMap<>();
  private final ScheduledExecutorService timer;
  private boolean closed;

  private OperatorMBeans(NodeOperations ops, MBeanServer server) {
    this.ops = ops;
    this.server = server;
    this.clusterName = clusterName();
    this.timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "anchor-operator-mbeans");
              t.setDaemon(true);
              return t;
            });
  }

  /** On the platform MBean server, refreshed every {@link #DEFAULT_REFRESH}. */
  public static OperatorMBeans start(NodeOperations ops) {
    return start(ops, ManagementFactory.getPlatformMBeanServer(), DEFAULT_REFRESH);
  }

  /**
   * Registers the cluster MBean and the node MBeans known now, then follows the known nodes every
   * {@code refresh}.
   *
   * @throws IllegalStateException if another instance already registered the cluster MBean in this
   *     JVM
   */
  public static OperatorMBeans start(NodeOperations ops, MBeanServer server, Duration refresh) {
    OperatorMBeans m = new OperatorMBeans(ops, server);
    try {
      server.registerMBean(new ClusterControl(ops), m.clusterName);
    } catch (Exception e) {
      m.timer.shutdownNow();
      throw new IllegalStateException("cannot register " + m.clusterName + ": " + e, e);
    }
    m.refresh();
    m.timer.scheduleWithFixedDelay(
        m::refreshQuietly, refresh.toMillis(), refresh.toMillis(), TimeUnit.MILLISECONDS);
    return m;
  }

  public static ObjectName nodeName(String nodeId) {
    return name("type=Node,name=" + quoteIfNeeded(nodeId));
  }

  public static ObjectName clusterName() {
    return name("type=Cluster,name=nodes");
  }

  /** Brings the node MBeans in line with the known nodes now. */
  public synchronized void refresh() {
    if (closed) return;
    List<String> ids = ops.nodeIds();
    Set<String> wanted = new HashSet<>(ids);
    for (String id : ids) {
      if (nodes.containsKey(id)) continue;
      ObjectName name = nodeName(id);
      try {
        server.registerMBean(new NodeControl(id, ops), name);
        nodes.put(id, name);
      } catch (Exception e) {
        log.warn("cannot register MBean {}: {}", name, e.toString());
      }
    }
    nodes
        .entrySet()
        .removeIf(
            e -> {
              if (wanted.contains(e.getKey())) return false;
              unregister(e.getValue());
              return true;
            });
  }

  private void refreshQuietly() {
    try {
      refresh();
    } catch (RuntimeException e) {
      // the timer must survive a bad round, or the MBeans stop following the cluster
      log.warn("refreshing node MBeans failed: {}", e.toString());
    }
  }

  /** The node ids with a registered MBean now. */
  public synchronized Set<String> registeredNodeIds() {
    return Set.copyOf(nodes.keySet());
  }

  @Override
  public synchronized void close() {
    if (closed) return;
    closed = true;
    timer.shutdownNow();
    nodes.values().forEach(this::unregister);
    nodes.clear();
    unregister(clusterName);
  }

  private void unregister(ObjectName name) {
    try {
      server.unregisterMBean(name);
    } catch (InstanceNotFoundException gone) {
      // already unregistered
    } catch (Exception e) {
      log.warn("cannot unregister MBean {}: {}", name, e.toString());
    }
  }

  private static String quoteIfNeeded(String value) {
    for (char c : value.toCharArray()) {
      if (c == ',' || c == '=' || c == ':' || c == '"' || c == '*' || c == '?' || c == '\n'
          || c == '\\') {
        return ObjectName.quote(value);
      }
    }
    return value.isEmpty() ? ObjectName.quote(value) : value;
  }

  private static ObjectName name(String properties) {
    try {
      return new ObjectName(DOMAIN + ":" + properties);
    } catch (MalformedObjectNameException e) {
      throw new IllegalArgumentException("bad MBean name " + properties + ": " + e.getMessage(), e);
    }
  }
}
