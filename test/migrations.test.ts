/** Stores migrate on first use, safely when several processes start at once. */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSystem } from 'pachyderm';
import { postgresStore } from 'pachyderm/postgres';
import { sqliteStore } from 'pachyderm/sqlite';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresMigrationCount } from '../src/store/postgres/schema.js';
import { sqliteMigrations } from '../src/store/sqlite/schema.js';
import { Ledger } from './support/entities.js';
import { createTestDatabase } from './support/postgres.js';

describe('PostgreSQL migrations', () => {
  const database = createTestDatabase();
  afterAll(async () => (await database).drop());

  it('applies each migration once when many stores open a new schema at the same time', async () => {
    const { url } = await database;
    const schema = `concurrent "${randomBytes(4).toString('hex')}"`;
    const stores = Array.from({ length: 8 }, () => postgresStore({ connectionString: url, schema, poolSize: 2 }));
    const systems = stores.map((store) => createSystem({ store, entities: [Ledger] }));
    const ref = Ledger.ref(randomUUID());
    const results = await Promise.all(
      systems.map((system, i) => system.call(ref, { type: 'Record', callId: `c${i}` })),
    );
    expect(results.map((r) => (r.ok ? r.version : 0)).sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    await Promise.all(systems.map((s) => s.close()));

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query(
        `SELECT version FROM "${schema.replaceAll('"', '""')}".migrations ORDER BY version`,
      );
      expect(rows.map((r) => r.version)).toEqual(Array.from({ length: postgresMigrationCount }, (_, i) => i + 1));
    } finally {
      await client.end();
    }
  });

  it('uses a pool it is given and leaves it open', async () => {
    const { url } = await database;
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const system = createSystem({ store: postgresStore({ pool, schema: 'given_pool' }), entities: [Ledger] });
    expect(await system.call(Ledger.ref(randomUUID()), { type: 'Record', callId: 'a' })).toMatchObject({ ok: true });
    await system.close();
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM given_pool.events');
    expect(rows[0].n).toBe(1);
    await pool.end();
  });
});

describe('SQLite migrations', () => {
  const directory = mkdtemp(join(tmpdir(), 'pachyderm-migrate-'));
  afterAll(async () => rm(await directory, { recursive: true, force: true }));

  it('applies the schema once when several store objects open a new file together', async () => {
    const filename = join(await directory, 'new.db');
    const systems = Array.from({ length: 4 }, () =>
      createSystem({ store: sqliteStore({ filename }), entities: [Ledger] }),
    );
    const ref = Ledger.ref(randomUUID());
    await Promise.all(systems.map((system, i) => system.call(ref, { type: 'Record', callId: `c${i}` })));
    await Promise.all(systems.map((s) => s.close()));
    const db = new Database(filename, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(sqliteMigrations.length);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.prepare('SELECT count(*) FROM pachyderm_events').pluck().get()).toBe(4);
    db.close();
  });

  it('refuses a synchronous mode other than FULL or NORMAL', () => {
    expect(() => sqliteStore({ filename: 'x.db', synchronous: 'OFF' as never })).toThrow(/FULL/);
  });
});
