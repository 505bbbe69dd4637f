/**
 * Checks the Emmett peer baseline (`counter.ts`) on both stores and prints its rates. From the
 * repository root, after `npm --prefix bench/emmett ci --legacy-peer-deps`:
 *
 *   node --import tsx bench/emmett/check.ts
 *
 * For each store, on a fresh SQLite file / a fresh PostgreSQL database (emmett_check_<random>,
 * dropped at the end): 200 increments over 50 streams with 32 in flight, then 100 concurrent
 * increments of one stream; then every stream is read back through Emmett (`aggregateStream`)
 * and its version and state must match. Exits non-zero on any mismatch or failed call.
 *
 * PostgreSQL: PACHYDERM_BENCH_DATABASE_URL, else PACHYDERM_TEST_DATABASE_URL, else
 * postgres://postgres@127.0.0.1:5432/postgres (used only to create and drop the database).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventStore } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { getSQLiteEventStore, sqliteConnection } from '@event-driven-io/emmett-sqlite';
import pg from 'pg';
import {
  type EmmettCounter,
  emmettPostgres,
  emmettSqlite,
  evolve,
  initialState,
  retries,
  streamName,
} from './counter.js';

const STREAMS = 50;
const SPREAD_CALLS = 200;
const SPREAD_CONCURRENCY = 32;
const HOT_CALLS = 100;

/** Runs `total` operations with `concurrency` in flight; calls per second. */
async function drive(total: number, concurrency: number, operation: (i: number) => Promise<unknown>) {
  let next = 0;
  const failures: unknown[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total && failures.length === 0) {
        await operation(next++).catch((error: unknown) => failures.push(error));
      }
    }),
  );
  // Thrown only once nothing is in flight, so that the cleanup after a failure has nothing racing it.
  if (failures.length > 0) throw failures[0];
  return total / ((performance.now() - started) / 1000);
}

async function exercise(label: string, counter: EmmettCounter, readBack: EventStore): Promise<void> {
  const counted = () => ({ ...retries });
  const since = (before: typeof retries) =>
    `${retries.conflicts - before.conflicts} conflict retries, ${retries.sqliteBusy - before.sqliteBusy} SQLITE_BUSY retries`;
  let before = counted();
  const spread = await drive(SPREAD_CALLS, SPREAD_CONCURRENCY, (i) => counter.increment(`c${i % STREAMS}`));
  const spreadRetries = since(before);
  before = counted();
  const hot = await drive(HOT_CALLS, HOT_CALLS, () => counter.increment('hot'));
  const hotRetries = since(before);

  const expected = new Map<string, number>([['hot', HOT_CALLS]]);
  for (let i = 0; i < STREAMS; i++) expected.set(`c${i}`, SPREAD_CALLS / STREAMS);
  for (const [id, calls] of expected) {
    const { state, currentStreamVersion, streamExists } = await readBack.aggregateStream(streamName(id), {
      evolve,
      initialState,
    });
    assert.ok(streamExists, `${label}: stream ${id} exists`);
    assert.equal(BigInt(currentStreamVersion as bigint), BigInt(calls), `${label}: version of ${id}`);
    assert.deepEqual(state, { count: calls }, `${label}: state of ${id}`);
    const { events } = await readBack.readStream(streamName(id));
    assert.equal(events.length, calls, `${label}: events in ${id}`);
  }
  const rate = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });
  console.log(
    `${label}: ${SPREAD_CALLS} increments over ${STREAMS} streams, ${SPREAD_CONCURRENCY} in flight: ${rate(spread)} calls/s (${spreadRetries})`,
  );
  console.log(`${label}: ${HOT_CALLS} concurrent increments of one stream: ${rate(hot)} calls/s (${hotRetries})`);
  console.log(`${label}: ${expected.size} streams read back through Emmett: versions and states right`);
}

async function checkSqlite(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'emmett-check-'));
  try {
    const fileName = join(dir, 'events.db');
    const counter = await emmettSqlite(fileName);
    // What a connection of Emmett's gets: its own factory, as its store opens one per operation.
    const connection = sqliteConnection({ fileName });
    const journal = await connection.querySingle<{ journal_mode: string }>('PRAGMA journal_mode');
    const synchronous = await connection.querySingle<{ synchronous: number }>('PRAGMA synchronous');
    connection.close();
    assert.equal(journal?.journal_mode, 'wal', 'SQLite: journal_mode');
    assert.equal(synchronous?.synchronous, 2, 'SQLite: synchronous (2 = FULL)');
    console.log('SQLite: journal_mode=wal, synchronous=FULL (2) on a connection opened as Emmett opens them');
    try {
      await exercise('SQLite', counter, getSQLiteEventStore({ fileName, schema: { autoMigration: 'None' } }));
    } finally {
      await counter.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Waits (up to 5 s) until no session is left on the database: pg-pool's `end()` resolves before
 * its sockets have closed, and a session that DROP DATABASE ... WITH (FORCE) terminates then
 * raises an unhandled 'error' event in this process.
 */
async function settled(admin: pg.Client, database: string): Promise<void> {
  for (let waited = 0; waited < 5000; waited += 50) {
    const { rows } = await admin.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
      [database],
    );
    if (rows[0]?.n === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function checkPostgres(): Promise<void> {
  const adminUrl =
    process.env.PACHYDERM_BENCH_DATABASE_URL ??
    process.env.PACHYDERM_TEST_DATABASE_URL ??
    'postgres://postgres@127.0.0.1:5432/postgres';
  const database = `emmett_check_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${database}`);
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    const connectionString = url.toString();
    const counter = await emmettPostgres(connectionString);
    const readBack = getPostgreSQLEventStore(connectionString, { schema: { autoMigration: 'None' } });
    try {
      await exercise('PostgreSQL', counter, readBack);
    } finally {
      await readBack.close();
      await counter.close();
    }
  } finally {
    await settled(admin, database);
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  }
}

await checkSqlite();
await checkPostgres();
console.log('Emmett peer baseline: all checks passed');
