package dev.anchor.http;

import dev.anchor.app.AppIndex;
import dev.anchor.consensus.FraudStore;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/**
 * What the routes call beyond the cluster's entities, built by the start-up wiring; each route
 * class gets only the parts it uses.
 *
 * @param fraud the fraud evidence store; null where this JVM does not coordinate
 * @param apps the apps' listing in Redis (closed with the actor system by the wiring)
 */
public record ApiServices(
    SubmitCheck submitCheck,
    EventFeed feed,
    TaskQueries tasks,
    NodeDirectory nodes,
    FraudStore fraud,
    AppIndex apps,
    Supplier<CompletionStage<Health>> health) {}
