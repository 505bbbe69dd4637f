import type pg from 'pg';
import { commitBatchFunction } from './commit-batch.js';
import { claimOutboxFunction, settleOutboxFunction } from './outbox-functions.js';
import { runStatementsFunction } from './statement-batch.js';

/**
 * The PostgreSQL schema, as numbered migrations. Each is applied once, in order, and recorded in
 * `<schema>.migrations`. `id` columns use the "C" collation: ids are compared byte for byte.
 * A change to the `commit_batch` function (commit-batch.ts) is a new migration that runs
 * `commitBatchFunction` again.
 */
export const postgresMigrations: readonly ((schema: string) => string)[] = [
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
  // A whole group commit in one round trip (see commit-batch.ts).
  commitBatchFunction,
  // The read side: events gain the entity type that decided them (older rows take it from the
  // entity's snapshot where there is one) and the writing transaction's id, in an index the feed
  // reads in order; checkpoints for projections and reactors; commit_batch answers positions.
  (s) => `
    ALTER TABLE ${s}.events
      ADD COLUMN entity_type text COLLATE "C" NOT NULL DEFAULT '',
      ADD COLUMN tx bigint NOT NULL DEFAULT 0;
    UPDATE ${s}.events e SET entity_type = sn.entity_type
    FROM (SELECT stream_id, min(entity_type) AS entity_type FROM ${s}.snapshots GROUP BY stream_id) sn
    WHERE sn.stream_id = e.stream_id;
    CREATE INDEX events_feed ON ${s}.events (entity_type, tx, seq);
    CREATE TABLE ${s}.checkpoints (
      name text COLLATE "C" PRIMARY KEY,
      version integer NOT NULL,
      position text COLLATE "C" NOT NULL DEFAULT '',
      failed text,
      rebuild boolean NOT NULL DEFAULT false,
      lease_owner text COLLATE "C",
      lease_until bigint NOT NULL DEFAULT 0
    );
    CREATE TABLE ${s}.skipped (
      name text COLLATE "C" NOT NULL,
      position text COLLATE "C" NOT NULL,
      entity_type text COLLATE "C" NOT NULL,
      stream_id text COLLATE "C" NOT NULL,
      version integer NOT NULL,
      error text NOT NULL,
      PRIMARY KEY (name, position)
    );
    DROP FUNCTION IF EXISTS ${s}.commit_batch(text[], int[], int[], text[], float8, text[], text[], jsonb);
    ${commitBatchFunction(s)}`,
  // Projections' statements, many in one round trip (see statement-batch.ts).
  runStatementsFunction,
  // commit_batch reads back the positions of a one-event append from the sequence, also for
  // inline projections (RETURNING every event cost their calls a third of their rate).
  commitBatchFunction,
  // A cluster: its members with heartbeats on the database's clock, and each partition's owner.
  (s) => `
    CREATE TABLE ${s}.members (
      incarnation text COLLATE "C" PRIMARY KEY,
      name text COLLATE "C" NOT NULL,
      address text NOT NULL,
      status text NOT NULL,
      heartbeat_at timestamptz NOT NULL
    );
    CREATE TABLE ${s}.partitions (
      partition integer PRIMARY KEY,
      owner text COLLATE "C"
    );`,
  // commit_batch notifies the schema's appends channel of what it wrote (see append-hints.ts).
  commitBatchFunction,
  // One append handles many delivered messages (a mailbox batch): commit_batch takes their ids.
  // Lanes of the outbox: a row waiting for an earlier one of its order key is written held, and a
  // claim reads only rows that are not (its cost does not grow with the rows waiting behind them);
  // claims and settles are functions (outbox-functions.ts). Rows pending at the upgrade are held by
  // the rule they were claimed by until now.
  (s) => `
    ALTER TABLE ${s}.outbox ADD COLUMN held boolean NOT NULL DEFAULT false;
    UPDATE ${s}.outbox o SET held = true
    WHERE o.status = 'pending' AND o.order_key IS NOT NULL AND EXISTS (
      SELECT 1 FROM ${s}.outbox p
      WHERE p.order_key = o.order_key AND p.id < o.id AND p.status = 'pending'
        AND (o.kind = 'message' OR p.attempts = 0));
    DROP INDEX ${s}.outbox_due;
    DROP INDEX ${s}.outbox_order;
    CREATE INDEX outbox_ready ON ${s}.outbox (due_at, id) WHERE status = 'pending' AND NOT held;
    CREATE INDEX outbox_leased ON ${s}.outbox (lease_until) WHERE status = 'pending' AND NOT held AND lease_until > 0;
    CREATE INDEX outbox_lane ON ${s}.outbox (order_key, id) WHERE status = 'pending' AND order_key IS NOT NULL;
    CREATE INDEX outbox_dead ON ${s}.outbox (id) WHERE status = 'dead';
    DROP FUNCTION IF EXISTS ${s}.commit_batch(text[], int[], int[], text[], float8, text[], text[], jsonb, boolean);
    ${commitBatchFunction(s)}
    ${claimOutboxFunction(s)}
    ${settleOutboxFunction(s)}`,
  // Telemetry: the trace context of the decision that wrote a row, so its delivery joins the trace;
  // commit_batch writes it.
  (s) => `
    ALTER TABLE ${s}.outbox ADD COLUMN trace_context text;
    ${commitBatchFunction(s)}`,
  // Changing safely: the eventVersion each event was written under (events before it: 1); the
  // answers of idempotent calls by key; when each message id was handled (ids handled before the
  // upgrade count from it), so that both are forgotten after their retention. commit_batch takes
  // the event versions and writes the answers.
  (s) => `
    ALTER TABLE ${s}.events ADD COLUMN event_version integer NOT NULL DEFAULT 1;
    ALTER TABLE ${s}.processed ADD COLUMN recorded_at bigint NOT NULL
      DEFAULT (floor(extract(epoch FROM now()) * 1000))::bigint;
    ALTER TABLE ${s}.processed ALTER COLUMN recorded_at DROP DEFAULT;
    CREATE INDEX processed_recorded ON ${s}.processed (recorded_at);
    CREATE TABLE ${s}.answers (
      stream_id text COLLATE "C" NOT NULL,
      key text COLLATE "C" NOT NULL,
      recorded_at bigint NOT NULL,
      version integer NOT NULL,
      position text COLLATE "C" NOT NULL,
      rejection text,
      PRIMARY KEY (stream_id, key)
    );
    CREATE INDEX answers_recorded ON ${s}.answers (recorded_at);
    DROP FUNCTION IF EXISTS ${s}.commit_batch(text[], int[], int[], text[], float8, text[], int[], text[], jsonb, boolean);
    ${commitBatchFunction(s)}`,
];

/** How many migrations there are: the schema's version once up to date. */
export const postgresMigrationCount = postgresMigrations.length;

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
    for (let i = applied; i < postgresMigrations.length; i++) {
      await client.query((postgresMigrations[i] as (s: string) => string)(quotedSchema));
      await client.query(`INSERT INTO ${quotedSchema}.migrations (version) VALUES ($1)`, [i + 1]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
