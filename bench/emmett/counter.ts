/**
 * Peer baseline for `bench/run.ts`: the benchmark's counter written the way Emmett's docs show it,
 * with Emmett's `CommandHandler({ evolve, initialState })` over its SQLite and PostgreSQL event
 * stores. Each `increment` reads the stream, folds it into `{ count }`, decides one `Increased`
 * event and appends it with the version it read as the expected version.
 *
 * Conflicts: the handler is given Emmett's own retry option, `retry: { onVersionConflict }`,
 * which reruns the whole read-decide-append, with jittered exponential backoff, while the error is
 * Emmett's `ExpectedVersionConflictError` (on SQLite also SQLITE_BUSY, see `isSqliteBusy`). On
 * PostgreSQL that is what resolves the hot stream.
 *
 * SQLite needs two in-process locks around Emmett, both explained at `emmettSqlite`: appends take
 * turns (one writer, as SQLite has), and commands on the same stream take turns (emmett-sqlite
 * 0.42.4 cannot survive a version conflict on a stream).
 *
 * Installed separately (`npm --prefix bench/emmett ci --legacy-peer-deps`) so that the library's
 * own dependencies stay clean.
 */
import {
  CommandHandler,
  type CommandHandlerRetryOptions,
  type Event,
  isExpectedVersionConflictError,
} from '@event-driven-io/emmett';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { getSQLiteEventStore, type SQLiteEventStore } from '@event-driven-io/emmett-sqlite';

export interface EmmettCounter {
  /** Handles one Increment command for the counter stream with this id: read the stream, decide, append with the expected version (Emmett's CommandHandler). */
  increment(id: string): Promise<void>;
  close(): Promise<void>;
}

export type Increased = Event<'Increased', { amount: number }>;
export type CounterState = { count: number };

export const evolve = (state: CounterState, event: Increased): CounterState => ({
  count: state.count + event.data.amount,
});
export const initialState = (): CounterState => ({ count: 0 });
/** Emmett's stream naming convention `<type>-<id>` (the stores take `counter` as the stream type). */
export const streamName = (id: string) => `counter-${id}`;

const increase = (_state: CounterState): Increased => ({ type: 'Increased', data: { amount: 1 } });

/** How many times a `CommandHandler` retried, since the process started, and why. */
export const retries = { conflicts: 0, sqliteBusy: 0 };

const isConflict = (error: unknown) => isExpectedVersionConflictError(error);
/**
 * `SQLITE_BUSY: cannot commit transaction - SQL statements in progress`: a race inside Emmett's
 * SQLite connection (it awaits a `RETURNING` statement's row, then sends COMMIT while `sqlite3`
 * has yet to finalize that statement; seen here twice in 14 check runs, and once or twice in 3,000
 * increments with 64 in flight). The COMMIT did
 * not happen and Emmett rolls the transaction back (printing the error with console.log), so the
 * command can be run again. Any other SQLITE_BUSY is retried too: none of them commits.
 */
const isSqliteBusy = (error: unknown) =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'SQLITE_BUSY';

/**
 * Emmett's `onVersionConflict` retry (async-retry options). Emmett's own default
 * (`onVersionConflict: true`) is 3 retries from 100 ms, which 256 callers on one stream exhaust,
 * so: up to 1,000 retries, jittered exponential backoff from 2 ms capped at 100 ms. Bounded so
 * that a livelock fails loudly instead of hanging the benchmark.
 */
function retryOn(retryable: (error: unknown) => boolean): CommandHandlerRetryOptions {
  return {
    onVersionConflict: {
      retries: 1000,
      minTimeout: 2,
      maxTimeout: 100,
      factor: 2,
      randomize: true,
      shouldRetryError: (error) => {
        if (isConflict(error)) retries.conflicts++;
        else if (isSqliteBusy(error)) retries.sqliteBusy++;
        return retryable(error);
      },
    },
  };
}

/** The counter's command handler: Emmett's `CommandHandler`, as in its docs, retrying conflicts. */
export const handle = CommandHandler<CounterState, Increased>({
  evolve,
  initialState,
  mapToStreamId: streamName,
  retry: retryOn(isConflict),
});

/** The same, for the SQLite store: also retries SQLITE_BUSY (see `isSqliteBusy`). */
export const handleSqlite = CommandHandler<CounterState, Increased>({
  evolve,
  initialState,
  mapToStreamId: streamName,
  retry: retryOn((error) => isConflict(error) || isSqliteBusy(error)),
});

/** Runs `work` after every earlier call with the same key has settled (a promise chain per key). */
function turns() {
  const tails = new Map<string, Promise<void>>();
  return async <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const previous = tails.get(key) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    const tail = previous.then(() => mine);
    tails.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      done();
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}

/**
 * Emmett's SQLite event store on a file. As Emmett configures it: a new `sqlite3` connection for
 * every read and every append (closed after it), `PRAGMA journal_mode = WAL` on each, `synchronous`
 * left at SQLite's default (FULL, checked by check.ts), `sqlite3`'s busy timeout of 1 s, appends in
 * `BEGIN IMMEDIATE` transactions. The schema is created by `schema.migrate()` before the first call.
 *
 * Two in-process locks, neither of which Emmett provides:
 * - Appends take turns. Concurrent `BEGIN IMMEDIATE`s on separate connections otherwise busy-wait
 *   inside libuv's 4 worker threads, starving the connection that holds the lock of a thread to
 *   finish on; after 1 s they fail with SQLITE_BUSY, which Emmett masks by a failing ROLLBACK
 *   ("cannot rollback - no transaction is active"), and logs with console.log. Seen here: 63 of 64
 *   concurrent increments on distinct streams failed, in 16 s.
 * - Commands on the same stream take turns, so no version conflict can arise in this process.
 *   emmett-sqlite 0.42.4 commits the `stream_position` bump of an append that lost its version
 *   check; after the first conflict, the stream row runs ahead of its messages and every later
 *   append to that stream conflicts, retries included (seen here: a livelock). Upstream has fixed
 *   it since (the UPDATE checks the expected position), in no release on the registry here.
 * Reads of different streams still run concurrently.
 */
export async function emmettSqlite(filename: string): Promise<EmmettCounter> {
  const eventStore = getSQLiteEventStore({ fileName: filename, schema: { autoMigration: 'CreateOrUpdate' } });
  await eventStore.schema.migrate();
  const writer = turns();
  const perStream = turns();
  const store: SQLiteEventStore = {
    ...eventStore,
    appendToStream: (name, events, options) => writer('', () => eventStore.appendToStream(name, events, options)),
  };
  return {
    async increment(id) {
      await perStream(id, () => handleSqlite(store, id, increase));
    },
    async close() {
      // A file store keeps no connection open between operations.
    },
  };
}

/**
 * Emmett's PostgreSQL event store: a `pg` pool (dumbo's, `pg`'s default of 10 connections), one
 * pooled connection per command (`withSession`); the append is the `emt_append_to_stream` function.
 * The schema (Emmett's migrations: tables partitioned by `partition`, functions) is created by
 * `schema.migrate()` before the first call. Conflicts are left to Emmett's retry.
 */
export async function emmettPostgres(connectionString: string): Promise<EmmettCounter> {
  const eventStore = getPostgreSQLEventStore(connectionString, { schema: { autoMigration: 'CreateOrUpdate' } });
  await eventStore.schema.migrate();
  return {
    async increment(id) {
      await handle(eventStore, id, increase);
    },
    close: () => eventStore.close(),
  };
}
