package dev.anchor.node;

import dev.anchor.CborSerializable;

/**
 * A node's load at its last heartbeat.
 *
 * @param cpuUsage fraction 0..1 of all cores
 * @param ramUsage fraction 0..1 of its memory
 */
public record NodeMetrics(double cpuUsage, double ramUsage, long uptimeS, int runningTasks)
    implements CborSerializable {}
