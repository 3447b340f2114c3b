package dev.anchor.feed;

/**
 * One change on the feed: its stream id (the SSE event id), what changed ("task"/"node"), which
 * one, the event, the new view as JSON.
 */
public record FeedEntry(String id, String kind, String subjectId, String event, String json) {}
