/**
 * The peer baseline: Emmett's command handler on its SQLite and PostgreSQL event stores, from the
 * separate package in bench/emmett (installed here on first use, so the library's own
 * dependencies stay clean). Undefined when it cannot be installed: the report says so.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface PeerCounter {
  increment(id: string): Promise<void>;
  close(): Promise<void>;
}

export interface Peer {
  sqlite(filename: string): Promise<PeerCounter>;
  postgres(connectionString: string): Promise<PeerCounter>;
}

const folder = fileURLToPath(new URL('./emmett/', import.meta.url));

export async function loadEmmett(): Promise<Peer | undefined> {
  if (!existsSync(`${folder}node_modules/@event-driven-io/emmett`)) {
    console.log('Installing the Emmett baseline (bench/emmett, about two minutes: sqlite3 builds from source)');
    const install = spawnSync('npm', ['--prefix', folder, 'ci', '--legacy-peer-deps'], { stdio: 'inherit' });
    if (install.status !== 0) {
      console.log('The Emmett baseline could not be installed: its columns stay empty');
      return undefined;
    }
  }
  // A computed specifier: the root type check must not follow it into bench/emmett, whose
  // dependencies are installed only here.
  const specifier = './emmett/counter.js';
  try {
    const emmett = (await import(specifier)) as {
      emmettSqlite(filename: string): Promise<PeerCounter>;
      emmettPostgres(connectionString: string): Promise<PeerCounter>;
    };
    return { sqlite: emmett.emmettSqlite, postgres: emmett.emmettPostgres };
  } catch (error) {
    console.log(
      `The Emmett baseline does not load (${String(error).split('\n')[0]}); delete bench/emmett/node_modules to reinstall it. Its columns stay empty`,
    );
    return undefined;
  }
}
