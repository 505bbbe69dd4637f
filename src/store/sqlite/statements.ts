/**
 * Every SQL statement the SQLite store runs, keyed by the port method it serves. The store
 * (index.ts) prepares them once per connection and decides when to run them.
 */

/** An outbox row's columns, named as the record's fields (see `outboxRecord`). */
const outboxColumns = `id, kind, name, target_id AS targetId, payload, idempotency_key AS idempotencyKey,
  due_at AS dueAt, timer, timer_key AS timerKey, order_key AS orderKey, source_type AS sourceType,
  source_id AS sourceId, source_version AS sourceVersion, attempts, last_error AS lastError, status,
  trace_context AS traceContext`;

/**
 * Events are read as rows of values in this order (the store makes the events: see `eventsOf`);
 * their position is the sequence, formatted by store/positions.ts.
 */
const readEvents = `SELECT version, data, recorded_at, seq, event_version FROM pachyderm_events
  WHERE stream_id = ? AND version >= ? ORDER BY version LIMIT ?`;

const checkpointColumns = 'name, version, position, failed, rebuild = 1 AS rebuild';

export const statements = {
  commit: {
    streamVersion: 'SELECT coalesce(max(version), 0) AS version FROM pachyderm_events WHERE stream_id = ?',
    isProcessed: 'SELECT 1 AS found FROM pachyderm_processed WHERE stream_id = ? AND message_id = ?',
    insertEvent: `INSERT INTO pachyderm_events (stream_id, version, data, recorded_at, entity_type, event_version)
         VALUES (?, ?, ?, ?, ?, ?)`,
    markProcessed: 'INSERT INTO pachyderm_processed (stream_id, message_id, recorded_at) VALUES (?, ?, ?)',
    isAnswered: 'SELECT 1 AS found FROM pachyderm_answers WHERE stream_id = ? AND key = ? AND recorded_at >= ?',
    /** An answer under a key that has expired (and was not pruned yet) is replaced. */
    recordAnswer: `INSERT INTO pachyderm_answers (stream_id, key, recorded_at, version, position, rejection)
         VALUES (@streamId, @key, @recordedAt, @version, @position, @rejection)
         ON CONFLICT (stream_id, key) DO UPDATE SET recorded_at = excluded.recorded_at, version = excluded.version,
           position = excluded.position, rejection = excluded.rejection`,
    cancelTimer: "DELETE FROM pachyderm_outbox WHERE target_id = ? AND timer_key = ? AND status = 'pending'",
    insertOutbox: `INSERT INTO pachyderm_outbox (kind, name, target_id, payload, idempotency_key, due_at, timer, timer_key,
           order_key, source_type, source_id, source_version, held, trace_context)
         VALUES (@kind, @name, @targetId, @payload, @idempotencyKey, @dueAt, @timer, @timerKey, @orderKey,
           @sourceType, @sourceId, @sourceVersion, @held, @traceContext)`,
    /** A lane's last pending row: whether a row written behind it starts held. */
    laneTail: `SELECT id, kind, held = 1 AS held, attempts FROM pachyderm_outbox
         WHERE order_key = ? AND status = 'pending' ORDER BY id DESC LIMIT 1`,
  },
  readStreams: readEvents,
  readAnswers: `SELECT key, version, position, rejection FROM pachyderm_answers
       WHERE stream_id = ? AND key = ? AND recorded_at >= ?`,
  /** A few of the oldest rows at a time (the recorded_at indexes), so that no write waits long. */
  prune: {
    messageIds: `DELETE FROM pachyderm_processed WHERE (stream_id, message_id) IN (
         SELECT stream_id, message_id FROM pachyderm_processed WHERE recorded_at < ? ORDER BY recorded_at LIMIT ?)`,
    keys: `DELETE FROM pachyderm_answers WHERE (stream_id, key) IN (
         SELECT stream_id, key FROM pachyderm_answers WHERE recorded_at < ? ORDER BY recorded_at LIMIT ?)`,
  },
  /** One entity type's part of a feed page: the store merges the types' parts. */
  readFeed: `SELECT version, data, recorded_at, seq, event_version, stream_id
       FROM pachyderm_events WHERE entity_type = ? AND seq > ? ORDER BY seq LIMIT ?`,
  feedHead: 'SELECT seq FROM pachyderm_events WHERE entity_type = ? ORDER BY seq DESC LIMIT 1',
  leaseCheckpoint: {
    create: 'INSERT INTO pachyderm_checkpoints (name, version) VALUES (?, ?) ON CONFLICT (name) DO NOTHING',
    take: `UPDATE pachyderm_checkpoints SET lease_owner = @owner, lease_until = @until
         WHERE name = @name AND (lease_owner = @owner OR lease_until <= @now)`,
  },
  readCheckpoint: `SELECT ${checkpointColumns} FROM pachyderm_checkpoints WHERE name = ?`,
  writeCheckpoint: {
    move: `UPDATE pachyderm_checkpoints
         SET position = @position, version = @version, lease_until = @until,
           failed = CASE WHEN @setFailed = 1 THEN @failed ELSE failed END,
           rebuild = CASE WHEN @restart = 1 THEN 0 ELSE rebuild END
         WHERE name = @name AND position = @expected AND lease_owner = @owner AND lease_until > @now`,
    forgetSkipped: 'DELETE FROM pachyderm_skipped WHERE name = ?',
    skip: `INSERT INTO pachyderm_skipped (name, position, entity_type, stream_id, version, error)
         VALUES (@name, @position, @entityType, @streamId, @version, @error) ON CONFLICT DO NOTHING`,
  },
  markCheckpoint: `UPDATE pachyderm_checkpoints SET failed = NULL, rebuild = CASE WHEN ? = 1 THEN 1 ELSE rebuild END
       WHERE name = ?`,
  skippedEvents: `SELECT position, entity_type AS entityType, stream_id AS streamId, version, error
       FROM pachyderm_skipped WHERE name = ? ORDER BY position LIMIT ?`,
  joinCluster: `INSERT INTO pachyderm_members (incarnation, name, address, status, heartbeat_at)
       VALUES (@incarnation, @name, @address, 'active', @now)`,
  heartbeat: {
    alive: 'SELECT 1 FROM pachyderm_members WHERE incarnation = @incarnation AND heartbeat_at > @now - @ttlMs',
    renew: `UPDATE pachyderm_members SET heartbeat_at = @now, status = @status
         WHERE incarnation = @incarnation AND heartbeat_at > @now - @ttlMs`,
    members: `SELECT incarnation, name, address, status FROM pachyderm_members
         WHERE heartbeat_at > @now - @ttlMs ORDER BY name, incarnation`,
    owners: 'SELECT partition, owner FROM pachyderm_partitions WHERE partition < ? AND owner IS NOT NULL',
    forget: 'DELETE FROM pachyderm_members WHERE heartbeat_at <= @now - 10 * @ttlMs',
  },
  /** Takes the partition when it is unowned, this member's, or owned by a member that is not alive. */
  claimPartition: `INSERT INTO pachyderm_partitions (partition, owner) VALUES (@partition, @incarnation)
       ON CONFLICT (partition) DO UPDATE SET owner = excluded.owner
       WHERE pachyderm_partitions.owner IS NULL OR pachyderm_partitions.owner = excluded.owner OR NOT EXISTS (
         SELECT 1 FROM pachyderm_members m
         WHERE m.incarnation = pachyderm_partitions.owner AND m.heartbeat_at > @now - @ttlMs)`,
  handOverPartition: 'UPDATE pachyderm_partitions SET owner = ? WHERE partition = ? AND owner = ?',
  leaveCluster: {
    member: 'DELETE FROM pachyderm_members WHERE incarnation = ?',
    partitions: 'UPDATE pachyderm_partitions SET owner = NULL WHERE owner = ?',
  },
  readLogs: {
    snapshot: `SELECT schema_version AS schemaVersion, version, state FROM pachyderm_snapshots
         WHERE stream_id = ? AND entity_type = ?`,
    events: readEvents,
  },
  writeSnapshot: `INSERT INTO pachyderm_snapshots (stream_id, entity_type, schema_version, version, state)
       VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (stream_id, entity_type) DO UPDATE
         SET schema_version = excluded.schema_version, version = excluded.version, state = excluded.state
         WHERE excluded.version > pachyderm_snapshots.version
            OR excluded.schema_version <> pachyderm_snapshots.schema_version`,
  claimOutbox: {
    /** Rows that are not held and can be claimed, by due time then id (the ready index). */
    heads: `SELECT ${outboxColumns}, held = 1 AS held, lease_until AS leaseUntil FROM pachyderm_outbox
         WHERE status = 'pending' AND held = 0 AND due_at <= @now AND lease_until <= @now
         ORDER BY due_at, id LIMIT @limit`,
    /** A lane's pending rows after one, in id order (the lane index). */
    laneAfter: `SELECT ${outboxColumns}, held = 1 AS held, lease_until AS leaseUntil FROM pachyderm_outbox
         WHERE order_key = @orderKey AND status = 'pending' AND id > @id ORDER BY id LIMIT @limit`,
    lease: 'UPDATE pachyderm_outbox SET lease_owner = ?, lease_until = ?, attempts = attempts + 1 WHERE id = ?',
  },
  settleOutbox: {
    /** The row's order key, if `owner` holds its lease. */
    leased:
      "SELECT order_key AS orderKey FROM pachyderm_outbox WHERE id = ? AND lease_owner = ? AND status = 'pending'",
    done: 'DELETE FROM pachyderm_outbox WHERE id = ?',
    retry: 'UPDATE pachyderm_outbox SET due_at = ?, last_error = ?, lease_owner = NULL, lease_until = 0 WHERE id = ?',
    dead: `UPDATE pachyderm_outbox SET status = 'dead', last_error = ?, lease_owner = NULL, lease_until = 0
         WHERE id = ?`,
    released: 'UPDATE pachyderm_outbox SET lease_owner = NULL, lease_until = 0, attempts = attempts - 1 WHERE id = ?',
    /** A lane's pending rows up to its first held one, in id order: what decides whether that one goes free. */
    laneHead: `SELECT id, kind, held = 1 AS held, attempts FROM pachyderm_outbox
         WHERE order_key = @orderKey AND status = 'pending'
           AND id <= coalesce((SELECT min(id) FROM pachyderm_outbox
             WHERE order_key = @orderKey AND status = 'pending' AND held = 1), -1)
         ORDER BY id`,
    free: 'UPDATE pachyderm_outbox SET held = 0 WHERE id = ?',
  },
  deadLetters: `SELECT ${outboxColumns} FROM pachyderm_outbox WHERE status = 'dead' ORDER BY id LIMIT ?`,
  retryDeadLetter: `UPDATE pachyderm_outbox SET status = 'pending', attempts = 0, due_at = ?, lease_owner = NULL, lease_until = 0,
         held = 0
       WHERE id = ? AND status = 'dead'`,
  /** See `lookAgainAt` (outbox-rules.ts): two index lookups. */
  nextDueAt: `SELECT min(at) AS at FROM (
         SELECT min(due_at) AS at FROM pachyderm_outbox WHERE status = 'pending' AND held = 0 AND due_at > @after
         UNION ALL
         SELECT min(lease_until) FROM pachyderm_outbox
         WHERE status = 'pending' AND held = 0 AND lease_until > 0 AND lease_until > @after)`,
  outboxStats: `SELECT
         coalesce(sum(status = 'pending' AND NOT (timer = 1 AND attempts = 0 AND due_at > @now)), 0) AS depth,
         coalesce(sum(status = 'pending' AND lease_until > @now), 0) AS inFlight,
         coalesce(sum(status = 'pending' AND lease_until <= @now AND attempts > 0), 0) AS retrying,
         coalesce(sum(status = 'dead'), 0) AS deadLetters,
         coalesce(sum(status = 'pending' AND timer = 1 AND attempts = 0 AND due_at > @now), 0) AS pendingTimers,
         min(CASE WHEN status = 'pending' AND NOT (timer = 1 AND attempts = 0 AND due_at > @now) THEN due_at END)
           AS oldestDueAt
       FROM pachyderm_outbox`,
  outboxOf: `SELECT ${outboxColumns} FROM pachyderm_outbox
       WHERE (source_type = @type AND source_id = @id) OR (kind = 'message' AND name = @type AND target_id = @id)
       ORDER BY id LIMIT @limit`,
} as const;
