/**
 * The three stores, as places: a memory store object, a SQLite file, a PostgreSQL schema in the
 * test file's own database. `newStore()` makes another store object on the same place, the way a
 * second process or a restart would.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryStore, type Store } from 'pachyderm';
import { postgresStore } from 'pachyderm/postgres';
import { sqliteStore } from 'pachyderm/sqlite';
import { afterAll } from 'vitest';
import { createTestDatabase } from './postgres.js';

export type StoreKind = 'memory' | 'sqlite' | 'postgres';
export const storeKinds: readonly StoreKind[] = ['memory', 'sqlite', 'postgres'];

export interface StorePlace {
  readonly kind: StoreKind;
  /** A store object on this place. For memory, always the same object (the place is the object). */
  newStore(): Store;
  /** Describes where the data lives, for a child process: `{ kind, filename | url, schema }`. */
  readonly address: { kind: StoreKind; filename?: string; url?: string; schema?: string };
}

/**
 * Call at the top of a test file. Makes fresh places on demand and removes them after the file.
 */
export function useStorePlaces(): { place(kind: StoreKind): Promise<StorePlace> } {
  let directory: Promise<string> | undefined;
  let database: ReturnType<typeof createTestDatabase> | undefined;
  afterAll(async () => {
    if (database) await (await database).drop();
    if (directory) await rm(await directory, { recursive: true, force: true });
  });
  return {
    async place(kind) {
      const suffix = randomBytes(6).toString('hex');
      if (kind === 'memory') {
        const store = memoryStore();
        return { kind, newStore: () => store, address: { kind } };
      }
      if (kind === 'sqlite') {
        directory ??= mkdtemp(join(tmpdir(), 'pachyderm-test-'));
        const filename = join(await directory, `${suffix}.db`);
        return { kind, newStore: () => sqliteStore({ filename }), address: { kind, filename } };
      }
      database ??= createTestDatabase();
      const { url } = await database;
      const schema = `s_${suffix}`;
      return {
        kind,
        newStore: () => postgresStore({ connectionString: url, schema }),
        address: { kind, url, schema },
      };
    },
  };
}

/** Makes a store object from an address (used by child processes). */
export function storeAt(address: StorePlace['address']): Store {
  if (address.kind === 'sqlite') return sqliteStore({ filename: address.filename as string });
  if (address.kind === 'postgres') {
    return postgresStore({ connectionString: address.url as string, schema: address.schema as string });
  }
  throw new Error('A memory store cannot be shared with another process');
}
