/**
 * Every SQL statement the PostgreSQL store runs, built once per schema. Named statements are
 * prepared once per connection by `pg`.
 */
export function statements(schema: string, quotedSchema: string) {
  const s = quotedSchema;
  const prefix = `pachyderm_${fnv1a(schema)}`;
  /**
   * After the stream's row is written (CTE `w`, empty on a conflict), everything else of the
   * append follows from it in the same statement: the events, the handled message id, removed
   * timers and new outbox rows. Parameters: $1 id, $2 expected version, $3 events, $4 recorded at,
   * $5 message id, $6 timer keys to remove, $7 entity type, $8 outbox rows (both JSON).
   */
  const events = `
    e AS (
      INSERT INTO ${s}.events (stream_id, version, data, recorded_at)
      SELECT w.id, $2::int + e.ord, e.data, to_timestamp($4::float8 / 1000)
      FROM w, unnest($3::text[]) WITH ORDINALITY AS e(data, ord)
      RETURNING 1
    )`;
  const rest = `${events},
    p AS (
      INSERT INTO ${s}.processed (stream_id, message_id) SELECT w.id, $5::text FROM w WHERE $5::text IS NOT NULL
    ),
    d AS (
      DELETE FROM ${s}.outbox o USING w, jsonb_to_recordset($6::jsonb) AS k(target_id text, key text)
      WHERE o.status = 'pending' AND o.target_id = k.target_id AND o.timer_key = k.key
    ),
    o AS (
      INSERT INTO ${s}.outbox (kind, name, target_id, payload, idempotency_key, due_at, timer, timer_key, order_key,
        source_type, source_id, source_version)
      SELECT r.kind, r.name, r.target_id, r.payload, r.idempotency_key, r.due_at, r.timer, r.timer_key, r.order_key,
        $7::text, w.id, r.source_version
      FROM w, jsonb_to_recordset($8::jsonb) AS r(kind text, name text, target_id text, payload text,
        idempotency_key text, due_at bigint, timer boolean, timer_key text, order_key text, source_version int)
    )
    SELECT count(*)::int AS appended FROM e`;
  /** The same for an append with events only ($1 to $4): no JSON to parse, fewer plan nodes. */
  const plain = `${events}
    SELECT count(*)::int AS appended FROM e`;
  const columns = (t: string) => `${t}.id::text AS id, ${t}.kind, ${t}.name, ${t}.target_id AS "targetId",
    ${t}.payload, ${t}.idempotency_key AS "idempotencyKey", ${t}.due_at::float8 AS "dueAt", ${t}.timer,
    ${t}.timer_key AS "timerKey", ${t}.order_key AS "orderKey", ${t}.source_type AS "sourceType",
    ${t}.source_id AS "sourceId", ${t}.source_version AS "sourceVersion", ${t}.attempts,
    ${t}.last_error AS "lastError", ${t}.status`;
  return {
    /** Appends to a log that has no events yet; writes nothing when another writer created it. */
    appendNew: {
      name: `${prefix}_append_new`,
      text: `
        WITH w AS (
          INSERT INTO ${s}.streams (id, version) VALUES ($1, $2::int + cardinality($3::text[]))
          ON CONFLICT (id) DO NOTHING
          RETURNING id
        ), ${rest}`,
    },
    /**
     * Appends to a log at the expected version, unless it already handled the message. The UPDATE
     * locks the stream's row; a concurrent writer waits, then sees the new version and matches no
     * row: a conflict, not an error. Every append of a message id bumps the version, so a message
     * handled concurrently is caught by the version and one handled before by NOT EXISTS.
     */
    appendExisting: {
      name: `${prefix}_append_existing`,
      text: `
        WITH w AS (
          UPDATE ${s}.streams SET version = $2::int + cardinality($3::text[])
          WHERE id = $1 AND version = $2::int
            AND NOT EXISTS (SELECT 1 FROM ${s}.processed WHERE stream_id = $1 AND message_id = $5::text)
          RETURNING id
        ), ${rest}`,
    },
    appendNewPlain: {
      name: `${prefix}_append_new_plain`,
      text: `
        WITH w AS (
          INSERT INTO ${s}.streams (id, version) VALUES ($1, $2::int + cardinality($3::text[]))
          ON CONFLICT (id) DO NOTHING
          RETURNING id
        ), ${plain}`,
    },
    appendExistingPlain: {
      name: `${prefix}_append_existing_plain`,
      text: `
        WITH w AS (
          UPDATE ${s}.streams SET version = $2::int + cardinality($3::text[])
          WHERE id = $1 AND version = $2::int
          RETURNING id
        ), ${plain}`,
    },
    /** Why an append wrote nothing: the log's version, and whether it handled the message. */
    refusal: {
      name: `${prefix}_refusal`,
      text: `
        SELECT coalesce((SELECT version FROM ${s}.streams WHERE id = $1), 0) AS version,
          EXISTS (SELECT 1 FROM ${s}.processed WHERE stream_id = $1 AND message_id = $2::text) AS duplicate`,
    },
    claimOutbox: {
      name: `${prefix}_claim_outbox`,
      text: `
        WITH c AS (
          SELECT o.id FROM ${s}.outbox o
          WHERE o.status = 'pending' AND o.due_at <= $1 AND o.lease_until <= $1
            AND (o.order_key IS NULL OR NOT EXISTS (
              SELECT 1 FROM ${s}.outbox p
              WHERE p.order_key = o.order_key AND p.id < o.id AND p.status = 'pending'
                AND (o.kind = 'message' OR p.attempts = 0)))
          ORDER BY o.id LIMIT $2
          FOR UPDATE SKIP LOCKED
        )
        UPDATE ${s}.outbox AS x SET lease_owner = $3, lease_until = $1 + $4, attempts = x.attempts + 1
        FROM c WHERE x.id = c.id
        RETURNING ${columns('x')}`,
    },
    settleDone: {
      name: `${prefix}_settle_done`,
      text: `DELETE FROM ${s}.outbox WHERE id = $1 AND lease_owner = $2 AND status = 'pending'`,
    },
    settleRetry: {
      name: `${prefix}_settle_retry`,
      text: `UPDATE ${s}.outbox SET due_at = $3, last_error = $4, lease_owner = NULL, lease_until = 0
        WHERE id = $1 AND lease_owner = $2 AND status = 'pending'`,
    },
    settleDead: {
      name: `${prefix}_settle_dead`,
      text: `UPDATE ${s}.outbox SET status = 'dead', last_error = $3, lease_owner = NULL, lease_until = 0
        WHERE id = $1 AND lease_owner = $2 AND status = 'pending'`,
    },
    deadLetters: {
      name: `${prefix}_dead_letters`,
      text: `SELECT ${columns('o')} FROM ${s}.outbox o WHERE o.status = 'dead' ORDER BY o.id LIMIT $1`,
    },
    retryDeadLetter: {
      name: `${prefix}_retry_dead_letter`,
      text: `UPDATE ${s}.outbox SET status = 'pending', attempts = 0, due_at = $2, lease_owner = NULL, lease_until = 0
        WHERE id = $1 AND status = 'dead'`,
    },
    nextDueAt: {
      name: `${prefix}_next_due_at`,
      text: `SELECT min(greatest(due_at, lease_until))::float8 AS at FROM ${s}.outbox WHERE status = 'pending'`,
    },
    outboxStats: {
      name: `${prefix}_outbox_stats`,
      text: `
        SELECT
          count(*) FILTER (WHERE status = 'pending' AND NOT (timer AND attempts = 0 AND due_at > $1))::int AS depth,
          count(*) FILTER (WHERE status = 'pending' AND lease_until > $1)::int AS "inFlight",
          count(*) FILTER (WHERE status = 'pending' AND lease_until <= $1 AND attempts > 0)::int AS retrying,
          count(*) FILTER (WHERE status = 'dead')::int AS "deadLetters",
          count(*) FILTER (WHERE status = 'pending' AND timer AND attempts = 0 AND due_at > $1)::int AS "pendingTimers"
        FROM ${s}.outbox`,
    },
    streamVersion: {
      name: `${prefix}_stream_version`,
      text: `SELECT version FROM ${s}.streams WHERE id = $1`,
    },
    readStream: {
      name: `${prefix}_read_stream`,
      text: `
        SELECT version, data, round(extract(epoch FROM recorded_at) * 1000)::float8 AS "recordedAt"
        FROM ${s}.events WHERE stream_id = $1 AND version >= $2 ORDER BY version LIMIT $3`,
    },
    readSnapshot: {
      name: `${prefix}_read_snapshot`,
      text: `
        SELECT schema_version AS "schemaVersion", version, state
        FROM ${s}.snapshots WHERE stream_id = $1 AND entity_type = $2`,
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

/** A short stable hash, to keep prepared statement names unique per schema and under 63 bytes. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}
