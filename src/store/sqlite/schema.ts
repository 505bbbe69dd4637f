import type Database from 'better-sqlite3';

/**
 * The SQLite schema, as numbered migrations. `PRAGMA user_version` records how many are applied.
 *
 * Events get a global sequence as rowid and a unique (stream_id, version) index: appends to many
 * interleaved logs then write at the end of the table instead of all over a clustered key.
 */
export const sqliteMigrations: readonly string[] = [
  `CREATE TABLE pachyderm_events (
     seq INTEGER PRIMARY KEY,
     stream_id TEXT NOT NULL,
     version INTEGER NOT NULL,
     data TEXT NOT NULL,
     recorded_at INTEGER NOT NULL
   );
   CREATE UNIQUE INDEX pachyderm_events_stream_version ON pachyderm_events (stream_id, version);
   CREATE TABLE pachyderm_snapshots (
     stream_id TEXT NOT NULL,
     entity_type TEXT NOT NULL,
     schema_version TEXT NOT NULL,
     version INTEGER NOT NULL,
     state TEXT NOT NULL,
     PRIMARY KEY (stream_id, entity_type)
   ) WITHOUT ROWID;`,
  // The outbox (at-least-once effects, messages, timers) and the ids of messages each log handled.
  `CREATE TABLE pachyderm_processed (
     stream_id TEXT NOT NULL,
     message_id TEXT NOT NULL,
     PRIMARY KEY (stream_id, message_id)
   ) WITHOUT ROWID;
   CREATE TABLE pachyderm_outbox (
     id INTEGER PRIMARY KEY,
     kind TEXT NOT NULL,
     name TEXT NOT NULL,
     target_id TEXT,
     payload TEXT,
     idempotency_key TEXT NOT NULL,
     due_at INTEGER NOT NULL,
     timer INTEGER NOT NULL,
     timer_key TEXT,
     order_key TEXT,
     source_type TEXT NOT NULL,
     source_id TEXT NOT NULL,
     source_version INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     last_error TEXT,
     status TEXT NOT NULL DEFAULT 'pending',
     lease_owner TEXT,
     lease_until INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX pachyderm_outbox_due ON pachyderm_outbox (status, due_at);
   CREATE INDEX pachyderm_outbox_order ON pachyderm_outbox (order_key, id) WHERE order_key IS NOT NULL;
   CREATE INDEX pachyderm_outbox_timer ON pachyderm_outbox (target_id, timer_key) WHERE timer_key IS NOT NULL;`,
  // The read side: events gain the entity type that decided them (older rows take it from the
  // entity's snapshot where there is one), and checkpoints for projections and reactors.
  `ALTER TABLE pachyderm_events ADD COLUMN entity_type TEXT NOT NULL DEFAULT '';
   UPDATE pachyderm_events SET entity_type = coalesce(
     (SELECT min(s.entity_type) FROM pachyderm_snapshots s WHERE s.stream_id = pachyderm_events.stream_id), '');
   CREATE INDEX pachyderm_events_type ON pachyderm_events (entity_type, seq);
   CREATE TABLE pachyderm_checkpoints (
     name TEXT PRIMARY KEY,
     version INTEGER NOT NULL,
     position TEXT NOT NULL DEFAULT '',
     failed TEXT,
     rebuild INTEGER NOT NULL DEFAULT 0,
     lease_owner TEXT,
     lease_until INTEGER NOT NULL DEFAULT 0
   ) WITHOUT ROWID;
   CREATE TABLE pachyderm_skipped (
     name TEXT NOT NULL,
     position TEXT NOT NULL,
     entity_type TEXT NOT NULL,
     stream_id TEXT NOT NULL,
     version INTEGER NOT NULL,
     error TEXT NOT NULL,
     PRIMARY KEY (name, position)
   ) WITHOUT ROWID;`,
  // A cluster: its members with their heartbeats, and the owner of each partition of entity ids.
  `CREATE TABLE pachyderm_members (
     incarnation TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     address TEXT NOT NULL,
     status TEXT NOT NULL,
     heartbeat_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE pachyderm_partitions (
     partition INTEGER PRIMARY KEY,
     owner TEXT
   );`,
  // Lanes of the outbox: a row waiting for an earlier one of its order key is written held, and a
  // claim reads only rows that are not (its cost does not grow with the rows waiting behind them).
  // Rows pending at the upgrade are held by the rule they were claimed by until now.
  `ALTER TABLE pachyderm_outbox ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
   UPDATE pachyderm_outbox SET held = 1
   WHERE status = 'pending' AND order_key IS NOT NULL AND EXISTS (
     SELECT 1 FROM pachyderm_outbox p
     WHERE p.order_key = pachyderm_outbox.order_key AND p.id < pachyderm_outbox.id AND p.status = 'pending'
       AND (pachyderm_outbox.kind = 'message' OR p.attempts = 0));
   DROP INDEX pachyderm_outbox_due;
   DROP INDEX pachyderm_outbox_order;
   CREATE INDEX pachyderm_outbox_ready ON pachyderm_outbox (due_at, id) WHERE status = 'pending' AND held = 0;
   CREATE INDEX pachyderm_outbox_leased ON pachyderm_outbox (lease_until)
     WHERE status = 'pending' AND held = 0 AND lease_until > 0;
   CREATE INDEX pachyderm_outbox_lane ON pachyderm_outbox (order_key, id)
     WHERE status = 'pending' AND order_key IS NOT NULL;
   CREATE INDEX pachyderm_outbox_dead ON pachyderm_outbox (id) WHERE status = 'dead';`,
  // Telemetry: the trace context of the decision that wrote a row, so its delivery joins the trace.
  'ALTER TABLE pachyderm_outbox ADD COLUMN trace_context TEXT;',
  // Changing safely: the eventVersion each event was written under (events before it: 1); the
  // answers of idempotent calls by key; when each message id was handled (ids handled before the
  // upgrade count from it), so that both are forgotten after their retention.
  `ALTER TABLE pachyderm_events ADD COLUMN event_version INTEGER NOT NULL DEFAULT 1;
   ALTER TABLE pachyderm_processed ADD COLUMN recorded_at INTEGER NOT NULL DEFAULT 0;
   UPDATE pachyderm_processed SET recorded_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000;
   CREATE INDEX pachyderm_processed_recorded ON pachyderm_processed (recorded_at);
   CREATE TABLE pachyderm_answers (
     stream_id TEXT NOT NULL,
     key TEXT NOT NULL,
     recorded_at INTEGER NOT NULL,
     version INTEGER NOT NULL,
     position TEXT NOT NULL,
     rejection TEXT,
     PRIMARY KEY (stream_id, key)
   ) WITHOUT ROWID;
   CREATE INDEX pachyderm_answers_recorded ON pachyderm_answers (recorded_at);`,
];

/** Applies pending migrations; `BEGIN IMMEDIATE` makes processes starting together take turns. */
export function migrate(db: Database.Database): void {
  const apply = db.transaction(() => {
    const applied = db.pragma('user_version', { simple: true }) as number;
    for (let i = applied; i < sqliteMigrations.length; i++) db.exec(sqliteMigrations[i] as string);
    if (applied < sqliteMigrations.length) db.pragma(`user_version = ${sqliteMigrations.length}`);
  });
  apply.immediate();
}
