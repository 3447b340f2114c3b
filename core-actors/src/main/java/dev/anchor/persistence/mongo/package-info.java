/**
 * Pekko Persistence on MongoDB: {@link dev.anchor.persistence.mongo.MongoJournal} (plugin id {@code
 * anchor.journal}), {@link dev.anchor.persistence.mongo.MongoSnapshotStore} ({@code
 * anchor.snapshot-store}), the shared client {@link dev.anchor.persistence.mongo.MongoStore}
 * ({@code anchor.mongo.uri}, {@code anchor.mongo.database}, {@code anchor.data-dir}) and the
 * in-process {@link dev.anchor.persistence.mongo.EmbeddedMongoServer}.
 *
 * <p>Collections (database {@code anchor.mongo.database}):
 *
 * <ul>
 *   <li>{@code journal}: {@code {_id: "<pid>|<19-digit seq>", pid, seq, ts, w: writerUuid, m: event
 *       manifest, tags?, sid: serializer id, sm: serializer manifest, p: bytes}}
 *   <li>{@code journal_heads}: {@code {_id: pid, hi: highest seq written, del: deleted-to}}
 *   <li>{@code snapshots}: {@code {_id: "<pid>|<19-digit seq>", pid, seq, ts, sid, sm, p}}
 *   <li>{@code snapshot_index}: {@code {_id: pid, s: {"n<19-digit seq>": timestamp, ...}}}
 * </ul>
 *
 * Every read is an exact {@code _id} lookup ({@code $eq} or {@code $in}), the only kind the
 * embedded server answers from an index, so replay and highest-sequence-number cost the same
 * however large the journal grows; on a real MongoDB they use the {@code _id} index. No secondary
 * index is needed.
 */
package dev.anchor.persistence.mongo;
