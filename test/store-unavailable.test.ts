/**
 * A store that goes away: calls fail with STORE_UNAVAILABLE, nothing is half-committed, and the
 * system serves again once the store is back.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSystem, ErrorCode, isPachydermError, silentLogger, sql } from 'pachyderm';
import { postgresStore } from 'pachyderm/postgres';
import { sqliteStore } from 'pachyderm/sqlite';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { Account, balancesProjection } from './support/accounts.js';
import { Ledger } from './support/entities.js';
import { createTestDatabase, postgresUrl } from './support/postgres.js';

const isUnavailable = (e: unknown) =>
  isPachydermError(e, ErrorCode.StoreUnavailable) && (e as { retryable: boolean }).retryable;

describe('SQLite going away', () => {
  const directory = mkdtemp(join(tmpdir(), 'pachyderm-unavailable-'));
  afterAll(async () => rm(await directory, { recursive: true, force: true }));

  it('fails while the file cannot be opened, then serves once it can', async () => {
    const folder = join(await directory, 'not-yet');
    const system = createSystem({
      store: sqliteStore({ filename: join(folder, 'app.db') }),
      entities: [Ledger],
      logger: silentLogger,
    });
    const ref = Ledger.ref(randomUUID());
    const failure = await system.call(ref, { type: 'Record', callId: 'a' }).catch((e: unknown) => e);
    expect(isUnavailable(failure)).toBe(true);
    await mkdir(folder);
    expect(await system.call(ref, { type: 'Record', callId: 'b' })).toEqual({
      ok: true,
      state: { count: 1 },
      version: 1,
      position: expect.any(String),
    });
    await system.close();
  });

  it('fails while another process holds the write lock, committing nothing, then continues', async () => {
    const filename = join(await directory, 'locked.db');
    const system = createSystem({ store: sqliteStore({ filename, busyTimeoutMs: 50 }), entities: [Ledger] });
    const ref = Ledger.ref(randomUUID());
    await system.call(ref, { type: 'Record', callId: 'a' });
    const other = new Database(filename);
    other.exec('BEGIN EXCLUSIVE');
    const failure = await system.call(ref, { type: 'Record', callId: 'b' }).catch((e: unknown) => e);
    expect(isUnavailable(failure)).toBe(true);
    other.exec('ROLLBACK');
    other.close();
    expect(await system.call(ref, { type: 'Record', callId: 'c' })).toEqual({
      ok: true,
      state: { count: 2 },
      version: 2,
      position: expect.any(String),
    });
    const ids = [];
    for await (const { event } of system.events(ref)) ids.push((event as { callId: string }).callId);
    expect(ids).toEqual(['a', 'c']);
    await system.close();
  });
});

describe('PostgreSQL going away', () => {
  it('fails when nothing listens, without crashing the process', async () => {
    const system = createSystem({
      store: postgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/none' }),
      entities: [Ledger],
      logger: silentLogger,
    });
    const failure = await system
      .call(Ledger.ref(randomUUID()), { type: 'Record', callId: 'a' })
      .catch((e: unknown) => e);
    expect(isUnavailable(failure)).toBe(true);
    await system.close();
  });

  it('fails while the database refuses connections, then serves again with a gapless log', async () => {
    const database = await createTestDatabase();
    const name = new URL(database.url).pathname.slice(1);
    const admin = new pg.Client({ connectionString: postgresUrl() });
    await admin.connect();
    const system = createSystem({
      store: postgresStore({ connectionString: database.url }),
      entities: [Ledger],
      logger: silentLogger,
    });
    try {
      const ref = Ledger.ref(randomUUID());
      for (let i = 0; i < 3; i++) await system.call(ref, { type: 'Record', callId: `before-${i}` });

      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
      const during = await Promise.allSettled(
        Array.from({ length: 5 }, (_, i) => system.call(ref, { type: 'Record', callId: `during-${i}` })),
      );
      for (const outcome of during) {
        expect(outcome.status).toBe('rejected');
        expect(isUnavailable((outcome as PromiseRejectedResult).reason)).toBe(true);
      }

      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      expect(await system.call(ref, { type: 'Record', callId: 'after' })).toEqual({
        ok: true,
        state: { count: 4 },
        version: 4,
        position: expect.any(String),
      });
      const log = [];
      for await (const { version, event } of system.events(ref))
        log.push([version, (event as { callId: string }).callId]);
      expect(log).toEqual([
        [1, 'before-0'],
        [2, 'before-1'],
        [3, 'before-2'],
        [4, 'after'],
      ]);
    } finally {
      await system.close();
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => {});
      await admin.end();
      await database.drop();
    }
  });

  it('lets a projection wait out an outage and go on without loss', async () => {
    const database = await createTestDatabase();
    const name = new URL(database.url).pathname.slice(1);
    const admin = new pg.Client({ connectionString: postgresUrl() });
    await admin.connect();
    const Balances = balancesProjection();
    const system = createSystem({
      store: postgresStore({ connectionString: database.url }),
      entities: [Account],
      projections: [Balances],
      pollIntervalMs: 50,
      logger: silentLogger,
    });
    try {
      const ref = Account.ref(randomUUID());
      const first = await system.call(ref, { type: 'Deposit', amount: 1 });
      await system.projection(Balances).waitFor(first.ok ? first.position : '');

      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(system.projection(Balances).status().lastError).toMatch(/failed|terminat|not allow|connect/i);

      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      const last = await system.call(ref, { type: 'Deposit', amount: 2 });
      await system.projection(Balances).waitFor(last.ok ? last.position : '');
      expect(await system.query(sql`SELECT balance FROM balances`)).toEqual([{ balance: 3 }]);
      expect(await system.query(sql`SELECT version FROM applied ORDER BY version`)).toEqual([
        { version: 1 },
        { version: 2 },
      ]);
      expect(system.projection(Balances).status()).toMatchObject({ state: 'live', lastError: undefined });
    } finally {
      await system.close();
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => {});
      await admin.end();
      await database.drop();
    }
  });
});
