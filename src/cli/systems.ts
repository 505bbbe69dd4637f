/**
 * The systems the CLI opens on the app's options, and their end. A command works inside
 * `withSystem` (or `withStore`, on the app's store object alone): the store must answer within a
 * few seconds (a driver may wait minutes on an address that drops packets), and the system is
 * closed (the store released) however the command ends.
 */
import { isPachydermError, messageOf } from '../errors.js';
import { GuardedStore } from '../runtime/guarded-store.js';
import { inspection } from '../runtime/inspection.js';
import type { SystemOptions } from '../runtime/options.js';
import { createSystem, createToolSystem, type System } from '../runtime/system.js';
import type { Store } from '../store/port/index.js';
import { CliError, ExitCode } from './exit-codes.js';
import { progress } from './output.js';

/** How long the store has to answer the first query. */
const CONNECT_TIMEOUT_MS = 5_000;
/** How long closing may take before the CLI exits anyway (a store that never opened may not close). */
const CLOSE_TIMEOUT_MS = 5_000;

/**
 * Runs `work` on a system made from the app's options, then closes it. `tool` (the default) is a
 * system that does no background work, so looking changes nothing; `running` delivers and runs
 * projections like any process of the app (for `--rebuild`), without joining its cluster.
 */
export async function withSystem<T>(
  options: SystemOptions,
  work: (system: System) => Promise<T>,
  kind: 'tool' | 'running' = 'tool',
): Promise<T> {
  let system: System;
  try {
    system = kind === 'tool' ? createToolSystem(options) : createSystem({ ...options, cluster: undefined });
  } catch (error) {
    if (!isPachydermError(error)) throw error;
    throw new CliError(ExitCode.App, error.code, `createSystem refused the --app module's options: ${error.message}`);
  }
  const open = system;
  const interrupted = () => void closeWithin(open).finally(() => process.exit(130));
  process.once('SIGINT', interrupted);
  let answered = false;
  try {
    await reachable(() => system.deadLetters({ limit: 1 }));
    answered = true;
    const result = await work(system);
    await noteMemory(inspection(system).storeKind);
    return result;
  } finally {
    process.off('SIGINT', interrupted);
    // A store that did not answer may never finish opening, and closing waits for that: the exit ends it.
    if (answered) await closeWithin(system);
    else void system.close().catch(() => {});
  }
}

/**
 * Runs `work` on the app's store object itself, without a system (for work that needs none, such
 * as `replay-check`): retained and opened first, under the same deadline, and released however the
 * command ends. What `work` does with the store is its own: this only reads one dead letter.
 */
export async function withStore<T>(store: Store, work: (store: Store) => Promise<T>): Promise<T> {
  const guarded = new GuardedStore(store);
  guarded.retain();
  const release = () => guarded.release();
  const interrupted = () => void closeWithin({ close: release }).finally(() => process.exit(130));
  process.once('SIGINT', interrupted);
  let answered = false;
  try {
    await reachable(() => guarded.deadLetters(1));
    answered = true;
    const result = await work(store);
    await noteMemory(store.kind);
    return result;
  } finally {
    process.off('SIGINT', interrupted);
    if (answered) await closeWithin({ close: release });
    else void release().catch(() => {});
  }
}

/** Only once the command worked: a failing command's stderr stays its one line. */
async function noteMemory(storeKind: string): Promise<void> {
  if (storeKind === 'memory') {
    await progress('pachyderm: note: the app uses a memory store; this process saw an empty store of its own');
  }
}

/** Opens the store with a cheap query (an indexed one), or fails with `STORE_UNAVAILABLE` in time. */
async function reachable(query: () => Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const seconds = CONNECT_TIMEOUT_MS / 1000;
      reject(
        new CliError(
          ExitCode.StoreUnavailable,
          'STORE_UNAVAILABLE',
          `the store did not answer within ${seconds} s (check the store's address in the --app module, and that the database is running)`,
        ),
      );
    }, CONNECT_TIMEOUT_MS);
  });
  try {
    await Promise.race([query(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function closeWithin(system: { close(): Promise<void> }): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
  });
  try {
    await Promise.race([system.close().catch((error) => progress(`pachyderm: closing: ${messageOf(error)}`)), late]);
  } finally {
    clearTimeout(timer);
  }
}
