import Database from 'better-sqlite3';
import { StoreLifecycle } from '../lifecycle.js';
import type { AppendResult, CommitRequest, Store, StoredEvent, StoredSnapshot } from '../port.js';
import { sqliteMigrations } from './migrations.js';
import { prepareOutbox } from './outbox.js';

export interface SqliteStoreOptions {
  /** The database file; created when missing (its directory must exist). */
  readonly filename: string;
  /**
   * `FULL` (default): a commit is on disk before the call is answered, also across power loss.
   * `NORMAL`: in WAL mode, survives a process crash but may lose the last commits on power loss.
   */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** How long a writer waits for another process's write lock. Default 5000 ms. */
  readonly busyTimeoutMs?: number;
}

/**
 * The embedded default: a SQLite file through better-sqlite3, in WAL mode. Several processes may
 * use one file; SQLite serialises their writes and the expected-version check keeps them exact.
 *
 * @example
 * const store = sqliteStore({ filename: 'pachyderm.db' });
 */
export function sqliteStore(options: SqliteStoreOptions): Store {
  const synchronous = options.synchronous ?? 'FULL';
  if (synchronous !== 'FULL' && synchronous !== 'NORMAL') {
    throw new TypeError(`sqliteStore: synchronous must be 'FULL' or 'NORMAL', got ${String(synchronous)}`);
  }
  let connection: Connection | undefined;
  const lifecycle = new StoreLifecycle(
    async () => {
      connection = openConnection(options.filename, synchronous, options.busyTimeoutMs ?? 5000);
    },
    async () => {
      connection?.db.close();
      connection = undefined;
    },
  );
  const db = (): Connection => {
    if (!connection) throw new Error('The SQLite store is not open');
    return connection;
  };

  return {
    kind: 'sqlite',
    open: () => lifecycle.open(),
    retain: () => lifecycle.retain(),
    release: () => lifecycle.release(),
    async commit(request) {
      return db().commit(request);
    },
    async readStream(streamId, fromVersion, limit) {
      return db().readStream.all(streamId, fromVersion, limit) as StoredEvent[];
    },
    async readStreams(requests, limit) {
      const { readStream } = db();
      return requests.map(({ streamId, fromVersion }) => readStream.all(streamId, fromVersion, limit) as StoredEvent[]);
    },
    async readLogs(requests, limit) {
      const { readSnapshot, readStream } = db();
      return requests.map(({ streamId, entityType, schemaVersion }) => {
        const found = readSnapshot.get(streamId, entityType) as StoredSnapshot | undefined;
        const snapshot = found?.schemaVersion === schemaVersion ? found : undefined;
        const events = readStream.all(streamId, (snapshot?.version ?? 0) + 1, limit) as StoredEvent[];
        return snapshot ? { snapshot, events } : { events };
      });
    },

    async streamVersion(streamId) {
      return db().streamVersion.get(streamId) as number;
    },
    async readSnapshot(streamId, entityType) {
      return db().readSnapshot.get(streamId, entityType) as StoredSnapshot | undefined;
    },
    async writeSnapshot(streamId, entityType, snapshot) {
      db().writeSnapshot.run(streamId, entityType, snapshot.schemaVersion, snapshot.version, snapshot.state);
    },
    async claimOutbox(request) {
      return db().outbox.claim(request);
    },
    async settleOutbox(id, owner, outcome) {
      db().outbox.settle(id, owner, outcome);
    },
    async deadLetters(limit) {
      return db().outbox.deadLetters(limit);
    },
    async retryDeadLetter(id, now) {
      return db().outbox.retryDeadLetter(id, now);
    },
    async nextDueAt(after) {
      return db().outbox.nextDueAt(after);
    },
    async outboxStats(now) {
      return db().outbox.stats(now);
    },
  };
}

type Connection = ReturnType<typeof openConnection>;

function openConnection(filename: string, synchronous: 'FULL' | 'NORMAL', busyTimeoutMs: number) {
  const db = new Database(filename, { timeout: busyTimeoutMs });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    migrate(db);
    return prepare(db);
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Applies pending migrations; `BEGIN IMMEDIATE` makes processes starting together take turns. */
function migrate(db: Database.Database): void {
  const apply = db.transaction(() => {
    const applied = db.pragma('user_version', { simple: true }) as number;
    for (let i = applied; i < sqliteMigrations.length; i++) db.exec(sqliteMigrations[i] as string);
    if (applied < sqliteMigrations.length) db.pragma(`user_version = ${sqliteMigrations.length}`);
  });
  apply.immediate();
}

function prepare(db: Database.Database) {
  const streamVersion = db
    .prepare('SELECT coalesce(max(version), 0) FROM pachyderm_events WHERE stream_id = ?')
    .pluck();
  const insertEvent = db.prepare(
    'INSERT INTO pachyderm_events (stream_id, version, data, recorded_at) VALUES (?, ?, ?, ?)',
  );
  const readStream = db.prepare(
    `SELECT version, data, recorded_at AS recordedAt FROM pachyderm_events
     WHERE stream_id = ? AND version >= ? ORDER BY version LIMIT ?`,
  );
  const readSnapshot = db.prepare(
    `SELECT schema_version AS schemaVersion, version, state FROM pachyderm_snapshots
     WHERE stream_id = ? AND entity_type = ?`,
  );
  const writeSnapshot = db.prepare(
    `INSERT INTO pachyderm_snapshots (stream_id, entity_type, schema_version, version, state)
     VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (stream_id, entity_type) DO UPDATE
       SET schema_version = excluded.schema_version, version = excluded.version, state = excluded.state
       WHERE excluded.version > pachyderm_snapshots.version
          OR excluded.schema_version <> pachyderm_snapshots.schema_version`,
  );
  const outbox = prepareOutbox(db);
  // SQLite runs one write transaction at a time, so reading the version inside it is exact.
  const commitTransaction = db.transaction((request: CommitRequest): AppendResult[] =>
    request.appends.map((append) => {
      const actual = streamVersion.get(append.streamId) as number;
      if (actual !== append.expectedVersion) {
        return { ok: false, conflict: { expectedVersion: append.expectedVersion, actualVersion: actual } };
      }
      if (outbox.isDuplicate(append)) return { ok: false, duplicate: true };
      let version = actual;
      for (const data of append.events) insertEvent.run(append.streamId, ++version, data, request.recordedAt);
      outbox.write(append);
      return { ok: true, version };
    }),
  );
  return {
    db,
    outbox,
    streamVersion,
    readStream,
    readSnapshot,
    writeSnapshot,
    commit: (request: CommitRequest) => commitTransaction.immediate(request),
  };
}
