import type pg from 'pg';

/**
 * The PostgreSQL schema, as numbered migrations. Each is applied once, in order, and recorded in
 * `<schema>.migrations`. `id` columns use the "C" collation: ids are compared byte for byte.
 */
const migrations: readonly ((schema: string) => string)[] = [
  (s) => `
    CREATE TABLE ${s}.streams (
      id text COLLATE "C" PRIMARY KEY,
      version integer NOT NULL
    );
    CREATE TABLE ${s}.events (
      seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      stream_id text COLLATE "C" NOT NULL,
      version integer NOT NULL,
      data text NOT NULL,
      recorded_at timestamptz NOT NULL,
      UNIQUE (stream_id, version)
    );
    CREATE TABLE ${s}.snapshots (
      stream_id text COLLATE "C" NOT NULL,
      entity_type text COLLATE "C" NOT NULL,
      schema_version text NOT NULL,
      version integer NOT NULL,
      state text NOT NULL,
      PRIMARY KEY (stream_id, entity_type)
    );`,
  // The outbox (at-least-once effects, messages, timers) and the ids of messages each log handled.
  // Times are milliseconds since the epoch from the system's clock.
  (s) => `
    CREATE TABLE ${s}.processed (
      stream_id text COLLATE "C" NOT NULL,
      message_id text COLLATE "C" NOT NULL,
      PRIMARY KEY (stream_id, message_id)
    );
    CREATE TABLE ${s}.outbox (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      kind text NOT NULL,
      name text COLLATE "C" NOT NULL,
      target_id text COLLATE "C",
      payload text,
      idempotency_key text NOT NULL,
      due_at bigint NOT NULL,
      timer boolean NOT NULL,
      timer_key text COLLATE "C",
      order_key text COLLATE "C",
      source_type text NOT NULL,
      source_id text COLLATE "C" NOT NULL,
      source_version integer NOT NULL,
      attempts integer NOT NULL DEFAULT 0,
      last_error text,
      status text NOT NULL DEFAULT 'pending',
      lease_owner text,
      lease_until bigint NOT NULL DEFAULT 0
    );
    CREATE INDEX outbox_due ON ${s}.outbox (status, due_at);
    CREATE INDEX outbox_order ON ${s}.outbox (order_key, id) WHERE order_key IS NOT NULL;
    CREATE INDEX outbox_timer ON ${s}.outbox (target_id, timer_key) WHERE timer_key IS NOT NULL;`,
  // A whole group commit in one round trip: each append checks its expected version (and message
  // id) on its stream's row, then writes its events, processed id, timers and outbox rows, or
  // nothing. Callers pass appends sorted by stream id, so concurrent batches lock rows in one order.
  (s) => `
    CREATE FUNCTION ${s}.commit_batch(
      p_ids text[], p_expected int[], p_counts int[], p_events text[], p_recorded_at float8,
      p_message_ids text[], p_types text[], p_extras jsonb
    ) RETURNS TABLE (r_index int, r_outcome text, r_version int)
    LANGUAGE plpgsql AS $$
    DECLARE
      i int;
      first int := 0;
      n int;
      expected int;
      message text;
      written boolean;
      extra jsonb;
    BEGIN
      FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
        n := p_counts[i];
        expected := p_expected[i];
        message := p_message_ids[i];
        IF expected = 0 THEN
          INSERT INTO ${s}.streams AS st (id, version) VALUES (p_ids[i], n) ON CONFLICT (id) DO NOTHING;
        ELSE
          UPDATE ${s}.streams AS st SET version = expected + n
          WHERE st.id = p_ids[i] AND st.version = expected
            AND (message IS NULL OR NOT EXISTS (
              SELECT 1 FROM ${s}.processed pr WHERE pr.stream_id = p_ids[i] AND pr.message_id = message));
        END IF;
        written := FOUND;
        r_index := i;
        IF written THEN
          INSERT INTO ${s}.events (stream_id, version, data, recorded_at)
          SELECT p_ids[i], expected + g, p_events[first + g], to_timestamp(p_recorded_at / 1000)
          FROM generate_series(1, n) AS g;
          IF message IS NOT NULL THEN
            INSERT INTO ${s}.processed (stream_id, message_id) VALUES (p_ids[i], message);
          END IF;
          extra := p_extras -> (i - 1);
          IF extra IS NOT NULL AND jsonb_typeof(extra) = 'object' THEN
            DELETE FROM ${s}.outbox o
            USING jsonb_to_recordset(extra -> 'timers') AS k(target_id text, key text)
            WHERE o.status = 'pending' AND o.target_id = k.target_id AND o.timer_key = k.key;
            INSERT INTO ${s}.outbox (kind, name, target_id, payload, idempotency_key, due_at, timer, timer_key,
              order_key, source_type, source_id, source_version)
            SELECT r.kind, r.name, r.target_id, r.payload, r.idempotency_key, r.due_at, r.timer, r.timer_key,
              r.order_key, p_types[i], p_ids[i], r.source_version
            FROM jsonb_to_recordset(extra -> 'outbox') AS r(kind text, name text, target_id text, payload text,
              idempotency_key text, due_at bigint, timer boolean, timer_key text, order_key text, source_version int);
          END IF;
          r_outcome := 'ok';
          r_version := expected + n;
        ELSE
          SELECT coalesce((SELECT st.version FROM ${s}.streams st WHERE st.id = p_ids[i]), 0) INTO r_version;
          r_outcome := CASE
            WHEN message IS NOT NULL AND EXISTS (
              SELECT 1 FROM ${s}.processed pr WHERE pr.stream_id = p_ids[i] AND pr.message_id = message)
            THEN 'duplicate' ELSE 'conflict' END;
        END IF;
        RETURN NEXT;
        first := first + n;
      END LOOP;
    END
    $$;`,
];

/** How many migrations there are: the schema's version once up to date. */
export const postgresMigrationCount = migrations.length;

/**
 * Brings the schema up to date. Processes starting together take turns on a transaction-scoped
 * advisory lock, so each migration runs exactly once.
 */
export async function migrate(client: pg.ClientBase, schema: string, quotedSchema: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`pachyderm:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quotedSchema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${quotedSchema}.migrations (
         version integer PRIMARY KEY,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ applied: number }>(
      `SELECT coalesce(max(version), 0)::int AS applied FROM ${quotedSchema}.migrations`,
    );
    const applied = rows[0]?.applied ?? 0;
    for (let i = applied; i < migrations.length; i++) {
      await client.query((migrations[i] as (s: string) => string)(quotedSchema));
      await client.query(`INSERT INTO ${quotedSchema}.migrations (version) VALUES ($1)`, [i + 1]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
