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
];
