/**
 * Every row of every table of a store's place, to compare before and after something that must
 * write nothing: a SQLite file, opened read-only; a PostgreSQL schema, rows in a stable order.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import type { StorePlace } from './stores.js';

export type Dump = Record<string, unknown[]>;

/** Every row of every table of the place (SQLite or PostgreSQL). */
export function dumpOf(place: StorePlace): Promise<Dump> {
  const { kind, filename, url, schema } = place.address;
  if (kind === 'sqlite') return Promise.resolve(dumpSqlite(filename as string));
  if (kind === 'postgres') return dumpPostgres(url as string, schema as string);
  throw new Error('A memory store has no tables to dump');
}

export function dumpSqlite(filename: string): Dump {
  const db = new Database(filename, { readonly: true });
  try {
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as {
      name: string;
    }[];
    return Object.fromEntries(tables.map(({ name }) => [name, sorted(db.prepare(`SELECT * FROM "${name}"`).all())]));
  } finally {
    db.close();
  }
}

export async function dumpPostgres(url: string, schema: string): Promise<Dump> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows: tables } = await client.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables
        WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`,
      [schema],
    );
    const dump: Dump = {};
    for (const { name } of tables) {
      const quoted = `"${schema.replaceAll('"', '""')}"."${name.replaceAll('"', '""')}"`;
      dump[name] = sorted((await client.query(`SELECT * FROM ${quoted}`)).rows);
    }
    return dump;
  } finally {
    await client.end();
  }
}

/** Rows in one order whatever order the database gave them in. */
function sorted(rows: unknown[]): unknown[] {
  const keyed = rows.map(
    (row) => [JSON.stringify(row, (_key, value) => (typeof value === 'bigint' ? `${value}n` : value)), row] as const,
  );
  return keyed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
}
