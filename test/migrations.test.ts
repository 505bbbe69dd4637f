/** Stores migrate on first use, safely when several processes start at once. */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSystem, type Store } from 'pachyderm';
import { postgresStore } from 'pachyderm/postgres';
import { sqliteStore } from 'pachyderm/sqlite';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresMigrationCount, postgresMigrations } from '../src/store/postgres/schema.js';
import { sqliteMigrations } from '../src/store/sqlite/schema.js';
import { Ledger } from './support/entities.js';
import { createTestDatabase } from './support/postgres.js';
import { eventsOf, withStore } from './support/reads.js';

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

  it('upgrades a schema from before event versions and keyed answers, keeping what it remembers', async () => {
    const { url } = await database;
    const schema = `before_${randomBytes(4).toString('hex')}`;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const id = randomUUID();
    try {
      await client.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.migrations (version integer PRIMARY KEY)`);
      for (let i = 0; i < 10; i++) {
        await client.query((postgresMigrations[i] as (s: string) => string)(schema));
        await client.query(`INSERT INTO ${schema}.migrations (version) VALUES ($1)`, [i + 1]);
      }
      await client.query(
        `INSERT INTO ${schema}.streams (id, version) VALUES ($1, 1);
         INSERT INTO ${schema}.events (stream_id, version, data, recorded_at, entity_type)
           VALUES ($1, 1, '{"type":"Recorded","callId":"old"}', now(), 'Ledger');
         INSERT INTO ${schema}.processed (stream_id, message_id) VALUES ($1, 'm-old')`.replaceAll('$1', `'${id}'`),
      );
    } finally {
      await client.end();
    }
    await expectUpgraded(postgresStore({ connectionString: url, schema }), id);
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

  it('upgrades a file from before event versions and keyed answers, keeping what it remembers', async () => {
    const filename = join(await directory, 'before.db');
    const db = new Database(filename);
    for (const migration of sqliteMigrations.slice(0, 6)) db.exec(migration);
    db.pragma('user_version = 6');
    const id = randomUUID();
    db.prepare(
      `INSERT INTO pachyderm_events (stream_id, version, data, recorded_at, entity_type)
       VALUES (?, 1, '{"type":"Recorded","callId":"old"}', 0, 'Ledger')`,
    ).run(id);
    db.prepare("INSERT INTO pachyderm_processed (stream_id, message_id) VALUES (?, 'm-old')").run(id);
    db.close();
    await expectUpgraded(sqliteStore({ filename }), id);
  });

  it('refuses a synchronous mode other than FULL or NORMAL', () => {
    expect(() => sqliteStore({ filename: 'x.db', synchronous: 'OFF' as never })).toThrow(/FULL/);
  });
});

/**
 * After the upgrade: the old event reads under eventVersion 1, the handled message id is still
 * remembered (counted from the upgrade, it is pruned only a window later), and keyed calls work.
 */
async function expectUpgraded(store: Store, id: string): Promise<void> {
  const place = { newStore: () => store };
  await withStore(place as never, async (opened) => {
    expect((await eventsOf(opened, id)).map((e) => [e.version, e.eventVersion])).toEqual([[1, 1]]);
    await opened.prune({ messageIdsBefore: Date.now() - 60_000, keysBefore: 0, limit: 10 });
    const again = { streamId: id, expectedVersion: 1, events: ['{}'], entityType: 'Ledger', eventVersion: 1 };
    const [result] = await opened.commit({ appends: [{ ...again, messageIds: ['m-old'] }], recordedAt: Date.now() });
    expect(result).toEqual({ ok: false, duplicate: true, messageIds: ['m-old'] });
  });
  const system = createSystem({ store, entities: [Ledger] });
  const ref = Ledger.ref(id);
  const first = await system.call(ref, { type: 'Record', callId: 'new' }, { idempotencyKey: 'k' });
  expect(first).toMatchObject({ ok: true, version: 2 });
  expect(await system.call(ref, { type: 'Record', callId: 'new' }, { idempotencyKey: 'k' })).toEqual(first);
  await system.close();
}
