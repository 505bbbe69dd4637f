import { positionSql } from './positions.js';

/**
 * Every SQL statement the PostgreSQL store runs, built once per schema and keyed by the port method
 * it serves. Named statements are prepared once per connection by `pg`.
 */
/** A member's time to live, a parameter in milliseconds, as an interval. */
const ttl = (parameter: string) => `make_interval(secs => ${parameter}::float8 / 1000)`;

export function statements(schema: string, quotedSchema: string) {
  const s = quotedSchema;
  const prefix = `pachyderm_${fnv1a(schema)}`;
  /** An outbox row's columns, named as the record's fields (see `outboxRecord`). */
  const columns = (t: string) => `${t}.id::text AS id, ${t}.kind, ${t}.name, ${t}.target_id AS "targetId",
    ${t}.payload, ${t}.idempotency_key AS "idempotencyKey", ${t}.due_at::float8 AS "dueAt", ${t}.timer,
    ${t}.timer_key AS "timerKey", ${t}.order_key AS "orderKey", ${t}.source_type AS "sourceType",
    ${t}.source_id AS "sourceId", ${t}.source_version AS "sourceVersion", ${t}.attempts,
    ${t}.last_error AS "lastError", ${t}.status, ${t}.trace_context AS "traceContext"`;
  const checkpointColumns = 'name, version, position, failed, rebuild';
  const recordedAt = (t: string) => `round(extract(epoch FROM ${t}.recorded_at) * 1000)::float8`;
  return {
    /** A group commit, in one round trip: see commit-batch.ts. */
    commit: {
      name: `${prefix}_commit_batch`,
      text: `
        SELECT r_index AS "index", r_outcome AS outcome, r_version AS version, r_positions AS positions,
          r_duplicates AS duplicates, r_keys AS keys
        FROM ${s}.commit_batch($1::text[], $2::int[], $3::int[], $4::text[], $5::float8, $6::text[], $7::int[],
          $8::text[], $9::jsonb, $10::boolean, $11::int[])`,
    },
    /** See outbox-functions.ts. */
    claimOutbox: {
      name: `${prefix}_claim_outbox`,
      text: `
        UPDATE ${s}.outbox AS x SET lease_owner = $3, lease_until = $1 + $4, attempts = x.attempts + 1
        FROM unnest(${s}.claim_outbox($1, $2)) AS c(id)
        WHERE x.id = c.id
        RETURNING ${columns('x')}`,
    },
    settleOutbox: {
      name: `${prefix}_settle_outbox`,
      text: `SELECT ${s}.settle_outbox($1::text, $2::bigint[], $3::text[], $4::bigint[], $5::text[])`,
    },
    deadLetters: {
      name: `${prefix}_dead_letters`,
      text: `SELECT ${columns('o')} FROM ${s}.outbox o WHERE o.status = 'dead' ORDER BY o.id LIMIT $1`,
    },
    retryDeadLetter: {
      name: `${prefix}_retry_dead_letter`,
      text: `UPDATE ${s}.outbox SET status = 'pending', attempts = 0, due_at = $2, lease_owner = NULL, lease_until = 0,
          held = false
        WHERE id = $1 AND status = 'dead'`,
    },
    nextDueAt: {
      name: `${prefix}_next_due_at`,
      // See lookAgainAt (outbox-rules.ts): two index lookups.
      text: `SELECT least(
          (SELECT min(due_at) FROM ${s}.outbox WHERE status = 'pending' AND NOT held AND due_at > $1),
          (SELECT min(lease_until) FROM ${s}.outbox
            WHERE status = 'pending' AND NOT held AND lease_until > 0 AND lease_until > $1))::float8 AS at`,
    },
    outboxStats: {
      name: `${prefix}_outbox_stats`,
      text: `
        SELECT
          count(*) FILTER (WHERE status = 'pending' AND NOT (timer AND attempts = 0 AND due_at > $1))::int AS depth,
          count(*) FILTER (WHERE status = 'pending' AND lease_until > $1)::int AS "inFlight",
          count(*) FILTER (WHERE status = 'pending' AND lease_until <= $1 AND attempts > 0)::int AS retrying,
          count(*) FILTER (WHERE status = 'dead')::int AS "deadLetters",
          count(*) FILTER (WHERE status = 'pending' AND timer AND attempts = 0 AND due_at > $1)::int AS "pendingTimers",
          (min(due_at) FILTER (WHERE status = 'pending' AND NOT (timer AND attempts = 0 AND due_at > $1)))::float8
            AS "oldestDueAt"
        FROM ${s}.outbox`,
    },
    outboxOf: {
      name: `${prefix}_outbox_of`,
      text: `SELECT ${columns('o')} FROM ${s}.outbox o
        WHERE (o.source_type = $1 AND o.source_id = $2) OR (o.kind = 'message' AND o.name = $1 AND o.target_id = $2)
        ORDER BY o.id LIMIT $3`,
    },
    /** Catch-ups of many entities in one round trip: the events of each log from its own version. */
    readStreams: {
      name: `${prefix}_read_streams`,
      text: `
        SELECT r.idx::int AS "index", e.version, e.data, e."eventVersion", e."recordedAt", e.position
        FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS r(stream_id, from_version, idx)
        CROSS JOIN LATERAL (
          SELECT ev.version, ev.data, ev.event_version AS "eventVersion", ${recordedAt('ev')} AS "recordedAt",
            ${positionSql('ev.tx', 'ev.seq')} AS position
          FROM ${s}.events ev
          WHERE ev.stream_id = r.stream_id AND ev.version >= r.from_version
          ORDER BY ev.version LIMIT $3
        ) e
        ORDER BY r.idx, e.version`,
    },
    /** Activations of many entities in one round trip: snapshots joined with the events after them. */
    readLogs: {
      name: `${prefix}_read_logs`,
      text: `
        WITH r AS (
          SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS r(stream_id, entity_type, schema_version, idx)
        ), s AS (
          SELECT r.idx, r.stream_id, sn.version AS snapshot_version, sn.state
          FROM r LEFT JOIN ${s}.snapshots sn
            ON sn.stream_id = r.stream_id AND sn.entity_type = r.entity_type AND sn.schema_version = r.schema_version
        )
        SELECT s.idx::int AS "index", s.snapshot_version AS "snapshotVersion", s.state, e.version, e.data,
          e."eventVersion", e."recordedAt", e.position
        FROM s LEFT JOIN LATERAL (
          SELECT ev.version, ev.data, ev.event_version AS "eventVersion", ${recordedAt('ev')} AS "recordedAt",
            ${positionSql('ev.tx', 'ev.seq')} AS position
          FROM ${s}.events ev
          WHERE ev.stream_id = s.stream_id AND ev.version > coalesce(s.snapshot_version, 0)
          ORDER BY ev.version LIMIT $4
        ) e ON true
        ORDER BY s.idx, e.version`,
    },
    /**
     * A feed page: per entity type, its events after the position in (tx, seq) order, read only
     * below the oldest transaction still running; the pages merged, in order.
     */
    readFeed: {
      name: `${prefix}_read_feed`,
      text: `
        WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS tx)
        SELECT e.position, e."streamId", e."entityType", e.version, e.data, e."eventVersion", e."recordedAt"
        FROM unnest($1::text[]) AS t(entity_type)
        CROSS JOIN horizon h
        CROSS JOIN LATERAL (
          SELECT ${positionSql('ev.tx', 'ev.seq')} AS position, ev.stream_id AS "streamId",
            ev.entity_type AS "entityType", ev.version, ev.data, ev.event_version AS "eventVersion",
            ${recordedAt('ev')} AS "recordedAt", ev.tx, ev.seq
          FROM ${s}.events ev
          WHERE ev.entity_type = t.entity_type AND (ev.tx, ev.seq) > ($2::bigint, $3::bigint) AND ev.tx < h.tx
          ORDER BY ev.tx, ev.seq LIMIT $4
        ) e
        ORDER BY e.tx, e.seq LIMIT $4`,
    },
    /** The latest committed event of these types, whether or not the feed may pass it yet. */
    feedHead: {
      name: `${prefix}_feed_head`,
      text: `
        SELECT max(e.position) AS position
        FROM unnest($1::text[]) AS t(entity_type)
        CROSS JOIN LATERAL (
          SELECT ${positionSql('ev.tx', 'ev.seq')} AS position FROM ${s}.events ev
          WHERE ev.entity_type = t.entity_type ORDER BY ev.tx DESC, ev.seq DESC LIMIT 1
        ) e`,
    },
    joinCluster: {
      name: `${prefix}_join_cluster`,
      text: `INSERT INTO ${s}.members (incarnation, name, address, status, heartbeat_at)
        VALUES ($1, $2, $3, 'active', clock_timestamp())`,
    },
    /** Renews the member unless it expired, forgets long-dead ones; answers the live members and owners. */
    heartbeat: {
      name: `${prefix}_heartbeat`,
      text: `
        WITH renewed AS (
          UPDATE ${s}.members SET heartbeat_at = clock_timestamp(), status = $2
          WHERE incarnation = $1 AND heartbeat_at > clock_timestamp() - ${ttl('$3')}
          RETURNING incarnation
        ), forgotten AS (
          DELETE FROM ${s}.members WHERE heartbeat_at <= clock_timestamp() - 10 * ${ttl('$3')}
        )
        SELECT EXISTS (SELECT 1 FROM renewed) AS alive,
          coalesce((
            SELECT json_agg(json_build_object('incarnation', m.incarnation, 'name', m.name, 'address', m.address,
              'status', CASE WHEN m.incarnation IN (SELECT incarnation FROM renewed) THEN $2 ELSE m.status END)
              ORDER BY m.name, m.incarnation)
            FROM ${s}.members m
            WHERE m.heartbeat_at > clock_timestamp() - ${ttl('$3')} OR m.incarnation IN (SELECT incarnation FROM renewed)
          ), '[]') AS members,
          coalesce((
            SELECT json_agg(json_build_array(p.partition, p.owner))
            FROM ${s}.partitions p WHERE p.partition < $4 AND p.owner IS NOT NULL
          ), '[]') AS owners`,
    },
    /** Takes each partition that is unowned, this member's, or owned by a member that is not alive. */
    claimPartitions: {
      name: `${prefix}_claim_partitions`,
      text: `
        INSERT INTO ${s}.partitions AS p (partition, owner)
        SELECT claimed, $1 FROM unnest($2::int[]) AS claimed
        WHERE EXISTS (
          SELECT 1 FROM ${s}.members WHERE incarnation = $1 AND heartbeat_at > clock_timestamp() - ${ttl('$3')})
        ON CONFLICT (partition) DO UPDATE SET owner = excluded.owner
        WHERE p.owner IS NULL OR p.owner = excluded.owner OR NOT EXISTS (
          SELECT 1 FROM ${s}.members m WHERE m.incarnation = p.owner AND m.heartbeat_at > clock_timestamp() - ${ttl('$3')})
        RETURNING p.partition`,
    },
    handOverPartitions: {
      name: `${prefix}_hand_over_partitions`,
      text: `
        UPDATE ${s}.partitions p SET owner = h.to
        FROM jsonb_to_recordset($2::jsonb) AS h(partition int, "to" text)
        WHERE p.partition = h.partition AND p.owner = $1`,
    },
    leaveCluster: {
      name: `${prefix}_leave_cluster`,
      text: `
        WITH gone AS (DELETE FROM ${s}.members WHERE incarnation = $1)
        UPDATE ${s}.partitions SET owner = NULL WHERE owner = $1`,
    },
    leaseCheckpoint: {
      name: `${prefix}_lease_checkpoint`,
      text: `
        INSERT INTO ${s}.checkpoints AS c (name, version, lease_owner, lease_until) VALUES ($1, $2::int, $3, $4::bigint + $5::bigint)
        ON CONFLICT (name) DO UPDATE SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
          WHERE c.lease_owner = excluded.lease_owner OR c.lease_until <= $4::bigint
        RETURNING ${checkpointColumns}`,
    },
    readCheckpoint: {
      name: `${prefix}_read_checkpoint`,
      text: `SELECT ${checkpointColumns} FROM ${s}.checkpoints WHERE name = $1`,
    },
    writeCheckpoint: {
      move: {
        name: `${prefix}_move_checkpoint`,
        text: `
          UPDATE ${s}.checkpoints SET position = $5, version = $6::int, lease_until = $4::bigint + $7::bigint,
            failed = CASE WHEN $8::boolean THEN $9::text ELSE failed END, rebuild = rebuild AND NOT $10::boolean
          WHERE name = $1 AND position = $2 AND lease_owner = $3 AND lease_until > $4`,
      },
      forgetSkipped: { name: `${prefix}_forget_skipped`, text: `DELETE FROM ${s}.skipped WHERE name = $1` },
      skip: {
        name: `${prefix}_skip`,
        text: `
          INSERT INTO ${s}.skipped (name, position, entity_type, stream_id, version, error)
          SELECT $1, r.position, r."entityType", r."streamId", r.version, r.error
          FROM jsonb_to_recordset($2::jsonb) AS r(position text, "entityType" text, "streamId" text, version int, error text)
          ON CONFLICT DO NOTHING`,
      },
    },
    markCheckpoint: {
      name: `${prefix}_mark_checkpoint`,
      text: `UPDATE ${s}.checkpoints SET failed = NULL, rebuild = rebuild OR $2::boolean WHERE name = $1`,
    },
    skippedEvents: {
      name: `${prefix}_skipped_events`,
      text: `SELECT position, entity_type AS "entityType", stream_id AS "streamId", version, error
        FROM ${s}.skipped WHERE name = $1 ORDER BY position LIMIT $2`,
    },
    /** The live answers under keys of many logs, in one round trip. */
    readAnswers: {
      name: `${prefix}_read_answers`,
      text: `
        SELECT r.idx::int AS "index", a.key, a.version, a.position, a.rejection
        FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS r(stream_id, key, idx)
        JOIN ${s}.answers a ON a.stream_id = r.stream_id AND a.key = r.key AND a.recorded_at >= $3`,
    },
    /** A few of the oldest rows at a time (the recorded_at indexes); rows another transaction holds are left. */
    prune: {
      messageIds: { name: `${prefix}_prune_message_ids`, text: pruneOldest(s, 'processed', 'message_id') },
      keys: { name: `${prefix}_prune_keys`, text: pruneOldest(s, 'answers', 'key') },
    },
    writeSnapshot: {
      name: `${prefix}_write_snapshot`,
      text: `
        INSERT INTO ${s}.snapshots AS old (stream_id, entity_type, schema_version, version, state)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (stream_id, entity_type) DO UPDATE
          SET schema_version = excluded.schema_version, version = excluded.version, state = excluded.state
          WHERE excluded.version > old.version OR excluded.schema_version <> old.schema_version`,
    },
  };
}

/** Deletes up to `$2` of a log's remembered rows recorded before `$1`, the oldest first, by (stream_id, `key`). */
function pruneOldest(s: string, table: string, key: string): string {
  return `
    DELETE FROM ${s}.${table} t USING (
      SELECT stream_id, ${key} FROM ${s}.${table} WHERE recorded_at < $1
      ORDER BY recorded_at LIMIT $2 FOR UPDATE SKIP LOCKED
    ) old
    WHERE t.stream_id = old.stream_id AND t.${key} = old.${key}`;
}

/** A short stable hash, to keep prepared statement names unique per schema and under 63 bytes. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}
